// nbd_bench: isensd's NBD export (isens::nbd over an isens session) beside
// `qemu-nbd -f raw iscsi://…` (QEMU's libiscsi driver), both on the same
// tgtd LUN backed by /dev/shm, and `nbdkit file` on that LUN's backing file
// as the ceiling without iSCSI. fio's nbd engine is the client on every
// side, the sides taking turns per round. Then iscsi-perf's raw 4 KiB QD16
// read on the same LUN (what the NBD layer costs, with every process's CPU
// per I/O to show what bounds it), and a failover run per
// iSCSI side: fio writes at QD16 while the target drops that side's
// connection N times; client errors and how long requests waited after
// each drop are compared.
//
//   nbd_bench [--rounds N] [--run-ms N] [--drops N] [--lun-mib N] [--quick]
//
// Prints a table, then as its last line one JSON object. Exits 1 when a
// measurement failed, 2 on a bad argument.

#include "../common/command_line.hpp"
#include "../common/iscsi_perf_anchor.hpp"
#include "../common/proc_stats.hpp"
#include "../common/run_and_report.hpp"
#include "fio_client.hpp"
#include "subprocess.hpp"
#include "tgtd_target.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/initiator/initiator.hpp>
#include <isens/nbd/server.hpp>
#include <isens/subscribers/failover_subscriber.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <cstdio>
#include <future>
#include <map>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace bench = isens::bench;
namespace test = isens::test;
using namespace std::chrono_literals;

struct bench_options {
  std::size_t rounds = 3;      // rounds per row (each side once per round)
  std::size_t run_ms = 3000;   // per fio run
  std::size_t drops = 20;      // target-side drops per iSCSI side
  std::size_t lun_mib = 256;   // LUN size
  bool warm_up = true;         // one fio run per side before the rows
};

bench_options parse_options(int argc, char** argv) {
  bench::command_line<bench_options> cli("nbd_bench", "isens NBD export vs qemu-nbd over iscsi:// vs nbdkit file",
                                         {.rounds = 1, .run_ms = 300, .drops = 1, .lun_mib = 64, .warm_up = false},
                                         "1 round of 300 ms per row, 1 drop per side, a 64 MiB LUN, no warm-up");
  cli.count("--rounds", &bench_options::rounds, "Rounds per row");
  cli.count("--run-ms", &bench_options::run_ms, "Milliseconds per fio run");
  cli.count("--drops", &bench_options::drops, "Target-side connection drops per iSCSI side");
  cli.count("--lun-mib", &bench_options::lun_mib, "LUN size in MiB");
  return cli.parse_or_exit(argc, argv);
}

constexpr const char* iqn = "iqn.2026-12.test.isens:nbd-bench";
constexpr const char* isens_initiator = "iqn.2026-12.org.isens:nbd-bench";
constexpr const char* qemu_initiator_prefix = "iqn.2008-11.org.linux-kvm";  // libiscsi's default in QEMU

// isens: an initiator with failover and the NBD server on one io thread, as in isensd.
class isens_side {
 public:
  explicit isens_side(const std::filesystem::path& socket)
      : work_(io_.get_executor()),
        initiator_(io_.get_executor(), bus_, initiator_settings()),
        server_(io_.get_executor(), initiator_, bus_, server_settings(socket)),
        failover_(std::make_shared<isens::subscribers::failover_subscriber>(initiator_, io_.get_executor(), policy())),
        failing_over_(bus_.subscribe(failover_)),
        thread_([this] { io_.run(); }) {
    on_io([this] { server_.start(); });
  }
  ~isens_side() {
    failing_over_.unsubscribe();
    on_io([this] { server_.stop(); });
    asio::co_spawn(io_, initiator_.shutdown(), asio::use_future).wait_for(10s);
    work_.reset();
    io_.stop();
    thread_.join();
  }
  void login(unsigned short port) {
    isens::initiator::login_options o;
    o.target_portal = {"127.0.0.1", port};
    o.target_name = iqn;
    auto id = asio::co_spawn(io_, initiator_.login_to_target(o), asio::use_future).get();
    if (!id) throw std::runtime_error("isens login: " + id.error().what());
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (server_.exports().empty()) {
      if (std::chrono::steady_clock::now() > until) throw std::runtime_error("the isens export did not appear");
      std::this_thread::sleep_for(5ms);
    }
    uri_ = server_.uri(server_.exports()[0].name);
  }
  const std::string& uri() const { return uri_; }

