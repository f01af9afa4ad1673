#pragma once
/// The stable JSON form of an event (schema version 1), used by the event
/// stream, the journal, plugins and `isensctl watch --json`.
///
/// {"schema":1,"seq":7,"boot_id":"…","time":"2026-11-21T23:45:01.123456Z",
///  "kind":"session_disconnect","reason":"peer_closed","session_id":3,
///  "connection_id":5,"target":"iqn…","portal":"127.0.0.1:3260",
///  "isid":"400001370000","tsih":1,"cid":0,"attempt":2,"detail":"…"}
/// Optional members are omitted when empty. Unknown members are ignored so
/// newer producers can add fields without breaking older consumers.

#include "isens/events/event.hpp"

#include <nlohmann/json_fwd.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace isens::events {

/// The schema version written into every JSON event.
inline constexpr int event_schema_version = 1;

/// Thrown by the parsers when text is not a valid JSON event; the message
/// names the offending member.
class event_format_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The event as a JSON object.
nlohmann::ordered_json to_json(const event& e);
/// The event as one line of compact JSON (no trailing newline).
std::string to_json_line(const event& e);
/// Parses a JSON object into an event; throws event_format_error.
event event_from_json(const nlohmann::ordered_json& j);
/// Parses JSON text into an event; throws event_format_error.
event parse_event_json(std::string_view text);

/// Formats a timestamp as RFC 3339 UTC with microseconds.
std::string format_timestamp(std::chrono::system_clock::time_point t);
/// Parses the form format_timestamp writes; throws event_format_error.
std::chrono::system_clock::time_point parse_timestamp(std::string_view text);

}  // namespace isens::events
