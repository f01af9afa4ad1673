// The data path against a scripted target, the outcome of a command, for
// what tgtd never does: CHECK CONDITION and other failed statuses, BUSY,
// TASK SET FULL, UNIT ATTENTION, silence (abort, LUN reset, drop), a closed
// CmdSN window, a logout asked for and never finished. Each ends in a clear
// error or a correct retry, with the caller's buffer holding the disk's
// bytes whenever the read succeeds. The transfer itself:
// data_path_transfer_scripted_test.cpp.
#include "eventually.hpp"
#include "scripted_disk_session.hpp"

#include "protocol/serial_number.hpp"

#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <vector>

using namespace isens;
using events::event_kind;
using events::event_reason;
using test::eventually;
using initiator::errc;
namespace proto = initiator::protocol;
namespace asio = boost::asio;
using Catch::Matchers::Contains;
using test::answer_first;
using test::busy;
using test::check_condition;
using test::disk_session;
using test::io_bytes;
using test::io_result;
using test::one_io;
using test::same_bytes;
using test::target_settings;
using test::task_set_full;

namespace {

// A NOP-In that asks for no answer: it only carries the target's new MaxCmdSN.
proto::pdu window_update() {
  proto::pdu p(proto::opcode::nop_in);  // TTT 0xffffffff: nothing to answer (RFC 7143 §11.19.1.2)
  p.set_final(true);
  p.set_itt(proto::reserved_tag);
  p.set_ttt(proto::reserved_tag);
  return p;
}

// The Task Management Function Response to `request` with `response`.
proto::pdu tmf_response(const proto::pdu& request, std::uint8_t response) {
  proto::pdu p(proto::opcode::task_mgmt_response);
  p.set_final(true);
  p.set_itt(request.itt());
  p.set_response(response);
  return p;
}


}  // namespace

TEST_CASE("CHECK CONDITION and other failed statuses become errors that carry the decoded sense",
          "[initiator][scripted][datapath]") {
  struct failed_status {
    const char* what;
    bool on_write;
    std::uint8_t status;
    proto::byte_buffer segment;  // the SCSI Response's data segment, SenseLength first
    errc code;
    const char* words;
  };
  const auto with_length = [](proto::byte_buffer sense) {
    proto::byte_buffer segment{0, static_cast<std::uint8_t>(sense.size())};
    segment.insert(segment.end(), sense.begin(), sense.end());
    return segment;
  };
  const failed_status cases[] = {
      {"a read meets a MEDIUM ERROR", false, check_condition, with_length(test::fixed_sense(0x03, 0x11, 0x00)),
       errc::scsi_check_condition,
       "READ(16) of LUN 0, blocks 0+8 failed: CHECK CONDITION: MEDIUM ERROR: UNRECOVERED READ ERROR (asc 0x11 ascq "
       "0x00)"},
      {"a write meets DATA PROTECT", true, check_condition, with_length(test::fixed_sense(0x07, 0x27, 0x00)),
       errc::scsi_check_condition, "WRITE(16) of LUN 0, blocks 0+32 failed: CHECK CONDITION: DATA PROTECT: WRITE PROTECTED"},
      {"descriptor-format sense", false, check_condition, with_length({0x72, 0x04, 0x44, 0x00, 0, 0, 0, 0}),
       errc::scsi_check_condition, "CHECK CONDITION: HARDWARE ERROR: INTERNAL TARGET FAILURE"},
      {"no sense data", false, check_condition, {}, errc::scsi_check_condition, "failed: CHECK CONDITION"},
      {"SenseLength beyond the segment", false, check_condition, {0, 18, 0x70, 0, 0x03, 0},
       errc::scsi_check_condition, "failed: CHECK CONDITION"},
      {"RESERVATION CONFLICT", true, 0x18, {}, errc::scsi_bad_status, "failed: RESERVATION CONFLICT"},
  };
  for (const auto& f : cases) {
    INFO(f.what);
    disk_session s(answer_first([&f](test::scripted_connection& c, const proto::pdu& command,
                                     const test::scripted_disk&) -> asio::awaitable<void> {
      auto response = test::scsi_response_for(command, f.status);
      response.data = f.segment;
      co_await c.send(std::move(response));
    }));
    one_io io;
    auto pending = io.start(s, f.on_write);
    const auto outcome = disk_session::finish(pending);
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error().code == make_error_code(f.code));
    CHECK_THAT(outcome.error().what(), Contains(f.words));
    CHECK(s.info().connected);
    s.read_back_intact();
  }
}

