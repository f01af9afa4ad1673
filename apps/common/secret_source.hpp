#pragma once
// Where a CHAP secret comes from when it must not be on a command line:
// a file only its owner can read, an environment variable, or a prompt on
// the terminal with echo off. Shared by isensctl (--chap-secret-file, the
// environment, the prompt) and isensd ([[sessions]] chap_secret_file).
// Errors never contain the secret, only where it was looked for.

#include <filesystem>
#include <stdexcept>
#include <string>

namespace isens::apps {

/// A secret that could not be read or was refused; the message names the
/// source (file, variable) and the reason, never the secret.
class secret_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads a secret from `file`: one line, the trailing newline dropped.
/// Refused unless it is a regular file of mode 0600 or stricter (no group or
/// other bits) owned by the calling user or root, at most 4 KiB, not empty.
std::string read_secret_file(const std::filesystem::path& file);

/// True when standard input and /dev/tty are a terminal a prompt can use.
bool can_prompt();

/// Asks on /dev/tty with echo off ("`prompt`: "), reads one line and
/// restores the terminal, even on error. Throws secret_error without a terminal.
std::string prompt_secret(const std::string& prompt);

}  // namespace isens::apps
