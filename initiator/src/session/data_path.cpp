// The data path of a session: SCSI commands in flight and waiting, the
// CmdSN window, Data-In placed in the caller's buffer, R2T answered with
// Data-Out from it, and commands held through a disconnect and sent again.
// RFC 7143 §11.3-§11.8; the offsets live in protocol/pdu.hpp.
#include "session/session.hpp"

#include "session/command_batching.hpp"

#include "protocol/scsi_sense.hpp"
#include "protocol/serial_number.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace isens::initiator::detail {

namespace asio = boost::asio;
using protocol::opcode;

namespace {

// A command sent this many times without an answer fails: a target that
// keeps breaking the protocol on it must not make it loop for ever.
constexpr std::uint32_t max_sends = 32;
// UNIT ATTENTION / BUSY / TASK SET FULL answers absorbed per command.
constexpr std::uint32_t max_retries = 16;

std::string itt_text(std::uint32_t itt) {
  char text[16];
  std::snprintf(text, sizeof text, "%#x", itt);
  return text;
}

}  // namespace

void session::count(counter c, std::uint64_t n) noexcept {
  auto& v = counters_.values[c];
  v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);  // one writer: the executor
}

void session::count_latency(std::chrono::steady_clock::duration d) noexcept {
  const auto us = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(io_latency_bounds_us.begin(), io_latency_bounds_us.end(), us) - io_latency_bounds_us.begin());
  auto& b = counters_.latency[bucket];
  b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  counters_.latency_sum_us.store(counters_.latency_sum_us.load(std::memory_order_relaxed) + us,
                                 std::memory_order_relaxed);
}

void session::submit(std::unique_ptr<scsi_task> task) {
  task->order = next_order_++;
  const auto now = std::chrono::steady_clock::now();
  if (task->submitted == std::chrono::steady_clock::time_point{}) task->submitted = now;
  if (state_ == state::disconnected) {
    if (hold_expired_ || context_->options.recovery_hold.count() == 0) {
      complete(std::move(task), make_error(errc::session_not_logged_in, "session " + std::to_string(id_) +
                                                                             " is disconnected: " + held_because_));
      return;
    }
    count(held);
    waiting_.push_back(std::move(task));
    queued_.store(waiting_.size(), std::memory_order_relaxed);
    return;
  }
  if (state_ != state::logged_in) {
    complete(std::move(task), make_error(errc::session_not_logged_in,
                                         "session " + std::to_string(id_) +
                                             (ended_because_.empty() ? " is not logged in" : " " + ended_because_)));
    return;
  }
  waiting_.push_back(std::move(task));
  dispatch(now);
}

std::chrono::microseconds session::poll_before_sleep(const connection& c) const {
  // Only a lone command: with more in flight, answers come in batches and
  // a poll would cost CPU for little.
  const auto poll = context_->options.lone_command_poll;
  return poll.count() > 0 && commands_.in_flight_on(c.id()) == 1 ? poll : std::chrono::microseconds{0};
}

connection& session::least_loaded_connection() const {
  if (connections_.size() == 1) return *connections_.front();  // the usual session: no load to compare
  connection* best = nullptr;
  std::uint32_t least = 0;
  for (const auto& c : connections_) {
    const auto load = commands_.in_flight_on(c->id());
    if (!best || load < least) {
      best = c.get();
      least = load;
    }
  }
  return *best;
}

void session::enqueue_in_order(std::unique_ptr<scsi_task> task) {
  const auto at = std::upper_bound(waiting_.begin(), waiting_.end(), task->order,
                                   [](std::uint64_t order, const auto& t) { return order < t->order; });
  waiting_.insert(at, std::move(task));
}

