#pragma once
// How `watch` prints the event stream, shared by the local `watch` (isensd's
// socket) and `watch --nats` (the fleet stream), so both read the same.

#include <isens/events/event.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace isensctl {

// One event as a line of text (no newline): seq, time, kind, reason,
// session, target, portal, then the CID and detail when there are any.
std::string event_line(const isens::events::event& e);

// Prints a gap notice: {"gap":…} on stdout with `as_json`, else one line on
// stderr ("isensctl: gap in the event stream: …").
void print_gap(const nlohmann::ordered_json& gap, bool as_json);

}  // namespace isensctl
