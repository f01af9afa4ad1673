// The initiator's side of failover against a real tgtd: reinstating a
// dropped session, holding commands until it is back, giving up.
#include "initiator_harness.hpp"
#include "standard_login.hpp"
#include "tgtd_target.hpp"

#include <catch2/catch.hpp>

using namespace isens;
using events::event_kind;
using events::event_reason;
using test::quick_login;
using test::standard_login;

TEST_CASE("a dropped session is reinstated with the same ISID and raises session_reconnect", "[initiator][tgtd][recovery]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(quick_login(*target)));
  REQUIRE(id);
  const auto before = *h.initiator().session(*id);
  target->delete_connections(test::standard_tid);
  h.recorder().wait_for(event_kind::session_disconnect);
  CHECK(h.initiator().session(*id)->connections_wanted == 1);

  REQUIRE(h.run(h.initiator().reconnect_session(*id, {std::nullopt, 1})));
  const auto reconnect = h.recorder().wait_for(event_kind::session_reconnect);
  CHECK(reconnect.reason == event_reason::recovery);
  CHECK(reconnect.attempt == 1u);
  CHECK(reconnect.session_id == *id);
  CHECK(h.recorder().kinds() == std::vector{event_kind::connection_made, event_kind::logon, event_kind::connection_lost,
                                            event_kind::session_disconnect, event_kind::connection_made,
                                            event_kind::session_reconnect});

  const auto after = *h.initiator().session(*id);
  CHECK(after.connected);
  CHECK(after.isid == before.isid);  // reinstatement, not a new session
  CHECK(after.tsih != 0);
  const auto on_target = target->connections(test::standard_tid);
  REQUIRE(on_target.size() == 1);  // the old nexus is gone
  CHECK(h.run(h.initiator().scsi_report_luns(*id)).has_value());

  auto again = h.run(h.initiator().reconnect_session(*id));
  REQUIRE_FALSE(again);  // a connected session has nothing to reconnect
  CHECK(again.error().code == make_error_code(initiator::errc::invalid_argument));
}

TEST_CASE("a command issued while the session is down is sent after recovery", "[initiator][tgtd][recovery]") {
  auto target = test::make_standard_target();
  auto options = test::initiator_harness::quick_options();
  options.recovery_hold = std::chrono::milliseconds(10000);
  test::initiator_harness h(options);
  auto id = h.run(h.initiator().login_to_target(quick_login(*target)));
  REQUIRE(id);
  target->delete_connections(test::standard_tid);
  h.recorder().wait_for(event_kind::session_disconnect);

  auto pending = h.start(h.initiator().scsi_read_capacity(*id, 1));
  CHECK(pending.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);  // held, not failed

  REQUIRE(h.run(h.initiator().reconnect_session(*id)));
  REQUIRE(pending.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  const auto capacity = pending.get();
  REQUIRE(capacity.has_value());
  CHECK(capacity->bytes() == test::standard_lun1_bytes);
}

TEST_CASE("without a recovery hold, a command of a disconnected session fails at once", "[initiator][tgtd][recovery]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(quick_login(*target)));
  REQUIRE(id);
  target->delete_connections(test::standard_tid);
  h.recorder().wait_for(event_kind::session_disconnect);
  auto capacity = h.run(h.initiator().scsi_read_capacity(*id, 1), std::chrono::seconds(2));
  REQUIRE_FALSE(capacity.has_value());
  CHECK(capacity.error().code == make_error_code(initiator::errc::session_not_logged_in));
}

TEST_CASE("a failed reconnect says why and with which attempt, and giving up ends the session", "[initiator][tgtd][recovery]") {
  auto target = test::make_standard_target();
  auto options = test::initiator_harness::quick_options();
  options.recovery_hold = std::chrono::milliseconds(10000);
  test::initiator_harness h(options);
  auto id = h.run(h.initiator().login_to_target(quick_login(*target)));
  REQUIRE(id);
  target->kill9();
  h.recorder().wait_for(event_kind::session_disconnect);
  auto held = h.start(h.initiator().scsi_report_luns(*id));

  auto attempt = h.run(h.initiator().reconnect_session(*id, {std::nullopt, 3}));
  REQUIRE_FALSE(attempt);
  CHECK(attempt.error().code == make_error_code(initiator::errc::connect_failed));
  REQUIRE(h.recorder().wait_for_count(5));  // the bus delivers on its own thread
  const auto events = h.recorder().events();
  REQUIRE(events.size() == 5);
  CHECK(events.back().kind == event_kind::session_disconnect);
  CHECK(events.back().reason == event_reason::io_error);
  CHECK(events.back().attempt == 3u);

  REQUIRE(h.run(h.initiator().abandon_session(*id, "target unreachable", 3)));
  const auto logoff = h.recorder().wait_for(event_kind::logoff);
  CHECK(logoff.reason == event_reason::recovery_failed);
  CHECK(logoff.attempt == 3u);
  CHECK(logoff.detail == "target unreachable");
  CHECK(h.initiator().sessions().empty());
  // The held command now fails: recovery was given up.
  REQUIRE(held.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK_FALSE(held.get().has_value());
}
