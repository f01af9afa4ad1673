// isensd refusing to start on a bad configuration file: a non-zero exit, a
// message naming the file and the line or key an operator must fix, and no
// control socket (it must never run half-configured).
#include "daemon_process.hpp"
#include "subprocess.hpp"
#include "thread_names.hpp"

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
  // Starts isensd on `toml`, expects it to refuse, and returns its stderr.
  auto refusal = [&](const std::string& toml) {
    const auto r = start_with_config(dir, toml);
    INFO(r.errors);
    CHECK(r.exit_code != 0);
    return r.errors;
  };

  SECTION("syntax error: the file and the line") {
    const auto errors = refusal("[daemon]\njournal_max_events = 100\nthis is not toml\n");
    CHECK_THAT(errors, Catch::Contains(file));
    CHECK(names_line(errors, 3));
  }
  SECTION("unknown key: the file and the key") {
    const auto errors = refusal("[daemon]\njournal_max_eventz = 100\n");
    CHECK_THAT(errors, Catch::Contains(file));
    CHECK_THAT(errors, Catch::Contains("journal_max_eventz"));
  }
  SECTION("unknown section: the file and the section") {
    const auto errors = refusal("[deamon]\nsocket_mode = \"0660\"\n");
    CHECK_THAT(errors, Catch::Contains(file));
    CHECK_THAT(errors, Catch::Contains("deamon"));
  }
  SECTION("wrong type: the file and the key") {
    const auto errors = refusal("[daemon]\njournal_max_events = \"lots\"\n");
    CHECK_THAT(errors, Catch::Contains(file));
    CHECK_THAT(errors, Catch::Contains("journal_max_events"));
  }
  SECTION("bad value: the key and what it must be") {
    const auto errors = refusal("[daemon]\nsocket_mode = \"rw-rw-rw-\"\n");
    CHECK_THAT(errors, Catch::Contains("socket_mode"));
    CHECK_THAT(errors, Catch::Contains("octal"));
  }
  SECTION("a bus without delivery threads: the key and its range") {
    const auto errors = refusal("[bus]\ndelivery_threads = 0\n");
    CHECK_THAT(errors, Catch::Contains("bus.delivery_threads"));
    CHECK_THAT(errors, Catch::Contains("between 1 and 64"));
  }
  SECTION("a negative spin: the key and its range") {
    const auto errors = refusal("[bus]\nspin_after_events_us = -1\n");
    CHECK_THAT(errors, Catch::Contains("bus.spin_after_events_us"));
    CHECK_THAT(errors, Catch::Contains("between 0"));
  }
  SECTION("a poll longer than a millisecond: the key and its range") {
    const auto errors = refusal("[initiator]\nlone_command_poll_us = 5000\n");
    CHECK_THAT(errors, Catch::Contains("initiator.lone_command_poll_us"));
    CHECK_THAT(errors, Catch::Contains("between 0"));
  }
  SECTION("a negative batching threshold: the key and its range") {
    const auto errors = refusal("[initiator]\nbatch_commands_from = -1\n");
    CHECK_THAT(errors, Catch::Contains("initiator.batch_commands_from"));
    CHECK_THAT(errors, Catch::Contains("between 0"));
  }
  CHECK_FALSE(std::filesystem::exists(dir.path() / "s.sock"));
}

TEST_CASE("isensd accepts the configuration file it ships", "[daemon][config]") {
  // Flags override the file's system paths and metrics port, as the
  // fixture's own flags do; everything else is the file's.
  daemon_process daemon(with_args({"--config", ISENSD_SHIPPED_CONFIG}));
  CHECK(daemon.running());
  CHECK(daemon.stop() == std::optional<int>(0));
}

TEST_CASE("[bus] sets the daemon's delivery threads and turns its watcher off", "[daemon][config]") {
  SECTION("defaults: two delivery threads and a watcher") {
    daemon_process daemon;
    CHECK(threads_named("isens-delivery", daemon.pid()).size() == 2);
    CHECK(threads_named("isens-watcher", daemon.pid()).size() == 1);
  }
  SECTION("three threads, no spinning") {
    temp_dir config_dir("isensd-bus");
    const auto config =
        write_file(config_dir.path(), "isensd.toml", "[bus]\ndelivery_threads = 3\nspin_after_events_us = 0\n");
    daemon_process daemon(with_args({"--config", config.string()}));
    CHECK(threads_named("isens-delivery", daemon.pid()).size() == 3);
    CHECK(threads_named("isens-watcher", daemon.pid()).empty());
  }
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
