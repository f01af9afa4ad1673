#pragma once
// The lexical pieces of the Prometheus text format 0.0.4: what a valid name
// is, how help text, label values and sample values are written. Kept apart
// from the registry so the rules sit in one place.

#include <string>
#include <string_view>

namespace isens::subscribers::detail {

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name) noexcept;
// [a-zA-Z_][a-zA-Z0-9_]*, and not starting with "__" (reserved for Prometheus itself).
bool valid_label_name(std::string_view name) noexcept;

// HELP text: backslash and newline are escaped (quotes are not, per 0.0.4).
void append_help(std::string& out, std::string_view help);
// A label value: backslash, double quote and newline are escaped.
void append_label_value(std::string& out, std::string_view value);
// A sample value as Go's ParseFloat reads it back: shortest round-trip
// digits, "+Inf", "-Inf", "NaN".
void append_value(std::string& out, double value);

}  // namespace isens::subscribers::detail
