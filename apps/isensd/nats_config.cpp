#include "nats_config.hpp"

#include "secret_source.hpp"

#include <set>

namespace isens::daemon {
namespace {

const std::set<std::string> keys{
    "enabled",         "url",          "host",          "user",           "password_file",     "token_file",
    "nkey",            "nkey_seed_file", "creds_file",  "tls",            "tls_ca_file",       "tls_cert_file",
    "tls_key_file",    "stream",       "stream_subjects", "stream_max_age_s", "stream_max_bytes", "duplicate_window_s",
    "storage",         "max_in_flight", "ack_timeout_ms", "heartbeat_interval_ms", "retry_interval_ms"};

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& key, const std::string& why) {
  throw config_error("config " + file.string() + ": key 'nats." + key + "': " + why);
}

template <class T>
std::optional<T> get(const toml::value& t, const std::filesystem::path& file, const std::string& key) {
  if (!t.contains(key)) return std::nullopt;
  try {
    return toml::find<T>(t, key);
  } catch (const std::exception& ex) {
    fail(file, key, ex.what());
  }
}

std::int64_t get_range(const toml::value& t, const std::filesystem::path& file, const std::string& key,
                       std::int64_t fallback, std::int64_t low, std::int64_t high) {
  const auto v = get<std::int64_t>(t, file, key);
  if (!v) return fallback;
  if (*v < low || *v > high) fail(file, key, "must be between " + std::to_string(low) + " and " + std::to_string(high));
  return *v;
}

std::string secret_from(const toml::value& t, const std::filesystem::path& file, const std::string& key) {
  const auto path = get<std::string>(t, file, key);
  if (!path) return {};
  try {
    return apps::read_secret_file(*path);
  } catch (const apps::secret_error& ex) {
    fail(file, key, ex.what());
  }
}

std::vector<std::string> split_urls(const std::string& text) {
  std::vector<std::string> urls;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) urls.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return urls;
}

}  // namespace

void apply_nats_table(nats_config& c, const toml::value& t, const std::filesystem::path& file) {
  if (!t.is_table()) fail(file, "", "must be a table: [nats]");
  for (const auto& [key, ignored] : t.as_table()) {
    if (key == "password" || key == "token" || key == "nkey_seed")
      fail(file, key, "secrets are not written in the configuration: put it in a file (mode 0600) and name it with " +
                          key + "_file");
    if (!keys.contains(key)) fail(file, key, "unknown key");
  }
  auto& b = c.bridge;
  if (auto v = get<bool>(t, file, "enabled")) c.enabled = *v;
  if (auto v = get<std::string>(t, file, "url")) {
    b.nats.urls = split_urls(*v);
    if (b.nats.urls.empty()) fail(file, "url", "is empty");
  }
  if (auto v = get<std::string>(t, file, "host")) {
    if (v->empty()) fail(file, "host", "is empty");
    b.host = *v;
  }
  auto& cred = b.nats.credentials;
  if (auto v = get<std::string>(t, file, "user")) cred.user = *v;
  cred.password = secret_from(t, file, "password_file");
  if (!cred.password.empty() && cred.user.empty()) fail(file, "password_file", "goes with user");
  cred.token = secret_from(t, file, "token_file");
  if (auto v = get<std::string>(t, file, "nkey")) cred.nkey_public = *v;
  if (auto v = get<std::string>(t, file, "nkey_seed_file")) cred.nkey_seed_file = *v;
  if (cred.nkey_public.empty() != cred.nkey_seed_file.empty()) fail(file, "nkey", "nkey and nkey_seed_file go together");
  if (auto v = get<std::string>(t, file, "creds_file")) cred.creds_file = *v;
  const int kinds = !cred.user.empty() + !cred.token.empty() + !cred.nkey_public.empty() + !cred.creds_file.empty();
  if (kinds > 1) fail(file, "user", "use only one of user/password_file, token_file, nkey/nkey_seed_file or creds_file");
  if (auto v = get<bool>(t, file, "tls")) b.nats.tls.enabled = *v;
  if (auto v = get<std::string>(t, file, "tls_ca_file")) b.nats.tls.ca_file = *v;
  if (auto v = get<std::string>(t, file, "tls_cert_file")) b.nats.tls.cert_file = *v;
  if (auto v = get<std::string>(t, file, "tls_key_file")) b.nats.tls.key_file = *v;
  if (b.nats.tls.cert_file.empty() != b.nats.tls.key_file.empty())
    fail(file, "tls_cert_file", "tls_cert_file and tls_key_file go together");
  if (auto v = get<std::string>(t, file, "stream")) {
    if (v->empty() || v->find_first_of(".*> \t") != std::string::npos)
      fail(file, "stream", "must be a name without '.', '*', '>' or spaces");
    b.stream.name = *v;
  }
  if (auto v = get<std::vector<std::string>>(t, file, "stream_subjects")) {
    if (v->empty()) fail(file, "stream_subjects", "is empty");
    b.stream.subjects = *v;
  }
  b.stream.max_age = std::chrono::seconds(get_range(t, file, "stream_max_age_s", b.stream.max_age.count(), 0, 10LL * 365 * 86400));
  b.stream.max_bytes = get_range(t, file, "stream_max_bytes", b.stream.max_bytes, -1, 1LL << 50);
  b.stream.duplicate_window =
      std::chrono::seconds(get_range(t, file, "duplicate_window_s", b.stream.duplicate_window.count(), 1, 7 * 86400));
  if (auto v = get<std::string>(t, file, "storage")) {
    if (*v != "file" && *v != "memory") fail(file, "storage", "must be \"file\" or \"memory\"");
    b.stream.memory_storage = *v == "memory";
  }
  b.max_in_flight = static_cast<std::size_t>(get_range(t, file, "max_in_flight", static_cast<std::int64_t>(b.max_in_flight), 1, 65536));
  b.ack_timeout = std::chrono::milliseconds(get_range(t, file, "ack_timeout_ms", b.ack_timeout.count(), 100, 600000));
  b.heartbeat_interval =
      std::chrono::milliseconds(get_range(t, file, "heartbeat_interval_ms", b.heartbeat_interval.count(), 0, 3600000));
  if (b.heartbeat_interval.count() != 0 && b.heartbeat_interval.count() < 100)
    fail(file, "heartbeat_interval_ms", "must be 0 (off) or at least 100");
  b.retry_interval = std::chrono::milliseconds(get_range(t, file, "retry_interval_ms", b.retry_interval.count(), 10, 600000));
}

void finish_nats_config(daemon_config& c) {
  auto& b = c.nats.bridge;
  if (b.host.empty()) {
    b.host_token = fleet::default_host_token();
    b.host = fleet::unescape_host_token(b.host_token).value_or(b.host_token);
  } else {
    b.host_token = fleet::escape_host_token(b.host);
  }
  if (b.cursor_file.empty()) b.cursor_file = c.state_dir / "nats-cursor";
  if (b.nats.name == "isensd") b.nats.name = "isensd " + b.host;
}

}  // namespace isens::daemon
