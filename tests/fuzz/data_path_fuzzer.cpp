// libFuzzer target: untrusted bytes as everything a target says to a logged-in
// session while one read (4 KiB) and one write (16 KiB: 8 KiB immediate, the
// rest by R2T) are in flight - Data-In, R2T, SCSI Response, Reject, NOP-In,
// Async Message, anything - through the real session code (pdu_reader,
// connection, data_path.cpp, block_io.cpp).
//
// Per input, on one thread: a scripted target (tests/initiator) logs the
// session in and answers LUN enumeration, takes the two commands, then sends
// the input and closes its side. In the input, an ITT below 0x100 (in a BHS, or in
// the BHS a Reject carries) names the read when even, the write when odd,
// so mutations reach the commands without guessing their tags.
//
// Checks, besides the sanitizers: each I/O completes exactly once, within
// bounded time; its buffer is freed the moment it completes (so a Data-In
// placed or a Data-Out sent from it later is a use-after-free); a read that
// succeeds has had every byte of its buffer written; nothing stays in flight
// or queued once the session is down.
#include "fuzz_frames.hpp"
#include "scripted_target.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/initiator/initiator.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace proto = isens::initiator::protocol;
using isens::initiator::result;

constexpr std::size_t read_bytes = 4096;
constexpr std::size_t write_bytes = 16384;

// Gives each BHS of `stream` whose ITT is below 0x100 the read's or the
// write's ITT (even: read, odd: write), and so for a Reject's rejected BHS.
void aim(std::vector<std::uint8_t>& stream, const std::uint32_t (&itts)[2]) {
  const auto retag = [&](std::size_t itt_at) {
    if (itt_at + 4 > stream.size()) return;
    std::uint8_t* itt = stream.data() + itt_at;
    if (const auto v = proto::load_be32(itt); v < 0x100) proto::store_be(itt, 4, itts[v % 2]);
  };
  isens::fuzz::for_each_frame(stream, {}, [&](std::size_t at, const proto::frame_layout& l) {
    retag(at + 16);
    if ((stream[at] & 0x3f) == static_cast<std::uint8_t>(proto::opcode::reject) &&
        l.data_segment_length >= proto::bhs_size)
      retag(at + proto::bhs_size + l.ahs_length + 16);  // the rejected BHS
  });
}

// Bytes no target sends by chance: what the read's buffer holds before the
// read. A read that succeeds must have overwritten every one of them.
const std::vector<std::byte>& canary() {
  static const std::vector<std::byte> bytes = [] {
    std::vector<std::byte> b(read_bytes);
    std::mt19937_64 random(std::random_device{}());
    for (auto& x : b) x = static_cast<std::byte>(random());
    return b;
  }();
  return bytes;
}

// A 16-byte piece of a buffer, hashed: compared through hashes, since
// libFuzzer learns the bytes a memcmp compares and would put the canary itself
// into Data-In.
std::size_t piece_hash(const std::vector<std::byte>& buffer, std::size_t at) {
  return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(buffer.data() + at), 16));
}

// Whether some 16-byte piece of a read's buffer still holds the canary.
bool left_unwritten(const std::vector<std::byte>& buffer) {
  static const std::vector<std::size_t> canary_hashes = [] {
    std::vector<std::size_t> h;
    for (std::size_t at = 0; at < read_bytes; at += 16) h.push_back(piece_hash(canary(), at));
    return h;
  }();
  for (std::size_t at = 0; at < read_bytes; at += 16)
    if (piece_hash(buffer, at) == canary_hashes[at / 16]) return true;
  return false;
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "data_path_fuzzer: %s\n", what);
  std::abort();
}

// The world of one input. Everything runs on `io`, on the calling thread.
// Shared with the I/O handlers: one called after its input ended finds it.
struct run : std::enable_shared_from_this<run> {
  run(asio::io_context& io, isens::initiator::initiator& initiator, asio::ip::tcp::acceptor& acceptor,
      std::vector<std::uint8_t> stream)
      : io(io), initiator(initiator), acceptor(acceptor), stream(std::move(stream)) {}

  asio::io_context& io;
  isens::initiator::initiator& initiator;
  asio::ip::tcp::acceptor& acceptor;
  std::vector<std::uint8_t> stream;

  isens::test::scripted_disk disk{64, 512};
  std::optional<std::uint64_t> session;
  bool logged_in = false;  // the login step ended, with or without a session
  std::unique_ptr<std::vector<std::byte>> read_buffer = std::make_unique<std::vector<std::byte>>(canary());
  std::unique_ptr<std::vector<std::byte>> write_buffer =
      std::make_unique<std::vector<std::byte>>(write_bytes, std::byte{0x5a});
  int reads_done = 0;
  int writes_done = 0;
  bool target_done = false;
  bool over = false;  // the input is done with: no handler may run any more

