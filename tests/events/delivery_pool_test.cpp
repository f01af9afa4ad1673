// The bus's delivery threads (events/src/delivery_pool): a task that blocks
// holds up no task submitted with it, whichever way the pool finds a second
// thread (the spinning watcher's rescue, or an immediate wake-up); a thread
// pinned to be woken on the waker's CPU gets its CPUs back before it runs a
// task; and the watcher stops using a CPU once events stop.

#include "delivery_pool.hpp"
#include "thread_names.hpp"
#include "eventually.hpp"
#include "thread_sync.hpp"

#include <catch2/catch.hpp>

#include <sched.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace isens::events::detail;
using isens::events::test::gate;
using isens::test::threads_named;
using isens::test::eventually;
using namespace std::chrono_literals;

namespace {

class callback_task final : public pool_task {
 public:
  explicit callback_task(std::function<void()> body) : body_(std::move(body)) {}
  void run() override { body_(); }

 private:
  std::function<void()> body_;
};

std::shared_ptr<pool_task> task(std::function<void()> body) {
  return std::make_shared<callback_task>(std::move(body));
}

delivery_pool_options with_watcher() { return {.threads = 2}; }
delivery_pool_options without_watcher() { return {.threads = 2, .watch_for = 0ns}; }

// The scheduler's state letter of thread `tid` ('R' running, 'S' sleeping…).
char thread_state(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  return close == std::string::npos || close + 2 >= text.size() ? '?' : text[close + 2];
}

}  // namespace

TEST_CASE("a task that blocks holds up none of the tasks submitted with it", "[events][pool]") {
  const auto options = GENERATE(with_watcher(), without_watcher());
  INFO("watcher: " << (options.watch_for > 0ns ? "on" : "off"));
  delivery_pool pool(options);
  gate release;
  std::atomic<int> others{0};
  // Warm the pool up first, so the watcher (if any) is watching when the
  // batch that blocks comes in.
  std::atomic<int> warm{0};
  for (int i = 0; i < 20; ++i) {
    pool.submit(task([&] { warm.fetch_add(1); }));
    std::this_thread::sleep_for(100us);
  }
  REQUIRE(eventually([&] { return warm.load() == 20; }));

  std::vector<std::shared_ptr<pool_task>> batch;
  batch.push_back(task([&] { release.wait(); }));  // first in line, stuck until the others ran
  for (int i = 0; i < 15; ++i) batch.push_back(task([&] { others.fetch_add(1); }));
  pool.submit(batch);

  CHECK(eventually([&] { return others.load() == 15; }));
  release.open();
}

TEST_CASE("a resubmitted task runs again, and destroying the pool runs what is queued", "[events][pool]") {
  std::atomic<int> runs{0};
  {
    delivery_pool pool(with_watcher());
    struct again final : pool_task, std::enable_shared_from_this<again> {
      delivery_pool* pool = nullptr;
      std::atomic<int>* runs = nullptr;
      void run() override {
        if (runs->fetch_add(1) + 1 < 100) pool->resubmit(shared_from_this());
      }
    };
    auto t = std::make_shared<again>();
    t->pool = &pool;
    t->runs = &runs;
    pool.submit(t);
  }
  CHECK(runs.load() == 100);
}

TEST_CASE("a thread woken on the waker's CPU runs its tasks free to use every CPU it started with",
          "[events][pool]") {
  cpu_set_t process_cpus;
  REQUIRE(::sched_getaffinity(0, sizeof process_cpus, &process_cpus) == 0);
  const int expected = CPU_COUNT(&process_cpus);

  delivery_pool pool(with_watcher());
  std::atomic<int> narrowed{0};
  std::atomic<int> ran{0};
  constexpr int events = 300;
  for (int i = 0; i < events; ++i) {
    std::vector<std::shared_ptr<pool_task>> batch;
    for (int j = 0; j < 4; ++j) {
      batch.push_back(task([&] {
        cpu_set_t now;
        ::sched_getaffinity(0, sizeof now, &now);
        if (CPU_COUNT(&now) != expected) narrowed.fetch_add(1);
        ran.fetch_add(1);
      }));
    }
    pool.submit(batch);
    std::this_thread::sleep_for(100us);  // idle between batches: hand-offs, not a busy pool
  }
  REQUIRE(eventually([&] { return ran.load() == events * 4; }));
  CHECK(narrowed.load() == 0);
}

TEST_CASE("the watcher runs at idle priority and stops spinning once events stop", "[events][pool]") {
  delivery_pool pool(with_watcher());
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) {
    pool.submit(task([&] { ran.fetch_add(1); }));
    std::this_thread::sleep_for(100us);
  }
  REQUIRE(eventually([&] { return ran.load() == 50; }));

  const auto watchers = threads_named("isens-watcher");
  REQUIRE(watchers.size() == 1);
  const pid_t watcher = watchers.front();
  CHECK(::sched_getscheduler(watcher) == SCHED_IDLE);
  // watch_for (1 ms) after the last task it parks on a futex: sleeping, not
  // running, so an idle bus costs no CPU.
  CHECK(eventually([&] { return thread_state(watcher) == 'S'; }, 5s));
}

TEST_CASE("a pool of one thread has no watcher", "[events][pool]") {
  delivery_pool pool({.threads = 1});
  std::atomic<int> ran{0};
  pool.submit(task([&] { ran.fetch_add(1); }));
  REQUIRE(eventually([&] { return ran.load() == 1; }));
  CHECK(threads_named("isens-watcher").empty());
}
