#include "isens/events/batching_subscriber.hpp"
#include "isens/events/event_bus.hpp"

#include "thread_names.hpp"
#include "eventually.hpp"
#include "thread_sync.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace isens::events;
using isens::events::test::gate;
using isens::test::threads_named;
using isens::test::eventually;
using namespace std::chrono_literals;

namespace {

// Records what it receives; optionally blocks on the first event.
class recorder : public subscriber {
 public:
  gate* hold_first = nullptr;
  std::atomic<bool> entered_first{false};

  void on_event(const event& e) override {
    if (hold_first && !entered_first.exchange(true)) hold_first->wait();
    std::lock_guard lock(mutex_);
    seqs_.push_back(e.seq);
    events_.push_back(e);
    count_.fetch_add(1);
  }
  void on_gap(std::uint64_t lost) override {
    std::lock_guard lock(mutex_);
    gaps_.push_back({seqs_.size(), lost});
  }

  std::size_t count() const { return count_.load(); }
  std::vector<std::uint64_t> seqs() const {
    std::lock_guard lock(mutex_);
    return seqs_;
  }
  std::vector<event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  // (number of events received before the gap, events lost)
  std::vector<std::pair<std::size_t, std::uint64_t>> gaps() const {
    std::lock_guard lock(mutex_);
    return gaps_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> seqs_;
  std::vector<event> events_;
  std::vector<std::pair<std::size_t, std::uint64_t>> gaps_;
  std::atomic<std::size_t> count_{0};
};

event make_event(event_kind kind, std::uint64_t session = 1, std::uint64_t index = 0) {
  event e;
  e.kind = kind;
  e.session_id = session;
  e.connection_id = index;
  return e;
}

}  // namespace

TEST_CASE("publish stamps seq, boot_id and time", "[events][bus]") {
  event_bus bus;
  auto sink = std::make_shared<recorder>();
  auto sub = bus.subscribe(sink);

  CHECK(bus.last_seq() == 0);
  CHECK(bus.publish(make_event(event_kind::logon)) == 1);
  CHECK(bus.publish(make_event(event_kind::logoff)) == 2);
  REQUIRE(eventually([&] { return sink->count() == 2; }));

  const auto got = sink->events();
  CHECK(got[0].seq == 1);
  CHECK(got[1].seq == 2);
  CHECK(got[0].boot_id == bus.boot_id());
  CHECK(got[0].boot_id.size() == 36);
  CHECK(got[0].timestamp != std::chrono::system_clock::time_point{});
  CHECK(event_bus{}.boot_id() != bus.boot_id());
}

TEST_CASE("callbacks dispatch by kind with no-op defaults", "[events][bus]") {
  struct disconnect_counter : subscriber {
    std::atomic<int> disconnects{0};
    std::atomic<int> all{0};
    void on_event(const event&) override { ++all; }
    void on_session_disconnect(const event&) override { ++disconnects; }
  };
  event_bus bus;
  auto sink = std::make_shared<disconnect_counter>();
  auto sub = bus.subscribe(sink);
  for (std::size_t i = 0; i < event_kind_count; ++i) bus.publish(make_event(static_cast<event_kind>(i)));
  REQUIRE(eventually([&] { return sink->all == static_cast<int>(event_kind_count); }));
  CHECK(sink->disconnects == 1);
}

TEST_CASE("each subscriber gets every event in publish order under concurrent publishers", "[events][bus]") {
  constexpr int publishers = 4;
  constexpr int per_publisher = 5000;
  event_bus bus(2);
  std::vector<std::shared_ptr<recorder>> sinks;
  std::vector<subscription> subs;
  for (int i = 0; i < 3; ++i) {
    sinks.push_back(std::make_shared<recorder>());
    subscription_options options;
    options.queue_capacity = publishers * per_publisher;
    subs.push_back(bus.subscribe(sinks.back(), {}, options));
  }

  std::vector<std::thread> threads;
  for (int p = 0; p < publishers; ++p) {
    threads.emplace_back([&bus, p] {
      for (int i = 0; i < per_publisher; ++i) bus.publish(make_event(event_kind::connection_made, p, i));
    });
  }
  for (auto& t : threads) t.join();

  for (const auto& sink : sinks) {
    REQUIRE(eventually([&] { return sink->count() == publishers * per_publisher; }));
    const auto events = sink->events();
    std::vector<std::uint64_t> next_index(publishers, 0);
    for (std::size_t i = 0; i < events.size(); ++i) {
      REQUIRE(events[i].seq == i + 1);  // global publish order, no gaps, no repeats
      auto& expected = next_index[events[i].session_id];
      REQUIRE(events[i].connection_id == expected);  // each publisher's own order
      ++expected;
    }
  }
}

TEST_CASE("a slow subscriber delays neither the publisher nor the others", "[events][bus]") {
  event_bus bus(2);
  gate release;
  auto slow = std::make_shared<recorder>();
  slow->hold_first = &release;
  auto fast = std::make_shared<recorder>();
  auto slow_sub = bus.subscribe(slow);
  auto fast_sub = bus.subscribe(fast);

  // Publishing finishes although the slow subscriber is stuck in a callback.
  auto publishing = std::async(std::launch::async, [&] {
    for (int i = 0; i < 1000; ++i) bus.publish(make_event(event_kind::logon));
  });
  const bool published = publishing.wait_for(10s) == std::future_status::ready;
  CHECK(published);
  CHECK(eventually([&] { return fast->count() == 1000; }));
  CHECK(slow->count() == 0);
  CHECK(slow->entered_first);

  release.open();
  CHECK(eventually([&] { return slow->count() == 1000; }));
}

TEST_CASE("a subscriber that gets stuck later holds up none of the subscribers an event wakes with it",
          "[events][bus]") {
  // Fast at first, then stuck in one callback until released: the kind of
  // plugin that makes a remote call on one event kind.
  struct stuck_at : subscriber {
    std::uint64_t seq;
    gate* release;
    std::atomic<std::uint64_t> count{0};
    stuck_at(std::uint64_t s, gate* g) : seq(s), release(g) {}
    void on_event(const event& e) override {
      if (e.seq == seq) release->wait();
      count.fetch_add(1);
    }
  };
  constexpr std::uint64_t events = 200;
  event_bus bus(2);
  gate release;
  std::vector<std::shared_ptr<recorder>> others;
  std::vector<subscription> subs;
  auto stuck = std::make_shared<stuck_at>(50, &release);
  for (int i = 0; i < 16; ++i) {
    if (i == 7) subs.push_back(bus.subscribe(stuck));  // in the middle of every batch
    others.push_back(std::make_shared<recorder>());
    subs.push_back(bus.subscribe(others.back()));
  }
  for (std::uint64_t i = 0; i < events; ++i) {
    bus.publish(make_event(event_kind::logon));
    // Let the queues go idle now and then, so events wake them in batches.
    if (i % 10 == 0) std::this_thread::sleep_for(200us);
  }
  for (const auto& other : others) CHECK(eventually([&] { return other->count() == events; }));
  CHECK(stuck->count.load() == 49);

  release.open();
  CHECK(eventually([&] { return stuck->count.load() == events; }));
}

TEST_CASE("a bus told not to spin has no watcher and still serves others past a stuck subscriber",
          "[events][bus]") {
  event_bus bus(bus_options{.delivery_threads = 2, .spin_after_events = 0us});
  gate release;
  auto stuck = std::make_shared<recorder>();
  stuck->hold_first = &release;
  std::vector<std::shared_ptr<recorder>> others;
  std::vector<subscription> subs;
  subs.push_back(bus.subscribe(stuck));  // first in every batch
  for (int i = 0; i < 8; ++i) {
    others.push_back(std::make_shared<recorder>());
    subs.push_back(bus.subscribe(others.back()));
  }
  for (int i = 0; i < 100; ++i) bus.publish(make_event(event_kind::logon));
  for (const auto& other : others) CHECK(eventually([&] { return other->count() == 100; }));
  CHECK(threads_named("isens-watcher").empty());
  release.open();
  CHECK(eventually([&] { return stuck->count() == 100; }));
}

// Counts the events of each run and where the bus says the run ends.
class run_counter : public batching_subscriber {
 public:
  void on_event(const event& e) override {
    std::lock_guard lock(mutex_);
    if (e.seq != last_seq_ + 1) out_of_order_ = true;
    last_seq_ = e.seq;
    ++in_run_;
  }
  void on_batch_end() override {
    std::lock_guard lock(mutex_);
    runs_.push_back(in_run_);
    ended_ += in_run_;
    in_run_ = 0;
  }
  std::uint64_t ended() const {
    std::lock_guard lock(mutex_);
    return ended_;
  }
  std::vector<std::size_t> runs() const {
    std::lock_guard lock(mutex_);
    return runs_;
  }
  bool out_of_order() const {
    std::lock_guard lock(mutex_);
    return out_of_order_;
  }