void session::dispatch(std::optional<std::chrono::steady_clock::time_point> now) {
  // Never past MaxCmdSN (RFC 7143 §4.2.2.1): tgt would not notice, istgt
  // drops such commands silently. With many in flight, new commands go out
  // in batches (command_batching.hpp); on_pdus_drained dispatches again.
  const bool gather = batch_not_ready(context_->options.batch_commands_from, commands_.size(), waiting_.size());
  while (!gather && !waiting_.empty() && state_ == state::logged_in && !connections_.empty() && !dispatch_paused_ &&
         protocol::serial_greater_equal(max_cmd_sn_, cmd_sn_) && !commands_.full()) {
    auto task = std::move(waiting_.front());
    waiting_.pop_front();
    if (!now) now = std::chrono::steady_clock::now();
    send_command(std::move(task), least_loaded_connection(), *now);
  }
  queued_.store(waiting_.size(), std::memory_order_relaxed);
  in_flight_.store(commands_.size(), std::memory_order_relaxed);
  watch_commands();
}

void session::send_command(std::unique_ptr<scsi_task> task, connection& via,
                           std::chrono::steady_clock::time_point now) {
  if (++task->sends > max_sends) {
    complete(std::move(task), make_error(errc::command_timeout, "the command was sent " + std::to_string(max_sends) +
                                                                    " times without an answer"));
    return;
  }
  if (std::exchange(task->reissue, false)) count(reissued);
  const auto lun = protocol::encode_lun(task->lun);
  if (!lun) {
    complete(std::move(task), lun.error());
    return;
  }
  task->cmd_sn = cmd_sn_++;
  task->connection_id = via.id();
  task->next_data_sn = 0;
  task->received = 0;
  task->next_r2t_sn = 0;
  task->abort_sent = false;
  task->sent_at = now;
  auto& sent = *task;
  const auto itt = commands_.insert(std::move(task));

  protocol::pdu command(opcode::scsi_command);
  command.set_read_flag(sent.direction == data_direction::read);
  command.set_write_flag(sent.direction == data_direction::write);
  command.set_task_attr(protocol::task_attribute::simple);
  command.set_lun(*lun);
  command.set_itt(itt);
  command.set_expected_data_transfer_length(sent.length);
  command.set_cmd_sn(sent.cmd_sn);
  command.set_cdb(sent.cdb);

  if (sent.direction != data_direction::write) {
    command.set_final(true);
    via.send(std::move(command));
    return;
  }
  // Unsolicited data (RFC 7143 §13.10-13.14): immediate data within
  // FirstBurstLength and the target's MaxRecvDataSegmentLength, then, when
  // InitialR2T=No, Data-Out up to FirstBurstLength; the rest waits for R2Ts.
  const auto target_mrdsl = via.settings().max_send_data_segment_length;
  const std::uint32_t immediate =
      parameters_.immediate_data ? std::min({sent.length, parameters_.first_burst_length, target_mrdsl}) : 0;
  const std::uint32_t unsolicited =
      parameters_.initial_r2t ? immediate : std::min(sent.length, parameters_.first_burst_length);
  command.set_final(unsolicited == immediate);
  via.send(std::move(command), protocol::byte_span(sent.buffer, immediate));
  if (unsolicited > immediate) send_data_out(via, sent, protocol::reserved_tag, immediate, unsolicited - immediate);
}

void session::send_data_out(connection& via, const scsi_task& task, std::uint32_t ttt, std::uint32_t offset,
                            std::uint32_t length) {
  const auto lun = protocol::encode_lun(task.lun);  // checked when the command was sent
  const auto limit = via.settings().max_send_data_segment_length;
  const std::uint32_t end = offset + length;
  std::uint32_t data_sn = 0;  // one sequence: DataSN starts at 0 (§11.7.5)
  for (std::uint32_t at = offset; at < end;) {
    const std::uint32_t n = std::min(limit, end - at);
    protocol::pdu out(opcode::data_out);
    out.set_final(at + n == end);
    out.set_lun(lun ? *lun : 0);
    out.set_itt(task.itt);
    out.set_ttt(ttt);
    out.set_data_sn(data_sn++);
    out.set_buffer_offset(at);
    via.send(std::move(out), protocol::byte_span(task.buffer + at, n));
    at += n;
  }
}

