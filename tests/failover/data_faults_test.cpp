// The data path through faults, with the failover subscriber recovering the
// session: a write+verify workload runs at queue depth 16 (stamped blocks,
// each block's last acknowledged write remembered) while the target drops
// connections, crashes, hangs or goes away for good. The caller must see no
// error while recovery succeeds, every block must read back as last
// acknowledged, and the events must tell what happened; when recovery gives
// up, every held command must fail, naming why, in time.
#include "block_data.hpp"
#include "failover_rig.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

#include <regex>

using namespace isens;
using events::event_kind;
using events::event_reason;
using test::step;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t lun_bytes = 8ULL << 20;
constexpr std::uint64_t work_blocks = 4096;  // the workload's 2 MiB: blocks are overwritten often

// A session logged in through a failover rig, with the workload on LUN 1.
struct running_workload {
  explicit running_workload(initiator::initiator_options options = quick_options(),
                            subscribers::failover_policy policy = test::quick_policy())
      : target(test::make_memory_target(lun_bytes)), rig(policy, options), id(rig.login(test::data_login(*target))),
        load(rig.initiator(), id, {.blocks = work_blocks, .depth = 16}) {
    logged_in = rig.recorder().events().size();  // connection_made, logon, session_ready
    load.start();
    if (!load.wait_beyond(100)) throw std::runtime_error("the workload does not run");
  }

  // Commands wait for the failover as long as it tries (what isensd sets).
  static initiator::initiator_options quick_options() {
    auto o = test::initiator_harness::quick_options();
    o.recovery_hold = test::quick_policy().give_up_after;
    o.command_timeout = 10s;  // a sanitizer build at queue depth 16 is slow, not stuck
    return o;
  }

  // The workload moves again: more I/O completes from now on; if not, the
  // failure quotes what the session and tgtd say.
  void require_flowing() {
    if (load.wait_beyond(load.completed() + 32, 10s)) return;
    const auto io = rig.initiator().session(id)->io;
    rig.run(rig.initiator().logout_from_target(id));  // ends what is stuck, so the workload stops at once
    FAIL("the workload is stuck: " << io.in_flight << " commands in flight, " << io.queued << " queued, "
                                   << io.aborted << " aborted, " << io.reissued << " re-issued; tgtd's log ends with:\n"
                                   << test::file_tail(target->log_file(), 3000));
  }

  // Stops the workload: no I/O failed, and every block reads back as last acknowledged.
  void stop_and_verify() {
    REQUIRE(load.stop());
    const auto errors = load.errors();
    INFO((errors.empty() ? std::string() : errors.front()));
    CHECK(errors.empty());
    CHECK(load.verify_all() == "");
    const auto io = rig.initiator().session(id)->io;
    CHECK(io.failed == 0);
    CHECK(io.in_flight == 0);
    CHECK(io.queued == 0);
  }

  // The session's steps since login.
  std::vector<step> steps_after_login() const {
    const auto all = rig.steps(id);
    return {all.begin() + static_cast<std::ptrdiff_t>(logged_in), all.end()};
  }

  std::unique_ptr<test::tgtd_target> target;
  test::failover_rig rig;
  std::uint64_t id;
  test::stamped_workload load;
  std::size_t logged_in = 0;
};

// N from "… (N commands held)" and "N held commands re-issued"; 0 when absent.
std::uint64_t count_in(const std::string& detail, const char* pattern) {
  std::smatch m;
  return std::regex_search(detail, m, std::regex(pattern)) ? std::stoull(m[1]) : 0;
}

const step lost{event_kind::connection_lost, event_reason::peer_closed, std::nullopt};
const step down{event_kind::session_disconnect, event_reason::peer_closed, std::nullopt};
const step made{event_kind::connection_made, event_reason::recovery, std::nullopt};
const step back{event_kind::session_reconnect, event_reason::recovery, 1u};

}  // namespace

TEST_CASE("50 target-side connection drops under a write+verify workload: no error, every block as last acknowledged",
          "[failover][tgtd][datapath][faults]") {
  running_workload w;
  constexpr int drops = 50;
  for (int i = 1; i <= drops; ++i) {
    INFO("drop " << i);
    w.target->delete_connections(test::standard_tid);
    REQUIRE(w.rig.recorder().wait_for_count(w.logged_in + 4 * i));  // lost, down, made, back
    w.require_flowing();
  }
  w.stop_and_verify();

  std::vector<step> expected;
  for (int i = 0; i < drops; ++i) expected.insert(expected.end(), {lost, down, made, back});
  CHECK(w.steps_after_login() == expected);
  // Commands were in flight at the drops, held and re-issued: each reconnect
  // re-issues at least what its disconnect held (more if submitted meanwhile).
  std::uint64_t held = 0;
  std::uint64_t held_at_disconnect = 0;
  for (const auto& e : w.rig.recorder().events()) {
    if (e.kind == event_kind::session_disconnect) held_at_disconnect = count_in(e.detail, R"(\((\d+) commands held\))");
    if (e.kind != event_kind::session_reconnect) continue;
    const auto reissued = count_in(e.detail, R"((\d+) held commands re-issued)");
    CHECK(reissued >= held_at_disconnect);
    held += held_at_disconnect;
  }
  CHECK(held > 0);
  const auto io = w.rig.initiator().session(w.id)->io;
  CHECK(io.held >= held);
  CHECK(io.reissued >= held);
}

