#pragma once
/// The entry point a subscriber plugin (a shared library loaded by isensd)
/// exports: one explicit, versioned descriptor, Envoy-style, instead of
/// registration hidden in static initialisers that may never run.
///
/// A plugin defines a factory and names it once:
///
///   std::shared_ptr<isens::events::subscriber> make(const char* config_json) {
///     return std::make_shared<my_sink>(config_json);
///   }
///   ISENS_PLUGIN({isens::events::plugin_abi_version, "my_sink", "1.0.0", &make});
///
/// The loader calls the entry point, reads `abi_version` before touching any
/// other member, and refuses a plugin built against other isens headers.

#include "isens/events/subscriber.hpp"

#include <cstdint>
#include <memory>

namespace isens::events {

/// The plugin ABI this build of isens speaks. Bump it on any change to
/// `event` (its members, or the values of event_kind / event_reason),
/// `subscriber` (its virtual functions, in order), or `plugin_descriptor`: a
/// plugin has those layouts compiled into its own code, so a mismatch is
/// undefined behaviour, not an error the plugin could report.
inline constexpr std::uint32_t plugin_abi_version = 1;

/// What a plugin's entry point returns. `abi_version` stays the first member
/// forever, so every loader, old or new, can read it and refuse safely.
struct plugin_descriptor {
  std::uint32_t abi_version;  ///< set to plugin_abi_version from the headers the plugin was built with
  const char* name;           ///< unique among loaded plugins; used as the subscription name in logs and metrics
  const char* version;        ///< the plugin's own version, for logs
  /// Makes the subscriber from the plugin's configuration (a JSON object as
  /// text, "{}" when none is given). Throw or return null to refuse; the
  /// message of what is thrown is shown to the operator.
  std::shared_ptr<subscriber> (*create)(const char* config_json);
};

/// Signature of the exported entry point.
using plugin_entry_point_fn = const plugin_descriptor*() noexcept;

}  // namespace isens::events

/// The symbol name the entry point is exported under. `_v1` versions the
/// promise "a C function returning a descriptor whose first member is
/// abi_version", which never needs to change; everything else is covered by
/// `abi_version` itself.
#define ISENS_PLUGIN_ENTRY_POINT isens_plugin_descriptor_v1

/// Stringifies after expansion, so the symbol's name is written only once.
#define ISENS_PLUGIN_DETAIL_STR2(x) #x
/// See ISENS_PLUGIN_DETAIL_STR2.
#define ISENS_PLUGIN_DETAIL_STR(x) ISENS_PLUGIN_DETAIL_STR2(x)

namespace isens::events {
/// The entry point's symbol as the loader looks it up.
inline constexpr const char* plugin_entry_point = ISENS_PLUGIN_DETAIL_STR(ISENS_PLUGIN_ENTRY_POINT);
}  // namespace isens::events

/// Exports the plugin's descriptor; use exactly once per plugin, at global
/// scope, followed by a semicolon. Variadic so a braced initialiser's commas
/// need no extra parentheses.
/// A plain `extern "C"` function (not BOOST_DLL_ALIAS) keeps plugins free of
/// Boost.DLL and lets any dlopen/dlsym-based tool find the entry point.
#define ISENS_PLUGIN(...)                                                                            \
  extern "C" __attribute__((visibility("default"))) const ::isens::events::plugin_descriptor*        \
  ISENS_PLUGIN_ENTRY_POINT() noexcept {                                                              \
    static const ::isens::events::plugin_descriptor isens_plugin_descriptor_value = __VA_ARGS__;     \
    return &isens_plugin_descriptor_value;                                                           \
  }                                                                                                  \
  static_assert(true, "ends the macro so that its use takes a semicolon")
