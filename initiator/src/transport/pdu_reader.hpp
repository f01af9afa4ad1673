#pragma once
// Reads the PDUs of one full-feature connection through a receive buffer:
// one recv usually brings several PDUs, so a PDU costs no system call of
// its own. Data-In payloads go where the session says (the caller's
// buffer, at the PDU's Buffer Offset): what the receive buffer already
// holds is copied from it, the rest is received straight into place, so a
// large read is never staged.

#include "isens/initiator/error.hpp"
#include "protocol/pdu.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace isens::initiator::transport {

// Where the data of one Data-In PDU goes: `at` (data_segment_length bytes
// there are the caller's to fill), or nullptr to read and drop it (a task
// already gone). An error ends the connection (a protocol error).
using data_in_placer = std::function<result<std::uint8_t*>(const protocol::pdu& header)>;

class pdu_reader {
 public:
  // The socket must outlive the reader; one reader per socket.
  pdu_reader(boost::asio::ip::tcp::socket& socket, protocol::digest_settings digests,
             std::uint32_t max_recv_data_segment_length);

  // The next PDU from the target. A Data-In with data comes back with an
  // empty `data`: its bytes are already where `place` said. Socket errors
  // become connection_closed; framing and digest errors keep their errc.
  boost::asio::awaitable<result<protocol::pdu>> read(const data_in_placer& place);
  // The same, without awaiting, when the buffer already holds the whole
  // next PDU (what one recv usually brings): nothing (and nothing
  // consumed) when it does not, and read() must be awaited. Spares the
  // coroutine frame read() costs (larger than Asio recycles: a malloc).
  std::optional<result<protocol::pdu>> read_buffered(const data_in_placer& place);
  // After read_buffered found nothing whole: whether receiving more into
  // the buffer is what the next PDU needs (receive_now / async_receive),
  // rather than read() (a Data-In payload above small_payload, received
  // straight into place).
  bool wants_bytes() const;
  // Receives into the buffer what the socket has now, without waiting
  // (nothing when the last receive emptied it). Needs wants_bytes().
  result<std::size_t> receive_now();
  // receive_now(), also when the last receive emptied the socket (to poll it).
  result<std::size_t> poll_now();
  // Waits for bytes and receives them into the buffer; then
  // `done(result<void>)`. Needs wants_bytes(). A plain handler rather
  // than a coroutine: resuming one through Asio's awaitable machinery cost
  // more than the rest of a 4 KiB read's wait.
  template <class Handler>
  void async_receive(Handler done) {
    const auto room = make_room();
    socket_.async_read_some(boost::asio::buffer(room), [this, room, done = std::move(done)](
                                                           const boost::system::error_code& ec, std::size_t got) mutable {
      if (ec) return done(result<void>(socket_error_of(ec)));
      drained_ = got < room.size();
      end_ += got;
      done(result<void>{});
    });
  }
  // A Data-In payload up to this size that is not all here yet is received
  // into the buffer and copied (a few KiB cost less than a coroutine frame
  // and a system call of their own); a larger one goes straight into place.
  static constexpr std::size_t small_payload = 16 * 1024;

 private:
  // The header at the front of the buffer, checked (Data-In with AHS refused).
  result<protocol::frame_layout> inspect_front() const;
  // Takes the PDU at the front whose every byte is buffered.
  result<protocol::pdu> take_whole(const protocol::frame_layout& layout, const data_in_placer& place);
  // The free end of the buffer, with room behind the front PDU for all of it.
  std::span<std::uint8_t> make_room();
  // Moves the buffered bytes to the buffer's start.
  void move_to_front();
  static error socket_error_of(const boost::system::error_code& ec);
  // Makes at least `n` bytes readable in the buffer.
  boost::asio::awaitable<result<void>> fill(std::size_t n);
  // Receives what the socket has (at least one byte) into [to, to + size).
  boost::asio::awaitable<result<std::size_t>> receive(std::uint8_t* to, std::size_t size, const char* doing);
  // Receives exactly `length` bytes into `to` straight from the socket (the
  // buffer is empty by then).
  boost::asio::awaitable<result<void>> read_into(std::uint8_t* to, std::size_t length);
  std::size_t buffered() const noexcept { return end_ - begin_; }
  const std::uint8_t* front() const noexcept { return buffer_.data() + begin_; }

  boost::asio::ip::tcp::socket& socket_;
  const protocol::digest_settings digests_;
  const std::uint32_t max_recv_;
  std::vector<std::uint8_t> buffer_;
  std::size_t begin_ = 0;  // first unread byte
  std::size_t end_ = 0;    // one past the last received byte
  bool drained_ = false;   // the last recv came back short: the socket is empty
  // The last PDU was a Data-In whose payload went straight into place: the
  // next header is received alone, so that its payload, likely as large,
  // follows it into place too instead of through the buffer and a copy
  // (what libiscsi does for every PDU). Any PDU taken from the buffer
  // whole ends it, and small PDUs are batched again.
  bool header_first_ = false;
};

}  // namespace isens::initiator::transport
