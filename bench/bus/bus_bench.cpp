// bus_bench: the event bus beside its peer, a bare boost::signals2::signal.
//
// One run measures (1) signals2 emit to 1/4/16 trivial slots, (2) isens
// publish->deliver throughput at saturation and latency at a paced rate to
// 1/4/16 subscribers, (3) both again with one deliberately slow subscriber
// added. It prints a table, then the figures as one JSON object on the last
// line. Method and measured figures: bench/README.md.
//
//   bus_bench           full run (about 70 s)
//   bus_bench --quick   smoke run for CI (a few seconds; figures are rough)

#include "measure.hpp"

#include "../common/command_line.hpp"

#include "isens/events/event_bus.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/signals2/signal.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace isens::events;
using namespace std::chrono_literals;
using isens::bench::countdown;
using isens::bench::latency_summary;
using isens::bench::now_ns;

constexpr std::size_t fan_outs[] = {1, 4, 16};

struct config {
  bool quick = false;
  int reps = 3;                                    // throughput runs per point; the median is reported
  std::uint64_t signals2_emits = 4'000'000;        // per rep, divided by the slot count
  std::uint64_t throughput_deliveries = 6'000'000;  // per run, divided by the subscriber count
  std::uint64_t latency_rate = 10'000;              // offered events per second
  std::uint64_t latency_events = 30'000;            // measured per row, over all rounds
  std::uint64_t latency_warmup = 200;               // per round, not measured
  int latency_rounds = 30;                          // many short ones: the paired medians need them
  std::chrono::microseconds slow_cost = 1000us;     // what the slow subscriber spends per event

  static config quick_run() {
    config c;
    c.quick = true;
    c.reps = 1;
    c.signals2_emits = 400'000;
    c.throughput_deliveries = 800'000;
    c.latency_events = 2'000;
    c.latency_warmup = 100;
    c.latency_rounds = 2;
    return c;
  }

};

