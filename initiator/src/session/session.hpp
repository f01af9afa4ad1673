#pragma once
// One iSCSI session: its connections, its command window (CmdSN,
// ExpCmdSN, MaxCmdSN), its outstanding tasks, and the events it raises.
// Everything here runs on the session's executor (serial: see executor()),
// except snapshot().

#include "isens/events/event.hpp"
#include "isens/initiator/types.hpp"
#include "login/login_exchange.hpp"
#include "protocol/scsi.hpp"
#include "session/command_table.hpp"
#include "session/connection.hpp"
#include "session/initiator_context.hpp"
#include "session/scsi_task.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

namespace isens::initiator::detail {

// A facade read, write or flush (initiator::start_io hands it over).
struct block_io_request {
  std::uint64_t lun = 0;
  std::uint64_t lba = 0;
  data_direction direction = data_direction::none;  // none: SYNCHRONIZE CACHE
  std::uint8_t* buffer = nullptr;
  std::size_t length = 0;
  bool fua = false;
  // WRITE SAME (buffer: one block, written to `blocks` blocks; `unmap` lets
  // the target deallocate them) or UNMAP of `blocks` blocks: block_io.cpp.
  enum class range_op : std::uint8_t { none, write_same, unmap } range = range_op::none;
  std::uint64_t blocks = 0;
  bool unmap = false;
};

// A SCSI command with an optional data-in phase.
struct scsi_request {
  std::uint64_t lun = 0;
  protocol::cdb cdb{};
  std::uint32_t read_length = 0;  // bytes of Data-In expected (allocation length)
};

// A finished SCSI command: its status, its data and any sense data.
struct scsi_reply {
  std::uint8_t status = 0;
  protocol::byte_buffer data;
  protocol::byte_buffer sense;
};

class session : public connection_owner, public std::enable_shared_from_this<session> {
 public:
  session(std::shared_ptr<initiator_context> context, std::uint64_t id, login_options options);

  // Where all of this session's work runs: a strand of the initiator's
  // executor, or that executor itself when only one thread runs it
  // (initiator_options::single_threaded). Wrapped once, so that timers and
  // co_spawn copy it instead of wrapping a strand again each time.
  const boost::asio::any_io_executor& executor() const noexcept { return executor_; }
  std::uint64_t id() const noexcept { return id_; }
  // True on the one thread that runs a single_threaded initiator's
  // io_context: a call can then run at once, without a dispatch.
  bool runs_here() const noexcept { return io_executor_ && io_executor_->running_in_this_thread(); }
  // The io_context executor behind executor(), when one thread runs it (single_threaded); else null.
  const boost::asio::io_context::executor_type* io_executor() const noexcept { return io_executor_; }
  // SendTargets at `where` with this session's CHAP credentials (any thread: they never change).
  discovery_options discovery_options_at(const portal& where) const {
    return {where, options_.chap, options_.mutual_chap};
  }

