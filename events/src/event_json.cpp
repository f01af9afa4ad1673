#include "isens/events/event_json.hpp"

#include "plain_event_json.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <ctime>

namespace isens::events {
namespace {

using json = nlohmann::ordered_json;

[[noreturn]] void fail(const std::string& what) { throw event_format_error("invalid event JSON: " + what); }

const json& require(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) fail(std::string("missing member \"") + key + "\"");
  return *it;
}

template <class Unsigned>
Unsigned as_unsigned(const json& value, const char* key) {
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<std::int64_t>() >= 0))
    fail(std::string("member \"") + key + "\" must be a non-negative integer");
  const auto v = value.get<std::uint64_t>();
  if (v > std::numeric_limits<Unsigned>::max()) fail(std::string("member \"") + key + "\" is out of range");
  return static_cast<Unsigned>(v);
}

std::string as_string(const json& value, const char* key) {
  if (!value.is_string()) fail(std::string("member \"") + key + "\" must be a string");
  return value.get<std::string>();
}

template <class Unsigned>
void read_optional(const json& j, const char* key, std::optional<Unsigned>& out) {
  if (const auto it = j.find(key); it != j.end() && !it->is_null()) out = as_unsigned<Unsigned>(*it, key);
}

void read_optional(const json& j, const char* key, std::string& out) {
  if (const auto it = j.find(key); it != j.end() && !it->is_null()) out = as_string(*it, key);
}

}  // namespace

std::string format_timestamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(us / 1'000'000);
  auto frac = us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return text;
}

