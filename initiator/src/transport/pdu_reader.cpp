#include "transport/pdu_reader.hpp"

#include "transport/socket_calls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>

namespace isens::initiator::transport {
namespace {

// Big enough for many small PDUs per recv; a larger PDU grows it.
constexpr std::size_t initial_buffer = 64 * 1024;

}  // namespace

pdu_reader::pdu_reader(boost::asio::ip::tcp::socket& socket, protocol::digest_settings digests,
                       std::uint32_t max_recv_data_segment_length)
    : socket_(socket), digests_(digests), max_recv_(max_recv_data_segment_length), buffer_(initial_buffer) {}

boost::asio::awaitable<result<void>> pdu_reader::fill(std::size_t n) {
  if (buffered() >= n) co_return result<void>{};
  if (buffer_.size() - begin_ < n) {  // move what is left to the front, growing if one PDU needs more
    move_to_front();
    if (buffer_.size() < n) buffer_.resize(n);
  }
  while (buffered() < n) {
    auto got = co_await receive(buffer_.data() + end_, buffer_.size() - end_, "reading a PDU");
    if (!got) co_return got.error();
    end_ += *got;
  }
  co_return result<void>{};
}

boost::asio::awaitable<result<std::size_t>> pdu_reader::receive(std::uint8_t* to, std::size_t size, const char* doing) {
  // A recv that came back short emptied the socket: the next one would
  // only say EAGAIN, so wait at once (async_read_some tries one recv itself,
  // then waits without re-arming epoll as async_wait would).
  if (!drained_) {
    boost::system::error_code ec;
    const auto got = transport::receive_now(socket_, to, size, ec);
    if (ec) co_return socket_error(ec, doing);
    if (got > 0) {
      drained_ = got < size;
      co_return got;
    }
  }
  auto [ec, got] = co_await socket_.async_read_some(boost::asio::buffer(to, size), use_tuple);
  if (ec) co_return socket_error(ec, doing);
  drained_ = got < size;
  co_return got;
}

boost::asio::awaitable<result<void>> pdu_reader::read_into(std::uint8_t* to, std::size_t length) {
  for (std::size_t done = 0; done < length;) {
    auto got = co_await receive(to + done, length - done, "reading Data-In");
    if (!got) co_return got.error();
    done += *got;
  }
  co_return result<void>{};
}

namespace {

bool is_placed(const std::uint8_t* bhs, const protocol::frame_layout& layout) {
  return (bhs[0] & 0x3f) == static_cast<std::uint8_t>(protocol::opcode::data_in) && layout.data_segment_length > 0;
}

}  // namespace

result<protocol::frame_layout> pdu_reader::inspect_front() const {
  const std::span<const std::uint8_t, protocol::bhs_size> bhs(front(), protocol::bhs_size);
  auto layout = protocol::inspect_header(bhs, digests_, max_recv_);
  if (!layout) return layout.error();
  // No AHS is defined for Data-In (RFC 7143 §11.7): one is malformed, and
  // its data must not bypass the placement checks.
  const bool data_in = (bhs[0] & 0x3f) == static_cast<std::uint8_t>(protocol::opcode::data_in);
  if (data_in && layout->ahs_length != 0)
    return make_error(errc::bad_ahs_length, "Data-In with " + std::to_string(layout->ahs_length) + " bytes of AHS");
  return layout;
}

result<protocol::pdu> pdu_reader::take_whole(const protocol::frame_layout& layout, const data_in_placer& place) {
  header_first_ = false;
  std::array<std::uint8_t, protocol::bhs_size> bhs;
  std::memcpy(bhs.data(), front(), bhs.size());
  if (!is_placed(bhs.data(), layout)) {
    auto decoded = protocol::decode_body(bhs, protocol::byte_span(front() + protocol::bhs_size, layout.rest_length()),
                                         digests_, layout);
    begin_ += protocol::bhs_size + layout.rest_length();
    return decoded;
  }
  // Data-In: check the header before trusting its fields, then place the data.
  if (layout.header_digest_length != 0) {
    if (auto ok = protocol::check_header_digest(bhs, {}, front() + protocol::bhs_size); !ok) return ok.error();
  }
  begin_ += protocol::bhs_size + layout.header_digest_length;
  protocol::pdu header;
  header.bhs = bhs;
  auto where = place(header);
  if (!where) return where.error();
  const std::size_t length = layout.data_segment_length;
  if (*where) {
    std::memcpy(*where, front(), length);
    if (layout.data_digest_length != 0) {
      auto ok = protocol::check_data_digest(protocol::byte_span(*where, length),
                                            protocol::byte_span(front() + length, layout.data_padding),
                                            front() + length + layout.data_padding);
      if (!ok) return ok.error();
    }
  }
  begin_ += length + layout.data_padding + layout.data_digest_length;
  return header;
}

std::optional<result<protocol::pdu>> pdu_reader::read_buffered(const data_in_placer& place) {
  if (buffered() < protocol::bhs_size) return std::nullopt;
  auto layout = inspect_front();
  if (!layout) return layout.error();
  if (buffered() < protocol::bhs_size + layout->rest_length()) return std::nullopt;
  return take_whole(*layout, place);
}

bool pdu_reader::wants_bytes() const {
  if (buffered() < protocol::bhs_size) return true;
  const auto layout = inspect_front();
  if (!layout) return false;  // read() reports it
  const std::size_t whole = protocol::bhs_size + layout->rest_length();
  if (whole > buffer_.size()) return false;  // read() grows the buffer
  return !is_placed(front(), *layout) || layout->data_segment_length <= small_payload;
}

std::span<std::uint8_t> pdu_reader::make_room() {
  if (begin_ == end_) begin_ = end_ = 0;
  // After a large Data-In, the next header alone (header_first_);
  // otherwise room for the whole front PDU (wants_bytes said it fits).
  const std::size_t head = protocol::bhs_size + (digests_.header ? protocol::digest_size : 0);
  const bool header_only = header_first_ && buffered() < head;
  std::size_t need = header_only ? head : protocol::bhs_size;
  if (!header_only && buffered() >= protocol::bhs_size) {
    if (const auto layout = inspect_front()) need += layout->rest_length();
  }
  if (buffer_.size() - begin_ < need) move_to_front();
  return {buffer_.data() + end_, header_only ? head - buffered() : buffer_.size() - end_};
}

void pdu_reader::move_to_front() {
  std::memmove(buffer_.data(), front(), buffered());
  end_ -= begin_;
  begin_ = 0;
}

error pdu_reader::socket_error_of(const boost::system::error_code& ec) { return socket_error(ec, "reading a PDU"); }

result<std::size_t> pdu_reader::poll_now() {
  drained_ = false;
  return receive_now();
}

result<std::size_t> pdu_reader::receive_now() {
  if (drained_) return std::size_t{0};  // see receive()
  const auto room = make_room();
  boost::system::error_code ec;
  const auto got = transport::receive_now(socket_, room.data(), room.size(), ec);
  if (ec) return socket_error(ec, "reading a PDU");
  drained_ = got < room.size();
  end_ += got;
  return got;
}

boost::asio::awaitable<result<protocol::pdu>> pdu_reader::read(const data_in_placer& place) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (buffered() < protocol::bhs_size) {
    if (auto got = co_await fill(protocol::bhs_size); !got) co_return got.error();
  }
  auto layout = inspect_front();
  if (!layout) co_return layout.error();
  const std::size_t whole = protocol::bhs_size + layout->rest_length();
  // What is not placed is staged whole; so is a Data-In already all here.
  if (!is_placed(front(), *layout) || buffered() >= whole) {
    if (buffered() < whole) {
      if (auto got = co_await fill(whole); !got) co_return got.error();
    }
    co_return take_whole(*layout, place);
  }
  std::array<std::uint8_t, protocol::bhs_size> bhs;
  std::memcpy(bhs.data(), front(), bhs.size());

