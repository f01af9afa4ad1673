#include "isens/initiator/types.hpp"

#include <charconv>

namespace isens::initiator {

std::string_view to_string(digest d) noexcept {
  switch (d) {
    case digest::crc32c: return "crc32c";
    case digest::crc32c_or_none: return "crc32c,none";
    case digest::none_or_crc32c: return "none,crc32c";
    case digest::none: break;
  }
  return "none";
}

std::optional<digest> parse_digest(std::string_view text) {
  std::string lower;
  for (const char c : text) {
    if (c != ' ') lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  for (const auto d : {digest::none, digest::crc32c, digest::crc32c_or_none, digest::none_or_crc32c}) {
    if (lower == to_string(d)) return d;
  }
  return std::nullopt;
}

std::string portal::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

result<portal> portal::parse(std::string_view text) {
  auto bad = [&](const char* why) {
    return make_error(errc::invalid_argument, "invalid portal \"" + std::string(text) + "\": " + why);
  };
  if (text.empty()) return bad("empty");

  portal out;
  std::string_view port_text;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    out.host = std::string(text.substr(1, close - 1));
    const auto after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected ':' after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon) return bad("IPv6 addresses need [brackets]");
    out.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
  }
  if (out.host.empty()) return bad("empty host");
  if (!port_text.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 || value > 65535)
      return bad("port must be a number from 1 to 65535");
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

}  // namespace isens::initiator
