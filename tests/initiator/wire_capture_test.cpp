// What the initiator puts on the wire, judged by an independent decoder:
// a representative workload against a real tgtd (CHAP one-way and mutual,
// header and data digests, four connections, SCSI commands, NOP pings,
// connection removal, discovery, logout) is captured and decoded with
// tshark, which must find plenty of iSCSI, nothing malformed, no expert
// error and no bad digest.
//
// Wireshark 4.0 facts this test relies on:
//  * The iSCSI dissector has no digest preferences any more: the old
//    iscsi.enable_header_digests, header_digest_is_crc32c,
//    enable_data_digests, ... are registered as obsolete, and `-o` with them
//    changes nothing. It finds CRC32C digests by itself, per TCP stream,
//    from the first full-feature PDU: if that one's header digest is wrong
//    it decides the stream has none, and the stream then decodes as
//    malformed PDUs with no digests (both caught below).
//  * It reports a digest only in the field's text, "0x%08x (Good CRC32)" or
//    "0x%08x (Bad CRC32, should be 0x%08x)", never as an expert info; so
//    digests are judged here from `tshark -V -O iscsi`. One flipped bit in a
//    later header or data digest shows as "Bad CRC32" (checked by hand).
//  * iscsi.demand_good_f_bit:TRUE ignores PDUs that lack the F bit where it
//    is required, so such a PDU shows up as a missing opcode rather than
//    going unnoticed (a clean capture decodes the same with or without it).
//
// Set ISENS_KEEP_CAPTURE=/path/file.pcapng to keep the capture.
#include "initiator_harness.hpp"
#include "packet_capture.hpp"
#include "subprocess.hpp"
#include "tgtd_target.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <sstream>
#include <thread>

using namespace isens;
using events::event_kind;
using namespace std::chrono_literals;

