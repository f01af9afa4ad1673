#include "isens/subscribers/metrics_subscriber.hpp"

#include <map>
#include <stdexcept>
#include <string>

namespace isens::subscribers {

namespace {

constexpr std::string_view events_total = "isens_events_total";
constexpr std::string_view disconnects_total = "isens_session_disconnects_total";
constexpr std::string_view reconnects_total = "isens_reconnects_total";
constexpr std::string_view recovery_attempts_total = "isens_recovery_attempts_total";
constexpr std::string_view events_lost_total = "isens_events_lost_total";

constexpr std::string_view sessions_gauge = "isens_sessions";
constexpr std::string_view connections_gauge = "isens_connections";
constexpr std::string_view queue_depth_gauge = "isens_subscriber_queue_depth";
// Cumulative counts copied from the bus: typed as counters (hence `_total`)
// so rate() works and Prometheus' lint does not flag a `_total` gauge.
constexpr std::string_view dropped_total = "isens_subscriber_dropped_events_total";
constexpr std::string_view errors_total = "isens_subscriber_errors_total";

// Per-session data-path families, labelled {session, target}; copied from
// the session snapshots at each scrape. A family with a `write` field has a
// series per op, "read" from `read` and "write" from `write`. Ops, bytes and
// errors count the data path's commands only; the others every SCSI command
// of the session (enumeration too).
using io_field = std::uint64_t initiator::io_counters::*;
struct io_family {
  std::string_view name;
  metric_type type;
  std::string_view help;
  io_field read;
  io_field write = nullptr;
};
constexpr io_family io_families[] = {
    {"isens_io_ops_total", metric_type::counter,
     "Data-path SCSI commands completed with GOOD, by op (flushes count as writes).", &initiator::io_counters::read_ops,
     &initiator::io_counters::write_ops},
    {"isens_io_bytes_total", metric_type::counter, "Bytes moved by data-path SCSI commands completed with GOOD, by op.",
     &initiator::io_counters::read_bytes, &initiator::io_counters::write_bytes},
    {"isens_io_errors_total", metric_type::counter, "Data-path SCSI commands completed with an error to the caller.",
     &initiator::io_counters::failed},
    {"isens_io_held_total", metric_type::counter, "SCSI commands held while the session was disconnected.",
     &initiator::io_counters::held},
    {"isens_io_reissued_total", metric_type::counter, "SCSI commands sent again after a lost connection, an abort or a LUN reset.",
     &initiator::io_counters::reissued},
    {"isens_io_retried_total", metric_type::counter, "SCSI commands retried after UNIT ATTENTION, BUSY or TASK SET FULL.",
     &initiator::io_counters::retried},
    {"isens_io_aborts_total", metric_type::counter, "ABORT TASK requests sent for SCSI commands that timed out.",
     &initiator::io_counters::aborted},
    {"isens_io_lun_resets_total", metric_type::counter, "LOGICAL UNIT RESET requests sent after an ABORT TASK failed.",
     &initiator::io_counters::lun_resets},
    {"isens_io_in_flight", metric_type::gauge, "SCSI commands sent and not yet answered.",
     &initiator::io_counters::in_flight},
    {"isens_io_queued", metric_type::gauge, "SCSI commands waiting for the CmdSN window or a recovery.",
     &initiator::io_counters::queued},
};
constexpr std::string_view io_latency = "isens_io_latency_seconds";

// io_latency_bounds_us in seconds, the base unit Prometheus names want.
std::vector<double> io_latency_bounds() {
  std::vector<double> bounds;
  for (const auto us : initiator::io_latency_bounds_us) bounds.push_back(us / 1e6);
  return bounds;
}

void io_snapshot(metrics_registry& registry, const std::vector<initiator::session_info>& sessions) {
  registry.describe_histogram(io_latency, "Latency of data-path SCSI commands, from submission to completion.",
                              io_latency_bounds());
  std::vector<metric_labels> labels;
  std::vector<metrics_registry::histogram_value> latency;
  for (const auto& s : sessions) {
    labels.push_back({{"session", std::to_string(s.session_id)}, {"target", s.target_name}});
    const auto& buckets = s.io.latency_buckets;
    latency.push_back({labels.back(), {buckets.begin(), buckets.end()}, static_cast<double>(s.io.latency_sum_us) / 1e6});
  }
  registry.replace_histogram_series(io_latency, latency);

  for (const auto& f : io_families) {
    if (f.type == metric_type::counter) {
      registry.describe_counter(f.name, f.help);
    } else {
      registry.describe_gauge(f.name, f.help);
    }
    std::vector<metrics_registry::series_value> series;
    for (std::size_t i = 0; i < sessions.size(); ++i) {
      const auto& io = sessions[i].io;
      if (f.write == nullptr) {
        series.emplace_back(labels[i], static_cast<double>(io.*f.read));
        continue;
      }
      auto by_op = labels[i];
      by_op.emplace_back("op", "read");
      series.emplace_back(by_op, static_cast<double>(io.*f.read));
      by_op.back().second = "write";
      series.emplace_back(std::move(by_op), static_cast<double>(io.*f.write));
    }
    registry.replace_series(f.name, series);
  }
}

std::string label(events::event_kind kind) { return std::string(events::to_string(kind)); }
std::string label(events::event_reason reason) { return std::string(events::to_string(reason)); }

}  // namespace

metrics_subscriber::metrics_subscriber(std::shared_ptr<metrics_registry> registry) : registry_(std::move(registry)) {
  if (!registry_) throw std::invalid_argument("metrics_subscriber needs a registry");
  auto& r = *registry_;
  r.describe_counter(events_total, "Events delivered to the metrics subscriber, by kind.");
  r.describe_counter(disconnects_total, "Sessions that lost their last connection unexpectedly, by reason.");
  r.describe_counter(reconnects_total, "Disconnected sessions that were logged in again.");
  r.describe_counter(recovery_attempts_total, "Events that carry a failover recovery attempt number.");
  r.describe_counter(events_lost_total, "Events the metrics subscriber missed because its queue was full.");
  // Every series exists at 0 from the start, so rate() and alerts see the
  // first increment instead of a series appearing out of nowhere.
  for (std::size_t k = 0; k < events::event_kind_count; ++k) {
    r.increment(events_total, {{"kind", label(static_cast<events::event_kind>(k))}}, 0);
  }
  r.increment(reconnects_total, {}, 0);
  r.increment(recovery_attempts_total, {}, 0);
  r.increment(events_lost_total, {}, 0);
}

void metrics_subscriber::on_event(const events::event& e) {
  auto& r = *registry_;
  r.increment(events_total, {{"kind", label(e.kind)}});
  if (e.kind == events::event_kind::session_disconnect) r.increment(disconnects_total, {{"reason", label(e.reason)}});
  if (e.kind == events::event_kind::session_reconnect) r.increment(reconnects_total);
  if (e.attempt) r.increment(recovery_attempts_total);
}

void metrics_subscriber::on_gap(std::uint64_t lost) {
  registry_->increment(events_lost_total, {}, static_cast<double>(lost));
}

void metrics_snapshot(metrics_registry& registry, const std::vector<initiator::session_info>& sessions,
                      const std::vector<events::subscription_stats>& subscriptions) {
  registry.describe_gauge(sessions_gauge, "Sessions the initiator holds, by state.");
  registry.describe_gauge(connections_gauge, "Connections of all sessions.");
  registry.describe_gauge(queue_depth_gauge, "Events waiting in a subscriber's delivery queue.");
  registry.describe_counter(dropped_total, "Events dropped because a subscriber's queue was full.");
  registry.describe_counter(errors_total, "Subscriber callbacks that threw.");

  double connected = 0;
  double connections = 0;
  for (const auto& s : sessions) {
    if (s.connected) ++connected;
    connections += static_cast<double>(s.connections.size());
  }
  registry.replace_series(sessions_gauge, {{{{"state", "connected"}}, connected},
                                           {{{"state", "disconnected"}}, static_cast<double>(sessions.size()) - connected}});
  registry.replace_series(connections_gauge, {{{}, connections}});
  io_snapshot(registry, sessions);

  // Subscription names need not be unique (the default is "subscriber"); a
  // label set may appear once per family, so same-named ones are summed.
  struct totals {
    double depth = 0;
    double lost = 0;
    double errors = 0;
  };
  std::map<std::string, totals> by_name;
  for (const auto& s : subscriptions) {
    auto& t = by_name[s.name];
    t.depth += static_cast<double>(s.queue_depth);
    t.lost += static_cast<double>(s.lost);
    t.errors += static_cast<double>(s.errors);
  }
  std::vector<metrics_registry::series_value> depth;
  std::vector<metrics_registry::series_value> lost;
  std::vector<metrics_registry::series_value> errors;
  for (const auto& [name, t] : by_name) {
    metric_labels labels{{"subscriber", name}};
    depth.emplace_back(labels, t.depth);
    lost.emplace_back(labels, t.lost);
    errors.emplace_back(std::move(labels), t.errors);
  }
  registry.replace_series(queue_depth_gauge, depth);
  registry.replace_series(dropped_total, lost);
  registry.replace_series(errors_total, errors);
}

}  // namespace isens::subscribers
