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
#include <sstream>

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
    rig.recorder().wait_for(event_kind::session_ready);  // the bus delivers on its own thread
    logged_in = rig.recorder().events().size();          // connection_made, logon, session_ready
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
    const auto io = session().io;
    rig.run(rig.initiator().logout_from_target(id));  // ends what is stuck, so the workload stops at once
    FAIL("the workload is stuck: " << io.in_flight << " commands in flight, " << io.queued << " queued, "
                                   << io.aborted << " aborted, " << io.lun_resets << " LUN resets, " << io.reissued
                                   << " re-issued; tgtd's log ends with:\n"
                                   << test::file_tail(target->log_file(), 3000));
  }

  // The session's snapshot; fails the test, listing its events, when it is gone.
  initiator::session_info session() {
    auto info = rig.initiator().session(id);
    if (!info) {
      std::ostringstream events;
      for (const auto& s : rig.steps(id)) events << "\n  " << s;
      FAIL("session " << id << " is gone (" << info.error().what() << "); its events:" << events.str());
    }
    return *info;
  }

  // Stops the workload: no I/O failed, and every block reads back as last acknowledged.
  void stop_and_verify() {
    CHECK(load.stop_and_verify() == "");
    const auto io = session().io;
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

// Checks steps[from, from + attempts) are the failed attempts 1, 2, … (session_disconnect, io_error).
void check_failed_attempts(const std::vector<step>& steps, std::size_t from, std::size_t attempts) {
  for (std::size_t i = 0; i < attempts; ++i)
    CHECK(steps.at(from + i) == step{event_kind::session_disconnect, event_reason::io_error, static_cast<std::uint32_t>(i + 1)});
}

// Checks a recovery: the connection and the session lost for `cause`, failed
// attempts, then the attempt that brought the session back.
void check_recovered(const std::vector<step>& steps, event_reason cause) {
  REQUIRE(steps.size() >= 4);
  CHECK(steps[0] == step{event_kind::connection_lost, cause, std::nullopt});
  CHECK(steps[1] == step{event_kind::session_disconnect, cause, std::nullopt});
  const auto failed = steps.size() - 4;
  check_failed_attempts(steps, 2, failed);
  CHECK(steps[steps.size() - 2] == made);
  CHECK(steps.back() == step{event_kind::session_reconnect, event_reason::recovery, static_cast<std::uint32_t>(failed + 1)});
}

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
  const auto io = w.session().io;
  CHECK(io.held >= held);
  // Some held commands had not been sent yet (waiting to go out in a batch
  // or for the CmdSN window): those go out for the first time, and only
  // the others count as sent again.
  CHECK(io.reissued > 0);
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
  CHECK(steps.size() >= 5);  // at least the attempt that met no target
  check_recovered(steps, event_reason::peer_closed);
  // The restarted tgtd greets the new nexus with UNIT ATTENTION (power on, reset): absorbed.
  CHECK(w.session().io.retried > 0);
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

  check_recovered(w.steps_after_login(), event_reason::nop_timeout);
}

