// load_plugin against real shared libraries built beside this test, and
// plugins subscribed on a real event_bus.
#include "plugin_bus_helpers.hpp"
#include "plugin_loader.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/events/plugin_api.hpp>

#include <catch2/catch.hpp>
#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace {

namespace ev = isens::events;
using isens::daemon::load_plugin;
using namespace isens::test::plugins;

// Whether `path` is mapped right now (RTLD_NOLOAD never loads it).
bool is_loaded(const char* path) {
  void* handle = ::dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (handle != nullptr) ::dlclose(handle);
  return handle != nullptr;
}

// Calls an extra extern "C" function of a loaded test plugin, so the test
// reads the state of the very instance the loader made.
template <class Result>
Result call_in_plugin(const char* path, const char* symbol) {
  void* handle = ::dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(handle != nullptr);
  auto* fn = reinterpret_cast<Result (*)()>(::dlsym(handle, symbol));
  REQUIRE(fn != nullptr);
  Result r = fn();
  ::dlclose(handle);
  return r;
}

std::string load_error(const std::filesystem::path& path) {
  try {
    load_plugin(path, "{}");
  } catch (const std::runtime_error& ex) {
    return ex.what();
  }
  FAIL("loading " << path << " did not throw");
  return {};
}

}  // namespace

TEST_CASE("a good plugin is loaded with its descriptor and receives events from the bus", "[plugins]") {
  auto plugin = load_plugin(ISENS_TEST_PLUGIN_GOOD, R"({"tag":"x"})");
  CHECK(plugin.name == "test_good");
  CHECK(plugin.version == "0.1.0");
  CHECK(plugin.path.is_absolute());
  CHECK(std::string(call_in_plugin<const char*>(ISENS_TEST_PLUGIN_GOOD, "isens_test_config_seen")) ==
        R"({"tag":"x"})");
  const auto seen_before = call_in_plugin<std::uint64_t>(ISENS_TEST_PLUGIN_GOOD, "isens_test_events_seen");

  ev::event_bus bus(1);
  {
    auto sub = bus.subscribe(plugin.subscriber, {}, named(plugin.name));
    bus.publish(make_event(ev::event_kind::logon, 1));
    bus.publish(make_event(ev::event_kind::session_disconnect, 1));
    bus.publish(make_event(ev::event_kind::session_reconnect, 1));
    REQUIRE(eventually([&] { return sub.delivered() == 3; }));
    CHECK(sub.errors() == 0);
  }
  CHECK(call_in_plugin<std::uint64_t>(ISENS_TEST_PLUGIN_GOOD, "isens_test_events_seen") == seen_before + 3);
  CHECK(call_in_plugin<std::uint64_t>(ISENS_TEST_PLUGIN_GOOD, "isens_test_disconnects_seen") >= 1);
}

TEST_CASE("the library stays loaded while any copy of the subscriber lives, and unloads after", "[plugins]") {
  REQUIRE_FALSE(is_loaded(ISENS_TEST_PLUGIN_GOOD));
  std::shared_ptr<ev::subscriber> kept;
  {
    auto plugin = load_plugin(ISENS_TEST_PLUGIN_GOOD, "{}");
    CHECK(call_in_plugin<int>(ISENS_TEST_PLUGIN_GOOD, "isens_test_live_instances") == 1);
    kept = plugin.subscriber;
  }
  // The loaded_plugin is gone; its code must still be mapped for `kept`.
  REQUIRE(is_loaded(ISENS_TEST_PLUGIN_GOOD));
  const auto before = call_in_plugin<std::uint64_t>(ISENS_TEST_PLUGIN_GOOD, "isens_test_events_seen");
  kept->on_event(make_event(ev::event_kind::logon, 2));
  CHECK(call_in_plugin<std::uint64_t>(ISENS_TEST_PLUGIN_GOOD, "isens_test_events_seen") == before + 1);

  kept.reset();  // runs the plugin's destructor, then unloads
  CHECK_FALSE(is_loaded(ISENS_TEST_PLUGIN_GOOD));
}