 private:
  mutable std::mutex mutex_;
  std::uint64_t last_seq_ = 0;
  std::size_t in_run_ = 0;
  std::uint64_t ended_ = 0;
  std::vector<std::size_t> runs_;
  bool out_of_order_ = false;
};

TEST_CASE("a batching subscriber hears the end of every run, each of 1 to 512 events", "[events][bus]") {
  event_bus bus;
  auto sink = std::make_shared<run_counter>();
  subscription_options opts;
  opts.queue_capacity = 1 << 16;
  auto sub = bus.subscribe(sink, {}, opts);
  constexpr std::uint64_t total = 20000;
  for (std::uint64_t i = 0; i < total; ++i) bus.publish(make_event(event_kind::logon, 1, i));
  // Every event delivered is followed by the end of its run: none is left waiting.
  REQUIRE(eventually([&] { return sink->ended() == total; }));
  CHECK_FALSE(sink->out_of_order());
  const auto runs = sink->runs();
  CHECK(std::all_of(runs.begin(), runs.end(), [](std::size_t n) { return n >= 1 && n <= 512; }));
}

TEST_CASE("a batching subscriber gets what was queued in runs of at most 512", "[events][bus]") {
  boost::asio::io_context delivery;  // run by hand: everything is queued before the first run
  event_bus bus;
  auto sink = std::make_shared<run_counter>();
  subscription_options opts;
  opts.queue_capacity = 4096;
  opts.executor = delivery.get_executor();
  auto sub = bus.subscribe(sink, {}, opts);
  for (std::uint64_t i = 0; i < 2000; ++i) bus.publish(make_event(event_kind::logon, 1, i));
  delivery.run();
  CHECK(sink->runs() == std::vector<std::size_t>{512, 512, 512, 464});
  CHECK(sink->ended() == 2000);
}

TEST_CASE("destroying a bus delivers the events already published", "[events][bus]") {
  struct sleepy : subscriber {
    std::atomic<int> count{0};
    void on_event(const event&) override {
      std::this_thread::sleep_for(200us);
      count.fetch_add(1);
    }
  };
  auto sink = std::make_shared<sleepy>();
  subscription sub;
  {
    event_bus bus(2);
    sub = bus.subscribe(sink);
    for (int i = 0; i < 100; ++i) bus.publish(make_event(event_kind::logon));
  }
  CHECK(sink->count.load() == 100);
}

TEST_CASE("a subscriber that throws is counted and isolated, and keeps receiving", "[events][bus]") {
  struct thrower : subscriber {
    std::atomic<int> calls{0};
    void on_logon(const event&) override {
      ++calls;
      throw std::runtime_error("plugin bug");
    }
  };
  event_bus bus;
  auto bad = std::make_shared<thrower>();
  auto good = std::make_shared<recorder>();
  subscription_options options;
  options.name = "thrower";
  auto bad_sub = bus.subscribe(bad, {}, options);
  auto good_sub = bus.subscribe(good);

  for (int i = 0; i < 50; ++i) bus.publish(make_event(event_kind::logon));
  REQUIRE(eventually([&] { return good->count() == 50 && bad->calls == 50; }));
  CHECK(eventually([&] { return bad_sub.errors() == 50; }));
  CHECK(good_sub.errors() == 0);
  CHECK(bad_sub.delivered() == 50);
}

TEST_CASE("a subscription only receives what its filter selects", "[events][bus]") {
  event_bus bus;
  auto disconnects = std::make_shared<recorder>();
  auto session7 = std::make_shared<recorder>();
  auto target_b = std::make_shared<recorder>();
  auto s1 = bus.subscribe(disconnects, event_filter::only({event_kind::session_disconnect}));
  event_filter f7;
  f7.session_id = 7;
  auto s2 = bus.subscribe(session7, f7);
  event_filter fb;
  fb.target = "iqn.b";
  auto s3 = bus.subscribe(target_b, fb);

  auto e1 = make_event(event_kind::logon, 7);
  e1.target = "iqn.a";
  auto e2 = make_event(event_kind::session_disconnect, 8);
  e2.target = "iqn.b";
  auto e3 = make_event(event_kind::session_disconnect, 7);
  e3.target = "iqn.a";
  bus.publish(e1);
  bus.publish(e2);
  bus.publish(e3);

  REQUIRE(eventually([&] { return disconnects->count() == 2 && session7->count() == 2 && target_b->count() == 1; }));
  std::this_thread::sleep_for(20ms);  // nothing more arrives
  CHECK(disconnects->seqs() == std::vector<std::uint64_t>{2, 3});
  CHECK(session7->seqs() == std::vector<std::uint64_t>{1, 3});
  CHECK(target_b->seqs() == std::vector<std::uint64_t>{2});
}

TEST_CASE("a full queue reports the exact number lost with a gap marker in place", "[events][bus]") {
  constexpr std::size_t capacity = 8;
  constexpr std::size_t overflow = 5;
  event_bus bus;
  gate release;
  auto sink = std::make_shared<recorder>();
  sink->hold_first = &release;
  subscription_options options;
  options.queue_capacity = capacity;
  auto sub = bus.subscribe(sink, {}, options);

  bus.publish(make_event(event_kind::logon));  // seq 1: taken by the drain, blocks the subscriber
  REQUIRE(eventually([&] { return sink->entered_first.load(); }));
  for (std::size_t i = 0; i < capacity + overflow; ++i) bus.publish(make_event(event_kind::logon));
  CHECK(sub.queue_depth() == capacity + 1);
  release.open();

  REQUIRE(eventually([&] { return sink->gaps().size() == 1; }));
  const auto gaps = sink->gaps();
  CHECK(gaps[0].first == 1 + capacity);  // after seq 1 and the 8 queued events
  CHECK(gaps[0].second == overflow);
  CHECK(sub.lost() == overflow);
  std::vector<std::uint64_t> expected{1, 2, 3, 4, 5, 6, 7, 8, 9};
  CHECK(sink->seqs() == expected);

  // Delivery resumes normally after the gap.
  const auto next = bus.publish(make_event(event_kind::logoff));
  REQUIRE(eventually([&] { return sink->count() == 10; }));
  CHECK(sink->seqs().back() == next);
}

TEST_CASE("unsubscribing from inside a callback stops delivery at once", "[events][bus]") {
  struct quitter : subscriber {
    subscription* self = nullptr;
    std::atomic<int> calls{0};
    void on_event(const event&) override {
      if (++calls == 5) self->unsubscribe();
    }
  };
  event_bus bus;
  auto sink = std::make_shared<quitter>();
  auto witness = std::make_shared<recorder>();
  auto sub = bus.subscribe(sink);
  sink->self = &sub;
  auto witness_sub = bus.subscribe(witness);

  for (int i = 0; i < 100; ++i) bus.publish(make_event(event_kind::logon));
  REQUIRE(eventually([&] { return witness->count() == 100; }));
  std::this_thread::sleep_for(20ms);
  CHECK(sink->calls == 5);
  CHECK_FALSE(sub.active());
}

TEST_CASE("unsubscribing while other threads publish is safe", "[events][bus]") {
  event_bus bus(2);
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    while (!stop) bus.publish(make_event(event_kind::connection_lost));
  });
  for (int round = 0; round < 200; ++round) {
    auto sink = std::make_shared<recorder>();
    auto sub = bus.subscribe(sink);
    std::this_thread::yield();
    sub.unsubscribe();
    const auto after = sink->count();
    std::this_thread::sleep_for(100us);
    // At most one callback that had already started may still finish.
    CHECK(sink->count() <= after + 1);
  }
  stop = true;
  publisher.join();
}

