#pragma once
// Runs one shell command with a line of input on its stdin, bounded in time.
// Kept apart from the subscriber so its process handling (spawn, pipe,
// signals, reaping) can be read and reused on its own.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace isens::plugins {

/// How a command ended.
struct command_result {
  bool started = false;    ///< false: it could not be spawned (see error)
  bool timed_out = false;  ///< it overran the timeout and was killed
  int exit_code = -1;      ///< its exit status when it exited normally
  int signal = 0;          ///< the signal that ended it, if one did
  std::string error;       ///< why it could not be spawned
};

/// One line saying how a command ended, for logs.
std::string describe(const command_result& result);

/// Runs `/bin/sh -c command` in its own process group, writes `input` to its
/// stdin and closes it, then waits for it to exit. Never waits longer than
/// `timeout` in total: past it the whole group gets SIGKILL and is reaped.
/// A command that exits without reading its input is not an error.
/// `extra_env` ("NAME=value") is added to the daemon's environment.
/// Call from a thread with SIGPIPE blocked (the write may raise it).
command_result run_command(const std::string& command, std::string_view input, std::chrono::milliseconds timeout,
                           const std::vector<std::string>& extra_env);

}  // namespace isens::plugins
