#pragma once
// An NBD server over a real tgtd for the tests: a target with in-memory
// LUNs, an initiator (with the failover subscriber, as in isensd) and the
// nbd server on one private io_context thread, and a temp dir for the Unix
// socket and the clients' files.

#include "eventually.hpp"
#include "facade_calls.hpp"
#include "initiator_harness.hpp"
#include "subprocess.hpp"
#include "tgtd_target.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/initiator/initiator.hpp>
#include <isens/nbd/server.hpp>
#include <isens/subscribers/failover_subscriber.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

namespace isens::test {

inline constexpr std::string_view nbd_iqn = "iqn.2026-11.test.isens:nbd";
inline constexpr std::uint64_t nbd_lun1_bytes = 64ULL << 20;
inline constexpr std::uint64_t nbd_lun2_bytes = 16ULL << 20;

// How long the NBD suites wait for a condition (eventually()): exports and
// recoveries follow events that are slow under sanitizers on two busy cores.
inline constexpr std::chrono::milliseconds nbd_wait = std::chrono::seconds(20);

struct nbd_rig_options {
  bool failover = false;                        // recover dropped sessions, hold I/O meanwhile
  std::chrono::milliseconds give_up_after{20000};
  std::string tcp_listen;                       // also serve on TCP ("127.0.0.1:0")
  std::size_t targets = 1;                      // targets (tid 1..n, iqn nbd_iqn + "-<tid>" beyond the first)
  bool thin = false;                            // LUNs with tgt's thin_provisioning=1 (UNMAP punches holes)
};

class nbd_rig {
 public:
  explicit nbd_rig(nbd_rig_options o = {})
      : options_(o),
        dir_(make_dir()),
        target_(std::make_unique<tgtd_target>()),
        work_(io_.get_executor()),
        recorder_(std::make_shared<event_recorder>()),
        recording_(bus_.subscribe(recorder_)),
        initiator_(io_.get_executor(), bus_, initiator_settings(o)),
        server_(io_.get_executor(), initiator_, bus_, server_settings(o)),
        thread_([this] { io_.run(); }) {
    for (std::size_t t = 1; t <= o.targets; ++t) {
      const int tid = static_cast<int>(t);
      target_->add_target(iqn(tid), tid);
      for (const auto& [lun, bytes] : {std::pair{1, nbd_lun1_bytes}, std::pair{2, nbd_lun2_bytes}}) {
        lun_files_[{tid, lun}] = target_->add_lun(tid, lun, bytes, {.in_memory = true});
        if (o.thin) target_->set_lun_params(tid, lun, "thin_provisioning=1");
      }
      target_->bind_all_initiators(tid);
    }
    if (o.failover) {
      subscribers::failover_policy p;
      p.recover_all_sessions = true;
      p.first_retry_delay = std::chrono::milliseconds(20);
      p.max_retry_delay = std::chrono::milliseconds(200);
      p.give_up_after = o.give_up_after;
      failover_ = std::make_shared<subscribers::failover_subscriber>(initiator_, io_.get_executor(), p);
      failing_over_ = bus_.subscribe(failover_);
    }
    on_io([this] { server_.start(); });
  }