TEST_CASE("tgtd killed with SIGKILL and restarted under the workload: no error, every block as last acknowledged",
          "[failover][tgtd][datapath][faults]") {
  running_workload w;
  w.target->kill9();
  // connection_lost, session_disconnect, then the first failed attempt.
  REQUIRE(w.rig.recorder().wait_for_count(w.logged_in + 3));
  w.target->restart();
  w.rig.recorder().wait_for(event_kind::session_reconnect, 20s);
  w.require_flowing();
  w.stop_and_verify();

  const auto steps = w.steps_after_login();
  REQUIRE(steps.size() >= 5);
  CHECK(steps[0] == lost);
  CHECK(steps[1] == down);
  const auto failed = steps.size() - 4;
  for (std::size_t i = 0; i < failed; ++i)
    CHECK(steps[2 + i] == step{event_kind::session_disconnect, event_reason::io_error, static_cast<std::uint32_t>(i + 1)});
  CHECK(steps[steps.size() - 2] == made);
  CHECK(steps.back() == step{event_kind::session_reconnect, event_reason::recovery, static_cast<std::uint32_t>(failed + 1)});
  // The restarted tgtd greets the new nexus with UNIT ATTENTION (power on, reset): absorbed.
  CHECK(w.rig.initiator().session(w.id)->io.retried > 0);
}

TEST_CASE("a target frozen (SIGSTOP) past the NOP timeout, then thawed: no error, every block as last acknowledged",
          "[failover][tgtd][datapath][faults]") {
  auto options = running_workload::quick_options();
  options.nop_interval = 100ms;
  options.nop_timeout = 300ms;
  options.login_timeout = 1000ms;  // an attempt against the frozen target ends
  running_workload w(options);
  w.target->pause();
  const auto noticed = w.rig.recorder().wait_for(event_kind::session_disconnect, 5s);
  w.target->resume();
  CHECK(noticed.reason == event_reason::nop_timeout);
  w.rig.recorder().wait_for(event_kind::session_reconnect, 20s);
  w.require_flowing();
  w.stop_and_verify();

  const auto steps = w.steps_after_login();
  REQUIRE(steps.size() >= 4);
  CHECK(steps[0] == step{event_kind::connection_lost, event_reason::nop_timeout, std::nullopt});
  CHECK(steps[1] == step{event_kind::session_disconnect, event_reason::nop_timeout, std::nullopt});
  for (std::size_t i = 2; i + 2 < steps.size(); ++i)  // attempts that met the frozen target
    CHECK(steps[i] == step{event_kind::session_disconnect, event_reason::io_error, static_cast<std::uint32_t>(i - 1)});
  CHECK(steps[steps.size() - 2] == made);
  CHECK(steps.back().kind == event_kind::session_reconnect);
  CHECK(steps.back().attempt == static_cast<std::uint32_t>(steps.size() - 3));
}

// Fails today (an initiator bug): see the comment at the end of this file.
TEST_CASE("one of four connections dropped under the workload, ten times: no error, every block as last acknowledged",
          "[failover][tgtd][datapath][faults][!mayfail]") {
  running_workload w;
  for (int i = 0; i < 3; ++i) REQUIRE(w.rig.run(w.rig.initiator().add_connection_to_session(w.id)));
  const auto before = w.rig.recorder().events().size();
  constexpr int drops = 10;
  for (int i = 1; i <= drops; ++i) {
    INFO("drop " << i);
    const auto on_target = w.target->connections(test::standard_tid);
    REQUIRE(on_target.size() == 4);
    const auto& victim = on_target[static_cast<std::size_t>(i) % on_target.size()];
    w.target->delete_connection(test::standard_tid, victim.sid, victim.cid);
    REQUIRE(w.rig.recorder().wait_for_count(before + 2 * i));  // lost, then its replacement
    w.require_flowing();
  }
  w.stop_and_verify();

  const auto steps = w.rig.steps(w.id);
  std::vector<step> expected;
  for (int i = 0; i < drops; ++i)
    expected.insert(expected.end(), {lost, {event_kind::connection_made, event_reason::admin_login, std::nullopt}});
  CHECK(std::vector<step>(steps.end() - 2 * drops, steps.end()) == expected);
  const auto s = *w.rig.initiator().session(w.id);
  CHECK(s.connected);
  CHECK(s.connections.size() == 4);
}

