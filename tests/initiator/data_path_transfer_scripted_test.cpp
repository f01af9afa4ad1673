// The data path against a scripted target, the transfer itself, for what
// tgtd never does: Data-In out of order, overlapping or with bad sequence
// numbers, R2Ts beyond the write, residuals that leave bytes unaccounted
// for, Data-In on the wrong connection or with an AHS, a Reject of a
// Data-Out. Each ends in a clear error or a correct re-issue, with the
// caller's buffer holding the disk's bytes whenever the read succeeds.
// Statuses, retries and timeouts: data_path_status_scripted_test.cpp; the
// well-behaved data path against tgtd: data_path_smoke_test.cpp.
#include "scripted_disk_session.hpp"

#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <functional>
#include <vector>

using namespace isens;
using events::event_kind;
using events::event_reason;
using initiator::errc;
namespace proto = initiator::protocol;
namespace asio = boost::asio;
using Catch::Matchers::Contains;
using test::answer_first;
using test::bad_answer;
using test::check_condition;
using test::disk_script;
using test::disk_session;
using test::good;
using test::io_bytes;
using test::one_io;
using test::pattern;
using test::same_bytes;
using test::target_settings;
using test::write_bytes;

namespace {

// Options under which a session that lost its connection holds its
// commands for a reconnect instead of failing them.
initiator::initiator_options holding_options() {
  auto o = test::initiator_harness::quick_options();
  o.recovery_hold = std::chrono::seconds(10);
  return o;
}

// ---- answers that break the rules of a data transfer ----

struct violation {
  const char* what;
  bool on_write;      // the command answered badly is a write (else a read)
  bad_answer answer;
  const char* words;  // what the protocol error says
};

// The disk's bytes [from, to) as Data-In for `command` at offset `from`, DataSN `data_sn`.
proto::pdu piece(const proto::pdu& command, const test::scripted_disk& disk, std::uint32_t from, std::uint32_t to,
                 std::uint32_t data_sn) {
  return test::data_in_for(command, disk.read(from, to - from), from, data_sn);
}

// Two Data-In PDUs, the second one `second` (the first is [0, 2048), DataSN 0).
bad_answer then(std::function<proto::pdu(const proto::pdu&, const test::scripted_disk&)> second) {
  return [second](test::scripted_connection& c, const proto::pdu& command,
                  const test::scripted_disk& disk) -> asio::awaitable<void> {
    co_await c.send(piece(command, disk, 0, 2048, 0), false);
    co_await c.send(second(command, disk), false);
  };
}

// One PDU.
bad_answer just(std::function<proto::pdu(const proto::pdu&, const test::scripted_disk&)> only) {
  return [only](test::scripted_connection& c, const proto::pdu& command,
                const test::scripted_disk& disk) -> asio::awaitable<void> { co_await c.send(only(command, disk), false); };
}

// Bytes [0, to) in one Data-In, bent by `bend` before it goes.
bad_answer bent(std::uint32_t to, void (*bend)(proto::pdu&)) {
  return just([to, bend](const proto::pdu& c, const test::scripted_disk& d) {
    auto p = piece(c, d, 0, to, 0);
    bend(p);
    return p;
  });
}

proto::pdu r2t(const proto::pdu& command, std::uint32_t r2t_sn, std::uint32_t offset, std::uint32_t length) {
  proto::pdu p(proto::opcode::r2t);
  p.set_final(true);
  p.set_lun(command.lun());
  p.set_itt(command.itt());
  p.set_ttt(0x5151);
  p.set_r2t_sn(r2t_sn);
  p.set_buffer_offset(offset);
  p.set_desired_data_transfer_length(length);
  return p;
}

const std::vector<violation>& violations() {
  using C = const proto::pdu&;
  using D = const test::scripted_disk&;
  static const std::vector<violation> all{
      {"Data-In out of order", false, just([](C c, D d) { return piece(c, d, 2048, 4096, 0); }),
       "Buffer Offset 2048, expected 0 (out of order or overlapping)"},
      {"overlapping Data-In", false, then([](C c, D d) { return piece(c, d, 1024, 3072, 1); }),
       "Buffer Offset 1024, expected 2048"},
      {"a gap in DataSN", false, then([](C c, D d) { return piece(c, d, 2048, 4096, 2); }), "DataSN 2, expected 1"},
      {"a repeated DataSN", false, then([](C c, D d) { return piece(c, d, 2048, 4096, 0); }), "DataSN 0, expected 1"},
      {"Data-In beyond the command's length", false, then([](C c, D d) { return piece(c, d, 2048, 4608, 1); }),
       "2560 bytes at offset 2048 run past the 4096 expected"},
      {"an empty Data-In with a wrong DataSN", false,
       just([](C c, D) { return test::data_in_for(c, {}, 0, 3); }), "DataSN 3, expected 0"},
      {"Data-In asking for a DataACK (A bit)", false, bent(2048, [](proto::pdu& p) { p.set_acknowledge(true); }),
       "A bit"},
      {"status in a Data-In without F", false, bent(4096, [](proto::pdu& p) { p.set_has_status(true); }),
       "status (S) without F"},
      {"an R2T for a read", false, just([](C c, D) { return r2t(c, 0, 0, 4096); }), "the command writes no data"},
      {"Data-In for a write", true, just([](C c, D d) { return piece(c, d, 0, 2048, 0); }),
       "the command reads no data"},
      {"an R2T beyond the write", true, just([](C c, D) { return r2t(c, 0, 8192, 16384); }),
       "asks for bytes up to 24576 of a 16384-byte write"},
      {"an R2T with the wrong R2TSN", true, just([](C c, D) { return r2t(c, 1, 8192, 8192); }),
       "R2TSN 1, expected 0"},
      {"an R2T for 0 bytes", true, just([](C c, D) { return r2t(c, 0, 8192, 0); }), "asks for 0 bytes"},
  };
  return all;
}


// A target that answers the first read or write of its first connection
// with `v`, then reads on until the initiator hangs up; later connections
// serve the disk properly.
disk_script misbehave_once(const violation& v) {
  return [&v](test::scripted_connection& c, test::scripted_disk& disk, int nth) -> asio::awaitable<void> {
    if (nth == 1) {
      const auto command = co_await c.receive_command();
      co_await v.answer(c, command, disk);
      co_await c.drain();
    }
    co_await c.serve_disk_until_logout(disk);
  };
}

}  // namespace

