#include "delivery_pool.hpp"

#include "cpu_relax.hpp"

#include <isens/events/thread_signals.hpp>

#include <linux/futex.h>
#include <pthread.h>
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

// Names show in top -H, gdb and perf.
void name_thread(std::thread& t, const char* name) noexcept { ::pthread_setname_np(t.native_handle(), name); }

// SCHED_IDLE: the calling thread runs only when its CPU has nothing else to
// run, and any other thread that wakes there preempts it at once.
bool run_only_when_idle() noexcept {
  sched_param param{};
  return ::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &param) == 0;
}

std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A watcher that has not looked for this long may have been preempted:
// submitters then wake a thread themselves rather than wait for it.
constexpr std::int64_t watcher_fresh_ns = 2'000;

}  // namespace

void delivery_pool::brief_mutex::lock() noexcept {
  for (int spins = 0; spins < 100; ++spins) {
    std::uint32_t expected = unlocked;
    if (state_.load(std::memory_order_relaxed) == unlocked &&
        state_.compare_exchange_weak(expected, locked, std::memory_order_acquire)) {
      return;
    }
    cpu_relax();
  }
  // The holder was most likely preempted: sleep until it unlocks.
  while (state_.exchange(contended, std::memory_order_acquire) != unlocked) futex_wait(state_, contended);
}

void delivery_pool::brief_mutex::unlock() noexcept {
  if (state_.exchange(unlocked, std::memory_order_release) == contended) futex_wake_one(state_);
}

delivery_pool::delivery_pool(delivery_pool_options options) : options_(options) {
  const auto threads = std::max<std::size_t>(options_.threads, 1);
  // With one thread there is no one to hand a rescue to.
  if (threads == 1 || options_.watch_for <= std::chrono::nanoseconds::zero()) watcher_.store(absent);
  for (std::size_t i = 0; i < threads; ++i) workers_.push_back(std::make_unique<worker>());
  try {
    start_threads();
  } catch (...) {
    stop_and_join();  // the threads already started
    throw;
  }
}

delivery_pool::~delivery_pool() { stop_and_join(); }

void delivery_pool::start_threads() {
  // Signals are for the thread that runs the application's io_context, never
  // ours (thread_signals.hpp says why).
  for (auto& w : workers_) {
    w->thread = start_thread_with_signals_blocked([this, &self = *w] { work(self); });
    name_thread(w->thread, "isens-delivery");
  }
  if (watcher_.load() != absent) {
    watcher_thread_ = start_thread_with_signals_blocked([this] { watch(); });
    name_thread(watcher_thread_, "isens-watcher");
  }
}

void delivery_pool::stop_and_join() {
  stopping_.store(true, std::memory_order_seq_cst);
  for (const auto& w : workers_) wake(*w);
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  // The watcher stops last: while the workers finish what is queued, one of
  // them may still block and need it.
  watcher_stopping_.store(true, std::memory_order_seq_cst);
  wake_watcher();
  if (watcher_thread_.joinable()) watcher_thread_.join();
}

// --- submitting ------------------------------------------------------------

void delivery_pool::push(std::shared_ptr<pool_task> task) {
  ready_.push_back(std::move(task));
  pending_.store(ready_.size(), std::memory_order_seq_cst);
}

void delivery_pool::submit(std::shared_ptr<pool_task> task) {
  {
    std::lock_guard lock(ready_mutex_);
    push(std::move(task));
  }
  start_a_thread();
}

void delivery_pool::submit(std::vector<std::shared_ptr<pool_task>>& tasks) {
  if (tasks.empty()) return;
  {
    std::lock_guard lock(ready_mutex_);
    for (auto& task : tasks) push(std::move(task));
  }
  tasks.clear();
  start_a_thread();
}

void delivery_pool::resubmit(std::shared_ptr<pool_task> task) {
  std::lock_guard lock(ready_mutex_);
  push(std::move(task));
}

void delivery_pool::start_a_thread() {
  const int cpu = ::sched_getcpu();
  // The watcher, spinning elsewhere, starts one there at once, in parallel
  // with whatever this thread does next. Otherwise wake one here: it
  // starts when this thread sleeps or the scheduler preempts it for the
  // woken one, usually at once.
  if (watcher_on_duty(cpu) || any_worker(looking)) return;
  wake_here(cpu);
}

void delivery_pool::wake_one_unless_one_looks() {
  // seq_cst pairs with a thread going to sleep (store asleep, then load
  // pending_): either it sees the new work or we see it asleep.
  if (any_worker(looking)) return;
  for (const auto& w : workers_) {
    if (wake(*w)) return;
  }
}

