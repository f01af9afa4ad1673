// Proves packet_capture sees and decodes a real initiator's iSCSI traffic, and
// that it does report broken traffic, so a clean result means something.
#include "packet_capture.hpp"

#include "loopback_connection.hpp"
#include "subprocess.hpp"
#include "tgtd_target.hpp"

#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// Sends raw bytes to 127.0.0.1:port and closes, as a broken initiator would.
void send_raw(unsigned short port, const std::string& bytes) {
  const isens::test::loopback_connection connection(port);
  connection.send_all(bytes);
  std::this_thread::sleep_for(200ms);  // let the target answer before we reset
}

}  // namespace

TEST_CASE("packet_capture decodes a libiscsi login and INQUIRY as clean iSCSI", "[capture][integration]") {
  auto target = isens::test::make_standard_target();
  fs::path file;
  {
    isens::test::packet_capture capture(target->port());
    file = capture.file();
    const auto inq = isens::test::run({"iscsi-inq", target->url(isens::test::standard_iqn, 1)},
                                      isens::test::run_options{20s, {}});
    REQUIRE(inq.exit_code == 0);

    auto result = capture.analyse();
    INFO(result.expert_report);
    CHECK(result.tcp_frames > 10);
    CHECK(result.iscsi_pdus > 0);
    CHECK(result.opcodes["0x03"] >= 1);  // Login Request
    CHECK(result.opcodes["0x23"] >= 1);  // Login Response
    CHECK(result.opcodes["0x01"] >= 1);  // SCSI Command (INQUIRY)
    CHECK(result.opcodes["0x21"] >= 1);  // SCSI Response
    CHECK(result.opcodes["0x06"] == 1);  // Logout Request
    CHECK(result.opcodes["0x26"] == 1);  // Logout Response
    CHECK(result.malformed == 0);
    CHECK(result.expert_errors == 0);
    CHECK(fs::file_size(file) > 0);

    const auto kept = target->dir() / "kept.pcapng";
    capture.copy_to(kept);
    CHECK(fs::file_size(kept) == fs::file_size(file));
  }
  CHECK_FALSE(fs::exists(file.parent_path()));
}

TEST_CASE("packet_capture sees nothing when nothing happens", "[capture][integration]") {
  auto target = isens::test::make_standard_target();
  isens::test::packet_capture capture(target->port());
  const auto result = capture.analyse();
  CHECK(result.tcp_frames == 0);
  CHECK(result.iscsi_pdus == 0);
  CHECK(result.malformed == 0);
}

TEST_CASE("packet_capture reports broken iSCSI", "[capture][integration]") {
  auto target = isens::test::make_standard_target();
  isens::test::packet_capture capture(target->port());

  // A Login Request BHS whose data segment is a text key without '=' and
  // without its terminating NUL: what a buggy initiator might send.
  std::array<unsigned char, 48> bhs{};
  bhs[0] = 0x43;  // immediate Login Request
  bhs[1] = 0x87;  // T=1, CSG=1 (operational), NSG=3 (full feature)
  bhs[7] = 12;    // DataSegmentLength
  std::string pdu(reinterpret_cast<const char*>(bhs.data()), bhs.size());
  pdu += "InitiatorNam";  // 12 bytes, no '=' and no NUL: invalid text
  send_raw(target->port(), pdu);

  const auto result = capture.analyse();
  INFO(result.expert_report);
  CHECK(result.iscsi_pdus >= 1);
  CHECK(result.malformed + result.expert_errors > 0);
  CHECK_FALSE(result.expert_report.empty());
}

TEST_CASE("packet_capture finds the FIN a target sends when it drops a connection, with its time and port",
          "[capture][integration]") {
  auto target = isens::test::make_standard_target();
  isens::test::packet_capture capture(target->port(), isens::test::tcp_segments::connection_ends);

  // Our side of a connection the target then closes: tgtd drops a client that
  // sends a malformed login, which is the FIN we look for.
  std::chrono::system_clock::time_point before;
  std::chrono::system_clock::time_point after;
  unsigned short our_port = 0;
  {
    const isens::test::loopback_connection connection(target->port());
    our_port = connection.local_port();
    const timeval patience{10, 0};  // a target that never closes fails the test instead of hanging it
    REQUIRE(::setsockopt(connection.fd(), SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience) == 0);
    before = std::chrono::system_clock::now();
    std::string scsi_command(48, '\0');  // a SCSI Command before any login: tgtd closes the connection
    scsi_command[0] = 0x01;
    connection.send_all(scsi_command);
    char byte = 0;
    while (::recv(connection.fd(), &byte, 1, 0) > 0) {
    }  // until the target's FIN arrives
    after = std::chrono::system_clock::now();
  }

  const auto fins = capture.fins_from(target->port());
  REQUIRE(fins.size() == 1);
  CHECK(fins[0].destination_port == our_port);
  CHECK(fins[0].at >= before - 1ms);  // the capture's clock is the system clock
  CHECK(fins[0].at <= after + 1ms);
}
