#include "delivery_queue.hpp"

#include "cpu_relax.hpp"

#include <boost/asio/defer.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>

namespace isens::events::detail {

delivery_queue::delivery_queue(std::shared_ptr<subscriber> sink, event_filter filter, std::string name,
                               std::size_t capacity, delivery_pool* pool, boost::asio::any_io_executor executor)
    : sink_(std::move(sink)),
      batch_sink_(dynamic_cast<batching_subscriber*>(sink_.get())),
      filter_(std::move(filter)),
      name_(std::move(name)),
      capacity_(capacity == 0 ? 1 : capacity),
      pool_(pool),
      executor_(std::move(executor)),
      tail_block_(new block),
      head_block_(tail_block_) {}

delivery_queue::~delivery_queue() {
  // The last owner is gone, so neither the producer (disconnected by
  // close()) nor a drain can run: the blocks and the events still queued
  // in them are ours to free.
  for (block* b = head_block_; b != nullptr;) delete std::exchange(b, b->next.load(std::memory_order_acquire));
  delete spare_.load(std::memory_order_acquire);
}

void delivery_queue::attach(std::weak_ptr<bus_signal> bus, boost::signals2::connection connection) noexcept {
  bus_ = std::move(bus);
  connection_ = std::move(connection);
}

void delivery_queue::close() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  // Disconnecting under the bus's mutex waits out an emit in progress, so
  // after this no producer touches the queue. If the bus is gone, its
  // destructor has disconnected every slot already.
  if (auto bus = bus_.lock()) {
    std::lock_guard lock(bus->mutex);
    connection_.disconnect();
  }
}

std::size_t delivery_queue::depth() const noexcept {
  if (closed()) return 0;
  return static_cast<std::size_t>(pushed_.load(std::memory_order_acquire) -
                                  delivered_.load(std::memory_order_acquire));
}

// --- producer --------------------------------------------------------------

bool delivery_queue::enqueue(const event_ptr& e) {
  if (closed() || !filter_.matches(*e)) return false;
  const auto pushed = pushed_.load(std::memory_order_relaxed);
  // The capacity bounds what waits; the batch being delivered does not count.
  if (pushed - taken_.load(std::memory_order_relaxed) >= capacity_) {
    record_loss(pushed);
  } else {
    push(e);
    // seq_cst pairs with the drain's going idle (store scheduled_, then load
    // pushed_): either the drain sees this event or we see it idle.
    pushed_.store(pushed + 1, std::memory_order_seq_cst);
  }
  // Reading first keeps the common case (a drain already pending) free of
  // read-modify-writes on a line the consumer also uses.
  return !scheduled_.load(std::memory_order_seq_cst) && !scheduled_.exchange(true, std::memory_order_acq_rel);
}

void delivery_queue::schedule_woken(std::vector<delivery_queue*>& woken,
                                    std::vector<std::shared_ptr<pool_task>>& batch) {
  delivery_pool* pool = nullptr;
  for (auto* q : woken) {
    if (q->pool_ != nullptr) {
      pool = q->pool_;  // one bus, one pool
      batch.push_back(q->shared_from_this());  // alive: its slot is connected, under the bus mutex
    } else {
      q->schedule();
    }
  }
  woken.clear();
  if (pool != nullptr) pool->submit(batch);
}

void delivery_queue::push(const event_ptr& e) {
  if (tail_index_ == block_size) {
    block* fresh = spare_.exchange(nullptr, std::memory_order_acquire);
    if (fresh == nullptr) fresh = new block;
    tail_block_->next.store(fresh, std::memory_order_release);
    tail_block_ = fresh;
    tail_index_ = 0;
  }
  tail_block_->slots[tail_index_++] = e;
}

