#pragma once
// The completion token of the daemon's socket calls: the error comes back as
// a value, so a peer that goes away is a return, not an exception. One
// definition, so that files compiled together (CMAKE_UNITY_BUILD) agree.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace isens::daemon {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace isens::daemon
