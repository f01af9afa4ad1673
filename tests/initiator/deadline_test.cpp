// The time bounds of the transport: a socket_deadline closes its socket when
// the limit passes (and only then), and tcp_connect turns a connect that gets
// no answer into connect_timeout. Real loopback sockets, no target needed.
#include "transport/deadline.hpp"
#include "transport/tcp_connect.hpp"

#include "loopback_socket_pair.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using isens::test::loopback_socket_pair;
using isens::test::run_bounded;
using isens::initiator::transport::socket_deadline;

struct read_outcome {
  boost::system::error_code error;
  bool expired = false;
  std::chrono::steady_clock::duration took{};
};

// Reads one byte from `pair.ours` under a deadline of `limit`.
asio::awaitable<read_outcome> read_one_byte(loopback_socket_pair& pair, std::chrono::milliseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  socket_deadline deadline(pair.ours, limit);
  std::array<char, 1> byte{};
  auto [ec, n] = co_await asio::async_read(pair.ours, asio::buffer(byte), asio::as_tuple(asio::use_awaitable));
  co_return read_outcome{ec, deadline.expired(), std::chrono::steady_clock::now() - start};
}

}  // namespace

TEST_CASE("a read that gets nothing is ended by the socket deadline, which closes the socket", "[initiator][transport]") {
  asio::io_context io(1);
  loopback_socket_pair pair(io);
  const auto outcome = run_bounded(io, read_one_byte(pair, 100ms));
  CHECK(outcome.error);  // the pending read failed rather than hanging
  CHECK(outcome.expired);
  CHECK(outcome.took >= 100ms);
  CHECK(outcome.took < 5s);
  CHECK_FALSE(pair.ours.is_open());
}

TEST_CASE("a read answered in time is untouched by the socket deadline", "[initiator][transport]") {
  asio::io_context io(1);
  loopback_socket_pair pair(io);
  asio::write(pair.theirs, asio::buffer("x", 1));
  const auto outcome = run_bounded(io, read_one_byte(pair, 200ms));
  CHECK_FALSE(outcome.error);
  CHECK_FALSE(outcome.expired);
  // The deadline is gone with its scope: well past the limit the socket still works.
  asio::steady_timer pause(io, 400ms);
  pause.wait();
  io.run();  // lets a late expiry run, if one were (wrongly) still pending
  CHECK(pair.ours.is_open());
  asio::write(pair.theirs, asio::buffer("y", 1));
  std::array<char, 1> byte{};
  CHECK(asio::read(pair.ours, asio::buffer(byte)) == 1);
  CHECK(byte[0] == 'y');
}

TEST_CASE("a restarted socket deadline fires at its new limit, later or earlier than the first",
          "[initiator][transport]") {
  // Reads one byte under a deadline armed with `first` and restarted with
  // `then` after 50 ms: the next step of the same work (connect, then login).
  const auto read_after_restart = [](loopback_socket_pair& pair, std::chrono::milliseconds first,
                                     std::chrono::milliseconds then) -> asio::awaitable<read_outcome> {
    const auto start = std::chrono::steady_clock::now();
    socket_deadline deadline(pair.ours, first);
    asio::steady_timer step(pair.ours.get_executor(), 50ms);
    co_await step.async_wait(asio::use_awaitable);
    deadline.restart(then);
    std::array<char, 1> byte{};
    auto [ec, n] = co_await asio::async_read(pair.ours, asio::buffer(byte), asio::as_tuple(asio::use_awaitable));
    co_return read_outcome{ec, deadline.expired(), std::chrono::steady_clock::now() - start};
  };

  SECTION("later: the first limit passes without closing the socket") {
    asio::io_context io(1);
    loopback_socket_pair pair(io);
    const auto outcome = run_bounded(io, read_after_restart(pair, 100ms, 300ms));
    CHECK(outcome.error);
    CHECK(outcome.expired);
    CHECK(outcome.took >= 350ms);  // 50 ms + the new 300 ms, not the first 100 ms
    CHECK(outcome.took < 5s);
  }
  SECTION("earlier: the new limit cuts the first one short") {
    asio::io_context io(1);
    loopback_socket_pair pair(io);
    const auto outcome = run_bounded(io, read_after_restart(pair, 3000ms, 100ms));
    CHECK(outcome.error);
    CHECK(outcome.expired);
    CHECK(outcome.took >= 150ms);
    CHECK(outcome.took < 2s);
  }
  SECTION("disarmed after a restart to an earlier limit: the socket is left open") {
    asio::io_context io(1);
    loopback_socket_pair pair(io);
    {
      socket_deadline deadline(pair.ours, 300ms);
      CHECK(deadline.limit() == 300ms);
      deadline.restart(100ms);  // earlier: a new wait is armed, which leaving the scope must cancel
      CHECK(deadline.limit() == 100ms);  // what a timeout message names
    }
    asio::steady_timer pause(io, 300ms);
    pause.wait();
    io.run();  // lets a late expiry run, if one were (wrongly) still pending
    CHECK(pair.ours.is_open());
  }
}

TEST_CASE("a connect whose SYN is never answered fails with connect_timeout at the limit", "[initiator][transport]") {
  // A listener that never accepts, with its accept queue already full: Linux
  // then drops further SYNs, which is what an unreachable portal looks like.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 0) == 0);
  socklen_t length = sizeof addr;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
  const auto port = ntohs(addr.sin_port);

  // Plain non-blocking connects (Asio's blocking connect would wait for them).
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {  // fill the accept queue (backlog 0 holds one)
    fillers.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    REQUIRE(fillers.back() >= 0);
    (void)::connect(fillers.back(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // EINPROGRESS
  }

  asio::io_context io(1);
  tcp::socket socket(io);
  const isens::initiator::portal where{"127.0.0.1", port};
  const auto start = std::chrono::steady_clock::now();
  const socket_deadline deadline(socket, 300ms);
  const auto connected = run_bounded(io, isens::initiator::transport::tcp_connect(socket, where, deadline));
  const auto took = std::chrono::steady_clock::now() - start;
  for (const int fd : fillers) ::close(fd);
  ::close(listener);
  REQUIRE_FALSE(connected);
  CHECK(connected.error().code == make_error_code(isens::initiator::errc::connect_timeout));
  CHECK_THAT(connected.error().what(), Catch::Matchers::Contains("300 ms"));
  CHECK(took >= 300ms);
  CHECK(took < 5s);
}
