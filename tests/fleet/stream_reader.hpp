// Reads back what a JetStream stream holds, message by message (js_GetMsg),
// so the fleet tests check the stream itself, not what the bridge believes.
#pragma once

#include <isens/fleet/nats_options.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace isens::test {

/// One stored message.
struct stored_message {
  std::uint64_t stream_seq = 0;
  std::string subject;
  std::string msg_id;     ///< Nats-Msg-Id
  std::uint64_t seq = 0;  ///< Isens-Seq
  std::string body;
};

/// Every message of `stream` (empty when the stream does not exist), in
/// stream order. Throws fleet::nats_error when the server cannot be asked.
std::vector<stored_message> read_stream(const std::string& url, const std::string& stream);

/// The Isens-Seq of each message, in stream order.
std::vector<std::uint64_t> seqs_of(const std::vector<stored_message>& messages);

/// 1, 2, …, n.
std::vector<std::uint64_t> one_to(std::uint64_t n);

/// Options for a bridge or client on `url` that retry fast (tests).
fleet::nats_options fast_nats_options(const std::string& url);

}  // namespace isens::test
