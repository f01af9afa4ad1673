// fleet_failover_handler: reacts to every session_disconnect of the whole
// fleet, read from the fleet stream in NATS JetStream (docs/fleet.md).
//
//   fleet_failover_handler nats://broker:4222 [DURABLE [COUNT]]
//
// It reads through a durable pull consumer (default name "failover"), so a
// disconnect published while the handler was down is handled when it comes
// back, and acknowledges each disconnect only once it is handled: one that
// was fetched but not acknowledged (the handler crashed, or handle() failed)
// is delivered again after the ack wait. Several handlers started with the
// same DURABLE share the work: each disconnect goes to one of them.
// COUNT: exit after that many (for tests and demos); default: run forever.
//
// The server filters by kind (isens.v1.ev.*.*.session_disconnect), so the
// handler never reads the rest of the fleet's events; gap messages live under
// another subject and need a consumer of their own (isens.v1.ev.*._.gap).
#include <isens/events/event_json.hpp>
#include <isens/fleet/fleet_consumer.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace {

// What a real handler would do: find the host's other paths, page someone,
// move a workload. Returns false when it could not (the disconnect then comes
// back after the ack wait).
bool handle(const isens::fleet::fleet_message& m) {
  const auto& e = *m.event;
  std::cout << "host " << m.host << ": session " << e.session_id << " to " << e.target << " at " << e.portal
            << " lost its last connection (" << isens::events::to_string(e.reason) << ", seq " << e.seq << ")"
            << std::endl;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::cerr << "usage: fleet_failover_handler NATS_URL [DURABLE [COUNT]]\n";
    return 2;
  }
  isens::fleet::consumer_options options;
  options.nats.urls = {argv[1]};
  options.nats.name = "fleet_failover_handler";
  options.kinds = {isens::events::event_kind::session_disconnect};
  options.gaps = false;           // one kind, filtered by the server
  options.durable = argc > 2 ? argv[2] : "failover";
  options.sole_reader = false;    // handlers may share the durable
  options.start = isens::fleet::start_from::everything;  // when the durable is first made
  // One at a time: a disconnect goes to the first free handler rather than
  // waiting in another's batch (disconnects are few; a storm is thousands).
  options.batch = 1;
  const unsigned long count = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 0;

  try {
    isens::fleet::fleet_consumer consumer(options);
    for (unsigned long handled = 0; count == 0 || handled < count;) {
      for (const auto& m : consumer.fetch(std::chrono::seconds(5))) {
        if (!handle(m)) continue;  // not acknowledged: delivered again later
        consumer.ack_sync(m);
        if (++handled == count) break;
      }
    }
  } catch (const isens::fleet::consumer_error& e) {
    std::cerr << "fleet_failover_handler: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
