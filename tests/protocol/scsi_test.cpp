#include "protocol/scsi.hpp"
#include "protocol/scsi_vpd.hpp"

#include <catch2/catch.hpp>

#include <cstring>

using namespace isens::initiator;
using namespace isens::initiator::protocol;

namespace {

errc code_of(const error& e) { return static_cast<errc>(e.code.value()); }

void put_text(byte_buffer& b, std::size_t at, std::string_view s) { std::memcpy(&b[at], s.data(), s.size()); }

}  // namespace

TEST_CASE("CDB builders", "[scsi]") {
  CHECK(test_unit_ready_cdb() == cdb{});
  CHECK(inquiry_cdb(96) == cdb{0x12, 0, 0, 0, 96});
  CHECK(inquiry_vpd_cdb(0x83, 0x1000) == cdb{0x12, 0x01, 0x83, 0x10, 0x00});
  CHECK(read_capacity10_cdb() == cdb{0x25});
  CHECK(read_capacity16_cdb() == cdb{0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32});
  CHECK(report_luns_cdb(4096) == cdb{0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00});
  CHECK(read10_cdb(0x01020304, 8) == cdb{0x28, 0, 1, 2, 3, 4, 0, 0, 8});
  CHECK(write10_cdb(1, 0x0102) == cdb{0x2a, 0, 0, 0, 0, 1, 0, 1, 2});
  CHECK(read16_cdb(0x0102030405060708ull, 0x10000) ==
        cdb{0x88, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 0, 0, 0});
  CHECK(write16_cdb(0, 1)[0] == 0x8a);
}

TEST_CASE("standard INQUIRY", "[scsi]") {
  byte_buffer d(36, ' ');
  d[0] = 0x00;
  d[1] = 0x80;
  d[2] = 0x06;
  d[3] = 0x02;
  d[4] = 31;
  put_text(d, 8, "IET     ");
  put_text(d, 16, "VIRTUAL-DISK    ");
  put_text(d, 32, "0001");
  auto r = parse_standard_inquiry(d);
  REQUIRE(r.has_value());
  CHECK(r->peripheral_qualifier == 0);
  CHECK(r->device_type == 0);
  CHECK(r->removable);
  CHECK(r->version == 6);
  CHECK(r->vendor == "IET");
  CHECK(r->product == "VIRTUAL-DISK");
  CHECK(r->revision == "0001");

  d[0] = 0x7f;  // qualifier 3, type 0x1f: no LU here
  r = parse_standard_inquiry(d);
  CHECK(r->peripheral_qualifier == 3);
  CHECK(r->device_type == 0x1f);

  CHECK(code_of(parse_standard_inquiry(byte_span(d).first(35)).error()) == errc::scsi_bad_response);
}

TEST_CASE("VPD 0x80 unit serial number", "[scsi]") {
  byte_buffer d{0x00, 0x80, 0x00, 0x0a};
  for (char c : std::string_view("  beaf11  ")) d.push_back(static_cast<std::uint8_t>(c));
  CHECK(parse_unit_serial_number(d).value() == "beaf11");
  d[3] = 0x0b;  // page longer than the data
  CHECK(code_of(parse_unit_serial_number(d).error()) == errc::scsi_bad_response);
  d[3] = 0x0a;
  d[1] = 0x83;
  CHECK(code_of(parse_unit_serial_number(d).error()) == errc::scsi_bad_response);
  CHECK(code_of(parse_unit_serial_number(byte_buffer{0, 0x80}).error()) == errc::scsi_bad_response);
}

