#pragma once
// One TCP connection of a session in full-feature phase: a reader loop that
// hands every PDU to the session, and a write queue that keeps one write in
// flight. Lives on its session's executor; never touched from elsewhere.

#include "isens/events/event.hpp"
#include "isens/initiator/error.hpp"
#include "isens/initiator/types.hpp"
#include "protocol/pdu.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <deque>
#include <memory>

namespace isens::initiator::detail {

class connection;

// What a connection reports to its session.
class connection_owner {
 public:
  virtual ~connection_owner() = default;
  // A PDU arrived (ExpStatSN already advanced).
  virtual void on_pdu(connection& from, protocol::pdu p) = 0;
  // The connection failed (not after close()): a socket error, a malformed PDU.
  virtual void on_connection_failed(connection& which, events::event_reason reason, const error& why) = 0;
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
  boost::asio::awaitable<void> read_loop(std::weak_ptr<connection_owner> owner);
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
  bool writing_ = false;
  std::deque<protocol::byte_buffer> write_queue_;
  std::weak_ptr<connection_owner> owner_;
};

}  // namespace isens::initiator::detail
