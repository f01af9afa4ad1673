// The failover subscriber against the scripted in-process target, for what
// tgtd never does: an Async Message that names a Time2Wait, and a target
// with two portals, one of which stops taking logins or vanishes. Every
// script answers discovery: the subscriber learns a target's portals by
// SendTargets at the first logon. Everything else about failover is tested
// against tgtd (failover_test.cpp).
#include "failover_rig.hpp"
#include "scripted_target.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
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

constexpr const char* target_iqn = test::scripted_target_iqn;

std::string address_of(const test::scripted_target& target) { return "127.0.0.1:" + std::to_string(target.port()); }

// Polls `done` (a condition a scripted target sets) for up to `limit`.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = 20s) {
  const auto until = steady::now() + limit;
  while (!done()) {
    if (steady::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// The session's session_reconnect events, in order.
std::vector<events::event> reconnects(test::failover_rig& rig, std::uint64_t id) {
  std::vector<events::event> out;
  for (const auto& e : rig.recorder().events())
    if (e.session_id == id && e.kind == event_kind::session_reconnect) out.push_back(e);
  return out;
}

// The session is back and connected through `b`: its last session_reconnect
// and its one connection both name b's address. Returns its snapshot.
initiator::session_info connected_through(test::failover_rig& rig, std::uint64_t id, const test::scripted_target& b) {
  const auto back = reconnects(rig, id);
  REQUIRE_FALSE(back.empty());
  CHECK(back.back().portal == address_of(b));
  const auto s = *rig.initiator().session(id);
  CHECK(s.connected);
  REQUIRE(s.connections.size() == 1);
  CHECK(s.connections[0].remote_address == address_of(b));
  return s;
}

// What SendTargets says about the scripted target: it is at `first` and `second`.
proto::key_values two_portals(const std::string& first, const std::string& second) {
  return {{"TargetName", target_iqn}, {"TargetAddress", first + ",1"}, {"TargetAddress", second + ",2"}};
}

// A discovery session: login, one SendTargets answer, logout.
asio::awaitable<void> serve_discovery(test::scripted_connection& c, proto::key_values answer) {
  co_await c.accept_login();
  co_await c.answer_send_targets(std::move(answer));
  co_await c.serve_until_logout();
}

// Refuses a login as "service unavailable": retryable, not an auth failure.
asio::awaitable<void> refuse_as_unavailable(test::scripted_connection& c) {
  proto::key_values no_keys;  // named: a defaulted {} would be a temporary inside co_await (GCC 12)
  co_await c.refuse_login(0x03, 0x01, std::move(no_keys));
}

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
  proto::key_values just_here{{"TargetName", target_iqn}, {"TargetAddress", address + ",1"}};
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
    co_await c.refuse_login(0x03, 0x01);  // target error, service unavailable: try again later
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
  REQUIRE(eventually([&] {
    const auto s = rig.initiator().session(id);
    read_at = steady::now();
    if (s && s->reconnect_after) not_before = s->reconnect_after;
    return not_before || restored(0ms);
  }));
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

// Portal A of a two-portal target: what it names and what it saw.
struct portal_a_state {
  std::string a_named_as = "127.0.0.1";  // the host discovery names A by
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
    auto portals =
        two_portals(a.a_named_as + ":" + std::to_string(a.a_port.load()), "127.0.0.1:" + std::to_string(a.b_port));
    co_await serve_discovery(c, std::move(portals));
    co_return;
  }
  if (a.normal_logins++ == 0) {
    co_await c.accept_login();
    co_return;  // ending the script closes the connection: the session drops
  }
  co_await refuse_as_unavailable(c);
}

// Portal A of a target that is about to vanish: it serves discovery (naming
// A and B) and logins alike, until the test destroys it.
struct vanishing_portal_state {
  std::uint16_t b_port = 0;
  std::atomic<std::uint16_t> a_port{0};
  std::atomic<int> discoveries_done{0};  // discovery sessions A saw to their logout
  std::atomic<int> normal_logins{0};
};

asio::awaitable<void> vanishing_portal(test::scripted_connection& c, vanishing_portal_state& a) {
  if (co_await c.login_session_type() == "Discovery") {
    auto portals = two_portals("127.0.0.1:" + std::to_string(a.a_port.load()), "127.0.0.1:" + std::to_string(a.b_port));
    co_await serve_discovery(c, std::move(portals));
    ++a.discoveries_done;  // after the logout: the answer is in the initiator's hands
    co_return;
  }
  ++a.normal_logins;
  co_await c.accept_login();
  co_await c.serve_until_logout();
}

// Portal A whose discovery fails until a recovery has asked twice: it
// refuses the discovery of the logon and the first one after the drop, and
// names A and B from then on. It drops the first normal login once the
// logon's discovery was refused, and refuses later normal logins.
struct flaky_discovery_state {
  std::uint16_t b_port = 0;
  std::atomic<std::uint16_t> a_port{0};
  std::atomic<int> discoveries{0};
  std::atomic<int> discoveries_after_drop{0};
  std::atomic<bool> dropped{false};
  std::atomic<int> normal_logins{0};
};

// Polls `done` on the target's own thread, for up to 20 s.
asio::awaitable<void> poll_until(std::function<bool()> done) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  for (int i = 0; i < 2000 && !done(); ++i) {
    tick.expires_after(10ms);
    co_await tick.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> flaky_discovery_portal(test::scripted_connection& c, flaky_discovery_state& a) {
  if (co_await c.login_session_type() == "Discovery") {
    ++a.discoveries;
    if (!a.dropped || a.discoveries_after_drop++ == 0) {
      co_await refuse_as_unavailable(c);
      co_return;
    }
    auto portals = two_portals("127.0.0.1:" + std::to_string(a.a_port.load()), "127.0.0.1:" + std::to_string(a.b_port));
    co_await serve_discovery(c, std::move(portals));
    co_return;
  }
  if (a.normal_logins++ == 0) {
    co_await c.accept_login();
    // Named: see refuse_as_unavailable.
    std::function<bool()> logon_discovery_came = [&a] { return a.discoveries > 0; };
    co_await poll_until(std::move(logon_discovery_came));
    a.dropped = true;
    co_return;  // ending the script closes the connection: the session drops
  }
  co_await refuse_as_unavailable(c);
}

// Portal A whose logon discovery ends while attempt 1 is at A: the
// discovery answers once attempt 1 has come, and attempt 1 is refused once
// the discovery is over. The first normal login is dropped once that
// discovery has begun; later normal logins are refused.
struct slow_discovery_state {
  std::uint16_t b_port = 0;
  std::atomic<std::uint16_t> a_port{0};
  std::atomic<int> discoveries{0};
  std::atomic<bool> discovery_done{false};
  std::atomic<int> normal_logins{0};
};

asio::awaitable<void> slow_discovery_portal(test::scripted_connection& c, slow_discovery_state& a) {
  if (co_await c.login_session_type() == "Discovery") {
    ++a.discoveries;
    co_await c.accept_login();
    std::function<bool()> attempt_came = [&a] { return a.normal_logins >= 2; };  // named: see refuse_as_unavailable
    co_await poll_until(std::move(attempt_came));
    auto portals = two_portals("127.0.0.1:" + std::to_string(a.a_port.load()), "127.0.0.1:" + std::to_string(a.b_port));
    co_await c.answer_send_targets(std::move(portals));
    co_await c.serve_until_logout();
    a.discovery_done = true;
    co_return;
  }
  const int n = a.normal_logins++;
  if (n == 0) {
    co_await c.accept_login();
    std::function<bool()> discovery_began = [&a] { return a.discoveries > 0; };
    co_await poll_until(std::move(discovery_began));
    co_return;  // ending the script closes the connection: the session drops
  }
  if (n == 1) {
    std::function<bool()> discovery_over = [&a] { return a.discovery_done.load(); };
    co_await poll_until(std::move(discovery_over));
  }
  co_await refuse_as_unavailable(c);
}

// Portal B takes every login and serves it.
asio::awaitable<void> serving_portal(test::scripted_connection& c, std::atomic<int>& logins) {
  ++logins;
  co_await c.accept_login();
  co_await c.serve_until_logout();
}

// Portal B takes every login (counted in b_logins); portal A runs `script`
// on a_state, which knows both ports. The two-portal setup of most tests
// below. `configure` sets the rest of a_state before A starts listening.
template <class State>
struct portal_pair {
  using script = asio::awaitable<void> (*)(test::scripted_connection&, State&);
  explicit portal_pair(script a_script, const std::function<void(State&)>& configure = {})
      : b([this](test::scripted_connection& c) { return serving_portal(c, b_logins); }) {
    a_state.b_port = b.port();
    if (configure) configure(a_state);
    a_listening.emplace([this, a_script](test::scripted_connection& c) { return a_script(c, a_state); });
    a_state.a_port = a_listening->port();
  }
  const test::scripted_target& a() const { return *a_listening; }

  std::atomic<int> b_logins{0};
  test::scripted_target b;
  State a_state;

 private:
  std::optional<test::scripted_target> a_listening;
};

// Portal B where the test can drop the session: it takes every login and
// serves it; drop_served() closes the connection being served.
struct droppable_portal_state {
  std::atomic<int> logins{0};
  std::mutex mutex;                               // guards the two below
  test::scripted_connection* served = nullptr;    // while a login is served
  std::optional<asio::any_io_executor> executor;  // B's thread, the only one that may touch its sockets
};

// Clears droppable_portal_state::served however the script ends.
struct forget_served {
  droppable_portal_state& b;
  ~forget_served() {
    std::lock_guard lock(b.mutex);
    b.served = nullptr;
  }
};

asio::awaitable<void> droppable_portal(test::scripted_connection& c, droppable_portal_state& b) {
  ++b.logins;
  co_await c.accept_login();
  {
    std::lock_guard lock(b.mutex);
    b.served = &c;
    b.executor = c.socket().get_executor();
  }
  const forget_served forget{b};
  co_await c.serve_until_logout();
}

// Closes the connection B serves, on B's thread: the session drops.
void drop_served(droppable_portal_state& b) {
  std::lock_guard lock(b.mutex);
  REQUIRE(b.executor.has_value());
  asio::post(*b.executor, [&b] {
    std::lock_guard on_b(b.mutex);
    if (b.served) b.served->socket().close();
  });
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

TEST_CASE("a session whose portal refuses logins is reinstated through another portal that discovery names",
          "[failover][scripted]") {
  portal_pair<portal_a_state> portals(refusing_portal);

  test::failover_rig rig;
  const auto id = rig.login(test::login_options_for(portals.a()));
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
  CHECK(reconnect.attempt == 2u);
  const auto s = connected_through(rig, id, portals.b);
  CHECK(s.isid == isid);  // reinstated, not a new session
  CHECK(portals.a_state.normal_logins == 2);  // the login, then the refused attempt
  // The one at the logon, and again after attempt 1 failed unless the
  // logon's ended after the drop (then it is fresh enough).
  CHECK(portals.a_state.discoveries >= 1);
  CHECK(portals.a_state.discoveries <= 2);
  CHECK(portals.b_logins == 1);
}

TEST_CASE("a session whose portal is gone is reinstated through a portal learned while it was up",
          "[failover][scripted]") {
  std::atomic<int> b_logins{0};
  test::scripted_target b([&b_logins](test::scripted_connection& c) { return serving_portal(c, b_logins); });
  vanishing_portal_state a_state;
  a_state.b_port = b.port();
  std::optional<test::scripted_target> a;
  a.emplace([&a_state](test::scripted_connection& c) { return vanishing_portal(c, a_state); });
  a_state.a_port = a->port();

  test::failover_rig rig;
  const auto id = rig.login(test::login_options_for(*a));
  const auto isid = rig.initiator().session(id)->isid;
  // The subscriber discovers at the logon; A must see that through first.
  REQUIRE(eventually([&] { return a_state.discoveries_done == 1; }));
  a.reset();  // A is gone: the session's connection closes, new ones are refused
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());

  // Attempt 1 at A is refused and so is discovery there; attempt 2 at B,
  // learned at the logon, works.
  const auto steps = rig.steps(id);
  REQUIRE(steps.size() == 7);
  CHECK(steps[2].kind == event_kind::connection_lost);  // peer_closed or io_error: A's teardown decides
  CHECK(steps[3].kind == event_kind::session_disconnect);
  CHECK_FALSE(steps[3].attempt);
  CHECK(std::vector<step>(steps.begin() + 4, steps.end()) ==
        std::vector<step>{{event_kind::session_disconnect, event_reason::io_error, 1u},
                          {event_kind::connection_made, event_reason::recovery, std::nullopt},
                          {event_kind::session_reconnect, event_reason::recovery, 2u}});
  const auto back = reconnects(rig, id);
  REQUIRE(back.size() == 1);
  const auto s = connected_through(rig, id, b);
  CHECK(s.isid == isid);
  CHECK(a_state.normal_logins == 1);
  CHECK(a_state.discoveries_done == 1);
  CHECK(b_logins == 1);
}

TEST_CASE("a session that failed over to another portal tries that portal first on its next recovery",
          "[failover][scripted]") {
  droppable_portal_state b_state;
  test::scripted_target b([&b_state](test::scripted_connection& c) { return droppable_portal(c, b_state); });
  portal_a_state a_state;
  a_state.b_port = b.port();
  test::scripted_target a([&a_state](test::scripted_connection& c) { return refusing_portal(c, a_state); });
  a_state.a_port = a.port();

  test::failover_rig rig;
  const auto id = rig.login(test::login_options_for(a));
  const auto isid = rig.initiator().session(id)->isid;
  // A drops the session at once and refuses it from then on: it comes back through B.
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());
  const auto back = reconnects(rig, id);
  REQUIRE(back.size() == 1);
  CHECK(back[0].portal == address_of(b));
  CHECK(back[0].attempt.value_or(0) == 2u);
  REQUIRE(a_state.normal_logins == 2);
  const auto seen = rig.steps(id).size();

  drop_served(b_state);  // a later drop, in a recovery of its own
  REQUIRE(rig.wait_for(event_kind::session_reconnect, 2));
  REQUIRE(rig.settle());

  // Attempt 1 of the new recovery goes to B, and works.
  const auto steps = rig.steps(id);
  CHECK(std::vector<step>(steps.begin() + static_cast<std::ptrdiff_t>(seen), steps.end()) ==
        std::vector<step>{{event_kind::connection_lost, event_reason::peer_closed, std::nullopt},
                          {event_kind::session_disconnect, event_reason::peer_closed, std::nullopt},
                          {event_kind::connection_made, event_reason::recovery, std::nullopt},
                          {event_kind::session_reconnect, event_reason::recovery, 1u}});
  REQUIRE(reconnects(rig, id).size() == 2);
  const auto s = connected_through(rig, id, b);
  CHECK(s.isid == isid);
  CHECK(a_state.normal_logins == 2);  // A saw no attempt of the second recovery
  CHECK(b_state.logins == 2);
}

TEST_CASE("a discovery that fails during a recovery is tried again in a later round", "[failover][scripted]") {
  portal_pair<flaky_discovery_state> portals(flaky_discovery_portal);

  test::failover_rig rig;
  const auto id = rig.login(test::login_options_for(portals.a()));
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());

  // Every round starts at A and fails there. The discovery of round 1
  // fails (or round 1 shares the logon's, which failed, and round 2's
  // fails); the next names B, which the same round then tries.
  const auto steps = rig.steps(id);
  REQUIRE(steps.size() >= 8);
  const auto last = static_cast<std::uint32_t>(steps.size() - 5);  // the attempt that worked
  CHECK(last >= 3u);
  CHECK(last <= 4u);
  CHECK(std::vector<step>(steps.begin(), steps.begin() + 4) ==
        std::vector<step>{{event_kind::connection_made, event_reason::admin_login, std::nullopt},
                          {event_kind::logon, event_reason::admin_login, std::nullopt},
                          {event_kind::connection_lost, event_reason::peer_closed, std::nullopt},
                          {event_kind::session_disconnect, event_reason::peer_closed, std::nullopt}});
  for (std::uint32_t attempt = 1; attempt < last; ++attempt)
    CHECK(steps[3 + attempt] == step{event_kind::session_disconnect, event_reason::io_error, attempt});
  CHECK(steps[steps.size() - 2] == step{event_kind::connection_made, event_reason::recovery, std::nullopt});
  CHECK(steps.back() == step{event_kind::session_reconnect, event_reason::recovery, last});
  const auto back = reconnects(rig, id);
  REQUIRE(back.size() == 1);
  connected_through(rig, id, portals.b);
  CHECK(portals.a_state.discoveries_after_drop >= 2);  // the recovery asked again after a failed discovery
  CHECK(portals.a_state.normal_logins == static_cast<int>(last));  // the login, then every failed attempt
  CHECK(portals.b_logins == 1);
}