TEST_CASE("BUSY and TASK SET FULL are retried after a growing pause, then the command succeeds",
          "[initiator][scripted][datapath]") {
  for (const std::uint8_t status : {busy, task_set_full}) {
    INFO("status " << int(status));
    constexpr int refusals = 3;
    std::array<std::atomic<long>, refusals> pause_us{};
    std::atomic<bool> same_command{true};
    disk_session s([&](test::scripted_connection& c, test::scripted_disk& disk, int) -> asio::awaitable<void> {
      auto command = co_await c.receive_command();
      for (int i = 0; i < refusals; ++i) {
        // Timed from before the send: its completion may run late on a busy
        // machine, after the initiator's pause has already ended.
        const auto refused = std::chrono::steady_clock::now();
        co_await c.send(test::scsi_response_for(command, status));
        const auto again = co_await c.receive_command();
        pause_us[i] = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - refused)
                          .count();
        if (!std::equal(again.cdb().begin(), again.cdb().end(), command.cdb().begin())) same_command = false;
        command = again;
      }
      co_await c.answer_command(command, disk);
      co_await c.serve_disk_until_logout(disk);
    });
    s.read_back_intact();
    CHECK(same_command);
    for (int i = 0; i < refusals; ++i) CHECK(pause_us[i] >= 1000L << i);  // 1, 2, 4 ms
    const auto io = s.info().io;
    CHECK(io.retried == refusals);
    CHECK(io.failed == 0);
  }
}

TEST_CASE("two commands refused BUSY together: neither goes out again before the pause",
          "[initiator][scripted][datapath]") {
  // The second BUSY restarts the pause; the wait it cancels must not end it.
  std::array<std::atomic<long>, 2> pause_us{};
  disk_session s([&](test::scripted_connection& c, test::scripted_disk& disk, int) -> asio::awaitable<void> {
    const auto first = co_await c.receive_command();
    const auto second = co_await c.receive_command();
    const auto refused = std::chrono::steady_clock::now();
    co_await c.send(test::scsi_response_for(first, busy));
    co_await c.send(test::scsi_response_for(second, busy));
    for (auto& pause : pause_us) {
      const auto again = co_await c.receive_command();
      pause = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - refused).count();
      co_await c.answer_command(again, disk);
    }
    co_await c.serve_disk_until_logout(disk);
  });
  std::vector<std::byte> a(io_bytes), b(io_bytes);
  auto read_a = s.start_read(a);
  auto read_b = s.start_read(b);
  REQUIRE(disk_session::finish(read_a));
  REQUIRE(disk_session::finish(read_b));
  CHECK(same_bytes(a, s.disk.read(0, io_bytes)));
  CHECK(same_bytes(b, s.disk.read(0, io_bytes)));
  for (const auto& pause : pause_us) CHECK(pause.load() >= 1000);
  CHECK(s.info().io.retried == 2);
}

TEST_CASE("a target that stays BUSY ends the command with an error after the retries",
          "[initiator][scripted][datapath]") {
  std::atomic<int> sends{0};
  disk_session s([&](test::scripted_connection& c, test::scripted_disk& disk, int) -> asio::awaitable<void> {
    auto command = co_await c.receive_command();
    for (; command.cdb()[0] == 0x88; command = co_await c.receive_command()) {  // READ(16): BUSY
      ++sends;
      co_await c.send(test::scsi_response_for(command, busy));
    }
    co_await c.answer_command(command, disk);  // the flush after it
    co_await c.serve_disk_until_logout(disk);
  });
  std::vector<std::byte> buffer(io_bytes);
  const auto outcome = s.read(buffer);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == make_error_code(errc::scsi_bad_status));
  CHECK_THAT(outcome.error().what(), Contains("failed: BUSY"));
  CHECK(sends == 17);  // sent once, retried 16 times
  CHECK(s.info().io.retried == 16);
  auto flush = s.harness().initiator().async_flush(s.id(), 0, asio::use_future);
  CHECK(disk_session::finish(flush));  // the session still serves
}

