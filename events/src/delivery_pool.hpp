#pragma once
// The bus's own delivery threads. They run the drains of every delivery
// queue that uses the bus's default executor.
//
// Why not an asio::thread_pool (the first design): one publish to 16 idle
// subscribers schedules 16 drains, and Asio's scheduler takes its mutex and
// may wake a thread for each; the threads then ping-pong over that mutex.
// Here a drain is taken from a short list under a lock held for a push or
// a pop, and a thread with nothing to do sleeps on a futex of its own, so a
// submitter wakes exactly the thread it picked, and only when no thread is
// awake and free for the work.
//
// Isolation: a thread runs one queue's drain at a time, and whoever leaves
// drains waiting behind it makes sure another thread is awake for them. A
// subscriber stuck in a callback therefore holds up only its own queue. The
// price: a publish that wakes several idle subscribers wakes a second
// thread too, the dearest step of a delivery on a VM. Two cheaper designs
// were measured and dropped: waking the second thread only when a sleep
// timer found work left behind (a blocked subscriber then delayed the
// others by up to a millisecond), and spinning instead of sleeping (it
// starved other threads on 2 vCPUs into millisecond tails).

#include <atomic>
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

class delivery_pool {
 public:
  explicit delivery_pool(std::size_t threads);
  // Runs everything submitted (and whatever that submits), then joins.
  ~delivery_pool();
  delivery_pool(const delivery_pool&) = delete;
  delivery_pool& operator=(const delivery_pool&) = delete;

  void submit(std::shared_ptr<pool_task> task);
  // Submits all of `tasks` at once (one lock, at most one wake-up per
  // thread) and clears it.
  void submit(std::vector<std::shared_ptr<pool_task>>& tasks);

 private:
  // A worker's state, a futex word while it sleeps.
  enum state : std::uint32_t { busy, looking, asleep };
  struct worker {
    std::atomic<std::uint32_t> now{looking};
    std::thread thread;
  };
  // Guards the ready list; held for a push or a pop only, so waiting for it
  // spins instead of sleeping in the kernel.
  class spin_mutex {
   public:
    void lock() noexcept;
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

   private:
    std::atomic<bool> locked_{false};
  };

  void stop_and_join();
  void work(worker& self);
  std::shared_ptr<pool_task> take(worker& self);
  // Returns when there may be work, or false once the pool stops.
  bool wait_for_work(worker& self);
  // Wakes sleeping threads until `pending` waiting drains have a thread
  // awake and free for them (or none sleeps).
  void wake_for(std::size_t pending);
  bool wake(worker& w);  // false when it was not asleep

  spin_mutex ready_mutex_;
  std::deque<std::shared_ptr<pool_task>> ready_;  // guarded by ready_mutex_
  alignas(64) std::atomic<std::size_t> pending_{0};  // ready_.size(), readable without the lock
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<worker>> workers_;
};

}  // namespace isens::events::detail