  // --- on executor() ---
  // Logs in the leading connection: connection_made, logon.
  boost::asio::awaitable<result<void>> login();
  // Enumerates LUNs into the snapshot; session_ready on success.
  boost::asio::awaitable<void> enumerate_devices();
  // Logs in one more connection (same ISID/TSIH, new CID): connection_made.
  boost::asio::awaitable<result<std::uint64_t>> add_connection(std::optional<portal> where);
  // Logs one connection out (reason 1, close connection): connection_lost(removed).
  boost::asio::awaitable<result<void>> remove_connection(std::uint64_t connection_id);
  // Logs the session out: connection_lost for each connection, then logoff.
  boost::asio::awaitable<result<void>> logout(events::event_reason reason);
  // Runs a SCSI command on one of the session's connections.
  boost::asio::awaitable<result<scsi_reply>> execute(scsi_request request);
  // Takes a command: sent at once when the CmdSN window is open, queued in
  // order when it is not, held while the session is disconnected (up to
  // recovery_hold). task->complete() runs once, posted, never inline.
  void submit(std::unique_ptr<scsi_task> task);
  // A facade read, write or flush: checked against the LUN, split into
  // commands within max_transfer_bytes and the LUN's Block Limits, `done`
  // called once at the end.
  void start_block_io(const block_io_request& request, boost::asio::any_completion_handler<void(result<void>)> done);
  // WRITE SAME and UNMAP of a checked block device (block_io.cpp).
  void start_range_io(const block_io_request& request, const device_info& device,
                      boost::asio::any_completion_handler<void(result<void>)> done);
  // Counts a finished facade command, its latency up to completions_at_ (block_io.cpp).
  void note_block_io(const scsi_task& task, bool good);
  // Reinstates a disconnected session (same ISID, TSIH 0): connection_made,
  // session_reconnect; a failure publishes session_disconnect with the attempt.
  boost::asio::awaitable<result<void>> reconnect(reconnect_options options);
  // Ends a disconnected session: logoff(recovery_failed).
  boost::asio::awaitable<result<void>> abandon(std::string why, std::uint32_t attempts);
  // Closes every connection at once, without logout and without events.
  void abort();

  // --- any thread ---
  session_info snapshot() const;

  // connection_owner
  void on_pdu(connection& from, protocol::pdu p) override;
  void on_connection_failed(connection& which, events::event_reason reason, const error& why) override;
  void on_pdus_drained() override;
  std::chrono::microseconds poll_before_sleep(const connection& c) const override;
  result<std::uint8_t*> place_data_in(connection& from, const protocol::pdu& header) override;

 private:
  enum class state { created, logged_in, disconnected, logging_out, ended };

  // A request that is not a SCSI command (NOP, Logout, Text, Task
  // Management) waiting for its response.
  struct pending_task {
    explicit pending_task(const boost::asio::any_io_executor& executor) : wakeup(executor) {}
    boost::asio::steady_timer wakeup;
    std::uint64_t connection_id = 0;
    std::optional<result<protocol::pdu>> response;
  };

  struct opened_connection {
    std::shared_ptr<connection> conn;
    login_result login;
  };

  // Connects to `where` and logs in (following redirects) within login_timeout.
  boost::asio::awaitable<result<opened_connection>> open_connection(portal where, std::uint16_t cid);
  // Makes an opened connection part of the session and starts its pings.
  void attach(opened_connection opened, events::event_reason reason);
  // Sends a request PDU and waits for the response with the same ITT.
  boost::asio::awaitable<result<protocol::pdu>> round_trip(connection& via, protocol::pdu request,
                                                           std::chrono::milliseconds limit,
                                                           std::shared_ptr<pending_task> task = nullptr);
  // Sends Logout (reason 0 or 1) on `via` and checks the response.
  boost::asio::awaitable<result<void>> send_logout(connection& via, std::uint8_t reason_code);
  boost::asio::awaitable<void> ping_loop(std::shared_ptr<connection> conn);

  // ---- the data path (data_path.cpp) ----
  // Sends waiting commands while the CmdSN window is open and the session
  // logged in. `now`: a clock reading of the caller's (submit), which the
  // commands sent take as their send time instead of a reading of their own.
  void dispatch(std::optional<std::chrono::steady_clock::time_point> now = {});
  // Sends one command on `via`, with its immediate and unsolicited data; `now` is its send time.
  void send_command(std::unique_ptr<scsi_task> task, connection& via, std::chrono::steady_clock::time_point now);
  // Sends [offset, offset + length) of a write as Data-Out PDUs (one sequence).
  void send_data_out(connection& via, const scsi_task& task, std::uint32_t ttt, std::uint32_t offset,
                     std::uint32_t length);
  void handle_data_in(connection& from, const protocol::pdu& p);
  void handle_r2t(connection& from, const protocol::pdu& p);
  void handle_scsi_response(connection& from, protocol::pdu p);
  // Takes a command out of flight (nullptr when none has this ITT).
  std::unique_ptr<scsi_task> take_in_flight(std::uint32_t itt);
  // Takes a command out of flight and settles it.
  void finish(std::uint32_t itt, result<scsi_completion>&& outcome);
  // Retries what is retryable (UNIT ATTENTION, BUSY), completes the rest.
  void settle(std::unique_ptr<scsi_task> task, result<scsi_completion>&& outcome);
  // Completes a task (posted) and frees it.
  void complete(std::unique_ptr<scsi_task> task, result<scsi_completion>&& outcome);
  // The commands in flight on a connection that is gone wait to be sent again.
  void requeue_commands_on(std::uint64_t connection_id);
  // The session went down: hold its commands (or fail them, recovery_hold 0).
  void hold_commands(const std::string& why);
  // Fails every command in flight or waiting.
  void fail_all_commands(const error& why);
  // Drops a connection that broke the protocol (a malformed data transfer).
  void protocol_violation(connection& from, const std::string& why);
  connection& least_loaded_connection() const;  // connections_ must not be empty
  // Puts a waiting command back in submission order.
  void enqueue_in_order(std::unique_ptr<scsi_task> task);

