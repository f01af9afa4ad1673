#include "isens/subscribers/logger_subscriber.hpp"

#include "isens/events/event_bus.hpp"
#include "isens/events/event_json.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

using namespace isens::events;
using namespace isens::subscribers;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test, removed afterwards; unique per process and
// test so suites may run in parallel.
class temp_dir {
 public:
  temp_dir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("isens-logger-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::string> read_lines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

event disconnect_event() {
  event e;
  e.seq = 42;
  e.boot_id = "6f1c2a9e-0000-4000-8000-000000000001";
  // Microseconds: the JSON form keeps exactly that much.
  e.timestamp = std::chrono::system_clock::time_point(std::chrono::microseconds(1795304701123456));
  e.kind = event_kind::session_disconnect;
  e.reason = event_reason::peer_closed;
  e.session_id = 3;
  e.connection_id = 5;
  e.target = "iqn.2026-11.org.example:disk1";
  e.portal = "127.0.0.1:3260";
  e.isid = 0x400001370000;
  e.tsih = 1;
  e.cid = 0;
  e.detail = "connection reset by peer";
  return e;
}

event simple_event(event_kind kind, event_reason reason = event_reason::none) {
  event e;
  e.kind = kind;
  e.reason = reason;
  e.session_id = 7;
  return e;
}

logger_options file_options(const fs::path& file, log_format format = log_format::text) {
  logger_options o;
  o.sink = log_sink::file;
  o.path = file.string();
  o.format = format;
  return o;
}

// `<RFC 3339 UTC time with microseconds> [<level>] <text>`.
std::regex prefixed(const std::string& level, const std::string& text) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \[)" + level + R"(\] )" +
                    std::regex_replace(text, special, R"(\$&)") + "$");
}

}  // namespace

TEST_CASE("format_event_line writes every field that is set", "[logger]") {
  CHECK(format_event_line(disconnect_event()) ==
        "session 3 iqn.2026-11.org.example:disk1 127.0.0.1:3260 cid 0: session_disconnect (peer_closed) "
        "\u2014 connection reset by peer");
  CHECK(format_event_line(simple_event(event_kind::logon)) == "session 7: logon");

  auto e = simple_event(event_kind::logoff, event_reason::recovery_failed);
  e.target = "iqn.t";
  e.attempt = 4;
  e.detail = "gave up";
  CHECK(format_event_line(e) == "session 7 iqn.t: logoff (recovery_failed) attempt 4 \u2014 gave up");
}

TEST_CASE("format_event_line escapes control characters so a line cannot be forged", "[logger]") {
  auto e = simple_event(event_kind::connection_lost, event_reason::io_error);
  e.portal = "10.0.0.1:3260\r";
  e.detail = "bad\nsession 9: logon\t{}\x01";
  CHECK(format_event_line(e) ==
        "session 7 10.0.0.1:3260\\r: connection_lost (io_error) \u2014 bad\\nsession 9: logon\\t{}\\x01");
}

TEST_CASE("event_log_level follows the kind, and recovery_failed is always an error", "[logger]") {
  CHECK(event_log_level(simple_event(event_kind::connection_made)) == log_level::info);
  CHECK(event_log_level(simple_event(event_kind::logon)) == log_level::info);
  CHECK(event_log_level(simple_event(event_kind::session_ready)) == log_level::info);
  CHECK(event_log_level(simple_event(event_kind::session_reconnect, event_reason::recovery)) == log_level::info);
  CHECK(event_log_level(simple_event(event_kind::connection_lost, event_reason::removed)) == log_level::info);
  CHECK(event_log_level(simple_event(event_kind::logoff, event_reason::admin_logout)) == log_level::info);
  CHECK(event_log_level(simple_event(event_kind::session_disconnect, event_reason::nop_timeout)) == log_level::warn);
  CHECK(event_log_level(simple_event(event_kind::logoff, event_reason::recovery_failed)) == log_level::error);
  CHECK(event_log_level(simple_event(event_kind::session_disconnect, event_reason::recovery_failed)) ==
        log_level::error);
}

TEST_CASE("the text logger writes one line per event with time and level to its file", "[logger]") {
  temp_dir dir;
  const auto file = dir.path() / "events.log";
  {
    auto logger = make_logger_subscriber(file_options(file));
    dispatch(*logger, disconnect_event());
    dispatch(*logger, simple_event(event_kind::logon));
    dispatch(*logger, simple_event(event_kind::logoff, event_reason::recovery_failed));
    logger->on_gap(5);
    // A detail with braces is a message, never a format string.
    auto braces = simple_event(event_kind::session_ready);
    braces.detail = "{} {:>9}";
    dispatch(*logger, braces);
  }
  const auto lines = read_lines(file);
  REQUIRE(lines.size() == 5);
  CHECK(std::regex_match(lines[0], prefixed("warning", format_event_line(disconnect_event()))));
  CHECK(std::regex_match(lines[1], prefixed("info", "session 7: logon")));
  CHECK(std::regex_match(lines[2], prefixed("error", "session 7: logoff (recovery_failed)")));
  CHECK(std::regex_match(lines[3], prefixed("warning", "gap: 5 events lost (the logger's queue was full)")));
  CHECK(std::regex_match(lines[4], prefixed("info", "session 7: session_ready \u2014 {} {:>9}")));
}

