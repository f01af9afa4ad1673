// The data path's first promises against a real tgtd: what is written
// reads back, at every queue depth, split or not, and bad requests end in
// a clear error.
#include "initiator_harness.hpp"
#include "standard_login.hpp"
#include "tgtd_target.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <random>
#include <thread>

using namespace isens;

namespace {

std::vector<std::byte> pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::byte> out(n);
  std::mt19937 random(seed);
  for (auto& b : out) b = static_cast<std::byte>(random());
  return out;
}

}  // namespace

TEST_CASE("a write reads back through the data path", "[initiator][tgtd][datapath]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(test::standard_login(*target)));
  REQUIRE(id);
  auto& ini = h.initiator();
  for (const std::size_t size : {512u, 4096u, 8192u + 512u, 65536u + 1024u, 1u << 20, 5u << 20}) {
    INFO("size " << size);
    const auto data = pattern(size, static_cast<std::uint32_t>(size));
    auto wrote = ini.async_write(*id, 1, 8, std::span<const std::byte>(data), {}, boost::asio::use_future).get();
    REQUIRE(wrote);
    std::vector<std::byte> back(size);
    auto read = ini.async_read(*id, 1, 8, std::span<std::byte>(back), boost::asio::use_future).get();
    REQUIRE(read);
    CHECK(back == data);
  }
  const auto info = *ini.session(*id);
  CHECK(info.io.write_ops == 6);
  CHECK(info.io.read_ops == 6);
}

TEST_CASE("with lone-command polling on, every size reads back as written, one at a time and 64 at once",
          "[initiator][tgtd][datapath]") {
  auto target = test::make_standard_target();
  auto options = test::initiator_harness::quick_options();
  options.lone_command_poll = std::chrono::microseconds(200);
  test::initiator_harness h(options);
  auto id = h.run(h.initiator().login_to_target(test::standard_login(*target)));
  REQUIRE(id);
  auto& ini = h.initiator();
  // One at a time: each answer is taken by the poll or, when it is late, by the wait after it.
  for (const std::size_t size : {512u, 4096u, 65536u + 1024u, 1u << 20}) {
    INFO("size " << size);
    const auto data = pattern(size, static_cast<std::uint32_t>(size) + 1);
    REQUIRE(ini.async_write(*id, 1, 16, std::span<const std::byte>(data), {}, boost::asio::use_future).get());
    std::vector<std::byte> back(size);
    REQUIRE(ini.async_read(*id, 1, 16, std::span<std::byte>(back), boost::asio::use_future).get());
    CHECK(back == data);
  }
  // 64 at once: the connection polls only when one is left.
  constexpr std::size_t depth = 64;
  constexpr std::size_t block = 4096;
  const auto data = pattern(depth * block, 11);
  std::vector<std::future<initiator::result<void>>> writes;
  for (std::size_t i = 0; i < depth; ++i)
    writes.push_back(ini.async_write(*id, 1, 4096 + i * 8, std::span<const std::byte>(data).subspan(i * block, block),
                                     {}, boost::asio::use_future));
  for (auto& w : writes) REQUIRE(w.get());
  std::vector<std::byte> back(depth * block);
  std::vector<std::future<initiator::result<void>>> reads;
  for (std::size_t i = 0; i < depth; ++i)
    reads.push_back(ini.async_read(*id, 1, 4096 + i * 8, std::span<std::byte>(back).subspan(i * block, block),
                                   boost::asio::use_future));
  for (auto& r : reads) REQUIRE(r.get());
  CHECK(back == data);
}

TEST_CASE("many commands in flight beyond the target's window all complete", "[initiator][tgtd][datapath]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(test::standard_login(*target)));
  REQUIRE(id);
  auto& ini = h.initiator();
  constexpr std::size_t depth = 256;
  constexpr std::size_t block = 4096;
  const auto data = pattern(depth * block, 7);
  std::vector<std::future<initiator::result<void>>> writes;
  for (std::size_t i = 0; i < depth; ++i)
    writes.push_back(ini.async_write(*id, 1, i * 8, std::span<const std::byte>(data).subspan(i * block, block), {},
                                     boost::asio::use_future));
  for (auto& w : writes) REQUIRE(w.get());
  std::vector<std::byte> back(depth * block);
  std::vector<std::future<initiator::result<void>>> reads;
  for (std::size_t i = 0; i < depth; ++i)
    reads.push_back(ini.async_read(*id, 1, i * 8, std::span<std::byte>(back).subspan(i * block, block),
                                   boost::asio::use_future));
  for (auto& r : reads) REQUIRE(r.get());
  CHECK(back == data);
}

