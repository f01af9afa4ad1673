#pragma once
/// The event value: what happened to which session or connection, and why.
/// Events are the SENS-style notifications isens publishes; see
/// docs/events.md for the meaning of each kind and reason.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace isens::events {

/// What happened. One kind per ISensLogon2 / ISensNetwork callback.
enum class event_kind : std::uint8_t {
  connection_made,     ///< a TCP connection joined a session (ISensNetwork::ConnectionMade)
  connection_lost,     ///< a connection left a session (ISensNetwork::ConnectionLost)
  logon,               ///< a session reached full-feature phase (ISensLogon2::Logon)
  logoff,              ///< a session ended for good (ISensLogon2::Logoff)
  session_disconnect,  ///< a session lost its last connection unexpectedly (ISensLogon2::SessionDisconnect)
  session_reconnect,   ///< a disconnected session is logged in again (ISensLogon2::SessionReconnect)
  session_ready,       ///< LUNs are enumerated after logon (ISensLogon2::PostShell)
  nbd_attach,          ///< an NBD client started using one of the session's LUNs as an export
  nbd_detach,          ///< an NBD client stopped using it (reason says why)
};

/// Number of event kinds; kinds are dense from 0.
inline constexpr std::size_t event_kind_count = 9;

/// Why it happened.
enum class event_reason : std::uint8_t {
  none,              ///< no particular reason (e.g. a plain successful login)
  admin_login,       ///< a caller asked to log in or add a connection
  admin_logout,      ///< a caller asked to log out
  removed,           ///< a caller removed a connection from its session
  peer_closed,       ///< the target closed the TCP connection
  io_error,          ///< a socket error other than an orderly close
  protocol_error,    ///< the target sent a malformed or unexpected PDU
  nop_timeout,       ///< the target stopped answering NOP-Out pings
  target_requested,  ///< the target asked for a logout or dropped connections (Async Message)
  auth_failed,       ///< authentication failed while logging in again
  recovery,          ///< the failover subscriber re-established the session
  recovery_failed,   ///< recovery was given up by policy
  shutdown,          ///< the service is stopping
};

/// Number of event reasons; reasons are dense from 0.
inline constexpr std::size_t event_reason_count = 13;

/// One notification. Fields that do not apply to a kind stay empty / zero.
struct event {
  std::uint64_t seq = 0;        ///< monotonic within one bus (assigned by publish)
  std::string boot_id;          ///< identifies the bus instance (assigned by publish)
  std::chrono::system_clock::time_point timestamp{};  ///< when it happened (publish fills it if unset)
  event_kind kind = event_kind::logon;
  event_reason reason = event_reason::none;
  std::uint64_t session_id = 0;                   ///< UniqueSessionId, never reused in a service run
  std::optional<std::uint64_t> connection_id;     ///< UniqueConnectionId, for connection events
  std::string target;                             ///< target IQN
  std::string portal;                             ///< "host:port" of the connection
  std::optional<std::uint64_t> isid;              ///< 48-bit ISID
  std::optional<std::uint16_t> tsih;              ///< target session identifying handle
  std::optional<std::uint16_t> cid;               ///< iSCSI connection id
  std::optional<std::uint32_t> attempt;           ///< recovery attempt number (failover)
  std::string detail;                             ///< human-readable detail, e.g. an error message
};

/// The wire name of a kind, e.g. "session_disconnect".
std::string_view to_string(event_kind kind) noexcept;
/// The wire name of a reason, e.g. "nop_timeout".
std::string_view to_string(event_reason reason) noexcept;
/// Parses a kind's wire name; empty when unknown.
std::optional<event_kind> parse_event_kind(std::string_view name) noexcept;
/// Parses a reason's wire name; empty when unknown.
std::optional<event_reason> parse_event_reason(std::string_view name) noexcept;

/// Formats a 48-bit ISID as 12 lowercase hex digits, as iSCSI tools show it.
std::string format_isid(std::uint64_t isid);
/// Parses 12 hex digits into an ISID; empty when malformed.
std::optional<std::uint64_t> parse_isid(std::string_view text) noexcept;

}  // namespace isens::events
