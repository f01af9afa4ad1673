#pragma once
// A scripted iSCSI target for behaviour tgtd never shows (Async Messages,
// Reject, malformed PDUs, silence, redirects, text continued over PDUs, data
// transfers that break the rules, odd SCSI statuses, a closed CmdSN window). It
// accepts connections on a free loopback port and runs a script per
// connection. A supplement to the tgtd tests, never a replacement.

#include "isens/initiator/types.hpp"
#include "protocol/negotiation.hpp"
#include "protocol/pdu.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace isens::test {

// LUN 0 of a scripted target: a direct-access block device whose bytes the
// scripts read and write, and the test checks. Locked: scripts run on the
// target's thread, tests on theirs.
class scripted_disk {
 public:
  explicit scripted_disk(std::uint64_t blocks = 2048, std::uint32_t block_size = 512)
      : block_size_(block_size), bytes_(blocks * block_size) {}
  std::uint64_t blocks() const noexcept { return bytes_.size() / block_size_; }
  std::uint32_t block_size() const noexcept { return block_size_; }
  // `length` bytes from byte `offset` (as far as the disk goes).
  initiator::protocol::byte_buffer read(std::uint64_t offset, std::size_t length) const;
  // Stores `data` at byte `offset` (what lies beyond the disk is dropped).
  void write(std::uint64_t offset, initiator::protocol::byte_span data);

 private:
  const std::uint32_t block_size_;
  mutable std::mutex mutex_;
  initiator::protocol::byte_buffer bytes_;
};

// Holds a script until the test opens it, from any thread: a script waits
// at a point the test chooses, without sleeping or polling.
class script_gate {
 public:
  void open();
  // Returns once open() was called (at once if it already was).
  boost::asio::awaitable<void> wait();

 private:
  std::mutex mutex_;
  bool open_ = false;
  boost::asio::steady_timer* waiting_ = nullptr;  // the waiting script's timer, cancelled by open()
};

// PDUs a scripted target answers SCSI commands with, for scripts that bend
// them before sending. Data-In carries `data` at `offset` as DataSN
// `data_sn`; the SCSI Response's data segment is SenseLength, then `sense`.
initiator::protocol::pdu data_in_for(const initiator::protocol::pdu& command, initiator::protocol::byte_span data,
                                     std::uint32_t offset, std::uint32_t data_sn);
initiator::protocol::pdu scsi_response_for(const initiator::protocol::pdu& command, std::uint8_t status,
                                           initiator::protocol::byte_span sense = {});
// Fixed-format sense data (SPC-4 §4.5.3) with `key`, ASC and ASCQ.
initiator::protocol::byte_buffer fixed_sense(std::uint8_t key, std::uint8_t asc, std::uint8_t ascq);

