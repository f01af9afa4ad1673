// The failover subscriber against a real tgtd: each test breaks the target
// the way production does and checks the exact events and the end state.
#include "failover_rig.hpp"

#include <catch2/catch.hpp>

using namespace isens;
using events::event_kind;
using events::event_reason;
using test::step;
using namespace std::chrono_literals;

namespace {

const std::vector<step> logged_in{{event_kind::connection_made, event_reason::admin_login, std::nullopt},
                                  {event_kind::logon, event_reason::admin_login, std::nullopt}};

std::vector<step> after_login(const std::vector<step>& all) { return {all.begin() + 2, all.end()}; }

}  // namespace

TEST_CASE("a connection the target drops is reinstated at once", "[failover][tgtd]") {
  auto target = test::make_standard_target();
  test::failover_rig rig;
  const auto id = rig.login(test::quick_login(*target));
  const auto isid = rig.initiator().session(id)->isid;
  target->delete_connections(test::standard_tid);
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());

  CHECK(rig.steps(id) == std::vector<step>{logged_in[0], logged_in[1],
                                           {event_kind::connection_lost, event_reason::peer_closed, std::nullopt},
                                           {event_kind::session_disconnect, event_reason::peer_closed, std::nullopt},
                                           {event_kind::connection_made, event_reason::recovery, std::nullopt},
                                           {event_kind::session_reconnect, event_reason::recovery, 1u}});
  const auto s = *rig.initiator().session(id);
  CHECK(s.connected);
  CHECK(s.isid == isid);
  CHECK(target->connections(test::standard_tid).size() == 1);
}

TEST_CASE("a crashed and restarted target: failed attempts are counted, then the session is back",
          "[failover][tgtd]") {
  auto target = test::make_standard_target();
  test::failover_rig rig;
  const auto id = rig.login(test::quick_login(*target));
  target->kill9();
  REQUIRE(rig.wait_for(event_kind::session_disconnect));
  std::this_thread::sleep_for(300ms);
  target->restart();
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());

  const auto steps = after_login(rig.steps(id));
  REQUIRE(steps.size() >= 5);
  CHECK(steps[0].kind == event_kind::connection_lost);
  CHECK(steps[1].kind == event_kind::session_disconnect);
  CHECK_FALSE(steps[1].attempt);
  const auto failed = steps.size() - 4;  // between the disconnect and connection_made + session_reconnect
  CHECK(failed >= 1);
  for (std::size_t i = 0; i < failed; ++i)
    CHECK(steps[2 + i] == step{event_kind::session_disconnect, event_reason::io_error, static_cast<std::uint32_t>(i + 1)});
  CHECK(steps[steps.size() - 2] == step{event_kind::connection_made, event_reason::recovery, std::nullopt});
  CHECK(steps.back() == step{event_kind::session_reconnect, event_reason::recovery, static_cast<std::uint32_t>(failed + 1)});
  CHECK(rig.initiator().session(id)->connected);
  CHECK(target->connections(test::standard_tid).size() == 1);
}

TEST_CASE("a hung target is found by NOP-Out pings and recovered once it answers again", "[failover][tgtd]") {
  auto target = test::make_standard_target();
  auto options = test::initiator_harness::quick_options();
  options.nop_interval = 100ms;
  options.nop_timeout = 200ms;
  options.login_timeout = 500ms;  // attempts against the frozen target end quickly
  test::failover_rig rig(test::quick_policy(), options);
  const auto id = rig.login(test::quick_login(*target));
  target->pause();
  const bool noticed = rig.wait_for(event_kind::session_disconnect, 1, 5s);
  std::this_thread::sleep_for(600ms);  // at least one attempt runs into the frozen target
  target->resume();
  REQUIRE(noticed);
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());

  const auto steps = after_login(rig.steps(id));
  REQUIRE(steps.size() >= 4);
  CHECK(steps[0] == step{event_kind::connection_lost, event_reason::nop_timeout, std::nullopt});
  CHECK(steps[1] == step{event_kind::session_disconnect, event_reason::nop_timeout, std::nullopt});
  for (std::size_t i = 2; i + 2 < steps.size(); ++i)
    CHECK(steps[i] == step{event_kind::session_disconnect, event_reason::io_error, static_cast<std::uint32_t>(i - 1)});
  CHECK(steps.back().kind == event_kind::session_reconnect);
  CHECK(steps.back().attempt == static_cast<std::uint32_t>(steps.size() - 3));
  CHECK(rig.initiator().session(id)->connected);
}

