// Full-feature phase of a session: outstanding tasks and their responses,
// the CmdSN window, SCSI commands, NOP pings and target messages.
#include "session/session.hpp"

#include <algorithm>

#include "protocol/serial_number.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace isens::initiator::detail {

namespace asio = boost::asio;
using events::event_reason;
using protocol::opcode;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::uint32_t session::new_itt() {
  // SCSI commands take their ITTs from commands_; the other requests count
  // through the tags with the top bit set (0xffffffff is reserved), skipping
  // those still in use after a wrap.
  do {
    next_itt_ = (next_itt_ + 1) | command_table::control_tag_bit;
  } while (next_itt_ == protocol::reserved_tag || tasks_.contains(next_itt_));
  return next_itt_;
}

std::shared_ptr<connection> session::pick_connection() {
  if (connections_.empty()) return nullptr;
  return connections_[round_robin_++ % connections_.size()];
}

asio::awaitable<result<protocol::pdu>> session::round_trip(connection& via, protocol::pdu request,
                                                           std::chrono::milliseconds limit,
                                                           std::shared_ptr<pending_task> task) {
  if (!task) task = std::make_shared<pending_task>(executor_);
  const auto itt = new_itt();
  task->connection_id = via.id();
  tasks_.emplace(itt, task);
  request.set_itt(itt);
  via.send(std::move(request));

  task->wakeup.expires_after(limit);
  if (!task->response) co_await task->wakeup.async_wait(use_tuple);
  tasks_.erase(itt);
  if (!task->response)
    co_return make_error(errc::command_timeout, "no answer from the target within " + std::to_string(limit.count()) +
                                                    " ms");
  co_return std::move(*task->response);
}

void session::complete_task(std::uint32_t itt, result<protocol::pdu> outcome) {
  const auto found = tasks_.find(itt);
  if (found == tasks_.end()) {
    spdlog::debug("session {}: response for unknown ITT {:#x} ignored", id_, itt);
    return;
  }
  found->second->response = std::move(outcome);
  found->second->wakeup.cancel();
}

void session::fail_tasks_on(std::uint64_t connection_id, const error& why) {
  for (auto& [itt, task] : tasks_) {
    if (task->connection_id == connection_id && !task->response) {
      task->response = why;
      task->wakeup.cancel();
    }
  }
}

asio::awaitable<result<void>> session::send_logout(connection& via, std::uint8_t reason_code) {
  protocol::pdu request(opcode::logout_request);
  request.set_immediate(true);
  request.set_final(true);
  request.set_reason_code(reason_code);
  request.set_cid(via.cid());
  request.set_cmd_sn(cmd_sn_);  // immediate: CmdSN is not advanced
  auto answer = co_await round_trip(via, std::move(request), context_->options.command_timeout);
  if (!answer) co_return make_error(errc::logout_failed, "logout failed: " + answer.error().what());
  if (answer->op() != opcode::logout_response)
    co_return make_error(errc::logout_failed, "logout answered with " + std::string(protocol::to_string(answer->op())));
  static constexpr const char* responses[] = {"", "the CID was not found", "connection recovery is not supported",
                                              "cleanup failed"};
  if (answer->response() != 0)
    co_return make_error(errc::logout_failed,
                         std::string("the target refused the logout: ") +
                             (answer->response() < 4 ? responses[answer->response()] : "unknown response"));
  co_return result<void>{};
}

void session::note_window(const protocol::pdu& p) { advance_window(p.exp_cmd_sn(), p.max_cmd_sn()); }

void session::advance_window(std::uint32_t exp, std::uint32_t max) {
  // RFC 7143 §4.2.2.1: a window with MaxCmdSN < ExpCmdSN - 1 is invalid; ignore it.
  if (protocol::serial_greater(exp, max + 1)) return;
  // Only forward: PDUs of several connections arrive in any order, and an
  // older one must not close the window again.
  if (protocol::serial_greater(exp, exp_cmd_sn_)) exp_cmd_sn_ = exp;
  if (protocol::serial_greater(max, max_cmd_sn_)) {
    max_cmd_sn_ = max;
    if (!waiting_.empty()) dispatch();
  }
}

void session::answer_target_ping(connection& from, const protocol::pdu& p) {
  protocol::pdu reply(opcode::nop_out);
  reply.set_immediate(true);
  reply.set_final(true);
  reply.set_itt(protocol::reserved_tag);
  reply.set_ttt(p.ttt());
  reply.set_lun(p.lun());
  reply.set_cmd_sn(cmd_sn_);
  from.send(std::move(reply));
}

