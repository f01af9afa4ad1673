#pragma once
// The live dashboard served by isensd's HTTP listener: the page (static
// files built into the binary), its JSON API and its event stream, and the
// two parts that feed them (the session tracker and the io-rate sampler).
// Read-only: nothing on the page or in the API changes state.

#include "daemon_config.hpp"
#include "dashboard_api.hpp"
#include "event_hub.hpp"
#include "io_sampler.hpp"
#include "session_tracker.hpp"

#include <memory>

namespace isens::daemon {

class dashboard {
 public:
  /// Builds the parts; they subscribe and sample only from start() on.
  dashboard(boost::asio::any_io_executor executor, events::event_bus& bus,
            std::shared_ptr<events::event_journal> journal, initiator::initiator& initiator,
            sessions_json_fn sessions_json, std::string initiator_name,
            dashboard_config settings);
  ~dashboard();

  /// Subscribes the tracker and the stream, starts sampling. Call before
  /// sessions log in, so the tracker sees them from their logon.
  void start();
  /// Routes /, the page's files, /api/… and /events on `server`.
  void add_routes(http_server& server);
  /// Closes every event stream and stops sampling (before the bus goes).
  void stop();

 private:
  dashboard_config settings_;
  std::shared_ptr<session_tracker> tracker_;
  io_sampler rates_;
  std::shared_ptr<event_hub> stream_;
  dashboard_sources sources_;
  events::subscription tracker_subscription_;
  events::event_bus& bus_;
  boost::asio::any_io_executor executor_;
};

}  // namespace isens::daemon
