// The data path's failures against a real tgtd: requests it refuses itself
// (beyond the end, zero length), the target's refusals decoded into words (a
// read-only LUN), and a LUN that disappears under running I/O. Each ends in
// an error that says what happened, none hangs, and the session goes on.
#include "block_data.hpp"
#include "initiator_harness.hpp"

#include <catch2/catch.hpp>

using namespace isens;
using initiator::errc;

namespace {

constexpr std::uint32_t block = 512;
constexpr std::uint64_t lun_bytes = 16ULL << 20;
constexpr std::uint64_t lun_blocks = lun_bytes / block;

std::vector<std::byte> stamped(std::uint64_t lba, std::uint64_t blocks, std::uint64_t generation) {
  std::vector<std::byte> out(blocks * block);
  test::stamp(out, lba, generation, block);
  return out;
}

// Reads `blocks` at `lba` and checks they hold `generation`.
void check_reads_back(initiator::initiator& ini, std::uint64_t id, std::uint64_t lun, std::uint64_t lba,
                      std::uint64_t blocks, std::uint64_t generation) {
  std::vector<std::byte> back(blocks * block);
  const auto read = test::read_blocks(ini, id, lun, lba, back);
  INFO((read ? std::string() : read.error().what()));
  REQUIRE(read);
  CHECK(test::check_blocks(back, lba, block, [&](std::uint64_t) { return generation; }) == "");
}

struct logged_in {
  std::unique_ptr<test::tgtd_target> target;
  std::unique_ptr<test::initiator_harness> harness;
  std::uint64_t id = 0;
  initiator::initiator& ini() { return harness->initiator(); }
};

logged_in log_in(std::uint64_t lun2_bytes = 0) {
  logged_in l;
  l.target = test::make_memory_target(lun_bytes, lun2_bytes);
  l.harness = std::make_unique<test::initiator_harness>();
  auto id = l.harness->run(l.harness->initiator().login_to_target(test::data_login(*l.target)));
  if (!id) throw std::runtime_error("login failed: " + id.error().what());
  l.id = *id;
  return l;
}

}  // namespace

TEST_CASE("requests outside the LUN fail at once with invalid_argument, and the session goes on",
          "[initiator][tgtd][datapath][errors]") {
  auto s = log_in();
  auto& ini = s.ini();
  const auto last = stamped(lun_blocks - 1, 1, 1);
  REQUIRE(test::write_blocks(ini, s.id, 1, lun_blocks - 1, last));  // the last block itself is fine

  const auto refused = [&](initiator::result<void> r, std::string_view words) {
    REQUIRE_FALSE(r);
    CHECK(r.error().code == make_error_code(errc::invalid_argument));
    CHECK_THAT(r.error().what(), Catch::Contains(std::string(words)));
  };
  const auto two = stamped(0, 2, 2);
  std::vector<std::byte> buffer(2 * block);
  SECTION("a write that runs past the end") {
    refused(test::write_blocks(ini, s.id, 1, lun_blocks - 1, two), "beyond the end");
  }
  SECTION("a write that starts at the end") {
    refused(test::write_blocks(ini, s.id, 1, lun_blocks, std::span(two).first(block)), "beyond the end");
  }
  SECTION("a read at the largest LBA (no overflow)") {
    refused(test::read_blocks(ini, s.id, 1, ~std::uint64_t{0}, buffer), "beyond the end");
  }
  SECTION("a write of 0 bytes") {
    refused(test::write_blocks(ini, s.id, 1, 0, std::span(two).first(0)), "0 bytes");
  }
  SECTION("a read of 0 bytes") {
    refused(test::read_blocks(ini, s.id, 1, 0, std::span(buffer).first(0)), "0 bytes");
  }
  SECTION("a write of part of a block") {
    refused(test::write_blocks(ini, s.id, 1, 0, std::span(two).first(block + 1)), "whole number");
  }
  SECTION("a LUN the target does not have") {
    refused(test::read_blocks(ini, s.id, 7, 0, buffer), "not a known block device");
  }
  SECTION("LUN 0, tgt's controller, is no block device") {
    refused(test::write_blocks(ini, s.id, 0, 0, two), "not a known block device");
  }
  SECTION("an UNMAP of a LUN whose provisioning page says it does not deallocate") {
    const auto device = ini.session(s.id)->devices;
    const auto lun1 = std::find_if(device.begin(), device.end(), [](const auto& d) { return d.lun == 1; });
    REQUIRE(lun1 != device.end());
    REQUIRE(lun1->provisioning);  // tgt lists page 0xB2 for every disk
    CHECK_FALSE(lun1->provisioning->unmap);
    refused(ini.async_unmap(s.id, 1, 0, 2, boost::asio::use_future).get(), "does not unmap");
  }
  // Nothing reached the disk, and the session still works.
  check_reads_back(ini, s.id, 1, lun_blocks - 1, 1, 1);
  const auto io = ini.session(s.id)->io;
  CHECK(io.failed == 1);
  CHECK(io.write_ops == 1);
  CHECK(io.in_flight == 0);
}

