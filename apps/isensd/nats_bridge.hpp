#pragma once
// The NATS bridge wired into isensd: built from [nats], woken by the
// journal's subscriber after each append, and its state on /metrics.

#include "daemon_config.hpp"

#include <isens/events/journal_subscriber.hpp>
#include <isens/fleet/bridge.hpp>
#include <isens/subscribers/metrics_registry.hpp>

#include <memory>

namespace isens::daemon {

// The bridge for `config` ([nats] with the host token, cursor file and
// `boot_id` filled in); not started.
std::shared_ptr<fleet::bridge> make_nats_bridge(const daemon_config& config,
                                                std::shared_ptr<events::event_journal> journal,
                                                const std::string& boot_id);

// The journal's subscriber, which also hands the bridge each run of events
// once the journal has stored it, with the JSON it wrote (the bridge
// publishes only what the journal holds, never straight from the bus).
class journal_then_bridge final : public events::journal_subscriber {
 public:
  journal_then_bridge(std::shared_ptr<events::event_journal> journal, std::shared_ptr<fleet::bridge> bridge);
  void on_gap(std::uint64_t lost) override;

 private:
  void journaled(std::vector<events::journal_record>& records) override;

  std::shared_ptr<fleet::bridge> bridge_;
};

// Sets isens_nats_connected, isens_nats_lag_events,
// isens_nats_last_ack_age_seconds, isens_nats_published_total,
// isens_nats_duplicates_total, isens_nats_gap_messages_total,
// isens_nats_gap_events_total, isens_nats_publish_errors_total and
// isens_nats_outages_total.
void nats_metrics_snapshot(subscribers::metrics_registry& registry, const fleet::bridge_stats& stats);

}  // namespace isens::daemon