TEST_CASE("the level option skips less severe events", "[logger]") {
  temp_dir dir;
  const auto file = dir.path() / "events.log";
  auto options = file_options(file);
  options.level = log_level::warn;
  {
    logger_subscriber logger(options);
    dispatch(logger, simple_event(event_kind::logon));
    dispatch(logger, disconnect_event());
    dispatch(logger, simple_event(event_kind::connection_made));
  }
  const auto lines = read_lines(file);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("[warning] session 3 ") != std::string::npos);
}

TEST_CASE("the JSON logger writes lines parse_event_json reads back", "[logger]") {
  temp_dir dir;
  const auto file = dir.path() / "events.jsonl";
  auto reconnect = simple_event(event_kind::session_reconnect, event_reason::recovery);
  reconnect.attempt = 2;
  reconnect.timestamp = std::chrono::system_clock::time_point(std::chrono::microseconds(1795304702000001));
  {
    auto logger = make_logger_subscriber(file_options(file, log_format::json));
    dispatch(*logger, disconnect_event());
    dispatch(*logger, reconnect);
    logger->on_gap(3);
  }
  const auto lines = read_lines(file);
  REQUIRE(lines.size() == 3);
  const auto back = parse_event_json(lines[0]);
  const auto original = disconnect_event();
  CHECK(back.seq == original.seq);
  CHECK(back.boot_id == original.boot_id);
  CHECK(back.timestamp == original.timestamp);
  CHECK(back.kind == original.kind);
  CHECK(back.reason == original.reason);
  CHECK(back.session_id == original.session_id);
  CHECK(back.connection_id == original.connection_id);
  CHECK(back.target == original.target);
  CHECK(back.portal == original.portal);
  CHECK(back.isid == original.isid);
  CHECK(back.tsih == original.tsih);
  CHECK(back.cid == original.cid);
  CHECK(back.detail == original.detail);
  CHECK(lines[0] == to_json_line(original));
  const auto second = parse_event_json(lines[1]);
  CHECK(second.kind == event_kind::session_reconnect);
  CHECK(second.attempt == std::optional<std::uint32_t>(2));
  CHECK(lines[2] == R"({"schema":1,"gap":3})");
  CHECK_THROWS_AS(parse_event_json(lines[2]), event_format_error);
}

TEST_CASE("the logger logs what a real bus delivers", "[logger]") {
  temp_dir dir;
  const auto file = dir.path() / "bus.log";
  auto logger = make_logger_subscriber(file_options(file, log_format::json));
  event_bus bus;
  subscription_options options;
  options.name = "logger";
  auto sub = bus.subscribe(logger, {}, options);
  for (auto kind : {event_kind::connection_made, event_kind::logon, event_kind::session_ready}) {
    bus.publish(simple_event(kind));
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (sub.delivered() < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  REQUIRE(sub.delivered() == 3);
  logger->flush();
  const auto lines = read_lines(file);
  REQUIRE(lines.size() == 3);
  CHECK(parse_event_json(lines[0]).kind == event_kind::connection_made);
  CHECK(parse_event_json(lines[1]).kind == event_kind::logon);
  CHECK(parse_event_json(lines[2]).kind == event_kind::session_ready);
  CHECK(parse_event_json(lines[2]).seq == bus.last_seq());
  CHECK(sub.errors() == 0);
}

TEST_CASE("the file sink rotates by size and keeps max_files old files", "[logger]") {
  temp_dir dir;
  const auto file = dir.path() / "events.log";
  auto options = file_options(file);
  options.max_size = 300;
  options.max_files = 2;
  {
    logger_subscriber logger(options);
    for (int i = 0; i < 40; ++i) dispatch(logger, disconnect_event());
  }
  CHECK(fs::exists(file));
  CHECK(fs::file_size(file) <= 300);
  CHECK(fs::exists(dir.path() / "events.1.log"));
  CHECK(fs::exists(dir.path() / "events.2.log"));
  CHECK_FALSE(fs::exists(dir.path() / "events.3.log"));
}

TEST_CASE("a bad file sink is a clear error", "[logger]") {
  temp_dir dir;
  const auto not_a_dir = dir.path() / "plain-file";
  std::ofstream(not_a_dir) << "x";
  const auto bad = (not_a_dir / "events.log").string();

  try {
    make_logger_subscriber(file_options(bad));
    FAIL("no error for a path below a regular file");
  } catch (const logger_error& e) {
    const std::string what = e.what();
    CHECK(what.find("cannot open log file \"" + bad + "\"") != std::string::npos);
    CHECK(what.find("Not a directory") != std::string::npos);
  }
  CHECK_THROWS_WITH(make_logger_subscriber(file_options("")), Catch::Contains("needs a path"));
  auto zero = file_options(dir.path() / "z.log");
  zero.max_size = 0;
  CHECK_THROWS_WITH(make_logger_subscriber(zero), Catch::Contains("max_size"));
}

TEST_CASE("the syslog and stderr sinks open and accept events", "[logger]") {
  for (auto sink : {log_sink::syslog, log_sink::standard_error}) {
    logger_options options;
    options.sink = sink;
    options.syslog_ident = "isens-test";
    // stderr stays quiet (the test proves it opens, not that the terminal
    // works); syslog really gets the line, which is harmless without a daemon.
    options.level = sink == log_sink::syslog ? log_level::info : log_level::off;
    auto logger = make_logger_subscriber(options);
    CHECK_NOTHROW(dispatch(*logger, disconnect_event()));
    CHECK_NOTHROW(logger->flush());
  }
}
