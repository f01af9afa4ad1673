#pragma once
// Walks a byte stream the way a receiver frames it, for fuzzers that set
// fields right before sending what a fuzzer could not guess (tags, CRCs).

#include "protocol/crc32c.hpp"
#include "protocol/pdu.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace isens::fuzz {

// Calls visit(at, layout) for each PDU of `stream` whose BHS is whole, `at`
// being where it starts and `layout` what its BHS announces under `digests`
// (the PDU may run past the end of the stream).
template <class Visit>
void for_each_frame(std::span<const std::uint8_t> stream, initiator::protocol::digest_settings digests, Visit visit) {
  namespace proto = initiator::protocol;
  for (std::size_t at = 0; stream.size() - at >= proto::bhs_size;) {
    const std::uint8_t* bhs = stream.data() + at;
    proto::frame_layout layout;
    layout.ahs_length = std::uint32_t{bhs[4]} * 4;
    layout.header_digest_length = digests.header ? proto::digest_size : 0;
    layout.data_segment_length = static_cast<std::uint32_t>(proto::load_be(bhs + 5, 3));
    layout.data_padding = (4 - layout.data_segment_length % 4) % 4;
    layout.data_digest_length = digests.data && layout.data_segment_length > 0 ? proto::digest_size : 0;
    visit(at, layout);
    const std::size_t whole = proto::bhs_size + layout.rest_length();
    if (whole > stream.size() - at) return;
    at += whole;
  }
}

}  // namespace isens::fuzz
