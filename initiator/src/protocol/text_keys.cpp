#include "protocol/text_keys.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace isens::initiator::protocol {
namespace {

// [A-Za-z0-9.+@_-], as a table: every key of every Login PDU is checked.
constexpr auto key_chars = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c)
    table[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '+' || c == '@' || c == '_';
  return table;
}();

bool is_key_char(char c) noexcept { return key_chars[static_cast<unsigned char>(c)]; }

// A printable excerpt of untrusted text for error messages.
std::string excerpt(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 40) out += "...";
  return out;
}

}  // namespace

bool is_valid_key(std::string_view key) noexcept {
  return !key.empty() && key.size() <= max_key_length && std::all_of(key.begin(), key.end(), is_key_char);
}

result<key_values> parse_text(byte_span text) {
  auto pairs = parse_text_views(text);
  if (!pairs) return pairs.error();
  return to_key_values(*pairs);
}

key_values to_key_values(const key_value_views& pairs) { return key_values(pairs.begin(), pairs.end()); }

result<key_value_views> parse_text_views(byte_span text) {
  key_value_views pairs;
  const std::string_view all(reinterpret_cast<const char*>(text.data()), text.size());
  pairs.reserve(16);  // a Login response's pairs, usually; counting them first cost more than growing
  std::size_t at = 0;
  while (at < all.size()) {
    if (all[at] == '\0') {  // extra NUL padding between or after pairs
      ++at;
      continue;
    }
    const std::size_t end = all.find('\0', at);
    if (end == std::string_view::npos) {
      return make_error(errc::malformed_text, "key=value pair not terminated by NUL: \"" + excerpt(all.substr(at)) + "\"");
    }
    const std::string_view pair = all.substr(at, end - at);
    at = end + 1;
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return make_error(errc::malformed_text, "key=value pair without '=': \"" + excerpt(pair) + "\"");
    }
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = pair.substr(eq + 1);
    if (!is_valid_key(key)) {
      return make_error(errc::malformed_text, "invalid key name \"" + excerpt(key) + "\"");
    }
    if (value.size() > max_value_length) {
      return make_error(errc::malformed_text, "value of " + std::string(key) + " is " + std::to_string(value.size()) +
                                                  " bytes, more than " + std::to_string(max_value_length));
    }
    pairs.emplace_back(key, value);
  }
  return pairs;
}

void append_text(byte_buffer& out, std::string_view key, std::string_view value) {
  // Sized once and copied with memcpy: inserting chars into a vector of
  // bytes would copy them one by one.
  const std::size_t at = out.size();
  out.resize(at + key.size() + 1 + value.size() + 1);
  auto* p = out.data() + at;
  const auto put = [&p](std::string_view s) {
    if (!s.empty()) std::memcpy(p, s.data(), s.size());  // an empty view may hold nullptr
    p += s.size();
  };
  put(key);
  *p++ = '=';
  put(value);
  *p = '\0';
}

void append_text(byte_buffer& out, const key_values& pairs) {
  // One allocation for the whole text: an exact reserve per pair would
  // reallocate on every key.
  std::size_t total = out.size();
  for (const auto& [key, value] : pairs) total += key.size() + value.size() + 2;
  out.reserve(total);
  for (const auto& [key, value] : pairs) append_text(out, key, value);
}

const std::string* find_value(const key_values& pairs, std::string_view key) noexcept {
  for (const auto& kv : pairs) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

const std::string_view* find_value(const key_value_views& pairs, std::string_view key) noexcept {
  for (const auto& kv : pairs) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

result<std::uint64_t> parse_number(std::string_view value) {
  int base = 10;
  std::string_view digits = value;
  if (digits.size() >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  std::uint64_t n = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n, base);
  if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size()) {
    return make_error(errc::malformed_text, "not a number: \"" + excerpt(value) + "\"");
  }
  return n;
}

result<bool> parse_boolean(std::string_view value) {
  if (value == "Yes") return true;
  if (value == "No") return false;
  return make_error(errc::malformed_text, "not Yes or No: \"" + excerpt(value) + "\"");
}

}  // namespace isens::initiator::protocol