  // ---- command timeouts (command_timeouts.cpp) ----
  // Keeps a timer running while commands are in flight.
  void watch_commands();
  // Starts the abort of every command unanswered for command_timeout.
  void check_timeouts();
  // ABORT TASK, then LOGICAL UNIT RESET, then dropping the connection.
  boost::asio::awaitable<void> abort_command(std::uint32_t itt, std::uint64_t connection_id);
  // Task Management Function codes (RFC 7143 §11.5.1) that isens sends.
  static constexpr std::uint8_t tmf_abort_task = 1;
  static constexpr std::uint8_t tmf_logical_unit_reset = 5;
  // Sends a Task Management Function Request; its response code.
  boost::asio::awaitable<result<std::uint8_t>> task_management(connection& via, std::uint8_t function,
                                                               std::uint64_t lun, std::uint32_t referenced_itt,
                                                               std::uint32_t referenced_cmd_sn);
  // Takes a command out of flight and queues it to be sent again.
  void resend_command(std::uint32_t itt);

  void handle_async_message(connection& from, const protocol::pdu& p);
  void note_time2wait(const protocol::pdu& p);  // from AsyncEvent 2 or 3
  void forget_time2wait();                      // a login worked: the wait is over
  void answer_target_ping(connection& from, const protocol::pdu& p);
  void complete_task(std::uint32_t itt, result<protocol::pdu> outcome);
  void fail_tasks_on(std::uint64_t connection_id, const error& why);
  void note_window(const protocol::pdu& p);
  // Moves the CmdSN window forward (never back).
  void advance_window(std::uint32_t exp, std::uint32_t max);
  // Drops a connection unexpectedly: connection_lost, and session_disconnect
  // when it was the last.
  void drop_connection(const std::shared_ptr<connection>& conn, events::event_reason reason, const std::string& why);
  // Closes and forgets one connection: its control tasks fail with `why`, its
  // commands go back to the queue; raises connection_lost with `detail`.
  void lose_connection(std::shared_ptr<connection> conn, events::event_reason reason, const std::string& why,
                       const std::string& detail);
  // Removes a connection we chose to close (remove or logout): connection_lost.
  void detach_connection(std::shared_ptr<connection> conn, events::event_reason reason);

  std::shared_ptr<connection> find_connection(std::uint64_t connection_id) const;
  std::shared_ptr<connection> pick_connection();
  std::uint32_t new_itt();  // for a request that is not a SCSI command (those get theirs from commands_)
  // Updates the snapshot, then raises the event: a subscriber that reacts by
  // reading the snapshot sees the state the event announces.
  void publish(events::event_kind kind, events::event_reason reason, const connection* conn,
               std::string detail = {}, std::optional<std::uint32_t> attempt = {});
  // Raises the event alone: for one that follows another in the same state
  // (logon right after connection_made), whose snapshot is still current.
  void raise(events::event_kind kind, events::event_reason reason, const connection* conn,
             std::string detail = {}, std::optional<std::uint32_t> attempt = {});
  void update_snapshot();

