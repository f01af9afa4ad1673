// Behaviour real targets rarely or never show (tgt sends no Async Messages,
// never redirects, never rejects, never sends garbage), played by a scripted
// in-process target. Everything else is tested against tgtd.
#include "initiator_harness.hpp"
#include "scripted_target.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace isens;
using events::event_kind;
using events::event_reason;
namespace proto = initiator::protocol;
namespace asio = boost::asio;

namespace {

proto::pdu async_message(std::uint8_t event, std::uint16_t parameter1 = 0) {
  proto::pdu p(proto::opcode::async_message);
  p.set_final(true);
  p.set_itt(proto::reserved_tag);
  p.set_async_event(event);
  p.set_parameter1(event == 2 ? parameter1 : 0);
  p.set_parameter2(2);  // Time2Wait
  p.set_parameter3(20);
  return p;
}

asio::awaitable<void> read_forever(test::scripted_connection& c) {
  for (;;) (void)co_await c.receive();
}

}  // namespace

TEST_CASE("an Async Message dropping the connection raises connection_lost then session_disconnect",
          "[initiator][scripted]") {
  test::scripted_target target([](test::scripted_connection& c) -> asio::awaitable<void> {
    co_await c.accept_login();
    co_await c.send(async_message(2, 0));
    co_await read_forever(c);
  });
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(test::login_options_for(target)));
  REQUIRE(id);

  const auto disconnect = h.recorder().wait_for(event_kind::session_disconnect);
  CHECK(disconnect.reason == event_reason::target_requested);
  CHECK(disconnect.session_id == *id);
  CHECK(h.recorder().kinds() == std::vector{event_kind::connection_made, event_kind::logon,
                                            event_kind::connection_lost, event_kind::session_disconnect});
  const auto snapshot = h.initiator().session(*id);
  REQUIRE(snapshot.has_value());
  CHECK_FALSE(snapshot->connected);
  CHECK(snapshot->connections.empty());
}

namespace {
// Which connection of the scripted target this is (1, 2, ...), for a script
// that treats a session's second connection differently.
std::atomic<int> connections_accepted{0};
}  // namespace

TEST_CASE("an Async Message dropping one of two connections keeps the session, and a new login owes its Time2Wait",
          "[initiator][scripted]") {
  connections_accepted = 0;
  test::scripted_target target([](test::scripted_connection& c) -> asio::awaitable<void> {
    const int nth = ++connections_accepted;
    co_await c.accept_login();
    if (nth == 2) co_await c.send(async_message(2, 1));  // drops CID 1, the added connection
    co_await read_forever(c);
  });
  test::initiator_harness h;
  auto options = test::login_options_for(target);
  options.max_connections = 2;
  auto id = h.run(h.initiator().login_to_target(options));
  REQUIRE(id);
  REQUIRE(h.run(h.initiator().add_connection_to_session(*id)));

  const auto lost = h.recorder().wait_for(event_kind::connection_lost);
  CHECK(lost.reason == event_reason::target_requested);
  CHECK(lost.cid == 1);
  REQUIRE(h.recorder().wait_for_count(4));  // connection_made, logon, connection_made, connection_lost
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // room for a wrong session_disconnect
  CHECK(h.recorder().kinds() == std::vector{event_kind::connection_made, event_kind::logon,
                                            event_kind::connection_made, event_kind::connection_lost});
  const auto snapshot = h.initiator().session(*id);
  REQUIRE(snapshot.has_value());
  CHECK(snapshot->connected);
  CHECK(snapshot->connections.size() == 1);
  // The replacement connection waits Time2Wait (2 s) from the message; the
  // point passes, so a later, unrelated drop does not wait it.
  REQUIRE(snapshot->reconnect_after.has_value());
  CHECK(*snapshot->reconnect_after - std::chrono::steady_clock::now() <= std::chrono::seconds(2));
}