TEST_CASE("VPD 0x83 device identification", "[scsi]") {
  const byte_buffer d{
      0x00, 0x83, 0x00, 0x1c,                                        // header: 28 bytes of descriptors
      0x01, 0x03, 0x00, 0x08, 0x60, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12,  // binary NAA, LU
      0x52, 0x98, 0x00, 0x08, 'i', 'q', 'n', '.', 'x', ':', 't', 0x00,  // iSCSI, ASCII... SCSI name, target device, PIV
  };
  auto r = parse_device_identification(byte_span(d).first(4 + 24));
  REQUIRE_FALSE(r.has_value());  // header says 28 bytes, only 24 given

  byte_buffer ok = d;
  ok[3] = 24;
  auto v = parse_device_identification(byte_span(ok).first(28));
  REQUIRE(v.has_value());
  REQUIRE(v->size() == 2);
  CHECK((*v)[0].code_set == 1);
  CHECK((*v)[0].association == 0);
  CHECK((*v)[0].designator_type == 3);
  CHECK((*v)[0].text == "6001405abcdef012");
  CHECK((*v)[1].protocol_identifier == 5);
  CHECK((*v)[1].code_set == 2);
  CHECK((*v)[1].piv);
  CHECK((*v)[1].association == 1);
  CHECK((*v)[1].designator_type == 8);
  CHECK((*v)[1].text == "iqn.x:t");

  byte_buffer cut = ok;
  cut[4 + 3] = 0x30;  // first descriptor claims more than the page
  CHECK(code_of(parse_device_identification(byte_span(cut).first(28)).error()) == errc::scsi_bad_response);
  byte_buffer truncated{0x00, 0x83, 0x00, 0x02, 0x01, 0x03};  // descriptor header cut short
  CHECK(code_of(parse_device_identification(truncated).error()) == errc::scsi_bad_response);
}

TEST_CASE("READ CAPACITY(10) and (16)", "[scsi]") {
  auto c10 = parse_read_capacity10(byte_buffer{0x00, 0x1f, 0xff, 0xff, 0x00, 0x00, 0x02, 0x00});
  REQUIRE(c10.has_value());
  CHECK(c10->last_lba == 0x1fffffu);
  CHECK(c10->block_size == 512u);
  CHECK(c10->capacity_bytes == 0x200000ull * 512);
  CHECK_FALSE(c10->needs_read_capacity16);
  CHECK(parse_read_capacity10(byte_buffer{0xff, 0xff, 0xff, 0xff, 0, 0, 2, 0})->needs_read_capacity16);
  CHECK(code_of(parse_read_capacity10(byte_buffer{0, 0, 0, 0, 0, 0, 2}).error()) == errc::scsi_bad_response);
  CHECK(code_of(parse_read_capacity10(byte_buffer{0, 0, 0, 1, 0, 0, 0, 0}).error()) == errc::scsi_bad_response);

  byte_buffer d(32, 0);
  d[3] = 0x01;   // last LBA 0x00000001000000ff
  d[7] = 0xff;
  d[10] = 0x10;  // block size 4096
  auto c16 = parse_read_capacity16(d);
  REQUIRE(c16.has_value());
  CHECK(c16->last_lba == 0x00000001000000ffull);
  CHECK(c16->block_size == 4096u);
  CHECK(c16->capacity_bytes == (0x00000001000000ffull + 1) * 4096);
  CHECK_FALSE(c16->thin_provisioned);
  d[14] = 0xc0;  // LBPME, LBPRZ
  CHECK(parse_read_capacity16(d)->thin_provisioned);
  CHECK(parse_read_capacity16(d)->zeroes_after_unmap);
  byte_buffer huge(12, 0xff);
  CHECK(code_of(parse_read_capacity16(huge).error()) == errc::scsi_bad_response);
  CHECK(code_of(parse_read_capacity16(byte_span(d).first(11)).error()) == errc::scsi_bad_response);
}

