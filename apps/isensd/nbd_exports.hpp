#pragma once
// isensd's side of the NBD exports: their JSON form (the `exports` method,
// the sessions snapshot's per-LUN URI) and their /metrics families. The
// server itself is isens::nbd.

#include "json_rpc.hpp"

#include <isens/nbd/server.hpp>
#include <isens/subscribers/metrics_registry.hpp>

#include <vector>

namespace isens::daemon {

// One export as `isensctl exports --json` shows it, with its URI.
json export_to_json(const nbd::export_info& e, const nbd::server& server);
// Every export.
json exports_to_json(const nbd::server& server);
// Adds "nbd_uri" to each exported device of an array of sessions' JSON snapshots.
void add_export_uris(json& sessions, const nbd::server& server);
// Replaces the isens_nbd_* families with the exports' current counters.
void nbd_metrics_snapshot(subscribers::metrics_registry& registry, const std::vector<nbd::export_info>& exports);

}  // namespace isens::daemon
