#pragma once
// The bus's own delivery threads. They run the drains of every delivery
// queue that uses the bus's default executor.
//
// Drains wait in a short list under a lock held for a push or a pop; a
// thread with nothing to do sleeps on a futex of its own.
//
// Waking a thread is the dear part. On a VM, waking one that sleeps on
// another CPU costs the waker 10-15 µs (an inter-processor interrupt is a
// VM exit), and arming a timer 8 µs. Waking one on the waker's own CPU
// costs about 1 µs, and memory is cheap to watch from another CPU. So:
//  - A thread is always woken on the waker's CPU (wake_here: it is pinned
//    there while it sleeps and takes its own CPUs back before its first
//    task), so it starts with no interrupt, usually by preempting the
//    waker.
//  - While events flow, a watcher thread spins at SCHED_IDLE priority, so
//    it runs only on a CPU that would otherwise idle, and any other thread
//    that wakes there preempts it. A submitter that sees it spinning on
//    another CPU leaves the wake-up to it: the watcher starts a thread on
//    its CPU at once, in parallel with whatever the submitter does next.
//  - Isolation: a drain may run a subscriber that blocks, so the drains
//    waiting behind it need another thread. When drains wait and none has
//    been taken for `rescue_after`, the watcher starts another thread for
//    them. So a subscriber that blocks holds up the others woken with it
//    by at most `rescue_after` plus a wake-up, then only itself. While the
//    watcher is parked, a thread that leaves drains waiting behind it wakes
//    a second one at once, as an asio::thread_pool would (10-15 µs).
//  - The watcher steps aside (parks) when a thread it woke on its CPU has
//    not started within `rescue_after`, or when every thread is busy: the
//    scheduler (EEVDF) can let a SCHED_IDLE thread run on for up to a tick
//    ahead of a queued thread that has used more than its share. It also
//    parks `watch_for` after the pool was last active; the next thread to
//    go to sleep wakes it again, off the delivery path.
// Measured in bench/README.md ("bus"). Dropped after measuring: spinning
// delivery threads at normal priority (they starved other threads on two
// vCPUs into millisecond tails), a 1 ms sleep timer for the rescue (a
// blocked subscriber delayed the others by up to that), a rescue timer
// armed per batch (no cheaper than the wake-up it saves), and a watcher
// that woke threads wherever they had slept (they landed on the
// publisher's CPU and waited for it to sleep, 10-30 µs).

#include <sched.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

namespace isens::events::detail {

// What the pool runs: one drain of a delivery queue.
class pool_task {
 public:
  virtual void run() = 0;

 protected:
  ~pool_task() = default;
};

struct delivery_pool_options {
  std::size_t threads = 2;
  // How long the watcher keeps watching after the pool was last busy; zero:
  // no watcher, every leftover drain wakes a second thread at once.
  std::chrono::nanoseconds watch_for = std::chrono::milliseconds(1);
  // How long waiting drains may see no progress before the watcher wakes
  // another thread for them.
  std::chrono::nanoseconds rescue_after = std::chrono::microseconds(20);
};

class delivery_pool {
 public:
  explicit delivery_pool(delivery_pool_options options);
  // Runs everything submitted (and whatever that submits), then joins.
  ~delivery_pool();
  delivery_pool(const delivery_pool&) = delete;
  delivery_pool& operator=(const delivery_pool&) = delete;

  void submit(std::shared_ptr<pool_task> task);
  // Submits all of `tasks` at once (one lock, at most one wake-up) and
  // clears it.
  void submit(std::vector<std::shared_ptr<pool_task>>& tasks);
  // For a task running on this pool that must run again: queued behind the
  // others, with no wake-up, since the calling thread is about to be free.
  void resubmit(std::shared_ptr<pool_task> task);

 private:
  // A thread's state, a futex word while it sleeps. `pinning`: wake_here()
  // is moving it from `asleep` to `looking` and it waits for that.
  enum state : std::uint32_t { busy, looking, asleep, pinning };
  // `absent`: no watcher (one thread, watch_for zero, or SCHED_IDLE refused).
  enum watcher_state : std::uint32_t { parked, watching, absent };
  struct worker {
    std::atomic<std::uint32_t> now{looking};
    std::atomic<bool> moved{false};  // pinned by wake_here(): restore its CPUs before the next task
    std::atomic<int> cpu{-1};        // where it was last seen: pinned by wake_here(), or taking a drain; -1: unknown
    std::atomic<std::int64_t> took_at{0};  // steady-clock ns of its last take
    std::atomic<pid_t> tid{0};       // 0 until the thread runs
    cpu_set_t home{};                // the CPUs it started with (its own to touch)
    std::thread thread;
  };
  // Guards the ready list; held for a push or a pop only, so a thread that
  // finds it taken spins a little first, then sleeps on a futex. (Not
  // sched_yield: that can hand the CPU to the SCHED_IDLE watcher for the
  // rest of a scheduler tick, a millisecond.)
  class brief_mutex {
   public:
    void lock() noexcept;
    void unlock() noexcept;

   private:
    enum : std::uint32_t { unlocked, locked, contended };
    std::atomic<std::uint32_t> state_{unlocked};
  };

  void start_threads();
  void stop_and_join();
  void work(worker& self);
  std::shared_ptr<pool_task> take(worker& self);
  // Returns when there may be work, or false once the pool stops.
  bool wait_for_work(worker& self);
  void push(std::shared_ptr<pool_task> task);  // under ready_mutex_
  void start_a_thread();  // after a submit
  void wake_one_unless_one_looks();
  bool wake(worker& w);  // false when it was not asleep
  // True while the watcher spins on another CPU than the caller's: then it
  // sees new drains at once and can start a thread there.
  bool watcher_on_duty(int my_cpu) const noexcept;
  // Wakes a sleeping thread on `cpu`, the caller's own: pinned there first,
  // so no interrupt goes to another CPU. False when none sleeps.
  bool wake_here(int cpu);

  void watch();                  // the watcher thread's loop
  void watch_while_active();     // spins until watch_for has passed without activity
  void wake_watcher();
  bool any_worker(state s) const noexcept;
  // A thread that should be running was last seen on `cpu` at time `t`:
  // woken there and not started, or in the middle of a burst of drains.
  // The watcher, there, may be what keeps it from running.
  bool held_up_on(int cpu, std::int64_t t) const noexcept;

  const delivery_pool_options options_;
  brief_mutex ready_mutex_;
  std::deque<std::shared_ptr<pool_task>> ready_;     // guarded by ready_mutex_
  alignas(64) std::atomic<std::size_t> pending_{0};  // ready_.size(), readable without the lock
  std::atomic<std::uint64_t> taken_{0};              // drains taken so far: the watcher's measure of progress
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<worker>> workers_;
  alignas(64) std::atomic<std::uint32_t> watcher_{parked};  // a futex word while parked
  alignas(64) std::atomic<std::int64_t> watcher_beat_{0};  // steady-clock ns of the watcher's last look
  std::atomic<int> watcher_cpu_{-1};                       // the CPU of that look
  std::atomic<bool> watcher_stopping_{false};
  std::thread watcher_thread_;
};

}  // namespace isens::events::detail