// A realistic event: a connection dropped, with a long IQN that does not
// fit in the small-string buffer, as real target names don't.
event sample_event() {
  event e;
  e.kind = event_kind::connection_lost;
  e.reason = event_reason::peer_closed;
  e.session_id = 42;
  e.connection_id = 7;
  e.target = "iqn.2003-01.org.linux-iscsi.bench:storage.disk1";
  e.portal = "127.0.0.1:3260";
  e.isid = 0x400001370000;
  e.tsih = 1;
  e.cid = 0;
  return e;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// --- (1) the peer: signals2 emit --------------------------------------------

double signals2_ns_per_emit(std::size_t slots, const config& cfg) {
  boost::signals2::signal<void(const event&)> signal;
  std::vector<std::uint64_t> sums(slots, 0);
  for (auto& sum : sums) signal.connect([&sum](const event& e) { sum += e.session_id; });
  const auto e = sample_event();
  const auto emits = cfg.signals2_emits / slots;
  std::vector<double> per_rep;
  for (int rep = 0; rep < cfg.reps; ++rep) {
    for (std::uint64_t i = 0; i < emits / 10; ++i) signal(e);  // warm-up
    const auto t0 = now_ns();
    for (std::uint64_t i = 0; i < emits; ++i) signal(e);
    per_rep.push_back(static_cast<double>(now_ns() - t0) / static_cast<double>(emits));
  }
  if (sums[0] == 0) throw std::logic_error("slots never ran");
  return median(per_rep);
}

// --- subscribers used by the isens runs ----------------------------------

// Counts deliveries and notes when the expected number has arrived.
class counting_sink final : public subscriber {
 public:
  counting_sink(std::uint64_t expected, countdown& finished) : expected_(expected), finished_(finished) {}
  void on_event(const event&) override {
    if (++seen_ == expected_) {
      finished_at_ = now_ns();
      finished_.done();
    }
  }
  void on_gap(std::uint64_t lost) override { gaps_ += lost; }
  // Read only after `finished` has been waited for.
  std::int64_t finished_at() const { return finished_at_; }

 private:
  const std::uint64_t expected_;
  countdown& finished_;
  std::uint64_t seen_ = 0;  // the subscriber's strand only
  std::uint64_t gaps_ = 0;
  std::int64_t finished_at_ = 0;
};

// Stamps the arrival of every event, indexed by seq (a fresh bus starts at 1).
class stamping_sink final : public subscriber {
 public:
  stamping_sink(std::uint64_t expected, countdown& finished)
      : arrived_(expected, -1), expected_(expected), finished_(finished) {}
  void on_event(const event& e) override {
    const auto t = now_ns();
    if (e.seq >= 1 && e.seq <= arrived_.size()) arrived_[e.seq - 1] = t;
    if (++seen_ == expected_) finished_.done();
  }
  // Read only after `finished` has been waited for.
  std::int64_t arrived(std::size_t index) const { return arrived_[index]; }

 private:
  std::vector<std::int64_t> arrived_;
  const std::uint64_t expected_;
  countdown& finished_;
  std::uint64_t seen_ = 0;
};

// A plugin that blocks on every event (a synchronous write to a slow disk or
// a remote log): it occupies a delivery thread for `cost` each time.
class slow_sink final : public subscriber {
 public:
  explicit slow_sink(std::chrono::microseconds cost) : cost_(cost) {}
  void on_event(const event&) override { std::this_thread::sleep_for(cost_); }

 private:
  std::chrono::microseconds cost_;
};

// The slow one is subscribed first, so its slot also runs first on every
// publish: the least favourable order for the others.
// With `own` set, the slow one runs on that executor instead of the bus's
// pool, which is how a subscriber known to block should be subscribed.
subscription subscribe_slow(event_bus& bus, const config& cfg,
                            std::optional<boost::asio::any_io_executor> own = std::nullopt) {
  subscription_options options;
  options.executor = std::move(own);
  options.name = "slow";  // default capacity: it overflows and gets gap markers, by design
  return bus.subscribe(std::make_shared<slow_sink>(cfg.slow_cost), {}, options);
}

// The slow one's overflow is reported to it only once it catches up, which
// it never does within a run: its delivered count is what there is to show.
struct slow_counts {
  std::uint64_t delivered = 0;
};

// --- (2)/(3) throughput at saturation ---------------------------------------

struct throughput_result {
  double events_per_s = 0;      // events every subscriber received, per second
  double deliveries_per_s = 0;  // summed over subscribers
  double publish_ns = 0;        // publisher's time per publish() call
  double cpu_ns = 0;            // CPU time of the whole process per delivery
  std::uint64_t lost = 0;       // by the measured subscribers: must stay 0
  slow_counts slow;
  bool complete = true;
};

throughput_result throughput_once(std::size_t subscribers, bool with_slow, const config& cfg) {
  const std::uint64_t events = cfg.throughput_deliveries / subscribers;
  countdown finished(subscribers);
  event_bus bus;
  subscription slow_sub = with_slow ? subscribe_slow(bus, cfg) : subscription{};
  std::vector<std::shared_ptr<counting_sink>> sinks;
  std::vector<subscription> subs;
  subscription_options options;
  options.queue_capacity = events;  // nothing may be lost at saturation
  for (std::size_t i = 0; i < subscribers; ++i) {
    sinks.push_back(std::make_shared<counting_sink>(events, finished));
    options.name = "counter-" + std::to_string(i);
    subs.push_back(bus.subscribe(sinks.back(), {}, options));
  }

  const auto e = sample_event();
  const auto cpu0 = isens::bench::process_cpu_ns();
  const auto t0 = now_ns();
  for (std::uint64_t i = 0; i < events; ++i) bus.publish(e);
  const auto published = now_ns();

  throughput_result r;
  r.complete = finished.wait_for(60s);
  r.cpu_ns = static_cast<double>(isens::bench::process_cpu_ns() - cpu0) / static_cast<double>(events * subscribers);
  std::int64_t last = published;
  for (const auto& s : sinks) last = std::max(last, s->finished_at());
  for (const auto& s : subs) r.lost += s.lost();
  const auto seconds = static_cast<double>(last - t0) / 1e9;
  r.events_per_s = static_cast<double>(events) / seconds;
  r.deliveries_per_s = r.events_per_s * static_cast<double>(subscribers);
  r.publish_ns = static_cast<double>(published - t0) / static_cast<double>(events);
  r.slow = {slow_sub.delivered()};
  slow_sub.unsubscribe();  // drop its backlog now rather than sleep through it
  return r;
}

throughput_result throughput(std::size_t subscribers, bool with_slow, const config& cfg) {
  std::vector<throughput_result> runs;
  for (int rep = 0; rep < cfg.reps; ++rep) runs.push_back(throughput_once(subscribers, with_slow, cfg));
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.events_per_s < b.events_per_s; });
  auto r = runs[runs.size() / 2];
  for (const auto& run : runs) {
    r.lost = std::max(r.lost, run.lost);
    r.complete = r.complete && run.complete;
  }
  return r;
}

