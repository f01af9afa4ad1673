#pragma once
// One TCP connection of a session in full-feature phase: a reader loop that
// hands every PDU to the session (Data-In payloads straight to where the
// session places them), and a write queue whose PDUs go out together, one
// gathering sendmsg for all that is queued. Lives on its session's
// executor; never touched from elsewhere.

#include "isens/events/event.hpp"
#include "isens/initiator/error.hpp"
#include "isens/initiator/types.hpp"
#include "protocol/pdu.hpp"
#include "transport/pdu_reader.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <type_traits>
#include <vector>

namespace isens::initiator::detail {

class connection;

// What a connection reports to its session.
class connection_owner {
 public:
  virtual ~connection_owner() = default;
  // A PDU arrived (ExpStatSN already advanced). A Data-In's data is not in
  // `p.data`: it went where place_data_in said.
  virtual void on_pdu(connection& from, protocol::pdu p) = 0;
  // Where the data of a Data-In goes (see transport::data_in_placer).
  virtual result<std::uint8_t*> place_data_in(connection& from, const protocol::pdu& header) = 0;
  // The connection failed (not after close()): a socket error, a malformed PDU.
  virtual void on_connection_failed(connection& which, events::event_reason reason, const error& why) = 0;
  // The reader handed over every whole PDU it had and is about to wait for
  // the socket, or stops: the end of one batch of PDUs (one recv's worth).
  virtual void on_pdus_drained() = 0;
  // How long the reader polls the socket before it sleeps on it (zero: it
  // does not; initiator_options::lone_command_poll).
  virtual std::chrono::microseconds poll_before_sleep(const connection& c) const = 0;
};

// Negotiated per-connection settings.
struct connection_settings {
  protocol::digest_settings digests;
  std::uint32_t max_recv_data_segment_length = 8192;  // what we declared
  std::uint32_t max_send_data_segment_length = 8192;  // what the target declared
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  // `remote` is where the socket is connected to (known from the connect:
  // no getpeername).
  connection(boost::asio::ip::tcp::socket socket, const boost::asio::ip::tcp::endpoint& remote, std::uint64_t id,
             std::uint16_t cid, connection_settings settings, std::uint32_t exp_stat_sn, portal target_portal);

  // Starts the reader loop; PDUs and failures go to `owner` while it lives.
  void start(std::weak_ptr<connection_owner> owner);
  // Queues a PDU, stamping ExpStatSN.
  void send(protocol::pdu p);
  // Queues a PDU whose data segment is `payload`, sent in place: it must
  // stay valid until written, or until forget_payloads(itt) or close().
  void send(protocol::pdu p, protocol::byte_span payload);
  // The task with this ITT has ended: its queued payloads are dropped, and
  // one being written is copied, so the caller's buffer is free at once.
  void forget_payloads(std::uint32_t itt);
  // PDUs queued and not yet fully written.
  std::size_t queued() const noexcept { return write_queue_.size() - sent_pdus_; }
  // Closes the socket; no failure is reported afterwards. Idempotent.
  void close();

  bool is_open() const noexcept { return open_; }
  std::uint64_t id() const noexcept { return id_; }
  std::uint16_t cid() const noexcept { return cid_; }
  const portal& target_portal() const noexcept { return portal_; }
  const std::string& local_address() const noexcept { return local_; }
  const std::string& remote_address() const noexcept { return remote_; }
  const connection_settings& settings() const noexcept { return settings_; }

 private:
  // The reader: callbacks for the usual wait (bytes into the receive
  // buffer), a coroutine only for a large Data-In payload read into place.
  void start_reading();
  // Hands over every whole PDU buffered, ends the batch, and reads on.
  void read_batches();
  // Polls the socket for up to `budget`: true when bytes came.
  result<bool> poll_socket(std::chrono::microseconds budget);
  boost::asio::awaitable<void> read_placed();
  void fail_reading(const error& why);
  // The reader stops: the batch under way ends.
  void stop_reading();
  boost::asio::awaitable<void> write_loop();
  void fail(events::event_reason reason, const error& why);
  void note_stat_sn(const protocol::pdu& p);

  boost::asio::ip::tcp::socket socket_;
  const std::uint64_t id_;
  const std::uint16_t cid_;
  const connection_settings settings_;
  std::uint32_t exp_stat_sn_;
  const portal portal_;
  std::string local_;
  std::string remote_;
  bool open_ = true;
  // One queued PDU: its framing (head: BHS, AHS, header digest; tail: the
  // padding and data digest) around a payload kept elsewhere or in `owned`.
  struct outgoing {
    protocol::framing frame;
    protocol::byte_span payload;
    protocol::byte_buffer owned;  // the PDU's own data, or a payload that had to be copied (forget_payloads)
    std::uint32_t itt = protocol::reserved_tag;  // the task a borrowed payload belongs to
    std::size_t written = 0;                      // bytes of this PDU already sent
  };
  // `payload` may point into `owned`: the queue must move PDUs, never copy them.
  static_assert(std::is_nothrow_move_constructible_v<outgoing>);
  // Starts writing the queue unless a write is already under way (or the
  // reader's batch is on: then at its end).
  void schedule_write();
  // The reader's batch has ended: what it queued goes out now.
  void uncork_writes();
  // Writes what the queue holds until it is empty or the socket is full
  // (then write_loop waits); writing_ is set.
  void write_now();
  // Sends what it can of the queue at once; the number of bytes moved.
  std::size_t write_some(boost::system::error_code& ec);

  // The first PDU not yet wholly written.
  std::vector<outgoing>::iterator unsent() noexcept { return write_queue_.begin() + static_cast<std::ptrdiff_t>(sent_pdus_); }
  // The first unsent PDU has gone out whole.
  void pop_sent();
  // Frees the queue's front of written PDUs (all of them once nothing is left to send).
  void reclaim_sent();

  bool writing_ = false;
  bool writes_corked_ = false;  // the reader is handing over a batch of PDUs
  bool write_wanted_ = false;   // something was queued meanwhile
  // A vector used as a queue: written PDUs are counted off its front and
  // dropped when it empties (or when they are most of it), so a steady
  // stream of PDUs reuses its storage (a std::deque allocated a block
  // every few PDUs).
  std::vector<outgoing> write_queue_;
  std::size_t sent_pdus_ = 0;
  std::weak_ptr<connection_owner> owner_;
  std::unique_ptr<transport::pdu_reader> reader_;
  connection_owner* batch_owner_ = nullptr;  // the session, locked for the batch under way
  transport::data_in_placer place_buffered_;
  transport::data_in_placer place_after_wait_;
};

}  // namespace isens::initiator::detail
