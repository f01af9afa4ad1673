// isensd refusing to start on a bad configuration file: a non-zero exit, a
// message naming the file and the line or key an operator must fix, and no
// control socket (it must never run half-configured).
#include "daemon_process.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

#include <regex>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

run_result start_with_config(const temp_dir& dir, const std::string& toml) {
  const auto config = write_file(dir.path(), "isensd.toml", toml);
  return run({ISENSD_PATH, "--config", config.string(), "--socket", (dir.path() / "s.sock").string(), "--state-dir",
              (dir.path() / "state").string(), "--metrics", "off"},
             run_options{10s, {}, true});
}

// toml11 shows the line as " N | text"; a plain "line N" would do as well.
bool names_line(const std::string& text, int line) {
  const auto n = std::to_string(line);
  return std::regex_search(text, std::regex("(^|\\n) *" + n + " \\|")) || text.find("line " + n) != std::string::npos;
}

}  // namespace

TEST_CASE("a bad configuration file stops isensd with a message naming the file and the culprit",
          "[daemon][config]") {
  temp_dir dir("isensd-badconfig");
  const auto file = (dir.path() / "isensd.toml").string();

  SECTION("syntax error: the file and the line") {
    const auto r = start_with_config(dir, "[daemon]\njournal_max_events = 100\nthis is not toml\n");
    INFO(r.errors);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.errors, Catch::Contains(file));
    CHECK(names_line(r.errors, 3));
  }
  SECTION("unknown key: the file and the key") {
    const auto r = start_with_config(dir, "[daemon]\njournal_max_eventz = 100\n");
    INFO(r.errors);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.errors, Catch::Contains(file));
    CHECK_THAT(r.errors, Catch::Contains("journal_max_eventz"));
  }
  SECTION("unknown section: the file and the section") {
    const auto r = start_with_config(dir, "[deamon]\nsocket_mode = \"0660\"\n");
    INFO(r.errors);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.errors, Catch::Contains(file));
    CHECK_THAT(r.errors, Catch::Contains("deamon"));
  }
  SECTION("wrong type: the file and the key") {
    const auto r = start_with_config(dir, "[daemon]\njournal_max_events = \"lots\"\n");
    INFO(r.errors);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.errors, Catch::Contains(file));
    CHECK_THAT(r.errors, Catch::Contains("journal_max_events"));
  }
  SECTION("bad value: the key and what it must be") {
    const auto r = start_with_config(dir, "[daemon]\nsocket_mode = \"rw-rw-rw-\"\n");
    INFO(r.errors);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.errors, Catch::Contains("socket_mode"));
    CHECK_THAT(r.errors, Catch::Contains("octal"));
  }
  CHECK_FALSE(std::filesystem::exists(dir.path() / "s.sock"));
}

TEST_CASE("a second isensd on the same socket refuses to start and leaves the first serving", "[daemon][config]") {
  daemon_process first;
  const auto r = run({ISENSD_PATH, "--socket", first.socket_path().string(), "--state-dir",
                      (first.dir() / "state2").string(), "--metrics", "off"},
                     run_options{10s, {}, true});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.errors, Catch::Contains(first.socket_path().string()));
  CHECK(first.running());
  CHECK(std::filesystem::exists(first.socket_path()));
}

TEST_CASE("isensd exits 0 on SIGTERM and removes its socket", "[daemon][config]") {
  daemon_process daemon;
  CHECK(daemon.stop() == std::optional<int>(0));
  CHECK_FALSE(std::filesystem::exists(daemon.socket_path()));
}
