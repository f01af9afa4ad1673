#pragma once
/// The failover subscriber: brings dropped sessions back on its own.
///
/// A session_disconnect starts one recovery per session: wait until the
/// point the target's Time2Wait names if it named one, reinstate at once
/// (same ISID, TSIH 0), then back off exponentially with jitter. Each round
/// tries the portal the session last came back through, then its own
/// portal, then the target's other portals of the session's portal group;
/// portals of other groups come last, and only once Time2Wait + Time2Retain
/// have passed since the drop (reinstatement ends the old session only in
/// its own group). Portals are learned by SendTargets while the target is
/// up (at the first logon to each target name) and discovered again after a
/// failed attempt, with the CHAP credentials of the session it is for
/// (initiator::discover_for_session: they stay inside the initiator); a
/// failed discovery keeps what was learned. Once the session is back, the
/// connections the caller had set up are added again; a lost connection of
/// a session still connected is replaced the same way, after the Time2Wait
/// point too when the target announced that drop.
/// Auth failures and the give-up deadline end the session with
/// logoff(recovery_failed). Logins and discoveries per target are capped so
/// a target restart does not meet a login storm.
///
/// Every reconnect_session call gets its own, increasing attempt number, so
/// each failed try is one session_disconnect event with that number.

#include "isens/events/event.hpp"
#include "isens/events/subscriber.hpp"
#include "isens/initiator/initiator.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace isens::subscribers {

/// How hard and how long the failover subscriber tries.
struct failover_policy {
  bool recover_all_sessions = false;                  ///< false: only sessions `should_recover` accepts (registered ones)
  std::chrono::milliseconds first_retry_delay{100};   ///< the first attempt is immediate; then this, doubling
  std::chrono::milliseconds max_retry_delay{5000};    ///< the back-off stops doubling here
  double jitter = 0.2;                                ///< each delay is scaled by a random factor in [1-j, 1+j]
  std::chrono::milliseconds give_up_after{60000};     ///< then logoff(recovery_failed)
  std::size_t max_concurrent_per_target = 16;         ///< recoveries in flight per target IQN (no login storm)
  bool replace_lost_connections = true;               ///< MC/S: a lost non-last connection is replaced
  bool honour_time2wait = true;                       ///< no login (reconnect or added connection) before the Time2Wait point of an Async Message
  bool give_up_on_auth_failure = true;                ///< wrong credentials will not heal by retrying
};

/// Recovers disconnected sessions and replaces lost MC/S connections.
class failover_subscriber final : public events::subscriber {
 public:
  /// Works on `executor` (the initiator's; one strand of it); `should_recover` gates sessions unless recover_all_sessions.
  failover_subscriber(initiator::initiator& initiator, boost::asio::any_io_executor executor, failover_policy policy,
                      std::function<bool(std::uint64_t session_id)> should_recover = {});
  /// Stops pending recoveries (safe while they run): none touches the initiator after its current call.
  ~failover_subscriber() override;

  /// Not copyable: pending recoveries refer to its state.
  failover_subscriber(const failover_subscriber&) = delete;
  /// Not copyable: pending recoveries refer to its state.
  failover_subscriber& operator=(const failover_subscriber&) = delete;

  /// Learns the target's portals (SendTargets at the logon's portal, with that session's credentials) unless known: one discovery per target name.
  void on_logon(const events::event& e) override;
  /// Forgets the portal the session last came back through.
  void on_logoff(const events::event& e) override;
  /// Starts recovering the session; ignores events with `attempt` set (its own failed attempts).
  void on_session_disconnect(const events::event& e) override;
  /// MC/S: replaces a lost connection of a session that is still connected.
  void on_connection_lost(const events::event& e) override;
  /// Sessions being recovered or having connections replaced right now.
  std::size_t recoveries_in_progress() const;
  /// The policy it was built with.
  const failover_policy& policy() const noexcept;

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace isens::subscribers
