#pragma once
/// The event bus: a Boost.Signals2 signal at its core, with a bounded
/// delivery queue per subscriber.
///
/// publish() stamps the event (seq, boot_id, time) and emits it; each
/// subscriber's slot only filters and enqueues, so publishing never waits for
/// a subscriber. A subscriber's callbacks run one at a time, in seq order, on
/// the bus's delivery threads or on the executor it was subscribed with.

#include "isens/events/event.hpp"
#include "isens/events/event_filter.hpp"
#include "isens/events/subscriber.hpp"
#include "isens/events/subscription.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace isens::events {

/// How one subscriber is served.
struct subscription_options {
  std::string name = "subscriber";  ///< shown in logs and metrics
  std::size_t queue_capacity = 4096;  ///< events waiting at most; beyond it they are counted as lost
  /// Where callbacks run (one at a time, as on a strand of it); default: the bus's delivery executor.
  std::optional<boost::asio::any_io_executor> executor;
};

/// How a bus with delivery threads of its own runs them.
struct bus_options {
  std::size_t delivery_threads = 2;
  /// After the last event, how long a watcher thread keeps spinning at
  /// SCHED_IDLE priority on an otherwise idle CPU, ready to start delivery
  /// there and to rescue the subscribers queued behind one that blocks.
  /// It is what makes delivery take microseconds on a VM, where waking a
  /// thread on another CPU costs tens. Zero: no watcher; every wake-up then
  /// goes through the kernel (see docs/design-notes.md).
  std::chrono::microseconds spin_after_events{1000};
};

/// Counters of one live subscription, for metrics.
struct subscription_stats {
  std::string name;
  std::uint64_t delivered = 0;
  std::uint64_t lost = 0;
  std::uint64_t errors = 0;
  std::size_t queue_depth = 0;
};

/// Publishes events to subscribers. Thread-safe: publish, subscribe and
/// unsubscribe may be called from any thread, including from a callback.
class event_bus {
 public:
  /// A bus delivering on its own pool of `delivery_threads` threads.
  explicit event_bus(std::size_t delivery_threads = 2);
  /// A bus delivering on its own threads, as `options` says.
  explicit event_bus(bus_options options);
  /// A bus delivering on an executor owned by the caller (which must outlive
  /// every delivery, e.g. by being joined after the bus is destroyed).
  explicit event_bus(boost::asio::any_io_executor delivery_executor);
  /// Waits for queued deliveries when the bus owns its pool.
  ~event_bus();

  event_bus(const event_bus&) = delete;
  event_bus& operator=(const event_bus&) = delete;

  /// Stamps seq, boot_id and (if unset) the timestamp, then queues the event
  /// for every matching subscriber. Never blocks on a subscriber. Returns seq.
  std::uint64_t publish(event e);

  /// Subscribes `sink`; it receives matching events until the returned
  /// handle is destroyed or unsubscribed.
  [[nodiscard]] subscription subscribe(std::shared_ptr<subscriber> sink, event_filter filter = {},
                                       subscription_options options = {});

  /// Makes the next seq `seq + 1` (never lowers it): a service that keeps a
  /// journal continues its numbering across restarts, so a consumer can
  /// resume from a seq it saw before the restart.
  void continue_after(std::uint64_t seq);

  /// This bus's boot id: a random UUID, new for every bus.
  const std::string& boot_id() const noexcept;
  /// The seq of the last published event (0 before the first).
  std::uint64_t last_seq() const noexcept;
  /// Counters of every live subscription.
  std::vector<subscription_stats> stats() const;

 private:
  struct core;
  struct owned_pool;
  std::unique_ptr<owned_pool> pool_;  // declared first: destroyed (joined) last
  std::shared_ptr<core> core_;
};

}  // namespace isens::events
