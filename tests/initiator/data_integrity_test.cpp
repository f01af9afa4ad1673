// What is written through the data path reads back, byte for byte, against a
// real tgtd: a whole LUN covered by I/Os of 1 block to 16 MiB, none aligned
// to a burst length, under every negotiation that changes how the bytes
// travel (digests, immediate and unsolicited data, burst and segment
// lengths), at queue depths up to twice tgt's command window, and spread
// over four connections of one session.
#include "block_data.hpp"
#include "initiator_harness.hpp"

#include <catch2/catch.hpp>

using namespace isens;
using test::scaled;

namespace {

struct target_param {
  std::string name;
  std::string value;
};

// One row of the matrix.
struct integrity_case {
  std::string name;
  std::vector<target_param> params;  // tgtadm --op update --mode target, before login
  initiator::digest digests = initiator::digest::none;
  std::size_t connections = 1;
  std::size_t depth = 8;
  std::uint64_t lun_bytes = 32ULL << 20;  // full size; reduced builds move a quarter
  std::vector<std::size_t> sizes;
};

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

// Around every burst and segment length in play (8 KiB, 64 KiB, 256 KiB) and
// across the 8 MiB split of one command.
const std::vector<std::size_t> mixed_sizes{512,        4 * KiB + 512,   8 * KiB,       64 * KiB - 512,
                                           64 * KiB + 512, 256 * KiB + 512, 1 * MiB + 512, 16 * MiB};
// Small enough that hundreds fit in flight.
const std::vector<std::size_t> small_sizes{512, 4 * KiB + 512, 8 * KiB, 64 * KiB - 512, 64 * KiB + 512};

// The session's data path moves `image` onto LUN 1 and back: writes cycle
// through c.sizes, reads through the same sizes shifted by three, so no read
// ends where a write did.
void write_and_read_back(test::initiator_harness& h, std::uint64_t id, const integrity_case& c,
                         std::uint64_t lun_bytes) {
  auto& ini = h.initiator();
  const auto before = ini.session(id)->io;  // enumeration's commands (see the counters test)
  constexpr std::uint32_t block = 512;
  std::vector<std::byte> image(lun_bytes);
  test::stamp(image, 0, 1, block);

  const auto walk = [&](std::size_t phase, const auto& start_one) {
    std::size_t i = phase;
    for (std::uint64_t at = 0; at < lun_bytes; ++i) {
      const std::uint64_t n = std::min<std::uint64_t>(c.sizes[i % c.sizes.size()], lun_bytes - at);
      start_one(at, n);
      at += n;
    }
  };
  {
    test::io_window window(c.depth);
    walk(0, [&](std::uint64_t at, std::uint64_t n) {
      const auto data = std::span<const std::byte>(image).subspan(at, n);
      window.submit("write of " + std::to_string(n) + " bytes at " + std::to_string(at),
                    [&, at, data](test::io_window::handler done) {
                      ini.async_write(id, 1, at / block, data, {}, std::move(done));
                    });
    });
    REQUIRE(window.drain());
    REQUIRE(window.first_error() == "");
  }
  std::vector<std::byte> back(lun_bytes);
  {
    test::io_window window(c.depth);
    walk(3, [&](std::uint64_t at, std::uint64_t n) {
      const auto into = std::span<std::byte>(back).subspan(at, n);
      window.submit("read of " + std::to_string(n) + " bytes at " + std::to_string(at),
                    [&, at, into](test::io_window::handler done) { ini.async_read(id, 1, at / block, into, std::move(done)); });
    });
    REQUIRE(window.drain());
    REQUIRE(window.first_error() == "");
  }
  if (back != image) FAIL(test::check_blocks(back, 0, block, [](std::uint64_t) { return std::uint64_t{1}; }));

  const auto io = h.initiator().session(id)->io;
  CHECK(io.write_bytes == lun_bytes);
  CHECK(io.read_bytes == lun_bytes);
  CHECK(io.failed == 0);
  CHECK(io.reissued == before.reissued);  // nothing went wrong on the way
  CHECK(io.in_flight == 0);
  CHECK(io.queued == 0);
}

void run_case(const integrity_case& c) {
  const auto lun_bytes = scaled(c.lun_bytes, std::max<std::uint64_t>(c.lun_bytes / 4, 8 * MiB));
  INFO(c.name << ", " << (lun_bytes >> 20) << " MiB at queue depth " << c.depth);
  auto target = test::make_memory_target(lun_bytes);
  if (c.digests == initiator::digest::crc32c) {  // tgt offers None only unless told
    target->set_target_param(test::standard_tid, "HeaderDigest", "CRC32C,None");
    target->set_target_param(test::standard_tid, "DataDigest", "CRC32C,None");
  }
  for (const auto& p : c.params) target->set_target_param(test::standard_tid, p.name, p.value);
  auto options = test::initiator_harness::quick_options();
  options.command_timeout = std::chrono::seconds(30);  // deep queues of 16 MiB under a sanitizer are slow, not stuck
  test::initiator_harness h(options);
  auto id = h.run(h.initiator().login_to_target(test::data_login(*target, c.digests)));
  REQUIRE(id);
  for (std::size_t i = 1; i < c.connections; ++i) REQUIRE(h.run(h.initiator().add_connection_to_session(*id)));
  const auto info = *h.initiator().session(*id);
  REQUIRE(info.connections.size() == c.connections);
  CHECK(info.header_digest == (c.digests == initiator::digest::crc32c));
  CHECK(info.data_digest == (c.digests == initiator::digest::crc32c));
  write_and_read_back(h, *id, c, lun_bytes);
}

}  // namespace