result<std::uint8_t*> session::place_data_in(connection& from, const protocol::pdu& header) {
  const auto* found = commands_.find(header.itt());
  if (!found) return nullptr;  // a command already settled (aborted, or its connection replaced)
  const auto& task = *found;
  const std::uint32_t offset = header.buffer_offset();
  const std::uint32_t length = header.data_segment_length();
  const auto fail = [&](std::string what) {
    return make_error(errc::scsi_bad_response, "Data-In for ITT " + itt_text(header.itt()) + ": " + what);
  };
  if (task.direction != data_direction::read) return fail("the command reads no data");
  if (task.connection_id != from.id()) return fail("on another connection than its command (allegiance)");
  if (header.data_sn() != task.next_data_sn)
    return fail("DataSN " + std::to_string(header.data_sn()) + ", expected " + std::to_string(task.next_data_sn));
  // DataPDUInOrder=Yes and DataSequenceInOrder=Yes: each PDU continues where
  // the last ended, so a gap or an overlap is a protocol error, never data.
  if (offset != task.received)
    return fail("Buffer Offset " + std::to_string(offset) + ", expected " + std::to_string(task.received) +
                " (out of order or overlapping)");
  if (std::uint64_t{offset} + length > task.length)
    return fail(std::to_string(length) + " bytes at offset " + std::to_string(offset) + " run past the " +
                std::to_string(task.length) + " expected");
  return task.buffer + offset;
}

void session::protocol_violation(connection& from, const std::string& why) {
  if (const auto conn = find_connection(from.id())) drop_connection(conn, events::event_reason::protocol_error, why);
}

void session::handle_data_in(connection& from, const protocol::pdu& p) {
  auto* found = commands_.find(p.itt());
  if (!found) return;
  auto& task = *found;
  const std::uint32_t length = p.data_segment_length();
  if (length == 0) {  // not placed, so not checked yet
    if (auto placed = place_data_in(from, p); !placed) return protocol_violation(from, placed.error().what());
  }
  if (p.acknowledge())
    return protocol_violation(from, "Data-In asks for a DataACK (A bit), which ErrorRecoveryLevel=0 does not have");
  task.received += length;
  ++task.next_data_sn;
  if (!p.has_status()) return;
  if (!p.is_final()) return protocol_violation(from, "Data-In carries status (S) without F");
  scsi_completion done;
  done.status = p.status();
  done.transferred = task.received;
  if (p.residual_underflow()) done.residual_underflow = p.residual_count();
  done.residual_overflow = p.residual_overflow();
  finish(p.itt(), std::move(done));
}

void session::handle_r2t(connection& from, const protocol::pdu& p) {
  auto* found = commands_.find(p.itt());
  if (!found) return;  // settled meanwhile: the target ends it without the data
  auto& task = *found;
  const std::uint64_t end = std::uint64_t{p.buffer_offset()} + p.desired_data_transfer_length();
  const auto fail = [&](const std::string& what) {
    protocol_violation(from, "R2T for ITT " + itt_text(p.itt()) + ": " + what);
  };
  if (task.direction != data_direction::write) return fail("the command writes no data");
  if (task.connection_id != from.id()) return fail("on another connection than its command (allegiance)");
  if (p.r2t_sn() != task.next_r2t_sn)
    return fail("R2TSN " + std::to_string(p.r2t_sn()) + ", expected " + std::to_string(task.next_r2t_sn));
  if (p.desired_data_transfer_length() == 0) return fail("asks for 0 bytes");
  if (end > task.length)
    return fail("asks for bytes up to " + std::to_string(end) + " of a " + std::to_string(task.length) + "-byte write");
  ++task.next_r2t_sn;
  send_data_out(from, task, p.ttt(), p.buffer_offset(), p.desired_data_transfer_length());
}

