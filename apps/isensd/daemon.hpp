#pragma once
// isensd assembled: one io_context for network I/O and the control socket,
// the bus with its own delivery threads, the initiator, the built-in
// subscribers, plugins, and the registered sessions logged in at start.

#include "daemon_config.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace isens::daemon {

class daemon {
 public:
  // Builds every part; throws with a clear message if one cannot start
  // (socket in use, unreadable state directory, bad plugin…).
  explicit daemon(daemon_config config);
  ~daemon();

  // Runs until SIGTERM or SIGINT, then logs every session out and flushes.
  // Returns the process exit code.
  int run();

 private:
  struct parts;
  static boost::asio::awaitable<void> shut_down(parts& p);
  std::unique_ptr<parts> parts_;
};

}  // namespace isens::daemon
