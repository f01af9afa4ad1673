// libFuzzer target: untrusted key=value text through parsing, negotiation
// and CHAP (the login-time consumers of target text).
#include "protocol/chap.hpp"
#include "protocol/negotiation.hpp"
#include "protocol/text_keys.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace isens::initiator::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto keys = parse_text(byte_span(data, size));
  if (!keys) return 0;
  // The login negotiates from views of its receive buffer.
  const auto views = parse_text_views(byte_span(data, size));
  if (!views) std::abort();

  // Whatever parses must survive a round trip through append_text.
  byte_buffer again;
  append_text(again, *keys);
  auto reparsed = parse_text(again);
  if (!reparsed || *reparsed != *keys) std::abort();

  initiator_preferences prefs;
  prefs.header_digests = {digest_type::crc32c, digest_type::none};
  for (bool leading : {true, false}) {
    negotiator n(prefs);
    byte_buffer offer;
    n.append_offer(offer, session_type::normal, leading);
    if (n.apply_response_views(*views)) {
      (void)n.answers_to_target_offers();
      if (n.finish()) {
        const auto& p = n.parameters();
        if (p.first_burst_length > p.max_burst_length) std::abort();
      }
    }
  }

  chap_initiator one_way({"initiator", "initiator-secret"});
  (void)one_way.respond(*keys);
  chap_initiator mutual({"initiator", "initiator-secret"}, chap_credentials{"target", "target-secret"});
  if (mutual.respond(*keys)) (void)mutual.verify_target(*keys);
  for (const auto& [key, value] : *keys) {
    (void)decode_binary(value);
    (void)parse_number(value);
  }
  return 0;
}
