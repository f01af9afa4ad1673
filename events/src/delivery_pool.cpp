#include "delivery_pool.hpp"

#include "cpu_relax.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

namespace isens::events::detail {

namespace {

// Sleeps while `word` holds `value`; wakes one sleeper on `word`. Plain
// futex calls: std::atomic::wait spins and yields first, and its notify
// goes through a shared table of waiters.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t value) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, value, nullptr, nullptr, 0);
}
void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace

void delivery_pool::spin_mutex::lock() noexcept {
  for (int spins = 0;; ++spins) {
    if (!locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire)) return;
    // Past a few tries the holder was most likely preempted: let it run.
    if (spins < 64) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

delivery_pool::delivery_pool(std::size_t threads) {
  threads = std::max<std::size_t>(threads, 1);
  for (std::size_t i = 0; i < threads; ++i) workers_.push_back(std::make_unique<worker>());
  try {
    for (auto& w : workers_) w->thread = std::thread([this, &self = *w] { work(self); });
  } catch (...) {
    stop_and_join();  // the threads already started
    throw;
  }
}

delivery_pool::~delivery_pool() { stop_and_join(); }

void delivery_pool::stop_and_join() {
  stopping_.store(true, std::memory_order_seq_cst);
  for (const auto& w : workers_) wake(*w);
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void delivery_pool::submit(std::shared_ptr<pool_task> task) {
  std::size_t pending = 0;
  {
    std::lock_guard lock(ready_mutex_);
    ready_.push_back(std::move(task));
    pending = ready_.size();
    pending_.store(pending, std::memory_order_seq_cst);
  }
  wake_for(pending);
}

void delivery_pool::submit(std::vector<std::shared_ptr<pool_task>>& tasks) {
  if (tasks.empty()) return;
  std::size_t pending = 0;
  {
    std::lock_guard lock(ready_mutex_);
    for (auto& task : tasks) ready_.push_back(std::move(task));
    pending = ready_.size();
    pending_.store(pending, std::memory_order_seq_cst);
  }
  tasks.clear();
  wake_for(pending);
}

void delivery_pool::wake_for(std::size_t pending) {
  // seq_cst pairs with a thread going to sleep (store asleep, then load
  // pending_): either it sees the new work or we see it asleep.
  std::size_t awake_and_free = 0;
  for (const auto& w : workers_) {
    if (w->now.load(std::memory_order_seq_cst) == looking) ++awake_and_free;
  }
  for (const auto& w : workers_) {
    if (awake_and_free >= pending) return;
    if (wake(*w)) ++awake_and_free;
  }
}

bool delivery_pool::wake(worker& w) {
  std::uint32_t expected = asleep;
  if (!w.now.compare_exchange_strong(expected, looking, std::memory_order_seq_cst)) return false;
  futex_wake_one(w.now);
  return true;
}

void delivery_pool::work(worker& self) {
  for (;;) {
    while (auto task = take(self)) task->run();
    if (!wait_for_work(self)) return;
  }
}

std::shared_ptr<pool_task> delivery_pool::take(worker& self) {
  if (pending_.load(std::memory_order_seq_cst) == 0) return nullptr;
  std::shared_ptr<pool_task> task;
  std::size_t left = 0;
  {
    std::lock_guard lock(ready_mutex_);
    if (ready_.empty()) return nullptr;
    task = std::move(ready_.front());
    ready_.pop_front();
    left = ready_.size();
    pending_.store(left, std::memory_order_seq_cst);
  }
  // This thread is about to run a subscriber, which may block: the drains
  // behind it need another thread. (Written only on a change: submitters
  // read this word on every submit.)
  if (self.now.load(std::memory_order_relaxed) != busy) self.now.store(busy, std::memory_order_seq_cst);
  if (left > 0) wake_for(left);
  return task;
}

bool delivery_pool::wait_for_work(worker& self) {
  if (stopping_.load(std::memory_order_seq_cst) && pending_.load(std::memory_order_seq_cst) == 0) return false;
  self.now.store(asleep, std::memory_order_seq_cst);
  if (pending_.load(std::memory_order_seq_cst) > 0 || stopping_.load(std::memory_order_seq_cst)) {
    // Work came in while we were on our way to sleep; a waker may have
    // already set us looking, which is just as good.
    std::uint32_t expected = asleep;
    self.now.compare_exchange_strong(expected, looking, std::memory_order_seq_cst);
    return true;
  }
  while (self.now.load(std::memory_order_acquire) == asleep) futex_wait(self.now, asleep);
  return true;
}

}  // namespace isens::events::detail