/// Requires a facade call to have succeeded, and says why it did not.
#define REQUIRE_OK(r)                                       \
  do {                                                      \
    if (!(r)) FAIL(#r " failed: " << (r).error().what());   \
  } while (false)

namespace {

constexpr const char* initiator_user = "isens-user";
constexpr const char* initiator_secret = "initiator-secret-1";
constexpr const char* target_user = "tgt-user";
constexpr const char* target_secret = "target-secret-22";

/// How tshark judged the CRC32C digests it found.
struct digest_verdicts {
  std::size_t header_good = 0;
  std::size_t header_bad = 0;
  std::size_t data_good = 0;
  std::size_t data_bad = 0;
  std::string bad_lines;  ///< the offending lines, for the failure message
};

/// Reads every digest verdict from `tshark -V -O iscsi` (see the header comment).
digest_verdicts judge_digests(const std::filesystem::path& file, unsigned short port,
                              const std::vector<std::string>& tshark_options) {
  std::vector<std::string> argv{"tshark", "-n", "-r", file.string(), "-d",
                                "tcp.port==" + std::to_string(port) + ",iscsi"};
  argv.insert(argv.end(), tshark_options.begin(), tshark_options.end());
  argv.insert(argv.end(), {"-V", "-O", "iscsi"});
  const auto decoded = test::run_checked(argv, test::run_options{60s, {}, true});

  digest_verdicts verdicts;
  std::istringstream lines(decoded);
  std::string line;
  while (std::getline(lines, line)) {
    const bool header = line.find("HeaderDigest: ") != std::string::npos;
    const bool data = line.find("DataDigest: ") != std::string::npos;
    if (!header && !data) continue;
    const bool good = line.find("(Good CRC32)") != std::string::npos;
    const bool bad = line.find("(Bad CRC32") != std::string::npos;
    if (header) (good ? verdicts.header_good : verdicts.header_bad) += good || bad ? 1 : 0;
    if (data) (good ? verdicts.data_good : verdicts.data_bad) += good || bad ? 1 : 0;
    if (bad || !good) verdicts.bad_lines += line + '\n';
  }
  return verdicts;
}

initiator::login_options digest_login(const test::tgtd_target& target) {
  initiator::login_options o;
  o.target_portal = {"127.0.0.1", target.port()};
  o.target_name = std::string(test::standard_iqn);
  o.header_digest = initiator::digest::crc32c;
  o.data_digest = initiator::digest::crc32c;
  o.chap = initiator::chap_credentials{initiator_user, initiator_secret};
  return o;
}

}  // namespace

TEST_CASE("a representative session decodes as clean iSCSI with good digests", "[integration][capture]") {
  auto target = test::make_standard_target();
  target->set_target_param(test::standard_tid, "HeaderDigest", "CRC32C,None");
  target->set_target_param(test::standard_tid, "DataDigest", "CRC32C,None");
  target->add_account(initiator_user, initiator_secret);
  target->bind_account(test::standard_tid, initiator_user);
  target->add_account(target_user, target_secret);
  target->bind_outgoing_account(test::standard_tid, target_user);

  test::packet_capture capture(target->port());
  {
    test::initiator_harness h;

    // Session 1: one-way CHAP, digests, LUN enumeration (REPORT LUNS,
    // INQUIRY + VPD 0x80/0x83, READ CAPACITY(16) and VPD 0x00/0xB0/0xB2 of
    // every LUN).
    auto id = h.run(h.initiator().login_to_target(digest_login(*target)));
    REQUIRE_OK(id);
    const auto snapshot = h.initiator().session(*id);
    REQUIRE(snapshot.has_value());
    CHECK(snapshot->auth_type == "CHAP");
    CHECK(snapshot->header_digest);
    CHECK(snapshot->data_digest);
    CHECK(snapshot->devices.size() == 3);

    // MC/S: grow to four connections and spread commands over them.
    std::vector<std::uint64_t> added;
    for (int i = 0; i < 3; ++i) {
      auto connection = h.run(h.initiator().add_connection_to_session(*id));
      REQUIRE_OK(connection);
      added.push_back(*connection);
    }
    REQUIRE(h.initiator().session(*id)->connections.size() == 4);
    for (int i = 0; i < 4; ++i) {
      auto inquiry = h.run(h.initiator().scsi_inquiry(*id, 1));
      REQUIRE_OK(inquiry);
      CHECK_FALSE(inquiry->unit_serial.empty());
      CHECK_FALSE(inquiry->designators.empty());
      auto capacity = h.run(h.initiator().scsi_read_capacity(*id, 1));
      REQUIRE_OK(capacity);
      CHECK(capacity->bytes() == test::standard_lun1_bytes);
      auto luns = h.run(h.initiator().scsi_report_luns(*id));
      REQUIRE_OK(luns);
      CHECK(luns->size() == 3);
    }
    const auto removed = h.run(h.initiator().remove_connection_from_session(*id, added.back()));
    REQUIRE_OK(removed);
    CHECK(h.initiator().session(*id)->connections.size() == 3);
    CHECK(h.run(h.initiator().scsi_report_luns(*id)).has_value());
    // A missing LUN: CHECK CONDITION in a SCSI Response with sense data.
    const auto missing = h.run(h.initiator().scsi_read_capacity(*id, 7));
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == make_error_code(initiator::errc::scsi_check_condition));

    // Discovery on the same portal (SendTargets=All in Text PDUs).
    initiator::discovery_options discovery;
    discovery.discovery_portal = {"127.0.0.1", target->port()};
    auto targets = h.run(h.initiator().discover(discovery));
    REQUIRE_OK(targets);
    REQUIRE(targets->size() == 1);
    CHECK((*targets)[0].name == test::standard_iqn);

    const auto logout = h.run(h.initiator().logout_from_target(*id));
    REQUIRE_OK(logout);
  }
  {
    // Session 2: mutual CHAP, digests, and NOP-Out pings every 100 ms for a moment.
    auto options = test::initiator_harness::quick_options();
    options.nop_interval = 100ms;
    options.nop_timeout = 1000ms;
    test::initiator_harness h(options);
    auto login = digest_login(*target);
    login.mutual_chap = initiator::chap_credentials{target_user, target_secret};
    login.enumerate_luns = false;
    auto id = h.run(h.initiator().login_to_target(login));
    REQUIRE_OK(id);
    CHECK(h.initiator().session(*id)->auth_type == "Mutual CHAP");
    std::this_thread::sleep_for(450ms);
    CHECK(h.initiator().session(*id)->connected);  // every ping was answered
    const auto logout = h.run(h.initiator().logout_from_target(*id));
    REQUIRE_OK(logout);
    for (const auto& e : h.recorder().events()) CHECK(e.kind != event_kind::session_disconnect);
  }

  const std::vector<std::string> tshark_options{"-o", "iscsi.demand_good_f_bit:TRUE"};
  const auto result = capture.analyse(capture.port(), tshark_options);
  if (const char* keep = std::getenv("ISENS_KEEP_CAPTURE")) capture.copy_to(keep);
  const auto digests = judge_digests(capture.file(), capture.port(), tshark_options);

  INFO(result.expert_report);
  std::string opcodes;
  for (const auto& [opcode, n] : result.opcodes) opcodes += opcode + "=" + std::to_string(n) + " ";
  INFO("opcodes: " << opcodes << "; TCP frames " << result.tcp_frames << ", iSCSI PDUs " << result.iscsi_pdus
                   << ", warnings " << result.expert_warnings);
  INFO("digests: header " << digests.header_good << " good, " << digests.header_bad << " bad; data "
                          << digests.data_good << " good, " << digests.data_bad << " bad\n"
                          << digests.bad_lines);

  auto count = [&](const char* opcode) {
    const auto at = result.opcodes.find(opcode);
    return at == result.opcodes.end() ? std::size_t{0} : at->second;
  };
  // The workload is 136 PDUs without the NOPs, whose number depends on timing
  // (4 pairs in 450 ms): 48 login, 2 text, 37 SCSI commands, 37 Data-In,
  // 4 SCSI Responses (CHECK CONDITION), 8 logout.
  CHECK(result.iscsi_pdus > 130);
  CHECK(result.malformed == 0);
  CHECK(result.expert_errors == 0);

  // Login Command: CHAP takes at least 4 requests per connection (AuthMethod,
  // CHAP_A, CHAP_N/CHAP_R, operational keys); 2 sessions, 3 added connections,
  // and discovery's 1.
  CHECK(count("0x03") >= 5 * 4 + 1);
  CHECK(count("0x23") == count("0x03"));  // Login Response
  CHECK(count("0x04") == 1);              // Text Command (SendTargets=All)
  CHECK(count("0x24") == 1);              // Text Response
  // SCSI Command: REPORT LUNS + 3 INQUIRYs per LUN and READ CAPACITY of the
  // 2 disks at enumeration, 4 x (3 INQUIRYs + READ CAPACITY + REPORT LUNS),
  // 1 REPORT LUNS and 1 READ CAPACITY of a missing LUN.
  CHECK(count("0x01") >= 1 + 9 + 2 + 20 + 1 + 1);
  // SCSI Data-In: tgt puts GOOD status in the last Data-In (S bit), and sends
  // the data even before a CHECK CONDITION.
  CHECK(count("0x25") >= 1 + 9 + 2 + 20 + 1);
  CHECK(count("0x21") >= 2);  // SCSI Response: the missing LUN's CHECK CONDITION at least
  CHECK(count("0x00") >= 2);                   // NOP-Out
  CHECK(count("0x20") >= 2);                   // NOP-In
  CHECK(count("0x06") == 4);  // Logout Command: removed connection, session 1, discovery, session 2
  CHECK(count("0x26") == 4);  // Logout Response

  // Digests: none bad; every full-feature PDU of the two sessions (all but
  // login, discovery's Text and discovery's Logout pair) has a good header
  // digest, and every Data-In and SCSI Response (all carry data or sense) a
  // good data digest.
  CHECK(digests.header_bad == 0);
  CHECK(digests.data_bad == 0);
  CHECK(digests.bad_lines.empty());
  CHECK(digests.header_good >= result.iscsi_pdus - count("0x03") - count("0x23") - 2 - 2);
  CHECK(digests.data_good >= count("0x25") + count("0x21"));
}