namespace {

// An application's I/O loop: `depth` commands at once, each completion
// starting the next, over the blocks of `region` (4 KiB each, from LBA 0
// in 512-byte blocks), all on the initiator's thread as the session's
// callbacks are. Returns how many failed once all have ended.
std::size_t run_closed_loop(test::initiator_harness& h, std::uint64_t id, std::size_t depth, bool write,
                            std::span<std::byte> region) {
  auto& ini = h.initiator();
  constexpr std::size_t block = 4096;
  struct loop_state {
    std::size_t next = 0;
    std::size_t ended = 0;
    std::size_t failed = 0;
    std::promise<void> finished;
  };
  const std::size_t count = region.size() / block;
  auto state = std::make_shared<loop_state>();
  auto issue = std::make_shared<std::function<void()>>();
  *issue = [&ini, id, write, region, count, state, weak = std::weak_ptr(issue)] {
    const std::size_t i = state->next++;
    auto done = [state, count, weak](initiator::result<void> r) {  // on the session's io thread
      if (!r) ++state->failed;
      if (++state->ended == count) return state->finished.set_value();
      if (state->next < count) (*weak.lock())();
    };
    const auto at = region.subspan(i * block, block);
    if (write) ini.async_write(id, 1, i * 8, std::span<const std::byte>(at), {}, std::move(done));
    else ini.async_read(id, 1, i * 8, at, std::move(done));
  };
  auto finished = state->finished.get_future();
  boost::asio::post(h.executor(), [&] {
    for (std::size_t i = 0; i < std::min(depth, count); ++i) (*issue)();
  });
  REQUIRE(finished.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  return state->failed;
}

}  // namespace

TEST_CASE("commands started from completions keep flowing at queue depth 16 and 64, sent in batches or not",
          "[initiator][tgtd][datapath]") {
  // With batching, a new command may wait for the next answers: the last
  // ones of a run must still go out, and every block read back as written.
  auto target = test::make_standard_target();
  for (const std::uint32_t batch_from : {8u, 0u}) {
    for (const std::size_t depth : {16u, 64u}) {
      INFO("batch_commands_from " << batch_from << ", queue depth " << depth);
      auto options = test::initiator_harness::quick_options();
      options.batch_commands_from = batch_from;
      test::initiator_harness h(options);
      auto id = h.run(h.initiator().login_to_target(test::standard_login(*target)));
      REQUIRE(id);
      auto data = pattern(2000 * 4096, static_cast<std::uint32_t>(depth + batch_from));
      CHECK(run_closed_loop(h, *id, depth, true, data) == 0);
      std::vector<std::byte> back(data.size());
      CHECK(run_closed_loop(h, *id, depth, false, back) == 0);
      CHECK(back == data);
      h.run(h.initiator().logout_from_target(*id));
    }
  }
}

TEST_CASE("bad requests end in clear errors", "[initiator][tgtd][datapath]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(test::standard_login(*target)));
  REQUIRE(id);
  auto& ini = h.initiator();
  std::vector<std::byte> buffer(4096);
  const auto blocks = test::standard_lun1_bytes / 512;
  auto beyond = ini.async_read(*id, 1, blocks - 4, std::span<std::byte>(buffer), boost::asio::use_future).get();
  REQUIRE_FALSE(beyond);
  CHECK_THAT(beyond.error().what(), Catch::Contains("beyond the end"));
  auto empty = ini.async_read(*id, 1, 0, std::span<std::byte>(buffer).first(0), boost::asio::use_future).get();
  REQUIRE_FALSE(empty);
  CHECK_THAT(empty.error().what(), Catch::Contains("0 bytes"));
  auto ragged = ini.async_read(*id, 1, 0, std::span<std::byte>(buffer).first(700), boost::asio::use_future).get();
  REQUIRE_FALSE(ragged);
  CHECK_THAT(ragged.error().what(), Catch::Contains("whole number"));
  auto unknown = ini.async_read(*id + 100, 1, 0, std::span<std::byte>(buffer), boost::asio::use_future).get();
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == make_error_code(initiator::errc::no_such_session));
  CHECK(ini.async_flush(*id, 1, boost::asio::use_future).get());
}

