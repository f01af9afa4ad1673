#include "daemon_config.hpp"

#include "default_paths.hpp"
#include "nats_config.hpp"
#include "secret_source.hpp"

#include <nlohmann/json.hpp>
#include <toml.hpp>

#include <map>
#include <sstream>
#include <set>

namespace isens::daemon {
namespace {

using table = toml::basic_value<toml::discard_comments>;

// Every table and the keys it may hold; anything else is a typo.
const std::map<std::string, std::set<std::string>>& known_keys() {
  static const std::map<std::string, std::set<std::string>> keys{
      {"initiator",
       {"name", "alias", "connect_timeout_ms", "login_timeout_ms", "command_timeout_ms", "nop_interval_ms",
        "nop_timeout_ms", "lone_command_poll_us", "batch_commands_from"}},
      {"daemon", {"state_dir", "socket", "socket_mode", "socket_group", "log_level", "journal_max_events"}},
      {"metrics", {"enabled", "listen"}},
      {"dashboard", {"enabled", "ping_interval_ms", "client_queue_frames", "max_stream_clients"}},
      {"bus", {"delivery_threads", "spin_after_events_us"}},
      {"logging", {"enabled", "format", "sink", "path", "max_size_mb", "max_files"}},
      {"nbd", {"enabled", "socket", "listen"}},
      {"failover",
       {"enabled", "recover_all_sessions", "first_retry_delay_ms", "max_retry_delay_ms", "give_up_after_ms",
        "max_concurrent_per_target", "replace_lost_connections"}},
  };
  return keys;
}

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& key, const std::string& why) {
  throw config_error("config " + file.string() + ": key '" + key + "': " + why);
}

// Reads an optional key with toml11's typed access; a type error keeps
// toml11's message, which shows the line.
template <class T>
std::optional<T> get(const table& t, const std::filesystem::path& file, const std::string& section,
                     const std::string& key) {
  if (!t.contains(key)) return std::nullopt;
  try {
    return toml::find<T>(t, key);
  } catch (const std::exception& ex) {
    fail(file, section + "." + key, ex.what());
  }
}

std::chrono::milliseconds get_ms(const table& t, const std::filesystem::path& file, const std::string& key,
                                 std::chrono::milliseconds fallback, const std::string& section = "initiator") {
  const auto value = get<std::int64_t>(t, file, section, key);
  if (!value) return fallback;
  if (*value < 0 || *value > 3'600'000) fail(file, section + "." + key, "must be between 0 and 3600000");
  return std::chrono::milliseconds(*value);
}

// A TOML value as JSON, for a plugin's [plugins.config] table. Dates and
// times become their TOML text (RFC 3339), which a plugin can parse.
nlohmann::json to_json(const table& v) {
  if (v.is_table()) {
    auto out = nlohmann::json::object();
    for (const auto& [key, value] : v.as_table()) out[key] = to_json(value);
    return out;
  }
  if (v.is_array()) {
    auto out = nlohmann::json::array();
    for (const auto& value : v.as_array()) out.push_back(to_json(value));
    return out;
  }
  if (v.is_string()) return v.as_string().str;
  if (v.is_integer()) return v.as_integer();
  if (v.is_floating()) return v.as_floating();
  if (v.is_boolean()) return v.as_boolean();
  std::ostringstream text;
  text << v;
  return text.str();
}

// [[plugins]]: path (required), enabled, config (a table handed to the
// plugin as JSON). Each entry is checked like a section: unknown keys are typos.
void apply_plugins(daemon_config& c, const table& plugins, const std::filesystem::path& file) {
  if (!plugins.is_array()) {
    fail(file, "plugins",
         "must be [[plugins]] tables, each with path, enabled and a [plugins.config] table "
         "(the former [plugins] paths = [...] is gone)");
  }
  std::size_t index = 0;
  for (const auto& entry : plugins.as_array()) {
    const auto where = "plugins[" + std::to_string(index++) + "]";
    if (!entry.is_table()) fail(file, where, "must be a table: [[plugins]]");
    for (const auto& [key, ignored] : entry.as_table()) {
      if (key != "path" && key != "enabled" && key != "config") fail(file, where + "." + key, "unknown key (known: path, enabled, config)");
    }
    plugin_config plugin;
    const auto path = get<std::string>(entry, file, where, "path");
    if (!path || path->empty()) fail(file, where + ".path", "is required: the plugin's .so");
    plugin.path = *path;
    if (auto v = get<bool>(entry, file, where, "enabled")) plugin.enabled = *v;
    if (entry.contains("config")) {
      const auto& config = toml::find(entry, "config");
      if (!config.is_table()) fail(file, where + ".config", "must be a table: [plugins.config] or config = { ... }");
      plugin.config_json = to_json(config).dump();
    }
    c.plugins.push_back(std::move(plugin));
  }
}

// A CHAP pair of a [[sessions]] table: the user and the file its secret is
// read from (never the secret itself in the configuration).
std::optional<initiator::chap_credentials> chap_from(const table& entry, const std::filesystem::path& file,
                                                     const std::string& where, const char* user_key,
                                                     const char* file_key) {
  const auto user = get<std::string>(entry, file, where, user_key);
  const auto secret_file = get<std::string>(entry, file, where, file_key);
  if (!user && !secret_file) return std::nullopt;
  if (!user || !secret_file) fail(file, where + "." + (user ? file_key : user_key), std::string("goes with ") + (user ? user_key : file_key));
  try {
    return initiator::chap_credentials{*user, apps::read_secret_file(*secret_file)};
  } catch (const apps::secret_error& ex) {
    fail(file, where + "." + file_key, ex.what());
  }
}

initiator::digest digest_from(const table& entry, const std::filesystem::path& file, const std::string& where,
                              const char* key) {
  const auto text = get<std::string>(entry, file, where, key);
  if (!text) return initiator::digest::none;
  const auto d = initiator::parse_digest(*text);
  if (!d) fail(file, where + "." + key, "must be \"none\", \"crc32c\", \"crc32c,none\" or \"none,crc32c\"");
  return *d;
}

// [[sessions]]: targets isensd logs in to at start, like open-iscsi's node
// records with node.startup = automatic.
void apply_sessions(daemon_config& c, const table& sessions, const std::filesystem::path& file) {
  static const std::set<std::string> keys{"portal", "target", "chap_user", "chap_secret_file", "chap_target_user",
                                          "chap_target_secret_file", "header_digest", "data_digest", "max_connections"};
  if (!sessions.is_array()) fail(file, "sessions", "must be [[sessions]] tables");
  std::size_t index = 0;
  for (const auto& entry : sessions.as_array()) {
    const auto where = "sessions[" + std::to_string(index++) + "]";
    if (!entry.is_table()) fail(file, where, "must be a table: [[sessions]]");
    for (const auto& [key, ignored] : entry.as_table()) {
      if (key == "chap_secret" || key == "chap_target_secret")
        fail(file, where + "." + key, "secrets are not written in the configuration: put it in a file (mode 0600) and name it with " + key + "_file");
      if (!keys.contains(key)) fail(file, where + "." + key, "unknown key");
    }
    initiator::login_options login;
    const auto portal = get<std::string>(entry, file, where, "portal");
    if (!portal) fail(file, where + ".portal", "is required");
    auto parsed = initiator::portal::parse(*portal);
    if (!parsed) fail(file, where + ".portal", parsed.error().what());
    login.target_portal = *parsed;
    const auto target = get<std::string>(entry, file, where, "target");
    if (!target || target->empty()) fail(file, where + ".target", "is required");
    login.target_name = *target;
    login.chap = chap_from(entry, file, where, "chap_user", "chap_secret_file");
    login.mutual_chap = chap_from(entry, file, where, "chap_target_user", "chap_target_secret_file");
    if (login.mutual_chap && !login.chap) fail(file, where + ".chap_target_user", "mutual CHAP needs chap_user too");
    login.header_digest = digest_from(entry, file, where, "header_digest");
    login.data_digest = digest_from(entry, file, where, "data_digest");
    if (auto v = get<std::int64_t>(entry, file, where, "max_connections")) {
      if (*v < 1 || *v > 65535) fail(file, where + ".max_connections", "must be between 1 and 65535");
      login.max_connections = static_cast<std::uint32_t>(*v);
    }
    c.sessions.push_back(std::move(login));
  }
}

}  // namespace

