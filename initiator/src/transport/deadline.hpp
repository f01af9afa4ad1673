#pragma once
// Bounding an operation in time: the operation races a timer and is
// cancelled (through Asio's per-operation cancellation) if the timer wins.

#include "isens/initiator/error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace isens::initiator::transport {

// Runs `op`; if it has not finished within `limit`, cancels it and returns `on_timeout`.
template <class T>
boost::asio::awaitable<result<T>> with_deadline(boost::asio::awaitable<result<T>> op,
                                                std::chrono::steady_clock::duration limit, error on_timeout) {
  using namespace boost::asio::experimental::awaitable_operators;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, limit);
  auto outcome = co_await (std::move(op) || timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable)));
  if (outcome.index() == 0) co_return std::get<0>(std::move(outcome));
  co_return on_timeout;
}

}  // namespace isens::initiator::transport