  // Data-In: check the header before trusting its fields, then place the data.
  const std::size_t head = protocol::bhs_size + layout->header_digest_length;
  if (buffered() < head) {
    if (auto got = co_await fill(head); !got) co_return got.error();
  }
  if (layout->header_digest_length != 0) {
    if (auto ok = protocol::check_header_digest(bhs, {}, front() + protocol::bhs_size); !ok) co_return ok.error();
  }
  begin_ += head;
  protocol::pdu header;
  header.bhs = bhs;
  auto where = place(header);
  if (!where) co_return where.error();
  const std::size_t length = layout->data_segment_length;
  std::vector<std::uint8_t> dropped;
  auto* const to = *where ? *where : (dropped.resize(length), dropped.data());
  const std::size_t from_buffer = std::min(length, buffered());
  std::memcpy(to, front(), from_buffer);
  begin_ += from_buffer;
  if (from_buffer < length) {
    if (auto got = co_await read_into(to + from_buffer, length - from_buffer); !got) co_return got.error();
    header_first_ = true;
  }
  const std::size_t trailer = layout->data_padding + layout->data_digest_length;
  if (buffered() < trailer) {
    if (auto got = co_await fill(trailer); !got) co_return got.error();
  }
  if (layout->data_digest_length != 0 && *where) {
    auto ok = protocol::check_data_digest(protocol::byte_span(*where, length),
                                          protocol::byte_span(front(), layout->data_padding),
                                          front() + layout->data_padding);
    if (!ok) co_return ok.error();
  }
  begin_ += trailer;
  co_return header;
}

}  // namespace isens::initiator::transport
