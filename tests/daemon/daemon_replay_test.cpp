// Resuming the event stream from a seq (`subscribe` with `since`, `isensctl
// watch --since`): across a daemon restart without loss or duplicates, with
// an explicit gap when the journal no longer holds what was asked for, and
// without waiting for the next event to deliver what is already there.
#include "daemon_fixture.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

std::vector<std::uint64_t> one_to(std::uint64_t n) {
  std::vector<std::uint64_t> v(n);
  std::iota(v.begin(), v.end(), 1);
  return v;
}

// The bus's last seq, once the journal holds it too: the journal's writer
// runs on its own queue, so right after a login it may lag by an event or
// two (see the last test case for why that matters to a reader).
std::uint64_t journaled_last_seq(daemon_with_target& env) {
  const auto last = rpc_test_client(env.daemon.socket_path()).call("subscribe").at("last_seq").get<std::uint64_t>();
  const auto needle = "\"seq\":" + std::to_string(last) + ",";
  REQUIRE(eventually([&] { return read_tree(env.daemon.state_dir() / "journal").find(needle) != std::string::npos; }));
  return last;
}

// isensd with journal_max_events = 100 (the smallest allowed) and more than
// 200 events made by logging in and out; returns the last seq, once the
// journal holds it.
std::uint64_t overflow_small_journal(daemon_with_target& env) {
  std::uint64_t last = 0;
  for (int i = 0; i < 100 && last <= 210; ++i) {  // about five events per round
    env.logout(env.login());
    last = rpc_test_client(env.daemon.socket_path()).call("subscribe").at("last_seq").get<std::uint64_t>();
  }
  REQUIRE(last > 200);
  return journaled_last_seq(env);
}

daemon_options small_journal(const temp_dir& dir) {
  return with_args({"--config", write_file(dir.path(), "isensd.toml", "[daemon]\njournal_max_events = 100\n").string(),
                    "--log-level", "warn"});
}

}  // namespace

TEST_CASE("replay with since 0 across a restart: every event once, in order, new boot_id",
          "[daemon][events][persistence][integration]") {
  daemon_with_target env;
  auto live = subscribed_client(env.daemon.socket_path());
  env.logout(env.login());
  const auto session = env.login();  // still logged in at shutdown: SIGTERM logs it out, with events
  (void)session;

  REQUIRE(env.daemon.stop() == std::optional<int>(0));
  const auto before = events_until_closed(*live);
  REQUIRE(before.size() >= 8);
  CHECK(seqs_of(before) == one_to(before.size()));  // the first run of a fresh state dir starts at 1

  env.daemon.start();
  env.login();
  const auto last = journaled_last_seq(env);
  auto replay = std::make_unique<rpc_test_client>(env.daemon.socket_path());
  CHECK(replay->call("subscribe", {{"since", 0}}).at("last_seq") == last);
  REQUIRE(last > before.size());
  const auto all = events_through(*replay, last);

  CHECK(seqs_of(all) == one_to(last));  // each once, in order, none missing
  // What was streamed live is replayed as it was.
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(all[i] == before[i]);
  // One boot_id up to the restart (including the shutdown's logout, which
  // the journal holds even where the live stream had closed), a new one after.
  const auto old_boot = before.front().at("boot_id");
  const auto boundary = std::find_if(all.begin(), all.end(), [&](const json& e) { return e.at("boot_id") != old_boot; });
  REQUIRE(boundary != all.end());
  const std::vector<json> first_run(all.begin(), boundary), second_run(boundary, all.end());
  const auto first_kinds = kinds_of(first_run);
  INFO("first run: " << json(first_kinds).dump());
  CHECK(std::count(first_kinds.begin(), first_kinds.end(), "logoff") == 2);  // incl. the shutdown's
  for (const auto& e : second_run) CHECK(e.at("boot_id") == second_run.front().at("boot_id"));
  CHECK(kinds_of(second_run) == std::vector<std::string>{"connection_made", "logon", "session_ready"});

  // isensctl gives the same through the CLI.
  const auto r = run({ISENSCTL_PATH, "--socket", env.daemon.socket_path().string(), "watch", "--since", "0", "--count",
                      std::to_string(last), "--json"},
                     run_options{10s, {}, true});
  CHECK(r.exit_code == 0);
  const auto lines = lines_of(r.output);
  REQUIRE(lines.size() == last);
  CHECK(json::parse(lines.back()) == all.back());
}