// --- (2)/(3) latency at a paced rate ----------------------------------------

// One paced run: publish() entry -> callback entry, every measured subscriber.
struct latency_run {
  std::vector<std::int64_t> ns;
  double offered_per_s = 0;  // the rate the pacer achieved
  std::uint64_t lost = 0;
  bool complete = true;
};

// Publishes warm-up + `events` events at the configured rate through
// `publish(i)`; returns when the pacer is done, with the measured span.
template <class Publish>
double paced(std::uint64_t events, const config& cfg, std::vector<std::int64_t>& published, Publish&& publish) {
  isens::bench::pacer pace(std::chrono::nanoseconds(1'000'000'000 / cfg.latency_rate));
  std::int64_t measured_from = 0;
  for (std::uint64_t i = 0; i < published.size(); ++i) {
    pace.wait();
    published[i] = now_ns();
    if (i == cfg.latency_warmup) measured_from = published[i];
    publish(i);
  }
  return static_cast<double>(events) / (static_cast<double>(now_ns() - measured_from) / 1e9);
}

// slow: 0 none, 1 on the bus's shared pool, 2 on a thread of its own.
latency_run latency(std::size_t subscribers, int slow, std::uint64_t events, const config& cfg) {
  const std::uint64_t total = cfg.latency_warmup + events;
  std::vector<std::int64_t> published(total, 0);
  countdown finished(subscribers);
  boost::asio::thread_pool slow_thread(1);  // declared first: joined after the bus and subscriptions are gone
  event_bus bus;
  subscription slow_sub = slow == 0   ? subscription{}
                          : slow == 1 ? subscribe_slow(bus, cfg)
                                      : subscribe_slow(bus, cfg, slow_thread.get_executor());
  std::vector<std::shared_ptr<stamping_sink>> sinks;
  std::vector<subscription> subs;
  subscription_options options;
  options.queue_capacity = total;
  for (std::size_t i = 0; i < subscribers; ++i) {
    sinks.push_back(std::make_shared<stamping_sink>(total, finished));
    options.name = "stamper-" + std::to_string(i);
    subs.push_back(bus.subscribe(sinks.back(), {}, options));
  }

  const auto e = sample_event();
  latency_run r;
  r.offered_per_s = paced(events, cfg, published, [&](std::uint64_t) { bus.publish(e); });
  r.complete = finished.wait_for(60s);
  r.ns.reserve(subscribers * events);
  for (const auto& s : sinks) {
    for (std::uint64_t i = cfg.latency_warmup; i < total; ++i) {
      if (s->arrived(i) >= 0) r.ns.push_back(s->arrived(i) - published[i]);
    }
  }
  for (const auto& s : subs) r.lost += s.lost();
  slow_sub.unsubscribe();  // drop its backlog now rather than sleep through it
  return r;
}

// The latency peer: the obvious hand-made design, a signals2 signal whose
// slots each post the callback to a 2-thread asio pool (no queue bound, no
// ordering per subscriber, no gap markers). It needs the same thread
// hand-off as the bus, so the machine's own wake-up delays hit both alike.
latency_run peer_latency(std::size_t slots, std::uint64_t events, const config& cfg) {
  const std::uint64_t total = cfg.latency_warmup + events;
  std::vector<std::int64_t> published(total, 0);
  std::vector<std::vector<std::int64_t>> arrived(slots, std::vector<std::int64_t>(total, -1));
  std::vector<std::atomic<std::uint64_t>> seen(slots);
  countdown finished(slots);
  latency_run r;
  {
    boost::asio::thread_pool pool(2);
    boost::signals2::signal<void(std::uint64_t)> signal;
    for (std::size_t k = 0; k < slots; ++k) {
      signal.connect([&, k](std::uint64_t i) {
        boost::asio::post(pool, [&, k, i] {
          arrived[k][i] = now_ns();
          if (seen[k].fetch_add(1) + 1 == total) finished.done();
        });
      });
    }
    r.offered_per_s = paced(events, cfg, published, [&](std::uint64_t i) { signal(i); });
    r.complete = finished.wait_for(60s);
    pool.join();
  }
  for (const auto& a : arrived) {
    for (std::uint64_t i = cfg.latency_warmup; i < total; ++i) {
      if (a[i] >= 0) r.ns.push_back(a[i] - published[i]);
    }
  }
  return r;
}

// One row of the latency table, gathered over interleaved rounds.
struct latency_point {
  latency_point(std::size_t n, int slow_mode, bool is_peer) : subscribers(n), slow(slow_mode), peer(is_peer) {}

  std::size_t subscribers;
  int slow;   // as for latency()
  bool peer;  // the signals2 + asio peer instead of the bus
  std::vector<std::int64_t> ns;         // every round's latencies, pooled
  std::vector<double> round_p99_us;     // each round's own p99
  double offered_per_s = 0;             // lowest of the rounds
  std::uint64_t lost = 0;
  bool complete = true;
  latency_summary summary;

  void add(latency_run run) {
    std::vector<std::int64_t> copy = run.ns;
    round_p99_us.push_back(isens::bench::summarise(copy).p99_us);
    ns.insert(ns.end(), run.ns.begin(), run.ns.end());
    offered_per_s = offered_per_s == 0 ? run.offered_per_s : std::min(offered_per_s, run.offered_per_s);
    lost += run.lost;
    complete = complete && run.complete;
  }
};

// --- report --------------------------------------------------------------

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "n/a" : one;
}

std::string rate(double per_s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f M", per_s / 1e6);
  return buf;
}

// Three decimals are plenty in the JSON and keep the line readable.
double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

int run(const config& cfg) {
  nlohmann::ordered_json j;
  j["bench"] = "bus";
  j["quick"] = cfg.quick;
  j["cores"] = std::thread::hardware_concurrency();
  j["load_avg_at_start"] = load_average();
  j["delivery_threads"] = 2;
  bool ok = true;

  std::printf("isens bus benchmark (%s run; %u cores; load average %s at start)\n\n", cfg.quick ? "quick" : "full",
              std::thread::hardware_concurrency(), load_average().c_str());

  std::printf("(1) peer baseline: boost::signals2::signal emit, trivial slots, same thread\n");
  std::printf("  %5s  %10s\n", "slots", "ns/emit");
  double s2[17] = {};
  for (auto n : fan_outs) {
    s2[n] = signals2_ns_per_emit(n, cfg);
    std::printf("  %5zu  %10.1f\n", n, s2[n]);
    j["signals2_ns_per_emit_" + std::to_string(n) + "slot"] = round3(s2[n]);
  }

  std::printf("\n(2)(3) isens throughput at saturation: one publisher, 2 delivery threads, queues hold every event\n");
  std::printf("  %4s  %4s  %10s  %13s  %11s  %8s  %12s  %4s  %s\n", "subs", "slow", "events/s", "deliveries/s",
              "publish ns", "ns/event", "cpu ns/deliv", "lost", "slow one delivered");
  throughput_result tp[2][17];
  for (int with_slow = 0; with_slow < 2; ++with_slow) {
    for (auto n : fan_outs) {
      const auto r = throughput(n, with_slow != 0, cfg);
      tp[with_slow][n] = r;
      ok = ok && r.complete && r.lost == 0;
      std::printf("  %4zu  %4s  %10s  %13s  %11.1f  %8.1f  %12.1f  %4llu  %s%s\n", n, with_slow ? "yes" : "no",
                  rate(r.events_per_s).c_str(), rate(r.deliveries_per_s).c_str(), r.publish_ns, 1e9 / r.events_per_s,
                  r.cpu_ns, static_cast<unsigned long long>(r.lost),
                  with_slow ? std::to_string(r.slow.delivered).c_str() : "-",
                  r.complete ? "" : "  INCOMPLETE");
      const auto key = std::to_string(n) + "sub" + (with_slow ? "_with_slow" : "");
      j["events_per_s_" + key] = std::llround(r.events_per_s);
      j["deliveries_per_s_" + key] = std::llround(r.deliveries_per_s);
      j["publish_ns_" + key] = round3(r.publish_ns);
      j["cpu_ns_per_delivery_" + key] = round3(r.cpu_ns);
      j["lost_throughput_" + key] = r.lost;
    }
  }

  std::printf("\n(2)(3) latency, publish() -> callback entry, paced at %llu events/s (queues stay near empty);\n"
              "       %d interleaved rounds per row, so every row sees the same machine\n",
              static_cast<unsigned long long>(cfg.latency_rate), cfg.latency_rounds);
  std::printf("  %4s  %4s  %8s  %9s  %8s  %8s  %8s  %8s  %4s\n", "subs", "slow", "samples", "offered/s", "p50 us",
              "p99 us", "p99.9 us", "max us", "lost");
  std::vector<latency_point> points;
  for (int slow = 0; slow < 2; ++slow) {
    for (auto n : fan_outs) points.emplace_back(n, slow, false);
  }
  points.emplace_back(16, 2, false);
  for (auto n : fan_outs) points.emplace_back(n, 0, true);
  const std::uint64_t per_round = cfg.latency_events / static_cast<std::uint64_t>(cfg.latency_rounds);
  for (int round = 0; round < cfg.latency_rounds; ++round) {
    // Rotate the order too, so no row always runs right after the same one.
    for (std::size_t k = 0; k < points.size(); ++k) {
      auto& p = points[(k + static_cast<std::size_t>(round) * 3) % points.size()];
      p.add(p.peer ? peer_latency(p.subscribers, per_round, cfg) : latency(p.subscribers, p.slow, per_round, cfg));
    }
  }
  auto find = [&](std::size_t n, int slow, bool peer) -> latency_point& {
    for (auto& p : points) {
      if (p.subscribers == n && p.slow == slow && p.peer == peer) return p;
    }
    throw std::logic_error("no such latency point");
  };
  const char* slow_label[] = {"no", "yes", "own"};
  const char* slow_key[] = {"", "_with_slow", "_with_slow_own_executor"};
  for (auto& p : points) {
    p.summary = isens::bench::summarise(p.ns);
    if (!p.peer) ok = ok && p.complete && p.lost == 0;
    std::printf("  %4zu  %4s  %8zu  %9.0f  %8.1f  %8.1f  %8.1f  %8.1f  %4s%s\n", p.subscribers,
                p.peer ? "-" : slow_label[p.slow], p.summary.samples, p.offered_per_s, p.summary.p50_us,
                p.summary.p99_us, p.summary.p999_us, p.summary.max_us,
                p.peer ? "-" : std::to_string(p.lost).c_str(),
                p.peer ? "  peer: signals2 slots posting to asio" : (p.complete ? "" : "  INCOMPLETE"));
    const auto key = std::to_string(p.subscribers) + "sub" + (p.peer ? "" : slow_key[p.slow]);
    const std::string prefix = p.peer ? "peer_" : "";
    j[prefix + "p50_us_" + key] = round3(p.summary.p50_us);
    j[prefix + "p99_us_" + key] = round3(p.summary.p99_us);
    j[prefix + "p999_us_" + key] = round3(p.summary.p999_us);
    if (!p.peer) j["lost_latency_" + key] = p.lost;
  }
  for (auto n : fan_outs) {
    j["isens_vs_peer_p99_ratio_" + std::to_string(n) + "sub"] =
        round3(find(n, 0, false).summary.p99_us / find(n, 0, true).summary.p99_us);
  }
  // The slow subscriber's effect, two ways: from the pooled p99s above, and
  // as the median over rounds of (p99 with slow / p99 without) measured
  // back to back, which cancels most of what the rest of the machine does.
  auto paired_change = [&](int slow, int against = 0) {
    const auto& base = find(16, against, false).round_p99_us;
    const auto& with = find(16, slow, false).round_p99_us;
    std::vector<double> ratios;
    for (std::size_t r = 0; r < base.size() && r < with.size(); ++r) ratios.push_back(with[r] / base[r]);
    return median(ratios) - 1.0;
  };
  const auto& base16 = find(16, 0, false).summary;
  const double p99_moved = paired_change(1);
  j["p99_change_with_slow_16sub_pct"] =
      round3((find(16, 1, false).summary.p99_us - base16.p99_us) / base16.p99_us * 100.0);
  j["p99_change_with_slow_16sub_paired_median_pct"] = round3(p99_moved * 100.0);
  j["p99_change_with_slow_own_executor_16sub_paired_median_pct"] = round3(paired_change(2) * 100.0);
  // The bus's share of it: the slow one on the shared threads against the
  // same slow one on a thread of its own, where the bus cannot make the
  // others wait for it and only its presence on the machine remains.
  const double shared_vs_own = paired_change(1, 2);
  j["p99_with_slow_shared_vs_own_executor_16sub_paired_median_pct"] = round3(shared_vs_own * 100.0);
  j["latency_rate_per_s"] = cfg.latency_rate;
  j["slow_subscriber_cost_us"] = cfg.slow_cost.count();
  j["latency_rounds"] = cfg.latency_rounds;

  // The ratios compare time per event: isens's end-to-end cost (publish,
  // queue, hand-off to another thread, callback) against one synchronous emit.
  std::printf("\nratios vs signals2 (same run)\n");
  for (auto n : fan_outs) {
    const double isens_ns = 1e9 / tp[0][n].events_per_s;
    const double ratio = isens_ns / s2[n];
    const double publish_ratio = tp[0][n].publish_ns / s2[n];
    std::printf("  %2zu: isens %.1f ns/event delivered, %.1f ns/publish call; signals2 %.1f ns/emit -> %.2fx, %.2fx\n",
                n, isens_ns, tp[0][n].publish_ns, s2[n], ratio, publish_ratio);
    j["isens_vs_signals2_ns_ratio_" + std::to_string(n) + "sub"] = round3(ratio);
    j["isens_publish_vs_signals2_ns_ratio_" + std::to_string(n) + "sub"] = round3(publish_ratio);
  }

  const bool met_1sub = tp[0][1].events_per_s >= 2e6;
  const bool met_16sub = tp[0][16].deliveries_per_s >= 4e6;
  const bool met_p99 = base16.p99_us < 50.0;
  const bool met_slow = p99_moved < 0.20;
  nlohmann::ordered_json targets;
  targets["events_per_s_1sub_ge_2M"] = met_1sub;
  targets["deliveries_per_s_16sub_ge_4M"] = met_16sub;
  targets["p99_us_16sub_lt_50"] = met_p99;
  targets["p99_with_slow_moves_lt_20pct"] = met_slow;
  auto verdict = [](bool met) { return met ? "met" : "MISSED"; };
  std::printf("\ntargets (2 cores)\n");
  std::printf("  >= 2 M events/s to 1 subscriber        %s\n", verdict(met_1sub));
  std::printf("  >= 4 M deliveries/s to 16 subscribers  %s\n", verdict(met_16sub));
  std::printf("  p99 < 50 us with 16 subscribers        %s\n", verdict(met_p99));
  std::printf("  slow subscriber moves p99 by < 20%%     %s (%+.1f%%)\n", verdict(met_slow), p99_moved * 100.0);
  std::printf("    (slow one on the shared threads vs on a thread of its own: %+.1f%%)\n", shared_vs_own * 100.0);
  j["targets_met"] = targets;
  j["ok"] = ok;
  if (!ok) std::printf("\nERROR: a measured subscriber lost events or a run did not finish\n");

  std::cout << '\n' << j.dump() << std::endl;
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  isens::bench::command_line<config> cli(
      "bus_bench", "bus_bench: the event bus beside a bare boost::signals2::signal and signals2 slots posting to asio. "
      "Prints a table, then as its last line one JSON object.",
      config::quick_run(), "a few seconds, for CI (rough figures)");
  const config cfg = cli.parse_or_exit(argc, argv);
  try {
    return run(cfg);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "bus_bench: %s\n", ex.what());
    return 1;
  }
}