TEST_CASE("UNIT ATTENTION is retried and never shown to the caller", "[initiator][scripted][datapath]") {
  const auto unit_attention = [](test::scripted_connection& c, const proto::pdu& command,
                                 const test::scripted_disk&) -> asio::awaitable<void> {
    co_await c.send(test::scsi_response_for(command, check_condition, test::fixed_sense(0x06, 0x29, 0x00)));
  };
  for (const bool on_write : {false, true}) {
    INFO((on_write ? "write" : "read"));
    disk_session s(answer_first(unit_attention));
    one_io io;
    auto pending = io.start(s, on_write);
    REQUIRE(disk_session::finish(pending));
    CHECK(io.landed(s, on_write));
    const auto counters = s.info().io;
    CHECK(counters.retried == 1);
    CHECK(counters.failed == 0);
  }
}

TEST_CASE("a command the target never answers is aborted after command_timeout", "[initiator][scripted][datapath]") {
  auto options = test::initiator_harness::quick_options();
  options.command_timeout = std::chrono::milliseconds(200);
  constexpr std::uint8_t function_complete = 0, function_rejected = 5;
  std::atomic<std::uint32_t> abort_function{0};
  std::atomic<bool> abort_names_the_command{false};
  std::atomic<std::uint32_t> reset_function{0};
  SECTION("the target answers ABORT TASK: the read is sent again and lands intact") {
    disk_session s(
        [&](test::scripted_connection& c, test::scripted_disk& disk, int) -> asio::awaitable<void> {
          const auto command = co_await c.receive_command();
          const auto abort = co_await c.receive();
          abort_function = abort.function();
          abort_names_the_command = abort.referenced_task_tag() == command.itt();
          co_await c.send(tmf_response(abort, function_complete));
          co_await c.serve_disk_until_logout(disk);
        },
        options);
    s.read_back_intact();
    CHECK(abort_function == 1);  // ABORT TASK
    CHECK(abort_names_the_command);
    const auto io = s.info().io;
    CHECK(io.aborted == 1);
    CHECK(io.reissued == 1);
  }
  SECTION("the target refuses ABORT TASK, then resets the LUN: the read is sent again and lands intact") {
    disk_session s(
        [&](test::scripted_connection& c, test::scripted_disk& disk, int) -> asio::awaitable<void> {
          (void)co_await c.receive_command();
          co_await c.send(tmf_response(co_await c.receive(), function_rejected));
          const auto reset = co_await c.receive();
          reset_function = reset.function();
          co_await c.send(tmf_response(reset, function_complete));
          co_await c.serve_disk_until_logout(disk);
        },
        options);
    s.read_back_intact();
    CHECK(reset_function == 5);  // LOGICAL UNIT RESET
    const auto io = s.info().io;
    CHECK(io.aborted == 1);
    CHECK(io.lun_resets == 1);
    CHECK(io.reissued == 1);
  }
  SECTION("nor ABORT TASK or LOGICAL UNIT RESET: the connection is dropped and the read fails") {
    disk_session s(
        [](test::scripted_connection& c, test::scripted_disk&, int) -> asio::awaitable<void> { co_await c.drain(); },
        options);
    std::vector<std::byte> buffer(io_bytes);
    const auto outcome = s.read(buffer);
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error().code == make_error_code(errc::session_not_logged_in));
    CHECK_THAT(outcome.error().what(), Contains("unanswered for 200 ms"));
    CHECK(s.harness().recorder().wait_for(event_kind::session_disconnect).reason == event_reason::io_error);
    const auto io = s.info().io;
    CHECK(io.aborted == 1);
    CHECK(io.lun_resets == 1);
  }
}