TEST_CASE("MC/S: a lost connection that was not the last is replaced", "[failover][tgtd]") {
  auto target = test::make_standard_target();
  test::failover_rig rig;
  const auto id = rig.login(test::quick_login(*target));
  for (int i = 0; i < 3; ++i) REQUIRE(rig.run(rig.initiator().add_connection_to_session(id)));
  const auto on_target = target->connections(test::standard_tid);
  REQUIRE(on_target.size() == 4);
  const auto before = rig.steps(id).size();
  target->delete_connection(test::standard_tid, on_target[1].sid, on_target[1].cid);
  REQUIRE(rig.wait_until([&](const auto&) { return rig.steps(id).size() >= before + 2; }));
  REQUIRE(rig.settle());

  const auto steps = rig.steps(id);
  CHECK(std::vector<step>(steps.begin() + static_cast<std::ptrdiff_t>(before), steps.end()) ==
        std::vector<step>{{event_kind::connection_lost, event_reason::peer_closed, std::nullopt},
                          {event_kind::connection_made, event_reason::admin_login, std::nullopt}});
  const auto s = *rig.initiator().session(id);
  CHECK(s.connected);
  CHECK(s.connections.size() == 4);
  CHECK(target->connections(test::standard_tid).size() == 4);
}

TEST_CASE("changed CHAP credentials end recovery at the first attempt", "[failover][tgtd]") {
  auto target = test::make_standard_target();
  target->add_account("failover-user", "first-secret-123");
  target->bind_account(test::standard_tid, "failover-user");
  test::failover_rig rig;
  auto login = test::quick_login(*target);
  login.chap = initiator::chap_credentials{"failover-user", "first-secret-123"};
  const auto id = rig.login(login);
  target->tgtadm({"--mode", "account", "--op", "delete", "--user", "failover-user"});
  target->tgtadm({"--mode", "account", "--op", "new", "--user", "failover-user", "--password", "other-secret-456"});
  target->tgtadm({"--mode", "account", "--op", "bind", "--tid", std::to_string(test::standard_tid), "--user",
                  "failover-user"});
  target->delete_connections(test::standard_tid);
  REQUIRE(rig.wait_for(event_kind::logoff));
  REQUIRE(rig.settle(500ms));

  const auto steps = after_login(rig.steps(id));
  CHECK(steps == std::vector<step>{{event_kind::connection_lost, event_reason::peer_closed, std::nullopt},
                                   {event_kind::session_disconnect, event_reason::peer_closed, std::nullopt},
                                   {event_kind::session_disconnect, event_reason::auth_failed, 1u},
                                   {event_kind::logoff, event_reason::recovery_failed, 1u}});
  CHECK(rig.recorder().events().back().detail.find("authentication") != std::string::npos);
  CHECK_FALSE(rig.initiator().session(id).has_value());
}

TEST_CASE("a target that stays down is given up at the deadline", "[failover][tgtd]") {
  auto target = test::make_standard_target();
  auto policy = test::quick_policy();
  policy.give_up_after = 500ms;
  test::failover_rig rig(policy);
  const auto id = rig.login(test::quick_login(*target));
  target->kill9();
  REQUIRE(rig.wait_for(event_kind::logoff, 1, 5s));
  REQUIRE(rig.settle());

  const auto all = rig.recorder().events();
  const auto down = std::find_if(all.begin(), all.end(), [](const auto& e) {
    return e.kind == event_kind::session_disconnect && !e.attempt;
  });
  REQUIRE(down != all.end());
  const auto& logoff = all.back();
  REQUIRE(logoff.kind == event_kind::logoff);
  CHECK(logoff.reason == event_reason::recovery_failed);
  CHECK(logoff.timestamp - down->timestamp <= policy.give_up_after + policy.max_retry_delay * 1.2);
  const auto& last_try = all[all.size() - 2];
  REQUIRE(last_try.kind == event_kind::session_disconnect);
  REQUIRE(last_try.attempt);
  CHECK(*last_try.attempt > 1);
  CHECK(logoff.attempt == last_try.attempt);
  CHECK(logoff.detail.find("attempts") != std::string::npos);
  CHECK_FALSE(rig.initiator().session(id).has_value());
}

TEST_CASE("a session should_recover refuses is left disconnected", "[failover][tgtd]") {
  auto target = test::make_standard_target();
  auto policy = test::quick_policy();
  policy.recover_all_sessions = false;
  test::failover_rig rig(policy, test::initiator_harness::quick_options(), [](std::uint64_t) { return false; });
  const auto id = rig.login(test::quick_login(*target));
  target->delete_connections(test::standard_tid);
  REQUIRE(rig.wait_for(event_kind::session_disconnect));
  REQUIRE(rig.settle(500ms));
  CHECK(after_login(rig.steps(id)) ==
        std::vector<step>{{event_kind::connection_lost, event_reason::peer_closed, std::nullopt},
                          {event_kind::session_disconnect, event_reason::peer_closed, std::nullopt}});
  CHECK_FALSE(rig.initiator().session(id)->connected);
}