bool delivery_pool::wake(worker& w) {
  std::uint32_t expected = asleep;
  if (!w.now.compare_exchange_strong(expected, looking, std::memory_order_seq_cst)) return false;
  w.cpu.store(-1, std::memory_order_relaxed);  // wherever the scheduler puts it
  futex_wake_one(w.now);
  return true;
}

bool delivery_pool::any_worker(state s) const noexcept {
  return std::any_of(workers_.begin(), workers_.end(),
                     [s](const auto& w) { return w->now.load(std::memory_order_seq_cst) == s; });
}

bool delivery_pool::watcher_on_duty(int my_cpu) const noexcept {
  // seq_cst: pairs with the watcher parking (store parked, then load
  // pending_), so one of us sees the other. A watcher on the caller's CPU
  // is not spinning now: the caller has it preempted.
  return watcher_.load(std::memory_order_seq_cst) == watching &&
         watcher_cpu_.load(std::memory_order_relaxed) != my_cpu &&
         steady_ns() - watcher_beat_.load(std::memory_order_relaxed) < watcher_fresh_ns;
}

bool delivery_pool::wake_here(int cpu) {
  cpu_set_t here;
  CPU_ZERO(&here);
  CPU_SET(cpu, &here);
  for (const auto& w : workers_) {
    // Pinned only while it sleeps, never in the middle of a task: it waits
    // in `pinning` until we are done.
    std::uint32_t expected = asleep;
    if (!w->now.compare_exchange_strong(expected, pinning, std::memory_order_seq_cst)) continue;
    w->cpu.store(cpu, std::memory_order_relaxed);
    w->moved.store(true, std::memory_order_relaxed);
    ::sched_setaffinity(w->tid.load(std::memory_order_acquire), sizeof here, &here);  // set before it first sleeps
    w->now.store(looking, std::memory_order_seq_cst);
    futex_wake_one(w->now);
    return true;
  }
  return false;
}

bool delivery_pool::held_up_on(int cpu, std::int64_t t) const noexcept {
  // A busy thread that took its drain long ago is most likely blocked in a
  // callback, which no CPU would help.
  const auto recent = 4 * options_.rescue_after.count();
  return std::any_of(workers_.begin(), workers_.end(), [&](const auto& w) {
    if (w->cpu.load(std::memory_order_relaxed) != cpu) return false;
    const auto now = w->now.load(std::memory_order_seq_cst);
    return now == looking || (now == busy && t - w->took_at.load(std::memory_order_relaxed) < recent);
  });
}

// --- delivery threads ------------------------------------------------------

void delivery_pool::work(worker& self) {
  self.tid.store(::gettid(), std::memory_order_release);
  ::sched_getaffinity(0, sizeof self.home, &self.home);
  for (;;) {
    while (auto task = take(self)) {
      // Pinned by wake_here() only to start on that CPU at once; from here
      // on the scheduler may move it again.
      if (self.moved.load(std::memory_order_relaxed) && self.moved.exchange(false, std::memory_order_relaxed)) {
        ::sched_setaffinity(0, sizeof self.home, &self.home);
      }
      task->run();
    }
    if (!wait_for_work(self)) return;
  }
}

