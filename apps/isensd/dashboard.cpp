#include "dashboard.hpp"

#include "static_assets.hpp"

namespace isens::daemon {

namespace {

event_hub_options stream_options(const dashboard_config& c) {
  event_hub_options o;
  o.ping_interval = c.ping_interval;
  o.client_queue_frames = c.client_queue_frames;
  o.max_clients = c.max_stream_clients;
  return o;
}

}  // namespace

dashboard::dashboard(boost::asio::any_io_executor executor, events::event_bus& bus,
                     std::shared_ptr<events::event_journal> journal, initiator::initiator& initiator,
                     sessions_json_fn sessions_json, std::string initiator_name,
                     dashboard_config settings)
    : settings_(settings),
      tracker_(std::make_shared<session_tracker>()),
      rates_(executor, initiator),
      stream_(std::make_shared<event_hub>(executor, bus, journal, stream_options(settings))),
      sources_{initiator, bus, std::move(journal), *tracker_, rates_, *stream_, std::move(sessions_json),
               std::move(initiator_name)},
      bus_(bus),
      executor_(std::move(executor)) {}

dashboard::~dashboard() { stop(); }

void dashboard::start() {
  if (!settings_.enabled) return;
  events::subscription_options o;
  o.name = "dashboard";
  o.executor = executor_;  // read by the API on the same thread: no lock
  tracker_subscription_ = bus_.subscribe(tracker_, {}, std::move(o));
  stream_->start();
  rates_.start();
}

void dashboard::add_routes(http_server& server) {
  if (!settings_.enabled) return;
  add_static_routes(server);
  add_api_routes(server, sources_);
  server.route_stream("/events", [hub = stream_](boost::beast::tcp_stream stream, http_request request) {
    return hub->serve(std::move(stream), std::move(request));
  });
}

void dashboard::stop() {
  stream_->stop();
  rates_.stop();
  tracker_subscription_.unsubscribe();
}

}  // namespace isens::daemon
