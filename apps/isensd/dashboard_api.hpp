#pragma once
// The dashboard's JSON API, read-only, for the page and for anyone's own:
//   GET /api/status            host, initiator, version, uptime, boot_id, head seq
//   GET /api/sessions          every session's snapshot with its tracked state and rates
//   GET /api/events?since=N    journal events after seq N (limit=M, at most 10000)
//   GET /api/io                recent read/write rates, in total and per session
// (docs/isensd.md, Dashboard).

#include "http_server.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/events/event_journal.hpp>
#include <isens/initiator/initiator.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace isens::daemon {

class session_tracker;
class io_sampler;
class event_hub;

/// Sessions, an array, as the control socket's `sessions` shows them (persistent, NBD URIs…).
using sessions_json_fn = std::function<nlohmann::ordered_json(const std::vector<initiator::session_info>&)>;

/// What the API reads; every part outlives the routes (they run on isensd's io_context).
struct dashboard_sources {
  initiator::initiator& initiator;
  events::event_bus& bus;
  std::shared_ptr<events::event_journal> journal;
  const session_tracker& tracker;
  const io_sampler& rates;
  const event_hub& stream;
  sessions_json_fn sessions_json;  ///< the page adds its own fields to this form
  std::string initiator_name;
};

/// Routes the /api/ endpoints on `server`.
void add_api_routes(http_server& server, const dashboard_sources& sources);

}  // namespace isens::daemon