TEST_CASE("subscribers can be given their own executor", "[events][bus]") {
  boost::asio::thread_pool own(1);
  std::atomic<std::thread::id> seen{};
  struct where : subscriber {
    std::atomic<std::thread::id>* out;
    explicit where(std::atomic<std::thread::id>* o) : out(o) {}
    void on_event(const event&) override { *out = std::this_thread::get_id(); }
  };
  std::thread::id pool_thread;
  boost::asio::post(own, [&] { pool_thread = std::this_thread::get_id(); });
  {
    event_bus bus;
    subscription_options options;
    options.executor = own.get_executor();
    auto sub = bus.subscribe(std::make_shared<where>(&seen), {}, options);
    bus.publish(make_event(event_kind::logon));
    REQUIRE(eventually([&] { return seen.load() != std::thread::id{}; }));
  }
  own.join();
  CHECK(seen.load() == pool_thread);
}

TEST_CASE("stats list live subscriptions with their counters", "[events][bus]") {
  event_bus bus;
  auto a = std::make_shared<recorder>();
  subscription_options options;
  options.name = "metrics";
  auto sub = bus.subscribe(a, {}, options);
  {
    auto gone = bus.subscribe(std::make_shared<recorder>());
  }
  bus.publish(make_event(event_kind::logon));
  REQUIRE(eventually([&] { return a->count() == 1; }));
  const auto stats = bus.stats();
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].name == "metrics");
  CHECK(stats[0].delivered == 1);
  CHECK(stats[0].lost == 0);
}

