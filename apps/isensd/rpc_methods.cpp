#include "rpc_methods.hpp"

#include <isens/initiator/json.hpp>

#include <algorithm>

namespace isens::daemon {

namespace asio = boost::asio;

namespace {

// A failed initiator operation as a JSON-RPC error; data names the cause.
template <class T>
T unwrap(initiator::result<T> r) {
  if (!r) {
    const auto& e = r.error();
    throw rpc_error(rpc_code::operation_failed, e.what(),
                    json{{"category", e.code.category().name()}, {"value", e.code.value()},
                         {"reason", e.code.message()}});
  }
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

initiator::portal portal_from(const std::string& text) {
  auto p = initiator::portal::parse(text);
  if (!p) throw rpc_error(rpc_code::invalid_params, p.error().what());
  return *p;
}

std::optional<initiator::chap_credentials> credentials(const json& params, const char* user, const char* secret) {
  auto u = optional_string(params, user);
  auto s = optional_string(params, secret);
  if (!u && !s) return std::nullopt;
  if (!u || !s) throw rpc_error(rpc_code::invalid_params, std::string("\"") + user + "\" and \"" + secret + "\" go together");
  return initiator::chap_credentials{*u, *s};
}

initiator::digest digest_from(const json& params, const char* name) {
  const auto v = optional_string(params, name).value_or("none");
  if (const auto d = initiator::parse_digest(v)) return *d;
  throw rpc_error(rpc_code::invalid_params, std::string("param \"") + name +
                                                "\" must be \"none\", \"crc32c\" (demanded) or \"crc32c,none\", "
                                                "\"none,crc32c\" (preferred)");
}

}  // namespace

initiator::login_options login_options_from(const json& params) {
  initiator::login_options o;
  o.target_portal = portal_from(param_string(params, "portal"));
  o.target_name = param_string(params, "target");
  o.chap = credentials(params, "chap_user", "chap_secret");
  o.mutual_chap = credentials(params, "chap_target_user", "chap_target_secret");
  if (o.mutual_chap && !o.chap)
    throw rpc_error(rpc_code::invalid_params, "mutual CHAP needs \"chap_user\" and \"chap_secret\" too");
  o.header_digest = digest_from(params, "header_digest");
  o.data_digest = digest_from(params, "data_digest");
  const auto max = optional_uint(params, "max_connections").value_or(8);
  if (max < 1 || max > 65535) throw rpc_error(rpc_code::invalid_params, "param \"max_connections\" must be 1..65535");
  o.max_connections = static_cast<std::uint32_t>(max);
  return o;
}

rpc_methods::rpc_methods(initiator::initiator& initiator, registration_store& registrations, rpc_observer observer)
    : initiator_(initiator), registrations_(registrations), observer_(std::move(observer)) {
  auto bind = [this](asio::awaitable<json> (rpc_methods::*fn)(const json&)) {
    return [this, fn](const json& params) { return (this->*fn)(params); };
  };
  methods_ = {
      {"discover", {false, bind(&rpc_methods::discover)}},
      {"login_to_target", {true, bind(&rpc_methods::login_to_target)}},
      {"logout_from_target", {true, bind(&rpc_methods::logout_from_target)}},
      {"add_connection_to_session", {true, bind(&rpc_methods::add_connection)}},
      {"remove_connection_from_session", {true, bind(&rpc_methods::remove_connection)}},
      {"register_session", {true, bind(&rpc_methods::register_session)}},
      {"unregister_session", {true, bind(&rpc_methods::unregister_session)}},
      {"registered_sessions", {false, bind(&rpc_methods::registered_sessions)}},
      {"sessions", {false, bind(&rpc_methods::sessions)}},
      {"scsi_inquiry", {false, bind(&rpc_methods::inquiry)}},
      {"scsi_read_capacity", {false, bind(&rpc_methods::read_capacity)}},
      {"scsi_report_luns", {false, bind(&rpc_methods::report_luns)}},
  };
}

bool rpc_methods::is_mutating(const std::string& method) const {
  const auto found = methods_.find(method);
  return found != methods_.end() && found->second.mutating;
}

bool rpc_methods::exists(const std::string& method) const { return method == "subscribe" || methods_.contains(method); }

asio::awaitable<json> rpc_methods::call(const std::string& method, const json& params) {
  const auto found = methods_.find(method);
  if (found == methods_.end()) throw rpc_error(rpc_code::method_not_found, "no method \"" + method + "\"");
  co_return co_await found->second.run(params);
}

asio::awaitable<std::uint64_t> rpc_methods::login(initiator::login_options login) {
  const auto started = std::chrono::steady_clock::now();
  auto id = co_await initiator_.login_to_target(login);
  if (observer_.login_finished) observer_.login_finished(id.has_value(), std::chrono::steady_clock::now() - started);
  const auto session_id = unwrap(std::move(id));
  std::lock_guard lock(logins_mutex_);
  logins_[session_id] = std::move(login);
  co_return session_id;
}

std::optional<std::uint64_t> rpc_methods::live_holder(const std::string& registration) const {
  const auto held = holders_.find(registration);
  if (held == holders_.end() || !logins_.contains(held->second)) return std::nullopt;
  if (!initiator_.session(held->second)) return std::nullopt;  // ended for good (recovery given up)
  return held->second;
}

bool rpc_methods::is_registered(std::uint64_t session_id) const {
  std::string id;
  {
    std::lock_guard lock(logins_mutex_);
    if (configured_.contains(session_id)) return true;
    const auto found = logins_.find(session_id);
    if (found == logins_.end()) return false;
    id = registration_store::id_for(found->second);
    if (live_holder(id) != session_id) return false;
  }
  // Asked again at every drop, so unregistering stops recovery from then on.
  const auto registered = registrations_.list();
  return std::any_of(registered.begin(), registered.end(), [&](const registration& r) { return r.id == id; });
}

void rpc_methods::hold_registration(std::uint64_t session_id, const std::string& registration_id) {
  std::lock_guard lock(logins_mutex_);
  holders_[registration_id] = session_id;
}

void rpc_methods::mark_configured(std::uint64_t session_id) {
  std::lock_guard lock(logins_mutex_);
  configured_[session_id] = true;
}

// Refuses a second registered session to a target and portal whose
// registration another live session holds (isensd restores one session per
// registration, so a second would silently not come back).
void rpc_methods::check_registrable(const initiator::login_options& login, std::optional<std::uint64_t> session_id) const {
  const auto id = registration_store::id_for(login);
  std::lock_guard lock(logins_mutex_);
  const auto holder = live_holder(id);
  if (holder && holder != session_id) {
    throw rpc_error(rpc_code::invalid_params,
                    id + " is already registered, held by session " + std::to_string(*holder) +
                        "; one registered session per target and portal: unregister it first");
  }
}

asio::awaitable<json> rpc_methods::discover(const json& params) {
  initiator::discovery_options o;
  o.discovery_portal = portal_from(param_string(params, "portal"));
  o.chap = credentials(params, "chap_user", "chap_secret");
  o.mutual_chap = credentials(params, "chap_target_user", "chap_target_secret");
  const auto targets = unwrap(co_await initiator_.discover(o));
  json out = json::array();
  for (const auto& t : targets) out.push_back(initiator::to_json(t));
  co_return out;
}

asio::awaitable<json> rpc_methods::login_to_target(const json& params) {
  auto options = login_options_from(params);
  const bool persistent = optional_bool(params, "persistent", false);
  if (persistent) check_registrable(options, std::nullopt);  // refused before any login
  const auto session_id = co_await login(options);
  json out{{"session_id", session_id}};
  if (persistent) {
    const auto registration = registrations_.add(options);
    hold_registration(session_id, registration);
    out["registration_id"] = registration;
  }
  co_return out;
}

asio::awaitable<json> rpc_methods::logout_from_target(const json& params) {
  const auto id = param_uint(params, "session_id");
  unwrap(co_await initiator_.logout_from_target(id));
  std::lock_guard lock(logins_mutex_);
  logins_.erase(id);
  configured_.erase(id);
  co_return json{{"session_id", id}, {"logged_out", true}};
}

asio::awaitable<json> rpc_methods::add_connection(const json& params) {
  const auto id = param_uint(params, "session_id");
  std::optional<initiator::portal> where;
  if (auto p = optional_string(params, "portal")) where = portal_from(*p);
  const auto connection_id = unwrap(co_await initiator_.add_connection_to_session(id, where));
  co_return json{{"session_id", id}, {"connection_id", connection_id}};
}

asio::awaitable<json> rpc_methods::remove_connection(const json& params) {
  const auto id = param_uint(params, "session_id");
  const auto connection_id = param_uint(params, "connection_id");
  unwrap(co_await initiator_.remove_connection_from_session(id, connection_id));
  co_return json{{"session_id", id}, {"connection_id", connection_id}, {"removed", true}};
}

asio::awaitable<json> rpc_methods::register_session(const json& params) {
  const auto id = param_uint(params, "session_id");
  initiator::login_options login;
  {
    std::lock_guard lock(logins_mutex_);
    const auto found = logins_.find(id);
    if (found == logins_.end()) throw rpc_error(rpc_code::not_found, "no session with id " + std::to_string(id));
    login = found->second;
  }
  check_registrable(login, id);
  const auto registration = registrations_.add(login);
  hold_registration(id, registration);
  co_return json{{"session_id", id}, {"registration_id", registration}};
}

// By registration id, or by the id of the session holding the registration
// (as Unregister-IscsiSession -SessionIdentifier does).
asio::awaitable<json> rpc_methods::unregister_session(const json& params) {
  std::string registration;
  json out = json::object();
  if (params.contains("session_id") && !params.contains("registration_id")) {
    const auto id = param_uint(params, "session_id");
    std::lock_guard lock(logins_mutex_);
    if (configured_.contains(id))
      throw rpc_error(rpc_code::invalid_params, "session " + std::to_string(id) +
                                                    " comes from isensd's configuration ([[sessions]]): remove it there");
    const auto found = logins_.find(id);
    if (found == logins_.end()) throw rpc_error(rpc_code::not_found, "no session with id " + std::to_string(id));
    registration = registration_store::id_for(found->second);
    if (live_holder(registration) != id)
      throw rpc_error(rpc_code::not_found, "session " + std::to_string(id) + " is not registered");
    out["session_id"] = id;
  } else {
    registration = param_string(params, "registration_id");
  }
  if (!registrations_.remove(registration))
    throw rpc_error(rpc_code::not_found, "no registration \"" + registration + "\"");
  {
    std::lock_guard lock(logins_mutex_);
    holders_.erase(registration);
  }
  out["registration_id"] = registration;
  out["unregistered"] = true;
  co_return out;
}

asio::awaitable<json> rpc_methods::registered_sessions(const json&) {
  json out = json::array();
  for (const auto& r : registrations_.list()) {
    out.push_back({{"registration_id", r.id},
                   {"target", r.login.target_name},
                   {"portal", r.login.target_portal.to_string()},
                   {"auth_type", !r.login.chap ? "None" : r.login.mutual_chap ? "Mutual CHAP" : "CHAP"}});
  }
  co_return out;
}

json rpc_methods::sessions_json(const std::vector<initiator::session_info>& sessions) const {
  json out = json::array();
  for (const auto& s : sessions) {
    auto one = initiator::to_json(s);
    // Get-IscsiSession's IsPersistent: logged in again at start, recovered after a drop.
    one["persistent"] = is_registered(s.session_id);
    out.push_back(std::move(one));
  }
  if (decorate_sessions_) decorate_sessions_(out);
  return out;
}

asio::awaitable<json> rpc_methods::sessions(const json& params) {
  if (const auto id = optional_uint(params, "session_id")) co_return sessions_json({unwrap(initiator_.session(*id))});
  co_return sessions_json(initiator_.sessions());
}

void rpc_methods::add_method(const std::string& name, bool mutating, handler run) {
  if (!methods_.emplace(name, method{mutating, std::move(run)}).second)
    throw std::logic_error("control method '" + name + "' is defined twice");
}

void rpc_methods::set_sessions_decorator(std::function<void(json&)> decorate) { decorate_sessions_ = std::move(decorate); }

asio::awaitable<json> rpc_methods::inquiry(const json& params) {
  const auto data = unwrap(co_await initiator_.scsi_inquiry(param_uint(params, "session_id"), param_uint(params, "lun")));
  co_return initiator::to_json(data);
}

asio::awaitable<json> rpc_methods::read_capacity(const json& params) {
  const auto data =
      unwrap(co_await initiator_.scsi_read_capacity(param_uint(params, "session_id"), param_uint(params, "lun")));
  co_return initiator::to_json(data);
}

asio::awaitable<json> rpc_methods::report_luns(const json& params) {
  const auto luns = unwrap(co_await initiator_.scsi_report_luns(param_uint(params, "session_id")));
  co_return json{{"luns", luns}};
}

}  // namespace isens::daemon
