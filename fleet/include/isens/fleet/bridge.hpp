#pragma once
/// The NATS bridge: publishes every event of the journal to a JetStream
/// stream, exactly once and in order per host (docs/design-notes.md, "The
/// fleet stream").
///
/// It works from the journal, on a thread of its own: the bus and the
/// initiator never wait for it, and a broker that is down only makes the
/// journal's unpublished tail grow. Publishing is asynchronous with at most
/// `max_in_flight` publishes awaiting their ack; the persisted cursor moves
/// only over acknowledged events, in order. At every connect and reconnect
/// the bridge asks the stream for this host's last stored message and
/// replays the journal from there, so a broker restarted empty, an ack lost
/// with the connection or an isensd killed mid-publish leave neither holes
/// nor duplicates. What the journal no longer holds is published as a gap
/// message with its count (subjects.hpp).

#include "isens/fleet/bridge_options.hpp"

#include <isens/events/event_journal.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace isens::fleet {

/// What the bridge has done, for metrics and tests.
struct bridge_stats {
  bool connected = false;           ///< linked to a server and the stream is set up
  std::uint64_t head_seq = 0;       ///< the journal's last seq
  std::uint64_t acked_seq = 0;      ///< the cursor: every seq up to it is in the stream
  std::uint64_t lag_events = 0;     ///< head_seq - acked_seq
  std::uint64_t published = 0;      ///< messages the stream stored (events and gaps)
  std::uint64_t duplicates = 0;     ///< resends the stream recognised by their message id
  std::uint64_t gap_messages = 0;   ///< gap messages stored
  std::uint64_t gap_events = 0;     ///< seqs those gap messages account for
  std::uint64_t publish_errors = 0; ///< publishes that failed or timed out (then replayed)
  std::uint64_t resyncs = 0;        ///< times the bridge asked the stream where to resume
  std::uint64_t outages = 0;        ///< times the link was lost or could not be made
  /// Time since the last ack; empty before the first.
  std::optional<std::chrono::duration<double>> last_ack_age;
};

/// The bridge. start() once; stop() (or the destructor) ends it.
class bridge {
 public:
  /// Shares the journal: the bridge reads it on its own thread.
  bridge(bridge_options options, std::shared_ptr<events::event_journal> journal);
  /// Stops (see stop()).
  ~bridge();

  bridge(const bridge&) = delete;
  bridge& operator=(const bridge&) = delete;

  /// Starts the bridge's thread (signals blocked); it connects, retrying
  /// every retry_interval with one warning line per distinct failure.
  void start();
  /// Waits up to ack_timeout for the acks in flight, stores the cursor,
  /// closes the connection and joins the thread. Idempotent.
  void stop();
  /// The journal has new events: wakes the thread. Cheap, never blocks on I/O.
  void notify() noexcept;
  /// The journal has just appended `records`: wakes the thread once and
  /// hands it those it stored (moved from, with their JSON), so while it is
  /// caught up it publishes the journal's own line without reading it back
  /// or serialising again (a bounded queue; what it drops, or what the
  /// journal did not store, is read from the journal).
  void notify(std::span<events::journal_record> records);

  /// Current counters.
  bridge_stats stats() const;
  /// The options in use.
  const bridge_options& options() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace isens::fleet
