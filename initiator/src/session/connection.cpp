#include "session/connection.hpp"

#include "protocol/serial_number.hpp"
#include "transport/pdu_stream.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

namespace isens::initiator::detail {

namespace asio = boost::asio;
using protocol::opcode;

connection::connection(asio::ip::tcp::socket socket, const asio::ip::tcp::endpoint& remote, std::uint64_t id,
                       std::uint16_t cid, connection_settings settings, std::uint32_t exp_stat_sn, portal target_portal)
    : socket_(std::move(socket)),
      id_(id),
      cid_(cid),
      settings_(settings),
      exp_stat_sn_(exp_stat_sn),
      portal_(std::move(target_portal)),
      remote_(transport::endpoint_text(remote)) {
  boost::system::error_code ec;
  if (const auto local = socket_.local_endpoint(ec); !ec) local_ = transport::endpoint_text(local);
}

void connection::start(std::weak_ptr<connection_owner> owner) {
  owner_ = owner;
  // Posted rather than started here: the login that attaches this connection
  // returns to its caller first, and the reader's first read would only meet
  // an empty socket. Whatever the target sends meanwhile waits in the socket.
  asio::post(socket_.get_executor(), [self = shared_from_this(), owner = std::move(owner)]() mutable {
    asio::co_spawn(self->socket_.get_executor(), self->read_loop(std::move(owner)), asio::detached);
  });
}

void connection::send(protocol::pdu p) {
  if (!open_) return;
  p.set_exp_stat_sn(exp_stat_sn_);
  write_queue_.push_back(protocol::encode(p, settings_.digests));
  if (!std::exchange(writing_, true)) asio::co_spawn(socket_.get_executor(), write_loop(), asio::detached);
}

void connection::close() {
  if (!std::exchange(open_, false)) return;
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  write_queue_.clear();
}

void connection::fail(events::event_reason reason, const error& why) {
  if (!open_) return;
  auto owner = owner_.lock();
  close();
  if (owner) owner->on_connection_failed(*this, reason, why);
}

// Every PDU that carries a status advances ExpStatSN (RFC 7143 §4.2.2.2).
void connection::note_stat_sn(const protocol::pdu& p) {
  bool carries_status = false;
  switch (p.op()) {
    case opcode::scsi_response:
    case opcode::task_mgmt_response:
    case opcode::text_response:
    case opcode::logout_response:
    case opcode::async_message:
    case opcode::reject: carries_status = true; break;
    case opcode::data_in: carries_status = p.has_status(); break;
    case opcode::nop_in: carries_status = p.itt() != protocol::reserved_tag; break;
    default: break;
  }
  if (carries_status && protocol::serial_greater_equal(p.stat_sn(), exp_stat_sn_)) exp_stat_sn_ = p.stat_sn() + 1;
}

asio::awaitable<void> connection::read_loop(std::weak_ptr<connection_owner> owner) {
  const auto self = shared_from_this();
  while (open_) {
    auto received = co_await transport::read_pdu(socket_, settings_.digests, settings_.max_recv_data_segment_length);
    if (!open_) co_return;
    if (!received) {
      const bool transport_failure = received.error().code == make_error_code(errc::connection_closed);
      fail(transport_failure ? events::event_reason::peer_closed : events::event_reason::protocol_error,
           received.error());
      co_return;
    }
    note_stat_sn(*received);
    const auto session = owner.lock();
    if (!session) co_return;
    session->on_pdu(*this, std::move(*received));
  }
}

asio::awaitable<void> connection::write_loop() {
  const auto self = shared_from_this();
  while (open_ && !write_queue_.empty()) {
    const auto written = co_await transport::write_bytes(socket_, write_queue_.front());
    if (!open_) break;
    if (!written) {
      fail(events::event_reason::peer_closed, written.error());
      break;
    }
    write_queue_.pop_front();
  }
  writing_ = false;
}

}  // namespace isens::initiator::detail
