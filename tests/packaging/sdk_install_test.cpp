// The SDK as a plugin author meets it: `cmake --install` into a fresh
// prefix, the example plugin copied out of the isens tree and built with
// find_package(isens) alone, and the installed isensd loading it and running
// its command when a real tgtd drops the session's connection.
#include "daemon_fixture.hpp"
#include "packaging_support.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>

namespace {

using namespace isens::test;
using namespace isens::test::packaging;
using namespace std::chrono_literals;

bool has(const std::vector<std::string>& files, const std::string& file) {
  return std::find(files.begin(), files.end(), file) != files.end();
}

// PACKAGE_VERSION_COMPATIBLE of the installed version file for a request of `wanted`.
std::string compatible_with(const std::filesystem::path& cmake_dir, const std::string& wanted, const std::filesystem::path& scratch) {
  const auto script = write_file(scratch, "check_version.cmake",
                                 "set(PACKAGE_FIND_VERSION " + wanted + ")\n" +
                                 "string(REGEX MATCH \"^[0-9]+\" PACKAGE_FIND_VERSION_MAJOR ${PACKAGE_FIND_VERSION})\n" +
                                 "include(" + (cmake_dir / "isensConfigVersion.cmake").string() + ")\n" +
                                 "message(\"compatible=${PACKAGE_VERSION_COMPATIBLE}\")\n");
  const auto out = checked({ISENS_CMAKE, "-P", script.string()});
  return out.substr(out.find("compatible=") + 11, out.find('\n', out.find("compatible=")) - out.find("compatible=") - 11);
}

}  // namespace

TEST_CASE("the installed SDK: find_package(isens) alone builds the example plugin, and the installed isensd loads it",
          "[packaging][sdk][integration]") {
  temp_dir work("sdk");
  const auto prefix = work.path() / "prefix";
  install_into(prefix);
  const auto files = files_under(prefix);
  INFO("installed:\n" << [&] {
    std::string all;
    for (const auto& f : files) all += f + '\n';
    return all;
  }());

  // Headers (the plugin ABI's among them), static libraries, the CMake
  // package with its version file, pkg-config; the daemon's part too.
  for (const char* header : {"include/isens/events/plugin_api.hpp", "include/isens/events/event_json.hpp",
                             "include/isens/initiator/initiator.hpp", "include/isens/subscribers/failover_subscriber.hpp"})
    CHECK(has(files, header));
  const auto lib = std::find_if(files.begin(), files.end(), [](const std::string& f) {
    return f.ends_with("/libisens_events.a");
  });
  REQUIRE(lib != files.end());
  const auto libdir = std::filesystem::path(*lib).parent_path();
  for (const char* a : {"libisens_initiator.a", "libisens_initiator_protocol.a", "libisens_subscribers.a"})
    CHECK(has(files, (libdir / a).string()));
  const auto cmake_dir = prefix / libdir / "cmake" / "isens";
  CHECK(std::filesystem::exists(cmake_dir / "isensConfig.cmake"));
  CHECK(std::filesystem::exists(cmake_dir / "isensTargets.cmake"));
  CHECK(has(files, (libdir / "pkgconfig" / "isens.pc").string()));
  CHECK(has(files, "bin/isensd"));
  CHECK(has(files, "bin/isensctl"));
  CHECK(has(files, "etc/isens/isensd.toml"));
  CHECK(has(files, "share/bash-completion/completions/isensctl"));
  // No source-tree or build-tree path leaks into what was installed.
  const auto targets = read_file(cmake_dir / "isensTargets.cmake") + read_tree(cmake_dir);
  CHECK(targets.find(ISENS_SOURCE_DIR) == std::string::npos);
  CHECK(targets.find(ISENS_BUILD_DIR) == std::string::npos);
  // The unit runs this prefix's isensd with this prefix's configuration.
  const auto unit = read_file(prefix / "lib/systemd/system/isensd.service");
  CHECK_THAT(unit, Catch::Contains("ExecStart=" + (prefix / "bin/isensd").string() + " --config " +
                                   (prefix / "etc/isens/isensd.toml").string()));

  // SameMajorVersion: any 0.y from 0.1 on; never 1.x, never a newer minor.
  CHECK(compatible_with(cmake_dir, "0.1", work.path()) == "TRUE");
  CHECK(compatible_with(cmake_dir, "0", work.path()) == "TRUE");
  CHECK(compatible_with(cmake_dir, "1.0", work.path()) == "FALSE");
  CHECK(compatible_with(cmake_dir, "0.2", work.path()) == "FALSE");

  // pkg-config: a program that uses the event's JSON form compiles and
  // links with `pkg-config --cflags --libs isens` and nothing else.
  const auto program = write_file(work.path(), "uses_pc.cpp",
                                  "#include <isens/events/event_json.hpp>\n#include <iostream>\n"
                                  "int main() { isens::events::event e; e.seq = 42; std::cout << isens::events::to_json_line(e); }\n");
  run_options pc;
  pc.env["PKG_CONFIG_PATH"] = (prefix / libdir / "pkgconfig").string();
  const auto flags = run_checked({"pkg-config", "--cflags", "--libs", "isens"}, pc);
  CHECK_THAT(flags, Catch::Contains("-lisens_events"));
  checked({"sh", "-c", std::string(ISENS_CXX_COMPILER) + " -o " + (work.path() / "uses_pc").string() + " " +
                           program.string() + " " + flags});
  CHECK_THAT(checked({(work.path() / "uses_pc").string()}), Catch::Contains("\"seq\":42"));

  // The example plugin as the SDK ships it, copied out: nothing but the prefix.
  const auto source = work.path() / "plugin-src";
  std::filesystem::copy(prefix / "share/doc/isens-dev/examples/run_command_on_disconnect", source);
  const auto build = work.path() / "plugin-build";
  auto configure = configure_args(source, build);
  configure.push_back("-DCMAKE_PREFIX_PATH=" + prefix.string());
  checked(configure);
  checked({ISENS_CMAKE, "--build", build.string()});
  const auto plugin = build / "isens_plugin_run_command.so";
  REQUIRE(std::filesystem::exists(plugin));

  // The installed isensd loads it; a dropped connection runs its command.
  const auto out = work.path() / "disconnects.jsonl";
  daemon_options options;
  options.binary = (prefix / "bin/isensd").string();
  options.extra_args = {"--config", plugin_config_file(work.path(), plugin.string(),
                                                      "command = " + toml_string("cat >> '" + out.string() + "'"))
                                        .string()};
  daemon_with_target env(options);
  CHECK_THAT(env.daemon.log(), Catch::Contains("plugin 'run_command_on_disconnect'"));
  const auto login = run_checked({(prefix / "bin/isensctl").string(), "--socket", env.daemon.socket_path().string(), "login",
                                  "--portal", env.target->portal(), "--target", std::string(standard_iqn)});
  const auto session_id = std::stoull(login);
  const auto connections = env.target->connections(standard_tid);
  REQUIRE(connections.size() == 1);
  env.target->delete_connection(standard_tid, connections[0].sid, connections[0].cid);
  REQUIRE(eventually([&] { return read_file(out).find('\n') != std::string::npos; }));
  const auto e = json::parse(read_file(out).substr(0, read_file(out).find('\n')));
  CHECK(e.at("kind") == "session_disconnect");
  CHECK(e.at("session_id") == session_id);
}
