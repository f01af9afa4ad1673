#include "session/connection.hpp"

#include "protocol/serial_number.hpp"
#include "transport/pdu_reader.hpp"
#include "transport/pdu_stream.hpp"
#include "transport/socket_calls.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <optional>

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
  owner_ = std::move(owner);
  // Posted rather than started here: the login that attaches this connection
  // returns to its caller first, and the reader's first read would only meet
  // an empty socket. Whatever the target sends meanwhile waits in the socket.
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->start_reading(); });
}

void connection::send(protocol::pdu p) {
  if (!open_) return;
  p.set_exp_stat_sn(exp_stat_sn_);
  outgoing out;
  out.frame = protocol::frame_around(p, p.data, settings_.digests);
  out.owned = std::move(p.data);  // moving a vector keeps its bytes where they are
  out.payload = out.owned;
  write_queue_.push_back(std::move(out));
  schedule_write();
}

void connection::send(protocol::pdu p, protocol::byte_span payload) {
  if (!open_) return;
  p.set_exp_stat_sn(exp_stat_sn_);
  outgoing out;
  out.frame = protocol::frame_around(p, payload, settings_.digests);
  out.payload = payload;
  out.itt = p.itt();
  write_queue_.push_back(std::move(out));
  schedule_write();
}

void connection::forget_payloads(std::uint32_t itt) {
  if (queued() == 0) return;
  // The front PDU may be partly on the wire: its rest must still go out
  // whole, so it keeps a copy of its payload. Any other is simply dropped.
  auto& front = *unsent();
  if (front.itt == itt && front.written > 0 && front.owned.empty() && !front.payload.empty()) {
    front.owned.assign(front.payload.begin(), front.payload.end());
    front.payload = front.owned;
    front.itt = protocol::reserved_tag;
  }
  const auto first = front.written > 0 ? std::next(unsent()) : unsent();
  write_queue_.erase(std::remove_if(first, write_queue_.end(),
                                    [itt](const outgoing& o) { return o.itt == itt && o.owned.empty(); }),
                     write_queue_.end());
  reclaim_sent();
}

void connection::pop_sent() {
  ++sent_pdus_;
  reclaim_sent();
}

void connection::reclaim_sent() {
  if (sent_pdus_ == write_queue_.size()) {
    write_queue_.clear();  // keeps the capacity
    sent_pdus_ = 0;
  } else if (sent_pdus_ >= 64 && sent_pdus_ * 2 >= write_queue_.size()) {
    write_queue_.erase(write_queue_.begin(), unsent());
    sent_pdus_ = 0;
  }
}

