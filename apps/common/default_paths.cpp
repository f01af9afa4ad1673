#include "default_paths.hpp"

#include <cstdlib>
#include <string>
#include <unistd.h>

namespace isens::apps {
namespace {

std::filesystem::path from_env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? std::filesystem::path(value) : std::filesystem::path();
}

}  // namespace

std::filesystem::path default_socket_path() {
  if (auto explicit_path = from_env("ISENS_SOCKET"); !explicit_path.empty()) return explicit_path;
  if (geteuid() == 0) return "/run/isens/isensd.sock";
  if (auto runtime = from_env("XDG_RUNTIME_DIR"); !runtime.empty()) return runtime / "isens" / "isensd.sock";
  return std::filesystem::path("/tmp") / ("isens-" + std::to_string(geteuid())) / "isensd.sock";
}

std::filesystem::path default_state_dir() {
  if (geteuid() == 0) return "/var/lib/isens";
  if (auto state = from_env("XDG_STATE_HOME"); !state.empty()) return state / "isens";
  if (auto home = from_env("HOME"); !home.empty()) return home / ".local" / "state" / "isens";
  return std::filesystem::path("/tmp") / ("isens-" + std::to_string(geteuid())) / "state";
}

}  // namespace isens::apps
