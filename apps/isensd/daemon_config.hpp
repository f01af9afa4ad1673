#pragma once
// isensd's configuration: TOML file first, then command-line flags on top.
// A bad file is an error that names the file, line and key; the daemon
// never starts half-configured.

#include <isens/events/event_bus.hpp>
#include <isens/fleet/bridge_options.hpp>
#include <isens/initiator/types.hpp>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace isens::daemon {

// Thrown for a bad configuration file or flag; the message is for a person.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How the logger subscriber writes.
struct logging_config {
  std::string format = "text";  // text | json
  std::string sink = "stderr";  // stderr | file | syslog
  std::filesystem::path path;   // for sink = file
  std::size_t max_size_mb = 10;
  std::size_t max_files = 5;
};

// The failover subscriber ([failover]); defaults match failover_policy's.
struct failover_config {
  bool enabled = true;
  bool recover_all_sessions = false;  // false: registered sessions only
  std::chrono::milliseconds first_retry_delay{100};
  std::chrono::milliseconds max_retry_delay{5000};
  std::chrono::milliseconds give_up_after{60000};
  std::size_t max_concurrent_per_target = 16;
  bool replace_lost_connections = true;
};

// The NBD exports ([nbd]): every disk LUN of every logged-in session.
struct nbd_config {
  bool enabled = true;
  std::filesystem::path socket;  // default: nbd.sock beside the control socket
  std::string listen;            // "host:port" for TCP too; "" (default): Unix socket only
};

// The dashboard on the HTTP listener ([dashboard]; docs/isensd.md, Dashboard).
struct dashboard_config {
  bool enabled = true;                            // the page, /api/… and /events
  std::chrono::milliseconds ping_interval{15000};  // an SSE comment this often on idle streams
  std::size_t client_queue_frames = 1024;         // a live stream this far behind is closed (it resumes)
  std::size_t max_stream_clients = 200;           // event streams open at once
};

// The fleet stream ([nats]; docs/isensd.md, NATS): off by default. The
// bridge's host token, cursor file and boot id are filled in by the daemon
// when not configured.
struct nats_config {
  bool enabled = false;
  fleet::bridge_options bridge;
};

// One [[plugins]] table: a subscriber plugin and its own configuration.
struct plugin_config {
  std::filesystem::path path;
  bool enabled = true;              // false: kept in the file, not loaded
  std::string config_json = "{}";   // the [plugins.config] table as a JSON object, handed to the plugin's create()
};

struct daemon_config {
  initiator::initiator_options initiator;
  std::filesystem::path state_dir;
  std::filesystem::path socket_path;
  unsigned socket_mode = 0660;
  std::optional<std::string> socket_group;  // default: the daemon's own group
  std::string metrics_listen = "127.0.0.1:9463";  // "" turns the endpoint off
  std::string log_level = "info";
  logging_config logging;
  failover_config failover;
  nbd_config nbd;
  dashboard_config dashboard;
  nats_config nats;
  events::bus_options bus;  // [bus]: delivery threads and the watcher's spin
  bool logger_enabled = true;
  bool metrics_enabled = true;
  std::size_t journal_max_events = 100000;
  // [[sessions]]: logged in at start and persistent, like registered ones;
  // CHAP secrets read from their chap_secret_file when the file is loaded.
  std::vector<initiator::login_options> sessions;
  std::vector<plugin_config> plugins;  // [[plugins]] tables, then --plugin flags (no configuration)
};

// Defaults for this user (see default_paths.hpp).
daemon_config default_config();

// Applies a TOML file over `config`. Unknown keys are errors (a typo must not
// be silently ignored).
void apply_config_file(daemon_config& config, const std::filesystem::path& file);

// Checks values that no single key can check (ranges, combinations).
void validate(const daemon_config& config);

}  // namespace isens::daemon
