#include "packet_capture.hpp"

#include "subprocess.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace isens::test {
namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

constexpr std::string_view severity_error = "8388608";    // PI_ERROR
constexpr std::string_view severity_warning = "6291456";  // PI_WARN

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Splits s on sep, dropping empty pieces.
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> pieces;
  std::istringstream in(s);
  std::string piece;
  while (std::getline(in, piece, sep)) {
    if (!piece.empty()) {
      pieces.push_back(piece);
    }
  }
  return pieces;
}

std::vector<std::string> tshark_read(const fs::path& file, unsigned short iscsi_port,
                                     const std::vector<std::string>& options) {
  std::vector<std::string> argv{"tshark", "-n", "-r", file.string(), "-d",
                                "tcp.port==" + std::to_string(iscsi_port) + ",iscsi"};
  argv.insert(argv.end(), options.begin(), options.end());
  return argv;
}

std::string tshark_checked(const std::vector<std::string>& argv) {
  auto result = run(argv, run_options{std::chrono::seconds{60}, {}, true});
  if (result.exit_code != 0) {
    throw std::runtime_error(format_command(argv) + " failed with exit code " + std::to_string(result.exit_code) +
                             ":\n" + result.errors + result.output);
  }
  return std::move(result.output);
}

}  // namespace

