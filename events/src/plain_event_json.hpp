#pragma once
// An event's JSON (schema 1) written straight into a string, and read back,
// without building nlohmann's tree: several microseconds an event less on
// the journal's subscriber for every event, and on every reader of the
// journal (a reader catching up parses tens of thousands of lines). Only
// for events whose strings need no escaping, so the text is byte for byte
// what to_json(e).dump() gives.

#include "isens/events/event.hpp"

#include <string>
#include <string_view>

namespace isens::events::detail {

// Appends the event's compact JSON to `out` and returns true when every
// string member is printable ASCII without '"' or '\\'; otherwise leaves
// `out` unchanged and returns false (use to_json(e).dump()).
bool append_plain_event_json(const event& e, std::string& out);

// Reads text that is exactly what append_plain_event_json writes (members
// in its order, strings without escapes, numbers in range) into `out` and
// returns true; returns false for anything else, valid JSON or not, so the
// caller parses it in full (event_from_json), which also says what is wrong.
bool read_plain_event_json(std::string_view text, event& out);

}  // namespace isens::events::detail