daemon_config default_config() {
  daemon_config c;
  c.state_dir = apps::default_state_dir();
  c.socket_path = apps::default_socket_path();
  c.initiator.initiator_name = "iqn.2026-11.org.isens:isensd";
  return c;
}

void apply_config_file(daemon_config& c, const std::filesystem::path& file) {
  table root;
  try {
    root = toml::parse(file.string());
  } catch (const std::exception& ex) {
    throw config_error("config " + file.string() + ": " + ex.what());
  }
  if (!root.is_table()) throw config_error("config " + file.string() + ": not a TOML table");

  for (const auto& [section, value] : root.as_table()) {
    const auto known = known_keys().find(section);
    if (section == "plugins" || section == "sessions" || section == "nats") continue;  // arrays of tables, checked below
    if (known == known_keys().end()) fail(file, section, "unknown section (known: initiator, daemon, metrics, dashboard, bus, logging, plugins, sessions, failover, nbd, nats)");
    if (!value.is_table()) fail(file, section, "must be a table, e.g. [" + section + "]");
    for (const auto& [key, ignored] : value.as_table()) {
      if (!known->second.contains(key)) fail(file, section + "." + key, "unknown key");
    }
  }

  if (root.contains("initiator")) {
    const auto& t = toml::find(root, "initiator");
    if (auto v = get<std::string>(t, file, "initiator", "name")) c.initiator.initiator_name = *v;
    if (auto v = get<std::string>(t, file, "initiator", "alias")) c.initiator.initiator_alias = *v;
    c.initiator.connect_timeout = get_ms(t, file, "connect_timeout_ms", c.initiator.connect_timeout);
    c.initiator.login_timeout = get_ms(t, file, "login_timeout_ms", c.initiator.login_timeout);
    c.initiator.command_timeout = get_ms(t, file, "command_timeout_ms", c.initiator.command_timeout);
    c.initiator.nop_interval = get_ms(t, file, "nop_interval_ms", c.initiator.nop_interval);
    c.initiator.nop_timeout = get_ms(t, file, "nop_timeout_ms", c.initiator.nop_timeout);
    if (auto v = get<std::int64_t>(t, file, "initiator", "lone_command_poll_us")) {
      if (*v < 0 || *v > 1000) fail(file, "initiator.lone_command_poll_us", "must be between 0 (no polling) and 1000");
      c.initiator.lone_command_poll = std::chrono::microseconds(*v);
    }
    if (auto v = get<std::int64_t>(t, file, "initiator", "batch_commands_from")) {
      if (*v < 0 || *v > 65536) fail(file, "initiator.batch_commands_from", "must be between 0 (never batch) and 65536");
      c.initiator.batch_commands_from = static_cast<std::uint32_t>(*v);
    }
  }
  if (root.contains("daemon")) {
    const auto& t = toml::find(root, "daemon");
    if (auto v = get<std::string>(t, file, "daemon", "state_dir")) c.state_dir = *v;
    if (auto v = get<std::string>(t, file, "daemon", "socket")) c.socket_path = *v;
    if (auto v = get<std::string>(t, file, "daemon", "socket_mode")) {
      try {
        std::size_t used = 0;
        c.socket_mode = static_cast<unsigned>(std::stoul(*v, &used, 8));
        if (used != v->size() || c.socket_mode > 0777) throw std::invalid_argument(*v);
      } catch (const std::exception&) {
        fail(file, "daemon.socket_mode", "must be an octal mode like \"0660\"");
      }
    }
    if (auto v = get<std::string>(t, file, "daemon", "socket_group")) c.socket_group = *v;
    if (auto v = get<std::string>(t, file, "daemon", "log_level")) c.log_level = *v;
    if (auto v = get<std::int64_t>(t, file, "daemon", "journal_max_events")) {
      if (*v < 100) fail(file, "daemon.journal_max_events", "must be at least 100");
      c.journal_max_events = static_cast<std::size_t>(*v);
    }
  }
  if (root.contains("metrics")) {
    const auto& t = toml::find(root, "metrics");
    if (auto v = get<bool>(t, file, "metrics", "enabled")) c.metrics_enabled = *v;
    if (auto v = get<std::string>(t, file, "metrics", "listen")) c.metrics_listen = *v;
  }
  if (root.contains("dashboard")) {
    const auto& t = toml::find(root, "dashboard");
    auto& d = c.dashboard;
    if (auto v = get<bool>(t, file, "dashboard", "enabled")) d.enabled = *v;
    d.ping_interval = get_ms(t, file, "ping_interval_ms", d.ping_interval, "dashboard");
    if (d.ping_interval.count() < 10) fail(file, "dashboard.ping_interval_ms", "must be at least 10");
    if (auto v = get<std::int64_t>(t, file, "dashboard", "client_queue_frames")) {
      if (*v < 4 || *v > 1'000'000) fail(file, "dashboard.client_queue_frames", "must be between 4 and 1000000");
      d.client_queue_frames = static_cast<std::size_t>(*v);
    }
    if (auto v = get<std::int64_t>(t, file, "dashboard", "max_stream_clients")) {
      if (*v < 1 || *v > 10000) fail(file, "dashboard.max_stream_clients", "must be between 1 and 10000");
      d.max_stream_clients = static_cast<std::size_t>(*v);
    }
  }
  if (root.contains("bus")) {
    const auto& t = toml::find(root, "bus");
    if (auto v = get<std::int64_t>(t, file, "bus", "delivery_threads")) {
      if (*v < 1 || *v > 64) fail(file, "bus.delivery_threads", "must be between 1 and 64");
      c.bus.delivery_threads = static_cast<std::size_t>(*v);
    }
    if (auto v = get<std::int64_t>(t, file, "bus", "spin_after_events_us")) {
      if (*v < 0 || *v > 1'000'000) fail(file, "bus.spin_after_events_us", "must be between 0 (no watcher) and 1000000");
      c.bus.spin_after_events = std::chrono::microseconds(*v);
    }
  }
  if (root.contains("logging")) {
    const auto& t = toml::find(root, "logging");
    if (auto v = get<bool>(t, file, "logging", "enabled")) c.logger_enabled = *v;
    if (auto v = get<std::string>(t, file, "logging", "format")) c.logging.format = *v;
    if (auto v = get<std::string>(t, file, "logging", "sink")) c.logging.sink = *v;
    if (auto v = get<std::string>(t, file, "logging", "path")) c.logging.path = *v;
    if (auto v = get<std::int64_t>(t, file, "logging", "max_size_mb")) c.logging.max_size_mb = static_cast<std::size_t>(std::max<std::int64_t>(*v, 1));
    if (auto v = get<std::int64_t>(t, file, "logging", "max_files")) c.logging.max_files = static_cast<std::size_t>(std::max<std::int64_t>(*v, 1));
  }
  if (root.contains("failover")) {
    const auto& t = toml::find(root, "failover");
    auto& f = c.failover;
    if (auto v = get<bool>(t, file, "failover", "enabled")) f.enabled = *v;
    if (auto v = get<bool>(t, file, "failover", "recover_all_sessions")) f.recover_all_sessions = *v;
    f.first_retry_delay = get_ms(t, file, "first_retry_delay_ms", f.first_retry_delay, "failover");
    f.max_retry_delay = get_ms(t, file, "max_retry_delay_ms", f.max_retry_delay, "failover");
    f.give_up_after = get_ms(t, file, "give_up_after_ms", f.give_up_after, "failover");
    if (auto v = get<std::int64_t>(t, file, "failover", "max_concurrent_per_target")) {
      if (*v < 1 || *v > 1024) fail(file, "failover.max_concurrent_per_target", "must be between 1 and 1024");
      f.max_concurrent_per_target = static_cast<std::size_t>(*v);
    }
    if (auto v = get<bool>(t, file, "failover", "replace_lost_connections")) f.replace_lost_connections = *v;
  }
  if (root.contains("nbd")) {
    const auto& t = toml::find(root, "nbd");
    if (auto v = get<bool>(t, file, "nbd", "enabled")) c.nbd.enabled = *v;
    if (auto v = get<std::string>(t, file, "nbd", "socket")) c.nbd.socket = *v;
    if (auto v = get<std::string>(t, file, "nbd", "listen")) c.nbd.listen = *v;
  }
  if (root.contains("nats")) apply_nats_table(c.nats, toml::find(root, "nats"), file);
  if (root.contains("plugins")) apply_plugins(c, toml::find(root, "plugins"), file);
  if (root.contains("sessions")) apply_sessions(c, toml::find(root, "sessions"), file);
}

