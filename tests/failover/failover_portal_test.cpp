// The failover subscriber against the scripted in-process target, for what
// tgtd never does: an Async Message that names a Time2Wait, and a target
// that stops taking logins on one portal while its discovery names another.
// Everything else about failover is tested against tgtd (failover_test.cpp).
#include "failover_rig.hpp"
#include "scripted_target.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <vector>

using namespace isens;
using events::event_kind;
using events::event_reason;
using test::step;
namespace proto = initiator::protocol;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

constexpr const char* target_iqn = "iqn.2026-11.test.isens:scripted";

std::string address_of(const test::scripted_target& target) { return "127.0.0.1:" + std::to_string(target.port()); }

initiator::login_options to(const test::scripted_target& target) {
  initiator::login_options o;
  o.target_portal = {"127.0.0.1", target.port()};
  o.target_name = target_iqn;
  o.enumerate_luns = false;
  return o;
}

// AsyncEvent 2 (drop connection CID 0, the first one) or 3 (drop all).
proto::pdu will_drop(std::uint8_t event, std::uint16_t time2wait) {
  proto::pdu p(proto::opcode::async_message);
  p.set_final(true);
  p.set_itt(proto::reserved_tag);
  p.set_async_event(event);
  p.set_parameter1(0);
  p.set_parameter2(time2wait);
  p.set_parameter3(20);  // Time2Retain
  return p;
}

// When things happened at a target announcing a drop, seen from the target.
struct drop_log {
  std::mutex mutex;
  std::optional<steady::time_point> warned;  // just before the Async Message was sent
  std::vector<steady::time_point> logins;    // when each connection's first login request arrived
};

// The first connection logs in, is told it will be dropped (Time2Wait
// `time2wait`) and is closed by the target; later connections log in and stay.
asio::awaitable<void> drop_with_time2wait(test::scripted_connection& c, drop_log& log, std::uint8_t event,
                                          std::uint16_t time2wait) {
  (void)co_await c.login_session_type();
  bool first = false;
  {
    std::lock_guard lock(log.mutex);
    first = log.logins.empty();
    log.logins.push_back(steady::now());
  }
  co_await c.accept_login();
  if (!first) {
    co_await c.serve_until_logout();
    co_return;
  }
  {
    // Taken before sending: the initiator cannot start its wait any earlier.
    std::lock_guard lock(log.mutex);
    log.warned = steady::now();
  }
  auto warning = will_drop(event, time2wait);
  co_await c.send(std::move(warning));
  c.socket().shutdown(asio::ip::tcp::socket::shutdown_send);  // the drop the message announced
  for (;;) (void)co_await c.receive();  // until the initiator closes its side too
}

// What one drop-and-recover run showed.
struct drop_outcome {
  std::vector<step> steps;                  // the session's events
  std::size_t logins = 0;                   // login connections the target saw
  std::chrono::milliseconds login_after{};  // from the Async Message to the reconnect's login
  bool connected = false;
  bool reconnect_after_cleared = false;
};

// Logs in to a target that drops the session with AsyncEvent `event` naming
// `time2wait`, and waits for the failover subscriber to bring it back.
drop_outcome drop_and_recover(subscribers::failover_policy policy, std::uint8_t event, std::uint16_t time2wait) {
  drop_log log;
  test::scripted_target target(
      [&log, event, time2wait](test::scripted_connection& c) { return drop_with_time2wait(c, log, event, time2wait); });
  test::failover_rig rig(policy);
  const auto id = rig.login(to(target));
  // Generous: under sanitizers on two busy cores a 1 s wait can take longer.
  REQUIRE(rig.wait_for(event_kind::session_reconnect, 1, 20s));
  REQUIRE(rig.settle());

  drop_outcome out;
  out.steps = rig.steps(id);
  const auto s = rig.initiator().session(id);
  REQUIRE(s.has_value());
  out.connected = s->connected;
  out.reconnect_after_cleared = !s->reconnect_after.has_value();
  std::lock_guard lock(log.mutex);
  out.logins = log.logins.size();
  REQUIRE(log.warned.has_value());
  REQUIRE(log.logins.size() >= 2);
  out.login_after = std::chrono::duration_cast<std::chrono::milliseconds>(log.logins[1] - *log.warned);
  return out;
}

const std::vector<step> dropped_by_async_message_then_reinstated{
    {event_kind::connection_made, event_reason::admin_login, std::nullopt},
    {event_kind::logon, event_reason::admin_login, std::nullopt},
    {event_kind::connection_lost, event_reason::target_requested, std::nullopt},
    {event_kind::session_disconnect, event_reason::target_requested, std::nullopt},
    {event_kind::connection_made, event_reason::recovery, std::nullopt},
    {event_kind::session_reconnect, event_reason::recovery, 1u}};

// Portal A of a two-portal target: what it names and what it saw.
struct portal_a_state {
  std::uint16_t b_port = 0;              // set before A starts
  std::atomic<std::uint16_t> a_port{0};  // A's own, known once A listens
  std::atomic<int> discoveries{0};
  std::atomic<int> normal_logins{0};
};