TEST_CASE("an Async Message asking for logout makes the initiator log out", "[initiator][scripted]") {
  std::atomic<bool> logout_seen{false};
  test::scripted_target target([&](test::scripted_connection& c) -> asio::awaitable<void> {
    co_await c.accept_login();
    co_await c.send(async_message(1));
    co_await c.serve_until_logout();
    logout_seen = true;
  });
  test::initiator_harness h;
  REQUIRE(h.run(h.initiator().login_to_target(test::login_options_for(target))));

  const auto logoff = h.recorder().wait_for(event_kind::logoff);
  CHECK(logoff.reason == event_reason::target_requested);
  // The target's thread notes the logout after answering it: wait for that.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!logout_seen && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  CHECK(logout_seen);
  CHECK(h.recorder().kinds() == std::vector{event_kind::connection_made, event_kind::logon,
                                            event_kind::connection_lost, event_kind::logoff});
}

TEST_CASE("a malformed PDU in full-feature phase drops the connection as a protocol error",
          "[initiator][scripted]") {
  test::scripted_target target([](test::scripted_connection& c) -> asio::awaitable<void> {
    co_await c.accept_login();
    std::vector<std::uint8_t> garbage(48, 0);
    garbage[0] = 0x3e;  // no such opcode
    co_await c.send_raw(garbage);
    co_await read_forever(c);
  });
  test::initiator_harness h;
  REQUIRE(h.run(h.initiator().login_to_target(test::login_options_for(target))));

  const auto disconnect = h.recorder().wait_for(event_kind::session_disconnect);
  CHECK(disconnect.reason == event_reason::protocol_error);
  CHECK_THAT(disconnect.detail, Catch::Matchers::Contains("opcode"));
}

TEST_CASE("a target that stops answering is found by NOP-Out pings", "[initiator][scripted]") {
  test::scripted_target target([](test::scripted_connection& c) -> asio::awaitable<void> {
    co_await c.accept_login();
    co_await read_forever(c);  // never answers a ping
  });
  auto options = test::initiator_harness::quick_options();
  options.nop_interval = std::chrono::milliseconds(100);
  options.nop_timeout = std::chrono::milliseconds(200);
  test::initiator_harness h(options);
  REQUIRE(h.run(h.initiator().login_to_target(test::login_options_for(target))));

  const auto disconnect = h.recorder().wait_for(event_kind::session_disconnect);
  CHECK(disconnect.reason == event_reason::nop_timeout);
  CHECK_THAT(disconnect.detail, Catch::Matchers::Contains("200 ms"));
}

TEST_CASE("the target's NOP-In pings are answered with its transfer tag", "[initiator][scripted]") {
  std::atomic<std::uint32_t> echoed_ttt{0};
  std::atomic<std::uint32_t> echoed_itt{0};
  test::scripted_target target([&](test::scripted_connection& c) -> asio::awaitable<void> {
    co_await c.accept_login();
    proto::pdu ping(proto::opcode::nop_in);
    ping.set_final(true);
    ping.set_itt(proto::reserved_tag);
    ping.set_ttt(0x1234);
    co_await c.send(std::move(ping), false);
    const auto answer = co_await c.receive();
    if (answer.op() == proto::opcode::nop_out) {
      echoed_itt = answer.itt();
      echoed_ttt = answer.ttt();
    }
    co_await c.serve_until_logout();
  });
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(test::login_options_for(target)));
  REQUIRE(id);
  for (int i = 0; i < 500 && echoed_ttt == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(echoed_ttt == 0x1234);
  CHECK(echoed_itt == proto::reserved_tag);
  CHECK(h.run(h.initiator().logout_from_target(*id)));
}

TEST_CASE("a login redirect is followed to the portal the target names", "[initiator][scripted]") {
  test::scripted_target real([](test::scripted_connection& c) -> asio::awaitable<void> {
    co_await c.accept_login();
    co_await c.serve_until_logout();
  });
  const auto new_home = "127.0.0.1:" + std::to_string(real.port()) + ",1";
  test::scripted_target mover([&](test::scripted_connection& c) -> asio::awaitable<void> {
    proto::key_values keys;
    keys.emplace_back("TargetAddress", new_home);
    co_await c.refuse_login(0x01, 0x01, std::move(keys));
  });
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(test::login_options_for(mover)));
  REQUIRE(id);
  const auto snapshot = h.initiator().session(*id);
  REQUIRE(snapshot.has_value());
  REQUIRE(snapshot->connections.size() == 1);
  CHECK(snapshot->connections[0].remote_address == "127.0.0.1:" + std::to_string(real.port()));
  CHECK(h.recorder().wait_for(event_kind::logon).portal == "127.0.0.1:" + std::to_string(real.port()));
  CHECK(h.run(h.initiator().logout_from_target(*id)));
}