// Parameter2 and Parameter3 of AsyncEvent 2 and 3 (RFC 7143 §11.9.1), as a
// point in time taken now: whoever reads it later waits no longer for it. Of
// two announcements, the later point holds.
void session::note_time2wait(const protocol::pdu& p) {
  const auto not_before = std::chrono::steady_clock::now() + std::chrono::seconds(p.parameter2());
  if (!reconnect_after_ || *reconnect_after_ < not_before) reconnect_after_ = not_before;
  retain_for_ = std::chrono::seconds(p.parameter3());
}

void session::forget_time2wait() {
  reconnect_after_.reset();
  retain_for_.reset();
}

void session::handle_async_message(connection& from, const protocol::pdu& p) {
  switch (p.async_event()) {
    case 1:  // the target asks for a logout
      spdlog::info("session {}: the target requests a logout", id_);
      asio::co_spawn(
          executor_, [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->logout(event_reason::target_requested); },
          asio::detached);
      break;
    case 2: {  // the target will drop one connection; reconnect after Time2Wait
      const auto cid = p.parameter1();
      const auto named = std::find_if(connections_.begin(), connections_.end(),
                                      [cid](const auto& c) { return c->cid() == cid; });
      if (named == connections_.end()) break;  // not (or no longer) ours: nothing to drop or wait for
      // Time2Wait holds for any login of the session: the reconnect when
      // this was its last connection, else the connection that replaces it.
      note_time2wait(p);
      const auto victim = *named;  // a copy: dropping it erases it from connections_
      drop_connection(victim, event_reason::target_requested, "the target announced it drops this connection");
      break;
    }
    case 3: {  // the target will drop every connection; reconnect after Time2Wait
      note_time2wait(p);
      const auto all = connections_;
      for (const auto& c : all) drop_connection(c, event_reason::target_requested, "the target announced it drops all connections");
      break;
    }
    case 4:
      spdlog::info("session {}: the target asks to renegotiate parameters on cid {}; keeping the current ones", id_, from.cid());
      break;
    default:
      spdlog::info("session {}: async message event {} (vcode {}) ignored", id_, p.async_event(), p.async_vcode());
      break;
  }
}

void session::on_pdu(connection& from, protocol::pdu p) {
  in_reader_batch_ = true;
  note_window(p);
  switch (p.op()) {
    case opcode::nop_in:
      if (p.itt() != protocol::reserved_tag) {
        complete_task(p.itt(), std::move(p));
      } else if (p.ttt() != protocol::reserved_tag) {
        answer_target_ping(from, p);
      }
      break;
    case opcode::data_in: handle_data_in(from, p); break;
    case opcode::scsi_response: handle_scsi_response(from, std::move(p)); break;
    case opcode::logout_response:
    case opcode::text_response:
    case opcode::task_mgmt_response: complete_task(p.itt(), std::move(p)); break;
    case opcode::reject: {
      // The data segment holds the rejected PDU's BHS; its ITT names the task.
      if (p.data.size() >= protocol::bhs_size) {
        const auto itt = protocol::load_be32(p.data.data() + 16);
        auto why = make_error(errc::pdu_rejected,
                              "the target rejected the request (reason " + std::to_string(p.reject_reason()) + ")");
        if (commands_.contains(itt)) finish(itt, std::move(why));
        else complete_task(itt, std::move(why));
      }
      break;
    }
    case opcode::async_message: handle_async_message(from, p); break;
    case opcode::r2t: handle_r2t(from, p); break;
    default: {
      const auto conn = find_connection(from.id());
      if (conn)
        drop_connection(conn, event_reason::protocol_error,
                        "unexpected " + std::string(protocol::to_string(p.op())) + " in full-feature phase");
      break;
    }
  }
}

asio::awaitable<void> session::ping_loop(std::shared_ptr<connection> conn) {
  const auto self = shared_from_this();
  auto timer = std::make_shared<asio::steady_timer>(executor_);
  ping_timers_[conn->id()] = timer;
  const auto& settings = context_->options;
  while (conn->is_open()) {
    timer->expires_after(settings.nop_interval);
    co_await timer->async_wait(use_tuple);
    if (!conn->is_open() || state_ != state::logged_in) break;

    protocol::pdu ping(opcode::nop_out);
    ping.set_immediate(true);
    ping.set_final(true);
    ping.set_ttt(protocol::reserved_tag);
    ping.set_cmd_sn(cmd_sn_);
    auto answer = co_await round_trip(*conn, std::move(ping), settings.nop_timeout);
    if (!answer && conn->is_open() && find_connection(conn->id()) && !departing_.contains(conn->id())) {
      drop_connection(conn, event_reason::nop_timeout,
                      "no NOP-In answer within " + std::to_string(settings.nop_timeout.count()) + " ms");
      break;
    }
  }
}

}  // namespace isens::initiator::detail
