// Child processes for the real-peer test support: short commands whose output
// we capture (tgtadm, tshark, iscsi-inq) and long-running daemons whose output
// goes to a log file (tgtd, dumpcap).
//
// Children are started with fork/exec, never system(): no shell quoting
// surprises, and the child asks the kernel (PR_SET_PDEATHSIG) to SIGKILL it
// when the forking thread dies, so a crashed or killed test run leaves no stray
// tgtd behind. Spawn daemons from a thread that outlives them (the test's main
// thread); PDEATHSIG follows the thread, not the process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace isens::test {

/// What a finished command produced; exit_code is -N when signal N killed it.
struct run_result {
  int exit_code = 0;   ///< 0 on success; negative: killed by that signal.
  std::string output;  ///< stdout, with stderr interleaved unless run_options::separate_stderr.
  std::string errors;  ///< stderr when run_options::separate_stderr, else empty.
};

/// How to run a short command; defaults suit tgtadm and tshark.
struct run_options {
  std::chrono::milliseconds timeout{std::chrono::seconds{20}};  ///< killed (SIGKILL) and reported after this.
  std::map<std::string, std::string> env;  ///< added to (or overriding) the inherited environment.
  bool separate_stderr = false;  ///< keep stderr out of output, for parsing tools that chatter (tshark).
};

/// Runs argv[0] (looked up in PATH) to completion, capturing its output.
/// Throws std::runtime_error if it cannot start or outlives options.timeout.
run_result run(const std::vector<std::string>& argv, const run_options& options = {});

/// Like run(), but a non-zero exit is an exception naming the command and its output.
std::string run_checked(const std::vector<std::string>& argv, const run_options& options = {});

/// Renders argv as a shell-like line for error messages.
std::string format_command(const std::vector<std::string>& argv);

/// The last max_bytes of a file, for error messages quoting a daemon's log.
std::string file_tail(const std::filesystem::path& file, std::size_t max_bytes = 2000);

/// A long-running child whose stdout/stderr are appended to a log file;
/// killed (SIGKILL) and reaped on destruction if still running.
class child_process {
 public:
  /// Starts argv (PATH lookup) with output appended to log; throws if it cannot start.
  child_process(const std::vector<std::string>& argv, const std::filesystem::path& log,
                const std::map<std::string, std::string>& env = {});
  /// Kills and reaps a child that is still running, so no zombie or stray daemon remains.
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  child_process(child_process&&) = delete;
  child_process& operator=(child_process&&) = delete;

  /// The child's pid; stays valid (but stale) after it has been reaped.
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// True until the child has exited (reaps it if it just did).
  [[nodiscard]] bool running();
  /// Waits up to timeout for exit; returns the run_result-style exit code, or nullopt if still running.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  /// Sends a signal if the child has not been reaped yet (never to a recycled pid).
  void signal(int signo);
  /// SIGSTOP, and returns once every thread of the child has stopped (or it
  /// has exited): kill() returns before a busy multi-threaded child is
  /// stopped, and it may go on answering for a while.
  void stop();
  /// SIGKILL (it also ends a SIGSTOPped child) and reap; returns the exit code.
  int kill_and_reap();

 private:
  void note_status(int status);

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace isens::test
