#include "protocol/pdu.hpp"

#include "protocol/crc32c.hpp"

#include <boost/assert.hpp>

#include <algorithm>
#include <string>

namespace isens::initiator::protocol {
namespace {

[[maybe_unused]] constexpr std::size_t max_ahs_bytes = 255 * 4;  // TotalAHSLength is one byte of words

constexpr std::uint32_t pad4(std::size_t n) noexcept { return static_cast<std::uint32_t>((4 - n % 4) % 4); }

// Opcodes whose PDUs never carry a data segment (RFC 7143 §11: the field is
// "reserved"/zero for them).
bool must_not_carry_data(std::uint8_t op) noexcept {
  switch (static_cast<opcode>(op)) {
    case opcode::r2t:
    case opcode::logout_response:
    case opcode::task_mgmt_response:
    case opcode::logout_request:
    case opcode::task_mgmt_request:
    case opcode::snack_request: return true;
    default: return false;
  }
}

// The layout a BHS announces, before any policy check.
frame_layout layout_of(std::span<const std::uint8_t, bhs_size> bhs, digest_settings digests) noexcept {
  frame_layout l;
  l.ahs_length = std::uint32_t{bhs[4]} * 4;
  l.header_digest_length = digests.header ? digest_size : 0;
  l.data_segment_length = static_cast<std::uint32_t>(load_be(bhs.data() + 5, 3));
  l.data_padding = pad4(l.data_segment_length);
  l.data_digest_length = (digests.data && l.data_segment_length > 0) ? digest_size : 0;
  return l;
}

// Every AHS entry is AHSLength(2) AHSType(1) specific(AHSLength) padded to 4;
// together the entries must fill TotalAHSLength exactly.
bool ahs_well_formed(byte_span ahs) noexcept {
  std::size_t at = 0;
  while (at < ahs.size()) {
    if (ahs.size() - at < 4) return false;
    const std::size_t len = load_be16(ahs.data() + at);
    const std::size_t entry = 3 + len + pad4(3 + len);
    if (entry > ahs.size() - at) return false;
    at += entry;
  }
  return true;
}

std::string hex32(std::uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += digits[(v >> shift) & 0xf];
  return s;
}

}  // namespace

void pdu::set_cdb(byte_span cdb) {
  BOOST_ASSERT(cdb.size() <= 16);
  const std::size_t n = std::min<std::size_t>(cdb.size(), 16);
  std::fill(bhs.begin() + 32, bhs.end(), std::uint8_t{0});
  std::copy_n(cdb.begin(), n, bhs.begin() + 32);
}

framing frame_around(const pdu& p, byte_span payload, digest_settings digests) {
  BOOST_ASSERT(payload.size() <= max_data_segment_length);
  BOOST_ASSERT(p.ahs.size() <= max_ahs_bytes);
  const std::size_t ahs_padded = p.ahs.size() + pad4(p.ahs.size());
  const std::size_t head_size = bhs_size + ahs_padded + (digests.header ? digest_size : 0);
  framing out;
  std::uint8_t* head = out.short_head.data();
  if (ahs_padded == 0) {
    out.short_head_length = static_cast<std::uint8_t>(head_size);
  } else {
    out.long_head.resize(head_size, 0);
    head = out.long_head.data();
  }
  std::copy(p.bhs.begin(), p.bhs.end(), head);
  head[4] = static_cast<std::uint8_t>(ahs_padded / 4);
  store_be(head + 5, 3, payload.size());
  std::copy(p.ahs.begin(), p.ahs.end(), head + bhs_size);  // the AHS padding is already zero
  if (digests.header) store_digest(head + bhs_size + ahs_padded, crc32c(byte_span(head, bhs_size + ahs_padded)));
  if (!payload.empty()) {
    const std::uint32_t padding = pad4(payload.size());
    out.tail_length = static_cast<std::uint8_t>(padding);  // the padding bytes are already zero
    if (digests.data) {
      const std::uint32_t crc = crc32c(payload, byte_span(out.tail.data(), padding));
      store_digest(out.tail.data() + padding, crc);
      out.tail_length = static_cast<std::uint8_t>(padding + digest_size);
    }
  }
  return out;
}

byte_buffer encode(const pdu& p, digest_settings digests) {
  const auto framed = frame_around(p, p.data, digests);
  const auto head = framed.head();
  byte_buffer out;
  out.reserve(head.size() + p.data.size() + framed.tail_length);
  out.insert(out.end(), head.begin(), head.end());
  out.insert(out.end(), p.data.begin(), p.data.end());
  out.insert(out.end(), framed.tail.begin(), framed.tail.begin() + framed.tail_length);
  return out;
}

result<void> check_header_digest(std::span<const std::uint8_t, bhs_size> bhs, byte_span ahs,
                                 const std::uint8_t* digest) {
  const std::uint32_t want = crc32c(bhs, ahs);
  const std::uint32_t got = load_digest(digest);
  if (got != want) return make_error(errc::header_digest_mismatch, "header digest " + hex32(got) + ", computed " + hex32(want));
  return {};
}

result<void> check_data_digest(byte_span data, byte_span padding, const std::uint8_t* digest) {
  const std::uint32_t want = crc32c(data, padding);
  const std::uint32_t got = load_digest(digest);
  if (got != want) return make_error(errc::data_digest_mismatch, "data digest " + hex32(got) + ", computed " + hex32(want));
  return {};
}

result<frame_layout> inspect_header(std::span<const std::uint8_t, bhs_size> bhs, digest_settings digests,
                                    std::uint32_t max_recv_data_segment_length, pdu_source source) {
  const std::uint8_t op = bhs[0] & 0x3f;
  const bool known = source == pdu_source::target ? is_target_opcode(op) : is_initiator_opcode(op);
  if (!known) {
    return make_error(errc::unknown_opcode, "PDU with opcode " + hex32(op) + " is not valid from the " +
                                                (source == pdu_source::target ? "target" : "initiator"));
  }
  const frame_layout layout = layout_of(bhs, digests);
  if (layout.data_segment_length > max_recv_data_segment_length) {
    return make_error(errc::bad_data_segment_length,
                      std::string(to_string(static_cast<opcode>(op))) + " announces a data segment of " +
                          std::to_string(layout.data_segment_length) + " bytes, more than the " +
                          std::to_string(max_recv_data_segment_length) + " declared");
  }
  if (layout.data_segment_length != 0 && must_not_carry_data(op)) {
    return make_error(errc::bad_data_segment_length, std::string(to_string(static_cast<opcode>(op))) +
                                                         " must not carry data but announces " +
                                                         std::to_string(layout.data_segment_length) + " bytes");
  }
  return layout;
}

result<pdu> decode_body(std::span<const std::uint8_t, bhs_size> bhs, byte_span rest, digest_settings digests,
                        const frame_layout& layout) {
  if (layout != layout_of(bhs, digests)) {
    return make_error(errc::invalid_argument, "frame layout does not match the BHS");
  }
  if (rest.size() < layout.rest_length()) {
    return make_error(errc::truncated_pdu, "PDU body has " + std::to_string(rest.size()) + " of " +
                                               std::to_string(layout.rest_length()) + " bytes");
  }
  if (rest.size() > layout.rest_length()) {
    return make_error(errc::invalid_argument, "PDU body has " + std::to_string(rest.size() - layout.rest_length()) +
                                                  " bytes more than announced");
  }
  pdu p;
  std::copy(bhs.begin(), bhs.end(), p.bhs.begin());
  const byte_span ahs = rest.first(layout.ahs_length);
  std::size_t at = layout.ahs_length;

  if (layout.header_digest_length != 0) {
    if (auto checked = check_header_digest(bhs, ahs, rest.data() + at); !checked) return checked.error();
    at += layout.header_digest_length;
  }
  if (!ahs_well_formed(ahs)) {
    return make_error(errc::bad_ahs_length, "AHS entries do not fill TotalAHSLength (" +
                                                std::to_string(layout.ahs_length) + " bytes)");
  }
  const byte_span padded = rest.subspan(at, layout.data_segment_length + layout.data_padding);
  at += padded.size();
  if (layout.data_digest_length != 0) {
    if (auto checked = check_data_digest(padded, {}, rest.data() + at); !checked) return checked.error();
  }
  p.ahs.assign(ahs.begin(), ahs.end());
  p.data.assign(padded.begin(), padded.begin() + layout.data_segment_length);
  return p;
}

result<pdu> decode(byte_span whole, digest_settings digests, std::uint32_t max_recv_data_segment_length,
                   pdu_source source) {
  if (whole.size() < bhs_size) {
    return make_error(errc::truncated_pdu, "PDU of " + std::to_string(whole.size()) + " bytes has no complete BHS");
  }
  const auto bhs = whole.first<bhs_size>();
  auto layout = inspect_header(bhs, digests, max_recv_data_segment_length, source);
  if (!layout) return layout.error();
  return decode_body(bhs, whole.subspan(bhs_size), digests, *layout);
}

}  // namespace isens::initiator::protocol
