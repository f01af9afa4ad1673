// fleet_bench: events per second from the bus into JetStream through the
// NATS bridge (acknowledged, file storage on /dev/shm), beside the same
// messages (the bridge's subjects, message ids and JSON) published by a naive
// bridge (js_Publish, one at a time, waiting for each ack) and by the client
// library's fastest path (js_PublishAsync with as many in flight as the
// bridge allows itself); publish-to-consumer latency through an ordered
// JetStream consumer; and loss and duplicates through a broker kill -9 and
// restart.
// Prints a table, then as its last line one JSON object.
#include "../common/command_line.hpp"
#include "../common/run_and_report.hpp"
#include "../common/sample_summary.hpp"
#include "cpu_use.hpp"
#include "nats_server.hpp"
#include "stream_reader.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/events/event_json.hpp>
#include <isens/events/journal_subscriber.hpp>
#include <isens/fleet/bridge.hpp>
#include <isens/fleet/nats_connection.hpp>
#include <isens/fleet/nats_error.hpp>
#include <isens/fleet/stream_setup.hpp>
#include <isens/fleet/subjects.hpp>

#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

namespace {

using namespace isens;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct config {
  std::size_t events = 50000;         // through the bridge and the async publisher
  std::size_t naive_events = 3000;    // one ack at a time is slow
  std::size_t latency_events = 2000;  // paced, for latency
  std::size_t latency_rate = 1000;    // events/s while measuring latency
  std::size_t restart_events = 10000; // published around a broker kill -9
  static config quick_run() { return {3000, 300, 300, 1000, 1000}; }
};

// The journal's subscriber that wakes the bridge, as isensd wires it.
class journal_then_bridge final : public events::journal_subscriber {
 public:
  journal_then_bridge(std::shared_ptr<events::event_journal> j, fleet::bridge& b)
      : journal_subscriber(std::move(j)), bridge_(b) {}

 private:
  void journaled(std::vector<events::journal_record>& records) override { bridge_.notify(records); }
  fleet::bridge& bridge_;
};

events::event sample_event(std::uint64_t n) {
  events::event e;
  e.kind = n % 2 ? events::event_kind::session_disconnect : events::event_kind::session_reconnect;
  e.reason = events::event_reason::peer_closed;
  e.session_id = 1 + n % 16;
  e.connection_id = n;
  e.target = "iqn.2026-12.bench:fleet-disk";
  e.portal = "127.0.0.1:3260";
  e.isid = 0x400001370000;
  e.tsih = 7;
  return e;
}

// One event as the bridge puts it on the wire; the raw and naive publishers
// send the same messages, each under a host token (and stream) of its own.
struct wire_message {
  std::string subject;
  std::string msg_id;
  std::string body;
};

std::vector<wire_message> wire_messages(std::string_view host_token, std::size_t n) {
  constexpr std::string_view boot_id = "00000000-0000-4000-8000-00000000b007";  // a bus's is a UUID too
  std::vector<wire_message> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto e = sample_event(i);
    e.seq = i + 1;
    e.boot_id = boot_id;
    e.timestamp = std::chrono::system_clock::now();
    out.push_back({fleet::event_subject(host_token, e.session_id, e.kind),
                   fleet::event_msg_id(host_token, e.boot_id, e.seq), events::to_json_line(e)});
  }
  return out;
}

template <class Predicate>
bool wait_until(Predicate done, std::chrono::seconds bound) {
  const auto deadline = clock_type::now() + bound;
  while (!done()) {
    if (clock_type::now() > deadline) return false;
    std::this_thread::sleep_for(200us);
  }
  return true;
}

double rate(std::size_t n, clock_type::duration took) { return n / std::chrono::duration<double>(took).count(); }

// A publisher's run: its rate, and the CPU it and the broker used meanwhile.
struct run_figures {
  double events_per_s = 0;
  bench::cpu_use used;
  double from_s = 0, to_s = 0;  // CLOCK_MONOTONIC (steady_clock), to match a profile to the run
};

double monotonic_s() { return std::chrono::duration<double>(clock_type::now().time_since_epoch()).count(); }