TEST_CASE("REPORT LUNS and LUN addressing", "[scsi]") {
  const byte_buffer d{0, 0, 0, 24, 0, 0, 0, 0,  //
                      0x00, 0x00, 0, 0, 0, 0, 0, 0,  // LUN 0
                      0x00, 0x05, 0, 0, 0, 0, 0, 0,  // peripheral LUN 5
                      0x41, 0x2c, 0, 0, 0, 0, 0, 0};  // flat space LUN 300
  auto r = parse_report_luns(d);
  REQUIRE(r.has_value());
  CHECK(r->luns == std::vector<std::uint64_t>{0, 5, 300});
  CHECK(r->list_length == 24u);
  CHECK_FALSE(r->truncated);

  auto cut = parse_report_luns(byte_span(d).first(20));  // allocation too short
  REQUIRE(cut.has_value());
  CHECK(cut->truncated);
  CHECK(cut->luns == std::vector<std::uint64_t>{0});

  CHECK(code_of(parse_report_luns(byte_span(d).first(7)).error()) == errc::scsi_bad_response);
  byte_buffer odd = d;
  odd[3] = 23;
  CHECK(code_of(parse_report_luns(odd).error()) == errc::scsi_bad_response);

  CHECK(encode_lun(5).value() == 0x0005000000000000ull);
  CHECK(encode_lun(300).value() == 0x412c000000000000ull);
  CHECK(encode_lun(16384).error().code == errc::invalid_argument);
  for (std::uint64_t n : {0ull, 1ull, 255ull, 256ull, 16383ull}) CHECK(decode_lun(encode_lun(n).value()) == n);
  CHECK(decode_lun(0x0001000200000000ull) == 0x00020001ull);  // two levels: Linux packing
}

TEST_CASE("SCSI status names", "[scsi]") {
  CHECK(to_string(scsi_status::check_condition) == "CHECK CONDITION");
  CHECK(to_string(static_cast<scsi_status>(0x99)) == "UNKNOWN");
}

TEST_CASE("VPD 0x00, 0xB0 and 0xB2: supported pages, Block Limits, Logical Block Provisioning", "[scsi]") {
  CHECK(parse_supported_vpd_pages(byte_buffer{0, 0x00, 0, 4, 0x00, 0x80, 0xb0, 0xb2}).value() ==
        std::vector<std::uint8_t>{0x00, 0x80, 0xb0, 0xb2});
  CHECK(code_of(parse_supported_vpd_pages(byte_buffer{0, 0x80, 0, 0}).error()) == errc::scsi_bad_response);

  byte_buffer limits(64, 0);
  limits[1] = 0xb0;
  limits[3] = 0x3c;
  store_be(&limits[8], 4, 0x4000);     // max transfer length
  store_be(&limits[12], 4, 0x80);      // optimal
  store_be(&limits[20], 4, 0x100000);  // max unmap LBA count
  store_be(&limits[24], 4, 1);         // max unmap descriptors
  store_be(&limits[36], 8, 0x200000);  // max WRITE SAME length
  const auto l = parse_block_limits(limits);
  REQUIRE(l.has_value());
  CHECK(l->max_transfer_length == 0x4000u);
  CHECK(l->optimal_transfer_length == 0x80u);
  CHECK(l->max_unmap_lba_count == 0x100000u);
  CHECK(l->max_unmap_descriptors == 1u);
  CHECK(l->max_write_same_length == 0x200000u);
  // SBC-2's 16-byte page: the later fields are absent, so no limit.
  byte_buffer short_page(limits.begin(), limits.begin() + 16);
  short_page[3] = 12;
  const auto s = parse_block_limits(short_page);
  REQUIRE(s.has_value());
  CHECK(s->max_transfer_length == 0x4000u);
  CHECK(s->max_unmap_lba_count == 0u);
  CHECK(s->max_write_same_length == 0u);
  limits[3] = 0x40;  // longer than the data
  CHECK(code_of(parse_block_limits(limits).error()) == errc::scsi_bad_response);

  const auto lbp = parse_logical_block_provisioning(byte_buffer{0, 0xb2, 0, 4, 0, 0xc4, 0x02, 0});
  REQUIRE(lbp.has_value());
  CHECK(lbp->lbpu);
  CHECK(lbp->lbpws);
  CHECK(lbp->lbprz);
  // SBC-4's LBPRZ 010b (a provisioning pattern) is not zeros.
  CHECK_FALSE(parse_logical_block_provisioning(byte_buffer{0, 0xb2, 0, 4, 0, 0x08, 0, 0})->lbprz);
  CHECK(code_of(parse_logical_block_provisioning(byte_buffer{0, 0xb2, 0, 1, 0}).error()) == errc::scsi_bad_response);
}