TEST_CASE("login failure statuses become clear errors", "[initiator][scripted]") {
  struct expectation {
    std::uint8_t status_class, status_detail;
    initiator::errc code;
    const char* words;
  };
  const expectation cases[] = {
      {0x02, 0x01, initiator::errc::login_auth_failed, "authentication failed"},
      {0x02, 0x03, initiator::errc::login_target_not_found, "not found"},
      {0x02, 0x06, initiator::errc::login_too_many_connections, "too many connections"},
      {0x03, 0x01, initiator::errc::login_service_unavailable, "unavailable"},
      {0x03, 0x02, initiator::errc::login_out_of_resources, "out of resources"},
  };
  for (const auto& expected : cases) {
    test::scripted_target target([&](test::scripted_connection& c) -> asio::awaitable<void> {
      co_await c.refuse_login(expected.status_class, expected.status_detail);
    });
    test::initiator_harness h;
    auto id = h.run(h.initiator().login_to_target(test::login_options_for(target)));
    REQUIRE_FALSE(id);
    CHECK(id.error().code == make_error_code(expected.code));
    CHECK_THAT(id.error().what(), Catch::Matchers::Contains(expected.words));
    CHECK(h.recorder().events().empty());  // no session, no events
    CHECK(h.initiator().sessions().empty());
  }
}

TEST_CASE("a target that never answers the login hits the login timeout", "[initiator][scripted]") {
  test::scripted_target target([](test::scripted_connection& c) -> asio::awaitable<void> { co_await read_forever(c); });
  auto options = test::initiator_harness::quick_options();
  options.login_timeout = std::chrono::milliseconds(300);
  test::initiator_harness h(options);
  auto id = h.run(h.initiator().login_to_target(test::login_options_for(target)));
  REQUIRE_FALSE(id);
  CHECK(id.error().code == make_error_code(initiator::errc::login_timeout));
  CHECK_THAT(id.error().what(), Catch::Matchers::Contains("300 ms"));
}

TEST_CASE("a Reject of a command fails that command, not the session", "[initiator][scripted]") {
  test::scripted_target target([](test::scripted_connection& c) -> asio::awaitable<void> {
    co_await c.accept_login();
    auto command = co_await c.receive();
    proto::pdu reject(proto::opcode::reject);
    reject.set_final(true);
    reject.set_itt(proto::reserved_tag);
    reject.set_reject_reason(0x04);  // protocol error
    reject.data.assign(command.bhs.begin(), command.bhs.end());
    co_await c.send(std::move(reject));
    co_await c.serve_until_logout();
  });
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(test::login_options_for(target)));
  REQUIRE(id);
  auto capacity = h.run(h.initiator().scsi_read_capacity(*id, 0));
  REQUIRE_FALSE(capacity.has_value());
  CHECK(capacity.error().code == make_error_code(initiator::errc::pdu_rejected));
  CHECK(h.initiator().session(*id)->connected);
  CHECK(h.run(h.initiator().logout_from_target(*id)));
}

TEST_CASE("an unreachable portal is a clear, quick error", "[initiator]") {
  // Bind a port, then close it: nothing listens there.
  std::uint16_t port = 0;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  test::initiator_harness h;
  initiator::login_options o;
  o.target_portal = {"127.0.0.1", port};
  o.target_name = "iqn.2026-11.test.isens:nobody";
  auto id = h.run(h.initiator().login_to_target(o));
  REQUIRE_FALSE(id);
  CHECK(id.error().code == make_error_code(initiator::errc::connect_failed));
  CHECK_THAT(id.error().what(), Catch::Matchers::Contains("127.0.0.1:" + std::to_string(port)));
}
