#pragma once
// A session logged in to the scripted target, whose LUN 0 is a scripted
// disk, for the data-path suites (data_path_transfer_scripted_test.cpp,
// data_path_status_scripted_test.cpp): each connection of the target runs
// a script; the first command can be answered as a test likes; one read or
// write at block 0 checks that what landed is the disk's bytes.

#include "initiator_harness.hpp"
#include "scripted_target.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <future>
#include <span>
#include <utility>
#include <vector>

namespace isens::test {

namespace asio = boost::asio;
namespace proto = initiator::protocol;

using io_result = initiator::result<void>;
// What a connection of the scripted target does once logged in (and, the
// first, once it answered LUN enumeration); `nth` counts connections from 1.
using disk_script =
    std::function<asio::awaitable<void>(test::scripted_connection& c, test::scripted_disk& disk, int nth)>;

inline constexpr std::size_t io_bytes = 4096;      // one read: 8 blocks, one Data-In PDU unless cut
inline constexpr std::size_t write_bytes = 16384;  // one write: 8 KiB immediate data, 8 KiB by R2T
inline constexpr std::uint8_t busy = 0x08, task_set_full = 0x28, check_condition = 0x02, good = 0x00;

// Bytes that differ from block to block, so misplaced data shows.
inline std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 131 + (i >> 9) * 7 + seed) & 0xff);
  return out;
}

inline proto::byte_span wire(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
}

inline bool same_bytes(std::span<const std::byte> got, proto::byte_span want) {
  return got.size() == want.size() && std::memcmp(got.data(), want.data(), got.size()) == 0;
}

// How the scripted target logs a session in.
struct target_settings {
  std::int32_t login_window = 16;  // MaxCmdSN - ExpCmdSN during login and LUN enumeration
  // Answers given instead of echoing the offer: writes wait for R2Ts.
  proto::key_values login_keys{{"InitialR2T", "Yes"}};
};

// A session logged in to a scripted target whose LUN 0 is `disk` (filled
// with a pattern), LUNs enumerated; every connection runs `script`.
class disk_session {
 public:
  explicit disk_session(disk_script script,
                        initiator::initiator_options options = test::initiator_harness::quick_options(),
                        target_settings settings = {})
      : script_(std::move(script)),
        settings_(std::move(settings)),
        target_([this](test::scripted_connection& c) { return run(c); }),
        harness_(std::move(options)) {
    disk.write(0, wire(pattern(disk.blocks() * disk.block_size(), 1)));
    auto login = test::login_options_for(target_);
    login.enumerate_luns = true;
    const auto id = harness_.run(harness_.initiator().login_to_target(login));
    REQUIRE(id);
    id_ = *id;
    REQUIRE(info().devices.size() == 1);
  }

  std::future<io_result> start_read(std::span<std::byte> into, std::uint64_t lba = 0) {
    return harness_.initiator().async_read(id_, 0, lba, into, asio::use_future);
  }
  std::future<io_result> start_write(std::span<const std::byte> from, std::uint64_t lba = 0) {
    return harness_.initiator().async_write(id_, 0, lba, from, {}, asio::use_future);
  }
  // The end of an I/O; one that does not end within 10 s fails the test.
  static io_result finish(std::future<io_result>& io) {
    REQUIRE(io.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    return io.get();
  }
  io_result read(std::span<std::byte> into, std::uint64_t lba = 0) {
    auto io = start_read(into, lba);
    return finish(io);
  }
  io_result write(std::span<const std::byte> from, std::uint64_t lba = 0) {
    auto io = start_write(from, lba);
    return finish(io);
  }
  // Reads blocks 0.. into a fresh buffer and checks it holds the disk's bytes.
  void read_back_intact(std::size_t bytes = io_bytes) {
    std::vector<std::byte> buffer(bytes);
    REQUIRE(read(buffer));
    CHECK(same_bytes(buffer, disk.read(0, bytes)));
  }

  initiator::session_info info() { return *harness_.initiator().session(id_); }
  std::uint64_t id() const noexcept { return id_; }
  test::initiator_harness& harness() { return harness_; }
  int connections() const noexcept { return connections_.load(); }

  test::scripted_disk disk;

 private:
  asio::awaitable<void> run(test::scripted_connection& c) {
    const int nth = ++connections_;
    c.set_window(settings_.login_window);
    co_await c.accept_login(0x4242, settings_.login_keys);
    if (nth == 1) co_await c.answer_enumeration(disk);
    co_await script_(c, disk, nth);
  }

  disk_script script_;
  target_settings settings_;
  std::atomic<int> connections_{0};
  test::scripted_target target_;
  test::initiator_harness harness_;
  std::uint64_t id_ = 0;
};

// The first answer to a read or write, sent instead of the right one.
using bad_answer = std::function<asio::awaitable<void>(test::scripted_connection& c, const proto::pdu& command,
                                                       const test::scripted_disk& disk)>;

// A target that answers the first command with `first`, then serves the disk.
inline disk_script answer_first(bad_answer first) {
  return [first](test::scripted_connection& c, test::scripted_disk& disk, int) -> asio::awaitable<void> {
    const auto command = co_await c.receive_command();
    co_await first(c, command, disk);
    co_await c.serve_disk_until_logout(disk);
  };
}

// The one read or write a violation or an odd answer is about: reads blocks
// 0+8 into `buffer`, or writes `data` (write_bytes) at block 0.
struct one_io {
  std::vector<std::byte> buffer = std::vector<std::byte>(io_bytes);
  std::vector<std::byte> data = pattern(write_bytes, 9);
  std::future<io_result> start(disk_session& s, bool write) { return write ? s.start_write(data) : s.start_read(buffer); }
  // The read brought the disk's bytes, or the write put its bytes on the disk.
  bool landed(const disk_session& s, bool write) const {
    return write ? same_bytes(data, s.disk.read(0, write_bytes)) : same_bytes(buffer, s.disk.read(0, io_bytes));
  }
};

}  // namespace isens::test
