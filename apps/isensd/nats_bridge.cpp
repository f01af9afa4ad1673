#include "nats_bridge.hpp"

#include "nats_config.hpp"

namespace isens::daemon {

std::shared_ptr<fleet::bridge> make_nats_bridge(const daemon_config& config,
                                                std::shared_ptr<events::event_journal> journal,
                                                const std::string& boot_id) {
  auto filled = config;
  finish_nats_config(filled);
  auto options = filled.nats.bridge;
  options.boot_id = boot_id;
  return std::make_shared<fleet::bridge>(std::move(options), std::move(journal));
}

journal_then_bridge::journal_then_bridge(std::shared_ptr<events::event_journal> journal,
                                         std::shared_ptr<fleet::bridge> bridge)
    : journal_subscriber(std::move(journal)), bridge_(std::move(bridge)) {}

void journal_then_bridge::journaled(std::vector<events::journal_record>& records) { bridge_->notify(records); }

void journal_then_bridge::on_gap(std::uint64_t lost) {
  journal_subscriber::on_gap(lost);
  bridge_->notify();
}

void nats_metrics_snapshot(subscribers::metrics_registry& registry, const fleet::bridge_stats& s) {
  using series = std::vector<subscribers::metrics_registry::series_value>;
  const auto gauge = [&](const char* name, const char* help, double value) {
    registry.describe_gauge(name, help);
    registry.replace_series(name, series{{{}, value}});
  };
  const auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    registry.describe_counter(name, help);
    registry.replace_series(name, series{{{}, static_cast<double>(value)}});
  };
  gauge("isens_nats_connected", "1 while the NATS bridge is connected and its stream set up.", s.connected ? 1 : 0);
  gauge("isens_nats_lag_events", "Journal events not yet acknowledged by JetStream.", static_cast<double>(s.lag_events));
  gauge("isens_nats_last_ack_age_seconds", "Seconds since JetStream last acknowledged a publish (-1: never).",
        s.last_ack_age ? s.last_ack_age->count() : -1.0);
  counter("isens_nats_published_total", "Messages JetStream stored (events and gap messages).", s.published);
  counter("isens_nats_duplicates_total", "Resends JetStream recognised by their message id.", s.duplicates);
  counter("isens_nats_gap_messages_total", "Gap messages stored: seqs the journal no longer held.", s.gap_messages);
  counter("isens_nats_gap_events_total", "Seqs accounted for by gap messages.", s.gap_events);
  counter("isens_nats_publish_errors_total", "Publishes that failed or timed out (then replayed).", s.publish_errors);
  counter("isens_nats_outages_total", "Times the link to NATS was lost or could not be made.", s.outages);
}

}  // namespace isens::daemon