  asio::awaitable<void> target() {
    const auto self = shared_from_this();
    isens::test::scripted_connection c(co_await acceptor.async_accept(asio::use_awaitable));
    try {
      co_await c.accept_login(0x4242, {{"InitialR2T", "Yes"}});  // the rest of the write waits for an R2T
      co_await c.answer_enumeration(disk);
      std::uint32_t itts[2] = {0, 0};
      for (int commands = 0; commands < 2;) {  // the write's unsolicited Data-Out may come between
        const auto p = co_await c.receive();
        if (p.op() != proto::opcode::scsi_command) continue;
        itts[p.write_flag() ? 1 : 0] = p.itt();
        ++commands;
      }
      aim(stream, itts);
      co_await c.send_raw(std::move(stream));
      c.socket().shutdown(asio::ip::tcp::socket::shutdown_send);
      co_await c.drain();
    } catch (const std::exception& e) {
      spdlog::debug("scripted target: {}", e.what());  // the initiator closed the connection: the end of this input
    }
    target_done = true;
  }

  asio::awaitable<void> client() {
    const auto self = shared_from_this();
    isens::initiator::login_options o;
    o.target_portal = {"127.0.0.1", acceptor.local_endpoint().port()};
    o.target_name = isens::test::scripted_target_iqn;
    auto id = co_await initiator.login_to_target(o);
    logged_in = true;
    if (!id) co_return;
    session = *id;
    initiator.async_read(*id, 0, 0, std::span<std::byte>(*read_buffer), [self = shared_from_this()](result<void> r) {
      spdlog::debug("read: {}", r ? "done" : r.error().what());
      if (self->over || ++self->reads_done > 1) fail("the read completed twice");
      if (r && left_unwritten(*self->read_buffer)) fail("a read succeeded with bytes of its buffer never written");
      self->read_buffer.reset();  // the caller's to free now: a later placement is a use-after-free
    });
    initiator.async_write(*id, 0, 0, std::span<const std::byte>(*write_buffer), {},
                          [self = shared_from_this()](result<void> r) {
                            spdlog::debug("write: {}", r ? "done" : r.error().what());
                            if (self->over || ++self->writes_done > 1) fail("the write completed twice");
                            self->write_buffer.reset();
                          });
  }

  // Runs `io` until `done`; a run that does not end in 10 s is a hang.
  template <class Done>
  void until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) fail("the session did not settle within 10 s");
      if (io.stopped()) io.restart();  // it ran out of work for a moment
      io.run_one_for(std::chrono::milliseconds(100));
    }
  }
};

struct world {
  asio::io_context io;
  isens::events::event_bus bus{io.get_executor()};
  isens::initiator::initiator initiator{io.get_executor(), bus, options()};
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};

  static isens::initiator::initiator_options options() {
    isens::initiator::initiator_options o;
    o.single_threaded = true;
    o.nop_interval = std::chrono::milliseconds(0);
    o.command_timeout = std::chrono::milliseconds(100);  // a logout the target never answers
    o.login_timeout = std::chrono::milliseconds(2000);
    return o;
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Every input drops a connection: quiet, unless ISENS_FUZZ_LOG is set (to look into a finding).
  spdlog::set_level(std::getenv("ISENS_FUZZ_LOG") ? spdlog::level::debug : spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static world w;
  const auto r = std::make_shared<run>(w.io, w.initiator, w.acceptor, std::vector<std::uint8_t>(data, data + size));
  asio::co_spawn(w.io, r->target(), asio::detached);
  asio::co_spawn(w.io, r->client(), asio::detached);
  r->until([&] { return r->logged_in; });
  if (!r->session) fail("the login to the scripted target failed");
  // The target closes after the input: the connection ends, so must the I/O.
  r->until([&] { return r->reads_done > 0 && r->writes_done > 0; });
  const auto settled = [&] {
    const auto info = w.initiator.session(*r->session);
    if (!info || info->io.in_flight != 0 || info->io.queued != 0) fail("commands left in flight or queued");
    return !info->connected;
  };
  r->until(settled);  // logged out only once down: a logout the target never answers costs command_timeout
  bool forgotten = false;
  asio::co_spawn(
      w.io,
      [&]() -> asio::awaitable<void> {
        (void)co_await w.initiator.logout_from_target(*r->session);
        forgotten = true;
      },
      asio::detached);
  r->until([&] { return forgotten && r->target_done; });
  w.io.poll();
  r->over = true;
  return 0;
}