  ~nbd_rig() {
    failing_over_.unsubscribe();
    failover_.reset();
    on_io([this] { server_.stop(); });
    run_on(io_, initiator_.shutdown(), std::chrono::seconds(30));
    work_.reset();
    io_.stop();
    thread_.join();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  static std::string iqn(int tid) {
    return tid == 1 ? std::string(nbd_iqn) : std::string(nbd_iqn) + "-" + std::to_string(tid);
  }

  // Logs in to target `tid` and waits until its exports are served.
  std::uint64_t login(int tid = 1) {
    initiator::login_options o;
    o.target_portal = {"127.0.0.1", target_->port()};
    o.target_name = iqn(tid);
    auto id = run_on(io_, initiator_.login_to_target(o), std::chrono::seconds(30));
    if (!id) throw std::runtime_error("login failed: " + id.error().what());
    const auto sid = *id;
    if (!eventually([&] { return exports_of(sid) == 2; }, nbd_wait))
      throw std::runtime_error("the exports of session " + std::to_string(sid) + " did not appear");
    return sid;
  }

  void logout(std::uint64_t sid) {
    auto r = run_on(io_, initiator_.logout_from_target(sid), std::chrono::seconds(30));
    if (!r) throw std::runtime_error("logout failed: " + r.error().what());
  }

  std::size_t exports_of(std::uint64_t sid) const {
    std::size_t n = 0;
    for (const auto& e : server_.exports()) n += e.session_id == sid;
    return n;
  }

  std::optional<nbd::export_info> find_export(const std::string& name) const {
    for (const auto& e : server_.exports())
      if (e.name == name || e.alias == name) return e;
    return std::nullopt;
  }

  // nbd+unix:// URI of an export.
  std::string uri(const std::string& export_name) const { return server_.uri(export_name); }
  std::string uri(int tid, int lun) const { return uri(iqn(tid) + "/" + std::to_string(lun)); }
  std::string socket_path() const { return (dir_ / "nbd.sock").string(); }

  const std::filesystem::path& dir() const { return dir_; }
  tgtd_target& target() { return *target_; }
  // The backing file of a LUN (a sparse file on /dev/shm).
  const std::filesystem::path& lun_file(int tid, int lun) const { return lun_files_.at({tid, lun}); }
  nbd::server& server() { return server_; }
  event_recorder& recorder() { return *recorder_; }
  initiator::initiator& ini() { return initiator_; }
  boost::asio::io_context& io() { return io_; }

  // A file of `bytes` random bytes in the rig's dir.
  std::filesystem::path random_file(const std::string& name, std::size_t bytes, std::uint32_t seed = 1) const {
    const auto path = dir_ / name;
    std::mt19937_64 gen(seed);
    std::string data(bytes, '\0');
    for (std::size_t i = 0; i + 8 <= bytes; i += 8) {
      const auto v = gen();
      std::memcpy(&data[i], &v, 8);
    }
    std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
    return path;
  }

  // Runs `f` on the io thread and waits for it.
  template <class F>
  void on_io(F f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      try {
        f();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
    done.get_future().get();
  }

 private:
  static std::filesystem::path make_dir() {
    auto base = std::filesystem::temp_directory_path() / "isens-nbd-XXXXXX";
    std::string pattern = base.string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return pattern;
  }

  static initiator::initiator_options initiator_settings(const nbd_rig_options& o) {
    auto i = initiator_harness::quick_options();
    i.single_threaded = true;
    if (o.failover) i.recovery_hold = o.give_up_after;
    return i;
  }

  nbd::server_options server_settings(const nbd_rig_options& o) const {
    nbd::server_options s;
    s.unix_socket = dir_ / "nbd.sock";
    s.tcp_listen = o.tcp_listen;
    s.handshake_timeout = std::chrono::milliseconds(2000);
    return s;
  }

  nbd_rig_options options_;
  std::filesystem::path dir_;
  std::map<std::pair<int, int>, std::filesystem::path> lun_files_;
  std::unique_ptr<tgtd_target> target_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  events::event_bus bus_{1};
  std::shared_ptr<event_recorder> recorder_;
  events::subscription recording_;
  initiator::initiator initiator_;
  nbd::server server_;
  std::shared_ptr<subscribers::failover_subscriber> failover_;
  events::subscription failing_over_;
  std::thread thread_;
};

// sha256 of a file, through sha256sum (coreutils).
inline std::string sha256_of(const std::filesystem::path& file) {
  const auto out = run_checked({"sha256sum", file.string()});
  return out.substr(0, out.find(' '));
}

}  // namespace isens::test
