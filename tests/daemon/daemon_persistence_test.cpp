// Registered sessions and the journal across daemon lifetimes: a clean
// stop logs out (the target is left clean), a start logs registered
// sessions in again, and a crash (kill -9) loses neither the registrations
// nor the events already journaled.
#include "daemon_fixture.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

// True once isensd shows exactly one session, connected, to the standard target.
bool one_connected_session(daemon_with_target& env) {
  const auto sessions = env.client()->call("sessions");
  return sessions.size() == 1 && sessions[0].at("connected") == true &&
         sessions[0].at("target_name") == std::string(standard_iqn);
}

// Every event the journal replays, from the first.
std::vector<json> replay_all(daemon_with_target& env) {
  rpc_test_client c(env.daemon.socket_path());
  const auto last = c.call("subscribe", {{"since", 0}}).at("last_seq").get<std::uint64_t>();
  return last == 0 ? std::vector<json>{} : events_through(c, last);
}

}  // namespace

TEST_CASE("a registered session is logged out on SIGTERM and logged in again at start",
          "[daemon][persistence][integration]") {
  daemon_with_target env;
  const auto socket = env.daemon.socket_path().string();
  const auto login = run({ISENSCTL_PATH, "--socket", socket, "login", "--portal", env.target->portal(), "--target",
                          std::string(standard_iqn), "--persistent"},
                         run_options{20s, {}, true});
  REQUIRE(login.exit_code == 0);
  CHECK_THAT(login.errors, Catch::Contains("registered as"));
  REQUIRE(env.target->connections(standard_tid).size() == 1);
  const auto first_boot = replay_all(env).front().at("boot_id");

  REQUIRE(env.daemon.stop() == std::optional<int>(0));
  // A clean shutdown logged out: tgtd holds nothing for us.
  CHECK(eventually([&] { return env.target->connections(standard_tid).empty(); }, 5s));

  env.daemon.start();
  CHECK(eventually([&] { return one_connected_session(env); }));
  CHECK(env.target->connections(standard_tid).size() == 1);
  const auto events = replay_all(env);
  const bool logon_after_restart = std::any_of(events.begin(), events.end(), [&](const json& e) {
    return e.at("kind") == "logon" && e.at("boot_id") != first_boot;
  });
  CHECK(logon_after_restart);
  const auto registrations = env.client()->call("registered_sessions");
  REQUIRE(registrations.size() == 1);

  // Unregistering sticks too: after another restart nothing is registered.
  env.client()->call("unregister_session", {{"registration_id", registrations[0].at("registration_id")}});
  REQUIRE(env.daemon.stop() == std::optional<int>(0));
  env.daemon.start();
  CHECK(env.client()->call("registered_sessions").empty());
}

TEST_CASE("after kill -9, registered sessions come back and journaled events are replayable",
          "[daemon][persistence][integration]") {
  daemon_with_target env;
  auto live = subscribed_client(env.daemon.socket_path());
  auto params = env.login_params();
  params["persistent"] = true;
  env.client()->call("login_to_target", params);
  std::vector<json> before;
  while (before.empty() || before.back().at("kind") != "session_ready") before.push_back(live->next_event());
  const auto last_before = before.back().at("seq").get<std::uint64_t>();

  // The journal is written by its own subscriber; wait until the last event
  // is on disk, so the crash below tests recovery, not a race with the writer.
  const auto needle = "\"seq\":" + std::to_string(last_before) + ",";
  REQUIRE(eventually([&] { return read_tree(env.daemon.state_dir() / "journal").find(needle) != std::string::npos; }));

  env.daemon.kill9();
  live.reset();
  env.daemon.start();  // the stale socket file of the killed daemon must not stop it
  CHECK(eventually([&] { return one_connected_session(env); }));
  CHECK(env.client()->call("registered_sessions").size() == 1);
  CHECK(json::parse(read_file(env.daemon.state_dir() / "registered_sessions.json")).at("sessions").size() == 1);

  const auto events = replay_all(env);
  REQUIRE(events.size() > before.size());
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(events[i] == before[i]);
  // The new run goes on after the journal's last seq, under a new boot_id.
  const auto& next = events[before.size()];
  CHECK(next.at("seq") == last_before + 1);
  CHECK(next.at("boot_id") != before.front().at("boot_id"));
  const bool logged_in_again = std::any_of(events.begin() + static_cast<std::ptrdiff_t>(before.size()), events.end(),
                                           [](const json& e) { return e.at("kind") == "logon"; });
  CHECK(logged_in_again);
}
