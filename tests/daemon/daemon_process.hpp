// A real isensd for the daemon tests: its own temp dir (socket, state dir,
// log), its own metrics port, started as a child process and driven over
// its control socket by rpc_test_client. The binary under test is the one
// users run, so these tests see what a user sees: exit codes, stderr,
// files on disk, the socket protocol.
#pragma once

#include "eventually.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace isens::test {

class child_process;

using json = nlohmann::json;

/// A directory of our own under /tmp, removed with everything in it on destruction.
class temp_dir {
 public:
  /// Creates /tmp/isens-<tag>-XXXXXX (mode 0711: a client running as another
  /// user must reach the socket inside; the state dir below keeps its own 0700).
  explicit temp_dir(const std::string& tag);
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  /// The directory.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// How to start isensd beyond the fixed flags.
struct daemon_options {
  std::vector<std::string> extra_args;        ///< appended after the fixture's own flags
  std::map<std::string, std::string> env;     ///< added to isensd's environment
  std::chrono::milliseconds start_timeout{std::chrono::seconds{10}};  ///< until the socket answers
  std::string binary;  ///< the isensd to run; empty: the build tree's (ISENSD_PATH)
};

/// Options with extra flags only.
inline daemon_options with_args(std::vector<std::string> args) {
  daemon_options o;
  o.extra_args = std::move(args);
  return o;
}

/// One isensd process (restartable on the same state dir). Not thread-safe.
class daemon_process {
 public:
  /// Creates the temp dir and starts isensd; throws with the log's tail if it does not come up.
  explicit daemon_process(daemon_options options = {});
  /// Stops a still running isensd (SIGTERM, then SIGKILL) and removes the temp dir.
  ~daemon_process();
  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  /// Starts isensd again (same socket, state dir and metrics port, unless
  /// another process took that port: then another one); it must not be running.
  void start();
  /// SIGTERM and wait; returns the exit code (negative: killed by that signal),
  /// or nullopt if it did not exit in time (it is then killed).
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds{10});
  /// SIGKILL, as a crash would; the socket file stays behind.
  void kill9();
  /// True while the process exists.
  [[nodiscard]] bool running();

  /// The control socket.
  [[nodiscard]] std::filesystem::path socket_path() const { return dir_.path() / "s.sock"; }
  /// The state directory (journal, registered_sessions.json).
  [[nodiscard]] std::filesystem::path state_dir() const { return dir_.path() / "state"; }
  /// The temp dir: tests may put config files and plugin output here.
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_.path(); }
  /// isensd's stdout and stderr, appended across restarts.
  [[nodiscard]] std::filesystem::path log_file() const { return dir_.path() / "isensd.log"; }
  /// The whole log as text.
  [[nodiscard]] std::string log() const;
  /// The Prometheus endpoint's port on 127.0.0.1.
  [[nodiscard]] unsigned short metrics_port() const noexcept { return metrics_port_; }
  /// The pid of the current (or last) process.
  [[nodiscard]] int pid() const;

 private:
  // Starts the process; false when it exited before its socket answered.
  bool launch();
  daemon_options options_;
  temp_dir dir_;
  unsigned short metrics_port_ = 0;
  std::unique_ptr<child_process> process_;
};

/// Writes `text` to `dir`/`name` and returns the path (for --config files).
std::filesystem::path write_file(const std::filesystem::path& dir, const std::string& name, const std::string& text);
/// `n` pseudo-random bytes from `seed` (the same every run): data to copy
/// through an NBD export and compare, that no layer can store as zeros.
std::string random_bytes(std::size_t n, std::uint64_t seed);
/// `text` as a TOML basic string, quotes included.
std::string toml_string(const std::string& text);
/// Writes `dir`/isensd-plugin.toml: one [[plugins]] table for `plugin` whose
/// [plugins.config] table holds `config_lines` (TOML `key = value` lines); returns its path.
std::filesystem::path plugin_config_file(const std::filesystem::path& dir, const std::string& plugin,
                                         const std::string& config_lines);
/// A whole file as text ("" when it cannot be read).
std::string read_file(const std::filesystem::path& file);
/// The non-empty lines of a text.
std::vector<std::string> lines_of(const std::string& text);
/// Every regular file under `dir`, concatenated (for "appears nowhere" checks).
std::string read_tree(const std::filesystem::path& dir);

}  // namespace isens::test
