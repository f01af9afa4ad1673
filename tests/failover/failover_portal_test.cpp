// The failover subscriber against the scripted in-process target, for what
// tgtd never does: a target with two portals, one of which stops taking
// logins or vanishes, and discovery that fails, is slow, or names a portal
// in other letters. Every script answers discovery: the subscriber learns a
// target's portals by SendTargets at the first logon. Async Messages
// (Time2Wait, Time2Retain): failover_async_message_test.cpp; everything
// else about failover is tested against tgtd (failover_test.cpp).
#include "eventually.hpp"
#include "failover_rig.hpp"
#include "portal_scripts.hpp"
#include "scripted_target.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
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

constexpr const char* target_iqn = test::scripted_target_iqn;

std::string address_of(const test::scripted_target& target) { return "127.0.0.1:" + std::to_string(target.port()); }

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
  REQUIRE(test::eventually([&] { return a_state.discoveries_done == 1; }, 20s));
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

