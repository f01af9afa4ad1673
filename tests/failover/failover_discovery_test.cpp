// Where the failover subscriber looks for a session's other portals, against
// the scripted target: discovery with the session's own CHAP credentials,
// and the session's portal group first (RFC 7143: a session lives in one
// target portal group, and reinstatement happens there). tgtd shows neither:
// its SendTargets names only the portal the discovery came in at, and every
// portal of it is in group 1 (failover_test.cpp tests what tgtd does show).
#include "failover_rig.hpp"
#include "protocol/chap.hpp"
#include "scripted_target.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

using namespace isens;
using namespace std::chrono_literals;
using events::event_kind;
namespace asio = boost::asio;
namespace proto = initiator::protocol;
using clock_point = std::chrono::steady_clock::time_point;

namespace {

const initiator::chap_credentials account{"failover-user", "failover-secret-1"};

std::string loopback(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// The portal the session came back through: its last session_reconnect names it.
std::string came_back_through(test::failover_rig& rig, std::uint64_t id) {
  std::string portal;
  for (const auto& e : rig.recorder().events())
    if (e.session_id == id && e.kind == event_kind::session_reconnect) portal = e.portal;
  return portal;
}

// The first Login Request of a connection, and whether it opens a discovery session.
struct first_request {
  proto::pdu pdu{proto::opcode::login_request};
  bool discovery = false;
};

asio::awaitable<first_request> first_login_request(test::scripted_connection& c) {
  first_request out;
  out.pdu = co_await c.receive();
  const auto keys = proto::parse_text(out.pdu.data);
  const auto* type = keys ? proto::find_value(*keys, "SessionType") : nullptr;
  out.discovery = type && *type == "Discovery";
  co_return out;
}

// A successful Login Response to `request` carrying `keys`: it moves on to
// the stage the request asks for unless `stay`, with a TSIH once the login
// completes.
proto::pdu login_response(const proto::pdu& request, const proto::key_values& keys, bool stay = false) {
  proto::pdu response(proto::opcode::login_response);
  const bool transit = request.transit() && !stay;
  response.set_transit(transit);
  response.set_csg(request.csg());
  response.set_nsg(transit ? request.nsg() : request.csg());
  response.set_isid(request.isid());
  response.set_tsih(transit && request.nsg() == proto::login_stage::full_feature ? 0x4242 : 0);
  response.set_itt(request.itt());
  proto::append_text(response.data, keys);
  return response;
}

// Refuses a login as "service unavailable": retryable, not an auth failure.
asio::awaitable<void> refuse_as_unavailable(test::scripted_connection& c, const proto::pdu& request) {
  proto::pdu response(proto::opcode::login_response);
  response.set_csg(request.csg());
  response.set_isid(request.isid());
  response.set_itt(request.itt());
  response.set_status_class(0x03);
  response.set_status_detail(0x01);
  co_await c.send(std::move(response));
}

// What a portal's login answer states besides the stage changes.
struct portal_keys {
  std::optional<std::uint16_t> group;         // TargetPortalGroupTag, in the first response
  std::optional<std::uint32_t> time2retain;   // DefaultTime2Retain, in the first response
};

// Takes a normal login from `request` on, answering nothing but `stated`:
// the initiator keeps the RFC defaults of what it offered.
asio::awaitable<void> accept_stating(test::scripted_connection& c, proto::pdu request, portal_keys stated) {
  proto::key_values keys;
  if (stated.group) keys.emplace_back("TargetPortalGroupTag", std::to_string(*stated.group));
  if (stated.time2retain) keys.emplace_back("DefaultTime2Retain", std::to_string(*stated.time2retain));
  for (;;) {
    const bool completes = request.transit() && request.nsg() == proto::login_stage::full_feature;
    auto response = login_response(request, keys);
    co_await c.send(std::move(response));
    keys.clear();
    if (completes) co_return;
    request = co_await c.receive();
  }
}

// The target's side of one-way CHAP in the security stage (RFC 7143
// §12.1.3) from the first Login Request on: true once the initiator proved
// it knows `who`; otherwise the login is refused as an authentication
// failure. The operational stage follows.
asio::awaitable<bool> authenticate(test::scripted_connection& c, const proto::pdu& first,
                                   const initiator::chap_credentials& who) {
  const auto offered = proto::parse_text(first.data);
  const auto* methods = offered ? proto::find_value(*offered, "AuthMethod") : nullptr;
  bool proven = false;
  const proto::pdu* last = &first;
  proto::pdu algorithm, answer;
  if (methods && methods->find("CHAP") != std::string::npos) {
    const proto::key_values chosen{{"AuthMethod", "CHAP"}};
    auto choice = login_response(first, chosen, true);
    co_await c.send(std::move(choice));
    algorithm = co_await c.receive();  // CHAP_A
    const std::uint8_t id = 7;
    const auto challenge = proto::generate_challenge(16);
    const proto::key_values challenge_keys{
        {"CHAP_A", "5"}, {"CHAP_I", std::to_string(id)}, {"CHAP_C", proto::encode_binary_hex(challenge)}};
    auto challenge_response = login_response(algorithm, challenge_keys, true);
    co_await c.send(std::move(challenge_response));
    answer = co_await c.receive();  // CHAP_N, CHAP_R
    last = &answer;
    const auto keys = proto::parse_text(answer.data);
    const auto* name = keys ? proto::find_value(*keys, "CHAP_N") : nullptr;
    const auto* response = keys ? proto::find_value(*keys, "CHAP_R") : nullptr;
    const auto got = response ? proto::decode_binary(*response) : proto::decode_binary("");
    const auto expected = proto::chap_md5_response(id, who.secret, challenge);
    proven = name && *name == who.user && got && proto::constant_time_equal(*got, expected);
  }
  if (proven) {
    const proto::key_values none;
    auto accepted = login_response(*last, none);
    co_await c.send(std::move(accepted));
    co_return true;
  }
  proto::pdu refusal(proto::opcode::login_response);
  refusal.set_csg(last->csg());
  refusal.set_isid(last->isid());
  refusal.set_itt(last->itt());
  refusal.set_status_class(0x02);  // initiator error, authentication failure
  refusal.set_status_detail(0x01);
  co_await c.send(std::move(refusal));
  co_return false;
}

// The rest of a discovery session whose login is past its security stage:
// one SendTargets answer naming `portals` ("host:port,tpgt"), then logout.
asio::awaitable<void> answer_discovery(test::scripted_connection& c, std::vector<std::string> portals) {
  co_await c.accept_login();
  proto::key_values answer{{"TargetName", test::scripted_target_iqn}};
  for (auto& p : portals) answer.emplace_back("TargetAddress", std::move(p));
  co_await c.answer_send_targets(std::move(answer));
  co_await c.serve_until_logout();
}

// ---- a target that requires CHAP for discovery too ----

struct chap_portal_state {
  std::uint16_t b_port = 0;
  std::atomic<std::uint16_t> a_port{0};
  std::atomic<int> discoveries_proven{0};   // discovery logins that passed CHAP
  std::atomic<int> discoveries_refused{0};  // discovery logins without (the right) CHAP
  std::atomic<int> normal_logins{0};
};

// Portal A: every login must pass CHAP as `account`, discovery included;
// discovery names A and B. It takes the session's first login and then
// closes it; later normal logins are refused as "service unavailable".
asio::awaitable<void> chap_portal_a(test::scripted_connection& c, chap_portal_state& a) {
  auto first = co_await first_login_request(c);
  if (first.discovery) {
    // (A co_await in an if condition is miscompiled by GCC 12: one statement each.)
    const bool proven = co_await authenticate(c, first.pdu, account);
    if (!proven) {
      ++a.discoveries_refused;
      co_return;
    }
    ++a.discoveries_proven;
    std::vector<std::string> portals{loopback(a.a_port) + ",1", loopback(a.b_port) + ",1"};
    co_await answer_discovery(c, std::move(portals));
    co_return;
  }
  if (a.normal_logins++ > 0) {
    co_await refuse_as_unavailable(c, first.pdu);
    co_return;
  }
  const bool proven = co_await authenticate(c, first.pdu, account);
  if (!proven) co_return;
  co_await c.accept_login();
  // Ending the script closes the connection: the session drops.
}

// Portal B: every login must pass CHAP as `account`; then it serves.
asio::awaitable<void> chap_portal_b(test::scripted_connection& c, std::atomic<int>& logins) {
  auto first = co_await first_login_request(c);
  const bool proven = co_await authenticate(c, first.pdu, account);
  if (!proven) co_return;
  ++logins;
  co_await c.accept_login();
  co_await c.serve_until_logout();
}

// ---- a target with two portal groups ----

// A portal in group `group` that takes every login and serves it.
struct serving_group_portal {
  std::uint16_t group = 1;
  std::atomic<int> logins{0};
  std::mutex mutex;
  std::optional<clock_point> first_login;
};

asio::awaitable<void> serve_in_group(test::scripted_connection& c, serving_group_portal& p) {
  auto first = co_await first_login_request(c);
  {
    std::lock_guard lock(p.mutex);
    if (!p.first_login) p.first_login = std::chrono::steady_clock::now();
  }
  ++p.logins;
  const portal_keys stated{p.group, std::nullopt};
  co_await accept_stating(c, std::move(first.pdu), stated);
  co_await c.serve_until_logout();
}

// Portal A, the session's, in group 1.
struct group_portal_state {
  std::optional<std::uint32_t> time2retain;  // DefaultTime2Retain its login states
  std::atomic<int> normal_logins{0};
  std::mutex mutex;
  std::vector<std::string> named;             // what its discovery names ("host:port,tpgt")
  std::optional<clock_point> dropped;  // when it closed the session's connection
};

// Discovery names `named`; it takes the session's first login and closes
// it, and refuses later normal logins as "service unavailable".
asio::awaitable<void> group_portal_a(test::scripted_connection& c, group_portal_state& a) {
  auto first = co_await first_login_request(c);
  if (first.discovery) {
    const portal_keys nothing;
    co_await accept_stating(c, std::move(first.pdu), nothing);
    std::vector<std::string> portals;
    {
      std::lock_guard lock(a.mutex);
      portals = a.named;
    }
    proto::key_values answer{{"TargetName", test::scripted_target_iqn}};
    for (auto& p : portals) answer.emplace_back("TargetAddress", std::move(p));
    co_await c.answer_send_targets(std::move(answer));
    co_await c.serve_until_logout();
    co_return;
  }
  if (a.normal_logins++ > 0) {
    co_await refuse_as_unavailable(c, first.pdu);
    co_return;
  }
  const portal_keys stated{1, a.time2retain};
  co_await accept_stating(c, std::move(first.pdu), stated);
  std::lock_guard lock(a.mutex);
  a.dropped = std::chrono::steady_clock::now();
  // Ending the script closes the connection: the session drops.
}

// A target at portals A (group 1, where the session logs in), C (group 2)
// and, if `with_b`, B (group 1). A's discovery names A, then C, then B: a
// list in the target's order puts the other group first.
struct two_group_target {
  explicit two_group_target(bool with_b, std::optional<std::uint32_t> a_time2retain = std::nullopt)
      : b([this](test::scripted_connection& conn) { return serve_in_group(conn, b_state); }),
        c([this](test::scripted_connection& conn) { return serve_in_group(conn, c_state); }) {
    c_state.group = 2;
    a_state.time2retain = a_time2retain;
    a.emplace([this](test::scripted_connection& conn) { return group_portal_a(conn, a_state); });
    std::lock_guard lock(a_state.mutex);
    a_state.named = {loopback(a->port()) + ",1", loopback(c.port()) + ",2"};
    if (with_b) a_state.named.push_back(loopback(b.port()) + ",1");
  }

  serving_group_portal b_state;
  serving_group_portal c_state;
  group_portal_state a_state;
  test::scripted_target b;
  test::scripted_target c;
  std::optional<test::scripted_target> a;
};

}  // namespace

TEST_CASE("a target that requires CHAP for SendTargets names its other portals: discovery uses the session's credentials",
          "[failover][scripted]") {
  chap_portal_state a_state;
  std::atomic<int> b_logins{0};
  test::scripted_target b([&b_logins](test::scripted_connection& c) { return chap_portal_b(c, b_logins); });
  a_state.b_port = b.port();
  test::scripted_target a([&a_state](test::scripted_connection& c) { return chap_portal_a(c, a_state); });
  a_state.a_port = a.port();

  test::failover_rig rig;
  auto login = test::login_options_for(a);
  login.chap = account;
  const auto id = rig.login(login);
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());