TEST_CASE("every byte written reads back: tgt's defaults, a 256 MiB LUN", "[initiator][tgtd][datapath][integrity]") {
  run_case({"tgt defaults", {}, initiator::digest::none, 1, 16, 256 * MiB, mixed_sizes});
}

TEST_CASE("every byte written reads back under each negotiation that changes the transfer",
          "[initiator][tgtd][datapath][integrity]") {
  const auto c = GENERATE(from_range(std::vector<integrity_case>{
      {"header and data digests (CRC32C)", {}, initiator::digest::crc32c, 1, 8, 32 * MiB, mixed_sizes},
      {"ImmediateData=No", {{"ImmediateData", "No"}}, initiator::digest::none, 1, 8, 32 * MiB, mixed_sizes},
      {"InitialR2T=No, FirstBurstLength=65536",
       {{"InitialR2T", "No"}, {"FirstBurstLength", "65536"}},
       initiator::digest::none, 1, 8, 32 * MiB, mixed_sizes},
      {"InitialR2T=No, FirstBurstLength=262144, ImmediateData=No",
       {{"InitialR2T", "No"}, {"FirstBurstLength", "262144"}, {"ImmediateData", "No"}},
       initiator::digest::none, 1, 8, 32 * MiB, mixed_sizes},
      {"MaxBurstLength=16384", {{"MaxBurstLength", "16384"}}, initiator::digest::none, 1, 8, 32 * MiB, mixed_sizes},
      {"MaxOutstandingR2T=8, MaxBurstLength=16384 (R2Ts for one write overlap)",
       {{"MaxOutstandingR2T", "8"}, {"MaxBurstLength", "16384"}},
       initiator::digest::none, 1, 8, 32 * MiB, mixed_sizes},
      {"target MaxRecvDataSegmentLength=262144",
       {{"MaxRecvDataSegmentLength", "262144"}},
       initiator::digest::none, 1, 8, 32 * MiB, mixed_sizes},
      {"target MaxRecvDataSegmentLength=4096, MaxXmitDataSegmentLength=4096",
       {{"MaxRecvDataSegmentLength", "4096"}, {"MaxXmitDataSegmentLength", "4096"}},
       initiator::digest::none, 1, 8, 32 * MiB, mixed_sizes},
  }));
  run_case(c);
}

TEST_CASE("every byte written reads back at queue depths 1 to 256 and over four connections",
          "[initiator][tgtd][datapath][integrity]") {
  const auto c = GENERATE(from_range(std::vector<integrity_case>{
      {"queue depth 1", {}, initiator::digest::none, 1, 1, 8 * MiB, small_sizes},
      {"queue depth 256 (twice tgt's 128-command window)", {}, initiator::digest::none, 1, 256, 16 * MiB, small_sizes},
      {"4 connections, queue depth 64", {}, initiator::digest::none, 4, 64, 64 * MiB, mixed_sizes},
      {"4 connections with digests, InitialR2T=No, MaxBurstLength=16384, queue depth 256",
       {{"InitialR2T", "No"}, {"FirstBurstLength", "16384"}, {"MaxBurstLength", "16384"}},
       initiator::digest::crc32c, 4, 256, 16 * MiB, small_sizes},
  }));
  run_case(c);
}

// The counters (types.hpp): ops, bytes and failed count the caller's reads,
// writes and flushes; retried and reissued count every command, so LUN
// enumeration's UNIT ATTENTION shows as a retry, and a retry is no re-issue.
TEST_CASE("after login the io counters show enumeration's UNIT ATTENTION as one retry and nothing else",
          "[initiator][tgtd][datapath][integrity]") {
  auto target = test::make_memory_target(8 * MiB);
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(test::data_login(*target)));
  REQUIRE(id);
  // tgt greets a new nexus with UNIT ATTENTION (power on, reset): the first REPORT LUNS takes it.
  const auto io = h.initiator().session(*id)->io;
  CHECK(io.retried == 1);
  CHECK(io.reissued == 0);
  CHECK(io.read_ops + io.write_ops + io.failed + io.held + io.aborted == 0);
}
