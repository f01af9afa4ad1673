// print_events: the smallest useful isens subscriber.
//
// It prints every event as one JSON line and, like a SessionDisconnect
// sink, calls out disconnects on stderr. Here the events come from a short
// scripted session life so the example runs anywhere; isensd feeds the same
// subscriber from real sessions.
#include <isens/events/event_bus.hpp>
#include <isens/events/event_json.hpp>

#include <iostream>
#include <latch>

namespace {

class print_subscriber : public isens::events::subscriber {
 public:
  explicit print_subscriber(std::latch& done) : done_(done) {}

  void on_event(const isens::events::event& e) override {
    std::cout << isens::events::to_json_line(e) << '\n';
    done_.count_down();
  }

  void on_session_disconnect(const isens::events::event& e) override {
    std::cerr << "session " << e.session_id << " to " << e.target << " disconnected ("
              << isens::events::to_string(e.reason) << ")\n";
  }

 private:
  std::latch& done_;
};

isens::events::event session_event(isens::events::event_kind kind, isens::events::event_reason reason) {
  isens::events::event e;
  e.kind = kind;
  e.reason = reason;
  e.session_id = 1;
  e.connection_id = 1;
  e.target = "iqn.2026-11.example:disk";
  e.portal = "127.0.0.1:3260";
  e.isid = 0x400001370000ULL;
  e.tsih = 1;
  e.cid = 0;
  return e;
}

}  // namespace

int main() {
  using isens::events::event_kind;
  using isens::events::event_reason;
  const std::pair<event_kind, event_reason> life[] = {
      {event_kind::connection_made, event_reason::admin_login},
      {event_kind::logon, event_reason::admin_login},
      {event_kind::session_ready, event_reason::none},
      {event_kind::connection_lost, event_reason::peer_closed},
      {event_kind::session_disconnect, event_reason::peer_closed},
      {event_kind::connection_made, event_reason::recovery},
      {event_kind::session_reconnect, event_reason::recovery},
      {event_kind::logoff, event_reason::admin_logout},
  };

  std::latch done(std::size(life));
  isens::events::event_bus bus;
  auto subscription = bus.subscribe(std::make_shared<print_subscriber>(done));
  for (const auto& [kind, reason] : life) bus.publish(session_event(kind, reason));
  done.wait();  // delivery is asynchronous: wait until all were printed
}
