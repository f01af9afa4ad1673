#pragma once
// Loads subscriber plugins: shared libraries exporting the entry point of
// isens/events/plugin_api.hpp. Every failure is a std::runtime_error whose
// one-line message names the plugin's path, so isensd can refuse to start
// with a message an operator can act on.

#include <isens/events/subscriber.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace isens::daemon {

/// A plugin's subscriber and what is known about it. The library stays
/// loaded until the last copy of `subscriber` is gone (the bus's queue and a
/// callback in flight hold copies too), so plugin code never runs unmapped.
struct loaded_plugin {
  std::filesystem::path path;  ///< absolute path the library was loaded from
  std::string name;            ///< the descriptor's name (copied: its storage goes with the library)
  std::string version;         ///< the descriptor's version (copied likewise)
  /// The plugin's subscriber; its deleter destroys the plugin's object first
  /// and only then releases the library handle.
  std::shared_ptr<events::subscriber> subscriber;
};

/// Loads `path`, checks its ABI version and makes its subscriber from
/// `config_json` (a JSON object as text). Throws std::runtime_error naming
/// the path on a missing file, a file that is not a loadable shared library,
/// a missing entry point, an ABI mismatch (naming both versions), or a
/// factory that throws or returns null.
loaded_plugin load_plugin(const std::filesystem::path& path, const std::string& config_json);

}  // namespace isens::daemon
