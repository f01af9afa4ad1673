#pragma once
// The control API's methods: each one maps JSON params onto the initiator
// facade (or the registration store) and its result back to JSON. The
// streaming `subscribe` method lives in control_connection.

#include "json_rpc.hpp"
#include "registration_store.hpp"

#include <isens/initiator/initiator.hpp>

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <mutex>

namespace isens::daemon {

// Hooks for the daemon to observe calls (metrics), without the methods
// knowing about metrics.
struct rpc_observer {
  std::function<void(bool ok, std::chrono::steady_clock::duration took)> login_finished;
};

class rpc_methods {
 public:
  rpc_methods(initiator::initiator& initiator, registration_store& registrations, rpc_observer observer = {});

  // True when `method` changes state (login, logout, register…): only root
  // or members of the socket's group may call it.
  bool is_mutating(const std::string& method) const;
  // True when a method of that name exists (subscribe included).
  bool exists(const std::string& method) const;
  // Runs a method; throws rpc_error for bad params or a failed operation.
  boost::asio::awaitable<json> call(const std::string& method, const json& params);

  // Logs in with `login`; used by `login_to_target` and at start-up for
  // registered sessions. Returns the session id or throws rpc_error.
  boost::asio::awaitable<std::uint64_t> login(initiator::login_options login);

  // Adds a method served elsewhere (the NBD exports); a taken name is a
  // programming error (std::logic_error).
  void add_method(const std::string& name, bool mutating, std::function<boost::asio::awaitable<json>(const json&)> run);
  // Called on the array of sessions' JSON in `sessions` (the NBD URI of
  // each LUN). Set before any thread may call sessions_json.
  void set_sessions_decorator(std::function<void(json&)> decorate);
  // Sessions' snapshots, an array, as `sessions` returns them: the
  // initiator's JSON form, `persistent` and what the decorator adds. Safe
  // from any thread (the dashboard's /api/sessions asks from the HTTP thread).
  json sessions_json(const std::vector<initiator::session_info>& sessions) const;

  // True when the session is persistent: it holds a registration that still
  // exists, or it comes from the configuration ([[sessions]]). The failover
  // subscriber recovers only such sessions; `sessions` shows it.
  bool is_registered(std::uint64_t session_id) const;
  // Marks a live session as the holder of registration `registration_id`
  // (at login --persistent, register_session, and start-up).
  void hold_registration(std::uint64_t session_id, const std::string& registration_id);
  // Marks a session as one of isensd's configured [[sessions]]: persistent,
  // and not unregistered through the API (the file says what exists).
  void mark_configured(std::uint64_t session_id);

 private:
  using handler = std::function<boost::asio::awaitable<json>(const json&)>;
  struct method {
    bool mutating;
    handler run;
  };

  boost::asio::awaitable<json> discover(const json& params);
  boost::asio::awaitable<json> login_to_target(const json& params);
  boost::asio::awaitable<json> logout_from_target(const json& params);
  boost::asio::awaitable<json> add_connection(const json& params);
  boost::asio::awaitable<json> remove_connection(const json& params);
  boost::asio::awaitable<json> register_session(const json& params);
  boost::asio::awaitable<json> unregister_session(const json& params);
  boost::asio::awaitable<json> registered_sessions(const json& params);
  boost::asio::awaitable<json> sessions(const json& params);
  boost::asio::awaitable<json> inquiry(const json& params);
  boost::asio::awaitable<json> read_capacity(const json& params);
  boost::asio::awaitable<json> report_luns(const json& params);

  initiator::initiator& initiator_;
  registration_store& registrations_;
  rpc_observer observer_;
  std::map<std::string, method> methods_;
  std::function<void(json&)> decorate_sessions_;

  mutable std::mutex logins_mutex_;
  std::map<std::uint64_t, initiator::login_options> logins_;  // how each live session logged in
  // One registered session per target and portal: registration id -> the
  // session holding it. Two sessions to one target and portal may exist;
  // only one of them is persistent (docs/isensd.md, Persistence).
  std::map<std::string, std::uint64_t> holders_;       // guarded by logins_mutex_
  std::map<std::uint64_t, bool> configured_;           // guarded by logins_mutex_; session ids of [[sessions]]
  // The session holding `registration` if it is still logged in; caller holds logins_mutex_.
  std::optional<std::uint64_t> live_holder(const std::string& registration) const;
  // Throws when another live session holds the registration `login` would get.
  void check_registrable(const initiator::login_options& login, std::optional<std::uint64_t> session_id) const;
};

// Builds login options from request params (portal, target, chap…).
initiator::login_options login_options_from(const json& params);

}  // namespace isens::daemon