TEST_CASE("an unanswered command escalates to ABORT TASK, LU RESET, a dropped connection, and completes after recovery",
          "[initiator][tgtd][datapath][timeout]") {
  auto target = test::make_standard_target();
  auto options = test::initiator_harness::quick_options();
  options.command_timeout = std::chrono::milliseconds(200);
  options.recovery_hold = std::chrono::milliseconds(20000);
  test::initiator_harness h(options);
  auto id = h.run(h.initiator().login_to_target(test::standard_login(*target)));
  REQUIRE(id);
  auto& ini = h.initiator();
  const auto data = pattern(64 * 1024, 3);
  REQUIRE(ini.async_write(*id, 1, 0, std::span<const std::byte>(data), {}, boost::asio::use_future).get());

  target->pause();
  std::vector<std::byte> back(data.size());
  auto read = ini.async_read(*id, 1, 0, std::span<std::byte>(back), boost::asio::use_future);
  const auto down = h.recorder().wait_for(events::event_kind::session_disconnect);
  CHECK_THAT(down.detail, Catch::Contains("ABORT TASK and LOGICAL UNIT RESET failed"));
  CHECK(read.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);  // held, not failed
  target->resume();
  REQUIRE(h.run(ini.reconnect_session(*id, {std::nullopt, 1})));
  REQUIRE(read.get());
  CHECK(back == data);
  const auto io = ini.session(*id)->io;
  CHECK(io.aborted == 1);
  CHECK(io.lun_resets == 1);
  CHECK(io.reissued >= 1);
  CHECK(io.failed == 0);
}

TEST_CASE("worker threads of a library user drive the data path at once, on an io_context run by two threads",
          "[initiator][tgtd][datapath][threads]") {
  auto target = test::make_standard_target();
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  events::event_bus bus{1};
  auto options = test::initiator_harness::quick_options();  // not single_threaded: each session has a strand
  initiator::initiator ini(io.get_executor(), bus, options);
  std::vector<std::thread> runners;
  for (int i = 0; i < 2; ++i) runners.emplace_back([&io] { io.run(); });

  auto id = test::run_on(io, ini.login_to_target(test::standard_login(*target)), std::chrono::seconds(30));
  REQUIRE(id);
  constexpr int workers = 4;
  constexpr int rounds = 64;
  constexpr std::size_t block = 8192;
  std::vector<std::thread> users;
  std::atomic<int> mismatches{0};
  std::atomic<int> errors{0};
  for (int w = 0; w < workers; ++w) {
    users.emplace_back([&, w] {
      for (int r = 0; r < rounds; ++r) {
        const auto lba = static_cast<std::uint64_t>((w * rounds + r) * (block / 512));
        const auto data = pattern(block, static_cast<std::uint32_t>(w * 1000 + r));
        if (!ini.async_write(*id, 1, lba, std::span<const std::byte>(data), {}, boost::asio::use_future).get()) ++errors;
        std::vector<std::byte> back(block);
        if (!ini.async_read(*id, 1, lba, std::span<std::byte>(back), boost::asio::use_future).get()) ++errors;
        if (back != data) ++mismatches;
        (void)ini.session(*id);  // snapshots race with the I/O by design: they must be safe
      }
    });
  }
  for (auto& u : users) u.join();
  CHECK(errors == 0);
  CHECK(mismatches == 0);
  const auto io_counters = ini.session(*id)->io;
  CHECK(io_counters.write_ops == workers * rounds);
  CHECK(io_counters.read_ops == workers * rounds);
  test::run_on(io, ini.shutdown(), std::chrono::seconds(30));
  work.reset();
  io.stop();
  for (auto& r : runners) r.join();
}