// One accepted connection, as a script sees it.
class scripted_connection {
 public:
  explicit scripted_connection(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  // Reads one PDU from the initiator.
  boost::asio::awaitable<initiator::protocol::pdu> receive();
  // Sends a PDU, stamping StatSN/ExpCmdSN/MaxCmdSN for target PDUs that carry them.
  boost::asio::awaitable<void> send(initiator::protocol::pdu p, bool advance_stat_sn = true);
  // Sends raw bytes (for malformed PDUs).
  boost::asio::awaitable<void> send_raw(std::vector<std::uint8_t> bytes);
  // Sends a PDU as send() does, in writes of `piece` bytes with a turn of
  // the executor between them: the initiator's reader meets it cut
  // anywhere, in its header or its data.
  boost::asio::awaitable<void> send_in_pieces(initiator::protocol::pdu p, std::size_t piece, bool advance_stat_sn = true);
  // Reads the first login request and returns its SessionType ("Normal" when
  // absent), so a script can treat discovery and normal logins differently.
  // The request stays pending: accept_login or refuse_login answers it.
  boost::asio::awaitable<std::string> login_session_type();
  // Answers every login request with success and echoes the offered keys,
  // until the initiator reaches full-feature phase; `stated` replaces the
  // echoed value of each offered key it names.
  boost::asio::awaitable<void> accept_login(std::uint16_t tsih = 0x4242, initiator::protocol::key_values stated = {});
  // Answers a login with the given status (and optional keys), then stops.
  boost::asio::awaitable<void> refuse_login(std::uint8_t status_class, std::uint8_t status_detail,
                                            initiator::protocol::key_values keys = {});
  // Answers one SendTargets Text request of a discovery session with `answer`
  // (TargetName and TargetAddress keys), in one final Text response.
  boost::asio::awaitable<void> answer_send_targets(initiator::protocol::key_values answer);

  // Text continued over several PDUs (C bit, RFC 7143 §6.2). The split modes
  // cut the text mid-pair, as the RFC allows, so an initiator that parsed a
  // part alone fails. Each follow-up request the initiator sends for the
  // rest is checked; a wrong one throws std::runtime_error, ending the script.

  // accept_login, but the answer to the first login request comes in `parts`
  // Login Responses, C set on all but the last; `stated` replaces the echoed
  // value of each offered key it names. Follow-ups must be empty with T=0.
  boost::asio::awaitable<void> accept_login_in_parts(int parts, initiator::protocol::key_values stated,
                                                     std::uint16_t tsih = 0x4242);
  // Answers the first login request with Login Responses of `part_size`
  // bytes, every one with C set: a login response that never ends.
  boost::asio::awaitable<void> continue_login_forever(std::size_t part_size);
  // answer_send_targets in `parts` Text Responses, C set on all but the last
  // with a TTT of the target's own; follow-ups must be empty and echo it.
  boost::asio::awaitable<void> answer_send_targets_in_parts(initiator::protocol::key_values answer, int parts);
  // Answers one SendTargets request with Text Responses of `part_size`
  // bytes, every one with C set: an answer that never ends.
  boost::asio::awaitable<void> continue_send_targets_forever(std::size_t part_size);

  // Serves SCSI commands and NOP-Outs the way a tiny disk would until the
  // initiator sends Logout (answered) or closes.
  boost::asio::awaitable<void> serve_until_logout();

  // ---- a block device (LUN 0), for the data path ----
  // Reads PDUs until a SCSI Command, answering NOP-Out pings on the way.
  boost::asio::awaitable<initiator::protocol::pdu> receive_command();
  // Answers the commands of LUN enumeration (REPORT LUNS, INQUIRY with VPD
  // pages 0x80 and 0x83, READ CAPACITY, VPD page 0x00) for `disk`; returns
  // once page 0x00 is answered, the last of them (it lists no 0xB0/0xB2).
  boost::asio::awaitable<void> answer_enumeration(const scripted_disk& disk);
  // Carries out one SCSI command on `disk` the way a well-behaved target
  // does: READ(16) as Data-In of at most `data_in_size` bytes each, status
  // in the last; WRITE(16) takes the immediate data and asks for the rest
  // with one R2T; SYNCHRONIZE CACHE, enumeration; anything else is CHECK
  // CONDITION (ILLEGAL REQUEST).
  boost::asio::awaitable<void> answer_command(const initiator::protocol::pdu& command, scripted_disk& disk);
  // answer_command for every command until the initiator logs out (answered) or closes.
  boost::asio::awaitable<void> serve_disk_until_logout(scripted_disk& disk);
  // Reads and drops whatever the initiator sends until it closes.
  boost::asio::awaitable<void> drain();
  // MaxCmdSN = ExpCmdSN + `window` on what this connection sends from now
  // on (16 unless set): 0 lets one more command in, -1 closes the window.
  void set_window(std::int32_t window) noexcept { window_ = window; }
  // Data-In PDUs answer_command cuts reads into (8192 bytes unless set).
  void set_data_in_size(std::uint32_t bytes) noexcept { data_in_size_ = bytes; }

  boost::asio::ip::tcp::socket& socket() { return socket_; }
  std::uint32_t next_exp_cmd_sn() const noexcept { return exp_cmd_sn_; }
  // The MaxCmdSN of the last PDU sent: no command beyond it may arrive.
  std::uint32_t max_cmd_sn_sent() const noexcept { return max_cmd_sn_sent_; }

 private:
  void stamp(initiator::protocol::pdu& p, bool advance_stat_sn);
  // The login request login_session_type() read, else the next one from the wire.
  boost::asio::awaitable<initiator::protocol::pdu> next_login_request();
  // Reads a Text request and checks it asks SendTargets.
  boost::asio::awaitable<initiator::protocol::pdu> receive_send_targets_request();
  // A part count no initiator reaches: the answer never ends.
  static constexpr int endless_parts = std::numeric_limits<int>::max();
  // Sends an answer in `parts` PDUs: part i is `response_for(i, last)` with
  // C set unless last. Before each further part it reads the initiator's
  // request for the rest and hands it to `check_follow_up`, which throws
  // when it is wrong.
  boost::asio::awaitable<void> send_continued(
      int parts, std::function<initiator::protocol::pdu(int part, bool last)> response_for,
      void (*check_follow_up)(const initiator::protocol::pdu&));
  boost::asio::ip::tcp::socket socket_;
  std::optional<initiator::protocol::pdu> pending_login_;
  // Answers a NOP-Out that asks for an answer (ITT not reserved) with NOP-In.
  boost::asio::awaitable<void> answer_nop(const initiator::protocol::pdu& request);
  // Answers NOP-Outs, hands SCSI commands to `on_command`, until Logout (answered).
  boost::asio::awaitable<void> serve(
      const std::function<boost::asio::awaitable<void>(const initiator::protocol::pdu& command)>& on_command);
  // GOOD with `data` as Data-In, or a bare SCSI Response when there is none.
  boost::asio::awaitable<void> answer_with_data(const initiator::protocol::pdu& command,
                                                initiator::protocol::byte_span data);
  // Reads the Data-Out PDUs of a write up to the one with F, onto `disk` from `offset`.
  boost::asio::awaitable<void> take_data_out(const initiator::protocol::pdu& command, scripted_disk& disk,
                                             std::uint64_t offset);
  // Data-In of `data` (at most data_in_size_ bytes per PDU), status GOOD in the last.
  boost::asio::awaitable<void> send_read_data(const initiator::protocol::pdu& command,
                                              initiator::protocol::byte_span data);
  // Takes a write's immediate data, asks for the rest with one R2T, and
  // stores it all on `disk` at `offset`.
  boost::asio::awaitable<void> take_write_data(const initiator::protocol::pdu& command, scripted_disk& disk,
                                               std::uint64_t offset);
  std::uint32_t stat_sn_ = 100;
  std::uint32_t exp_cmd_sn_ = 0;
  std::int32_t window_ = 16;
  std::uint32_t max_cmd_sn_sent_ = 0;
  std::uint32_t data_in_size_ = 8192;
};

// Listens on 127.0.0.1 and runs `script` for every connection on its own thread.
class scripted_target {
 public:
  using script = std::function<boost::asio::awaitable<void>(scripted_connection&)>;
  explicit scripted_target(script per_connection);
  ~scripted_target();

  std::uint16_t port() const noexcept { return port_; }
  // Connections accepted so far.
  int accepted() const noexcept { return accepted_.load(); }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  script script_;
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// The name scripts use for their target (a scripted target accepts any).
inline constexpr const char* scripted_target_iqn = "iqn.2026-11.test.isens:scripted";

// Login options for `target`'s portal, reached as `host`. LUN enumeration is
// off: scripts answer the SCSI commands they are written for, no others.
inline initiator::login_options login_options_for(const scripted_target& target, std::string host = "127.0.0.1") {
  initiator::login_options o;
  o.target_portal = {std::move(host), target.port()};
  o.target_name = scripted_target_iqn;
  o.enumerate_luns = false;
  return o;
}

}  // namespace isens::test