 private:
  static isens::initiator::initiator_options initiator_settings() {
    isens::initiator::initiator_options o;
    o.initiator_name = isens_initiator;
    o.single_threaded = true;
    o.recovery_hold = 30s;
    return o;
  }
  static isens::nbd::server_options server_settings(const std::filesystem::path& socket) {
    isens::nbd::server_options o;
    o.unix_socket = socket;
    return o;
  }
  static isens::subscribers::failover_policy policy() {
    isens::subscribers::failover_policy p;  // isensd's defaults, for every session
    p.recover_all_sessions = true;
    return p;
  }
  template <class F>
  void on_io(F f) {
    std::promise<void> done;
    asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().get();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  isens::events::event_bus bus_{1};
  isens::initiator::initiator initiator_;
  isens::nbd::server server_;
  std::shared_ptr<isens::subscribers::failover_subscriber> failover_;
  isens::events::subscription failing_over_;
  std::thread thread_;
  std::string uri_;
};

// Writes a pattern over the whole backing file (tgtd reads it with pread).
void fill(const std::filesystem::path& file, std::uint64_t bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::in | std::ios::out);
  std::vector<char> chunk(1 << 20);
  for (std::uint64_t at = 0; at < bytes; at += chunk.size()) {
    for (std::size_t i = 0; i < chunk.size(); i += 8) std::memcpy(&chunk[i], &at, sizeof at);
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  }
  if (!out) throw std::runtime_error("cannot fill " + file.string());
}

// Waits until an NBD server answers on `uri`.
void wait_for_server(const std::string& uri, test::child_process& server) {
  const auto until = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    test::run_options o;
    o.timeout = 10s;
    o.separate_stderr = true;
    if (test::run({"nbdinfo", "--size", uri}, o).exit_code == 0) return;
    if (!server.running() || std::chrono::steady_clock::now() > until)
      throw std::runtime_error("no NBD server answers on " + uri);
    std::this_thread::sleep_for(20ms);
  }
}

// Where one side's CPU went over a row: the client (fio), the NBD server
// and tgtd, so that what bounds a row on two vCPUs can be read off.
struct cpu_account {
  double client_s = 0, server_s = 0, tgtd_s = 0;
  std::uint64_t ios = 0;
  double per_io_us(double s) const { return ios ? s * 1e6 / static_cast<double>(ios) : 0; }
  nlohmann::json json() const {
    return {{"client", per_io_us(client_s)}, {"server", per_io_us(server_s)}, {"tgtd", per_io_us(tgtd_s)},
            {"total", per_io_us(client_s + server_s + tgtd_s)}};
  }
};

// An NBD server's CPU time so far: isens serves from this process.
double server_cpu_s(pid_t pid) {
  return static_cast<double>(pid == 0 ? bench::process_cpu_ns() : bench::read_threads_cpu(pid).all_ns) / 1e9;
}

struct row {
  std::string key;  // JSON key stem
  std::string rw;
  std::uint32_t block;
  bool iops;  // the figure compared: IOPS or MB/s
};

const std::vector<row> rows{{"read_4k_qd16", "randread", 4096, true},
                            {"write_4k_qd16", "randwrite", 4096, true},
                            {"read_128k_qd16", "read", 128 << 10, false},
                            {"write_128k_qd16", "write", 128 << 10, false}};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double p99(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(static_cast<double>(v.size()) * 0.99))];
}

// The target's connection of one initiator, or none.
std::optional<test::tgt_connection> connection_of(const test::tgtd_target& target, const std::string& prefix) {
  for (const auto& c : target.connections(1))
    if (c.initiator.rfind(prefix, 0) == 0) return c;
  return std::nullopt;
}