TEST_CASE("a read in several Data-In PDUs lands intact, with status in the last one or in a SCSI Response",
          "[initiator][scripted][datapath]") {
  disk_script script;
  SECTION("status in the last of eight Data-In PDUs (S bit)") {
    script = [](test::scripted_connection& c, test::scripted_disk& disk, int) -> asio::awaitable<void> {
      c.set_data_in_size(512);
      co_await c.serve_disk_until_logout(disk);
    };
  }
  SECTION("status in a SCSI Response after the Data-In") {
    script = answer_first([](test::scripted_connection& c, const proto::pdu& command,
                             const test::scripted_disk& disk) -> asio::awaitable<void> {
      co_await c.send(piece(command, disk, 0, 2048, 0), false);
      co_await c.send(piece(command, disk, 2048, 4096, 1), false);
      co_await c.send(test::scsi_response_for(command, good));
    });
  }
  SECTION("a SCSI Response after status came in Data-In is ignored") {
    script = answer_first([](test::scripted_connection& c, const proto::pdu& command,
                             const test::scripted_disk& disk) -> asio::awaitable<void> {
      co_await c.send(piece(command, disk, 0, 2048, 0), false);
      auto last = piece(command, disk, 2048, 4096, 1);
      last.set_final(true);
      last.set_has_status(true);
      co_await c.send(std::move(last));
      co_await c.send(test::scsi_response_for(command, check_condition, test::fixed_sense(0x03, 0x11, 0x00)));
    });
  }
  disk_session s(script);
  s.read_back_intact();
  s.read_back_intact();  // the session goes on
  CHECK(s.info().connected);
  CHECK(s.info().io.read_ops == 2);
}

