#pragma once
// The isensctl commands that talk to isensd over its control socket.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace isensctl {

// Options every daemon command shares.
struct daemon_options {
  std::filesystem::path socket;
  bool json = false;
};

// Options of `login` (and of `discover --via-daemon`).
struct login_request {
  std::string portal, target;
  std::string chap_user, chap_secret, chap_target_user, chap_target_secret;
  std::string header_digest = "none", data_digest = "none";
  bool persistent = false;
};

// Options of `watch`.
struct watch_request {
  std::optional<std::uint64_t> since;
  std::vector<std::string> kinds;
  std::optional<std::uint64_t> session_id;
  std::optional<std::uint64_t> count;
};

int cmd_login(const daemon_options& o, const login_request& r);
int cmd_logout(const daemon_options& o, std::uint64_t session_id);
int cmd_sessions(const daemon_options& o, std::optional<std::uint64_t> session_id);
int cmd_connections(const daemon_options& o, std::optional<std::uint64_t> session_id);
int cmd_add_connection(const daemon_options& o, std::uint64_t session_id, const std::string& portal);
int cmd_remove_connection(const daemon_options& o, std::uint64_t session_id, std::uint64_t connection_id);
int cmd_register(const daemon_options& o, std::uint64_t session_id);
// Each id is a registration id (target@portal) or a session id (digits);
// every one is tried, and the exit code is 1 if any failed.
int cmd_unregister(const daemon_options& o, const std::vector<std::string>& ids);
int cmd_registrations(const daemon_options& o);
int cmd_scsi(const daemon_options& o, const std::string& method, std::uint64_t session_id, std::optional<std::uint64_t> lun);
int cmd_discover_via_daemon(const daemon_options& o, const login_request& r);
int cmd_watch(const daemon_options& o, const watch_request& r);

}  // namespace isensctl
