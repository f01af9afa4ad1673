// The failover subscriber against the scripted in-process target, for the
// Async Messages tgtd never sends: a drop announced with a Time2Wait (the
// reconnect or the replacement connection waits it, unless
// honour_time2wait is off) and a Time2Retain (recovery goes on that long).
// Every script answers discovery: the subscriber learns a target's portals
// by SendTargets at the first logon. A target with two portals:
// failover_portal_test.cpp; everything else about failover is tested
// against tgtd (failover_test.cpp).
#include "eventually.hpp"
#include "failover_rig.hpp"
#include "portal_scripts.hpp"
#include "scripted_target.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

using namespace isens;
using events::event_kind;
using events::event_reason;
using test::step;
namespace proto = initiator::protocol;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using test::refuse_as_unavailable;
using test::serve_discovery;

namespace {

// AsyncEvent 2 (drop the connection with CID `cid`) or 3 (drop all).
proto::pdu will_drop(std::uint8_t event, std::uint16_t time2wait, std::uint16_t time2retain = 20,
                     std::uint16_t cid = 0) {
  proto::pdu p(proto::opcode::async_message);
  p.set_final(true);
  p.set_itt(proto::reserved_tag);
  p.set_async_event(event);
  p.set_parameter1(event == 2 ? cid : 0);
  p.set_parameter2(time2wait);
  p.set_parameter3(time2retain);
  return p;
}

// Answers a discovery session with this portal only (the failover subscriber
// learning portals at the logon).
asio::awaitable<void> serve_discovery_of_this_portal(test::scripted_connection& c) {
  const auto here = c.socket().local_endpoint();
  const auto address = here.address().to_string() + ":" + std::to_string(here.port());
  proto::key_values just_here{{"TargetName", test::scripted_target_iqn}, {"TargetAddress", address + ",1"}};
  co_await serve_discovery(c, std::move(just_here));
}

// When things happened at a target announcing a drop, seen from the target.
struct drop_log {
  std::mutex mutex;
  std::optional<steady::time_point> warned;  // just before the Async Message was sent
  std::vector<steady::time_point> logins;    // when each normal connection's first login request arrived
};

// The `victim`th normal connection (0: the session's first; its CID is the
// same number) logs in, is told it will be dropped (Time2Wait `time2wait`)
// and is closed by the target; the others log in and stay.
asio::awaitable<void> drop_with_time2wait(test::scripted_connection& c, drop_log& log, std::uint8_t event,
                                          std::uint16_t time2wait, std::size_t victim) {
  if (co_await c.login_session_type() == "Discovery") {
    co_await serve_discovery_of_this_portal(c);
    co_return;
  }
  std::size_t nth = 0;
  {
    std::lock_guard lock(log.mutex);
    nth = log.logins.size();
    log.logins.push_back(steady::now());
  }
  co_await c.accept_login();
  if (nth != victim) {
    co_await c.serve_until_logout();
    co_return;
  }
  {
    // Taken before sending: the initiator cannot start its wait any earlier.
    std::lock_guard lock(log.mutex);
    log.warned = steady::now();
  }
  auto warning = will_drop(event, time2wait, 20, static_cast<std::uint16_t>(victim));
  co_await c.send(std::move(warning));
  c.socket().shutdown(asio::ip::tcp::socket::shutdown_send);  // the drop the message announced
  for (;;) (void)co_await c.receive();  // until the initiator closes its side too
}

// A target that drops the session with AsyncEvent 3 (Time2Wait `time2wait`,
// Time2Retain `time2retain`) and is back only `back_after` later: until
// then it refuses logins as temporarily unable to serve.
struct late_return_state {
  std::mutex mutex;
  std::optional<steady::time_point> warned;  // just before the Async Message was sent
  std::atomic<int> refused{0};
};

asio::awaitable<void> drop_and_return_late(test::scripted_connection& c, late_return_state& state,
                                           std::uint16_t time2wait, std::uint16_t time2retain,
                                           std::chrono::milliseconds back_after) {
  if (co_await c.login_session_type() == "Discovery") {
    co_await serve_discovery_of_this_portal(c);
    co_return;
  }
  std::optional<steady::time_point> warned;
  {
    std::lock_guard lock(state.mutex);
    warned = state.warned;
  }
  if (!warned) {  // the session's first connection: the one the target drops
    co_await c.accept_login();
    {
      std::lock_guard lock(state.mutex);
      state.warned = steady::now();
    }
    co_await c.send(will_drop(3, time2wait, time2retain));
    c.socket().shutdown(asio::ip::tcp::socket::shutdown_send);
    for (;;) (void)co_await c.receive();  // until the initiator closes its side too
  }
  if (steady::now() < *warned + back_after) {
    ++state.refused;
    co_await refuse_as_unavailable(c);  // try again later
    co_return;
  }
  co_await c.accept_login();
  co_await c.serve_until_logout();
}

// What one drop-and-recover run showed.
struct drop_outcome {
  std::vector<step> steps;                  // the session's events
  std::size_t logins = 0;                   // login connections the target saw
  std::chrono::milliseconds login_after{};  // from the Async Message to the login that replaced the dropped connection
  // From the Async Message to the snapshot's reconnect_after, as first seen; and
  // the longest it could be: the Time2Wait counted from when it was read.
  // Both -1 when the recovery was over before the point was seen.
  std::chrono::milliseconds not_before_after{-1};
  std::chrono::milliseconds not_before_at_most{-1};
  std::size_t connections = 0;
  bool connected = false;
  bool reconnect_after_cleared = false;
};

// Logs in to a target that announces with AsyncEvent `event`, naming
// `time2wait`, that it drops the connection of the session's `victim`th
// login (0: its only one; 1: a second one the test adds), and waits for the
// failover subscriber to restore the session: a reconnect when that was the
// last connection, else a replacement connection.
drop_outcome drop_and_recover(subscribers::failover_policy policy, std::uint8_t event, std::uint16_t time2wait,
                              std::size_t victim = 0) {
  drop_log log;
  test::scripted_target target([&log, event, time2wait, victim](test::scripted_connection& c) {
    return drop_with_time2wait(c, log, event, time2wait, victim);
  });
  test::failover_rig rig(policy);
  auto login = test::login_options_for(target);
  login.max_connections = static_cast<std::uint32_t>(victim + 1);
  const auto id = rig.login(login);
  if (victim > 0) REQUIRE(rig.run(rig.initiator().add_connection_to_session(id)));
  // Back: a reconnect, or a connection_made more than the logins made.
  const auto restored = [&rig, victim](std::chrono::milliseconds limit) {
    return victim == 0 ? rig.wait_for(event_kind::session_reconnect, 1, limit)
                       : rig.wait_for(event_kind::connection_made, victim + 2, limit);
  };
  // The point the session keeps, read as soon as the drop shows (a recovery
  // that does not wait may be over before it is seen).
  std::optional<steady::time_point> not_before;
  steady::time_point read_at;
  REQUIRE(test::eventually(
      [&] {
        const auto s = rig.initiator().session(id);
        read_at = steady::now();
        if (s && s->reconnect_after) not_before = s->reconnect_after;
        return not_before || restored(0ms);
      },
      20s));
  // Generous: under sanitizers on two busy cores a 1 s wait can take longer.
  REQUIRE(restored(20s));
  REQUIRE(rig.settle());

  drop_outcome out;
  out.steps = rig.steps(id);
  const auto s = rig.initiator().session(id);
  REQUIRE(s.has_value());
  out.connected = s->connected;
  out.connections = s->connections.size();
  out.reconnect_after_cleared = !s->reconnect_after.has_value();
  std::lock_guard lock(log.mutex);
  out.logins = log.logins.size();
  REQUIRE(log.warned.has_value());
  REQUIRE(log.logins.size() >= victim + 2);
  const auto ms = [](steady::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); };
  out.login_after = ms(log.logins[victim + 1] - *log.warned);
  if (not_before) {
    out.not_before_after = ms(*not_before - *log.warned);
    out.not_before_at_most = ms(read_at + std::chrono::seconds(time2wait) - *log.warned);
  }
  return out;
}