void session::handle_scsi_response(connection& from, protocol::pdu p) {
  const auto* found = commands_.find(p.itt());
  if (!found) {
    spdlog::debug("session {}: SCSI Response for unknown ITT {} ignored", id_, itt_text(p.itt()));
    return;
  }
  const auto& task = *found;
  if (task.connection_id != from.id())
    return protocol_violation(from, "SCSI Response for ITT " + itt_text(p.itt()) + " on another connection than its command");
  if (p.response() != 0) {
    finish(p.itt(), make_error(errc::scsi_bad_response, "the target could not complete the command (iSCSI response " +
                                                            std::to_string(p.response()) + ")"));
    return;
  }
  scsi_completion done;
  done.status = p.status();
  done.sense = std::move(p.data);
  if (p.residual_underflow()) done.residual_underflow = p.residual_count();
  // A write moved what the target says it took; a read what was placed.
  done.transferred = task.direction == data_direction::write
                         ? task.length - std::min(task.length, done.residual_underflow)
                         : task.received;
  done.residual_overflow = p.residual_overflow();
  finish(p.itt(), std::move(done));
}

std::unique_ptr<scsi_task> session::take_in_flight(std::uint32_t itt) {
  auto task = commands_.take(itt);
  if (!task) return nullptr;
  // Data-Out of this write may still be queued (a target may answer before
  // taking all of it): the caller's buffer must be free once we complete.
  if (task->direction == data_direction::write) {
    if (const auto conn = find_connection(task->connection_id)) conn->forget_payloads(itt);
  }
  in_flight_.store(commands_.size(), std::memory_order_relaxed);
  return task;
}

void session::finish(std::uint32_t itt, result<scsi_completion>&& outcome) {
  if (auto task = take_in_flight(itt)) settle(std::move(task), std::move(outcome));
}

void session::settle(std::unique_ptr<scsi_task> task, result<scsi_completion>&& outcome) {
  if (outcome && task->absorb_retryable && task->retries < max_retries) {
    const auto status = static_cast<protocol::scsi_status>(outcome->status);
    bool again = false;
    if (status == protocol::scsi_status::check_condition) {
      const auto sense = protocol::parse_sense_segment(outcome->sense);
      again = sense && sense->key == protocol::sense_key::unit_attention;
    } else if (status == protocol::scsi_status::busy || status == protocol::scsi_status::task_set_full) {
      again = true;
      // The target asks us to slow down: nothing goes out for a moment,
      // longer each time (1, 2, 4 … 64 ms).
      dispatch_paused_ = true;
      busy_timer_.expires_after(std::chrono::milliseconds(1u << std::min<std::uint32_t>(task->retries, 6)));
      busy_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        // Another BUSY meanwhile set a longer pause and cancelled this wait:
        // its own wait ends the pause, not this one.
        if (ec == boost::asio::error::operation_aborted) return;
        if (const auto self = weak.lock()) {
          self->dispatch_paused_ = false;
          self->dispatch();
        }
      });
    }
    if (again) {
      ++task->retries;
      count(retried);
      task->sends = std::min(task->sends, max_sends - 1);
      enqueue_in_order(std::move(task));
      dispatch();
      return;
    }
  }
  complete(std::move(task), std::move(outcome));
}

void session::complete(std::unique_ptr<scsi_task> task, result<scsi_completion>&& outcome) {
  // Never run here: a completion may start the caller's next command, which
  // must not run inside the session's own bookkeeping. Completions of the
  // PDUs one recv brought run when the reader has handled them all
  // (on_pdus_drained); any other runs from one post for all gathered until
  // it runs. A post per batch cost a turn of Asio's queue and a reactor
  // poll (epoll_wait) of its own.
  completed_.emplace_back(std::move(task), std::move(outcome));
  if (in_reader_batch_ || std::exchange(completions_posted_, true)) return;
  asio::post(executor_, [self = shared_from_this()] {
    self->completions_posted_ = false;
    self->run_completions();
  });
}