std::chrono::system_clock::time_point parse_timestamp(std::string_view text) {
  // Exactly format_timestamp's shape, digits where it writes them, in the
  // years a time_point holds (its nanoseconds overflow past 2262).
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
  bool shaped = text.size() == shape.size();
  for (std::size_t i = 0; shaped && i < shape.size(); ++i)
    shaped = shape[i] == 'd' ? (text[i] >= '0' && text[i] <= '9') : text[i] == shape[i];
  const auto number = [&](std::size_t at, std::size_t digits) {
    int value = 0;
    for (std::size_t i = at; i < at + digits; ++i) value = value * 10 + (text[i] - '0');
    return value;
  };
  std::tm tm{};
  int micros = 0;
  if (shaped) {
    tm.tm_year = number(0, 4);
    tm.tm_mon = number(5, 2);
    tm.tm_mday = number(8, 2);
    tm.tm_hour = number(11, 2);
    tm.tm_min = number(14, 2);
    tm.tm_sec = number(17, 2);
    micros = number(20, 6);
  }
  if (!shaped || tm.tm_year < 1970 || tm.tm_year > 2199 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
      tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    fail("member \"time\" must look like 2026-11-21T23:45:01.123456Z, in the years 1970 to 2199");
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t secs = timegm(&tm);
  return std::chrono::system_clock::time_point{std::chrono::seconds{secs} + std::chrono::microseconds{micros}};
}

nlohmann::ordered_json to_json(const event& e) {
  json j{
      {"schema", event_schema_version},
      {"seq", e.seq},
      {"boot_id", e.boot_id},
      {"time", format_timestamp(e.timestamp)},
      {"kind", to_string(e.kind)},
      {"reason", to_string(e.reason)},
      {"session_id", e.session_id},
  };
  if (e.connection_id) j["connection_id"] = *e.connection_id;
  if (!e.target.empty()) j["target"] = e.target;
  if (!e.portal.empty()) j["portal"] = e.portal;
  if (e.isid) j["isid"] = format_isid(*e.isid);
  if (e.tsih) j["tsih"] = *e.tsih;
  if (e.cid) j["cid"] = *e.cid;
  if (e.attempt) j["attempt"] = *e.attempt;
  if (!e.detail.empty()) j["detail"] = e.detail;
  return j;
}

std::string to_json_line(const event& e) {
  std::string out;
  if (detail::append_plain_event_json(e, out)) return out;
  return to_json(e).dump();
}

namespace detail {
namespace {

// What nlohmann's dump copies unchanged between quotes (ensure_ascii off).
bool plain(std::string_view s) noexcept {
  for (const unsigned char c : s)
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
  return true;
}

void put_key(std::string& out, std::string_view key) {
  out += ",\"";
  out += key;
  out += "\":";
}

void put(std::string& out, std::string_view key, std::uint64_t value) {
  put_key(out, key);
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
}

void put(std::string& out, std::string_view key, std::string_view value) {
  put_key(out, key);
  out += '"';
  out += value;
  out += '"';
}

}  // namespace

// The members and their order are to_json()'s; event_json_test compares the two.
bool append_plain_event_json(const event& e, std::string& out) {
  if (!plain(e.boot_id) || !plain(e.target) || !plain(e.portal) || !plain(e.detail)) return false;
  out += "{\"schema\":";
  out += std::to_string(event_schema_version);
  put(out, "seq", e.seq);
  put(out, "boot_id", e.boot_id);
  put(out, "time", format_timestamp(e.timestamp));
  put(out, "kind", to_string(e.kind));
  put(out, "reason", to_string(e.reason));
  put(out, "session_id", e.session_id);
  if (e.connection_id) put(out, "connection_id", *e.connection_id);
  if (!e.target.empty()) put(out, "target", e.target);
  if (!e.portal.empty()) put(out, "portal", e.portal);
  if (e.isid) put(out, "isid", format_isid(*e.isid));
  if (e.tsih) put(out, "tsih", *e.tsih);
  if (e.cid) put(out, "cid", *e.cid);
  if (e.attempt) put(out, "attempt", *e.attempt);
  if (!e.detail.empty()) put(out, "detail", e.detail);
  out += '}';
  return true;
}

namespace {

// Reads the compact form member by member; each step fails (false) on the
// first byte that is not what append_plain_event_json would have written.
class plain_reader {
 public:
  explicit plain_reader(std::string_view text) noexcept : rest_(text) {}

  bool literal(std::string_view s) noexcept {
    if (!rest_.starts_with(s)) return false;
    rest_.remove_prefix(s.size());
    return true;
  }
  // `,"key":` when the next member is `key` (optional members are omitted).
  bool key(std::string_view k) noexcept {
    const auto r = rest_;
    if (literal(",\"") && literal(k) && literal("\":")) return true;
    rest_ = r;
    return false;
  }
  template <class Unsigned>
  bool number(Unsigned& out) noexcept {
    if (rest_.size() > 1 && rest_[0] == '0' && rest_[1] >= '0' && rest_[1] <= '9') return false;  // JSON has no leading zeros
    const auto [end, ec] = std::from_chars(rest_.data(), rest_.data() + rest_.size(), out);
    if (ec != std::errc{}) return false;  // also out of range for Unsigned
    rest_.remove_prefix(static_cast<std::size_t>(end - rest_.data()));
    return true;
  }
  bool string(std::string_view& out) noexcept {
    if (!literal("\"")) return false;
    const auto close = rest_.find('"');
    if (close == std::string_view::npos) return false;
    out = rest_.substr(0, close);
    if (!plain(out)) return false;  // an escape or a control byte: the full parser's job
    rest_.remove_prefix(close + 1);
    return true;
  }
  template <class Unsigned>
  bool optional_number(std::string_view k, std::optional<Unsigned>& out) noexcept {
    if (!key(k)) return true;
    Unsigned v{};
    if (!number(v)) return false;
    out = v;
    return true;
  }
  bool optional_string(std::string_view k, std::string& out) {
    if (!key(k)) return true;
    std::string_view v;
    if (!string(v)) return false;
    out = v;
    return true;
  }
  bool at_end() const noexcept { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace

bool read_plain_event_json(std::string_view text, event& out) {
  plain_reader r(text);
  event e;
  std::string_view boot_id, time, kind, reason, isid;
  if (!r.literal("{\"schema\":1") || !r.key("seq") || !r.number(e.seq) || !r.key("boot_id") || !r.string(boot_id) ||
      !r.key("time") || !r.string(time) || !r.key("kind") || !r.string(kind) || !r.key("reason") ||
      !r.string(reason) || !r.key("session_id") || !r.number(e.session_id) ||
      !r.optional_number("connection_id", e.connection_id) || !r.optional_string("target", e.target) ||
      !r.optional_string("portal", e.portal))
    return false;
  if (r.key("isid")) {
    if (!r.string(isid)) return false;
    e.isid = parse_isid(isid);
    if (!e.isid) return false;
  }
  if (!r.optional_number("tsih", e.tsih) || !r.optional_number("cid", e.cid) ||
      !r.optional_number("attempt", e.attempt) || !r.optional_string("detail", e.detail) || !r.literal("}") ||
      !r.at_end())
    return false;
  const auto k = parse_event_kind(kind);
  const auto why = parse_event_reason(reason);
  if (!k || !why) return false;
  try {
    e.timestamp = parse_timestamp(time);
  } catch (const event_format_error&) {
    return false;
  }
  e.kind = *k;
  e.reason = *why;
  e.boot_id = boot_id;
  out = std::move(e);
  return true;
}

}  // namespace detail

event event_from_json(const json& j) {
  if (!j.is_object()) fail("expected a JSON object");
  const auto schema = as_unsigned<unsigned>(require(j, "schema"), "schema");
  if (schema != event_schema_version)
    fail("unsupported schema version " + std::to_string(schema) + " (this build reads " +
         std::to_string(event_schema_version) + ")");

  event e;
  e.seq = as_unsigned<std::uint64_t>(require(j, "seq"), "seq");
  e.boot_id = as_string(require(j, "boot_id"), "boot_id");
  e.timestamp = parse_timestamp(as_string(require(j, "time"), "time"));
  const auto kind_name = as_string(require(j, "kind"), "kind");
  const auto kind = parse_event_kind(kind_name);
  if (!kind) fail("unknown kind \"" + kind_name + "\"");
  e.kind = *kind;
  const auto reason_name = as_string(require(j, "reason"), "reason");
  const auto reason = parse_event_reason(reason_name);
  if (!reason) fail("unknown reason \"" + reason_name + "\"");
  e.reason = *reason;
  e.session_id = as_unsigned<std::uint64_t>(require(j, "session_id"), "session_id");
  read_optional(j, "connection_id", e.connection_id);
  read_optional(j, "target", e.target);
  read_optional(j, "portal", e.portal);
  if (const auto it = j.find("isid"); it != j.end() && !it->is_null()) {
    const auto isid = parse_isid(as_string(*it, "isid"));
    if (!isid) fail("member \"isid\" must be 12 hex digits");
    e.isid = isid;
  }
  read_optional(j, "tsih", e.tsih);
  read_optional(j, "cid", e.cid);
  read_optional(j, "attempt", e.attempt);
  read_optional(j, "detail", e.detail);
  return e;
}

event parse_event_json(std::string_view text) {
  if (event e; detail::read_plain_event_json(text, e)) return e;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& ex) {
    fail(std::string("not JSON (") + ex.what() + ")");
  }
  return event_from_json(j);
}

}  // namespace isens::events
