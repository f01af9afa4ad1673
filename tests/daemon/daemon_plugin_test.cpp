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

// isensd on a configuration file alone; its exit code and stderr.
run_result start_with_config(const temp_dir& dir, const std::filesystem::path& config) {
  return run({ISENSD_PATH, "--socket", (dir.path() / "s.sock").string(), "--state-dir", (dir.path() / "state").string(),
              "--metrics", "off", "--config", config.string()},
             run_options{10s, {}, true});
}

}  // namespace

#ifdef ISENS_PLUGIN_RUN_COMMAND
TEST_CASE("the run_command plugin gets the session_disconnect when the target drops the connection",
          "[daemon][plugin][integration]") {
  temp_dir out_dir("isensd-plugin-out");
  const auto out = out_dir.path() / "disconnects.jsonl";
  // Configured in its [[plugins]] table, as an operator does.
  const auto config = plugin_config_file(out_dir.path(), ISENS_PLUGIN_RUN_COMMAND,
                                         "command = " + toml_string("cat >> '" + out.string() + "'") +
                                             "\nkinds = [\"session_disconnect\"]\ntimeout_ms = 5000");
  daemon_with_target env(with_args({"--config", config.string()}));
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

TEST_CASE("a plugin that refuses its [plugins.config] stops isensd at start with the plugin's own message",
          "[daemon][plugin]") {
  temp_dir dir("isensd-plugin-refuses");
  for (const auto& [config, message] : std::vector<std::pair<std::string, std::string>>{
           {"comand = \"true\"", "unknown key 'comand'"},
           {"", "no \"command\" configured"},
           {"command = \"true\"\nkinds = [\"session_disconect\"]", "unknown event kind 'session_disconect'"},
           {"command = \"true\"\ntimeout_ms = -5", "\"timeout_ms\": must be a whole number"}}) {
    const auto r = start_with_config(dir, plugin_config_file(dir.path(), ISENS_PLUGIN_RUN_COMMAND, config));
    INFO(config << "\n" << r.errors);
    CHECK(r.exit_code == 1);
    const auto lines = lines_of(r.errors);
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Catch::Contains(ISENS_PLUGIN_RUN_COMMAND) && Catch::Contains(message));
    CHECK_FALSE(std::filesystem::exists(dir.path() / "s.sock"));  // never half-started
  }
}

TEST_CASE("[[plugins]] tables: enabled = false skips a plugin, a malformed table names the file and key",
          "[daemon][plugin]") {
  temp_dir dir("isensd-plugin-tables");
  // A disabled plugin is not even opened: a missing file does not matter.
  {
    const auto config = write_file(dir.path(), "disabled.toml",
                                   "[[plugins]]\npath = \"/nonexistent/plugin.so\"\nenabled = false\n");
    daemon_process daemon(with_args({"--config", config.string()}));
    CHECK_THAT(daemon.log(), Catch::Contains("/nonexistent/plugin.so is disabled"));
  }
  for (const auto& [toml, message] : std::vector<std::pair<std::string, std::string>>{
           {"[plugins]\npaths = []\n", "must be [[plugins]] tables"},
           {"[[plugins]]\nenabled = true\n", "plugins[0].path': is required"},
           {"[[plugins]]\npath = \"x.so\"\nconfg = {}\n", "plugins[0].confg': unknown key"},
           {"[[plugins]]\npath = \"x.so\"\nconfig = 3\n", "plugins[0].config': must be a table"}}) {
    const auto r = start_with_config(dir, write_file(dir.path(), "isensd.toml", toml));
    INFO(toml << "\n" << r.errors);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.errors, Catch::Contains("isensd.toml") && Catch::Contains(message));
  }
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
