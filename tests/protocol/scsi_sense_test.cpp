#include "protocol/scsi_sense.hpp"

#include <catch2/catch.hpp>

using namespace isens::initiator;
using namespace isens::initiator::protocol;

TEST_CASE("fixed-format sense", "[scsi_sense]") {
  byte_buffer s(18, 0);
  s[0] = 0xf0;  // valid bit + 0x70
  s[2] = 0x02;  // NOT READY
  s[7] = 10;
  s[12] = 0x3a;
  s[13] = 0x00;
  auto r = parse_sense(s);
  REQUIRE(r.has_value());
  CHECK(r->response_code == 0x70);
  CHECK(r->key == sense_key::not_ready);
  CHECK(r->asc == 0x3a);
  CHECK(r->ascq == 0x00);
  CHECK_FALSE(r->descriptor_format);
  CHECK_FALSE(r->deferred);
  CHECK(describe(*r) == "NOT READY: MEDIUM NOT PRESENT (asc 0x3a ascq 0x00)");

  SECTION("additional length too short for ASC/ASCQ") {
    s[7] = 4;
    auto short_sense = parse_sense(s);
    REQUIRE(short_sense.has_value());
    CHECK(short_sense->asc == 0);
  }
}

TEST_CASE("descriptor-format and deferred sense", "[scsi_sense]") {
  const byte_buffer s{0x73, 0x06, 0x29, 0x07, 0, 0, 0, 0};
  auto r = parse_sense(s);
  REQUIRE(r.has_value());
  CHECK(r->descriptor_format);
  CHECK(r->deferred);
  CHECK(r->key == sense_key::unit_attention);
  CHECK(describe(*r) == "UNIT ATTENTION: I_T NEXUS LOSS OCCURRED (asc 0x29 ascq 0x07)");
}

TEST_CASE("unlisted ASC/ASCQ still describe", "[scsi_sense]") {
  const byte_buffer s{0x72, 0x05, 0x99, 0x42, 0, 0, 0, 0};
  CHECK(describe(parse_sense(s).value()) == "ILLEGAL REQUEST: unlisted additional sense (asc 0x99 ascq 0x42)");
  CHECK(asc_ascq_text(0x24, 0x00) == "INVALID FIELD IN CDB");
  CHECK(asc_ascq_text(0x24, 0x01).empty());
}

TEST_CASE("iSCSI sense segment: SenseLength then sense", "[scsi_sense]") {
  const byte_buffer seg{0x00, 0x08, 0x72, 0x05, 0x24, 0x00, 0, 0, 0, 0};
  auto r = parse_sense_segment(seg);
  REQUIRE(r.has_value());
  CHECK(r->key == sense_key::illegal_request);
  CHECK(r->asc == 0x24);
}

TEST_CASE("bad sense is scsi_bad_response", "[scsi_sense]") {
  CHECK(parse_sense(byte_buffer{}).error().code == errc::scsi_bad_response);
  CHECK(parse_sense(byte_buffer{0x70, 0, 2}).error().code == errc::scsi_bad_response);
  CHECK(parse_sense(byte_buffer(8, 0x00)).error().code == errc::scsi_bad_response);  // response code 0
  CHECK(parse_sense_segment(byte_buffer{0x00}).error().code == errc::scsi_bad_response);
  CHECK(parse_sense_segment(byte_buffer{0x00, 0x20, 0x70, 0, 0}).error().code == errc::scsi_bad_response);
  CHECK(parse_sense_segment(byte_buffer{0x00, 0x00}).error().code == errc::scsi_bad_response);
}