void delivery_queue::record_loss(std::uint64_t position) {
  std::lock_guard lock(loss_mutex_);
  if (!losses_.empty() && losses_.back().position == position) {
    ++losses_.back().count;
  } else {
    losses_.push_back({position, 1});
  }
  losses_recorded_.store(losses_recorded_.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
}

void delivery_queue::schedule() {
  if (pool_ != nullptr) {
    pool_->submit(shared_from_this());
  } else {
    boost::asio::post(executor_, [self = shared_from_this()] { self->drain(); });
  }
}

void delivery_queue::schedule_again() {
  if (pool_ != nullptr) {
    pool_->resubmit(shared_from_this());
  } else {
    // defer marks the drain as a continuation: a pool thread keeps it in its
    // private queue instead of locking the shared one and waking an idle
    // thread to run what this thread will run next anyway.
    boost::asio::defer(executor_, [self = shared_from_this()] { self->drain(); });
  }
}

// --- consumer --------------------------------------------------------------

event_ptr& delivery_queue::next_slot() {
  if (head_index_ == block_size) {
    block* next = head_block_->next.load(std::memory_order_acquire);
    head_block_->next.store(nullptr, std::memory_order_relaxed);
    delete spare_.exchange(head_block_, std::memory_order_acq_rel);
    head_block_ = next;
    head_index_ = 0;
  }
  return head_block_->slots[head_index_++];
}

void delivery_queue::take_losses() {
  // A loss at position p is recorded before event p is pushed, so once the
  // consumer has seen event p it finds the loss here too.
  if (losses_recorded_.load(std::memory_order_seq_cst) == losses_seen_) return;
  std::lock_guard lock(loss_mutex_);
  gaps_.insert(gaps_.end(), losses_.begin(), losses_.end());
  losses_.clear();
  losses_seen_ = losses_recorded_.load(std::memory_order_relaxed);
}

void delivery_queue::report_gaps_up_to(std::uint64_t position) {
  if (gaps_.empty() || gaps_.front().position > position) return;
  std::uint64_t lost = 0;
  auto first_later = gaps_.begin();
  while (first_later != gaps_.end() && first_later->position <= position) lost += (first_later++)->count;
  gaps_.erase(gaps_.begin(), first_later);
  if (closed()) return;
  lost_.fetch_add(lost, std::memory_order_relaxed);
  call_guarded([&] { sink_->on_gap(lost); });
}

void delivery_queue::linger() const noexcept {
  const auto until = std::chrono::steady_clock::now() + linger_time;
  while (!more_work()) {
    for (int i = 0; i < 16; ++i) cpu_relax();
    if (std::chrono::steady_clock::now() >= until) return;
  }
}

bool delivery_queue::more_work() const noexcept {
  return pushed_.load(std::memory_order_seq_cst) != consumed_ ||
         losses_recorded_.load(std::memory_order_seq_cst) != losses_seen_;
}

template <class Callback>
void delivery_queue::call_guarded(Callback&& callback) {
  // A subscriber that throws on every event must not flood the log: report
  // the 1st, 2nd, 4th, 8th… failure, each with the running count.
  auto count_and_log = [this](const char* what) {
    const auto n = errors_.fetch_add(1, std::memory_order_relaxed) + 1;
    if ((n & (n - 1)) == 0) spdlog::warn("subscriber '{}' threw ({} so far): {}", name_, n, what);
  };
  try {
    callback();
  } catch (const std::exception& ex) {
    count_and_log(ex.what());
  } catch (...) {
    count_and_log("a non-standard exception");
  }
}

void delivery_queue::drain() {
  const auto available = pushed_.load(std::memory_order_acquire);
  const auto start = consumed_;
  const auto end = std::min(available, consumed_ + max_batch);
  taken_.store(end, std::memory_order_relaxed);
  take_losses();
  std::size_t dispatched = 0;
  for (auto position = consumed_; position < end; ++position) {
    report_gaps_up_to(position);
    // Read in place, not moved out: the event is released when the
    // producer reuses this slot, on the publisher's thread, which also
    // allocated it. Freeing it here would take the allocator's lock against
    // the publisher on every event.
    event_ptr& slot = next_slot();
    if (closed()) {
      slot.reset();
      continue;
    }
    const event& e = *slot;
    call_guarded([&] { dispatch(*sink_, e); });
    delivered_.store(delivered_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    ++dispatched;
  }
  // Also after a close: what on_event was handed is the subscriber's to finish.
  if (batch_sink_ != nullptr && dispatched != 0) call_guarded([&] { batch_sink_->on_batch_end(); });
  consumed_ = end;
  report_gaps_up_to(end);

  if (closed()) {
    // Release what is queued now; scheduled_ stays set, so no drain is ever
    // posted again (the executor may not outlive the subscription).
    for (const auto last = pushed_.load(std::memory_order_acquire); consumed_ < last; ++consumed_) next_slot().reset();
    return;
  }
  // Events that arrived faster than we delivered them are likely to keep
  // coming. Waiting a moment for the next one costs less than going idle,
  // because idle means the publisher must post a new drain and wake a
  // thread for it: a futex call on each side for perhaps one event.
  // A lone event (the usual, quiet case) goes idle at once.
  if (end - start > 1) linger();
  if (!more_work()) {
    // Going idle races with the producer; the seq_cst store/load pairs on
    // both sides guarantee at least one of us sees the other. Once the flag
    // is down a new drain may start at once, so the state the last look
    // compares against is copied first, not read from members it now owns.
    const auto consumed = consumed_;
    const auto losses_seen = losses_seen_;
    scheduled_.store(false, std::memory_order_seq_cst);
    const bool more = pushed_.load(std::memory_order_seq_cst) != consumed ||
                      losses_recorded_.load(std::memory_order_seq_cst) != losses_seen;
    if (!more || scheduled_.exchange(true, std::memory_order_acq_rel)) return;
  }
  schedule_again();
}

}  // namespace isens::events::detail
