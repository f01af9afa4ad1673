// Several connections per session (MC/S) against a real tgtd, and the
// target dropping connections or dying under a session.
#include "initiator_harness.hpp"
#include "standard_login.hpp"
#include "tgtd_target.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

using namespace isens;
using events::event_kind;
using events::event_reason;
using test::quick_login;
using test::standard_login;

namespace {

std::size_t count(const std::vector<events::event>& events, event_kind kind) {
  return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](const auto& e) { return e.kind == kind; }));
}

}  // namespace

TEST_CASE("a session grows to four connections and shrinks back, and the last one is refused",
          "[initiator][tgtd][mcs]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(quick_login(*target)));
  REQUIRE(id);
  const auto first = h.initiator().session(*id)->connections.at(0).connection_id;

  std::vector<std::uint64_t> added;
  for (int i = 0; i < 3; ++i) {
    auto connection = h.run(h.initiator().add_connection_to_session(*id));
    REQUIRE(connection);
    added.push_back(*connection);
  }
  auto snapshot = h.initiator().session(*id);
  REQUIRE(snapshot->connections.size() == 4);
  CHECK(snapshot->max_connections == 4);
  std::set<std::uint16_t> cids;
  for (const auto& c : snapshot->connections) cids.insert(c.cid);
  CHECK(cids.size() == 4);
  // The target sees one session with four connections.
  const auto on_target = target->connections(test::standard_tid);
  CHECK(on_target.size() == 4);
  CHECK(std::all_of(on_target.begin(), on_target.end(), [&](const auto& c) { return c.sid == on_target[0].sid; }));

  // A fifth exceeds the negotiated MaxConnections.
  auto fifth = h.run(h.initiator().add_connection_to_session(*id));
  REQUIRE_FALSE(fifth);
  CHECK(fifth.error().code == make_error_code(initiator::errc::login_too_many_connections));

  // Commands spread over the connections still work.
  for (int i = 0; i < 8; ++i) {
    auto capacity = h.run(h.initiator().scsi_read_capacity(*id, 1));
    CHECK(capacity.has_value());
    if (!capacity) FAIL_CHECK(capacity.error().what());  // say why, not only that
  }

  for (const auto c : added) REQUIRE(h.run(h.initiator().remove_connection_from_session(*id, c)));
  CHECK(h.initiator().session(*id)->connections.size() == 1);
  CHECK(target->connections(test::standard_tid).size() == 1);

  auto last = h.run(h.initiator().remove_connection_from_session(*id, first));
  REQUIRE_FALSE(last);
  CHECK(last.error().code == make_error_code(initiator::errc::last_connection));
  CHECK_THAT(last.error().what(), Catch::Matchers::Contains("log the session out"));
  CHECK(h.initiator().session(*id)->connected);

  auto unknown = h.run(h.initiator().remove_connection_from_session(*id, 424242));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == make_error_code(initiator::errc::no_such_connection));

  // connection_made x4, logon, connection_lost x3; the bus delivers them on its own thread.
  REQUIRE(h.recorder().wait_for_count(8));
  const auto events = h.recorder().events();
  CHECK(count(events, event_kind::connection_made) == 4);
  CHECK(count(events, event_kind::connection_lost) == 3);
  for (const auto& e : events)
    if (e.kind == event_kind::connection_lost) CHECK(e.reason == event_reason::removed);
  CHECK(count(events, event_kind::session_disconnect) == 0);
}

TEST_CASE("the target dropping the only connection raises connection_lost then session_disconnect",
          "[initiator][tgtd][faults]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(quick_login(*target)));
  REQUIRE(id);
  const auto on_target = target->connections(test::standard_tid);
  REQUIRE(on_target.size() == 1);
  target->delete_connection(test::standard_tid, on_target[0].sid, on_target[0].cid);

  const auto disconnect = h.recorder().wait_for(event_kind::session_disconnect);
  CHECK(disconnect.reason == event_reason::peer_closed);
  CHECK(disconnect.session_id == *id);
  CHECK(h.recorder().kinds() == std::vector{event_kind::connection_made, event_kind::logon,
                                            event_kind::connection_lost, event_kind::session_disconnect});
  // The session still exists, disconnected, until it is recovered or logged out.
  auto snapshot = h.initiator().session(*id);
  REQUIRE(snapshot.has_value());
  CHECK_FALSE(snapshot->connected);
  auto command = h.run(h.initiator().scsi_report_luns(*id));
  REQUIRE_FALSE(command.has_value());
  CHECK(command.error().code == make_error_code(initiator::errc::session_not_logged_in));

  REQUIRE(h.run(h.initiator().logout_from_target(*id)));
  CHECK(h.recorder().wait_for(event_kind::logoff).reason == event_reason::admin_logout);
}

TEST_CASE("losing one of four connections keeps the session logged in", "[initiator][tgtd][faults][mcs]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(quick_login(*target)));
  REQUIRE(id);
  for (int i = 0; i < 3; ++i) REQUIRE(h.run(h.initiator().add_connection_to_session(*id)));
  const auto on_target = target->connections(test::standard_tid);
  REQUIRE(on_target.size() == 4);
  target->delete_connection(test::standard_tid, on_target[2].sid, on_target[2].cid);

  const auto lost = h.recorder().wait_for(event_kind::connection_lost);
  CHECK(lost.reason == event_reason::peer_closed);
  CHECK(lost.cid == on_target[2].cid);
  const auto snapshot = h.initiator().session(*id);
  CHECK(snapshot->connected);
  CHECK(snapshot->connections.size() == 3);
  CHECK(count(h.recorder().events(), event_kind::session_disconnect) == 0);
  CHECK(h.run(h.initiator().scsi_report_luns(*id)).has_value());
}

TEST_CASE("a target killed under a session is reported as a disconnect", "[initiator][tgtd][faults]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(quick_login(*target)));
  REQUIRE(id);
  target->kill9();

  const auto disconnect = h.recorder().wait_for(event_kind::session_disconnect);
  CHECK(disconnect.session_id == *id);
  CHECK(disconnect.reason == event_reason::peer_closed);
  CHECK_FALSE(h.initiator().session(*id)->connected);
}

TEST_CASE("a hung target (SIGSTOP) is found by NOP-Out pings", "[initiator][tgtd][faults]") {
  auto target = test::make_standard_target();
  auto options = test::initiator_harness::quick_options();
  options.nop_interval = std::chrono::milliseconds(100);
  options.nop_timeout = std::chrono::milliseconds(300);
  test::initiator_harness h(options);
  auto id = h.run(h.initiator().login_to_target(quick_login(*target)));
  REQUIRE(id);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // pings are answered while it runs
  CHECK(count(h.recorder().events(), event_kind::session_disconnect) == 0);

  target->pause();
  const auto disconnect = h.recorder().wait_for(event_kind::session_disconnect);
  CHECK(disconnect.reason == event_reason::nop_timeout);
  target->resume();
}
