// isensctl as a script or a person uses it: exit codes that can be branched
// on (0 ok, 1 failed, 2 usage, 3 no daemon), one-line errors on stderr,
// JSON on stdout when asked.
#include "daemon_fixture.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

run_result isensctl(std::vector<std::string> args) {
  args.insert(args.begin(), ISENSCTL_PATH);
  return run(args, run_options{20s, {}, true});
}

std::size_t line_count(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

}  // namespace

TEST_CASE("isensctl without a daemon: one line on stderr, exit code 3", "[daemon][cli]") {
  temp_dir dir("isensctl-nodaemon");
  const auto socket = (dir.path() / "nobody-listens.sock").string();
  for (const auto& command : std::vector<std::vector<std::string>>{
           {"sessions"}, {"sessions", "--json"}, {"watch"}, {"logout", "1"}, {"registrations"}}) {
    auto args = command;
    args.insert(args.begin(), {"--socket", socket});
    const auto r = isensctl(args);
    INFO(format_command(args) << "\nstdout: " << r.output << "\nstderr: " << r.errors);
    CHECK(r.exit_code == 3);
    CHECK(r.output.empty());
    CHECK(line_count(r.errors) == 1);
    CHECK_THAT(r.errors, Catch::StartsWith("isensctl: "));
    CHECK_THAT(r.errors, Catch::Contains(socket));
  }
}

TEST_CASE("isensctl usage errors exit 2 with a usage message", "[daemon][cli]") {
  SECTION("login without --target") {
    const auto r = isensctl({"--socket", "/nonexistent.sock", "login", "--portal", "127.0.0.1:3260"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.errors, Catch::Contains("--target"));
    CHECK(r.output.empty());
  }
  SECTION("no subcommand") {
    const auto r = isensctl({});
    CHECK(r.exit_code == 2);
    CHECK_FALSE(r.errors.empty());
  }
  SECTION("half a CHAP pair") {
    const auto r = isensctl({"--socket", "/nonexistent.sock", "login", "--portal", "127.0.0.1:3260", "--target",
                             "iqn.x:y", "--chap-user", "u"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.errors, Catch::Contains("--chap-secret"));
  }
}

TEST_CASE("isensctl against a live daemon: JSON output, exit codes of failed operations", "[daemon][cli][integration]") {
  daemon_with_target env;
  const auto socket = env.daemon.socket_path().string();

  auto r = isensctl({"--socket", socket, "sessions", "--json"});
  CHECK(r.exit_code == 0);
  CHECK(json::parse(r.output) == json::array());

  r = isensctl({"--socket", socket, "login", "--portal", env.target->portal(), "--target", std::string(standard_iqn)});
  REQUIRE(r.exit_code == 0);
  const auto id = std::stoull(r.output);

  r = isensctl({"--socket", socket, "sessions", "--json"});
  CHECK(r.exit_code == 0);
  const auto sessions = json::parse(r.output);
  REQUIRE(sessions.is_array());
  REQUIRE(sessions.size() == 1);
  CHECK(sessions[0].at("session_id") == id);
  CHECK(sessions[0].at("connected") == true);
  CHECK(sessions[0].at("io").at("read_ops") == 0);
  CHECK(sessions[0].at("io").at("latency").at("buckets_us").back().at("le") == "+Inf");

  // The table: one header, one row, the io columns after the session's own.
  r = isensctl({"--socket", socket, "sessions"});
  CHECK(r.exit_code == 0);
  CHECK(line_count(r.output) == 2);
  CHECK_THAT(r.output, Catch::StartsWith("SESSION") && Catch::Contains("READS") && Catch::Contains("INFLIGHT/QUEUED"));
  CHECK_THAT(r.output, Catch::Contains(std::string(standard_iqn)) && Catch::Contains("0 B"));

  r = isensctl({"--socket", socket, "report-luns", std::to_string(id)});
  CHECK(r.exit_code == 0);
  CHECK(json::parse(r.output).at("luns") == json::array({0, 1, 2}));

  // An operation the daemon refuses: exit 1, its message on one line.
  r = isensctl({"--socket", socket, "logout", "9999"});
  CHECK(r.exit_code == 1);
  CHECK(line_count(r.errors) == 1);
  CHECK_THAT(r.errors, Catch::Contains("9999"));

  r = isensctl({"--socket", socket, "logout", std::to_string(id)});
  CHECK(r.exit_code == 0);
  CHECK(json::parse(isensctl({"--socket", socket, "sessions", "--json"}).output).empty());
}
