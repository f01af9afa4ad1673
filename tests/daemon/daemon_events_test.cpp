// The live event stream as monitoring apps consume it: after `subscribe`,
// filtered by kind, and through `isensctl watch`. (Resuming from a seq is in
// daemon_replay_test.cpp.)
#include "daemon_fixture.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace isens::test;
using namespace std::chrono_literals;

TEST_CASE("a live subscriber gets connection_made, logon, session_ready in order", "[daemon][events][integration]") {
  daemon_with_target env;
  auto sub = subscribed_client(env.daemon.socket_path());
  const auto id = env.login();

  std::vector<json> events;
  while (events.empty() || events.back().at("kind") != "session_ready") events.push_back(sub->next_event());
  CHECK(kinds_of(events) == std::vector<std::string>{"connection_made", "logon", "session_ready"});
  const auto seqs = seqs_of(events);
  CHECK(std::is_sorted(seqs.begin(), seqs.end()));
  CHECK(std::adjacent_find(seqs.begin(), seqs.end()) == seqs.end());
  for (const auto& e : events) {
    CHECK(e.at("session_id") == id);
    CHECK(e.at("target") == std::string(standard_iqn));
    CHECK(e.at("boot_id") == events.front().at("boot_id"));
  }

  env.logout(id);
  const auto after = sub->next_event();
  CHECK((after.at("kind") == "logoff" || after.at("kind") == "connection_lost"));
}

TEST_CASE("a subscriber with a kinds filter gets only those kinds", "[daemon][events][integration]") {
  daemon_with_target env;
  auto sub = subscribed_client(env.daemon.socket_path(), {{"kinds", json::array({"logon", "logoff"})}});
  const auto first = env.login();
  env.logout(first);
  const auto second = env.login();
  // Any other kind streamed in between would show up here.
  const std::vector<json> events{sub->next_event(), sub->next_event(), sub->next_event()};
  CHECK(kinds_of(events) == std::vector<std::string>{"logon", "logoff", "logon"});
  CHECK(events[0].at("session_id") == first);
  CHECK(events[2].at("session_id") == second);
}

TEST_CASE("isensctl watch --count N --json prints N JSON lines and exits 0", "[daemon][events][cli][integration]") {
  daemon_with_target env;
  const auto socket = env.daemon.socket_path().string();

  SECTION("live") {
    const auto out = env.daemon.dir() / "watch.out";
    child_process watch({ISENSCTL_PATH, "--socket", socket, "watch", "--count", "4", "--json"}, out);
    // We cannot see when watch has subscribed, so make events until it has
    // had its four (bounded): any it missed while starting just come later.
    for (int i = 0; i < 40 && watch.running(); ++i) env.logout(env.login());
    REQUIRE(watch.wait_for(10s) == std::optional<int>(0));
    const auto lines = lines_of(read_file(out));
    REQUIRE(lines.size() == 4);
    std::uint64_t previous = 0;
    for (const auto& line : lines) {
      const auto e = json::parse(line);
      CHECK(e.contains("kind"));
      CHECK(e.at("seq").get<std::uint64_t>() > previous);
      previous = e.at("seq").get<std::uint64_t>();
    }
  }
  SECTION("replayed with --since 0") {
    env.logout(env.login());
    const auto r = run({ISENSCTL_PATH, "--socket", socket, "watch", "--since", "0", "--count", "3", "--json"},
                       run_options{10s, {}, true});
    CHECK(r.exit_code == 0);
    CHECK(r.errors.empty());
    const auto lines = lines_of(r.output);
    REQUIRE(lines.size() == 3);
    CHECK(json::parse(lines[0]).at("seq") == 1);
    CHECK(json::parse(lines[0]).at("kind") == "connection_made");
    CHECK(json::parse(lines[2]).at("seq") == 3);
  }
}

TEST_CASE("a live subscriber sees the logout of the sessions isensd ends at shutdown",
          "[daemon][events][integration]") {
  daemon_with_target env;
  const auto id = env.login();
  auto sub = subscribed_client(env.daemon.socket_path());
  REQUIRE(env.daemon.stop() == std::optional<int>(0));
  // `isensctl watch` is how an operator sees what a shutdown did: the
  // sessions it logged out must show before the stream ends.
  const auto events = events_until_closed(*sub);
  const auto kinds = kinds_of(events);
  INFO("streamed: " << json(events).dump());
  CHECK(std::count(kinds.begin(), kinds.end(), "logoff") == 1);
  for (const auto& e : events) CHECK(e.at("session_id") == id);
}