TEST_CASE("a read-only LUN refuses writes with DATA PROTECT / WRITE PROTECTED and still serves reads",
          "[initiator][tgtd][datapath][errors]") {
  auto s = log_in();
  auto& ini = s.ini();
  const auto before = stamped(100, 16, 1);
  REQUIRE(test::write_blocks(ini, s.id, 1, 100, before));
  s.target->set_lun_params(test::standard_tid, 1, "readonly=1");

  const auto after = stamped(100, 16, 2);
  const auto write = test::write_blocks(ini, s.id, 1, 100, after);
  REQUIRE_FALSE(write);
  CHECK(write.error().code == make_error_code(errc::scsi_check_condition));
  CHECK_THAT(write.error().what(), Catch::Contains("WRITE(16) of LUN 1, blocks 100+16") &&
                                       Catch::Contains("DATA PROTECT") && Catch::Contains("WRITE PROTECTED"));
  // A write split into several commands fails once, with the same words.
  std::vector<std::byte> large(lun_bytes);  // two commands of 8 MiB
  const auto split = test::write_blocks(ini, s.id, 1, 0, large);
  REQUIRE_FALSE(split);
  CHECK_THAT(split.error().what(), Catch::Contains("WRITE PROTECTED"));
  check_reads_back(ini, s.id, 1, 100, 16, 1);

  s.target->set_lun_params(test::standard_tid, 1, "readonly=0");
  REQUIRE(test::write_blocks(ini, s.id, 1, 100, after));
  check_reads_back(ini, s.id, 1, 100, 16, 2);
  CHECK(ini.session(s.id)->io.failed == 3);  // counted per command: the split write was two
}

TEST_CASE("a LUN removed while I/O runs: its I/O ends in clear errors, the other LUN is untouched",
          "[initiator][tgtd][datapath][errors]") {
  auto s = log_in(lun_bytes);
  auto& ini = s.ini();
  // LUN 2 runs the stamped write+verify workload throughout; it must not notice.
  test::stamped_workload other(ini, s.id, {.lun = 2, .blocks = lun_blocks / 4, .depth = 8});
  other.start();

  // LUN 1: writes of stamped blocks at queue depth 4 until one fails.
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::thread writer([&] {
    test::io_window window(4, std::chrono::seconds(20));
    try {
      for (std::uint64_t i = 0; !failed; ++i) {
        const auto lba = (i * 8) % (lun_blocks - 8);
        auto data = std::make_shared<std::vector<std::byte>>(stamped(lba, 8, i + 1));
        window.submit(
            "write " + std::to_string(i),
            [&, lba, data](test::io_window::handler done) {
              ini.async_write(s.id, 1, lba, std::span<const std::byte>(*data), {}, std::move(done));
            },
            [&, data](bool ok) {
              if (!ok) failed = true;
            });
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex);
      failures.push_back(std::string("the writer stopped: ") + e.what());
    }
    const bool drained = window.drain();
    std::lock_guard lock(mutex);
    auto errors = window.errors();
    failures.insert(failures.end(), errors.begin(), errors.end());
    if (!drained) failures.push_back("a write to the removed LUN never completed");
  });
  REQUIRE(other.wait_beyond(50));
  s.target->delete_lun(test::standard_tid, 1);
  writer.join();  // ends once a write failed; every one in flight has completed (drain)

  REQUIRE_FALSE(failures.empty());
  for (const auto& f : failures) {
    INFO(f);
    CHECK_THAT(f, Catch::Contains("WRITE(16) of LUN 1") && Catch::Contains("ILLEGAL REQUEST") &&
                      Catch::Contains("LOGICAL UNIT NOT SUPPORTED"));
  }
  // Later I/O to the LUN fails the same way, at once, reads too.
  std::vector<std::byte> buffer(4096);
  const auto read = test::read_blocks(ini, s.id, 1, 0, buffer);
  REQUIRE_FALSE(read);
  CHECK_THAT(read.error().what(), Catch::Contains("READ(16) of LUN 1") && Catch::Contains("LOGICAL UNIT NOT SUPPORTED"));

  REQUIRE(other.wait_beyond(other.completed() + 50));
  CHECK(other.stop_and_verify() == "");
  CHECK(ini.session(s.id)->connected);
}
