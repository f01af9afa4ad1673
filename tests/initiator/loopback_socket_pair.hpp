// What the transport tests share: a connected pair of real loopback
// sockets, and a bounded way to run one coroutine on an io_context.
#pragma once

#include <catch2/catch.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>

namespace isens::test {

/// A connected pair of loopback sockets, both on `io`.
struct loopback_socket_pair {
  explicit loopback_socket_pair(boost::asio::io_context& io) : ours(io), theirs(io) {
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::address_v4::loopback(), 0});
    ours.connect(acceptor.local_endpoint());
    acceptor.accept(theirs);
  }
  boost::asio::ip::tcp::socket ours;
  boost::asio::ip::tcp::socket theirs;
};

/// Runs `work` to its end, or fails the test if it is still going after
/// 10 s (a deadline that never fired would otherwise hang the suite).
template <class T>
T run_bounded(boost::asio::io_context& io, boost::asio::awaitable<T> work) {
  using namespace std::chrono_literals;
  auto future = boost::asio::co_spawn(io, std::move(work), boost::asio::use_future);
  io.run_for(10s);
  io.restart();
  REQUIRE(future.wait_for(0s) == std::future_status::ready);
  return future.get();
}

}  // namespace isens::test
