#pragma once
// The bridge's shared state: what the libnats callbacks and the bridge's
// thread both touch, under one mutex. The thread alone owns the connection.

#include "isens/fleet/bridge.hpp"
#include "isens/fleet/nats_connection.hpp"
#include "publish_window.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace isens::fleet {

struct bridge::impl {
  impl(bridge_options o, std::shared_ptr<events::event_journal> j) : options(reconnect_by_bridge(std::move(o))), journal(std::move(j)) {}

  // The client's own reconnect would send what it had not yet written
  // before the drop after reconnecting, ahead of the replay of what was
  // lost in the socket: the stream would store events out of order. So the
  // bridge makes a new connection itself, and a publish during a drop fails
  // at once (no reconnect buffer) and is replayed in order.
  static bridge_options reconnect_by_bridge(bridge_options o) {
    o.nats.allow_reconnect = false;
    o.nats.reconnect_buffer_bytes = 1;
    return o;
  }

  const bridge_options options;
  const std::shared_ptr<events::event_journal> journal;
  std::thread thread;

  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  bool woken = false;
  bool link_up = false;          // connected and the stream set up
  bool link_closed = false;      // the client gave up: make a new connection
  bool resync_needed = true;     // ask the stream where to resume before publishing
  bool outage_reported = false;  // one warning line per outage
  std::optional<std::chrono::steady_clock::time_point> outage_since;
  std::string last_problem;      // the kind of problem logged last in this outage
  publish_window window;
  std::deque<events::journal_record> fresh;  // events just journaled, in seq order, with their line (notify)
  // Beyond it, events are read back from the journal (as fast, since it
  // reads on from where it stopped and not a JSON tree): ~10 MB at most.
  static constexpr std::size_t hand_over_limit = 16384;
  bridge_stats counters;
  std::optional<std::chrono::steady_clock::time_point> last_ack;
  std::uint64_t stored_cursor = 0;  // what the cursor file holds

  // Thread-only.
  std::unique_ptr<nats_connection> connection;
  std::uint64_t next_after = 0;  // the last seq handed to the client
  bool published_on_connection = false;  // an async publish was made on `connection`
  std::string subject_buffer, msg_id_buffer;  // an event's, rebuilt in place for each
  // Behind, the journal is read ahead in large batches, each read going on
  // from where the last one stopped (its position): reading the segment
  // from its start each time cost more than publishing.
  events::journal_record_batch backlog;
  std::size_t backlog_used = 0;    // its events already handled
  bool backlog_tail_done = true;   // its trailing gap (past its last event) handled
  std::chrono::steady_clock::time_point next_heartbeat{};
  std::chrono::steady_clock::time_point next_cursor_store{};

  void run();
  bool connect();
  bool resync();
  void publish_more();
  bool publish_fresh(std::vector<events::journal_record>& ready);
  bool publish(const std::string& subject, std::string_view body, const std::string& msg_id,
               const std::string& boot_id, std::uint64_t after, std::uint64_t position);
  // Hands one message to the client; its window entry is already recorded.
  natsStatus send(const std::string& subject, std::string_view body, const std::string& msg_id,
                  const std::string& boot_id, std::uint64_t position);
  // The client refused the publish of `position` (its window entry is marked
  // failed and a resync is due); with the lock held. `link_down`: from
  // link_dropped(), asked before taking the lock.
  void refused_locked(natsStatus status, bool link_down, const std::string& msg_id, std::uint64_t position);
  bool link_dropped() const;
  // The window is refilled in batches: only once a quarter of it is free
  // (an ack reaching the mark wakes the thread), never per ack.
  std::size_t refill_mark() const noexcept { return options.max_in_flight * 3 / 4; }
  bool window_too_full_locked() const noexcept { return window.in_flight() > refill_mark(); }
  void publish_gap(std::uint64_t first, std::uint64_t last, const char* reason, const std::string& boot_id);
  void heartbeat_if_due();
  void store_cursor_if_due(bool now);
  // Waits until nothing is in flight, the link is down, `limit` passed or
  // the last publish's ack is overdue.
  void drain(std::chrono::milliseconds limit);
  // Drops what the client still holds unanswered (after a drain, before a
  // resync): a late ack of it is then ignored by the client.
  void forget_unanswered();
  // Fails the oldest publish whose ack is ack_timeout late (a resync follows).
  void time_out_lost_ack();
  void wait_for(std::chrono::milliseconds limit);

  // Callbacks from libnats threads.
  void on_disconnected();
  void on_reconnected();
  void on_closed();
  void on_publish_result(natsMsg* msg, jsPubAck* ack, jsPubAckErr* error);

  // Logs `problem` (with the lock held) unless a problem of the same kind
  // ("connect", "stream", "publish", "cursor") was logged in this outage:
  // the client's wording of one outage varies from try to try.
  void report_problem_locked(const char* kind, const std::string& problem);
};

}  // namespace isens::fleet