TEST_CASE("a read whose PDUs arrive cut anywhere lands intact: small Data-In through the receive buffer, large "
          "Data-In straight into place",
          "[initiator][scripted][datapath]") {
  // The reader copies a Data-In of up to 16 KiB out of its receive buffer
  // and receives a larger one's missing bytes straight into the caller's
  // buffer; the target here writes every PDU in 333-byte pieces.
  std::uint32_t bytes = 0;
  std::uint32_t first_pdu = 0;  // bytes of the first of two Data-In (0: one Data-In)
  SECTION("4 KiB in one Data-In") { bytes = 4096; }
  SECTION("64 KiB in one Data-In") { bytes = 65536; }
  SECTION("40 KiB, then 24 KiB with the status") {
    bytes = 65536;
    first_pdu = 40960;
  }
  SECTION("12 KiB, then 4 KiB with the status") {
    bytes = 16384;
    first_pdu = 12288;
  }
  disk_session s(answer_first([&](test::scripted_connection& c, const proto::pdu& command,
                                  const test::scripted_disk& disk) -> asio::awaitable<void> {
    std::uint32_t data_sn = 0;
    if (first_pdu > 0) co_await c.send_in_pieces(piece(command, disk, 0, first_pdu, data_sn++), 333, false);
    auto last = piece(command, disk, first_pdu, bytes, data_sn);
    last.set_final(true);
    last.set_has_status(true);
    co_await c.send_in_pieces(std::move(last), 333);
  }));
  s.read_back_intact(bytes);
  s.read_back_intact(bytes);  // the next read, as the disk serves it, lands too
  CHECK(s.info().connected);
  CHECK(s.info().io.read_ops == 2);
}

TEST_CASE("a write goes out as immediate data, then by R2T or unsolicited, and a flush follows it",
          "[initiator][scripted][datapath]") {
  target_settings settings;
  SECTION("InitialR2T=Yes: the rest of the write waits for an R2T") {}
  SECTION("InitialR2T=No: the rest of the first burst goes unsolicited") { settings.login_keys.clear(); }
  disk_session s(
      [](test::scripted_connection& c, test::scripted_disk& disk, int) -> asio::awaitable<void> {
        co_await c.serve_disk_until_logout(disk);
      },
      test::initiator_harness::quick_options(), settings);
  const auto data = pattern(write_bytes, 5);
  REQUIRE(s.write(data, 8));
  CHECK(same_bytes(data, s.disk.read(8 * 512, write_bytes)));
  auto flush = s.harness().initiator().async_flush(s.id(), 0, asio::use_future);
  CHECK(disk_session::finish(flush));
  CHECK(s.info().io.write_ops == 2);
}

TEST_CASE("Data-In and R2T that break the rules drop the connection as a protocol error, and the command is "
          "re-issued once the session is back and lands intact",
          "[initiator][scripted][datapath]") {
  for (const auto& v : violations()) {
    INFO(v.what);
    disk_session s(misbehave_once(v), holding_options());
    one_io io;
    auto pending = io.start(s, v.on_write);
    const auto disconnect = s.harness().recorder().wait_for(event_kind::session_disconnect);
    CHECK(disconnect.reason == event_reason::protocol_error);
    CHECK_THAT(disconnect.detail, Contains(v.words));
    CHECK(pending.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);  // held, not failed
    REQUIRE(s.harness().run(s.harness().initiator().reconnect_session(s.id())));
    REQUIRE(disk_session::finish(pending));
    CHECK(io.landed(s, v.on_write));
    CHECK(s.info().io.reissued == 1);
    CHECK(s.connections() == 2);
  }
}