TEST_CASE("one of four connections dropped under the workload, ten times: no error, every block as last acknowledged",
          "[failover][tgtd][datapath][faults]") {
  running_workload w;
  for (int i = 0; i < 3; ++i) REQUIRE(w.rig.run(w.rig.initiator().add_connection_to_session(w.id)));
  REQUIRE(w.rig.recorder().wait_for_count(w.logged_in + 3));  // a connection_made for each added connection
  // At ErrorRecoveryLevel 0 a connection lost with commands in flight takes
  // the session with it (its CmdSNs would leave a hole the target waits on):
  // the others go too, the session is reinstated and its connections added
  // back. A connection lost idle is only replaced.
  const step added{event_kind::connection_made, event_reason::admin_login, std::nullopt};
  const std::vector<step> replaced{lost, added};
  const std::vector<step> reinstated{lost, lost, lost, lost, down, made, back, added, added, added};
  constexpr int drops = 10;
  int took_session = 0;
  for (int i = 1; i <= drops; ++i) {
    INFO("drop " << i);
    const auto before = w.rig.steps(w.id).size();
    const auto on_target = w.target->connections(test::standard_tid);
    REQUIRE(on_target.size() == 4);
    const auto& victim = on_target[static_cast<std::size_t>(i) % on_target.size()];
    w.target->delete_connection(test::standard_tid, victim.sid, victim.cid);
    // Back to four connections, by either path.
    const auto recovered = [&](const auto&) {
      const auto steps = w.rig.steps(w.id);
      const std::vector<step> since(steps.begin() + static_cast<std::ptrdiff_t>(before), steps.end());
      return since == replaced || since == reinstated;
    };
    if (!w.rig.wait_until(recovered)) {
      std::ostringstream events;
      for (const auto& s : w.rig.steps(w.id)) events << "\n  " << s;
      FAIL("the session did not come back to four connections; its events:" << events.str());
    }
    took_session += w.rig.steps(w.id).size() - before == reinstated.size();
    w.require_flowing();
  }
  w.stop_and_verify();
  // Under a queue depth of 16 spread over four connections, a lost one nearly always carried commands.
  CHECK(took_session >= drops / 2);
  const auto s = w.session();
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
  w.target->kill9();
  const auto down_at = w.rig.recorder().wait_for(event_kind::session_disconnect).timestamp;
  // One more command, surely held: it fails by the deadline, saying why.
  std::vector<std::byte> buffer(4096);
  auto held = w.rig.initiator().async_read(w.id, 1, 0, std::span<std::byte>(buffer), boost::asio::use_future);
  REQUIRE(held.wait_for(policy.give_up_after + policy.max_retry_delay + 2s) == std::future_status::ready);
  const auto failed = held.get();
  REQUIRE_FALSE(failed);
  CHECK_THAT(failed.error().what(), Catch::Contains("given up (recovery_failed): ") ||
                                        Catch::Contains("was not recovered within 1000 ms: "));
  const auto logoff = w.rig.recorder().wait_for(event_kind::logoff, 5s);
  CHECK(logoff.timestamp - down_at <= policy.give_up_after + policy.max_retry_delay * 1.2);
  REQUIRE(w.load.stop());  // every I/O completes: none hangs

  // The workload's window was full of held commands when recovery ended: all
  // 16 fail naming the give-up or the hold's end, then the cause ("session 1
  // was not recovered within 1000 ms: the target closed the connection").
  // What it submitted after that failed at once, finding the session
  // disconnected (with the cause), ended (naming the give-up) or gone.
  std::size_t named = 0;
  for (const auto& e : w.load.errors()) {
    INFO(e);
    const bool why = e.find("given up (recovery_failed): ") != std::string::npos ||
                     e.find("was not recovered within 1000 ms: ") != std::string::npos;
    named += why;
    CHECK((why || e.find("is disconnected: ") != std::string::npos || e.find("no session with id") != std::string::npos));
  }
  CHECK(named >= 16);
  const auto steps = w.steps_after_login();
  REQUIRE(steps.size() >= 4);
  CHECK(steps[0] == lost);
  CHECK(steps[1] == down);
  const auto attempts = steps.size() - 3;
  check_failed_attempts(steps, 2, attempts);
  CHECK(steps.back() == step{event_kind::logoff, event_reason::recovery_failed, static_cast<std::uint32_t>(attempts)});
}

TEST_CASE("a recovery hold shorter than the failover: held commands fail at its end, later ones at once, then I/O resumes",
          "[failover][tgtd][datapath][faults]") {
  auto options = running_workload::quick_options();
  options.recovery_hold = 500ms;
  running_workload w(options);
  w.target->kill9();
  w.rig.recorder().wait_for(event_kind::session_disconnect);
  std::vector<std::byte> buffer(4096);
  auto& ini = w.rig.initiator();
  const auto held = ini.async_read(w.id, 1, 0, std::span<std::byte>(buffer), boost::asio::use_future).get();
  REQUIRE_FALSE(held);
  CHECK_THAT(held.error().what(), Catch::Contains("was not recovered within 500 ms: "));
  // The hold is over: a command now fails at once, with the cause.
  const auto now = test::read_blocks(ini, w.id, 1, 0, buffer);
  REQUIRE_FALSE(now);
  CHECK(now.error().code == make_error_code(initiator::errc::session_not_logged_in));
  CHECK_THAT(now.error().what(), Catch::Contains("is disconnected: "));
  REQUIRE(w.load.stop());
  // The workload's 16 held commands ended with the hold; what it submitted later failed at once.
  std::size_t named = 0;
  for (const auto& e : w.load.errors()) {
    INFO(e);
    named += e.find("was not recovered within 500 ms: ") != std::string::npos;
    CHECK((e.find("was not recovered within 500 ms: ") != std::string::npos ||
           e.find("is disconnected: ") != std::string::npos));
  }
  CHECK(named == 16);

  w.target->restart();
  w.rig.recorder().wait_for(event_kind::session_reconnect, 20s);
  // On blocks of their own: those the failed writes left are unknown.
  test::stamped_workload again(w.rig.initiator(), w.id, {.first_lba = work_blocks, .blocks = work_blocks, .depth = 16});
  again.start();
  REQUIRE(again.wait_beyond(100));
  CHECK(again.stop_and_verify() == "");
}