// Portal A takes the first normal login and then closes that connection;
// later normal logins are refused as "service unavailable" (retryable),
// while discovery still answers, naming A and B as SendTargets would.
asio::awaitable<void> refusing_portal(test::scripted_connection& c, portal_a_state& a) {
  if (co_await c.login_session_type() == "Discovery") {
    ++a.discoveries;
    co_await c.accept_login();
    // Named, not a braced temporary: GCC 12 destroys those inside co_await twice.
    proto::key_values portals{{"TargetName", target_iqn},
                              {"TargetAddress", "127.0.0.1:" + std::to_string(a.a_port.load()) + ",1"},
                              {"TargetAddress", "127.0.0.1:" + std::to_string(a.b_port) + ",2"}};
    co_await c.answer_send_targets(std::move(portals));
    co_await c.serve_until_logout();
    co_return;
  }
  if (a.normal_logins++ == 0) {
    co_await c.accept_login();
    co_return;  // ending the script closes the connection: the session drops
  }
  proto::key_values no_keys;  // named: a defaulted {} would be a temporary inside co_await (GCC 12)
  co_await c.refuse_login(0x03, 0x01, std::move(no_keys));  // service unavailable: retryable
}

// Portal B takes every login and serves it.
asio::awaitable<void> serving_portal(test::scripted_connection& c, std::atomic<int>& logins) {
  ++logins;
  co_await c.accept_login();
  co_await c.serve_until_logout();
}

}  // namespace

TEST_CASE("after an Async Message naming Time2Wait, the reconnect login waits that long", "[failover][scripted]") {
  const int event = GENERATE(2, 3);  // one connection dropped, or all
  CAPTURE(event);
  // honour_time2wait is the default.
  const auto outcome = drop_and_recover(test::quick_policy(), static_cast<std::uint8_t>(event), 1);

  CHECK(outcome.steps == dropped_by_async_message_then_reinstated);
  CHECK(outcome.logins == 2);  // no attempt came early and failed
  // A lower bound without tolerance: the target took its time before sending
  // the message, and the initiator's 1 s timer started after receiving it.
  CHECK(outcome.login_after.count() >= 1000);
  CHECK(outcome.login_after.count() < 10000);
  CHECK(outcome.connected);
  CHECK(outcome.reconnect_after_cleared);
}

TEST_CASE("with honour_time2wait off, the reconnect does not wait the Async Message's Time2Wait",
          "[failover][scripted]") {
  const int event = GENERATE(2, 3);  // one connection dropped, or all
  CAPTURE(event);
  auto policy = test::quick_policy();
  policy.honour_time2wait = false;
  // 30 s: honouring it would miss drop_and_recover's 20 s wait for the reconnect.
  const auto outcome = drop_and_recover(policy, static_cast<std::uint8_t>(event), 30);

  CHECK(outcome.steps == dropped_by_async_message_then_reinstated);
  CHECK(outcome.logins == 2);
  CHECK(outcome.login_after.count() < 10000);  // far below 30 s, with room for a loaded machine
  CHECK(outcome.connected);
  CHECK(outcome.reconnect_after_cleared);
}

TEST_CASE("a session whose portal refuses logins is reinstated through another portal that discovery names",
          "[failover][scripted]") {
  std::atomic<int> b_logins{0};
  test::scripted_target b([&b_logins](test::scripted_connection& c) { return serving_portal(c, b_logins); });
  portal_a_state a_state;
  a_state.b_port = b.port();
  test::scripted_target a([&a_state](test::scripted_connection& c) { return refusing_portal(c, a_state); });
  a_state.a_port = a.port();

  test::failover_rig rig;
  const auto id = rig.login(to(a));
  const auto isid = rig.initiator().session(id)->isid;
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());

  // Attempt 1 at A is refused; discovery at A names B; attempt 2 at B works.
  CHECK(rig.steps(id) == std::vector<step>{{event_kind::connection_made, event_reason::admin_login, std::nullopt},
                                           {event_kind::logon, event_reason::admin_login, std::nullopt},
                                           {event_kind::connection_lost, event_reason::peer_closed, std::nullopt},
                                           {event_kind::session_disconnect, event_reason::peer_closed, std::nullopt},
                                           {event_kind::session_disconnect, event_reason::io_error, 1u},
                                           {event_kind::connection_made, event_reason::recovery, std::nullopt},
                                           {event_kind::session_reconnect, event_reason::recovery, 2u}});
  const auto reconnect = rig.recorder().wait_for(event_kind::session_reconnect);
  CHECK(reconnect.portal == address_of(b));
  CHECK(reconnect.attempt == 2u);
  const auto s = *rig.initiator().session(id);
  CHECK(s.connected);
  CHECK(s.isid == isid);  // reinstated, not a new session
  REQUIRE(s.connections.size() == 1);
  CHECK(s.connections[0].remote_address == address_of(b));
  CHECK(a_state.normal_logins == 2);  // the login, then the refused attempt
  CHECK(a_state.discoveries == 1);    // once per recovery
  CHECK(b_logins == 1);
}