TEST_CASE("Data-In and R2T that break the rules fail the command when the session is not recovered",
          "[initiator][scripted][datapath]") {
  for (const auto& v : violations()) {
    INFO(v.what);
    disk_session s(misbehave_once(v));  // recovery_hold 0
    one_io io;
    auto pending = io.start(s, v.on_write);
    const auto outcome = disk_session::finish(pending);
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error().code == make_error_code(errc::session_not_logged_in));
    CHECK_THAT(outcome.error().what(), Contains(v.words));
    CHECK_FALSE(s.info().connected);
  }
}

TEST_CASE("a GOOD status that leaves bytes unaccounted for is an error to the caller, never short data",
          "[initiator][scripted][datapath]") {
  using C = const proto::pdu&;
  using D = const test::scripted_disk&;
  // The end of an answer: status GOOD with the residual fields of `shape`.
  const auto good_status = [](proto::pdu p, std::uint8_t shape, std::uint32_t residual) {
    p.set_final(true);
    p.set_status(good);
    if (shape == 'U') p.set_residual_underflow(true);
    if (shape == 'O') p.set_residual_overflow(true);
    p.set_residual_count(residual);
    return p;
  };
  const auto in_data_in = [&](std::uint32_t bytes, std::uint8_t shape, std::uint32_t residual) {
    return just([=](C c, D d) {
      auto p = good_status(piece(c, d, 0, bytes, 0), shape, residual);
      p.set_has_status(true);
      return p;
    });
  };
  const auto in_response = [&](std::uint32_t bytes, std::uint8_t shape, std::uint32_t residual) -> bad_answer {
    return [=](test::scripted_connection& c, C command, D disk) -> asio::awaitable<void> {
      if (bytes > 0) co_await c.send(piece(command, disk, 0, bytes, 0), false);
      co_await c.send(good_status(test::scsi_response_for(command, good), shape, residual));
    };
  };
  struct odd_end {
    const char* what;
    bool on_write;
    bad_answer answer;
  };
  const odd_end cases[] = {
      {"half the data, U residual in the Data-In", false, in_data_in(2048, 'U', 2048)},
      {"half the data, U residual in the SCSI Response", false, in_response(2048, 'U', 2048)},
      {"half the data, no residual", false, in_response(2048, 0, 0)},
      {"all the data, yet a U residual", false, in_data_in(4096, 'U', 512)},
      {"all the data and an O residual", false, in_response(4096, 'O', 4096)},
      {"no data at all", false, in_response(0, 'U', 4096)},
      {"a write the target took half of", true, in_response(0, 'U', 8192)},
  };
  for (const auto& odd : cases) {
    INFO(odd.what);
    disk_session s(answer_first(odd.answer));
    one_io io;
    auto pending = io.start(s, odd.on_write);
    const auto outcome = disk_session::finish(pending);
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error().code == make_error_code(errc::scsi_bad_response));
    CHECK_THAT(outcome.error().what(),
               Contains(odd.on_write ? "WRITE(16) of LUN 0, blocks 0+32" : "READ(16) of LUN 0, blocks 0+8"));
    CHECK_THAT(outcome.error().what(), Contains("bytes"));
    CHECK(s.info().connected);  // a SCSI outcome, not a protocol error
    CHECK(s.info().io.failed == 1);
    s.read_back_intact();
  }
}

