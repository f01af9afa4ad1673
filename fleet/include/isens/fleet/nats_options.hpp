#pragma once
/// How to reach the NATS servers: URLs, credentials, TLS, and the client
/// library's reconnect settings (docs/isensd.md, [nats]).
///
/// The reconnect settings are chosen for a bridge that must notice an outage
/// quickly and never give up (the defaults of libnats 3.4.1 give up after 60
/// tries and notice a silently dead server only after ~4 minutes):
/// - max_reconnect -1: reconnect forever; the journal, not the client, holds
///   what is not yet stored, so waiting costs nothing.
/// - reconnect_wait 1 s (+ up to 100 ms jitter, 1 s with TLS): a restarted
///   broker is found within about a second, without hammering a dead one.
/// - ping_interval 5 s x max_pings_out 2: a silently dead server (host gone,
///   network cut) is noticed within ~10 s instead of ~4 min.
/// - reconnect_buffer_bytes 1 MiB: what is published during the few
///   milliseconds before the client notices a drop; the bridge stops
///   publishing while disconnected and replays from the stream's last
///   message anyway, so a larger buffer would only hold duplicates.
/// - allow_reconnect: on for consumers. The bridge turns it off: on a drop
///   the client copies what it had not yet written into its reconnect
///   buffer and sends it after the reconnect, ahead of the bridge's replay
///   of what was lost in the socket, so the stream would store a later
///   event before an earlier one. The bridge makes a new connection
///   instead (every retry_interval) and replays in order.
/// - fail_requests_on_disconnect: JetStream API requests (stream info, last
///   message) fail at once on a drop instead of waiting out their timeout.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace isens::fleet {

/// How to authenticate. At most one of password (with user), token, nkey
/// seed or creds file; the secrets are never logged nor put in an error.
struct nats_credentials {
  std::string user;                     ///< with password
  std::string password;                 ///< secret
  std::string token;                    ///< secret
  std::string nkey_public;              ///< the user's public NKey (U…), with nkey_seed_file
  std::filesystem::path nkey_seed_file; ///< file holding the NKey seed (SU…)
  std::filesystem::path creds_file;     ///< a .creds file: user JWT and NKey seed (decentralised auth)
};

/// TLS, used when `enabled` or a URL is tls://.
struct nats_tls {
  bool enabled = false;
  std::filesystem::path ca_file;    ///< trusted CAs; empty: the system's
  std::filesystem::path cert_file;  ///< client certificate chain (mutual TLS), with key_file
  std::filesystem::path key_file;
  std::string expected_hostname;    ///< empty: the URL's host
};

/// Everything a connection needs.
struct nats_options {
  /// Tried in a random order (libnats's default), so a fleet given one list
  /// spreads its connections over the cluster's servers.
  std::vector<std::string> urls{"nats://127.0.0.1:4222"};
  std::string name = "isensd";                             ///< shown by the server's connz
  nats_credentials credentials;
  nats_tls tls;
  std::chrono::milliseconds connect_timeout{2000};
  bool allow_reconnect = true;
  int max_reconnect = -1;
  std::chrono::milliseconds reconnect_wait{1000};
  std::chrono::milliseconds ping_interval{5000};
  int max_pings_out = 2;
  int reconnect_buffer_bytes = 1 << 20;
  /// How long JetStream API requests (stream info, last message) wait.
  std::chrono::milliseconds api_timeout{2000};
};

/// The URLs with any user:password@ removed, comma-separated: what may be logged.
std::string redacted_urls(const nats_options& options);
/// One URL with any user:password@ removed.
std::string redact_url(const std::string& url);

}  // namespace isens::fleet
