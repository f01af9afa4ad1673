#include "nbd_exports.hpp"

#include <map>
#include <string_view>
#include <utility>

namespace isens::daemon {

namespace {

constexpr std::string_view ops_total = "isens_nbd_ops_total";
constexpr std::string_view bytes_total = "isens_nbd_bytes_total";
constexpr std::string_view errors_total = "isens_nbd_errors_total";
constexpr std::string_view clients_gauge = "isens_nbd_clients";
constexpr std::string_view attaches_total = "isens_nbd_attaches_total";
constexpr std::string_view latency = "isens_nbd_latency_seconds";

}  // namespace

json export_to_json(const nbd::export_info& e, const nbd::server& server) {
  const auto& c = e.counters;
  return json{{"name", e.name},
              {"alias", e.alias},
              {"uri", server.uri(e.name)},
              {"session_id", e.session_id},
              {"target", e.target},
              {"lun", e.lun},
              {"size_bytes", e.size_bytes},
              {"block_size", {{"minimum", e.block_size}, {"preferred", e.preferred_block_size}, {"maximum", e.max_block_size}}},
              {"read_only", e.read_only},
              {"clients", e.clients},
              {"counters",
               {{"reads", c.reads},
                {"writes", c.writes},
                {"flushes", c.flushes},
                {"trims", c.trims},
                {"zeroes", c.zeroes},
                {"read_bytes", c.read_bytes},
                {"write_bytes", c.write_bytes},
                {"errors", c.errors},
                {"attaches", c.attaches}}}};
}

json exports_to_json(const nbd::server& server) {
  json out = json::array();
  for (const auto& e : server.exports()) out.push_back(export_to_json(e, server));
  return out;
}

// The exports are read once for all sessions: 200 sessions cost one list, not 200.
void add_export_uris(json& sessions, const nbd::server& server) {
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> names;  // (session, LUN) -> export
  for (const auto& e : server.exports()) names[{e.session_id, e.lun}] = e.name;
  for (auto& session : sessions) {
    if (!session.contains("devices") || !session.contains("session_id")) continue;
    const auto id = session["session_id"].get<std::uint64_t>();
    for (auto& device : session["devices"]) {
      const auto found = names.find({id, device.value("lun", std::uint64_t{0})});
      if (found != names.end()) device["nbd_uri"] = server.uri(found->second);
    }
  }
}

void nbd_metrics_snapshot(subscribers::metrics_registry& registry, const std::vector<nbd::export_info>& exports) {
  registry.describe_counter(ops_total, "NBD commands answered, by export and command.");
  registry.describe_counter(bytes_total, "Bytes NBD clients read and wrote, by export and direction.");
  registry.describe_counter(errors_total, "NBD replies carrying an error, by export.");
  registry.describe_gauge(clients_gauge, "NBD clients attached to an export now.");
  registry.describe_counter(attaches_total, "NBD clients that attached to an export.");
  std::vector<double> bounds;
  for (const auto us : initiator::io_latency_bounds_us) bounds.push_back(us / 1e6);
  registry.describe_histogram(latency, "Latency of NBD commands, from the request read to its reply queued.", bounds);

  std::vector<subscribers::metrics_registry::series_value> ops, bytes, errors, clients, attaches;
  std::vector<subscribers::metrics_registry::histogram_value> latencies;
  for (const auto& e : exports) {
    const subscribers::metric_labels labels{{"export", e.name}, {"session", std::to_string(e.session_id)}};
    const auto& c = e.counters;
    const auto with = [&](std::string name, std::string value) {
      auto l = labels;
      l.emplace_back(std::move(name), std::move(value));
      return l;
    };
    for (const auto& [op, n] : {std::pair{"read", c.reads}, {"write", c.writes}, {"flush", c.flushes},
                                {"trim", c.trims}, {"write_zeroes", c.zeroes}})
      ops.emplace_back(with("op", op), static_cast<double>(n));
    bytes.emplace_back(with("direction", "read"), static_cast<double>(c.read_bytes));
    bytes.emplace_back(with("direction", "write"), static_cast<double>(c.write_bytes));
    errors.emplace_back(labels, static_cast<double>(c.errors));
    clients.emplace_back(labels, static_cast<double>(e.clients));
    attaches.emplace_back(labels, static_cast<double>(c.attaches));
    latencies.push_back({labels, {c.latency_buckets.begin(), c.latency_buckets.end()}, static_cast<double>(c.latency_sum_us) / 1e6});
  }
  registry.replace_series(ops_total, ops);
  registry.replace_series(bytes_total, bytes);
  registry.replace_series(errors_total, errors);
  registry.replace_series(clients_gauge, clients);
  registry.replace_series(attaches_total, attaches);
  registry.replace_histogram_series(latency, latencies);
}

}  // namespace isens::daemon
