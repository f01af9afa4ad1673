#include "protocol/scsi_vpd.hpp"

#include <cstdio>
#include <string>

namespace isens::initiator::protocol {
namespace {

error bad(std::string what) { return make_error(errc::scsi_bad_response, std::move(what)); }

std::string page_name(std::uint8_t page) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", page);
  return std::string("VPD page ") + text;
}

}  // namespace

result<byte_span> vpd_page_body(byte_span data, std::uint8_t page) {
  if (data.size() < 4) return bad(page_name(page) + " shorter than its header");
  if (data[1] != page) return bad(page_name(page) + " came back as " + page_name(data[1]));
  const std::size_t length = load_be16(&data[2]);
  if (length > data.size() - 4) return bad(page_name(page) + " longer than the data returned");
  return data.subspan(4, length);
}

result<std::vector<std::uint8_t>> parse_supported_vpd_pages(byte_span data) {
  auto body = vpd_page_body(data, vpd_supported_pages);
  if (!body) return body.error();
  return std::vector<std::uint8_t>(body->begin(), body->end());
}

result<block_limits_page> parse_block_limits(byte_span data) {
  auto body = vpd_page_body(data, vpd_block_limits);
  if (!body) return body.error();
  // Offsets below are of the whole page; the body starts at byte 4.
  const auto field = [&](std::size_t at, std::size_t size) -> std::uint64_t {
    return at - 4 + size <= body->size() ? load_be(body->data() + at - 4, size) : 0;
  };
  block_limits_page out;
  out.max_transfer_length = static_cast<std::uint32_t>(field(8, 4));
  out.optimal_transfer_length = static_cast<std::uint32_t>(field(12, 4));
  out.max_unmap_lba_count = static_cast<std::uint32_t>(field(20, 4));
  out.max_unmap_descriptors = static_cast<std::uint32_t>(field(24, 4));
  out.max_write_same_length = field(36, 8);
  return out;
}

result<provisioning_page> parse_logical_block_provisioning(byte_span data) {
  auto body = vpd_page_body(data, vpd_logical_block_provisioning);
  if (!body) return body.error();
  if (body->size() < 2) return bad(page_name(vpd_logical_block_provisioning) + " without its flags byte");
  const std::uint8_t flags = (*body)[1];
  provisioning_page out;
  out.lbpu = (flags & 0x80) != 0;
  out.lbpws = (flags & 0x40) != 0;
  // SBC-3's LBPRZ bit 2; SBC-4 widened it to bits 4-2, where only 001b
  // promises zeros (010b: a provisioning pattern).
  out.lbprz = ((flags >> 2) & 0x7) == 1;
  return out;
}

}  // namespace isens::initiator::protocol