void session::on_pdus_drained() {
  if (!std::exchange(in_reader_batch_, false)) return;
  try {
    run_completions();
    if (!waiting_.empty()) dispatch();  // what the completions started, batched or not
  } catch (...) {
    // A caller's handler threw: let it leave io_context::run() as it would
    // from a posted handler, not end the reader's coroutine silently.
    asio::post(executor_, [e = std::current_exception()] { std::rethrow_exception(e); });
  }
}

void session::run_completions() {
  // The batch is a local (a handler may run the io_context itself, and so
  // this again); the two vectors' storage goes round between completed_
  // and completing_, so that neither allocates in the steady state.
  decltype(completed_) batch;
  batch.swap(completing_);
  batch.swap(completed_);
  completions_at_ = std::chrono::steady_clock::now();
  for (auto& [done, outcome] : batch) done->complete(std::move(outcome));
  batch.clear();
  completing_.swap(batch);
}

void session::requeue_commands_on(std::uint64_t connection_id) {
  for (auto& task : commands_.take_on(connection_id)) {
    task->reissue = true;
    enqueue_in_order(std::move(task));
  }
  in_flight_.store(commands_.size(), std::memory_order_relaxed);
  queued_.store(waiting_.size(), std::memory_order_relaxed);
}

void session::hold_commands(const std::string& why) {
  held_because_ = why;
  hold_expired_ = false;
  const auto hold = context_->options.recovery_hold;
  if (hold.count() == 0) {
    fail_all_commands(make_error(errc::session_not_logged_in, "session " + std::to_string(id_) + " is disconnected: " + why));
    return;
  }
  count(held, waiting_.size());
  hold_timer_.expires_after(hold);
  hold_timer_.async_wait([weak = weak_from_this(), hold](const boost::system::error_code& ec) {
    const auto self = weak.lock();
    if (ec || !self || self->state_ != state::disconnected) return;
    self->hold_expired_ = true;
    self->fail_all_commands(make_error(errc::session_not_logged_in,
                                       "session " + std::to_string(self->id_) + " was not recovered within " +
                                           std::to_string(hold.count()) + " ms: " + self->held_because_));
  });
}

void session::fail_all_commands(const error& why) {
  auto flying = commands_.take_all();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  in_flight_.store(0, std::memory_order_relaxed);
  queued_.store(0, std::memory_order_relaxed);
  for (auto& task : flying) {
    if (task->direction == data_direction::write) {
      if (const auto conn = find_connection(task->connection_id)) conn->forget_payloads(task->itt);
    }
    complete(std::move(task), why);
  }
  for (auto& task : waiting) complete(std::move(task), why);
}

namespace {

// A command run by a coroutine of the session (INQUIRY, READ CAPACITY, …):
// complete() resumes it.
class awaited_command final : public scsi_task {
 public:
  explicit awaited_command(asio::any_completion_handler<void(result<scsi_completion>)> handler)
      : handler_(std::move(handler)) {}
  void complete(result<scsi_completion> outcome) override { std::move(handler_)(std::move(outcome)); }

 private:
  asio::any_completion_handler<void(result<scsi_completion>)> handler_;
};

}  // namespace

asio::awaitable<result<scsi_reply>> session::execute(scsi_request request) {
  scsi_reply reply;
  reply.data.resize(request.read_length);
  auto outcome = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(result<scsi_completion>)>(
      [&](asio::any_completion_handler<void(result<scsi_completion>)> handler) {
        auto task = std::make_unique<awaited_command>(std::move(handler));
        task->lun = request.lun;
        task->cdb = request.cdb;
        task->direction = request.read_length > 0 ? data_direction::read : data_direction::none;
        task->buffer = reply.data.data();
        task->length = request.read_length;
        submit(std::move(task));
      },
      asio::use_awaitable);
  if (!outcome) co_return outcome.error();
  reply.status = outcome->status;
  reply.sense = std::move(outcome->sense);
  reply.data.resize(std::min<std::size_t>(outcome->transferred, reply.data.size()));
  co_return reply;
}

}  // namespace isens::initiator::detail
