#pragma once
/// The subscriber interface: one callback per SENS-style event kind, each a
/// no-op by default, so a plugin author overrides only what it needs
/// (the way Catch2's listener base and ISensLogon2 sinks work).

#include "isens/events/event.hpp"

#include <cstdint>

namespace isens::events {

/// Receives events from the bus. Callbacks of one subscriber run one at a
/// time, in publish order, as if on a strand of their own; they never run
/// while the bus holds a lock, and a callback that blocks holds up no other
/// subscriber. A callback that throws is caught, counted and
/// logged by the bus, and the subscriber keeps receiving.
class subscriber {
 public:
  virtual ~subscriber() = default;

  /// Called for every event, before the kind-specific callback.
  virtual void on_event(const event&) {}

  /// A TCP connection joined a session (ISensNetwork::ConnectionMade).
  virtual void on_connection_made(const event&) {}
  /// A connection left a session (ISensNetwork::ConnectionLost).
  virtual void on_connection_lost(const event&) {}
  /// A session reached full-feature phase (ISensLogon2::Logon).
  virtual void on_logon(const event&) {}
  /// A session ended for good (ISensLogon2::Logoff).
  virtual void on_logoff(const event&) {}
  /// A session lost its last connection unexpectedly (ISensLogon2::SessionDisconnect).
  virtual void on_session_disconnect(const event&) {}
  /// A disconnected session is logged in again (ISensLogon2::SessionReconnect).
  virtual void on_session_reconnect(const event&) {}
  /// LUNs were enumerated after logon (ISensLogon2::PostShell).
  virtual void on_session_ready(const event&) {}

  /// `lost` events meant for this subscriber were dropped because its queue
  /// was full; they fall between the event before this call and the next.
  /// Resynchronise from a session snapshot.
  virtual void on_gap(std::uint64_t lost) { (void)lost; }
};

/// Calls `on_event`, then the callback for the event's kind.
void dispatch(subscriber& sink, const event& e);

}  // namespace isens::events
