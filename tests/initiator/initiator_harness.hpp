#pragma once
// Runs an isens initiator for a test: an io_context on its own thread, a
// bus, an event recorder, and a way to run facade calls to completion.

#include "facade_calls.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/initiator/initiator.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace isens::test {

// Records every event; tests wait for the ones they expect.
class event_recorder : public events::subscriber {
 public:
  void on_event(const events::event& e) override {
    std::lock_guard lock(mutex_);
    events_.push_back(e);
    changed_.notify_all();
  }

  std::vector<events::event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

  // The kinds recorded so far, in delivery order.
  std::vector<events::event_kind> kinds() const {
    std::vector<events::event_kind> out;
    for (const auto& e : events()) out.push_back(e.kind);
    return out;
  }

  // Waits until `count` events have arrived (false after `limit`).
  bool wait_for_count(std::size_t count, std::chrono::milliseconds limit = std::chrono::seconds(15)) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return events_.size() >= count; });
  }

  // Waits for an event of `kind` and returns it; throws after `limit`.
  events::event wait_for(events::event_kind kind, std::chrono::milliseconds limit = std::chrono::seconds(15)) const {
    std::unique_lock lock(mutex_);
    const events::event* found = nullptr;
    const bool ok = changed_.wait_for(lock, limit, [&] {
      for (const auto& e : events_)
        if (e.kind == kind) return (found = &e) != nullptr;
      return false;
    });
    if (!ok) throw std::runtime_error("no " + std::string(events::to_string(kind)) + " event arrived in time");
    return *found;
  }

  void clear() {
    std::lock_guard lock(mutex_);
    events_.clear();
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<events::event> events_;
};

// An initiator running on a private io_context thread.
class initiator_harness {
 public:
  explicit initiator_harness(initiator::initiator_options options = quick_options())
      : work_(io_.get_executor()),
        recorder_(std::make_shared<event_recorder>()),
        subscription_(bus_.subscribe(recorder_)),
        initiator_(io_.get_executor(), bus_, std::move(options)),
        thread_([this] { io_.run(); }) {}

  ~initiator_harness() {
    run(initiator_.shutdown());
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Options with short timeouts so failing tests fail fast.
  static initiator::initiator_options quick_options() {
    initiator::initiator_options o;
    o.initiator_name = "iqn.2026-11.org.isens:test";
    o.connect_timeout = std::chrono::milliseconds(2000);
    o.login_timeout = std::chrono::milliseconds(3000);
    o.command_timeout = std::chrono::milliseconds(3000);
    o.nop_interval = std::chrono::milliseconds(0);
    return o;
  }

  // Starts a facade call on the initiator's thread without waiting for it.
  template <class T>
  std::future<T> start(boost::asio::awaitable<T> call) {
    return start_on(io_, std::move(call));
  }

  // Runs a facade call to completion on the initiator's thread.
  template <class T>
  T run(boost::asio::awaitable<T> call, std::chrono::seconds limit = std::chrono::seconds(30)) {
    return run_on(io_, std::move(call), limit);
  }

  initiator::initiator& initiator() { return initiator_; }
  // The initiator's thread, for work that must run there.
  boost::asio::io_context::executor_type executor() { return io_.get_executor(); }
  event_recorder& recorder() { return *recorder_; }
  events::event_bus& bus() { return bus_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  events::event_bus bus_{1};
  std::shared_ptr<event_recorder> recorder_;
  events::subscription subscription_;
  initiator::initiator initiator_;
  std::thread thread_;
};

}  // namespace isens::test