  const std::shared_ptr<initiator_context> context_;
  const std::uint64_t id_;
  const login_options options_;
  const boost::asio::any_io_executor executor_;
  // executor_'s own io_context executor when single_threaded on an io_context.
  const boost::asio::io_context::executor_type* io_executor_ = nullptr;

  state state_ = state::created;
  std::uint64_t isid_ = 0;
  std::uint16_t tsih_ = 0;
  std::string auth_type_;
  protocol::operational_parameters parameters_;
  std::uint32_t cmd_sn_ = 1;
  std::uint32_t exp_cmd_sn_ = 1;
  std::uint32_t max_cmd_sn_ = 1;
  std::uint16_t next_cid_ = 0;
  std::uint32_t next_itt_ = 1;
  std::size_t round_robin_ = 0;
  std::vector<std::shared_ptr<connection>> connections_;
  std::set<std::uint64_t> departing_;  // connections we are logging out ourselves
  std::unordered_map<std::uint32_t, std::shared_ptr<pending_task>> tasks_;
  // SCSI commands in flight by ITT, and those waiting (for the window, a
  // resend, or a recovery) in submission order.
  command_table commands_;
  std::deque<std::unique_ptr<scsi_task>> waiting_;
  std::uint64_t next_order_ = 0;
  boost::asio::steady_timer hold_timer_;  // ends the hold of a disconnected session's commands
  bool hold_expired_ = false;             // the hold passed before a recovery: new commands fail at once
  std::string held_because_;              // why the session went down, for the hold's error
  std::string ended_because_;             // why it ended, for commands submitted afterwards
  boost::asio::steady_timer busy_timer_;  // the pause after BUSY / TASK SET FULL
  // Completions waiting to run (complete()).
  std::vector<std::pair<std::unique_ptr<scsi_task>, result<scsi_completion>>> completed_;
  decltype(completed_) completing_;  // spare storage for the next batch (run_completions)
  bool completions_posted_ = false;
  bool in_reader_batch_ = false;  // PDUs of one recv are being handled: their completions run at its end
  // Runs the completions gathered so far.
  void run_completions();
  // When the batch of completions under way began: one clock reading for
  // the latency of all of them (note_block_io), not one each.
  std::chrono::steady_clock::time_point completions_at_{};
  boost::asio::steady_timer watchdog_;    // looks for commands past command_timeout
  bool watchdog_armed_ = false;
  bool dispatch_paused_ = false;
  // The data path's counters, written on the executor, read by snapshot().
  struct live_counters {
    std::array<std::atomic<std::uint64_t>, 10> values{};
    std::array<std::atomic<std::uint64_t>, io_latency_bounds_us.size() + 1> latency{};
    std::atomic<std::uint64_t> latency_sum_us{0};
  };
  enum counter : std::size_t { read_ops, read_bytes, write_ops, write_bytes, failed, held, reissued, retried, aborted, lun_resets };
  void count(counter c, std::uint64_t n = 1) noexcept;
  void count_latency(std::chrono::steady_clock::duration d) noexcept;
  live_counters counters_;
  std::atomic<std::uint64_t> in_flight_{0};
  std::atomic<std::uint64_t> queued_{0};
  std::unordered_map<std::uint64_t, std::shared_ptr<boost::asio::steady_timer>> ping_timers_;
  // No login before this: the Time2Wait of an Async Message, from its arrival.
  std::optional<std::chrono::steady_clock::time_point> reconnect_after_;
  std::optional<std::chrono::seconds> retain_for_;  // Time2Retain from the same message
  std::size_t connections_wanted_ = 0;
  bool reinstating_ = false;  // the next login reuses the ISID with TSIH 0
  std::vector<device_info> devices_;

  mutable std::mutex snapshot_mutex_;
  session_info snapshot_;  // guarded by snapshot_mutex_
};

}  // namespace isens::initiator::detail
