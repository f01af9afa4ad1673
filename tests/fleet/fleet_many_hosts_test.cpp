// A fleet on one machine: 20 isensd processes (each its own state dir and
// host name) with sessions against one real tgtd, publishing to one real
// nats-server -js; one consumer of the whole fleet sees every host's events,
// each once, in that host's seq order, exactly as the host's own journal has
// them, and `isensctl watch --nats` agrees.
#include "daemon_process.hpp"
#include "nats_server.hpp"
#include "rpc_test_client.hpp"
#include "subprocess.hpp"
#include "tgtd_target.hpp"

#include <isens/events/event_json.hpp>
#include <isens/fleet/fleet_consumer.hpp>

#include <catch2/catch.hpp>

#include <map>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;
namespace fleet = isens::fleet;

constexpr int host_count = 20;

// Every event isensd's journal holds, as JSON text, oldest first.
std::vector<std::string> journal_of(const daemon_process& daemon) {
  rpc_test_client c(daemon.socket_path());
  const auto last = c.call("subscribe", {{"since", 0}}).at("last_seq").get<std::uint64_t>();
  std::vector<std::string> out;
  while (out.size() < last) {
    const auto n = c.next_notification();
    if (n.at("method") == "event") out.push_back(isens::events::to_json_line(isens::events::event_from_json(
                                      nlohmann::ordered_json::parse(n.at("params").dump()))));
  }
  return out;
}

}  // namespace

TEST_CASE("20 isensd on one broker: the fleet consumer sees every host's events complete and in order",
          "[fleet][integration][slow]") {
  auto target = make_standard_target();
  nats_server server;

  std::vector<std::unique_ptr<daemon_process>> hosts;
  for (int i = 0; i < host_count; ++i) {
    daemon_options o;
    o.extra_args = {"--nats", server.url(), "--nats-host", "host-" + std::to_string(i)};
    hosts.push_back(std::make_unique<daemon_process>(o));
  }

  // The consumer exists before the first event: it follows only new ones.
  fleet::consumer_options co;
  co.nats.urls = {server.url()};
  REQUIRE(eventually([&] {  // the first bridge creates the stream
    try {
      fleet::fleet_consumer probe(co);
      return true;
    } catch (const fleet::consumer_error&) {
      return false;
    }
  }, 20s));
  co.start = fleet::start_from::everything;
  fleet::fleet_consumer consumer(co);

  // Each host: login, a second connection (MC/S), the target drops every
  // connection of every host at once, each recovers, then logs out.
  std::vector<std::uint64_t> sessions;
  for (auto& h : hosts) {
    rpc_test_client c(h->socket_path());
    const auto id = c.call("login_to_target", {{"portal", target->portal()},
                                               {"target", std::string(standard_iqn)},
                                               {"persistent", true}})
                        .at("session_id")
                        .get<std::uint64_t>();
    c.call("add_connection_to_session", {{"session_id", id}});
    sessions.push_back(id);
  }
  target->delete_connections(standard_tid);
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    rpc_test_client c(hosts[i]->socket_path());
    INFO("host-" << i);
    REQUIRE(eventually([&] {
      const auto s = c.call("sessions", {{"session_id", sessions[i]}});
      return !s.empty() && s[0].at("connected") == true;
    }, 30s));
    c.call("unregister_session", {{"session_id", sessions[i]}});
    c.call("logout_from_target", {{"session_id", sessions[i]}});
  }

  // What each host's journal holds is what the fleet must show for it.
  std::map<std::string, std::vector<std::string>> expected, seen;
  std::size_t total = 0;
  for (int i = 0; i < host_count; ++i) {
    expected["host-" + std::to_string(i)] = journal_of(*hosts[i]);
    total += expected["host-" + std::to_string(i)].size();
  }
  std::size_t out_of_order = 0;
  const bool complete = eventually([&] {
    for (const auto& m : consumer.fetch(200ms)) {
      if (m.order.verdict == fleet::order_verdict::after_missing) ++out_of_order;
      if (m.event) seen[m.host].push_back(isens::events::to_json_line(*m.event));
      consumer.ack(m);
    }
    std::size_t n = 0;
    for (const auto& [host, events] : seen) n += events.size();
    return n >= total;
  }, 60s);
  CHECK(complete);
  CHECK(out_of_order == 0);
  CHECK(consumer.stats().duplicates == 0);
  for (const auto& [host, events] : expected) {
    INFO(host);
    CHECK(events.size() >= 9);  // connection_made ×2, logon, session_ready, … logoff
    CHECK(seen[host] == events);
  }

  // isensctl shows the same: every host's events, in per-host seq order.
  const auto r = run({ISENSCTL_PATH, "watch", "--nats", server.url(), "--since-seq", "0", "--count",
                      std::to_string(total), "--json"},
                     run_options{60s, {}, true});
  REQUIRE(r.exit_code == 0);
  std::map<std::string, std::vector<std::string>> shown;
  for (const auto& line : lines_of(r.output)) {
    auto j = nlohmann::ordered_json::parse(line);
    const std::string host = j.at("host");
    shown[host].push_back(isens::events::to_json_line(isens::events::event_from_json(j)));
  }
  CHECK(shown == expected);
}