std::shared_ptr<pool_task> delivery_pool::take(worker& self) {
  if (pending_.load(std::memory_order_seq_cst) == 0) return nullptr;
  // This thread is about to run a subscriber, which may block. (Written
  // only on a change: submitters read this word on every submit.)
  if (self.now.load(std::memory_order_relaxed) != busy) self.now.store(busy, std::memory_order_seq_cst);
  self.cpu.store(::sched_getcpu(), std::memory_order_relaxed);
  self.took_at.store(steady_ns(), std::memory_order_relaxed);
  std::shared_ptr<pool_task> task;
  std::size_t left = 0;
  {
    std::lock_guard lock(ready_mutex_);
    if (ready_.empty()) return nullptr;
    task = std::move(ready_.front());
    ready_.pop_front();
    left = ready_.size();
    taken_.store(taken_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    pending_.store(left, std::memory_order_seq_cst);
  }
  // Drains left waiting behind one that may block: the watcher covers them
  // if it is watching; if not, another thread must be awake for them now.
  // Unlike a submitter, this thread does not ask whether the watcher spins
  // right now: it has often just preempted it on this CPU. Should the
  // callback block, the CPU falls idle and the watcher runs again.
  if (left > 0 && watcher_.load(std::memory_order_seq_cst) != watching) wake_one_unless_one_looks();
  return task;
}

bool delivery_pool::wait_for_work(worker& self) {
  if (stopping_.load(std::memory_order_seq_cst) && pending_.load(std::memory_order_seq_cst) == 0) return false;
  // Events are flowing: have the watcher look out for the next batches. Its
  // wake-up is paid here, after a delivery, not before the next one.
  if (watcher_.load(std::memory_order_relaxed) == parked) wake_watcher();
  self.now.store(asleep, std::memory_order_seq_cst);
  if (pending_.load(std::memory_order_seq_cst) > 0 || stopping_.load(std::memory_order_seq_cst)) {
    // Work came in while we were on our way to sleep. If a waker got to us
    // first, it sets us looking, which is just as good.
    std::uint32_t expected = asleep;
    if (self.now.compare_exchange_strong(expected, looking, std::memory_order_seq_cst)) return true;
  }
  for (auto now = self.now.load(std::memory_order_acquire); now != looking; now = self.now.load(std::memory_order_acquire)) {
    futex_wait(self.now, now);  // asleep, or pinning for a moment
  }
  return true;
}

// --- the watcher -----------------------------------------------------------

void delivery_pool::wake_watcher() {
  std::uint32_t expected = parked;
  if (watcher_.compare_exchange_strong(expected, watching, std::memory_order_seq_cst)) {
    // On duty from now: a submitter that sees it before its first look
    // must not count on it.
    watcher_beat_.store(steady_ns(), std::memory_order_relaxed);
    futex_wake_one(watcher_);
  } else if (watcher_stopping_.load(std::memory_order_seq_cst)) {
    futex_wake_one(watcher_);  // a watching watcher checks the flag as it spins
  }
}

void delivery_pool::watch() {
  if (!run_only_when_idle()) {
    // Spinning at normal priority would steal the CPU from the threads it
    // serves: leave it to the immediate wake-ups.
    watcher_.store(absent, std::memory_order_seq_cst);
    if (pending_.load(std::memory_order_seq_cst) > 0) wake_one_unless_one_looks();
    return;
  }
  for (;;) {
    while (watcher_.load(std::memory_order_acquire) == parked && !watcher_stopping_.load(std::memory_order_acquire)) {
      futex_wait(watcher_, parked);
    }
    if (watcher_stopping_.load(std::memory_order_acquire)) return;
    watch_while_active();
    watcher_.store(parked, std::memory_order_seq_cst);
    // A submitter or a thread that left drains waiting may have counted on
    // us a moment ago.
    if (pending_.load(std::memory_order_seq_cst) > 0) wake_one_unless_one_looks();
  }
}

void delivery_pool::watch_while_active() {
  const auto watch_for = options_.watch_for.count();
  const auto rescue_after = options_.rescue_after.count();
  auto last_active = steady_ns();
  auto last_progress = last_active;
  auto seen_taken = taken_.load(std::memory_order_relaxed);
  // Drains submitted so far = taken + waiting: a change in it, or in taken,
  // is activity (read a moment apart, a take may look like one; so it is).
  auto seen_submitted = seen_taken + pending_.load(std::memory_order_relaxed);
  while (!watcher_stopping_.load(std::memory_order_relaxed)) {
    const auto t = steady_ns();
    const int cpu = ::sched_getcpu();
    watcher_cpu_.store(cpu, std::memory_order_relaxed);
    watcher_beat_.store(t, std::memory_order_relaxed);
    const auto taken = taken_.load(std::memory_order_relaxed);
    const auto waiting = pending_.load(std::memory_order_seq_cst);
    const auto submitted = taken + waiting;
    if (taken != seen_taken) {
      seen_taken = taken;
      last_progress = t;
      last_active = t;
    }
    if (submitted != seen_submitted) {
      seen_submitted = submitted;
      last_active = t;
    }
    // Drains wait and nothing takes them: no thread is awake for them, or
    // none has been taken for rescue_after (a subscriber is stuck in a
    // callback, or its thread is kept off its CPU).
    if (waiting > 0 && ((!any_worker(busy) && !any_worker(looking)) || t - last_progress >= rescue_after)) {
      // A thread that should be running was last seen on this CPU: we may
      // be what keeps it off it. The scheduler (EEVDF) can let a SCHED_IDLE
      // thread run on for up to a tick ahead of a queued thread that has
      // used more than its share, so step aside: park (which wakes another
      // thread for the waiting drains).
      if (held_up_on(cpu, t)) return;
      // Otherwise start another thread here for them. With none asleep,
      // look again rescue_after later.
      wake_here(cpu);
      last_progress = t;
    }
    if (t - last_active >= watch_for) return;
    cpu_relax();
  }
}

}  // namespace isens::events::detail
