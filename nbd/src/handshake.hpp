#pragma once
// The fixed newstyle handshake: greeting, client flags, then options until
// the client picks an export (GO or EXPORT_NAME), aborts, or misbehaves.

#include "export_table.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>

#include <memory>
#include <optional>
#include <string>

namespace isens::nbd::detail {

// How the client and the server agreed to talk.
struct negotiated {
  std::shared_ptr<export_state> chosen;
  bool structured_replies = false;
  std::uint16_t transmission_flags = 0;
};

// Negotiates on `socket`. Returns the export chosen, or nothing when the
// client ended the handshake (ABORT, an unknown EXPORT_NAME, bad flags or
// garbage); `why` then says what happened. Socket errors throw.
boost::asio::awaitable<std::optional<negotiated>> negotiate(boost::asio::generic::stream_protocol::socket& socket,
                                                            const export_table& exports, std::string& why);

}  // namespace isens::nbd::detail
