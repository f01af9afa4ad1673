#include "tgtd_target.hpp"

#include "free_port.hpp"
#include "subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace isens::test {
namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

/// tgtd rejects larger -C values as "out of range"; low ones are left to
/// hand-run daemons (0 is the system default).
constexpr int min_control_port = 1024;
constexpr int max_control_port = 32767;

fs::path control_socket(int control_port) {
  return fs::path("/var/run/tgtd") / ("socket." + std::to_string(control_port));
}

fs::path control_lock(int control_port) {
  return fs::path("/var/run/tgtd") / ("socket." + std::to_string(control_port) + ".lock");
}

/// True if some live tgtd holds the control port's lock (tgtd takes it with lockf).
bool control_port_in_use(int control_port) {
  const int fd = ::open(control_lock(control_port).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return false;  // never used, or cleaned up
  }
  const bool locked = ::lockf(fd, F_TEST, 1) != 0;
  ::close(fd);
  return locked;
}

/// Removes tgtd's leftover socket and lock file, but only while nobody holds
/// the lock, so a tgtd that took the same number meanwhile keeps its files.
void remove_control_files(int control_port) {
  const auto lock = control_lock(control_port);
  const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  if (::lockf(fd, F_TLOCK, 1) == 0) {
    std::error_code ignored;
    fs::remove(control_socket(control_port), ignored);
    fs::remove(lock, ignored);
  }
  ::close(fd);
}

int random_control_port() {
  // Seeded per call from the pid and the OS entropy source: parallel test
  // processes (same binary, same start time) must not pick the same numbers.
  static std::mt19937 rng(std::random_device{}() ^ (static_cast<unsigned>(::getpid()) * 2654435761U));
  std::uniform_int_distribution<int> pick(min_control_port, max_control_port);
  for (int i = 0; i < 100; ++i) {
    const int candidate = pick(rng);
    if (!control_port_in_use(candidate)) {
      return candidate;
    }
  }
  throw std::runtime_error("no free tgtd control port found in 100 tries");
}

/// The socket inode of a listener on 127.0.0.1:port, from /proc/net/tcp, or 0.
unsigned long loopback_listener_inode(unsigned short port) {
  std::ifstream tcp("/proc/net/tcp");
  char local[32];
  std::snprintf(local, sizeof local, "0100007F:%04X", port);
  std::string line;
  std::getline(tcp, line);  // header
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local_address, remote_address, state, queues, timer, retransmits, uid, timeout;
    unsigned long inode = 0;
    fields >> slot >> local_address >> remote_address >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    if (local_address == local && state == "0A") {
      return inode;
    }
  }
  return 0;
}

/// True if pid itself (not some other process) listens on 127.0.0.1:port.
bool pid_listens_on(pid_t pid, unsigned short port) {
  const auto inode = loopback_listener_inode(port);
  if (inode == 0) {
    return false;
  }
  const std::string wanted = "socket:[" + std::to_string(inode) + "]";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path("/proc") / std::to_string(pid) / "fd", ec)) {
    std::error_code link_ec;
    if (fs::read_symlink(entry.path(), link_ec).string() == wanted) {
      return true;
    }
  }
  return false;
}

bool log_contains(const fs::path& log, std::streamoff from, std::string_view needle) {
  std::ifstream in(log, std::ios::binary);
  in.seekg(from);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.find(needle) != std::string::npos;
}

std::streamoff file_size_or_zero(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  return ec ? 0 : static_cast<std::streamoff>(size);
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = s.find_last_not_of(" \t\r");
  return std::string(s.substr(first, last - first + 1));
}

}  // namespace