TEST_CASE("a since older than the journal keeps is answered with a gap notification",
          "[daemon][events][integration]") {
  temp_dir config_dir("isensd-config");
  daemon_with_target env(small_journal(config_dir));
  const auto last = overflow_small_journal(env);

  rpc_test_client c(env.daemon.socket_path());
  const auto subscribed = c.call("subscribe", {{"since", 0}});
  CHECK(subscribed.at("last_seq") == last);
  const auto first = c.next_notification();
  INFO(first.dump());
  REQUIRE(first.at("method") == "gap");
  CHECK(first.at("params").at("since") == 0);
  const auto oldest = first.at("params").at("oldest_available").get<std::uint64_t>();
  CHECK(oldest > 1);
  // After the gap, the stream goes on from the oldest event still kept.
  const auto events = events_through(c, last);
  CHECK(events.front().at("seq") == oldest);
  CHECK(seqs_of(events).back() == last);
}

TEST_CASE("a journal_max_events of 100 keeps most of 100 events after it rotates", "[daemon][events][integration]") {
  temp_dir config_dir("isensd-config");
  daemon_with_target env(small_journal(config_dir));
  const auto last = overflow_small_journal(env);
  rpc_test_client c(env.daemon.socket_path());
  c.call("subscribe", {{"since", 0}});
  const auto gap = c.next_notification();
  INFO(gap.dump());
  const auto oldest = gap.at("params").at("oldest_available").get<std::uint64_t>();
  // A reader 50 events behind must still be able to resume without a gap.
  CHECK(last - oldest + 1 >= 50);
}

TEST_CASE("subscribe with since delivers events published just before it without waiting for another",
          "[daemon][events][integration]") {
  daemon_with_target env;
  // A reader resuming right after activity: `isensctl watch --since N
  // --count M` must end even when nothing else happens afterwards. The
  // journal's writer may still be an event behind when the replay reads it;
  // whatever the replay misses must still come without a further event.
  std::uint64_t since = 0;
  for (int round = 0; round < 60; ++round) {
    rpc_test_client reader(env.daemon.socket_path(), 2s);  // connected before, so subscribing is immediate
    const auto id = env.login();
    const auto last = reader.call("subscribe", {{"since", since}}).at("last_seq").get<std::uint64_t>();
    INFO("round " << round << ", since " << since << ", last_seq " << last);
    std::vector<json> events;
    try {
      events = events_through(reader, last);
    } catch (const std::exception& ex) {
      // Tell stalled from lost: one more event exposes the hole to the daemon.
      env.logout(id);
      const auto late = reader.next_event();
      FAIL("events up to last_seq " << last << " did not arrive within 2 s (" << ex.what()
                                    << "); after one more event, the next one streamed was seq " << late.at("seq"));
    }
    CHECK(seqs_of(events).back() == last);
    env.logout(id);
    since = journaled_last_seq(env);  // the logout's events are not the subject here
  }
}

TEST_CASE("every event of a SIGTERM shutdown is journaled, so no seq is handed out twice",
          "[daemon][events][persistence][integration]") {
  daemon_with_target env;
  constexpr std::size_t sessions = 8;
  for (std::size_t i = 0; i < sessions; ++i) env.login();
  REQUIRE(env.daemon.stop() == std::optional<int>(0));
  // What the logger saw, for the failure message (it may lose them too).
  const auto log = env.daemon.log();
  std::size_t logged = 0;
  for (auto at = log.find("logoff (shutdown)"); at != std::string::npos; at = log.find("logoff (shutdown)", at + 1))
    ++logged;

  env.daemon.start();
  const auto last = journaled_last_seq(env);
  rpc_test_client c(env.daemon.socket_path());
  c.call("subscribe", {{"since", 0}});
  const auto events = events_through(c, last);
  std::size_t journaled = 0;
  for (const auto& e : events) journaled += e.at("kind") == "logoff" && e.at("reason") == "shutdown" ? 1 : 0;
  // A published event missing from the journal is worse than lost: the next
  // run continues after the journal's last seq and reuses its seq.
  INFO("the log shows " << logged << " logoff (shutdown)");
  CHECK(journaled == sessions);
  CHECK(last == 5 * sessions);  // connection_made, logon, session_ready + connection_lost, logoff: 5 each
}