TEST_CASE("portals learned while a round's first attempt runs are tried in that round", "[failover][scripted]") {
  portal_pair<slow_discovery_state> portals(slow_discovery_portal);

  test::failover_rig rig;
  const auto id = rig.login(test::login_options_for(portals.a()));
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());

  // Round 1 began before the logon's discovery named B, and still tries B.
  const auto back = reconnects(rig, id);
  REQUIRE(back.size() == 1);
  CHECK(back[0].attempt.value_or(0) == 2u);
  connected_through(rig, id, portals.b);
  CHECK(portals.a_state.normal_logins == 2);  // the login, then attempt 1
  CHECK(portals.a_state.discoveries == 1);    // the logon's, fresh enough for the recovery
  CHECK(portals.b_logins == 1);
}

TEST_CASE("a portal discovery names in other letters is not tried twice in a round", "[failover][scripted]") {
  // The session logs in at "localhost" and discovery names A "LOCALHOST": one endpoint (DNS names ignore case).
  portal_pair<portal_a_state> portals(refusing_portal, [](portal_a_state& a) { a.a_named_as = "LOCALHOST"; });

  test::failover_rig rig;
  const auto id = rig.login(test::login_options_for(portals.a(), "localhost"));
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());

  // Attempt 1 at localhost is refused; LOCALHOST is the same portal, so attempt 2 goes to B.
  const auto back = reconnects(rig, id);
  REQUIRE(back.size() == 1);
  CHECK(back[0].attempt.value_or(0) == 2u);
  connected_through(rig, id, portals.b);
  CHECK(portals.a_state.normal_logins == 2);  // the login, then attempt 1
  CHECK(portals.b_logins == 1);
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
