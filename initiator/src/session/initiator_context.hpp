#pragma once
// What every session of one initiator shares: the executor, the bus, the
// service-wide options and the id counters.

#include "isens/events/event_bus.hpp"
#include "isens/initiator/types.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <cstdint>

namespace isens::initiator::detail {

struct initiator_context {
  initiator_context(boost::asio::any_io_executor ex, events::event_bus& b, initiator_options o)
      : executor(std::move(ex)), bus(b), options(std::move(o)) {}

  boost::asio::any_io_executor executor;
  events::event_bus& bus;
  initiator_options options;
  std::atomic<std::uint64_t> next_session_id{1};
  std::atomic<std::uint64_t> next_connection_id{1};
  std::atomic<std::uint32_t> next_isid_qualifier{1};
};

// A new ISID of the "random" type (RFC 7143 §11.12.5: T=10b, 24 random bits
// in B and C, and a qualifier in D), unique for the life of the service.
std::uint64_t make_isid(initiator_context& context);

}  // namespace isens::initiator::detail