// Per event: the bench process's and the broker's CPU (microseconds) and
// the process's context switches, under "<row>_...".
void report_cpu(nlohmann::json& report, const std::string& row, const run_figures& r, std::size_t events) {
  report[row + "_process_cpu_us_per_event"] = r.used.process_s * 1e6 / events;
  report[row + "_broker_cpu_us_per_event"] = r.used.broker_s * 1e6 / events;
  report[row + "_context_switches_per_event"] = r.used.context_switches / events;
}

void make_stream(jsCtx* js, const std::string& name, const std::string& subjects) {
  fleet::stream_options s;
  s.name = name;
  s.subjects = {subjects};
  fleet::ensure_stream(js, s);
}

// js_Publish, one at a time: what a naive bridge does.
double naive_rate(const std::string& url, std::size_t n) {
  const auto messages = wire_messages("bench-naive", n);
  auto c = fleet::nats_connection::connect(test::fast_nats_options(url));
  make_stream(c->jetstream(), "BENCH_NAIVE", fleet::host_filter("bench-naive"));
  const auto start = clock_type::now();
  for (const auto& m : messages) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = m.msg_id.c_str();
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    fleet::check_nats(js_Publish(&ack, c->jetstream(), m.subject.c_str(), m.body.data(), static_cast<int>(m.body.size()),
                                 &po, &code),
                      "naive publish", code);
    jsPubAck_Destroy(ack);
  }
  return rate(messages.size(), clock_type::now() - start);
}

// js_PublishAsync with as many in flight as the bridge allows itself: the
// library's fastest.
run_figures async_raw_rate(const std::string& url, pid_t broker, std::size_t n) {
  const auto messages = wire_messages("bench-raw", n);
  fleet::jetstream_settings settings;
  settings.max_pending_async = static_cast<std::int64_t>(fleet::bridge_options{}.max_in_flight);
  auto c = fleet::nats_connection::connect(test::fast_nats_options(url), {}, settings);
  make_stream(c->jetstream(), "BENCH_RAW", fleet::host_filter("bench-raw"));
  const auto cpu_before = bench::cpu_now(broker);
  const auto from = monotonic_s();
  const auto start = clock_type::now();
  for (const auto& m : messages) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = m.msg_id.c_str();
    fleet::check_nats(
        js_PublishAsync(c->jetstream(), m.subject.c_str(), m.body.data(), static_cast<int>(m.body.size()), &po),
        "async publish");
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 60000;
  fleet::check_nats(js_PublishAsyncComplete(c->jetstream(), &po), "async publish complete");
  return {rate(messages.size(), clock_type::now() - start), bench::cpu_now(broker) - cpu_before, from, monotonic_s()};
}

struct latency_probe {
  std::mutex mutex;
  std::vector<double> ms;
  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<latency_probe*>(closure);
    const auto now = std::chrono::system_clock::now();
    try {
      const auto e = events::parse_event_json(std::string_view(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
      std::lock_guard lock(self->mutex);
      self->ms.push_back(std::chrono::duration<double, std::milli>(now - e.timestamp).count());
    } catch (const std::exception&) {
    }
    natsMsg_Destroy(msg);
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return ms.size();
  }
};

void measure(const config& cfg, nlohmann::json& report) {
  char shm[] = "/dev/shm/isens-fleet-bench-XXXXXX";
  if (!::mkdtemp(shm)) throw std::runtime_error("cannot create a directory in /dev/shm");
  const std::filesystem::path dir = shm;
  struct cleanup {
    std::filesystem::path dir;
    ~cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } remove_dir{dir};
  test::nats_server_options server;
  server.store_dir = dir / "store";
  test::nats_server broker(server);

  const double naive = naive_rate(broker.url(), cfg.naive_events);
  const auto raw_run = async_raw_rate(broker.url(), broker.pid(), cfg.events);
  const double async_raw = raw_run.events_per_s;

  // The bridge: bus -> journal (on /dev/shm) -> JetStream, as in isensd.
  events::journal_options jo;
  jo.directory = dir / "journal";
  jo.max_events = std::max<std::size_t>(cfg.events * 4, 100000);
  jo.segment_events = jo.max_events / 10;
  auto journal = std::make_shared<events::event_journal>(jo);
  events::event_bus bus;
  fleet::bridge_options bo;
  bo.nats = test::fast_nats_options(broker.url());
  bo.host = "bench-host";
  bo.host_token = "bench-host";
  bo.stream.subjects = {fleet::host_filter(bo.host_token)};  // beside the raw and naive streams
  bo.boot_id = bus.boot_id();
  bo.cursor_file = dir / "nats-cursor";
  bo.heartbeat_interval = 0ms;
  bo.retry_interval = 100ms;
  fleet::bridge bridge(bo, journal);
  events::subscription_options so;
  so.name = "journal";
  so.queue_capacity = 1 << 20;
  auto subscription = bus.subscribe(std::make_shared<journal_then_bridge>(journal, bridge), {}, so);
  bridge.start();
  if (!wait_until([&] { return bridge.stats().connected; }, 10s)) throw std::runtime_error("the bridge did not connect");

  const auto bridge_cpu_before = bench::cpu_now(broker.pid());
  const auto bridge_from = monotonic_s();
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < cfg.events; ++i) bus.publish(sample_event(i));
  // How fast the journal alone takes them (the bridge cannot be faster).
  wait_until([&] { return journal->last_seq() >= cfg.events; }, 120s);
  const double journaled = rate(cfg.events, clock_type::now() - start);
  if (!wait_until([&] { return bridge.stats().acked_seq >= cfg.events; }, 120s))
    throw std::runtime_error("the bridge did not publish every event");
  const run_figures bridge_run{rate(cfg.events, clock_type::now() - start), bench::cpu_now(broker.pid()) - bridge_cpu_before,
                               bridge_from, monotonic_s()};
  const double bridged = bridge_run.events_per_s;