void connection::close() {
  if (!std::exchange(open_, false)) return;
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  write_queue_.clear();
  sent_pdus_ = 0;
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

void connection::start_reading() {
  reader_ = std::make_unique<transport::pdu_reader>(socket_, settings_.digests, settings_.max_recv_data_segment_length);
  // A batch's PDUs are placed through the session it locked; a PDU read()
  // waited for locks the session itself (never held across a wait).
  place_buffered_ = [this](const protocol::pdu& header) { return batch_owner_->place_data_in(*this, header); };
  place_after_wait_ = [this](const protocol::pdu& header) -> result<std::uint8_t*> {
    const auto session = owner_.lock();
    if (!session) return nullptr;
    return session->place_data_in(*this, header);
  };
  read_batches();
}

void connection::read_batches() {
  for (;;) {
    // Every whole PDU the buffer holds, then the batch's end: completions
    // run and what they queued goes out, before the socket is waited on.
    const auto session = owner_.lock();
    if (!session) return stop_reading();
    batch_owner_ = session.get();
    writes_corked_ = true;
    std::optional<result<protocol::pdu>> failed;
    while (open_) {
      auto received = reader_->read_buffered(place_buffered_);
      if (!received) break;
      if (!*received) {
        failed = std::move(received);
        break;
      }
      note_stat_sn(**received);
      session->on_pdu(*this, std::move(**received));
    }
    batch_owner_ = nullptr;
    session->on_pdus_drained();
    uncork_writes();
    if (!open_) return stop_reading();
    if (failed) return fail_reading(failed->error());
    if (!reader_->wants_bytes()) {
      // A large Data-In payload: straight into place, by read().
      asio::co_spawn(socket_.get_executor(), read_placed(), asio::detached);
      return;
    }
    const auto got = reader_->receive_now();
    if (!got) return fail_reading(got.error());
    if (*got > 0) continue;
    if (const auto budget = session->poll_before_sleep(*this); budget.count() > 0) {
      const auto polled = poll_socket(budget);
      if (!polled) return fail_reading(polled.error());
      if (*polled) continue;
    }
    reader_->async_receive([self = shared_from_this()](result<void> received) {
      if (!self->open_) return self->stop_reading();
      if (!received) return self->fail_reading(received.error());
      self->read_batches();
    });
    return;
  }
}

result<bool> connection::poll_socket(std::chrono::microseconds budget) {
  const auto until = std::chrono::steady_clock::now() + budget;
  do {
    const auto got = reader_->poll_now();
    if (!got) return got.error();
    if (*got > 0) return true;
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

asio::awaitable<void> connection::read_placed() {
  const auto self = shared_from_this();
  auto received = co_await reader_->read(place_after_wait_);
  if (!open_) co_return stop_reading();
  if (!received) co_return fail_reading(received.error());
  // Handled as the start of the next batch.
  note_stat_sn(*received);
  const auto session = owner_.lock();
  if (!session) co_return stop_reading();
  writes_corked_ = true;
  session->on_pdu(*this, std::move(*received));
  read_batches();
}

void connection::fail_reading(const error& why) {
  const bool transport_failure = why.code == make_error_code(errc::connection_closed);
  fail(transport_failure ? events::event_reason::peer_closed : events::event_reason::protocol_error, why);
  stop_reading();
}

void connection::stop_reading() {
  // A batch cut short by a close or a failure ends too.
  if (const auto session = owner_.lock()) session->on_pdus_drained();
  uncork_writes();
}

std::size_t connection::write_some(boost::system::error_code& ec) {
  // Up to 64 PDUs in one sendmsg (three parts each).
  constexpr std::size_t max_pdus = 64;
  std::array<iovec, max_pdus * 3> parts;
  std::size_t count = 0;
  std::size_t pdus = 0;
  for (auto it = unsent(); it != write_queue_.end() && pdus < max_pdus; ++it, ++pdus) {
    std::size_t skip = it->written;
    const auto add = [&](const std::uint8_t* data, std::size_t size) {
      if (skip >= size) {
        skip -= size;
        return;
      }
      parts[count++] = iovec{const_cast<std::uint8_t*>(data) + skip, size - skip};
      skip = 0;
    };
    const auto head = it->frame.head();
    add(head.data(), head.size());
    add(it->payload.data(), it->payload.size());
    add(it->frame.tail.data(), it->frame.tail_length);
  }
  const std::size_t sent = transport::send_now(socket_, parts.data(), count, ec);
  std::size_t left = sent;
  while (left > 0 && queued() > 0) {
    auto& front = *unsent();
    const std::size_t whole = front.frame.head().size() + front.payload.size() + front.frame.tail_length;
    const std::size_t take = std::min(left, whole - front.written);
    front.written += take;
    left -= take;
    if (front.written == whole) pop_sent();
  }
  return sent;
}

void connection::schedule_write() {
  if (writing_) return;
  // While the reader hands over a batch, what it causes goes out at the
  // batch's end, all in one sendmsg and without a post (uncork_writes).
  if (writes_corked_) {
    write_wanted_ = true;
    return;
  }
  writing_ = true;
  // Posted, so that every PDU queued in this turn goes out in one sendmsg.
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->write_now(); });
}

void connection::uncork_writes() {
  writes_corked_ = false;
  if (!std::exchange(write_wanted_, false) || writing_) return;
  writing_ = true;
  write_now();
}

void connection::write_now() {
  boost::system::error_code ec;
  while (open_ && queued() > 0) {
    if (write_some(ec) == 0 || ec) break;
  }
  if (!open_ || queued() == 0) {
    writing_ = false;
  } else if (ec) {
    writing_ = false;
    fail(events::event_reason::peer_closed, transport::socket_error(ec, "writing a PDU"));
  } else {
    asio::co_spawn(socket_.get_executor(), write_loop(), asio::detached);  // the socket is full: wait
  }
}

asio::awaitable<void> connection::write_loop() {
  const auto self = shared_from_this();
  while (open_ && queued() > 0) {
    boost::system::error_code ec;
    const auto sent = write_some(ec);
    if (!open_) break;
    if (ec) {
      fail(events::event_reason::peer_closed, transport::socket_error(ec, "writing a PDU"));
      break;
    }
    if (sent > 0) continue;
    auto [waited] = co_await socket_.async_wait(asio::socket_base::wait_write, asio::as_tuple(asio::use_awaitable));
    if (!open_) break;
    if (waited) {
      fail(events::event_reason::peer_closed, transport::socket_error(waited, "writing a PDU"));
      break;
    }
  }
  writing_ = false;
}

}  // namespace isens::initiator::detail
