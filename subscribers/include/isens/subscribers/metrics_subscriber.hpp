#pragma once
/// The metrics subscriber: counts what the bus delivers into a
/// metrics_registry, and the scrape-time snapshot of sessions and
/// subscriptions the daemon adds before rendering.

#include "isens/events/event.hpp"
#include "isens/events/event_bus.hpp"
#include "isens/events/subscriber.hpp"
#include "isens/initiator/types.hpp"
#include "isens/subscribers/metrics_registry.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace isens::subscribers {

/// Feeds `isens_events_total{kind}`, `isens_session_disconnects_total{reason}`,
/// `isens_reconnects_total`, `isens_recovery_attempts_total` (events that
/// carry an attempt number) and `isens_events_lost_total` (its own gaps).
class metrics_subscriber final : public events::subscriber {
 public:
  /// Describes its families in `registry`; shared because a delivery may
  /// still run after the subscription ends, and it must find the registry alive.
  explicit metrics_subscriber(std::shared_ptr<metrics_registry> registry);

  /// Counts the event by kind, and by reason, reconnect and attempt where they apply.
  void on_event(const events::event& e) override;
  /// Counts events this subscriber missed because its queue was full.
  void on_gap(std::uint64_t lost) override;

  /// The registry it counts into.
  const std::shared_ptr<metrics_registry>& registry() const noexcept { return registry_; }

 private:
  std::shared_ptr<metrics_registry> registry_;
};

/// Sets the scrape-time families from snapshots: `isens_sessions{state}`,
/// `isens_connections`; per session (labels `session`, `target`) its data
/// path's `isens_io_*` counters, gauges and `isens_io_latency_seconds`
/// histogram; and per subscriber name `isens_subscriber_queue_depth`,
/// `isens_subscriber_dropped_events_total`, `isens_subscriber_errors_total`
/// (subscriptions sharing a name are summed; names and sessions that are
/// gone disappear).
void metrics_snapshot(metrics_registry& registry, const std::vector<initiator::session_info>& sessions,
                      const std::vector<events::subscription_stats>& subscriptions);

}  // namespace isens::subscribers
