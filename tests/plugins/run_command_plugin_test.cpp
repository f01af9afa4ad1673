// The example plugin run_command_on_disconnect, loaded the way isensd loads
// it, running real commands through /bin/sh.
#include "plugin_bus_helpers.hpp"
#include "plugin_loader.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/events/event_json.hpp>

#include <catch2/catch.hpp>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace ev = isens::events;
using isens::daemon::load_plugin;
using namespace isens::test::plugins;
using namespace std::chrono_literals;

// A file name of our own in the temp directory, removed at the end.
struct temp_file {
  std::filesystem::path path;
  explicit temp_file(const std::string& tag)
      : path(std::filesystem::temp_directory_path() /
             ("isens-run-command-" + tag + "-" + std::to_string(::getpid()) + ".out")) {
    std::filesystem::remove(path);
  }
  ~temp_file() { std::filesystem::remove(path); }
  std::string read() const {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

}  // namespace

TEST_CASE("run_command writes a session_disconnect's JSON line to the command's stdin", "[plugins][run_command]") {
  temp_file out("json");
  // Appends, so a command wrongly run for the logon would show as a 2nd line.
  const std::string config = R"({"command": "cat >> ')" + out.path.string() + R"('"})";
  auto plugin = load_plugin(ISENS_PLUGIN_RUN_COMMAND, config);
  CHECK(plugin.name == "run_command_on_disconnect");
  ev::event_bus bus(1);
  auto sub = bus.subscribe(plugin.subscriber, {}, named(plugin.name));
  bus.publish(make_event(ev::event_kind::logon, 7));
  const auto seq = bus.publish(make_event(ev::event_kind::session_disconnect, 7, ev::event_reason::peer_closed));

  REQUIRE(eventually([&] {
    const auto text = out.read();
    return !text.empty() && text.back() == '\n';
  }));
  const auto text = out.read();
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  const auto e = ev::parse_event_json(text.substr(0, text.size() - 1));
  CHECK(e.kind == ev::event_kind::session_disconnect);
  CHECK(e.session_id == 7);
  CHECK(e.seq == seq);
  CHECK(e.boot_id == bus.boot_id());
}

TEST_CASE("run_command passes the event in the environment and honours \"kinds\"", "[plugins][run_command]") {
  temp_file out("env");
  const std::string config = R"({"command": "echo \"$ISENS_EVENT_KIND $ISENS_SESSION_ID\" >> ')" +
                             out.path.string() + R"('", "kinds": ["logon", "session_reconnect"]})";
  auto plugin = load_plugin(ISENS_PLUGIN_RUN_COMMAND, config);
  ev::event_bus bus(1);
  auto sub = bus.subscribe(plugin.subscriber, {}, named(plugin.name));
  bus.publish(make_event(ev::event_kind::logon, 3));
  bus.publish(make_event(ev::event_kind::session_disconnect, 3, ev::event_reason::peer_closed));
  bus.publish(make_event(ev::event_kind::session_reconnect, 3));
  REQUIRE(eventually([&] { return out.read() == "logon 3\nsession_reconnect 3\n"; }));
}

TEST_CASE("a hung command neither stalls the bus nor holds up unloading past its timeout", "[plugins][run_command]") {
  auto plugin = load_plugin(ISENS_PLUGIN_RUN_COMMAND, R"({"command": "sleep 30", "timeout_ms": 300})");
  auto other = std::make_shared<counting_sink>();
  {
    ev::event_bus bus(1);  // one delivery thread: a blocked plugin would block `other` too
    auto plugin_sub = bus.subscribe(plugin.subscriber, {}, named(plugin.name));
    auto other_sub = bus.subscribe(other, {}, named("other"));
    for (int i = 0; i < 5; ++i)
      bus.publish(make_event(ev::event_kind::session_disconnect, 1, ev::event_reason::peer_closed));
    REQUIRE(eventually([&] { return other->count == 5 && plugin_sub.delivered() == 5; }));
  }
  const auto start = std::chrono::steady_clock::now();
  plugin.subscriber.reset();  // joins the worker: the running command is killed at its timeout
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("run_command refuses a configuration it does not understand", "[plugins][run_command]") {
  auto error_of = [](const std::string& config) {
    try {
      load_plugin(ISENS_PLUGIN_RUN_COMMAND, config);
    } catch (const std::runtime_error& ex) {
      return std::string(ex.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of(R"({"comand": "true"})"), Catch::Contains("unknown key 'comand'"));
  CHECK_THAT(error_of(R"({"kinds": ["session_disconect"]})"), Catch::Contains("unknown event kind 'session_disconect'"));
  CHECK_THAT(error_of(R"({"command": 5})"), Catch::Contains("\"command\": [json.exception.type_error"));
  CHECK_THAT(error_of(R"({"timeout_ms": -1})"), Catch::Contains("\"timeout_ms\": must be a whole number"));
  CHECK_THAT(error_of("not json"), Catch::Contains("create() failed"));
  CHECK_THAT(error_of("{}"), Catch::Contains("no \"command\" configured"));  // it would do nothing: refused
}
