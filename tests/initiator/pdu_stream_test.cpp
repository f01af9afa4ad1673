// The PDU transport's two paths: what the socket moves at once (plain
// non-blocking recv/send) and the rest through Asio. These tests force the
// second path - a body that arrives after its header, a write larger than
// the socket takes at once - on real loopback sockets.
#include "transport/pdu_stream.hpp"

#include "protocol/pdu.hpp"

#include "loopback_socket_pair.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace proto = isens::initiator::protocol;
using namespace std::chrono_literals;
using isens::test::loopback_socket_pair;
using isens::test::run_bounded;

}  // namespace

TEST_CASE("a PDU whose data segment arrives after its header is read whole", "[initiator][transport]") {
  asio::io_context io(1);
  loopback_socket_pair pair(io);
  proto::pdu ping(proto::opcode::nop_in);
  ping.set_final(true);
  ping.data.assign(1000, 0x5a);
  const auto bytes = proto::encode(ping, {});

  std::thread target([&] {
    asio::write(pair.theirs, asio::buffer(bytes.data(), proto::bhs_size));
    std::this_thread::sleep_for(100ms);  // the reader has the header and finds no body yet
    asio::write(pair.theirs, asio::buffer(bytes.data() + proto::bhs_size, bytes.size() - proto::bhs_size));
  });
  const auto got = run_bounded(io, isens::initiator::transport::read_pdu(pair.ours, {}, 8192));
  target.join();
  REQUIRE(got.has_value());
  CHECK(got->op() == proto::opcode::nop_in);
  CHECK(got->data == ping.data);
}

TEST_CASE("a write larger than the socket takes at once is sent whole", "[initiator][transport]") {
  asio::io_context io(1);
  loopback_socket_pair pair(io);
  proto::byte_buffer bytes(16u << 20);  // far more than a loopback socket buffers
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 7);

  proto::byte_buffer received(bytes.size());
  std::thread target([&] {
    std::this_thread::sleep_for(100ms);  // the writer has filled the socket and waits
    asio::read(pair.theirs, asio::buffer(received));
  });
  const auto sent = run_bounded(io, isens::initiator::transport::write_bytes(pair.ours, bytes));
  target.join();
  REQUIRE(sent.has_value());
  CHECK(received == bytes);
}
