// Captures the loopback traffic of one iSCSI port and decodes it with tshark,
// so a test can assert that what our initiator put on the wire is iSCSI that
// Wireshark's independent dissector accepts: no malformed packets, no expert
// errors.
//
// Facts (Wireshark 4.0.17, Debian 12):
//  * Capturing uses dumpcap (what tshark runs underneath) directly: it starts
//    in ~50 ms where tshark needs ~800 ms. dumpcap prints "Capturing on
//    'Loopback: lo'" and then "File: <path>" on stderr; the File line comes
//    after libpcap is open with its filter set, so traffic after it is
//    captured. dumpcap has no --immediate-mode in 4.0.
//  * Packets reach dumpcap in batches: a SIGINT sent right after the traffic
//    loses the batch still in the kernel ring (0 of 20 packets captured when
//    stopped 50 ms after a login; all of them after 200 ms). stop() therefore
//    sends a UDP sentinel datagram that the capture filter includes and waits
//    until dumpcap's running "Packets: N" count (stderr, "\rPackets: N ")
//    shows it, then for the count to settle, before it sends SIGINT.
//  * tshark decodes iSCSI on a non-standard port only with
//    `-d tcp.port==P,iscsi`. In `-T fields` output, _ws.expert.severity is
//    printed as a number: 2097152 chat, 4194304 note, 6291456 warning,
//    8388608 error. A clean libiscsi login and INQUIRY has only chat/note
//    expert infos (TCP SYN/FIN sequence notes). A truncated Login text
//    segment is reported as "Malformed Packet (Exception occurred)", an
//    error; a reset connection as a warning.
//  * Cost: ~0.6 s to stop (dumpcap reports counts every ~250 ms, then we
//    wait 300 ms for quiet) and ~0.4 s per tshark pass; analyse() runs two
//    passes, three if anything was flagged.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace isens::test {

class child_process;

/// What tshark made of a capture.
struct capture_analysis {
  std::size_t tcp_frames = 0;       ///< TCP frames in the capture (the sentinel is UDP and not counted).
  std::size_t iscsi_pdus = 0;       ///< iSCSI PDUs decoded; one frame may carry several.
  std::size_t malformed = 0;        ///< frames Wireshark flags as malformed (_ws.malformed).
  std::size_t expert_errors = 0;    ///< expert infos of severity error (malformed ones included).
  std::size_t expert_warnings = 0;  ///< expert infos of severity warning (e.g. retransmissions, resets).
  std::map<std::string, std::size_t> opcodes;  ///< iSCSI opcode as tshark prints it ("0x03" login request) → count.
  std::string expert_report;  ///< `tshark -z expert` text when anything was found, for failure messages.
};

/// Which TCP segments of the port a capture keeps.
enum class tcp_segments {
  all,              ///< everything (for decoding iSCSI)
  connection_ends,  ///< FIN and RST only: small enough for a long benchmark run
};

/// A FIN a port sent, as the capture saw it.
struct tcp_fin {
  std::chrono::system_clock::time_point at;  ///< the capture's timestamp (the kernel's, on lo)
  unsigned short destination_port = 0;
};

/// A running capture of TCP traffic to or from one loopback port, written to a
/// pcapng file in a private temp dir; stopped and removed on destruction.
class packet_capture {
 public:
  /// Starts dumpcap on lo for tcp port `port` and returns once it captures; throws with its log otherwise.
  explicit packet_capture(unsigned short port, tcp_segments which = tcp_segments::all,
                          std::chrono::milliseconds start_timeout = std::chrono::seconds{10});
  /// Stops dumpcap if needed and removes the temp dir (copy_to() first to keep the file).
  ~packet_capture();
  packet_capture(const packet_capture&) = delete;
  packet_capture& operator=(const packet_capture&) = delete;
  packet_capture(packet_capture&&) = delete;
  packet_capture& operator=(packet_capture&&) = delete;

  /// Waits until everything sent so far is in the file, then ends the capture; idempotent.
  void stop();
  /// stop()s if needed and decodes the file with `port` treated as iSCSI;
  /// tshark_options (e.g. {"-o", "iscsi.demand_good_f_bit:TRUE"}) go to every tshark pass.
  [[nodiscard]] capture_analysis analyse(unsigned short iscsi_port,
                                         const std::vector<std::string>& tshark_options = {});
  /// analyse() for the captured port.
  [[nodiscard]] capture_analysis analyse() { return analyse(port_); }
  /// stop()s if needed and lists the FINs that `source_port` sent, in capture order.
  [[nodiscard]] std::vector<tcp_fin> fins_from(unsigned short source_port);
  /// The pcapng file (complete only after stop()).
  [[nodiscard]] std::filesystem::path file() const { return dir_ / "capture.pcapng"; }
  /// Keeps a copy of the capture, e.g. to attach to a failing test's report.
  void copy_to(const std::filesystem::path& destination);
  /// The captured TCP port.
  [[nodiscard]] unsigned short port() const noexcept { return port_; }

 private:
  [[nodiscard]] std::filesystem::path log_file() const { return dir_ / "dumpcap.log"; }
  /// Kills dumpcap (if running), closes the sentinel socket, removes the directory.
  void release() noexcept;
  [[nodiscard]] long last_reported_count() const;

  unsigned short port_;
  std::filesystem::path dir_;
  int sentinel_fd_ = -1;
  unsigned short sentinel_port_ = 0;
  std::unique_ptr<child_process> process_;
};

}  // namespace isens::test
