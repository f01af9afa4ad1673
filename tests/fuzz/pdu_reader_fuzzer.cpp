// libFuzzer target: untrusted bytes through transport::pdu_reader, the receive
// side of every full-feature connection: BHS, AHS and data framed out of a
// receive buffer that fills in pieces, header and data digests, and Data-In
// placed straight into a caller's buffer (tests/fuzz/data_path_fuzzer.cpp
// runs the session behind it, without digests).
//
// Input: byte 0 chooses the digests (bits 0-1) and how the bytes arrive
// (bits 2-7: pieces of 1 + 61 * n bytes, at most 64 of them, the reader
// running between them); byte 1 the MaxRecvDataSegmentLength declared (bits
// 0-1) and whether the digests in the stream are made right first (bit 2: a
// fuzzer cannot guess a CRC); the rest is what the target sends. The placer
// checks what the session checks before placing: a known task
// (ITT 0 reads 4 KiB, ITT 1 reads 16 KiB; others are dropped), each PDU
// where the last ended, within the task's length.
#include "fuzz_frames.hpp"
#include "transport/pdu_reader.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace proto = isens::initiator::protocol;
using isens::initiator::result;

// A read in flight: its buffer (exactly its length: a stray byte is an ASan
// error) and how much of it arrived.
struct read_task {
  std::vector<std::uint8_t> buffer;
  std::uint32_t received = 0;
};

struct world {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
};

// Writes the right header and data digests into every PDU of `stream`, as
// far as it goes.
void seal(std::vector<std::uint8_t>& stream, proto::digest_settings digests) {
  isens::fuzz::for_each_frame(stream, digests, [&](std::size_t at, const proto::frame_layout& l) {
    const auto fits = [&](std::size_t end) { return end <= stream.size(); };
    const std::size_t head = proto::bhs_size + l.ahs_length;
    if (l.header_digest_length != 0 && fits(at + head + proto::digest_size))
      proto::store_digest(stream.data() + at + head, proto::crc32c(proto::byte_span(stream.data() + at, head)));
    const std::size_t data_at = at + head + l.header_digest_length;
    const std::size_t padded = l.data_segment_length + l.data_padding;
    if (l.data_digest_length != 0 && fits(data_at + padded + proto::digest_size))
      proto::store_digest(stream.data() + data_at + padded, proto::crc32c(proto::byte_span(stream.data() + data_at, padded)));
  });
}

asio::awaitable<void> send_in_pieces(asio::ip::tcp::socket& to, proto::byte_span bytes, std::size_t piece) {
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    const auto n = std::min(piece, bytes.size() - at);
    const auto [failed, sent] =
        co_await asio::async_write(to, asio::buffer(bytes.data() + at, n), asio::as_tuple(asio::use_awaitable));
    if (failed) co_return;                                      // the reader gave up and closed
    co_await asio::post(to.get_executor(), asio::use_awaitable);  // let the reader take what is there
  }
  boost::system::error_code ignored;
  to.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> read_all(asio::ip::tcp::socket& from, proto::digest_settings digests, std::uint32_t max_recv,
                               bool& done) {
  std::array<read_task, 2> tasks{read_task{std::vector<std::uint8_t>(4096)}, read_task{std::vector<std::uint8_t>(16384)}};
  isens::initiator::transport::pdu_reader reader(from, digests, max_recv);
  const isens::initiator::transport::data_in_placer place = [&](const proto::pdu& h) -> result<std::uint8_t*> {
    if (h.itt() >= tasks.size()) return nullptr;  // a task already gone: read and dropped
    auto& task = tasks[h.itt()];
    const std::uint64_t end = std::uint64_t{h.buffer_offset()} + h.data_segment_length();
    if (h.buffer_offset() != task.received || end > task.buffer.size())
      return isens::initiator::make_error(isens::initiator::errc::scsi_bad_response, "misplaced Data-In");
    return task.buffer.data() + h.buffer_offset();
  };
  for (;;) {
    auto p = co_await reader.read(place);
    if (!p) break;
    const bool data_in = p->op() == proto::opcode::data_in;
    const bool placed = data_in && p->data_segment_length() > 0 && p->total_ahs_length() == 0;
    // A placed Data-In comes back without data; any other PDU with all of it.
    if (p->data.size() != (placed ? 0 : p->data_segment_length())) std::abort();
    if (placed && p->itt() < tasks.size()) tasks[p->itt()].received += p->data_segment_length();
  }
  from.close();  // as a connection does: the sender sees it
  done = true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static world w;
  const proto::digest_settings digests{(data[0] & 1) != 0, (data[0] & 2) != 0};
  const std::size_t piece = std::max(1 + std::size_t{61} * (data[0] >> 2), (size + 63) / 64);
  static constexpr std::uint32_t max_recv[] = {512, 8192, 262144, 1u << 20};  // a larger one only costs memset time
  const std::uint32_t limit = max_recv[data[1] & 3];

  // Connected asynchronously: libFuzzer's timer signal interrupts a blocking connect.
  asio::ip::tcp::socket ours(w.io), theirs(w.io);
  boost::system::error_code connected, accepted;
  ours.async_connect(w.acceptor.local_endpoint(), [&](const boost::system::error_code& ec) { connected = ec; });
  w.acceptor.async_accept(theirs, [&](const boost::system::error_code& ec) { accepted = ec; });
  w.io.restart();
  w.io.run();
  if (connected || accepted) std::abort();
  std::vector<std::uint8_t> stream(data + 2, data + size);
  if (data[1] & 4) seal(stream, digests);
  bool done = false;
  asio::co_spawn(w.io, send_in_pieces(theirs, stream, piece), asio::detached);
  asio::co_spawn(w.io, read_all(ours, digests, limit, done), asio::detached);
  // The stream ends with the target's FIN: the reader must end with it.
  w.io.restart();
  w.io.run();
  if (!done) std::abort();
  return 0;
}
