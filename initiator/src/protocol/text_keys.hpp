#pragma once
/// key=value text of Login and Text PDUs (RFC 7143 §6.1): each pair is
/// `key=value` followed by one NUL byte.
///
/// Parsing is strict where the RFC says MUST: every pair, the last one too,
/// ends in NUL; keys are 1..63 bytes of [A-Za-z0-9.+@_-]; values are at most
/// 8192 bytes. A pair that continues in the next PDU (C bit) is therefore
/// not parsed alone: the login/text flow concatenates the data segments of a
/// sequence first. Runs of extra NULs (seen as padding from some targets)
/// are skipped, not reported.

#include "isens/initiator/error.hpp"
#include "protocol/bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isens::initiator::protocol {

/// One key=value pair, in wire order.
using key_value = std::pair<std::string, std::string>;

/// A list of pairs, in wire order.
using key_values = std::vector<key_value>;

/// A pair as views into the text it was parsed from.
using key_value_view = std::pair<std::string_view, std::string_view>;

/// Pairs as views, in wire order: valid while the parsed text is.
using key_value_views = std::vector<key_value_view>;

/// Longest key name (RFC 7143 §6.1).
inline constexpr std::size_t max_key_length = 63;

/// Longest value we accept (the RFC's 8192-byte minimum for text data).
inline constexpr std::size_t max_value_length = 8192;

/// Most responses with the C bit set (text continues in the next PDU, RFC
/// 7143 §6.2) one Login or Text answer may have: a target that sets C
/// forever must not keep the initiator asking for more.
inline constexpr int max_text_continuations = 1000;

/// Most bytes of an answer continued over PDUs: it is held whole until its
/// last PDU (a pair may straddle two), so this bounds what a target can make
/// the initiator hold, whatever the PDU count.
inline constexpr std::size_t max_continued_text_bytes = 16 * 1024 * 1024;

/// Checks an answer continued over PDUs against the two bounds above, given
/// the responses with C set so far and the bytes it would hold with the
/// newest part; unexpected_pdu names `what` ("the SendTargets answer") when
/// it never ended or grew too long.
inline result<void> check_continued_text(std::string_view what, int continuations, std::size_t bytes) {
  if (continuations > max_text_continuations)
    return make_error(errc::unexpected_pdu, std::string(what) + " never ended: still continued after " +
                                                std::to_string(max_text_continuations) + " responses");
  if (bytes > max_continued_text_bytes)
    return make_error(errc::unexpected_pdu, std::string(what) + " is longer than " +
                                                std::to_string(max_continued_text_bytes) + " bytes");
  return {};
}

/// Parses NUL-terminated key=value pairs; malformed_text names the offending pair.
result<key_values> parse_text(byte_span text);

/// The same as views into `text`: no string per key and value, for a reader
/// done with the pairs before the text goes (the login flow).
result<key_value_views> parse_text_views(byte_span text);

/// Owned copies of `pairs`.
key_values to_key_values(const key_value_views& pairs);

/// Appends `key=value` and its NUL terminator.
void append_text(byte_buffer& out, std::string_view key, std::string_view value);

/// Appends every pair of `pairs`.
void append_text(byte_buffer& out, const key_values& pairs);

/// True when `key` is a valid key name (1..63 bytes of [A-Za-z0-9.+@_-]).
bool is_valid_key(std::string_view key) noexcept;

/// The value of the first pair named `key`, or nullptr.
const std::string* find_value(const key_values& pairs, std::string_view key) noexcept;
const std::string_view* find_value(const key_value_views& pairs, std::string_view key) noexcept;

/// Parses a numerical value: decimal or hex ("0x"/"0X"); malformed_text on
/// anything else, on overflow of 64 bits, and on an empty number.
result<std::uint64_t> parse_number(std::string_view value);

/// Parses a boolean value: exactly "Yes" or "No"; malformed_text otherwise.
result<bool> parse_boolean(std::string_view value);

/// "Yes" or "No".
constexpr std::string_view boolean_text(bool v) noexcept { return v ? "Yes" : "No"; }

}  // namespace isens::initiator::protocol