struct failover_result {
  std::uint64_t client_errors = 0;
  std::vector<double> stalls_ms;
  std::size_t drops = 0;
  std::string error;
};

// How long after the bench saw a recovery a request held by that drop may
// still complete: the held requests complete as the session comes back, the
// bench sees the new connection a few ms later (tgtadm polls), and the next
// drop comes 300 ms after that.
constexpr std::int64_t stall_margin_ms = 100;

// fio writes on `uri` while the target drops the connection of
// `initiator_prefix` `drops` times, each after the previous one recovered.
failover_result run_failover(test::tgtd_target& target, const std::string& uri, const std::string& initiator_prefix,
                             std::size_t drops, const std::filesystem::path& dir, std::uint64_t size) {
  failover_result out;
  const auto report = dir / "failover.json";
  auto argv = bench::fio_command(uri, "randwrite", 4096, 16, size, 3600 * 1000, report);
  argv.insert(argv.end(), {"--continue_on_error=all", "--write_lat_log=" + (dir / "failover").string(),
                           "--log_avg_msec=0", "--log_unix_epoch=1"});
  test::child_process fio(argv, dir / "failover.log");
  std::this_thread::sleep_for(500ms);  // fio connects and settles
  const auto epoch_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  std::vector<bench::drop_window> windows;
  for (std::size_t i = 0; i < drops; ++i) {
    const auto before = connection_of(target, initiator_prefix);
    if (!before) {
      out.error = "no connection of " + initiator_prefix + " to drop";
      break;
    }
    const auto dropped_ms = epoch_ms();
    target.delete_connection(1, before->sid, before->cid);
    const auto until = std::chrono::steady_clock::now() + 60s;
    for (;;) {  // recovered: a new connection of that initiator
      const auto now = connection_of(target, initiator_prefix);
      if (now && (now->sid != before->sid || now->cid != before->cid)) break;
      if (std::chrono::steady_clock::now() > until) {
        out.error = initiator_prefix + " did not reconnect within 60 s";
        break;
      }
      std::this_thread::sleep_for(2ms);
    }
    if (!out.error.empty()) break;
    windows.push_back({dropped_ms, epoch_ms()});
    ++out.drops;
    std::this_thread::sleep_for(300ms);  // I/O flows again before the next drop
  }
  std::this_thread::sleep_for(500ms);
  fio.signal(SIGTERM);  // fio writes its report and logs on SIGTERM
  fio.wait_for(30s);
  const auto result = bench::fio_outcome(bench::read_fio_report(report), false);
  out.client_errors = result.errors;
  out.stalls_ms = bench::stalls_after(bench::read_clat_log(dir / "failover_clat.1.log"), windows, stall_margin_ms);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse_options(argc, argv);
  return bench::run_and_report("nbd_bench", [&](nlohmann::json& report) {
    const std::uint64_t lun_bytes = static_cast<std::uint64_t>(options.lun_mib) << 20;
    test::tgtd_target target;
    target.add_target(iqn, 1);
    const auto backing = target.add_lun(1, 1, lun_bytes, {.in_memory = true});
    fill(backing, lun_bytes);  // no holes: every side reads real pages
    target.bind_all_initiators(1);
    const auto dir = target.dir();

    isens_side isens(dir / "isens.sock");
    isens.login(target.port());
    test::child_process qemu({"qemu-nbd", "-t", "-f", "raw", "--shared=8", "-x", "lun1", "-k",
                              (dir / "qemu.sock").string(), target.url(iqn, 1)},
                             dir / "qemu-nbd.log");
    const std::string qemu_uri = "nbd+unix:///lun1?socket=" + (dir / "qemu.sock").string();
    test::child_process nbdkit({"nbdkit", "-f", "-U", (dir / "nbdkit.sock").string(), "file", backing.string()},
                               dir / "nbdkit.log");
    const std::string nbdkit_uri = "nbd+unix:///?socket=" + (dir / "nbdkit.sock").string();
    wait_for_server(qemu_uri, qemu);
    wait_for_server(nbdkit_uri, nbdkit);

    struct side {
      std::string name, uri;
      pid_t server;  // 0: this process
    };
    const std::vector<side> sides{{"isens", isens.uri(), 0}, {"qemu-nbd", qemu_uri, qemu.pid()},
                                  {"nbdkit", nbdkit_uri, nbdkit.pid()}};
    if (options.warm_up)
      for (const auto& s : sides) bench::run_fio(s.uri, "randread", 4096, 16, lun_bytes, 1000, dir);
    std::printf("%-18s %14s %14s %14s %10s %10s\n", "row (fio nbd, QD16)", "isens", "qemu-nbd", "nbdkit file",
                "isens/qemu", "isens/kit");
    bool ok = true;
    nlohmann::json cpu_report;
    for (const auto& r : rows) {
      std::map<std::string, std::vector<double>> figures;
      std::map<std::string, cpu_account> cpu;
      for (std::size_t round = 0; round < options.rounds; ++round) {
        for (std::size_t k = 0; k < sides.size(); ++k) {
          const auto& s = sides[round % 2 ? sides.size() - 1 - k : k];  // A/B, then B/A
          const auto server0 = server_cpu_s(s.server);
          const auto tgtd0 = bench::read_threads_cpu(target.pid()).all_ns;
          const auto f = bench::run_fio(s.uri, r.rw, r.block, 16, lun_bytes, options.run_ms, dir);
          auto& c = cpu[s.name];
          c.server_s += server_cpu_s(s.server) - server0;
          c.tgtd_s += static_cast<double>(bench::read_threads_cpu(target.pid()).all_ns - tgtd0) / 1e9;
          c.client_s += f.cpu_s;
          c.ios += f.ios;
          if (f.errors) ok = false;
          figures[s.name].push_back(r.iops ? f.iops : f.mbps);
        }
      }
      for (const auto& [name, c] : cpu) cpu_report[r.key][name] = c.json();
      const double a = median(figures["isens"]), q = median(figures["qemu-nbd"]), n = median(figures["nbdkit"]);
      const auto unit = r.iops ? "_iops" : "_mbps";
      std::printf("%-18s %13.0f%s %13.0f%s %13.0f%s %10.2f %10.2f\n", r.key.c_str(), a, r.iops ? " " : "M", q,
                  r.iops ? " " : "M", n, r.iops ? " " : "M", q > 0 ? a / q : 0, n > 0 ? a / n : 0);
      report[r.key + unit] = a;
      report["qemu_nbd_" + r.key + unit] = q;
      report["nbdkit_" + r.key + unit] = n;
      report[r.key + unit + "_ratio"] = q > 0 ? a / q : 0;
    }

    std::printf("CPU µs per I/O (client fio + NBD server + tgtd):\n");
    for (const auto& [row, by_side] : cpu_report.items())
      for (const auto& [name, c] : by_side.items())
        std::printf("  %-16s %-9s %6.1f + %6.1f + %6.1f = %6.1f\n", row.c_str(), name.c_str(),
                    c["client"].get<double>(), c["server"].get<double>(), c["tgtd"].get<double>(),
                    c["total"].get<double>());
    report["cpu_us_per_io"] = cpu_report;

    // What the NBD layer costs: iscsi-perf's raw 4 KiB QD16 random read, same
    // LUN. On two vCPUs both are CPU-bound, so the ratio of their CPU per I/O
    // (every process counted) is the most the export can reach against it.
    const auto perf_seconds = std::max<std::size_t>(1, options.run_ms / 1000);  // iscsi-perf counts whole seconds
    const auto raw = bench::run_iscsi_perf("read_4k_qd16", "iqn.2026-12.org.isens:nbd-bench-perf", target.url(iqn, 1),
                                           16, 8, 512, true, perf_seconds, target.pid());
    if (raw.iops <= 0) ok = false;
    const double export_iops = report["read_4k_qd16_iops"].get<double>();
    const double export_cpu = cpu_report["read_4k_qd16"]["isens"]["total"].get<double>();
    const double raw_cpu = raw.cpu_us_per_io + raw.tgtd_cpu_us_per_io;
    const double ceiling = export_cpu > 0 ? raw_cpu / export_cpu : 0;
    // The same bound for an NBD layer that cost nothing on an initiator as
    // lean as iscsi-perf: the export still pays for fio beside both.
    const auto& export_parts = cpu_report["read_4k_qd16"]["isens"];
    const double free_nbd_cpu =
        export_parts["client"].get<double>() + raw.cpu_us_per_io + export_parts["tgtd"].get<double>();
    const double free_nbd_ceiling = free_nbd_cpu > 0 ? raw_cpu / free_nbd_cpu : 0;
    std::printf("iscsi-perf raw 4 KiB QD16 random read: %.0f IOPS, CPU µs per I/O %.1f + tgtd %.1f = %.1f%s%s\n",
                raw.iops, raw.cpu_us_per_io, raw.tgtd_cpu_us_per_io, raw_cpu, raw.error.empty() ? "" : ": ",
                raw.error.c_str());
    std::printf("vCPUs busy: export %.2f, raw %.2f\n", export_iops * export_cpu / 1e6, raw.iops * raw_cpu / 1e6);
    std::printf("isens export / raw = %.2f; the CPU-bound ceiling of that ratio (raw CPU per I/O / export's) = %.2f, "
                "and %.2f for an NBD layer that cost nothing on an initiator as lean as iscsi-perf\n",
                raw.iops > 0 ? export_iops / raw.iops : 0, ceiling, free_nbd_ceiling);
    report["iscsi_perf_read_4k_qd16_iops"] = raw.iops;
    report["iscsi_perf_read_4k_qd16_cpu_us_per_io"] = {{"initiator", raw.cpu_us_per_io},
                                                       {"tgtd", raw.tgtd_cpu_us_per_io}};
    report["read_4k_qd16_vs_raw_ratio"] = raw.iops > 0 ? export_iops / raw.iops : 0;
    report["read_4k_qd16_vs_raw_cpu_ceiling"] = ceiling;
    report["read_4k_qd16_vs_raw_free_nbd_ceiling"] = free_nbd_ceiling;
    report["read_4k_qd16_vcpus_busy"] = {{"export", export_iops * export_cpu / 1e6}, {"raw", raw.iops * raw_cpu / 1e6}};

    // Failover, both iSCSI sides driven the same way.
    const auto mine = run_failover(target, isens.uri(), isens_initiator, options.drops, dir, lun_bytes);
    const auto theirs = run_failover(target, qemu_uri, qemu_initiator_prefix, options.drops, dir, lun_bytes);
    for (const auto& [name, f] : {std::pair{"isens", &mine}, {"qemu-nbd", &theirs}}) {
      std::printf("failover %-9s %zu drops: %lu client errors, longest wait after a drop p50 %.2f ms, p99 %.2f ms%s%s\n",
                  name, f->drops, static_cast<unsigned long>(f->client_errors), median(f->stalls_ms), p99(f->stalls_ms),
                  f->error.empty() ? "" : ": ", f->error.c_str());
    }
    if (!mine.error.empty() || mine.drops != options.drops) ok = false;
    report["failover_drops"] = mine.drops;
    report["failover_client_errors"] = mine.client_errors;
    report["failover_stall_ms_p99"] = p99(mine.stalls_ms);
    report["failover_stall_ms_p50"] = median(mine.stalls_ms);
    report["failover_stall_ms_all"] = mine.stalls_ms;
    report["qemu_nbd_failover_drops"] = theirs.drops;
    report["qemu_nbd_failover_client_errors"] = theirs.client_errors;
    report["qemu_nbd_failover_stall_ms_p99"] = p99(theirs.stalls_ms);
    report["qemu_nbd_failover_stall_ms_p50"] = median(theirs.stalls_ms);
    report["qemu_nbd_failover_stall_ms_all"] = theirs.stalls_ms;
    if (!theirs.error.empty()) report["qemu_nbd_failover_error"] = theirs.error;
    report["ok"] = ok;
  });
}
