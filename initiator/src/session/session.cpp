// Session lifecycle: login, connections joining and leaving, logout, and the
// events each step raises. PDU handling lives in session_io.cpp.
#include "session/session.hpp"

#include "transport/deadline.hpp"
#include "transport/tcp_connect.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <spdlog/spdlog.h>

#include <random>

namespace isens::initiator::detail {

namespace asio = boost::asio;
using events::event_kind;
using events::event_reason;

std::uint64_t make_isid(initiator_context& context) {
  static thread_local std::mt19937 random{std::random_device{}()};
  const std::uint64_t type_random = 0x80;  // T=10b (random), A=0
  const std::uint64_t bc = random() & 0xffffff;
  const std::uint64_t d = context.next_isid_qualifier.fetch_add(1) & 0xffff;
  return (type_random << 40) | (bc << 16) | d;
}

session::session(std::shared_ptr<initiator_context> context, std::uint64_t id, login_options options)
    : context_(std::move(context)),
      id_(id),
      options_(std::move(options)),
      executor_(context_->options.single_threaded ? context_->executor
                                                  : asio::any_io_executor(asio::make_strand(context_->executor))),
      hold_timer_(executor_),
      busy_timer_(executor_),
      watchdog_(executor_) {
  if (context_->options.single_threaded)
    io_executor_ = executor_.target<asio::io_context::executor_type>();
  isid_ = options_.isid.value_or(make_isid(*context_));
  // What never changes is written once; update_snapshot writes the rest.
  snapshot_.session_id = id_;
  snapshot_.initiator_name = context_->options.initiator_name;
  snapshot_.target_name = options_.target_name;
  snapshot_.target_portal = options_.target_portal;
  update_snapshot();
}

asio::awaitable<result<session::opened_connection>> session::open_connection(portal where, std::uint16_t cid) {
  const auto& settings = context_->options;
  // The digests offered, most wanted first: the negotiator takes the first
  // the target accepts, so a preference never fails a login a demand would.
  const auto offer = [](digest d, std::vector<protocol::digest_type>& list) {
    using protocol::digest_type;
    switch (d) {
      case digest::none: list.assign({digest_type::none}); break;
      case digest::crc32c: list.assign({digest_type::crc32c}); break;
      case digest::crc32c_or_none: list.assign({digest_type::crc32c, digest_type::none}); break;
      case digest::none_or_crc32c: list.assign({digest_type::none, digest_type::crc32c}); break;
    }
  };

  for (int redirects = 0; redirects <= 3; ++redirects) {
    asio::ip::tcp::socket socket(executor_);  // serial, as socket_deadline needs
    // One deadline bounds the connect, then the login: one timer per connection.
    transport::socket_deadline deadline(socket, settings.connect_timeout);
    const auto remote = co_await transport::tcp_connect(socket, where, deadline);
    if (!remote) co_return remote.error();

    login_request request;
    request.initiator_name = settings.initiator_name;
    request.initiator_alias = settings.initiator_alias;
    request.target_name = options_.target_name;
    request.isid = isid_;
    request.tsih = tsih_;
    request.cid = cid;
    request.cmd_sn = cmd_sn_;
    request.chap = options_.chap;
    request.mutual_chap = options_.mutual_chap;
    offer(options_.header_digest, request.preferences.header_digests);
    offer(options_.data_digest, request.preferences.data_digests);
    request.preferences.max_connections = options_.max_connections;
    request.skip_security_stage_without_chap = tsih_ == 0 && !options_.isid && !reinstating_;

    deadline.restart(settings.login_timeout);
    auto login = co_await run_login(socket, request);
    deadline.disarm();  // before the socket moves into its connection
    if (!login && deadline.expired())
      login = make_error(errc::login_timeout, "no login answer within " + std::to_string(settings.login_timeout.count()) + " ms");
    if (!login) {
      auto failure = login.error();
      failure.message = "login to " + options_.target_name + " at " + where.to_string() + " failed: " + failure.what();
      co_return failure;
    }
    if (login->redirect) {
      spdlog::info("session {}: {} redirected the login to {}", id_, where.to_string(), login->redirect->to_string());
      where = *login->redirect;
      continue;
    }
    connection_settings conn_settings;
    conn_settings.digests = {login->parameters.header_digest == protocol::digest_type::crc32c,
                             login->parameters.data_digest == protocol::digest_type::crc32c};
    conn_settings.max_recv_data_segment_length = login->parameters.initiator_max_recv_data_segment_length;
    conn_settings.max_send_data_segment_length = login->parameters.target_max_recv_data_segment_length;
    auto conn = std::make_shared<connection>(std::move(socket), *remote, context_->next_connection_id.fetch_add(1), cid,
                                             conn_settings, login->exp_stat_sn, where);
    co_return opened_connection{std::move(conn), std::move(*login)};
  }
  co_return make_error(errc::redirect_failed, "more than 3 login redirects from " + options_.target_portal.to_string());
}

void session::attach(opened_connection opened, event_reason reason) {
  auto& conn = opened.conn;
  // A session's first connection starts its command window; an added one's
  // login response may be older than responses already seen on the others.
  if (connections_.empty()) {
    exp_cmd_sn_ = opened.login.exp_cmd_sn;
    max_cmd_sn_ = opened.login.max_cmd_sn;
  }
  connections_.push_back(conn);
  connections_wanted_ = std::max(connections_wanted_, connections_.size());
  conn->start(weak_from_this());
  if (context_->options.nop_interval.count() > 0) asio::co_spawn(executor_, ping_loop(conn), asio::detached);
  publish(event_kind::connection_made, reason, conn.get());
  if (connections_.size() > 1) advance_window(opened.login.exp_cmd_sn, opened.login.max_cmd_sn);
}

asio::awaitable<result<void>> session::login() {
  auto opened = co_await open_connection(options_.target_portal, next_cid_++);
  if (!opened) {
    state_ = state::ended;
    co_return opened.error();
  }
  tsih_ = opened->login.tsih;
  auth_type_ = opened->login.auth_type;
  parameters_ = opened->login.parameters;
  cmd_sn_ = opened->login.exp_cmd_sn;
  state_ = state::logged_in;
  const auto* conn = opened->conn.get();
  attach(std::move(*opened), event_reason::admin_login);  // connection_made updates the snapshot
  raise(event_kind::logon, event_reason::admin_login, conn);
  co_return result<void>{};
}

asio::awaitable<result<std::uint64_t>> session::add_connection(std::optional<portal> where) {
  if (state_ != state::logged_in)
    co_return make_error(errc::session_not_logged_in, "session " + std::to_string(id_) + " is not logged in");
  if (connections_.size() >= parameters_.max_connections)
    co_return make_error(errc::login_too_many_connections,
                         "session " + std::to_string(id_) + " already has " + std::to_string(connections_.size()) +
                             " connections, the negotiated MaxConnections");
  auto opened = co_await open_connection(where.value_or(options_.target_portal), next_cid_++);
  if (!opened) co_return opened.error();
  if (state_ != state::logged_in) {  // the session ended while this connection logged in
    opened->conn->close();
    co_return make_error(errc::session_not_logged_in, "the session ended while the connection logged in");
  }
  const auto connection_id = opened->conn->id();
  forget_time2wait();
  attach(std::move(*opened), event_reason::admin_login);  // publishing updates the snapshot
  co_return connection_id;
}

asio::awaitable<result<void>> session::remove_connection(std::uint64_t connection_id) {
  const auto conn = find_connection(connection_id);
  if (!conn)
    co_return make_error(errc::no_such_connection, "session " + std::to_string(id_) + " has no connection " +
                                                       std::to_string(connection_id));
  if (connections_.size() == 1)
    co_return make_error(errc::last_connection, "connection " + std::to_string(connection_id) +
                                                    " is the last of session " + std::to_string(id_) +
                                                    "; log the session out instead");
  departing_.insert(connection_id);
  auto answer = co_await send_logout(*conn, 1);
  if (connections_wanted_ > 1) --connections_wanted_;
  detach_connection(conn, event_reason::removed);
  if (!answer) co_return answer.error();
  co_return result<void>{};
}

asio::awaitable<result<void>> session::logout(event_reason reason) {
  if (state_ == state::logging_out || state_ == state::ended)
    co_return make_error(errc::no_such_session, "session " + std::to_string(id_) + " is already logging out");
  const bool connected = state_ == state::logged_in;
  state_ = state::logging_out;
  result<void> answer;
  if (connected) {
    for (const auto& c : connections_) departing_.insert(c->id());
    answer = co_await send_logout(*connections_.front(), 0);
  }
  // detach_connection takes its own reference: it erases the element it was given.
  while (!connections_.empty()) detach_connection(connections_.back(), reason);
  state_ = state::ended;
  ended_because_ = "was logged out";
  fail_all_commands(make_error(errc::session_not_logged_in, "session " + std::to_string(id_) + " " + ended_because_));
  publish(event_kind::logoff, reason, nullptr);
  co_return answer;
}

namespace {

// Why a reconnect attempt failed, in event terms.
event_reason reason_of(const error& e) {
  if (e.code == make_error_code(errc::login_auth_failed) || e.code == make_error_code(errc::target_auth_failed))
    return event_reason::auth_failed;
  return event_reason::io_error;
}

}  // namespace

asio::awaitable<result<void>> session::reconnect(reconnect_options o) {
  if (state_ == state::logged_in)
    co_return make_error(errc::invalid_argument, "session " + std::to_string(id_) + " is connected; nothing to reconnect");
  if (state_ != state::disconnected)
    co_return make_error(errc::no_such_session, "session " + std::to_string(id_) + " has ended");
  // Reinstatement: the same ISID with TSIH 0 tells the target to drop the
  // old nexus and its tasks (RFC 7143 §6.3.5).
  tsih_ = 0;
  reinstating_ = true;
  auto opened = co_await open_connection(o.where.value_or(options_.target_portal), next_cid_++);
  reinstating_ = false;
  if (!opened) {
    if (state_ == state::disconnected)
      publish(event_kind::session_disconnect, reason_of(opened.error()), nullptr, opened.error().what(), o.attempt);
    co_return opened.error();
  }
  if (state_ != state::disconnected) {  // abandoned or logged out meanwhile
    opened->conn->close();
    co_return make_error(errc::no_such_session, "session " + std::to_string(id_) + " ended during the reconnect");
  }
  tsih_ = opened->login.tsih;
  parameters_ = opened->login.parameters;
  cmd_sn_ = opened->login.exp_cmd_sn;
  forget_time2wait();
  state_ = state::logged_in;
  const auto* conn = opened->conn.get();
  const auto wanted = connections_wanted_;
  attach(std::move(*opened), event_reason::recovery);
  connections_wanted_ = wanted;
  hold_timer_.cancel();
  const auto reissued = waiting_.size();
  publish(event_kind::session_reconnect, event_reason::recovery, conn,
          reissued ? std::to_string(reissued) + " held commands re-issued" : std::string(), o.attempt);
  dispatch();
  co_return result<void>{};
}

asio::awaitable<result<void>> session::abandon(std::string why, std::uint32_t attempts) {
  if (state_ == state::ended || state_ == state::logging_out)
    co_return make_error(errc::no_such_session, "session " + std::to_string(id_) + " has ended");
  if (state_ == state::logged_in)
    co_return make_error(errc::invalid_argument, "session " + std::to_string(id_) + " is connected; log it out instead");
  state_ = state::ended;
  ended_because_ = "ended: its recovery was given up (recovery_failed): " + why;
  fail_all_commands(make_error(errc::session_not_logged_in, "recovery of session " + std::to_string(id_) +
                                                                " was given up (recovery_failed): " + why));
  publish(event_kind::logoff, event_reason::recovery_failed, nullptr, std::move(why),
          attempts ? std::optional<std::uint32_t>(attempts) : std::nullopt);
  co_return result<void>{};
}

void session::abort() {
  state_ = state::ended;
  ended_because_ = "ended: the initiator was destroyed";
  for (const auto& c : connections_) c->close();
  connections_.clear();
  for (auto& [itt, task] : tasks_) task->wakeup.cancel();
  for (auto& [id, timer] : ping_timers_) timer->cancel();
  watchdog_.cancel();
  fail_all_commands(make_error(errc::shutting_down, "the initiator was destroyed"));
  update_snapshot();
}

void session::detach_connection(std::shared_ptr<connection> conn, event_reason reason) {
  departing_.erase(conn->id());
  lose_connection(std::move(conn), reason, "the connection was logged out", {});
  if (state_ == state::logged_in) dispatch();
}

void session::drop_connection(const std::shared_ptr<connection>& conn, event_reason reason, const std::string& why) {
  // At ErrorRecoveryLevel 0 there is no connection recovery: the CmdSNs a
  // lost connection carried leave a hole that the target waits on forever,
  // so a connection lost with unanswered commands takes the session with it
  // and reinstatement starts a fresh command sequence (docs/design-notes.md).
  const auto unanswered = commands_.in_flight_on(conn->id());
  lose_connection(conn, reason, why, why);
  if (unanswered > 0 && !connections_.empty() && state_ == state::logged_in) {
    const auto whole = "connection " + std::to_string(conn->id()) + " was lost with " + std::to_string(unanswered) +
                       " unanswered commands, which only session recovery re-issues (ErrorRecoveryLevel 0): " + why;
    while (!connections_.empty()) lose_connection(connections_.back(), reason, whole, whole);
  }
  if (connections_.empty() && state_ == state::logged_in) {
    state_ = state::disconnected;
    hold_commands(why);
    const auto held = waiting_.size();
    publish(event_kind::session_disconnect, reason, conn.get(),
            held ? why + " (" + std::to_string(held) + " commands held)" : why);
  } else if (state_ == state::logged_in) {
    dispatch();  // what the lost connection carried goes out on the others
  }
  // Logged after publishing: stderr is synchronous, and failover should not wait for it.
  spdlog::warn("session {}: connection {} (cid {}) lost: {}", id_, conn->id(), conn->cid(), why);
}

void session::lose_connection(std::shared_ptr<connection> conn, event_reason reason, const std::string& why,
                              const std::string& detail) {
  conn->close();
  std::erase(connections_, conn);
  if (const auto timer = ping_timers_.find(conn->id()); timer != ping_timers_.end()) {
    timer->second->cancel();
    ping_timers_.erase(timer);
  }
  fail_tasks_on(conn->id(), make_error(errc::connection_closed, why));
  requeue_commands_on(conn->id());
  publish(event_kind::connection_lost, reason, conn.get(), detail);  // publishing updates the snapshot
}

void session::on_connection_failed(connection& which, event_reason reason, const error& why) {
  const auto conn = find_connection(which.id());
  if (!conn) return;
  if (departing_.contains(conn->id()) || state_ == state::logging_out) return;  // we are closing it ourselves
  drop_connection(conn, reason, why.what());
}

std::shared_ptr<connection> session::find_connection(std::uint64_t connection_id) const {
  for (const auto& c : connections_) {
    if (c->id() == connection_id) return c;
  }
  return nullptr;
}

void session::publish(event_kind kind, event_reason reason, const connection* conn, std::string detail,
                      std::optional<std::uint32_t> attempt) {
  update_snapshot();
  raise(kind, reason, conn, std::move(detail), attempt);
}

void session::raise(event_kind kind, event_reason reason, const connection* conn, std::string detail,
                    std::optional<std::uint32_t> attempt) {
  events::event e;
  e.kind = kind;
  e.reason = reason;
  e.session_id = id_;
  e.target = options_.target_name;
  e.portal = conn ? conn->target_portal().to_string() : options_.target_portal.to_string();
  e.isid = isid_;
  if (tsih_ != 0) e.tsih = tsih_;
  if (conn) {
    e.connection_id = conn->id();
    e.cid = conn->cid();
  }
  e.detail = std::move(detail);
  e.attempt = attempt;
  context_->bus.publish(std::move(e));
}

// In place, under the lock: the strings keep their buffers, where a fresh
// session_info would copy every name again on every event.
void session::update_snapshot() {
  std::lock_guard lock(snapshot_mutex_);
  auto& info = snapshot_;
  info.isid = isid_;
  info.tsih = tsih_;
  info.connected = state_ == state::logged_in && !connections_.empty();
  info.auth_type = auth_type_;
  info.header_digest = parameters_.header_digest == protocol::digest_type::crc32c;
  info.data_digest = parameters_.data_digest == protocol::digest_type::crc32c;
  info.max_connections = parameters_.max_connections;
  info.default_time2wait = parameters_.default_time2wait;
  info.default_time2retain = parameters_.default_time2retain;
  info.portal_group_tag = parameters_.target_portal_group_tag;
  info.initial_r2t = parameters_.initial_r2t;
  info.immediate_data = parameters_.immediate_data;
  info.max_burst_length = parameters_.max_burst_length;
  info.first_burst_length = parameters_.first_burst_length;
  info.max_outstanding_r2t = parameters_.max_outstanding_r2t;
  info.data_pdu_in_order = parameters_.data_pdu_in_order;
  info.data_sequence_in_order = parameters_.data_sequence_in_order;
  info.error_recovery_level = parameters_.error_recovery_level;
  info.max_recv_data_segment_length = parameters_.initiator_max_recv_data_segment_length;
  info.max_send_data_segment_length = parameters_.target_max_recv_data_segment_length;
  info.target_alias = parameters_.target_alias;
  info.reconnect_after = reconnect_after_;
  info.retain_for = retain_for_;
  info.connections_wanted = connections_wanted_;
  info.connections.clear();
  for (const auto& c : connections_)
    info.connections.push_back({c->id(), c->cid(), c->local_address(), c->remote_address(),
                                c->settings().max_recv_data_segment_length, c->settings().max_send_data_segment_length});
  info.devices = devices_;
}

session_info session::snapshot() const {
  session_info info;
  {
    std::lock_guard lock(snapshot_mutex_);
    info = snapshot_;
  }
  const auto value = [this](counter c) { return counters_.values[c].load(std::memory_order_relaxed); };
  auto& io = info.io;
  io.read_ops = value(read_ops);
  io.read_bytes = value(read_bytes);
  io.write_ops = value(write_ops);
  io.write_bytes = value(write_bytes);
  io.failed = value(failed);
  io.held = value(held);
  io.reissued = value(reissued);
  io.retried = value(retried);
  io.aborted = value(aborted);
  io.lun_resets = value(lun_resets);
  io.in_flight = in_flight_.load(std::memory_order_relaxed);
  io.queued = queued_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < io.latency_buckets.size(); ++i)
    io.latency_buckets[i] = counters_.latency[i].load(std::memory_order_relaxed);
  io.latency_sum_us = counters_.latency_sum_us.load(std::memory_order_relaxed);
  return info;
}

}  // namespace isens::initiator::detail
