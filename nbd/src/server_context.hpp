#pragma once
// What every client connection of a server shares: the initiator, the bus,
// the options, the export table and the live connections. Connections hold
// it by shared_ptr, so it outlives their last handler.

#include "export_table.hpp"
#include "isens/nbd/server.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>

namespace isens::nbd::detail {

class client_connection;

struct server_context {
  server_context(boost::asio::any_io_executor ex, initiator::initiator& i, events::event_bus& b, server_options o)
      : executor(std::move(ex)), ini(i), bus(b), options(std::move(o)) {}

  boost::asio::any_io_executor executor;  // the server's, never run by two threads at once
  initiator::initiator& ini;
  events::event_bus& bus;
  server_options options;
  export_table exports;
  // ---- on the executor only ----
  std::map<std::uint64_t, std::weak_ptr<client_connection>> connections;
  std::uint64_t next_client_id = 1;
  bool stopped = false;
};

}  // namespace isens::nbd::detail