void validate(const daemon_config& c) {
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
  if (!levels.contains(c.log_level)) throw config_error("log level '" + c.log_level + "' is not one of trace, debug, info, warn, error, off");
  if (c.initiator.initiator_name.rfind("iqn.", 0) != 0 && c.initiator.initiator_name.rfind("eui.", 0) != 0 &&
      c.initiator.initiator_name.rfind("naa.", 0) != 0)
    throw config_error("initiator name '" + c.initiator.initiator_name + "' must start with iqn., eui. or naa.");
  if (c.initiator.nop_interval.count() != 0 && c.initiator.nop_interval.count() < 100)
    throw config_error("nop interval must be 0 (off) or at least 100 ms");
  if (c.initiator.nop_timeout.count() < 100) throw config_error("nop timeout must be at least 100 ms");
  if (c.logging.format != "text" && c.logging.format != "json")
    throw config_error("logging format '" + c.logging.format + "' is not text or json");
  if (c.logging.sink != "stderr" && c.logging.sink != "file" && c.logging.sink != "syslog")
    throw config_error("logging sink '" + c.logging.sink + "' is not stderr, file or syslog");
  if (c.logging.sink == "file" && c.logging.path.empty()) throw config_error("logging sink 'file' needs a path");
  if (c.failover.first_retry_delay.count() < 1) throw config_error("failover first retry delay must be at least 1 ms");
  if (c.failover.max_retry_delay < c.failover.first_retry_delay)
    throw config_error("failover max retry delay must be at least the first retry delay");
  if (c.failover.give_up_after.count() < 1) throw config_error("failover give-up deadline must be at least 1 ms");
  if (c.socket_path.empty()) throw config_error("the control socket path is empty");
  if (!c.nbd.listen.empty() && !initiator::portal::parse(c.nbd.listen))
    throw config_error("nbd listen address '" + c.nbd.listen + "' is not host:port");
  if (c.state_dir.empty()) throw config_error("the state directory is empty");
}

}  // namespace isens::daemon