packet_capture::packet_capture(unsigned short port, tcp_segments which, std::chrono::milliseconds start_timeout)
    : port_(port) {
  std::string pattern = (fs::temp_directory_path() / "isens-capture-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  dir_ = pattern;
  try {
    // Our own UDP port, kept bound so the sentinel is neither refused nor answered.
    sentinel_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (sentinel_fd_ < 0 || ::bind(sentinel_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(sentinel_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error(std::string("sentinel socket: ") + std::strerror(errno));
    }
    sentinel_port_ = ntohs(addr.sin_port);

    std::string segments = "tcp port " + std::to_string(port_);
    if (which == tcp_segments::connection_ends) segments = "(" + segments + " and tcp[tcpflags] & (tcp-fin|tcp-rst) != 0)";
    const std::string filter = segments + " or udp dst port " + std::to_string(sentinel_port_);
    process_ = std::make_unique<child_process>(
        std::vector<std::string>{"dumpcap", "-i", "lo", "-f", filter, "-w", file().string()}, log_file());
    const auto deadline = steady::now() + start_timeout;
    while (read_file(log_file()).find("File: ") == std::string::npos) {
      if (!process_->running()) {
        throw std::runtime_error("dumpcap exited during start; its output:\n" + file_tail(log_file()));
      }
      if (steady::now() >= deadline) {
        throw std::runtime_error("dumpcap did not start capturing within " + std::to_string(start_timeout.count()) +
                                 " ms; its output:\n" + file_tail(log_file()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
  } catch (...) {
    release();
    throw;
  }
}

packet_capture::~packet_capture() {
  try {
    stop();
  } catch (...) {
    // Destructor: nothing to report to; the child_process destructor kills dumpcap.
  }
  release();
}

void packet_capture::release() noexcept {
  process_.reset();
  if (sentinel_fd_ >= 0) {
    ::close(sentinel_fd_);
    sentinel_fd_ = -1;
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

long packet_capture::last_reported_count() const {
  // dumpcap rewrites one status line with "\rPackets: N "; the last one wins.
  const auto text = read_file(log_file());
  constexpr std::string_view key = "Packets: ";
  const auto at = text.rfind(key);
  if (at == std::string::npos) {
    return -1;
  }
  return std::strtol(text.c_str() + at + key.size(), nullptr, 10);
}

void packet_capture::stop() {
  if (!process_ || !process_->running()) {
    return;
  }
  // Everything the kernel queued before the sentinel is handed to dumpcap no
  // later than the sentinel itself, so once the count includes the sentinel
  // and stops moving, the file is complete.
  const auto before = last_reported_count();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(sentinel_port_);
  const char sentinel[] = "isens-capture-sentinel";
  ::sendto(sentinel_fd_, sentinel, sizeof sentinel, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);

  const auto deadline = steady::now() + std::chrono::seconds{5};
  auto count = last_reported_count();
  while (count <= before && steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
    count = last_reported_count();
  }
  auto stable_since = steady::now();
  while (steady::now() - stable_since < std::chrono::milliseconds{300} && steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    const auto now_count = last_reported_count();
    if (now_count != count) {
      count = now_count;
      stable_since = steady::now();
    }
  }

  process_->signal(SIGINT);
  if (!process_->wait_for(std::chrono::seconds{5})) {
    process_->kill_and_reap();
    throw std::runtime_error("dumpcap ignored SIGINT for 5 s and was killed; the capture may be truncated");
  }
}

std::vector<tcp_fin> packet_capture::fins_from(unsigned short source_port) {
  stop();
  const std::vector<std::string> argv{"tshark", "-n", "-r", file().string(), "-Y",
                                      "tcp.flags.fin == 1 && tcp.srcport == " + std::to_string(source_port),
                                      "-T", "fields", "-e", "frame.time_epoch", "-e", "tcp.dstport"};
  std::vector<tcp_fin> fins;
  std::istringstream lines(tshark_checked(argv));
  for (std::string line; std::getline(lines, line);) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    // "1700000000.123456789": whole seconds, then nanoseconds.
    const auto dot = line.find('.');
    if (dot == std::string::npos || dot > tab) continue;
    const auto seconds = std::chrono::seconds(std::stoll(line.substr(0, dot)));
    auto fraction = line.substr(dot + 1, tab - dot - 1);
    fraction.resize(9, '0');
    const auto nanoseconds = std::chrono::nanoseconds(std::stoll(fraction));
    fins.push_back({std::chrono::system_clock::time_point(
                        std::chrono::duration_cast<std::chrono::system_clock::duration>(seconds + nanoseconds)),
                    static_cast<unsigned short>(std::stoul(line.substr(tab + 1)))});
  }
  return fins;
}

capture_analysis packet_capture::analyse(unsigned short iscsi_port, const std::vector<std::string>& tshark_options) {
  stop();
  capture_analysis result;

  // One pass for the per-frame facts, all TCP frames: iSCSI opcodes and expert severities.
  auto fields = tshark_read(file(), iscsi_port, tshark_options);
  fields.insert(fields.end(), {"-Y", "tcp", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-e",
                               "frame.number", "-e", "iscsi.opcode", "-e", "_ws.expert.severity"});
  std::istringstream lines(tshark_checked(fields));
  std::string line;
  while (std::getline(lines, line)) {
    const auto columns = [&] {
      std::vector<std::string> c;
      std::istringstream in(line);
      std::string column;
      while (std::getline(in, column, '\t')) {
        c.push_back(column);
      }
      c.resize(3);
      return c;
    }();
    if (columns[0].empty()) {
      continue;
    }
    ++result.tcp_frames;
    for (const auto& opcode : split(columns[1], ',')) {
      ++result.iscsi_pdus;
      ++result.opcodes[opcode];
    }
    for (const auto& severity : split(columns[2], ',')) {
      result.expert_errors += severity == severity_error ? 1 : 0;
      result.expert_warnings += severity == severity_warning ? 1 : 0;
    }
  }

  // Malformed frames are counted on their own: any protocol, sentinel included.
  auto malformed = tshark_read(file(), iscsi_port, tshark_options);
  malformed.insert(malformed.end(), {"-Y", "_ws.malformed", "-T", "fields", "-e", "frame.number"});
  result.malformed = split(tshark_checked(malformed), '\n').size();

  if (result.malformed + result.expert_errors + result.expert_warnings > 0) {
    auto expert = tshark_read(file(), iscsi_port, tshark_options);
    expert.insert(expert.end(), {"-q", "-z", "expert"});
    result.expert_report = tshark_checked(expert);
  }
  return result;
}

void packet_capture::copy_to(const std::filesystem::path& destination) {
  stop();
  fs::copy_file(file(), destination, fs::copy_options::overwrite_existing);
}

}  // namespace isens::test