tgtd_target::tgtd_target(tgtd_options options) : options_(options) {
  std::string pattern = (fs::temp_directory_path() / "isens-tgtd-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  dir_ = pattern;
  try {
    start_fresh_ports();
  } catch (...) {
    stop_process();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw;
  }
}

tgtd_target::~tgtd_target() {
  try {
    stop_process();
  } catch (...) {
    // A destructor must not throw; the process is gone or PDEATHSIG ends it.
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
  if (!shm_dir_.empty()) {
    fs::remove_all(shm_dir_, ignored);
  }
}

void tgtd_target::start_fresh_ports() {
  std::string failures;
  for (int attempt = 1; attempt <= options_.start_attempts; ++attempt) {
    const auto port = free_loopback_port();
    const auto control = random_control_port();
    std::string failure;
    if (start_on(port, control, failure)) {
      port_ = port;
      control_port_ = control;
      return;
    }
    failures += "attempt " + std::to_string(attempt) + ": " + failure + "\n";
  }
  throw std::runtime_error("tgtd did not start after " + std::to_string(options_.start_attempts) +
                           " attempts:\n" + failures + "log " + log_file().string() + " ends with:\n" +
                           file_tail(log_file()));
}

// Returns false (with the reason) for a lost port race, which the caller
// retries with other ports; throws for anything else.
bool tgtd_target::start_on(unsigned short port, int control_port, std::string& failure) {
  const auto log = log_file();
  {
    std::ofstream marker(log, std::ios::app);
    marker << "=== isens test support: tgtd -C " << control_port << " portal 127.0.0.1:" << port << " ===\n";
  }
  const auto log_start = file_size_or_zero(log);
  process_ = std::make_unique<child_process>(
      std::vector<std::string>{"tgtd", "-f", "-C", std::to_string(control_port), "--iscsi",
                               "portal=127.0.0.1:" + std::to_string(port)},
      log);
  const auto deadline = steady::now() + options_.start_timeout;
  for (;;) {
    if (!process_->running()) {
      if (log_contains(log, log_start, "another tgtd is using")) {
        failure = "control port " + std::to_string(control_port) + " taken by another tgtd";
        return false;
      }
      throw std::runtime_error("tgtd -C " + std::to_string(control_port) + " exited with code " +
                               std::to_string(*process_->wait_for(std::chrono::milliseconds{0})) +
                               " during start; log " + log.string() + " ends with:\n" + file_tail(log));
    }
    if (log_contains(log, log_start, "failed to create/bind to portal")) {
      // tgtd would carry on with 0.0.0.0:3260 instead; not what we asked for.
      process_->kill_and_reap();
      remove_control_files(control_port);
      failure = "iSCSI port " + std::to_string(port) + " taken meanwhile";
      return false;
    }
    if (pid_listens_on(process_->pid(), port)) {
      const auto answer = run({"tgtadm", "-C", std::to_string(control_port), "--op", "show", "--mode", "sys"},
                              run_options{std::chrono::seconds{5}, {}});
      if (answer.exit_code == 0) {
        return true;
      }
    }
    if (steady::now() >= deadline) {
      process_->kill_and_reap();
      remove_control_files(control_port);
      throw std::runtime_error("tgtd -C " + std::to_string(control_port) + " did not listen on 127.0.0.1:" +
                               std::to_string(port) + " within " + std::to_string(options_.start_timeout.count()) +
                               " ms; log " + log.string() + " ends with:\n" + file_tail(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

void tgtd_target::stop_process() {
  if (process_) {
    process_->kill_and_reap();
    process_.reset();
    remove_control_files(control_port_);
  }
  paused_ = false;
}

std::vector<std::string> tgtd_target::tgtadm_command(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"tgtadm", "-C", std::to_string(control_port_), "--lld", "iscsi"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string tgtd_target::tgtadm(const std::vector<std::string>& args) const {
  const auto argv = tgtadm_command(args);
  if (paused_) {
    throw std::logic_error(format_command(argv) + ": tgtd is paused (SIGSTOP) and would never answer; resume() first");
  }
  return run_checked(argv, run_options{std::chrono::seconds{10}, {}});
}

void tgtd_target::configure(std::vector<std::string> args) {
  tgtadm(args);
  config_.push_back(std::move(args));
}

void tgtd_target::add_target(const std::string& iqn, int tid) {
  configure({"--op", "new", "--mode", "target", "--tid", std::to_string(tid), "--targetname", iqn});
}

fs::path tgtd_target::add_lun(int tid, int lun, std::uint64_t size_bytes) {
  return add_lun(tid, lun, size_bytes, lun_options{});
}

fs::path tgtd_target::add_lun(int tid, int lun, std::uint64_t size_bytes, lun_options options) {
  if (options.in_memory && shm_dir_.empty()) {
    std::string pattern = "/dev/shm/isens-tgtd-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    shm_dir_ = pattern;
  }
  const auto file = (options.in_memory ? shm_dir_ : dir_) /
                    ("tid" + std::to_string(tid) + "-lun" + std::to_string(lun) + ".img");
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error("cannot create backing file " + file.string() + ": " + std::strerror(errno));
  }
  const int rc = ::ftruncate(fd, static_cast<off_t>(size_bytes));
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    throw std::runtime_error("ftruncate " + file.string() + ": " + std::strerror(err));
  }
  configure({"--op", "new", "--mode", "logicalunit", "--tid", std::to_string(tid), "--lun", std::to_string(lun),
             "--backing-store", file.string()});
  return file;
}

void tgtd_target::set_lun_params(int tid, int lun, const std::string& params) {
  configure({"--op", "update", "--mode", "logicalunit", "--tid", std::to_string(tid), "--lun", std::to_string(lun),
             "--params", params});
}

void tgtd_target::delete_lun(int tid, int lun, std::chrono::milliseconds limit) {
  std::vector<std::string> args{"--op", "delete", "--mode", "logicalunit", "--tid", std::to_string(tid), "--lun",
                                std::to_string(lun)};
  const auto argv = tgtadm_command(args);
  if (paused_) {
    throw std::logic_error(format_command(argv) + ": tgtd is paused (SIGSTOP) and would never answer; resume() first");
  }
  const auto deadline = steady::now() + limit;
  for (;;) {
    const auto answer = run(argv, run_options{std::chrono::seconds{10}, {}});
    if (answer.exit_code == 0) {
      config_.push_back(std::move(args));
      return;
    }
    // Busy is the one refusal worth retrying: the next look may find the queue empty.
    if (answer.output.find("still active") == std::string::npos || steady::now() >= deadline) {
      throw std::runtime_error(format_command(argv) + " failed (exit " + std::to_string(answer.exit_code) +
                               "): " + answer.output);
    }
  }
}

void tgtd_target::bind_all_initiators(int tid) {
  configure({"--op", "bind", "--mode", "target", "--tid", std::to_string(tid), "--initiator-address", "ALL"});
}

void tgtd_target::set_max_connections(int tid, int n) {
  set_target_param(tid, "MaxConnections", std::to_string(n));
}

void tgtd_target::set_target_param(int tid, const std::string& name, const std::string& value) {
  configure({"--op", "update", "--mode", "target", "--tid", std::to_string(tid), "--name", name, "--value", value});
}

void tgtd_target::add_account(const std::string& user, const std::string& secret) {
  configure({"--op", "new", "--mode", "account", "--user", user, "--password", secret});
}

void tgtd_target::bind_account(int tid, const std::string& user) {
  configure({"--op", "bind", "--mode", "account", "--tid", std::to_string(tid), "--user", user});
}

void tgtd_target::bind_outgoing_account(int tid, const std::string& user) {
  configure({"--op", "bind", "--mode", "account", "--tid", std::to_string(tid), "--user", user, "--outgoing"});
}

std::vector<tgt_connection> tgtd_target::connections(int tid) const {
  const auto text = tgtadm({"--op", "show", "--mode", "conn", "--tid", std::to_string(tid)});
  std::vector<tgt_connection> result;
  std::uint64_t sid = 0;
  bool have_session = false;
  std::istringstream lines(text);
  std::string raw;
  while (std::getline(lines, raw)) {
    const auto line = trim(raw);
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    const auto key = line.substr(0, colon);
    const auto value = trim(std::string_view(line).substr(colon + 1));
    try {
      if (key == "Session") {
        sid = std::stoull(value);
        have_session = true;
      } else if (key == "Connection") {
        if (!have_session) {
          throw std::runtime_error("Connection before Session");
        }
        tgt_connection c;
        c.sid = sid;
        c.cid = static_cast<std::uint32_t>(std::stoul(value));
        result.push_back(c);
      } else if (key == "Initiator" && !result.empty()) {
        result.back().initiator = value;
      } else if (key == "IP Address" && !result.empty()) {
        result.back().address = value;
      }
    } catch (const std::exception& e) {
      throw std::runtime_error("unexpected `tgtadm --op show --mode conn` output (" + std::string(e.what()) +
                               ") at line '" + raw + "':\n" + text);
    }
  }
  return result;
}

void tgtd_target::delete_connection(int tid, std::uint64_t sid, std::uint32_t cid) {
  tgtadm({"--op", "delete", "--mode", "conn", "--tid", std::to_string(tid), "--sid", std::to_string(sid), "--cid",
          std::to_string(cid)});
}

void tgtd_target::delete_connections(int tid) {
  for (const auto& c : connections(tid)) {
    delete_connection(tid, c.sid, c.cid);
  }
}

std::string tgtd_target::show() const { return tgtadm({"--op", "show", "--mode", "target"}); }

std::string tgtd_target::show_params(int tid) const {
  return tgtadm({"--op", "show", "--mode", "target", "--tid", std::to_string(tid)});
}

std::map<std::string, std::string> tgtd_target::params(int tid) const {
  std::map<std::string, std::string> result;
  std::istringstream lines(show_params(tid));
  std::string line;
  while (std::getline(lines, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) {
      result[trim(std::string_view(line).substr(0, eq))] = trim(std::string_view(line).substr(eq + 1));
    }
  }
  return result;
}

void tgtd_target::kill9() {
  if (!process_) {
    throw std::logic_error("kill9(): tgtd is not running");
  }
  stop_process();
}

void tgtd_target::restart() {
  stop_process();
  std::string failure;
  if (!start_on(port_, control_port_, failure)) {
    throw std::runtime_error("tgtd restart on 127.0.0.1:" + std::to_string(port_) + " -C " +
                             std::to_string(control_port_) + " failed: " + failure + "; log ends with:\n" +
                             file_tail(log_file()));
  }
  for (const auto& args : config_) {
    tgtadm(args);
  }
}

void tgtd_target::pause() {
  if (!process_) {
    throw std::logic_error("pause(): tgtd is not running");
  }
  process_->stop();
  paused_ = true;
}

void tgtd_target::resume() {
  if (!process_) {
    throw std::logic_error("resume(): tgtd is not running");
  }
  process_->signal(SIGCONT);
  paused_ = false;
}

bool tgtd_target::running() const { return process_ && process_->running(); }

std::string tgtd_target::portal() const { return "127.0.0.1:" + std::to_string(port_); }

pid_t tgtd_target::pid() const noexcept { return process_ ? process_->pid() : -1; }

std::string tgtd_target::url(std::string_view iqn, int lun, std::string_view user, std::string_view secret) const {
  std::string credentials;
  if (!user.empty()) {
    credentials = std::string(user) + "%" + std::string(secret) + "@";
  }
  return "iscsi://" + credentials + portal() + "/" + std::string(iqn) + "/" + std::to_string(lun);
}

std::unique_ptr<tgtd_target> make_standard_target(tgtd_options options) {
  auto target = std::make_unique<tgtd_target>(options);
  target->add_target(std::string(standard_iqn), standard_tid);
  target->add_lun(standard_tid, 1, standard_lun1_bytes);
  target->add_lun(standard_tid, 2, standard_lun2_bytes);
  target->bind_all_initiators(standard_tid);
  target->set_max_connections(standard_tid, standard_max_connections);
  return target;
}

}  // namespace isens::test