const std::vector<step> dropped_by_async_message_then_reinstated{
    {event_kind::connection_made, event_reason::admin_login, std::nullopt},
    {event_kind::logon, event_reason::admin_login, std::nullopt},
    {event_kind::connection_lost, event_reason::target_requested, std::nullopt},
    {event_kind::session_disconnect, event_reason::target_requested, std::nullopt},
    {event_kind::connection_made, event_reason::recovery, std::nullopt},
    {event_kind::session_reconnect, event_reason::recovery, 1u}};

}  // namespace

TEST_CASE("after an Async Message naming Time2Wait, the reconnect login waits that long", "[failover][scripted]") {
  const int event = GENERATE(2, 3);  // one connection dropped, or all
  CAPTURE(event);
  // honour_time2wait is the default.
  const auto outcome = drop_and_recover(test::quick_policy(), static_cast<std::uint8_t>(event), 1);

  CHECK(outcome.steps == dropped_by_async_message_then_reinstated);
  CHECK(outcome.logins == 2);  // no attempt came early and failed
  // A lower bound without tolerance: the target took its time before sending
  // the message, and the initiator's 1 s point is counted from receiving it.
  CHECK(outcome.login_after.count() >= 1000);
  CHECK(outcome.login_after.count() < 10000);
  // The point is kept from the message's arrival, not from whenever it is read.
  CHECK(outcome.not_before_after.count() >= 1000);
  CHECK(outcome.not_before_after <= outcome.not_before_at_most);
  CHECK(outcome.connected);
  CHECK(outcome.reconnect_after_cleared);
}

