#include "protocol/scsi.hpp"

#include "protocol/scsi_vpd.hpp"

#include <boost/algorithm/hex.hpp>

#include <iterator>

namespace isens::initiator::protocol {
namespace {

error bad(std::string what) { return make_error(errc::scsi_bad_response, std::move(what)); }

std::string trimmed(byte_span bytes) {
  std::string s(bytes.begin(), bytes.end());
  const auto blank = [](char c) { return c == ' ' || c == '\0'; };
  while (!s.empty() && blank(s.back())) s.pop_back();
  std::size_t lead = 0;
  while (lead < s.size() && blank(s[lead])) ++lead;
  s.erase(0, lead);
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return s;
}

cdb rw10(std::uint8_t op, std::uint32_t lba, std::uint16_t blocks) noexcept {
  cdb c{};
  c[0] = op;
  store_be(&c[2], 4, lba);
  store_be(&c[7], 2, blocks);
  return c;
}

cdb rw16(std::uint8_t op, std::uint64_t lba, std::uint32_t blocks) noexcept {
  cdb c{};
  c[0] = op;
  store_be(&c[2], 8, lba);
  store_be(&c[10], 4, blocks);
  return c;
}

result<capacity> make_capacity(std::uint64_t last_lba, std::uint32_t block_size) {
  capacity cap;
  cap.last_lba = last_lba;
  cap.block_size = block_size;
  if (block_size == 0) return bad("READ CAPACITY reports a block size of 0");
  if (last_lba == UINT64_MAX || __builtin_mul_overflow(last_lba + 1, std::uint64_t{block_size}, &cap.capacity_bytes)) {
    return bad("READ CAPACITY reports a capacity beyond 2^64 bytes");
  }
  return cap;
}

}  // namespace

std::string_view to_string(scsi_status s) noexcept {
  switch (s) {
    case scsi_status::good: return "GOOD";
    case scsi_status::check_condition: return "CHECK CONDITION";
    case scsi_status::condition_met: return "CONDITION MET";
    case scsi_status::busy: return "BUSY";
    case scsi_status::reservation_conflict: return "RESERVATION CONFLICT";
    case scsi_status::task_set_full: return "TASK SET FULL";
    case scsi_status::aca_active: return "ACA ACTIVE";
    case scsi_status::task_aborted: return "TASK ABORTED";
  }
  return "UNKNOWN";
}

cdb test_unit_ready_cdb() noexcept { return cdb{}; }

cdb inquiry_cdb(std::uint16_t allocation_length) noexcept {
  cdb c{};
  c[0] = 0x12;
  store_be(&c[3], 2, allocation_length);
  return c;
}

cdb inquiry_vpd_cdb(std::uint8_t page, std::uint16_t allocation_length) noexcept {
  cdb c = inquiry_cdb(allocation_length);
  c[1] = 0x01;  // EVPD
  c[2] = page;
  return c;
}

cdb read_capacity10_cdb() noexcept {
  cdb c{};
  c[0] = 0x25;
  return c;
}

cdb read_capacity16_cdb(std::uint32_t allocation_length) noexcept {
  cdb c{};
  c[0] = 0x9e;
  c[1] = 0x10;
  store_be(&c[10], 4, allocation_length);
  return c;
}

cdb report_luns_cdb(std::uint32_t allocation_length, std::uint8_t select_report) noexcept {
  cdb c{};
  c[0] = 0xa0;
  c[2] = select_report;
  store_be(&c[6], 4, allocation_length);
  return c;
}

cdb read10_cdb(std::uint32_t lba, std::uint16_t blocks) noexcept { return rw10(0x28, lba, blocks); }
cdb read16_cdb(std::uint64_t lba, std::uint32_t blocks) noexcept { return rw16(0x88, lba, blocks); }
cdb write10_cdb(std::uint32_t lba, std::uint16_t blocks) noexcept { return rw10(0x2a, lba, blocks); }
cdb write16_cdb(std::uint64_t lba, std::uint32_t blocks) noexcept { return rw16(0x8a, lba, blocks); }

cdb write16_fua_cdb(std::uint64_t lba, std::uint32_t blocks) noexcept {
  auto c = rw16(0x8a, lba, blocks);
  c[1] |= 0x08;  // FUA (SBC-4 §5.40)
  return c;
}

cdb synchronize_cache10_cdb() noexcept {
  cdb c{};
  c[0] = 0x35;
  return c;
}

cdb write_same16_cdb(std::uint64_t lba, std::uint32_t blocks, bool unmap) noexcept {
  auto c = rw16(0x93, lba, blocks);
  if (unmap) c[1] |= 0x08;  // UNMAP
  return c;
}

cdb unmap_cdb(std::uint16_t parameter_length) noexcept {
  cdb c{};
  c[0] = 0x42;
  store_be(&c[7], 2, parameter_length);
  return c;
}

std::array<std::uint8_t, 24> unmap_parameters(std::uint64_t lba, std::uint32_t blocks) noexcept {
  std::array<std::uint8_t, 24> p{};
  p[1] = 22;  // UNMAP DATA LENGTH: the bytes after this field
  p[3] = 16;  // BLOCK DESCRIPTOR DATA LENGTH: one descriptor
  store_be(&p[8], 8, lba);
  store_be(&p[16], 4, blocks);
  return p;
}

cdb mode_sense6_cdb(std::uint8_t allocation_length) noexcept {
  cdb c{};
  c[0] = 0x1a;
  c[1] = 0x08;  // DBD: no block descriptors
  c[2] = 0x3f;  // all pages, current values
  c[4] = allocation_length;
  return c;
}

result<mode_header> parse_mode_sense6_header(byte_span data) {
  if (data.size() < 4) return bad("MODE SENSE(6) data of " + std::to_string(data.size()) + " bytes (< 4)");
  return mode_header{(data[2] & 0x80) != 0, (data[2] & 0x10) != 0};
}

result<standard_inquiry> parse_standard_inquiry(byte_span data) {
  if (data.size() < 36) return bad("standard INQUIRY data of " + std::to_string(data.size()) + " bytes (< 36)");
  standard_inquiry inq;
  inq.peripheral_qualifier = data[0] >> 5;
  inq.device_type = data[0] & 0x1f;
  inq.removable = (data[1] & 0x80) != 0;
  inq.version = data[2];
  inq.vendor = trimmed(data.subspan(8, 8));
  inq.product = trimmed(data.subspan(16, 16));
  inq.revision = trimmed(data.subspan(32, 4));
  return inq;
}

result<std::string> parse_unit_serial_number(byte_span data) {
  auto body = vpd_page_body(data, vpd_unit_serial_number);
  if (!body) return body.error();
  return trimmed(*body);
}

result<std::vector<designation_descriptor>> parse_device_identification(byte_span data) {
  auto body = vpd_page_body(data, vpd_device_identification);
  if (!body) return body.error();
  const byte_span page = *body;
  std::vector<designation_descriptor> out;
  std::size_t at = 0;
  while (at < page.size()) {
    if (page.size() - at < 4) return bad("VPD page 0x83 descriptor header cut short");
    const std::size_t dlen = page[at + 3];
    if (dlen > page.size() - at - 4) return bad("VPD page 0x83 descriptor longer than the page");
    designation_descriptor d;
    d.protocol_identifier = page[at] >> 4;
    d.code_set = page[at] & 0x0f;
    d.piv = (page[at + 1] & 0x80) != 0;
    d.association = (page[at + 1] >> 4) & 0x03;
    d.designator_type = page[at + 1] & 0x0f;
    const byte_span designator = page.subspan(at + 4, dlen);
    d.designator.assign(designator.begin(), designator.end());
    if (d.code_set == 2 || d.code_set == 3) {
      d.text = trimmed(designator);
    } else {
      boost::algorithm::hex_lower(designator.begin(), designator.end(), std::back_inserter(d.text));
    }
    out.push_back(std::move(d));
    at += 4 + dlen;
  }
  return out;
}

result<capacity> parse_read_capacity10(byte_span data) {
  if (data.size() < 8) return bad("READ CAPACITY(10) data of " + std::to_string(data.size()) + " bytes (< 8)");
  const std::uint32_t last = load_be32(&data[0]);
  auto cap = make_capacity(last, load_be32(&data[4]));
  if (cap) cap->needs_read_capacity16 = last == 0xFFFFFFFF;
  return cap;
}

result<capacity> parse_read_capacity16(byte_span data) {
  if (data.size() < 12) return bad("READ CAPACITY(16) data of " + std::to_string(data.size()) + " bytes (< 12)");
  auto cap = make_capacity(load_be64(&data[0]), load_be32(&data[8]));
  if (cap && data.size() >= 15) {  // byte 14: LBPME, LBPRZ (SBC-4 §5.20.2)
    cap->thin_provisioned = (data[14] & 0x80) != 0;
    cap->zeroes_after_unmap = (data[14] & 0x40) != 0;
  }
  return cap;
}

result<report_luns_data> parse_report_luns(byte_span data) {
  if (data.size() < 8) return bad("REPORT LUNS data shorter than its 8-byte header");
  report_luns_data r;
  r.list_length = load_be32(&data[0]);
  if (r.list_length % 8 != 0) return bad("REPORT LUNS list length is not a multiple of 8");
  const std::size_t present = (data.size() - 8) / 8;
  const std::size_t announced = r.list_length / 8;
  r.truncated = announced > present;
  const std::size_t n = r.truncated ? present : announced;
  r.luns.reserve(n);
  for (std::size_t i = 0; i < n; ++i) r.luns.push_back(decode_lun(load_be64(&data[8 + 8 * i])));
  return r;
}

std::uint64_t decode_lun(std::uint64_t raw) noexcept {
  const auto b0 = static_cast<std::uint8_t>(raw >> 56);
  const auto b1 = static_cast<std::uint8_t>(raw >> 48);
  const bool single_level = (raw & 0x0000FFFFFFFFFFFFull) == 0;
  if (single_level && (b0 >> 6) == 0 && b0 == 0) return b1;                       // peripheral, bus 0
  if (single_level && (b0 >> 6) == 1) return static_cast<std::uint64_t>(b0 & 0x3f) << 8 | b1;  // flat space
  std::uint64_t lun = 0;  // Linux scsilun_to_int: level pairs, first level lowest
  for (int level = 0; level < 4; ++level) {
    const auto pair = static_cast<std::uint16_t>(raw >> (48 - 16 * level));
    lun |= static_cast<std::uint64_t>(pair) << (16 * level);
  }
  return lun;
}

result<std::uint64_t> encode_lun(std::uint64_t number) {
  if (number < 256) return number << 48;
  if (number < 16384) return (0x4000 | number) << 48;
  return make_error(errc::invalid_argument, "LUN " + std::to_string(number) + " needs more than flat-space addressing");
}

}  // namespace isens::initiator::protocol
