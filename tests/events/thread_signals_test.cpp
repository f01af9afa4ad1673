// Helper threads never take process signals (isens/events/thread_signals.hpp):
// a thread started by start_thread_with_signals_blocked blocks every signal
// from its first instruction, its creator's mask stays as it was, and every
// thread the bus starts (delivery threads, watcher) blocks SIGTERM, SIGINT
// and SIGHUP, so a daemon's SIGTERM reaches the thread that waits for it;
// take_signals_here opens the signals it is given on its caller's thread.
// Each test opens those signals on its own thread first: a thread inherits
// its creator's mask, and a test must not pass only because whatever started
// the runner left them blocked.

#include "isens/events/event_bus.hpp"
#include "isens/events/thread_signals.hpp"

#include "thread_names.hpp"

#include <catch2/catch.hpp>

#include <pthread.h>
#include <signal.h>

#include <string>
#include <thread>
#include <vector>

using namespace isens::events;
using isens::test::blocked_signals;
using isens::test::blocks_all;
using isens::test::threads_named;

namespace {

const std::vector<int> stop_signals{SIGTERM, SIGINT, SIGHUP};

// Unblocks the stop signals on the calling thread, as they are by default
// (and stay: nothing in these suites wants them blocked).
void open_stop_signals() {
  sigset_t open;
  ::sigemptyset(&open);
  for (const int signo : stop_signals) ::sigaddset(&open, signo);
  ::pthread_sigmask(SIG_UNBLOCK, &open, nullptr);
}

sigset_t my_mask() {
  sigset_t mask;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return mask;
}

bool blocks_any_stop_signal(const sigset_t& mask) {
  for (const int signo : stop_signals) {
    if (::sigismember(&mask, signo) == 1) return true;
  }
  return false;
}

// Every signal but SIGKILL and SIGSTOP (which cannot be blocked), real-time
// ones included; the two below SIGRTMIN are the C library's own.
bool blocks_every_signal(const sigset_t& mask) {
  for (int signo = 1; signo <= SIGRTMAX; ++signo) {
    if (signo == SIGKILL || signo == SIGSTOP || (signo >= 32 && signo < SIGRTMIN)) continue;
    if (::sigismember(&mask, signo) != 1) return false;
  }
  return true;
}

// What the bus's threads block, one entry per thread found by `name`.
std::vector<std::uint64_t> masks_of_threads_named(const std::string& name) {
  std::vector<std::uint64_t> masks;
  for (const auto tid : threads_named(name)) {
    if (const auto mask = blocked_signals(tid)) masks.push_back(*mask);
  }
  return masks;
}

}  // namespace

TEST_CASE("a helper thread blocks every signal from its first instruction, and its creator's mask is untouched",
          "[events][signals]") {
  open_stop_signals();
  REQUIRE_FALSE(blocks_any_stop_signal(my_mask()));
  sigset_t seen;
  ::sigemptyset(&seen);

  SECTION("std::thread") {
    auto t = start_thread_with_signals_blocked([&seen] { seen = my_mask(); });
    t.join();
  }
  SECTION("std::jthread, with arguments") {
    sigset_t* where = &seen;
    auto t = start_thread_with_signals_blocked<std::jthread>([](sigset_t* out) { *out = my_mask(); }, where);
  }
  CHECK(blocks_every_signal(seen));
  CHECK_FALSE(blocks_any_stop_signal(my_mask()));
}

TEST_CASE("signal_blocker blocks every signal on its thread while it lives", "[events][signals]") {
  open_stop_signals();
  {
    const signal_blocker blocked;
    CHECK(blocks_every_signal(my_mask()));
  }
  CHECK_FALSE(blocks_any_stop_signal(my_mask()));
}

TEST_CASE("take_signals_here unblocks the signals it is given on its own thread", "[events][signals]") {
  open_stop_signals();
  sigset_t stop;
  ::sigemptyset(&stop);
  for (const int signo : stop_signals) ::sigaddset(&stop, signo);
  ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  take_signals_here({SIGTERM, SIGINT});
  const auto mask = my_mask();
  CHECK(::sigismember(&mask, SIGTERM) == 0);
  CHECK(::sigismember(&mask, SIGINT) == 0);
  CHECK(::sigismember(&mask, SIGHUP) == 1);  // not given: left as it was
  open_stop_signals();
}

TEST_CASE("every thread the bus starts blocks SIGTERM, SIGINT and SIGHUP", "[events][signals][bus]") {
  open_stop_signals();
  SECTION("two delivery threads and a watcher") {
    event_bus bus;
    const auto delivery = masks_of_threads_named("isens-delivery");
    const auto watcher = masks_of_threads_named("isens-watcher");
    REQUIRE(delivery.size() == 2);
    REQUIRE(watcher.size() == 1);
    for (const auto mask : delivery) CHECK(blocks_all(mask, stop_signals));
    for (const auto mask : watcher) CHECK(blocks_all(mask, stop_signals));
  }
  SECTION("one delivery thread, no watcher") {
    event_bus bus(1);
    const auto delivery = masks_of_threads_named("isens-delivery");
    REQUIRE(delivery.size() == 1);
    CHECK(blocks_all(delivery.front(), stop_signals));
  }
  // The test's own thread still takes them.
  CHECK_FALSE(blocks_any_stop_signal(my_mask()));
}
