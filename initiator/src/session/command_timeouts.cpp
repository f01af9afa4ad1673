// Commands the target does not answer within command_timeout: ABORT TASK
// first, then LOGICAL UNIT RESET, then the connection is dropped so that
// recovery runs (RFC 7143 §11.5). Each step is logged and counted; the
// command itself is sent again after a successful abort or reset, so its
// caller sees an error only if it finally fails.
#include "session/session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <spdlog/spdlog.h>

namespace isens::initiator::detail {

namespace asio = boost::asio;
using protocol::opcode;

namespace {

// TMF responses (RFC 7143 §11.6.1) that leave no task behind at the target.
bool task_gone(std::uint8_t response) {
  return response == 0 /* function complete */ || response == 1 /* task does not exist */;
}

}  // namespace

void session::watch_commands() {
  if (watchdog_armed_ || commands_.empty()) return;
  watchdog_armed_ = true;
  // Four looks per timeout: a command is caught at most a quarter late.
  const auto period = std::max(context_->options.command_timeout / 4, std::chrono::milliseconds(10));
  watchdog_.expires_after(period);
  watchdog_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    const auto self = weak.lock();
    if (!self) return;
    self->watchdog_armed_ = false;
    if (ec || self->state_ != state::logged_in) return;
    self->check_timeouts();
    self->watch_commands();
  });
}

void session::check_timeouts() {
  const auto limit = context_->options.command_timeout;
  const auto late = std::chrono::steady_clock::now() - limit;
  commands_.for_each([&](scsi_task& task) {
    if (task.abort_sent || task.sent_at > late) return;
    task.abort_sent = true;
    asio::co_spawn(executor_, abort_command(task.itt, task.connection_id), asio::detached);
  });
}

asio::awaitable<void> session::abort_command(std::uint32_t itt, std::uint64_t connection_id) {
  const auto self = shared_from_this();
  const auto conn = find_connection(connection_id);
  const auto* found = commands_.find(itt);
  if (!conn || !found) co_return;
  const auto lun = found->lun;
  const auto cmd_sn = found->cmd_sn;
  const auto limit = context_->options.command_timeout;
  spdlog::warn("session {}: command {:#x} on LUN {} unanswered for {} ms: ABORT TASK", id_, itt, lun, limit.count());
  count(aborted);
  auto answer = co_await task_management(*conn, tmf_abort_task, lun, itt, cmd_sn);
  if (answer && task_gone(*answer)) {
    resend_command(itt);
    co_return;
  }
  if (!conn->is_open() || !find_connection(connection_id)) co_return;  // dropped meanwhile: recovery re-issues it
  spdlog::warn("session {}: ABORT TASK of {:#x} failed ({}): LOGICAL UNIT RESET of LUN {}", id_, itt,
               answer ? "response " + std::to_string(*answer) : answer.error().what(), lun);
  count(lun_resets);
  auto reset = co_await task_management(*conn, tmf_logical_unit_reset, lun, protocol::reserved_tag, 0);
  if (reset && *reset == 0) {
    // The reset ended every task of the LUN at the target; each is sent again.
    std::vector<std::uint32_t> victims;
    commands_.for_each([&](const scsi_task& task) {
      if (task.lun == lun) victims.push_back(task.itt);
    });
    for (const auto tag : victims) resend_command(tag);
    co_return;
  }
  if (!conn->is_open() || !find_connection(connection_id)) co_return;
  const std::string why = "command unanswered for " + std::to_string(limit.count()) +
                          " ms; ABORT TASK and LOGICAL UNIT RESET failed (" +
                          (reset ? "response " + std::to_string(*reset) : reset.error().what()) + ")";
  drop_connection(conn, events::event_reason::io_error, why);
}

asio::awaitable<result<std::uint8_t>> session::task_management(connection& via, std::uint8_t function,
                                                               std::uint64_t lun, std::uint32_t referenced_itt,
                                                               std::uint32_t referenced_cmd_sn) {
  const auto encoded = protocol::encode_lun(lun);
  if (!encoded) co_return encoded.error();
  protocol::pdu request(opcode::task_mgmt_request);
  request.set_immediate(true);
  request.set_final(true);
  request.set_function(function);
  request.set_lun(*encoded);
  request.set_referenced_task_tag(referenced_itt);
  request.set_cmd_sn(cmd_sn_);  // immediate: CmdSN is not advanced
  request.set_ref_cmd_sn(referenced_cmd_sn);
  auto answer = co_await round_trip(via, std::move(request), context_->options.command_timeout);
  if (!answer) co_return answer.error();
  if (answer->op() != opcode::task_mgmt_response)
    co_return make_error(errc::scsi_bad_response,
                         "task management answered with " + std::string(protocol::to_string(answer->op())));
  co_return answer->response();
}

void session::resend_command(std::uint32_t itt) {
  auto task = take_in_flight(itt);
  if (!task) return;  // answered meanwhile
  task->reissue = true;
  enqueue_in_order(std::move(task));
  dispatch();
}

}  // namespace isens::initiator::detail
