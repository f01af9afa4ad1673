// dashboard_bench: what the dashboard's event streams cost the rest of isensd.
// One isensd (the real binary) logged in to a private tgtd; each round logs
// in and out through the control socket and is timed from the login call to
// the logoff event reaching a control-socket watcher (`subscribe`): the
// io_context, the bus and a subscriber's delivery all lie on that path.
// Blocks of rounds alternate between isensd with no event stream open (the
// peer: isensd as it was) and isensd with N browsers' /events streams open
// and reading plus one stream that never reads (isensd closes it once its
// queue fills). Prints both sides and the ratio (with / without).
#include "../common/command_line.hpp"
#include "../common/run_and_report.hpp"
#include "../common/sample_summary.hpp"

#include "daemon_fixture.hpp"
#include "http_test_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

namespace {

using namespace isens;
using namespace isens::test;
using clock_type = std::chrono::steady_clock;

struct bench_options {
  std::size_t rounds = 300;  // per block: enough events (5 a round) to fill the stuck stream's queue
  std::size_t blocks = 2;    // per side, alternating
  std::size_t streams = 100; // /events streams that read
};

bench_options parse(int argc, char** argv) {
  bench::command_line<bench_options> cli(
      "dashboard_bench",
      "dashboard_bench: login-to-logoff-event round time of one isensd with and without open /events streams "
      "(N reading, one never reading). Prints a table, then as its last line one JSON object.",
      {.rounds = 10, .blocks = 2, .streams = 20}, "a few seconds: 2 blocks of 10 rounds per side, 20 streams");
  cli.count("--rounds", &bench_options::rounds, "Rounds per block");
  cli.count("--blocks", &bench_options::blocks, "Blocks per side (the sides alternate)");
  cli.count("--streams", &bench_options::streams, "/events streams that read, besides the one that does not");
  return cli.parse_or_exit(argc, argv);
}

// A raw GET /events socket (the bench only counts bytes, it parses nothing).
int open_stream(unsigned short port, int receive_buffer) {
  const int fd = connect_loopback(port, receive_buffer);
  const std::string request = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
    throw std::runtime_error("cannot send GET /events");
  return fd;
}

// Browsers that read: one thread drains every stream as bytes arrive.
class readers {
 public:
  readers(unsigned short port, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) fds_.push_back(open_stream(port, 0));
    thread_ = std::thread([this] { drain(); });
  }
  ~readers() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) ::close(fd);
  }
  std::uint64_t bytes() const { return bytes_; }

 private:
  void drain() {
    std::vector<pollfd> polls;
    for (int fd : fds_) polls.push_back({fd, POLLIN, 0});
    char chunk[65536];
    while (!stop_) {
      if (::poll(polls.data(), polls.size(), 50) <= 0) continue;
      for (auto& p : polls) {
        if (!(p.revents & POLLIN)) continue;
        const auto n = ::recv(p.fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n > 0) bytes_ += static_cast<std::uint64_t>(n);
        else p.events = 0;  // closed: stop polling it
      }
    }
  }

  std::vector<int> fds_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> bytes_{0};
};

// One round: login, logout, until the watcher has the logoff; in µs.
double round_us(daemon_with_target& env, rpc_test_client& control, rpc_test_client& watcher) {
  const auto start = clock_type::now();
  const auto id = control.call("login_to_target", env.login_params()).at("session_id");
  control.call("logout_from_target", {{"session_id", id}});
  for (;;) {
    const auto e = watcher.next_event();
    if (e.at("kind") == "logoff" && e.at("session_id") == id) break;
  }
  return std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
}

void measure(const bench_options& o, nlohmann::json& report) {
  daemon_with_target env(with_args({"--log-level", "warn"}));
  const auto port = env.daemon.metrics_port();
  rpc_test_client control(env.daemon.socket_path());
  auto watcher = subscribed_client(env.daemon.socket_path());
  for (int i = 0; i < 5; ++i) round_us(env, control, *watcher);  // warm-up

  std::vector<double> without, with;
  std::uint64_t streamed = 0;
  bool stuck_closed = true;
  std::vector<std::size_t> open_after;  // streams open at the end of each block with streams
  for (std::size_t block = 0; block < o.blocks; ++block) {
    for (std::size_t r = 0; r < o.rounds; ++r) without.push_back(round_us(env, control, *watcher));
    {
      readers open(port, o.streams);
      const int stuck = open_stream(port, 2048);
      for (std::size_t r = 0; r < o.rounds; ++r) with.push_back(round_us(env, control, *watcher));
      streamed += open.bytes();
      const auto status = nlohmann::json::parse(http_get(port, "/api/status").body);
      open_after.push_back(status.at("stream_clients").get<std::size_t>());
      stuck_closed = stuck_closed && open_after.back() == o.streams;
      ::close(stuck);
    }
    // The closed streams are gone before the next block without any.
    if (!eventually([&] { return nlohmann::json::parse(http_get(port, "/api/status").body).at("stream_clients") == 0; }))
      throw std::runtime_error("event streams still open after their sockets closed");
  }
  const auto a = bench::summarize(without);
  const auto b = bench::summarize(with);
  std::printf("%-34s %10s %10s %10s\n", "login->logoff event round", "p50 µs", "p90 µs", "p99 µs");
  std::printf("%-34s %10.0f %10.0f %10.0f\n", "no event streams (peer)", a.p50, a.p90, a.p99);
  std::printf("%-34s %10.0f %10.0f %10.0f\n", (std::to_string(o.streams) + " streams + 1 never reading").c_str(),
              b.p50, b.p90, b.p99);
  std::printf("ratio (with / without): p50 %.2f, p99 %.2f; %llu bytes streamed; the stuck stream %s\n", b.p50 / a.p50,
              b.p99 / a.p99, static_cast<unsigned long long>(streamed),
              stuck_closed ? "was closed in every block" : "was NOT always closed (its queue never filled)");
  report = {{"ok", true},
            {"rounds_per_side", without.size()},
            {"streams", o.streams},
            {"without_us_p50", a.p50},
            {"without_us_p99", a.p99},
            {"with_us_p50", b.p50},
            {"with_us_p99", b.p99},
            {"ratio_p50", b.p50 / a.p50},
            {"ratio_p99", b.p99 / a.p99},
            {"bytes_streamed", streamed},
            {"stuck_stream_closed", stuck_closed},
            {"streams_open_after_blocks", open_after}};
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse(argc, argv);
  return bench::run_and_report("dashboard_bench", [&](nlohmann::json& report) { measure(options, report); });
}
