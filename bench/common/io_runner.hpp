#pragma once
// One io_context run by one thread for a whole benchmark (the initiator is
// single_threaded); the main thread orchestrates, drives tgtd (tgtd_target
// is not thread-safe) and waits on futures.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>

#include <pthread.h>

namespace isens::bench {

class io_runner {
 public:
  // `thread_name` names the io thread (for perf report --comms).
  explicit io_runner(const char* thread_name = "isens-io")
      : guard_(io_.get_executor()), thread_([this, thread_name] {
          ::pthread_setname_np(::pthread_self(), thread_name);
          io_.run();
        }) {}
  ~io_runner() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  io_runner(const io_runner&) = delete;
  io_runner& operator=(const io_runner&) = delete;

  boost::asio::io_context& io() { return io_; }

  // Runs `work` on the io thread and waits for it, at most `limit`.
  template <class T>
  T run(boost::asio::awaitable<T> work, std::chrono::seconds limit = std::chrono::seconds(30)) {
    auto f = boost::asio::co_spawn(io_, std::move(work), boost::asio::use_future);
    if (f.wait_for(limit) != std::future_status::ready) throw std::runtime_error("an initiator call did not complete");
    return f.get();
  }

 private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace isens::bench