TEST_CASE("a plugin built for another ABI version is refused, naming both versions", "[plugins]") {
  const auto message = load_error(ISENS_TEST_PLUGIN_WRONG_ABI);
  const auto theirs = std::to_string(ev::plugin_abi_version + 1);
  const auto ours = std::to_string(ev::plugin_abi_version);
  CHECK_THAT(message, Catch::Contains(ISENS_TEST_PLUGIN_WRONG_ABI));
  CHECK_THAT(message, Catch::Contains("built for plugin ABI version " + theirs));
  CHECK_THAT(message, Catch::Contains("this isensd speaks version " + ours));
  CHECK_FALSE(is_loaded(ISENS_TEST_PLUGIN_WRONG_ABI));  // refused plugins do not stay mapped
}

TEST_CASE("a plugin whose create throws is refused with its message on one line", "[plugins]") {
  const auto message = load_error(ISENS_TEST_PLUGIN_CREATE_THROWS);
  CHECK_THAT(message, Catch::StartsWith(std::string("plugin ") + ISENS_TEST_PLUGIN_CREATE_THROWS + ": "));
  CHECK_THAT(message, Catch::Contains("create() failed: missing key 'target' see the README"));
  CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("a plugin that throws from its callbacks is isolated by the bus", "[plugins]") {
  auto plugin = load_plugin(ISENS_TEST_PLUGIN_THROWS_ON_EVENT, "{}");
  CHECK(plugin.name == "test_throws_on_event");
  ev::event_bus bus(2);
  auto other = std::make_shared<counting_sink>();
  auto throwing_sub = bus.subscribe(plugin.subscriber, {}, named(plugin.name));
  auto other_sub = bus.subscribe(other, {}, named("other"));
  constexpr std::uint64_t n = 50;
  for (std::uint64_t i = 0; i < n; ++i) bus.publish(make_event(ev::event_kind::session_disconnect, i));

  REQUIRE(eventually([&] { return other->count == n && throwing_sub.errors() == n; }));
  CHECK(other_sub.errors() == 0);
  CHECK(throwing_sub.delivered() == n);  // it keeps receiving after it threw
  const auto stats = bus.stats();
  CHECK(std::any_of(stats.begin(), stats.end(),
                    [](const auto& s) { return s.name == "test_throws_on_event" && s.errors == n; }));
}

TEST_CASE("files that are not plugins are refused with a message naming the path", "[plugins]") {
  SECTION("missing file") {
    const auto message = load_error("/nonexistent/isens-plugin.so");
    CHECK(message == "plugin /nonexistent/isens-plugin.so: no such file");
  }
  SECTION("a directory") {
    CHECK_THAT(load_error("/tmp"), Catch::EndsWith(": not a regular file"));
  }
  SECTION("a text file named .so") {
    const auto garbage = std::filesystem::temp_directory_path() /
                         ("isens-garbage-" + std::to_string(::getpid()) + ".so");
    std::ofstream(garbage) << "this is not an ELF file\n";
    const auto message = load_error(garbage);
    std::filesystem::remove(garbage);
    CHECK_THAT(message, Catch::StartsWith("plugin " + garbage.string() + ": not a loadable shared library ("));
    CHECK(message.find('\n') == std::string::npos);
  }
  SECTION("a shared library without the entry point") {
    const auto message = load_error(ISENS_TEST_PLUGIN_NO_ENTRY);
    CHECK_THAT(message, Catch::Contains(ISENS_TEST_PLUGIN_NO_ENTRY));
    CHECK_THAT(message, Catch::Contains(std::string("no entry point '") + ev::plugin_entry_point + "'"));
  }
}

TEST_CASE("a relative path is loaded as a file, never searched for", "[plugins]") {
  // dlopen("x.so") would search LD_LIBRARY_PATH and the system; the loader
  // makes it absolute against the working directory instead.
  const auto message = load_error("libc.so.6");
  CHECK_THAT(message, Catch::EndsWith("libc.so.6: no such file"));
  CHECK(std::filesystem::path(message.substr(7, message.find(':') - 7)).is_absolute());
}