// Found by the capture above: tgt answers the first READ CAPACITY(16) to each
// LUN of a new session with CHECK CONDITION, UNIT ATTENTION "POWER ON, RESET,
// OR BUS DEVICE RESET OCCURRED" (29/00), as SAM requires. The initiator takes
// any CHECK CONDITION as "READ CAPACITY(16) not supported" and falls back to
// READ CAPACITY(10) (initiator/src/session/scsi_commands.cpp,
// scsi_read_capacity), which for a LUN of 2 TiB or more returns last LBA
// 0xFFFFFFFF ("use READ CAPACITY(16)", SBC-3 5.16.2), taken as the size: the
// LUN reads as exactly 2 TiB. A unit attention should be retried, and the
// short form's 0xFFFFFFFF should send the initiator back to the long form.
TEST_CASE("a LUN over 2 TiB reads its true size despite the power-on unit attention", "[initiator][tgtd][scsi]") {
  constexpr std::uint64_t big_lun_bytes = 3ULL << 40;  // sparse: costs nothing on disk
  auto target = test::make_standard_target();
  target->add_lun(test::standard_tid, 3, big_lun_bytes);
  test::initiator_harness h;
  initiator::login_options login;
  login.target_portal = {"127.0.0.1", target->port()};
  login.target_name = std::string(test::standard_iqn);

  SECTION("LUN enumeration at login") {
    auto id = h.run(h.initiator().login_to_target(login));
    REQUIRE_OK(id);
    h.recorder().wait_for(event_kind::session_ready);
    const auto snapshot = h.initiator().session(*id);
    REQUIRE(snapshot->devices.size() == 4);
    REQUIRE(snapshot->devices[3].capacity);
    CHECK(snapshot->devices[3].capacity->bytes() == big_lun_bytes);
    // Asked again, once the unit attention is gone, it is right.
    auto again = h.run(h.initiator().scsi_read_capacity(*id, 3));
    REQUIRE(again.has_value());
    CHECK(again->bytes() == big_lun_bytes);
  }
  SECTION("the first command of a session") {
    login.enumerate_luns = false;
    auto id = h.run(h.initiator().login_to_target(login));
    REQUIRE_OK(id);
    auto capacity = h.run(h.initiator().scsi_read_capacity(*id, 3));
    REQUIRE_OK(capacity);
    CHECK(capacity->bytes() == big_lun_bytes);
  }
}