  // The same events replayed from the journal by a second bridge (what a
  // bridge does after an outage): its publishing alone, without the bus and
  // the journal's writes sharing the two CPUs.
  fleet::bridge_options ro = bo;
  ro.host_token = "bench-replay";
  ro.stream.name = "BENCH_REPLAY";
  ro.stream.subjects = {fleet::host_filter(ro.host_token)};
  ro.cursor_file = dir / "nats-cursor-replay";
  run_figures replay_run;
  {
    fleet::bridge replay(ro, journal);
    const auto replay_cpu_before = bench::cpu_now(broker.pid());
    const auto replay_from = monotonic_s();
    const auto replay_start = clock_type::now();
    replay.start();
    if (!wait_until([&] { return replay.stats().acked_seq >= cfg.events; }, 120s))
      throw std::runtime_error("the replaying bridge did not publish every event");
    replay_run = {rate(cfg.events, clock_type::now() - replay_start), bench::cpu_now(broker.pid()) - replay_cpu_before,
                  replay_from, monotonic_s()};
  }
  const double replayed = replay_run.events_per_s;

  // Latency: an ordered JetStream consumer of the bridge's stream, events paced.
  latency_probe probe;
  auto consumer = fleet::nats_connection::connect(test::fast_nats_options(broker.url()));
  jsSubOptions subopts;
  jsSubOptions_Init(&subopts);
  subopts.Ordered = true;
  subopts.Config.DeliverPolicy = js_DeliverNew;
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  fleet::check_nats(js_Subscribe(&sub, consumer->jetstream(), fleet::host_filter(bo.host_token).c_str(), &latency_probe::on_message, &probe,
                                 nullptr, &subopts, &code),
                    "ordered consumer", code);
  const auto pace = std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(1.0 / cfg.latency_rate));
  auto next = clock_type::now();
  for (std::size_t i = 0; i < cfg.latency_events; ++i) {
    bus.publish(sample_event(i));
    next += pace;
    std::this_thread::sleep_until(next);
  }
  wait_until([&] { return probe.count() >= cfg.latency_events; }, 30s);
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  std::vector<double> latencies;
  {
    std::lock_guard lock(probe.mutex);
    latencies = probe.ms;
  }
  const auto latency = bench::summarize(latencies);

  // Through a broker kill -9 and a restart on its store.
  for (std::size_t i = 0; i < cfg.restart_events / 2; ++i) bus.publish(sample_event(i));
  broker.kill9();
  for (std::size_t i = cfg.restart_events / 2; i < cfg.restart_events; ++i) bus.publish(sample_event(i));
  broker.restart();
  const auto last = bus.last_seq();
  if (!wait_until([&] { return bridge.stats().acked_seq >= last; }, 120s))
    throw std::runtime_error("the bridge did not catch up after the broker restart");
  bridge.stop();
  const auto stored = test::read_stream(broker.url(), "ISENS_EVENTS");
  std::set<std::uint64_t> distinct;
  for (const auto& m : stored) distinct.insert(m.seq);
  const auto duplicated = stored.size() - distinct.size();
  std::size_t lost = 0;
  for (std::uint64_t s = 1; s <= last; ++s) lost += !distinct.contains(s);

  std::printf("%-44s %14s\n", "measure", "value");
  std::printf("%-44s %14.0f\n", "bridge events/s (bus -> acked)", bridged);
  std::printf("%-44s %14.0f\n", "journal events/s (bus -> journal only)", journaled);
  std::printf("%-44s %14.0f\n", "replay events/s (journal -> acked)", replayed);
  std::printf("%-44s %14.0f\n", "async raw events/s (js_PublishAsync)", async_raw);
  std::printf("%-44s %14.0f\n", "naive events/s (js_Publish, one at a time)", naive);
  std::printf("%-44s %14.2f\n", "consumer latency p50 ms", latency.p50);
  std::printf("%-44s %14.2f\n", "consumer latency p99 ms", latency.p99);
  std::printf("%-44s %14zu\n", "events lost through a broker kill -9", lost);
  std::printf("%-44s %14zu\n", "events duplicated", duplicated);
  std::printf("\n%-44s %10s %10s %10s\n", "per event", "async raw", "bridge", "replay");
  auto per_event = [&](const char* what, auto field) {
    std::printf("%-44s %10.2f %10.2f %10.2f\n", what, field(raw_run.used) / cfg.events,
                field(bridge_run.used) / cfg.events, field(replay_run.used) / cfg.events);
  };
  per_event("bench process CPU us", [](const bench::cpu_use& u) { return u.process_s * 1e6; });
  per_event("nats-server CPU us", [](const bench::cpu_use& u) { return u.broker_s * 1e6; });
  per_event("bench process context switches", [](const bench::cpu_use& u) { return u.context_switches; });
  // For `perf record -k CLOCK_MONOTONIC`: which samples belong to which run.
  std::fprintf(stderr, "fleet_bench: CLOCK_MONOTONIC s: async_raw %.6f %.6f bridge %.6f %.6f replay %.6f %.6f\n",
               raw_run.from_s, raw_run.to_s, bridge_run.from_s, bridge_run.to_s, replay_run.from_s, replay_run.to_s);

  report["bridge_events_per_s"] = bridged;
  report["naive_events_per_s"] = naive;
  report["journal_events_per_s"] = journaled;
  report["async_raw_events_per_s"] = async_raw;
  report["bridge_vs_async_raw_ratio"] = bridged / async_raw;
  report["bridge_vs_naive_ratio"] = bridged / naive;
  report["replay_events_per_s"] = replayed;
  report["replay_vs_async_raw_ratio"] = replayed / async_raw;
  report["consumer_latency_ms_p50"] = latency.p50;
  report["consumer_latency_ms_p99"] = latency.p99;
  report["latency_samples"] = latencies.size();
  report["events_lost"] = lost;
  report["events_duplicated"] = duplicated;
  report_cpu(report, "async_raw", raw_run, cfg.events);
  report_cpu(report, "bridge", bridge_run, cfg.events);
  report_cpu(report, "replay", replay_run, cfg.events);
  report["events"] = cfg.events;
  report["ok"] = lost == 0 && duplicated == 0 && latencies.size() >= cfg.latency_events;
}

}  // namespace

int main(int argc, char** argv) {
  isens::bench::command_line<config> cli(
      "fleet_bench",
      "fleet_bench: the NATS bridge into JetStream beside js_Publish one at a time and js_PublishAsync. Prints a "
      "table, then as its last line one JSON object.",
      config::quick_run(), "a few seconds, for CI (rough figures)");
  cli.count("--events", &config::events, "Events through the bridge and the async publisher");
  cli.count("--naive-events", &config::naive_events, "Events through the naive publisher");
  cli.count("--latency-events", &config::latency_events, "Paced events for the latency figures");
  cli.count("--restart-events", &config::restart_events, "Events published around the broker's kill -9");
  const config cfg = cli.parse_or_exit(argc, argv);
  return isens::bench::run_and_report("fleet_bench", [&](nlohmann::json& report) { measure(cfg, report); });
}