// The session's events when its added connection is dropped by an Async
// Message and replaced: no session_disconnect, the replacement a plain add.
const std::vector<step> one_of_two_dropped_then_replaced{
    {event_kind::connection_made, event_reason::admin_login, std::nullopt},
    {event_kind::logon, event_reason::admin_login, std::nullopt},
    {event_kind::connection_made, event_reason::admin_login, std::nullopt},
    {event_kind::connection_lost, event_reason::target_requested, std::nullopt},
    {event_kind::connection_made, event_reason::admin_login, std::nullopt}};

TEST_CASE("after an Async Message dropping one of two connections, the replacement waits its Time2Wait",
          "[failover][scripted]") {
  // honour_time2wait is the default.
  const auto outcome = drop_and_recover(test::quick_policy(), 2, 1, 1);

  CHECK(outcome.steps == one_of_two_dropped_then_replaced);
  CHECK(outcome.logins == 3);  // the login, the added connection, its replacement: nothing early
  CHECK(outcome.login_after.count() >= 1000);
  CHECK(outcome.login_after.count() < 10000);
  CHECK(outcome.not_before_after.count() >= 1000);
  CHECK(outcome.not_before_after <= outcome.not_before_at_most);
  CHECK(outcome.connected);
  CHECK(outcome.connections == 2);
  CHECK(outcome.reconnect_after_cleared);
}

TEST_CASE("with honour_time2wait off, a replacement connection does not wait the Async Message's Time2Wait",
          "[failover][scripted]") {
  auto policy = test::quick_policy();
  policy.honour_time2wait = false;
  const auto outcome = drop_and_recover(policy, 2, 30, 1);

  CHECK(outcome.steps == one_of_two_dropped_then_replaced);
  CHECK(outcome.logins == 3);
  CHECK(outcome.login_after.count() < 10000);  // far below 30 s
  CHECK(outcome.connections == 2);
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


TEST_CASE("after an Async Message, recovery goes on for the Time2Retain it names, past give_up_after",
          "[failover][scripted]") {
  // Time2Wait 1 s, Time2Retain 3 s, back 2 s after the message: the policy
  // alone would give up 0.3 s into the recovery, before the first attempt.
  late_return_state state;
  test::scripted_target target(
      [&state](test::scripted_connection& c) { return drop_and_return_late(c, state, 1, 3, 2000ms); });
  auto policy = test::quick_policy();
  policy.give_up_after = 300ms;
  test::failover_rig rig(policy);
  const auto id = rig.login(test::login_options_for(target));
  REQUIRE(rig.wait_for(event_kind::session_reconnect, 1, 15s));
  REQUIRE(rig.settle());

  CHECK(state.refused >= 1);  // attempts were refused past give_up_after, and recovery went on
  const auto steps = rig.steps(id);
  CHECK(std::none_of(steps.begin(), steps.end(), [](const step& s) { return s.kind == event_kind::logoff; }));
  CHECK(steps.back().kind == event_kind::session_reconnect);
  CHECK(rig.initiator().session(id)->connected);
}
