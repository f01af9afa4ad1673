#pragma once
/// Following the fleet stream from JetStream: every host's events (or some
/// hosts', some kinds'), in stream order, hence in seq order per host,
/// through one pull consumer, ephemeral or durable (docs/fleet.md).
///
/// Used by `isensctl watch --nats` and by programs such as
/// examples/fleet_failover_handler.cpp. One thread drives a consumer.

#include "isens/events/event.hpp"
#include "isens/fleet/bridge_options.hpp"
#include "isens/fleet/host_order.hpp"
#include "isens/fleet/nats_connection.hpp"
#include "isens/fleet/nats_options.hpp"
#include "isens/fleet/subjects.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace isens::fleet {

/// A consumer that cannot start or go on; what() is one line for a person
/// (no secret in it).
class consumer_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where a new consumer starts. A durable that exists resumes instead.
enum class start_from {
  new_messages,      ///< only what is stored from now on (the local `watch` without --since)
  everything,        ///< the oldest message the stream keeps
  after_stream_seq,  ///< the message after consumer_options::after_stream_seq
  since_time,        ///< the first message stored at or after consumer_options::since_time
};

/// What to follow and how.
struct consumer_options {
  nats_options nats;                                   ///< servers, credentials, TLS
  std::string stream = stream_options{}.name;          ///< the JetStream stream (the bridge's default)
  std::vector<std::string> hosts;                      ///< host names (not escaped); empty: every host
  std::vector<events::event_kind> kinds;               ///< empty: every kind
  /// Also deliver gap messages. With exactly one kind and no gaps the
  /// server filters by kind (the whole fleet's subject tree is then never
  /// read); otherwise kinds and hosts beyond one are filtered here.
  bool gaps = true;
  start_from start = start_from::new_messages;
  std::uint64_t after_stream_seq = 0;                  ///< for start_from::after_stream_seq
  std::chrono::system_clock::time_point since_time{};  ///< for start_from::since_time
  /// A durable consumer of this name keeps the position on the server
  /// (what was acknowledged); empty: an ephemeral consumer, deleted when
  /// this object is. Names: [A-Za-z0-9_-], at most 32 characters.
  std::string durable;
  /// A durable that exists already resumes, and `start` is ignored; true
  /// refuses instead, so a start position a user asked for is never dropped.
  bool refuse_start_for_existing = false;
  /// This process is the durable's only reader: at start, messages fetched
  /// but never acknowledged by a previous run are delivered again at once,
  /// in order, rather than after ack_wait behind newer ones. Turn off when
  /// several workers share the durable (work distribution).
  bool sole_reader = true;
  std::chrono::milliseconds ack_wait{30000};  ///< unacknowledged this long: delivered again
  int batch = 256;                            ///< messages asked for per fetch
  /// One line when the consumer repairs something by itself (a consumer
  /// re-created after the server lost it); called from fetch()'s thread.
  std::function<void(const std::string&)> notice;
};

/// One message of the fleet stream: an event or a gap message.
struct fleet_message {
  std::string host;                                ///< the host's name (unescaped)
  std::uint64_t stream_seq = 0;                    ///< the JetStream stream sequence
  std::optional<events::event> event;              ///< set for an event...
  std::optional<gap_message> gap;                  ///< ...or for a gap message
  std::string payload;                             ///< the JSON as published
  order_check order;                               ///< where it stands in its host's order

 private:
  friend class fleet_consumer;
  std::shared_ptr<natsMsg> delivery_;  ///< for the acknowledgement
};

/// Counters of a consumer's life.
struct consumer_stats {
  std::uint64_t delivered = 0;   ///< messages handed out by fetch()
  std::uint64_t duplicates = 0;  ///< skipped: the same host seq seen before (see host_order)
  std::uint64_t foreign = 0;     ///< skipped and acknowledged: not a fleet subject, or an unreadable body
};

/// One consumer of the fleet stream.
class fleet_consumer {
 public:
  /// Connects, checks the stream, creates (or binds to) the consumer.
  /// Throws consumer_error: cannot connect, no such stream, a durable that
  /// exists with another filter, bad options.
  explicit fleet_consumer(consumer_options options, connection_callbacks callbacks = {});
  /// An ephemeral consumer is deleted on the server; a durable stays.
  ~fleet_consumer();
  fleet_consumer(const fleet_consumer&) = delete;
  fleet_consumer& operator=(const fleet_consumer&) = delete;

  /// Waits up to `timeout` for messages and returns those that came (none
  /// on timeout, or while the link is down: the client reconnects by
  /// itself), in stream order, filtered, duplicates skipped. Throws
  /// consumer_error when the connection is closed for good or the consumer
  /// was deleted.
  std::vector<fleet_message> fetch(std::chrono::milliseconds timeout);
  /// Acknowledges one message: the durable will not deliver it again.
  /// False when it could not be sent (link down: it will come again).
  /// Acknowledge before the consumer is destroyed.
  bool ack(const fleet_message& message);
  /// Acknowledges one message and waits for the server to confirm, which
  /// also confirms every earlier ack on this connection; false when it did not.
  bool ack_sync(const fleet_message& message);

  /// The filter subject the server applies.
  [[nodiscard]] const std::string& filter_subject() const noexcept;
  /// The consumer's name on the server.
  [[nodiscard]] const std::string& consumer_name() const noexcept;
  /// The counters so far.
  [[nodiscard]] consumer_stats stats() const noexcept;
  /// The connection (for its state and the C handles).
  [[nodiscard]] nats_connection& connection() noexcept;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

/// True when `name` may name a durable consumer: [A-Za-z0-9_-], 1 to 64 characters.
bool is_consumer_name(std::string_view name) noexcept;

/// The filter subject a consumer with these hosts and kinds uses (see
/// consumer_options::gaps).
std::string consumer_filter_subject(const consumer_options& options);

}  // namespace isens::fleet