  // Attempt 1 at A is refused; discovery at A, with the session's CHAP, names B.
  CHECK(came_back_through(rig, id) == loopback(b.port()));
  CHECK(rig.initiator().session(id)->connected);
  CHECK(a_state.discoveries_proven >= 1);
  CHECK(a_state.discoveries_refused == 0);
  CHECK(b_logins == 1);
}

TEST_CASE("a session is reinstated through a portal of its own portal group before any other group's",
          "[failover][scripted]") {
  two_group_target target(true);

  test::failover_rig rig;
  const auto id = rig.login(test::login_options_for(*target.a));
  CHECK(rig.initiator().session(id)->portal_group_tag == std::optional<std::uint16_t>(1));
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());

  // Attempt 1 at A is refused; discovery names C (group 2) before B (group 1); attempt 2 goes to B.
  CHECK(came_back_through(rig, id) == loopback(target.b.port()));
  const auto s = *rig.initiator().session(id);
  CHECK(s.connected);
  CHECK(s.portal_group_tag == std::optional<std::uint16_t>(1));
  CHECK(target.b_state.logins == 1);
  CHECK(target.c_state.logins == 0);
}

TEST_CASE("another portal group is tried only once the target has let the session go: Time2Wait + Time2Retain",
          "[failover][scripted]") {
  // A states DefaultTime2Retain 0; DefaultTime2Wait stays 2 s (the maximum
  // of both offers): the old session is gone at the target 2 s after the drop.
  two_group_target target(false, 0u);

  test::failover_rig rig;
  const auto id = rig.login(test::login_options_for(*target.a));
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());

  // Every round before the 2 s fails at A alone; then C, the other group, takes the session.
  CHECK(came_back_through(rig, id) == loopback(target.c.port()));
  const auto s = *rig.initiator().session(id);
  CHECK(s.connected);
  CHECK(s.portal_group_tag == std::optional<std::uint16_t>(2));  // it lives in C's group now
  CHECK(target.a_state.normal_logins >= 3);  // the login, then a refused attempt in each round before
  CHECK(target.c_state.logins == 1);
  std::lock_guard a_lock(target.a_state.mutex);
  std::lock_guard c_lock(target.c_state.mutex);
  REQUIRE(target.a_state.dropped.has_value());
  REQUIRE(target.c_state.first_login.has_value());
  CHECK(*target.c_state.first_login - *target.a_state.dropped >= 2s);
  CHECK(*target.c_state.first_login - *target.a_state.dropped < 15s);
}
