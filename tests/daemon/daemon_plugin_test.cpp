// A subscriber plugin loaded by a real isensd: the example plugin runs a
// command when the target drops a session's connection, and a plugin that
// cannot be loaded stops isensd at once with one line that names it.
#include "daemon_fixture.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

// isensd with only a plugin flag; its exit code and stderr.
run_result start_with_plugin(const temp_dir& dir, const std::string& plugin) {
  return run({ISENSD_PATH, "--socket", (dir.path() / "s.sock").string(), "--state-dir", (dir.path() / "state").string(),
              "--metrics", "off", "--plugin", plugin},
             run_options{10s, {}, true});
}

}  // namespace

#ifdef ISENS_PLUGIN_RUN_COMMAND
TEST_CASE("the run_command plugin gets the session_disconnect when the target drops the connection",
          "[daemon][plugin][integration]") {
  temp_dir out_dir("isensd-plugin-out");
  const auto out = out_dir.path() / "disconnects.jsonl";
  auto options = with_args({"--plugin", ISENS_PLUGIN_RUN_COMMAND});
  options.env["ISENS_ON_DISCONNECT_COMMAND"] = "cat >> '" + out.string() + "'";
  daemon_with_target env(options);
  CHECK_THAT(env.daemon.log(), Catch::Contains("run_command_on_disconnect"));  // loaded, and says so

  const auto id = env.client()->call("login_to_target", env.login_params()).at("session_id");
  const auto connections = env.target->connections(standard_tid);
  REQUIRE(connections.size() == 1);
  CHECK_FALSE(std::filesystem::exists(out));  // a login runs nothing
  env.target->delete_connection(standard_tid, connections[0].sid, connections[0].cid);

  REQUIRE(eventually([&] { return read_file(out).find('\n') != std::string::npos; }));
  const auto line = read_file(out);
  INFO(line);
  const auto e = json::parse(line.substr(0, line.find('\n')));
  CHECK(e.at("kind") == "session_disconnect");
  CHECK(e.at("session_id") == id);
  CHECK(e.at("target") == std::string(standard_iqn));
  CHECK(env.daemon.running());
}
#endif

TEST_CASE("a plugin that cannot be loaded stops isensd with one line naming it", "[daemon][plugin]") {
  temp_dir dir("isensd-badplugin");
  SECTION("no such file") {
    const auto path = (dir.path() / "no-such-plugin.so").string();
    const auto r = start_with_plugin(dir, path);
    CHECK(r.exit_code == 1);
    const auto lines = lines_of(r.errors);
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Catch::Contains(path));
  }
  SECTION("not a shared library") {
    const auto path = write_file(dir.path(), "not-a-plugin.so", "just text\n").string();
    const auto r = start_with_plugin(dir, path);
    CHECK(r.exit_code == 1);
    const auto lines = lines_of(r.errors);
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Catch::Contains(path));
  }
  CHECK_FALSE(std::filesystem::exists(dir.path() / "s.sock"));  // it never started serving
}
