// A bridge on a journal of its own, publishing to a private nats-server:
// what the bridge tests start with. Events are appended to the journal
// directly, as isensd's journal subscriber does, and the bridge woken.
#pragma once

#include "daemon_process.hpp"
#include "nats_server.hpp"
#include "stream_reader.hpp"

#include <isens/events/event_journal.hpp>
#include <isens/fleet/bridge.hpp>

#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <memory>
#include <string>

namespace isens::test {

/// Captures what isens logs (spdlog's default logger) while it lives.
class log_capture {
 public:
  log_capture();
  ~log_capture();
  /// Every line so far, one per line.
  [[nodiscard]] std::string text() const;
  /// How many lines contain `needle`.
  [[nodiscard]] std::size_t count(const std::string& needle) const;

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

/// Settings that notice and retry fast, on the stream ISENS_TEST.
fleet::bridge_options test_bridge_options(const std::string& url, const std::filesystem::path& dir,
                                          const std::string& host = "test-host.example");

struct bridge_env {
  explicit bridge_env(std::size_t journal_max_events = 100000);
  ~bridge_env();

  /// Appends `n` events (kinds and sessions varied) and wakes the bridge.
  void append(std::size_t n);
  /// Starts the bridge with `options` (test_bridge_options by default).
  void start_bridge(std::optional<fleet::bridge_options> options = std::nullopt);
  /// Waits until the bridge's cursor reaches `seq`.
  [[nodiscard]] bool acked_through(std::uint64_t seq, std::chrono::milliseconds bound = std::chrono::seconds{30});
  /// What the stream holds.
  [[nodiscard]] std::vector<stored_message> stored() const { return read_stream(broker.url(), "ISENS_TEST"); }

  log_capture logs;
  temp_dir dir{"fleet-bridge"};
  nats_server broker;
  std::shared_ptr<events::event_journal> journal;
  std::unique_ptr<fleet::bridge> bridge;
  std::uint64_t last_seq = 0;
};

}  // namespace isens::test
