#include "plugin_loader.hpp"

#include <isens/events/plugin_api.hpp>

#include <boost/dll/shared_library.hpp>

#include <exception>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

namespace isens::daemon {

namespace {

// One line, whatever a plugin's exception or dlerror() says: the message
// ends up as the single line isensd prints when it refuses to start.
[[noreturn]] void fail(const std::filesystem::path& path, std::string why) {
  for (auto& c : why) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  throw std::runtime_error("plugin " + path.string() + ": " + why);
}

// The deleter of the subscriber handed out: the plugin's object (and its
// control block, whose code may live in the plugin) goes first, the library
// last. Whoever drops the last reference — the daemon, or a bus thread after
// a callback returns — thus never leaves plugin code running unmapped.
struct library_keeper {
  std::shared_ptr<events::subscriber> inner;
  boost::dll::shared_library library;

  void operator()(events::subscriber*) noexcept {
    inner.reset();
    library.unload();
  }
};

// Boost.DLL wraps dlerror() as "…failed (dlerror system message: TEXT):
// <errno text>", where the errno part is unrelated noise; TEXT says it all.
std::string dlerror_text(std::string_view what) {
  constexpr std::string_view marker = "dlerror system message: ";
  const auto begin = what.find(marker);
  const auto end = what.rfind("): ");
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) return std::string(what);
  return std::string(what.substr(begin + marker.size(), end - begin - marker.size()));
}

boost::dll::shared_library open_library(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) fail(path, "no such file");
  if (!std::filesystem::is_regular_file(status)) fail(path, "not a regular file");
  try {
    // rtld_now: a plugin with an unresolved symbol is refused here, with the
    // symbol named, instead of crashing the daemon at its first call.
    // rtld_local: two plugins' private symbols never interpose each other.
    return boost::dll::shared_library(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& ex) {
    fail(path, "not a loadable shared library (" + dlerror_text(ex.what()) + ")");
  }
}

std::shared_ptr<events::subscriber> create_subscriber(const std::filesystem::path& path,
                                                      const events::plugin_descriptor& descriptor,
                                                      const std::string& config_json) {
  // Catch inside the library's lifetime: the exception object (and a type
  // the plugin defined for it) is destroyed before the caller unloads.
  std::shared_ptr<events::subscriber> sink;
  try {
    sink = descriptor.create(config_json.c_str());
  } catch (const std::exception& ex) {
    fail(path, std::string("create() failed: ") + ex.what());
  } catch (...) {
    fail(path, "create() threw a non-standard exception");
  }
  if (!sink) fail(path, "create() returned no subscriber");
  return sink;
}

}  // namespace

loaded_plugin load_plugin(const std::filesystem::path& requested, const std::string& config_json) {
  // Absolute, so dlopen never searches LD_LIBRARY_PATH for a bare file name.
  const auto path = std::filesystem::absolute(requested);
  auto library = open_library(path);
  if (!library.has(events::plugin_entry_point)) {
    fail(path, std::string("no entry point '") + events::plugin_entry_point +
                   "' (is it an isens plugin? use ISENS_PLUGIN(...))");
  }
  const auto* descriptor = library.get<events::plugin_entry_point_fn>(events::plugin_entry_point)();
  if (descriptor == nullptr) fail(path, "the entry point returned no descriptor");
  // The version first: with another ABI, no other member can be trusted.
  if (descriptor->abi_version != events::plugin_abi_version) {
    fail(path, "built for plugin ABI version " + std::to_string(descriptor->abi_version) +
                   ", but this isensd speaks version " + std::to_string(events::plugin_abi_version) +
                   "; rebuild it against this isens");
  }
  if (descriptor->name == nullptr || *descriptor->name == '\0') fail(path, "the descriptor has no name");
  if (descriptor->create == nullptr) fail(path, "the descriptor has no create function");

  loaded_plugin plugin{path, descriptor->name, descriptor->version ? descriptor->version : "", nullptr};
  auto inner = create_subscriber(path, *descriptor, config_json);
  auto* raw = inner.get();
  plugin.subscriber = std::shared_ptr<events::subscriber>(raw, library_keeper{std::move(inner), std::move(library)});
  return plugin;
}

}  // namespace isens::daemon
