#pragma once
// Running facade calls (awaitables) from a test's thread on an io_context
// that another thread runs: the test harnesses' start() and run().

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <stdexcept>

namespace isens::test {

// Starts `call` on `io` without waiting for it.
template <class T>
std::future<T> start_on(boost::asio::io_context& io, boost::asio::awaitable<T> call) {
  return boost::asio::co_spawn(io, std::move(call), boost::asio::use_future);
}

// Runs `call` on `io` to its end; throws if it takes longer than `limit`.
template <class T>
T run_on(boost::asio::io_context& io, boost::asio::awaitable<T> call, std::chrono::seconds limit) {
  auto future = start_on(io, std::move(call));
  if (future.wait_for(limit) != std::future_status::ready) throw std::runtime_error("facade call did not finish");
  return future.get();
}

}  // namespace isens::test