TEST_CASE("a target that stays down: every held command fails, naming why, by the deadline",
          "[failover][tgtd][datapath][faults]") {
  // isensd's pairing: commands are held as long as failover tries.
  auto policy = test::quick_policy();
  policy.give_up_after = 1000ms;
  auto options = running_workload::quick_options();
  options.recovery_hold = policy.give_up_after;
  running_workload w(options, policy);
  const auto killed = std::chrono::steady_clock::now();
  w.target->kill9();
  REQUIRE(w.load.stop());  // every I/O completes: none hangs
  const auto ended = std::chrono::steady_clock::now();
  CHECK(ended - killed < policy.give_up_after + policy.max_retry_delay + 2s);

  const auto errors = w.load.errors();
  REQUIRE_FALSE(errors.empty());
  for (const auto& e : errors) {
    INFO(e);
    // Held ones name the give-up or the hold's end with the cause; later ones find no session.
    CHECK((e.find("recovery_failed") != std::string::npos || e.find("was not recovered within") != std::string::npos ||
           e.find("no session with id") != std::string::npos || e.find("is disconnected") != std::string::npos));
  }
  CHECK((errors.front().find("recovery_failed") != std::string::npos ||
         errors.front().find("was not recovered within 1000 ms") != std::string::npos));
  REQUIRE(w.rig.recorder().wait_for(event_kind::logoff, 5s).reason == event_reason::recovery_failed);
}

TEST_CASE("a recovery hold shorter than the failover: held commands fail at its end, later ones at once, then I/O resumes",
          "[failover][tgtd][datapath][faults]") {
  auto options = running_workload::quick_options();
  options.recovery_hold = 500ms;
  running_workload w(options);
  w.target->kill9();
  REQUIRE(w.load.stop());  // the held commands end with the hold
  const auto errors = w.load.errors();
  REQUIRE_FALSE(errors.empty());
  CHECK_THAT(errors.front(), Catch::Contains("was not recovered within 500 ms"));
  for (const auto& e : errors) {
    INFO(e);
    CHECK((e.find("was not recovered within 500 ms") != std::string::npos ||
           e.find("is disconnected") != std::string::npos));
  }
  // A command now fails at once, with the cause.
  std::vector<std::byte> buffer(512);
  const auto now = test::read_blocks(w.rig.initiator(), w.id, 1, 0, buffer);
  REQUIRE_FALSE(now);
  CHECK(now.error().code == make_error_code(initiator::errc::session_not_logged_in));

  w.target->restart();
  w.rig.recorder().wait_for(event_kind::session_reconnect, 20s);
  // On blocks of their own: those the failed writes left are unknown.
  test::stamped_workload again(w.rig.initiator(), w.id, {.first_lba = work_blocks, .blocks = work_blocks, .depth = 16});
  again.start();
  REQUIRE(again.wait_beyond(100));
  REQUIRE(again.stop());
  CHECK(again.errors().empty());
  CHECK(again.verify_all() == "");
}

// Why "one of four connections dropped" fails today (an initiator bug, kept
// as [!mayfail] until it is fixed): when a connection of a multi-connection
// session is lost, session::drop_connection (initiator/src/session/session.cpp)
// moves its commands back to the waiting queue (requeue_commands_on) and
// dispatch() sends them on the other connections with new CmdSNs
// (send_command: cmd_sn_++). The CmdSNs they had are never sent again. Those
// the target had not received, and those it held as pending (a CmdSN ahead of
// its ExpCmdSN) and freed when the connection closed, leave a hole in the
// session's command sequence: tgt executes commands strictly in CmdSN order
// and keeps every later command, from every connection, in its pending list
// until the hole is filled, which never happens. The session stops: no
// command completes, ABORT TASK "succeeds" and the re-sent command waits
// behind the same hole (seen in tgtd's debug log: ExpCmdSN stays at the lost
// command's CmdSN while re-sent commands arrive with later ones). At
// ErrorRecoveryLevel 0 there is no connection recovery (that is ERL 2), so
// losing a connection that carried commands the target has not acknowledged
// (CmdSN >= the last ExpCmdSN seen) has to be handled as losing the session:
// reinstate it (same ISID, TSIH 0), which starts a fresh command sequence, and
// re-issue the held commands there. (Re-sending them with their old CmdSN is
// no way out: one the target did receive and run comes back as a CmdSN below
// its ExpCmdSN, which tgt rejects: "unexpected cmd_sn", iscsi_task_queue.)
