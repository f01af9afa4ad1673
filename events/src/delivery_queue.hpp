#pragma once
// One subscriber's bounded queue and the drains that empty it.
//
// Exactly one producer and one consumer touch the queue, so it needs no lock
// on the hot path:
//  - the producer is the bus's emit, which runs under bus_signal::mutex, so
//    publishers on many threads still reach a queue one at a time;
//  - the consumer is the drain, of which at most one is scheduled or
//    running at a time (the `scheduled_` flag). That rule alone makes a
//    subscriber's callbacks run one at a time and in order, so drains go to
//    the bus's delivery_pool (or the subscriber's own executor) directly,
//    with no asio strand (and its mutex) in between.
// Events sit in a linked list of fixed-size blocks that the consumer hands
// back for reuse, so a busy queue allocates nothing per event and an idle
// one holds a single block. A delivered event stays in its slot until the
// producer reuses the block and overwrites it, so events are freed on the
// publisher's thread, which allocated them: freed on a delivery thread they
// took glibc's arena lock against the publisher's next allocation. (An idle
// queue therefore keeps up to two blocks of delivered events alive.) Only
// overflow, which is rare, takes a lock.

#include "bus_signal.hpp"
#include "delivery_pool.hpp"

#include "isens/events/event.hpp"
#include "isens/events/event_filter.hpp"
#include "isens/events/batching_subscriber.hpp"
#include "isens/events/subscriber.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/signals2/connection.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace isens::events::detail {

class delivery_queue final : public pool_task, public std::enable_shared_from_this<delivery_queue> {
 public:
  // Drains run on `pool` when it is given (the bus's own threads), on
  // `executor` otherwise.
  delivery_queue(std::shared_ptr<subscriber> sink, event_filter filter, std::string name, std::size_t capacity,
                 delivery_pool* pool, boost::asio::any_io_executor executor);
  ~delivery_queue();
  delivery_queue(const delivery_queue&) = delete;
  delivery_queue& operator=(const delivery_queue&) = delete;

  // Publisher side: filter, queue (or count as lost). True when the queue
  // was idle: the caller must then have a drain scheduled (schedule_woken).
  // Must only be called with bus_signal::mutex held.
  [[nodiscard]] bool enqueue(const event_ptr& e);

  // Schedules a drain for every queue in `woken` and clears both vectors.
  // Queues on the bus's pool are submitted together, so a publish to many
  // idle subscribers costs one hand-off and at most one wake-up.
  // Must be called with bus_signal::mutex held; `batch` is scratch space.
  static void schedule_woken(std::vector<delivery_queue*>& woken, std::vector<std::shared_ptr<pool_task>>& batch);

  // Keeps what close() needs to disconnect. Called once, before the queue
  // is handed to its subscription.
  void attach(std::weak_ptr<bus_signal> bus, boost::signals2::connection connection) noexcept;
  // Stops delivery and disconnects from the bus. Idempotent; once it
  // returns no emit can reach this queue again.
  void close();
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  const std::string& name() const noexcept { return name_; }
  std::uint64_t delivered() const noexcept { return delivered_.load(std::memory_order_relaxed); }
  std::uint64_t lost() const noexcept { return lost_.load(std::memory_order_relaxed); }
  std::uint64_t errors() const noexcept { return errors_.load(std::memory_order_relaxed); }
  std::size_t depth() const noexcept;

 private:
  static constexpr std::size_t block_size = 256;
  // Fairness: a drain hands at most this many events to its subscriber
  // before yielding the thread to other subscribers' drains.
  static constexpr std::uint64_t max_batch = 512;
  // How long a drain that has just delivered a burst waits for more before
  // going idle; see drain().
  static constexpr std::chrono::nanoseconds linger_time{3000};

  struct block {
    std::array<event_ptr, block_size> slots;
    std::atomic<block*> next{nullptr};
  };
  // `count` events were dropped after the first `position` events queued.
  struct loss {
    std::uint64_t position;
    std::uint64_t count;
  };

  void schedule();          // from the publisher
  void schedule_again();    // from a drain, as its continuation
  void run() override { drain(); }
  void drain();
  void push(const event_ptr& e);     // producer only
  event_ptr& next_slot();            // consumer only: the next event, left in place
  void record_loss(std::uint64_t position);
  void take_losses();                // consumer only
  void report_gaps_up_to(std::uint64_t position);
  bool more_work() const noexcept;   // consumer only
  void linger() const noexcept;      // consumer only
  template <class Callback>
  void call_guarded(Callback&& callback);

  const std::shared_ptr<subscriber> sink_;
  batching_subscriber* const batch_sink_;  // sink_, when it wants to hear where a run ends
  const event_filter filter_;
  const std::string name_;
  const std::uint64_t capacity_;
  delivery_pool* const pool_;  // outlives every queue that uses it: the bus joins it last
  const boost::asio::any_io_executor executor_;
  std::weak_ptr<bus_signal> bus_;           // set once by attach()
  boost::signals2::connection connection_;  // set once by attach(); used under bus_signal::mutex

  // Producer only.
  block* tail_block_;
  std::size_t tail_index_ = 0;

  // Consumer only.
  block* head_block_;
  std::size_t head_index_ = 0;
  std::uint64_t consumed_ = 0;
  std::uint64_t losses_seen_ = 0;  // the losses_recorded_ value last taken
  std::vector<loss> gaps_;         // taken from losses_, not yet reported

  // Each shared word on its own cache line: the producer writes pushed_ on
  // every event while the consumer writes taken_ once per batch.
  alignas(64) std::atomic<std::uint64_t> pushed_{0};  // events queued so far (producer writes)
  alignas(64) std::atomic<std::uint64_t> taken_{0};   // events taken into a batch (consumer writes)
  alignas(64) std::atomic<bool> scheduled_{false};    // a drain is posted or running
  std::atomic<block*> spare_{nullptr};                // one emptied block, for the producer to reuse
  std::atomic<bool> closed_{false};

  std::mutex loss_mutex_;
  std::vector<loss> losses_;                          // guarded by loss_mutex_
  std::atomic<std::uint64_t> losses_recorded_{0};     // written under loss_mutex_: events lost so far

  std::atomic<std::uint64_t> delivered_{0};  // written by the consumer only
  std::atomic<std::uint64_t> lost_{0};       // reported in gap markers so far
  std::atomic<std::uint64_t> errors_{0};
};

}  // namespace isens::events::detail
