#pragma once
/// An RAII NATS connection with its JetStream context, over the libnats C
/// client. Holds the C handles; the whole C API stays usable through them.

#include "isens/fleet/nats_options.hpp"

#include <nats/nats.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace isens::fleet {

/// What the connection tells its owner. Every callback runs on a libnats
/// thread, never while the owner is inside a call on the connection, and
/// never after the connection's destructor returned. Keep them short.
struct connection_callbacks {
  std::function<void()> disconnected;  ///< the link dropped; the client reconnects by itself
  std::function<void()> reconnected;   ///< the link is back (JetStream state may have changed: resync)
  std::function<void()> closed;        ///< the client gave up or was closed; make a new connection
  /// An asynchronous JetStream publish ended: `ack` on success, else `error`.
  /// `msg` is the published message (headers readable); the connection
  /// destroys it after the callback returns.
  std::function<void(natsMsg* msg, jsPubAck* ack, jsPubAckErr* error)> publish_result;
  /// An asynchronous error (slow consumer, permission violation); one line.
  std::function<void(const std::string&)> async_error;
};

/// Settings of the JetStream context.
struct jetstream_settings {
  std::int64_t max_pending_async = 0;  ///< 0: no limit in the client (the owner bounds it)
};

/// A connected client. Destroying it closes the connection and waits for the
/// client's callbacks to finish.
class nats_connection {
 public:
  /// Connects to the first server that answers; throws nats_error with one
  /// line naming the (redacted) URLs and the cause, e.g. a refused
  /// connection or "Authorization Violation". Does not retry: the caller decides.
  static std::unique_ptr<nats_connection> connect(const nats_options& options, connection_callbacks callbacks = {},
                                                  jetstream_settings settings = {});
  ~nats_connection();

  nats_connection(const nats_connection&) = delete;
  nats_connection& operator=(const nats_connection&) = delete;

  /// The C connection handle (owned).
  natsConnection* handle() const noexcept;
  /// The JetStream context (owned).
  jsCtx* jetstream() const noexcept;
  /// True while the link is up (not reconnecting, not closed).
  bool is_connected() const noexcept;
  /// The URL of the server in use, redacted; empty when not connected.
  std::string connected_url() const;

 private:
  struct state;
  explicit nats_connection(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

}  // namespace isens::fleet
