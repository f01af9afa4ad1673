// What most daemon tests start with: a private tgtd with the standard
// target and an isensd next to it, plus the params to log in.
#pragma once

#include "daemon_process.hpp"
#include "rpc_test_client.hpp"
#include "tgtd_target.hpp"

#include <memory>
#include <string>

namespace isens::test {

/// A tgtd (declared first, so destroyed last: isensd logs out on SIGTERM
/// and must find its target still there) and an isensd.
struct daemon_with_target {
  explicit daemon_with_target(daemon_options options = {}) : daemon(std::move(options)) {}

  /// login_to_target params for the standard target.
  [[nodiscard]] json login_params() const {
    return {{"portal", target->portal()}, {"target", std::string(standard_iqn)}};
  }
  /// Logs in to the standard target (on a client of its own); returns the session id.
  std::uint64_t login() {
    return client()->call("login_to_target", login_params()).at("session_id").get<std::uint64_t>();
  }
  /// Logs a session out.
  void logout(std::uint64_t session_id) { client()->call("logout_from_target", {{"session_id", session_id}}); }
  /// A new control-socket client.
  [[nodiscard]] std::unique_ptr<rpc_test_client> client() const {
    return std::make_unique<rpc_test_client>(daemon.socket_path());
  }

  std::unique_ptr<tgtd_target> target = make_standard_target();
  daemon_process daemon;
};

}  // namespace isens::test