TEST_CASE("commands wait while the target keeps the CmdSN window closed, and go in order as it opens",
          "[initiator][scripted][datapath]") {
  test::script_gate two_waiting, one_let_in;
  std::atomic<int> beyond_window{0};
  std::array<std::atomic<std::uint32_t>, 3> cmd_sn{};
  // Login and enumeration with MaxCmdSN = ExpCmdSN: one command at a time.
  disk_session s(
      [&](test::scripted_connection& c, test::scripted_disk& disk, int) -> asio::awaitable<void> {
        const auto next = [&](int k) -> asio::awaitable<proto::pdu> {
          auto command = co_await c.receive_command();
          cmd_sn[k] = command.cmd_sn();
          if (proto::serial_greater(command.cmd_sn(), c.max_cmd_sn_sent())) ++beyond_window;
          co_return command;
        };
        const auto first = co_await next(0);
        c.set_window(-1);
        co_await c.answer_command(first, disk);  // MaxCmdSN = ExpCmdSN - 1: closed
        co_await two_waiting.wait();
        c.set_window(0);
        co_await c.send(window_update(), false);  // room for one more
        const auto second = co_await next(1);
        co_await one_let_in.wait();
        c.set_window(16);
        co_await c.answer_command(second, disk);  // open
        const auto third = co_await next(2);
        co_await c.answer_command(third, disk);
        co_await c.serve_disk_until_logout(disk);
      },
      test::initiator_harness::quick_options(), target_settings{.login_window = 0});
  std::array<std::vector<std::byte>, 3> buffers;
  std::vector<std::future<io_result>> reads;
  for (std::size_t k = 0; k < 3; ++k) {
    buffers[k].resize(io_bytes);
    reads.push_back(s.start_read(buffers[k], 8 * k));
  }
  const auto stands = [&](std::uint64_t queued, std::uint64_t in_flight) {
    return eventually([&] {
      const auto io = s.info().io;
      return io.queued == queued && io.in_flight == in_flight;
    });
  };
  REQUIRE(disk_session::finish(reads[0]));
  CHECK(stands(2, 0));  // both wait: none went out
  CHECK(reads[1].wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  two_waiting.open();
  CHECK(stands(1, 1));  // the window let one in
  one_let_in.open();
  REQUIRE(disk_session::finish(reads[1]));
  REQUIRE(disk_session::finish(reads[2]));
  for (std::size_t k = 0; k < 3; ++k) CHECK(same_bytes(buffers[k], s.disk.read(8 * k * 512, io_bytes)));
  CHECK(beyond_window == 0);
  CHECK(cmd_sn[1] == cmd_sn[0] + 1);
  CHECK(cmd_sn[2] == cmd_sn[0] + 2);
}

// Found by data_path_fuzzer: logout() once freed a connection it still read.
TEST_CASE("a target that asks for a logout and then hangs up ends the session cleanly",
          "[initiator][scripted][datapath]") {
  auto options = test::initiator_harness::quick_options();
  options.command_timeout = std::chrono::milliseconds(200);  // the logout the target never answers
  disk_session s(
      [](test::scripted_connection& c, test::scripted_disk&, int) -> asio::awaitable<void> {
        (void)co_await c.receive_command();  // the read, left unanswered
        proto::pdu logout_please(proto::opcode::async_message);
        logout_please.set_final(true);
        logout_please.set_itt(proto::reserved_tag);
        logout_please.set_async_event(1);  // the target requests a logout
        co_await c.send(std::move(logout_please));
        (void)co_await c.receive();  // the Logout request; hang up instead of answering
      },
      options);
  std::vector<std::byte> buffer(io_bytes);
  const auto outcome = s.read(buffer);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == make_error_code(errc::session_not_logged_in));
  CHECK(s.harness().recorder().wait_for(event_kind::logoff).reason == event_reason::target_requested);
}