TEST_CASE("many subscribers on the shared pool and on their own executor each get every event in order",
          "[events][bus]") {
  constexpr int events = 3000;
  boost::asio::thread_pool own(1);
  {
    event_bus bus(2);
    std::vector<std::shared_ptr<recorder>> sinks;
    std::vector<subscription> subs;
    for (int i = 0; i < 17; ++i) {
      sinks.push_back(std::make_shared<recorder>());
      subscription_options options;
      options.queue_capacity = events;
      if (i % 4 == 0) options.executor = own.get_executor();
      subs.push_back(bus.subscribe(sinks.back(), {}, options));
    }
    for (int i = 0; i < events; ++i) {
      bus.publish(make_event(event_kind::logon));
      if (i % 100 == 0) std::this_thread::sleep_for(100us);  // let queues go idle and be woken again
    }
    for (const auto& sink : sinks) {
      REQUIRE(eventually([&] { return sink->count() == events; }));
      const auto seqs = sink->seqs();
      for (std::size_t i = 0; i < seqs.size(); ++i) REQUIRE(seqs[i] == i + 1);
    }
    for (const auto& sub : subs) CHECK(sub.lost() == 0);
  }
  own.join();
}

TEST_CASE("gap markers count each overflow exactly, in place, also in a queue longer than one block",
          "[events][bus]") {
  // Blocks on chosen events so the test decides when the queue overflows.
  struct holder : subscriber {
    std::mutex mutex;
    std::vector<std::uint64_t> seqs;
    std::vector<std::pair<std::size_t, std::uint64_t>> gaps;  // (events received before, lost)
    std::uint64_t hold_seq[2] = {0, 0};
    gate* gates[2] = {nullptr, nullptr};
    std::atomic<std::uint64_t> entered{0};

    void on_event(const event& e) override {
      for (int i = 0; i < 2; ++i) {
        if (e.seq == hold_seq[i]) {
          entered = e.seq;
          gates[i]->wait();
        }
      }
      std::lock_guard lock(mutex);
      seqs.push_back(e.seq);
    }
    void on_gap(std::uint64_t lost) override {
      std::lock_guard lock(mutex);
      gaps.emplace_back(seqs.size(), lost);
    }
    std::size_t gap_count() {
      std::lock_guard lock(mutex);
      return gaps.size();
    }
  };
  constexpr std::uint64_t capacity = 600;  // spans several of the queue's internal blocks
  event_bus bus;
  gate first, second;
  auto sink = std::make_shared<holder>();
  sink->hold_seq[0] = 1;
  sink->gates[0] = &first;
  sink->hold_seq[1] = capacity + 9;  // the first event after round 1
  sink->gates[1] = &second;
  subscription_options options;
  options.queue_capacity = capacity;
  auto sub = bus.subscribe(sink, {}, options);

  // Round 1: seq 1 blocks; seqs 2..601 fill the queue; 7 more are lost.
  bus.publish(make_event(event_kind::logon));
  REQUIRE(eventually([&] { return sink->entered == 1; }));
  for (std::uint64_t i = 0; i < capacity + 7; ++i) bus.publish(make_event(event_kind::logon));
  CHECK(sub.queue_depth() == capacity + 1);
  first.open();
  REQUIRE(eventually([&] { return sink->gap_count() == 1; }));

  // Round 2: the next event blocks; the queue fills again and 3 are lost.
  const auto held = bus.publish(make_event(event_kind::logon));
  REQUIRE(held == capacity + 9);
  REQUIRE(eventually([&] { return sink->entered == held; }));
  for (std::uint64_t i = 0; i < capacity + 3; ++i) bus.publish(make_event(event_kind::logon));
  second.open();
  REQUIRE(eventually([&] { return sink->gap_count() == 2; }));

  std::lock_guard lock(sink->mutex);
  CHECK(sink->gaps[0] == std::pair<std::size_t, std::uint64_t>{1 + capacity, 7});
  CHECK(sink->gaps[1] == std::pair<std::size_t, std::uint64_t>{2 + 2 * capacity, 3});
  CHECK(sub.lost() == 10);
  REQUIRE(sink->seqs.size() == 2 + 2 * capacity);
  for (std::uint64_t i = 0; i <= capacity; ++i) CHECK(sink->seqs[i] == i + 1);
  for (std::uint64_t i = 0; i <= capacity; ++i) CHECK(sink->seqs[1 + capacity + i] == held + i);
}

TEST_CASE("a subscription may outlive its bus", "[events][bus]") {
  auto sink = std::make_shared<recorder>();
  subscription sub;
  {
    event_bus bus;
    sub = bus.subscribe(sink);
    bus.publish(make_event(event_kind::logon));
    REQUIRE(eventually([&] { return sink->count() == 1; }));
  }
  CHECK(sub.active());
  sub.unsubscribe();
  CHECK_FALSE(sub.active());
}

TEST_CASE("a bus can continue the seq numbering of an earlier run", "[events][bus]") {
  event_bus bus;
  bus.continue_after(41);
  CHECK(bus.last_seq() == 41);
  CHECK(bus.publish(make_event(event_kind::logon)) == 42);
  bus.continue_after(10);  // never goes back
  CHECK(bus.publish(make_event(event_kind::logoff)) == 43);
}
