#pragma once
// Scripts for a portal of the scripted target that the failover suites
// share (failover_portal_test.cpp, failover_async_message_test.cpp): a
// discovery session answered, a login refused as retryable.

#include "scripted_target.hpp"

#include <boost/asio/awaitable.hpp>

#include <utility>

namespace isens::test {

// A discovery session: login, one SendTargets answer, logout.
inline boost::asio::awaitable<void> serve_discovery(scripted_connection& c, initiator::protocol::key_values answer) {
  co_await c.accept_login();
  co_await c.answer_send_targets(std::move(answer));
  co_await c.serve_until_logout();
}

// Refuses a login as "service unavailable": retryable, not an auth failure.
inline boost::asio::awaitable<void> refuse_as_unavailable(scripted_connection& c) {
  initiator::protocol::key_values no_keys;  // named: a defaulted {} would be a temporary inside co_await (GCC 12)
  co_await c.refuse_login(0x03, 0x01, std::move(no_keys));
}

}  // namespace isens::test
