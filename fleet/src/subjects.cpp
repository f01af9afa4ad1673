// Subject names, message ids and the small JSON bodies of the fleet stream.
#include "isens/fleet/subjects.hpp"

#include "isens/events/event_json.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <fstream>

namespace isens::fleet {
namespace {

bool is_plain(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::uint64_t> parse_u64(std::string_view text) noexcept {
  std::uint64_t value = 0;
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Splits "a.b.c" into tokens; false when there are more than `max`.
bool split_tokens(std::string_view subject, std::string_view* out, std::size_t max, std::size_t& count) {
  count = 0;
  while (true) {
    if (count == max) return false;
    auto dot = subject.find('.');
    out[count++] = subject.substr(0, dot);
    if (dot == std::string_view::npos) return true;
    subject.remove_prefix(dot + 1);
  }
}

}  // namespace

std::string escape_host_token(std::string_view host) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string token;
  token.reserve(host.size());
  for (char c : host) {
    if (is_plain(c)) {
      token += c;
    } else {
      auto byte = static_cast<unsigned char>(c);
      token += '_';
      token += digits[byte >> 4];
      token += digits[byte & 0x0f];
    }
  }
  return token;
}

std::optional<std::string> unescape_host_token(std::string_view token) {
  if (token.empty()) return std::nullopt;
  std::string host;
  for (std::size_t i = 0; i < token.size(); ++i) {
    char c = token[i];
    if (is_plain(c)) {
      host += c;
      continue;
    }
    if (c != '_' || i + 2 >= token.size()) return std::nullopt;
    int high = hex_value(token[i + 1]);
    int low = hex_value(token[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    auto byte = static_cast<char>((high << 4) | low);
    if (is_plain(byte)) return std::nullopt;  // not canonical: two tokens would name one host
    host += byte;
    i += 2;
  }
  return host;
}

bool is_host_token(std::string_view token) noexcept {
  try {
    return unescape_host_token(token).has_value();
  } catch (...) {  // bad_alloc only
    return false;
  }
}

std::string default_host_token() {
  char name[256] = {};
  std::string host;
  if (::gethostname(name, sizeof name - 1) == 0) host = name;
  if (host.empty() || host == "localhost") {
    std::ifstream machine_id("/etc/machine-id");
    std::getline(machine_id, host);
  }
  if (host.empty()) host = "unknown-host";
  return escape_host_token(host);
}

namespace {

void append_decimal(std::string& out, std::uint64_t n) {
  char digits[20];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
}

}  // namespace

void write_event_subject(std::string& out, std::string_view host_token, std::uint64_t session_id,
                         events::event_kind kind) {
  out.assign(event_subject_prefix);
  out += host_token;
  out += '.';
  append_decimal(out, session_id);
  out += '.';
  out += events::to_string(kind);
}

std::string event_subject(std::string_view host_token, std::uint64_t session_id, events::event_kind kind) {
  std::string subject;
  write_event_subject(subject, host_token, session_id, kind);
  return subject;
}

std::string gap_subject(std::string_view host_token) {
  std::string subject(event_subject_prefix);
  subject += host_token;
  subject += '.';
  subject += gap_session_token;
  subject += '.';
  subject += gap_kind_token;
  return subject;
}

std::string host_filter(std::string_view host_token) {
  std::string subject(event_subject_prefix);
  subject += host_token;
  subject += ".>";
  return subject;
}

std::string heartbeat_subject(std::string_view host_token) {
  std::string subject(heartbeat_subject_prefix);
  subject += host_token;
  return subject;
}

void write_event_msg_id(std::string& out, std::string_view host_token, std::string_view boot_id, std::uint64_t seq) {
  out.assign(host_token);
  out += ':';
  out += boot_id;
  out += ':';
  append_decimal(out, seq);
}

std::string event_msg_id(std::string_view host_token, std::string_view boot_id, std::uint64_t seq) {
  std::string id;
  write_event_msg_id(id, host_token, boot_id, seq);
  return id;
}

std::string gap_msg_id(std::string_view host_token, std::uint64_t first_seq, std::uint64_t last_seq) {
  std::string id(host_token);
  id += ":gap:";
  id += std::to_string(first_seq);
  id += '-';
  id += std::to_string(last_seq);
  return id;
}

std::optional<parsed_subject> parse_subject(std::string_view subject) {
  std::string_view tokens[6];
  std::size_t count = 0;
  if (!split_tokens(subject, tokens, 6, count) || count < 4) return std::nullopt;
  if (tokens[0] != "isens" || tokens[1] != "v1") return std::nullopt;
  parsed_subject parsed;
  auto host = unescape_host_token(tokens[3]);
  if (!host) return std::nullopt;
  parsed.host_token = std::string(tokens[3]);
  parsed.host = std::move(*host);
  if (tokens[2] == "hb") {
    if (count != 4) return std::nullopt;
    parsed.is_heartbeat = true;
    return parsed;
  }
  if (tokens[2] != "ev" || count != 6) return std::nullopt;
  if (tokens[4] == gap_session_token && tokens[5] == gap_kind_token) {
    parsed.is_gap = true;
    return parsed;
  }
  auto session = parse_u64(tokens[4]);
  auto kind = events::parse_event_kind(tokens[5]);
  if (!session || !kind) return std::nullopt;
  parsed.session_id = *session;
  parsed.kind = kind;
  return parsed;
}

std::string to_json_line(const gap_message& gap) {
  nlohmann::ordered_json j;
  j["schema"] = events::event_schema_version;
  j["kind"] = "gap";
  j["host"] = gap.host;
  j["boot_id"] = gap.boot_id;
  j["first_seq"] = gap.first_seq;
  j["last_seq"] = gap.last_seq;
  j["count"] = gap.count();
  j["reason"] = gap.reason;
  return j.dump();
}

std::optional<gap_message> parse_gap_message(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("kind", "") != "gap") return std::nullopt;
  try {
    gap_message gap;
    gap.host = j.at("host").get<std::string>();
    gap.boot_id = j.value("boot_id", "");
    gap.first_seq = j.at("first_seq").get<std::uint64_t>();
    gap.last_seq = j.at("last_seq").get<std::uint64_t>();
    gap.reason = j.value("reason", "");
    if (gap.last_seq < gap.first_seq) return std::nullopt;
    return gap;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string heartbeat_json(std::string_view host, std::string_view boot_id, std::uint64_t head_seq,
                           std::uint64_t acked_seq) {
  nlohmann::ordered_json j;
  j["schema"] = events::event_schema_version;
  j["host"] = host;
  j["boot_id"] = boot_id;
  j["head_seq"] = head_seq;
  j["acked_seq"] = acked_seq;
  j["time"] = events::format_timestamp(std::chrono::system_clock::now());
  return j.dump();
}

}  // namespace isens::fleet