TEST_CASE("a Data-In on another connection than its command drops that connection, and the command completes on its own",
          "[initiator][scripted][datapath]") {
  std::array<test::scripted_connection*, 3> connections{};  // by nth; only the target's thread touches them
  test::script_gate both_in, other_dropped;
  disk_session s([&](test::scripted_connection& c, test::scripted_disk& disk, int nth) -> asio::awaitable<void> {
    connections[nth] = &c;
    if (nth == 2) both_in.open();
    co_await both_in.wait();
    const auto command = co_await c.receive_command();
    // Its data comes on the other connection, whose own script waits in a read.
    auto misplaced = piece(command, disk, 0, 4096, 0);
    misplaced.set_final(true);
    misplaced.set_has_status(true);
    co_await connections[3 - nth]->send(std::move(misplaced));
    co_await other_dropped.wait();
    co_await c.answer_command(command, disk);
    co_await c.serve_disk_until_logout(disk);
  });
  REQUIRE(s.harness().run(s.harness().initiator().add_connection_to_session(s.id())));
  std::vector<std::byte> buffer(io_bytes);
  auto pending = s.start_read(buffer);
  const auto lost = s.harness().recorder().wait_for(event_kind::connection_lost);
  CHECK(lost.reason == event_reason::protocol_error);
  CHECK_THAT(lost.detail, Contains("on another connection than its command (allegiance)"));
  other_dropped.open();
  REQUIRE(disk_session::finish(pending));
  CHECK(same_bytes(buffer, s.disk.read(0, io_bytes)));
  const auto info = s.info();
  CHECK(info.connected);
  CHECK(info.connections.size() == 1);
  CHECK(info.io.reissued == 0);  // it never left its connection
}

TEST_CASE("a Reject of a Data-Out fails that write, not the session", "[initiator][scripted][datapath]") {
  disk_session s(answer_first([](test::scripted_connection& c, const proto::pdu& command,
                                 const test::scripted_disk&) -> asio::awaitable<void> {
    co_await c.send(r2t(command, 0, 8192, 8192), false);
    const auto data_out = co_await c.receive();
    proto::pdu reject(proto::opcode::reject);
    reject.set_final(true);
    reject.set_itt(proto::reserved_tag);
    reject.set_reject_reason(0x09);  // invalid PDU field
    reject.data.assign(data_out.bhs.begin(), data_out.bhs.end());
    co_await c.send(std::move(reject));
  }));
  const auto before = s.disk.read(0, write_bytes);
  const auto data = pattern(write_bytes, 3);
  const auto outcome = s.write(data);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == make_error_code(errc::pdu_rejected));
  CHECK_THAT(outcome.error().what(), Contains("reason 9"));
  CHECK(s.info().connected);
  CHECK(s.disk.read(0, write_bytes) == before);
  s.read_back_intact();
}

// Found by this suite (fixed in a5e0ef6): a Data-In with an AHS went past
// placement, its bytes counted as received but never placed or checked.
TEST_CASE("a Data-In with an AHS is placed in the caller's buffer or refused, never counted unplaced",
          "[initiator][scripted][datapath]") {
  disk_session s(answer_first([](test::scripted_connection& c, const proto::pdu& command,
                                 const test::scripted_disk& disk) -> asio::awaitable<void> {
    auto p = piece(command, disk, 0, 4096, 0);
    p.ahs = {0x00, 0x01, 0x00, 0x00};  // one 4-byte AHS entry of type 0
    p.set_final(true);
    p.set_has_status(true);
    co_await c.send(std::move(p));
  }));
  std::vector<std::byte> buffer(io_bytes);
  const auto outcome = s.read(buffer);
  if (outcome) CHECK(same_bytes(buffer, s.disk.read(0, io_bytes)));
}

// Found by this suite (fixed in a5e0ef6): the message counted the bytes the
// write sent, not those the target said it took.
TEST_CASE("the error of a write the target took only part of says how much it took",
          "[initiator][scripted][datapath]") {
  disk_session s(answer_first([](test::scripted_connection& c, const proto::pdu& command,
                                 const test::scripted_disk&) -> asio::awaitable<void> {
    auto response = test::scsi_response_for(command, good);
    response.set_residual_underflow(true);
    response.set_residual_count(8192);
    co_await c.send(std::move(response));
  }));
  const auto outcome = s.write(pattern(write_bytes, 4));
  REQUIRE_FALSE(outcome);
  CHECK_THAT(outcome.error().what(), Contains("moved 8192 of 16384 bytes"));
}