TEST_CASE("a command issued while the target is down completes after recovery", "[failover][tgtd]") {
  auto target = test::make_standard_target();
  auto options = test::initiator_harness::quick_options();
  options.recovery_hold = 20s;  // what isensd sets: give_up_after
  test::failover_rig rig(test::quick_policy(), options);
  const auto id = rig.login(test::quick_login(*target));
  target->kill9();
  REQUIRE(rig.wait_for(event_kind::session_disconnect));
  auto capacity = rig.start(rig.initiator().scsi_read_capacity(id, 1));
  CHECK(capacity.wait_for(300ms) == std::future_status::timeout);  // held, not failed
  target->restart();
  REQUIRE(capacity.wait_for(20s) == std::future_status::ready);
  // The event travels the bus on its own thread: it may arrive after the reply.
  CHECK(rig.wait_for(event_kind::session_reconnect));
  const auto result = capacity.get();
  REQUIRE(result.has_value());
  CHECK(result->bytes() == test::standard_lun1_bytes);
  REQUIRE(rig.settle());
  CHECK(rig.initiator().session(id)->connected);
}

// What the failover subscriber's portal search relies on, as tgtd does it.
// tgtd names only the portal a discovery came in at, always in portal group
// 1 (its login's TargetPortalGroupTag is always 1, whatever portals
// `--mode portal` adds), so the search itself is tested against the scripted
// target (failover_discovery_test.cpp).
namespace {

const initiator::chap_credentials discovery_account{"failover-user", "first-secret-123"};

// A standard target whose login needs CHAP as discovery_account.
std::unique_ptr<test::tgtd_target> chap_target() {
  auto target = test::make_standard_target();
  target->add_account(discovery_account.user, discovery_account.secret);
  target->bind_account(test::standard_tid, discovery_account.user);
  return target;
}

initiator::login_options chap_login(const test::tgtd_target& target) {
  auto login = test::quick_login(target);
  login.chap = discovery_account;
  return login;
}

}  // namespace

TEST_CASE("discover_for_session answers with the session's CHAP credentials where tgtd requires CHAP for SendTargets",
          "[failover][tgtd]") {
  auto target = chap_target();
  // An account bound without a target id is tgt's discovery account
  // (targets.conf: incomingdiscoveryuser): discovery sessions need CHAP too.
  target->tgtadm({"--mode", "account", "--op", "bind", "--user", discovery_account.user});
  test::failover_rig rig;
  const auto id = rig.login(chap_login(*target));
  const initiator::portal here{"127.0.0.1", target->port()};

  const initiator::discovery_options anonymous{here, std::nullopt, std::nullopt};
  const auto refused = rig.run(rig.initiator().discover(anonymous));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == make_error_code(initiator::errc::login_auth_failed));

  const auto found = rig.run(rig.initiator().discover_for_session(id, here));
  REQUIRE(found.has_value());
  REQUIRE(found->size() == 1);
  CHECK(found->front().name == test::standard_iqn);
  REQUIRE(found->front().portals.size() == 1);
  CHECK(found->front().portals[0].address == here);
  CHECK(found->front().portals[0].portal_group_tag == 1);
}

TEST_CASE("discover_for_session also works where tgtd's SendTargets needs no CHAP though the session's login does",
          "[failover][tgtd]") {
  auto target = chap_target();  // the account is bound to the target only
  test::failover_rig rig;
  const auto id = rig.login(chap_login(*target));
  const initiator::portal here{"127.0.0.1", target->port()};

  const auto found = rig.run(rig.initiator().discover_for_session(id, here));
  REQUIRE(found.has_value());
  REQUIRE(found->size() == 1);
  CHECK(found->front().name == test::standard_iqn);

  const auto unknown = rig.run(rig.initiator().discover_for_session(id + 100, here));
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().code == make_error_code(initiator::errc::no_such_session));
}

TEST_CASE("a session shows tgtd's TargetPortalGroupTag, with or without CHAP and after a reinstatement",
          "[failover][tgtd]") {
  auto target = chap_target();
  target->add_target("iqn.2026-11.test.isens:open", 2);  // no account: its login skips the security stage
  target->bind_all_initiators(2);
  test::failover_rig rig;
  auto open = test::quick_login(*target);
  open.target_name = "iqn.2026-11.test.isens:open";
  const auto plain = rig.login(open);
  const auto with_chap = rig.login(chap_login(*target));
  const std::optional<std::uint16_t> group_1 = 1;
  CHECK(rig.initiator().session(plain)->portal_group_tag == group_1);      // from the operational stage
  CHECK(rig.initiator().session(with_chap)->portal_group_tag == group_1);  // from the security stage

  target->delete_connections(test::standard_tid);
  REQUIRE(rig.wait_for(event_kind::session_reconnect));
  REQUIRE(rig.settle());
  const auto back = *rig.initiator().session(with_chap);
  CHECK(back.connected);
  CHECK(back.portal_group_tag == group_1);
}
