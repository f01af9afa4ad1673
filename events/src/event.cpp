#include "isens/events/event.hpp"

#include <array>
#include <charconv>
#include <cstdio>

namespace isens::events {
namespace {

constexpr std::array<std::string_view, event_kind_count> kind_names{
    "connection_made", "connection_lost",    "logon",         "logoff",
    "session_disconnect", "session_reconnect", "session_ready", "nbd_attach",
    "nbd_detach",
};

constexpr std::array<std::string_view, event_reason_count> reason_names{
    "none",        "admin_login",      "admin_logout", "removed",  "peer_closed",
    "io_error",    "protocol_error",   "nop_timeout",  "target_requested",
    "auth_failed", "recovery",         "recovery_failed", "shutdown",
};

template <class Enum, std::size_t N>
std::optional<Enum> find_name(const std::array<std::string_view, N>& names, std::string_view name) noexcept {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(event_kind kind) noexcept {
  const auto i = static_cast<std::size_t>(kind);
  return i < kind_names.size() ? kind_names[i] : "unknown";
}

std::string_view to_string(event_reason reason) noexcept {
  const auto i = static_cast<std::size_t>(reason);
  return i < reason_names.size() ? reason_names[i] : "unknown";
}

std::optional<event_kind> parse_event_kind(std::string_view name) noexcept {
  return find_name<event_kind>(kind_names, name);
}

std::optional<event_reason> parse_event_reason(std::string_view name) noexcept {
  return find_name<event_reason>(reason_names, name);
}

std::string format_isid(std::uint64_t isid) {
  char text[16];
  std::snprintf(text, sizeof text, "%012llx", static_cast<unsigned long long>(isid & 0xffff'ffff'ffffULL));
  return text;
}

std::optional<std::uint64_t> parse_isid(std::string_view text) noexcept {
  if (text.size() != 12) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace isens::events
