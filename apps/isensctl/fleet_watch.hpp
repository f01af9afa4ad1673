#pragma once
// `isensctl watch --nats URL`: the fleet's events from NATS JetStream, printed
// as the local `watch` prints isensd's (docs/fleet.md).

#include <isens/fleet/bridge_options.hpp>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace isensctl {

// Options of `watch --nats`.
struct fleet_watch_request {
  std::string urls;  // --nats: one URL or several, comma-separated
  std::string stream = isens::fleet::stream_options{}.name;
  std::vector<std::string> hosts;
  std::vector<std::string> kinds;
  std::optional<std::string> since_time;
  std::optional<std::uint64_t> since_seq;
  std::string durable;
  std::optional<std::uint64_t> count;
  bool json = false;
  // Credentials and TLS, as isensd's [nats] table takes them.
  std::string user;
  std::filesystem::path password_file, token_file, nkey_seed_file, creds_file;
  std::string nkey;
  bool tls = false;
  std::filesystem::path tls_ca_file, tls_cert_file, tls_key_file;
};

// Adds --nats and the options only it takes to the `watch` command; the
// local-only options (--since, --session) exclude --nats. Returns --nats.
CLI::Option* add_fleet_watch_options(CLI::App& watch, fleet_watch_request& request);

// Runs `watch --nats`; the exit code: 0 done (--count reached), 2 bad
// options, 3 NATS or the stream unreachable, 1 the consumer failed later.
int cmd_fleet_watch(const fleet_watch_request& request);

}  // namespace isensctl
