#pragma once
/// What the NATS bridge publishes where (docs/isensd.md, [nats]).

#include "isens/fleet/nats_options.hpp"
#include "isens/fleet/subjects.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace isens::fleet {

/// The JetStream stream the bridge creates, or checks, at every connect.
struct stream_options {
  std::string name = "ISENS_EVENTS";  ///< no '.', '*', '>' or whitespace
  std::vector<std::string> subjects{std::string(default_stream_subjects)};  ///< must cover isens.v1.ev.<host>.>
  std::chrono::seconds max_age{std::chrono::hours(24 * 7)};  ///< 0: no limit
  std::int64_t max_bytes = 1LL << 30;                        ///< -1: no limit
  /// The server's dedup window. A resend inside it is stored once; a replay
  /// after a longer outage relies on the last-stored check instead.
  std::chrono::seconds duplicate_window{600};
  bool memory_storage = false;  ///< false: file storage
};

/// The bridge's settings.
struct bridge_options {
  nats_options nats;
  std::string host_token = default_host_token();  ///< already escaped (escape_host_token)
  std::string host;                               ///< as configured, for gap and heartbeat bodies
  std::string boot_id;                            ///< the bus's boot id, for gap and heartbeat bodies
  stream_options stream;
  std::filesystem::path cursor_file;              ///< the last seq acknowledged in order; empty: not persisted
  /// Async publishes awaiting their ack at most. 2 048 keeps the broker busy
  /// while the bridge refills in batches of a quarter (with the raw client at
  /// the same limit: 0.62–0.76 of its rate at 512, 0.64–0.87 at 2 048).
  std::size_t max_in_flight = 2048;
  std::chrono::milliseconds ack_timeout{5000};    ///< an unacked publish fails after this (then resync)
  std::chrono::milliseconds heartbeat_interval{5000};  ///< 0: no heartbeat
  std::chrono::milliseconds retry_interval{1000};  ///< between attempts to connect or set up the stream
};

}  // namespace isens::fleet
