#include "protocol/crc32c.hpp"
#include "protocol/pdu.hpp"
#include "protocol/scsi.hpp"
#include "protocol/text_keys.hpp"

#include <catch2/catch.hpp>

#include <string_view>

using namespace isens::initiator;
using namespace isens::initiator::protocol;

namespace {

constexpr std::uint32_t mrdsl = 8192;

byte_buffer text_bytes(std::string_view s) { return byte_buffer(s.begin(), s.end()); }

// Decodes a whole PDU that must fail, returning the error code.
errc decode_error(byte_span whole, digest_settings d = {}, std::uint32_t max = mrdsl,
                  pdu_source source = pdu_source::target) {
  auto r = decode(whole, d, max, source);
  REQUIRE_FALSE(r.has_value());
  return static_cast<errc>(r.error().code.value());
}

// A target PDU with only the opcode byte set.
byte_buffer bare_bhs(std::uint8_t opcode_byte) {
  byte_buffer b(bhs_size, 0);
  b[0] = opcode_byte;
  return b;
}

}  // namespace

TEST_CASE("login request encodes byte for byte as RFC 7143 §11.12 lays it out", "[pdu]") {
  pdu p(opcode::login_request);
  p.set_transit(true);
  p.set_csg(login_stage::operational);
  p.set_nsg(login_stage::full_feature);
  p.set_version_max(0);
  p.set_version_min(0);
  p.set_isid(0x400001370000ull);
  p.set_tsih(0x1234);
  p.set_itt(1);
  p.set_cid(1);
  p.set_cmd_sn(2);
  p.set_exp_stat_sn(3);
  append_text(p.data, "HeaderDigest", "None");  // 18 bytes: 2 bytes of padding

  const byte_buffer expected{
      0x43, 0x87, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12,  // I|0x03, T|CSG=1|NSG=3, versions, AHS 0, DSL 18
      0x40, 0x00, 0x01, 0x37, 0x00, 0x00, 0x12, 0x34,  // ISID, TSIH
      0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,  // ITT, CID, reserved
      0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,  // CmdSN, ExpStatSN
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // reserved
      'H', 'e', 'a', 'd', 'e', 'r', 'D', 'i', 'g', 'e', 's', 't', '=', 'N', 'o', 'n', 'e', 0x00,
      0x00, 0x00};  // padding
  CHECK(encode(p, {}) == expected);

  SECTION("and decodes back to the same fields") {
    auto d = decode(expected, {}, mrdsl, pdu_source::initiator);
    REQUIRE(d.has_value());
    CHECK(d->op() == opcode::login_request);
    CHECK(d->immediate());
    CHECK(d->transit());
    CHECK_FALSE(d->continue_flag());
    CHECK(d->csg() == login_stage::operational);
    CHECK(d->nsg() == login_stage::full_feature);
    CHECK(d->isid() == 0x400001370000ull);
    CHECK(d->tsih() == 0x1234);
    CHECK(d->itt() == 1u);
    CHECK(d->cid() == 1);
    CHECK(d->cmd_sn() == 2u);
    CHECK(d->exp_stat_sn() == 3u);
    CHECK(d->data_segment_length() == 18u);
    CHECK(d->data == text_bytes(std::string_view("HeaderDigest=None\0", 18)));
  }
  SECTION("a login request is not something a target sends") {
    CHECK(decode_error(expected) == errc::unknown_opcode);
  }
}

TEST_CASE("SCSI Read(10) command matches the RFC B.4 PDU and its header digest", "[pdu]") {
  pdu p(opcode::scsi_command);
  p.set_final(true);
  p.set_read_flag(true);
  p.set_itt(0x14000000);
  p.set_expected_data_transfer_length(0x400);
  p.set_cmd_sn(0x14);
  p.set_exp_stat_sn(0x18);
  p.set_cdb(read10_cdb(0, 2));
  const byte_buffer wire = encode(p, {.header = true, .data = true});
  REQUIRE(wire.size() == 52);  // no data: no data digest
  const byte_buffer b4_header{0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
                              0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                              0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  CHECK(byte_buffer(wire.begin(), wire.begin() + 48) == b4_header);
  CHECK(byte_buffer(wire.begin() + 48, wire.end()) == byte_buffer{0x56, 0x3a, 0x96, 0xd9});

  auto d = decode(wire, {.header = true, .data = true}, mrdsl, pdu_source::initiator);
  REQUIRE(d.has_value());
  CHECK(d->read_flag());
  CHECK_FALSE(d->write_flag());
  CHECK(d->task_attr() == task_attribute::untagged);
  CHECK(d->cdb()[0] == 0x28);
  CHECK(d->cdb()[8] == 0x02);
}

TEST_CASE("login response from a target decodes every field", "[pdu]") {
  byte_buffer wire{
      0x23, 0x81, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,  // login rsp, T|NSG=1, DSL 16
      0x40, 0x00, 0x01, 0x37, 0x00, 0x00, 0x00, 0x07,  // ISID, TSIH 7
      0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00,  // ITT 9
      0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x06,  // StatSN 5, ExpCmdSN 6
      0x00, 0x00, 0x00, 0x46, 0x02, 0x01, 0x00, 0x00,  // MaxCmdSN 70, class 2 detail 1
      0, 0, 0, 0, 0, 0, 0, 0,
      'A', 'u', 't', 'h', 'M', 'e', 't', 'h', 'o', 'd', '=', 'N', 'o', 'n', 'e', 0x00};
  auto d = decode(wire, {}, mrdsl);
  REQUIRE(d.has_value());
  CHECK(d->op() == opcode::login_response);
  CHECK(d->transit());
  CHECK(d->csg() == login_stage::security);
  CHECK(d->nsg() == login_stage::operational);
  CHECK(d->isid() == 0x400001370000ull);
  CHECK(d->tsih() == 7);
  CHECK(d->itt() == 9u);
  CHECK(d->stat_sn() == 5u);
  CHECK(d->exp_cmd_sn() == 6u);
  CHECK(d->max_cmd_sn() == 70u);
  CHECK(d->status_class() == 2);
  CHECK(d->status_detail() == 1);
  CHECK(d->data == text_bytes(std::string_view("AuthMethod=None\0", 16)));
}

TEST_CASE("target PDUs: field offsets of SCSI response, Data-In, R2T and friends", "[pdu]") {
  SECTION("SCSI response with residual underflow and sense") {
    byte_buffer w = bare_bhs(0x21);
    w[1] = 0x82;  // F|U
    w[2] = 0x00;
    w[3] = 0x02;                              // CHECK CONDITION
    store_be(&w[16], 4, 0xabcd0001);          // ITT
    store_be(&w[36], 4, 3);                   // ExpDataSN
    store_be(&w[40], 4, 0x11);                // bidi residual
    store_be(&w[44], 4, 512);                 // residual
    w[7] = 4;
    w.insert(w.end(), {0x00, 0x02, 0x70, 0x00});
    auto d = decode(w, {}, mrdsl);
    REQUIRE(d.has_value());
    CHECK(d->residual_underflow());
    CHECK_FALSE(d->residual_overflow());
    CHECK_FALSE(d->bidi_overflow());
    CHECK_FALSE(d->bidi_underflow());
    CHECK(d->status() == 0x02);
    CHECK(d->itt() == 0xabcd0001u);
    CHECK(d->exp_data_sn() == 3u);
    CHECK(d->bidi_residual_count() == 0x11u);
    CHECK(d->residual_count() == 512u);
    CHECK(d->data.size() == 4);
  }
  SECTION("Data-In with status") {
    byte_buffer w = bare_bhs(0x25);
    w[1] = 0x81;  // F|S
    store_be(&w[8], 8, 0x0001000000000000ull);
    store_be(&w[20], 4, reserved_tag);
    store_be(&w[36], 4, 4);
    store_be(&w[40], 4, 8192);
    w[7] = 8;
    w.insert(w.end(), 8, 0xee);
    auto d = decode(w, {}, mrdsl);
    REQUIRE(d.has_value());
    CHECK(d->has_status());
    CHECK(d->is_final());
    CHECK(d->lun() == 0x0001000000000000ull);
    CHECK(d->ttt() == reserved_tag);
    CHECK(d->data_sn() == 4u);
    CHECK(d->buffer_offset() == 8192u);
    CHECK(d->data == byte_buffer(8, 0xee));
  }
  SECTION("R2T") {
    byte_buffer w = bare_bhs(0x31);
    w[1] = 0x80;
    store_be(&w[20], 4, 0x77);
    store_be(&w[36], 4, 2);
    store_be(&w[40], 4, 65536);
    store_be(&w[44], 4, 131072);
    auto d = decode(w, {}, mrdsl);
    REQUIRE(d.has_value());
    CHECK(d->ttt() == 0x77u);
    CHECK(d->r2t_sn() == 2u);
    CHECK(d->buffer_offset() == 65536u);
    CHECK(d->desired_data_transfer_length() == 131072u);
  }
  SECTION("logout response") {
    byte_buffer w = bare_bhs(0x26);
    w[2] = 0x01;
    store_be(&w[40], 2, 2);
    store_be(&w[42], 2, 20);
    auto d = decode(w, {}, mrdsl);
    REQUIRE(d.has_value());
    CHECK(d->response() == 1);
    CHECK(d->time2wait() == 2);
    CHECK(d->time2retain() == 20);
  }
  SECTION("async message") {
    byte_buffer w = bare_bhs(0x32);
    w[36] = 1;  // target requests logout
    w[37] = 0;
    store_be(&w[38], 2, 0x0102);
    store_be(&w[40], 2, 3);
    store_be(&w[42], 2, 4);
    auto d = decode(w, {}, mrdsl);
    REQUIRE(d.has_value());
    CHECK(d->async_event() == 1);
    CHECK(d->parameter1() == 0x0102);
    CHECK(d->parameter2() == 3);
    CHECK(d->parameter3() == 4);
  }
  SECTION("reject carries the rejected BHS") {
    byte_buffer w = bare_bhs(0x3f);
    w[2] = 0x04;  // protocol error
    w[7] = 48;
    w.insert(w.end(), 48, 0x01);
    auto d = decode(w, {}, mrdsl);
    REQUIRE(d.has_value());
    CHECK(d->reject_reason() == 0x04);
    CHECK(d->data.size() == 48);
  }
}

TEST_CASE("initiator PDUs: logout, task management, NOP-Out, Data-Out, SNACK setters", "[pdu]") {
  pdu logout(opcode::logout_request);
  logout.set_immediate(true);
  logout.set_final(true);
  logout.set_reason_code(2);
  logout.set_cid(5);
  auto w = encode(logout, {});
  CHECK(w[0] == 0x46);
  CHECK(w[1] == 0x82);
  CHECK(w[20] == 0x00);
  CHECK(w[21] == 0x05);

  pdu tmf(opcode::task_mgmt_request);
  tmf.set_final(true);
  tmf.set_function(1);  // ABORT TASK
  tmf.set_referenced_task_tag(0x42);
  tmf.set_ref_cmd_sn(9);
  w = encode(tmf, {});
  CHECK(w[1] == 0x81);
  CHECK(load_be32(&w[20]) == 0x42u);
  CHECK(load_be32(&w[32]) == 9u);
  CHECK(tmf.function() == 1);

  pdu nop(opcode::nop_out);
  nop.set_immediate(true);
  nop.set_final(true);
  nop.set_itt(0x10);
  nop.set_ttt(reserved_tag);
  w = encode(nop, {});
  CHECK(w[0] == 0x40);
  CHECK(load_be32(&w[20]) == reserved_tag);

  pdu out(opcode::data_out);
  out.set_final(true);
  out.set_data_sn(1);
  out.set_buffer_offset(4096);
  out.data.assign(5, 0xaa);
  w = encode(out, {.header = false, .data = true});
  REQUIRE(w.size() == 48 + 8 + 4);
  CHECK(load_be32(&w[36]) == 1u);
  CHECK(load_be32(&w[40]) == 4096u);
  CHECK(load_digest(&w[56]) == crc32c(byte_span(w).subspan(48, 8)));  // digest covers padding

  pdu snack(opcode::snack_request);
  snack.set_final(true);
  snack.set_snack_type(1);
  snack.set_beg_run(3);
  snack.set_run_length(4);
  CHECK(snack.flags() == 0x81);
  CHECK(snack.beg_run() == 3u);
  CHECK(snack.run_length() == 4u);
}

TEST_CASE("encode then decode round-trips with and without digests", "[pdu]") {
  for (digest_settings d : {digest_settings{}, digest_settings{true, false}, digest_settings{false, true},
                            digest_settings{true, true}}) {
    pdu p(opcode::text_response);
    p.set_final(true);
    p.set_itt(0x1234);
    p.set_ttt(reserved_tag);
    p.set_stat_sn(7);
    p.set_exp_cmd_sn(8);
    p.set_max_cmd_sn(9);
    p.ahs = {0x00, 0x09, 0x01, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};  // one AHS: 3 header bytes + 9 (Extended CDB style)
    append_text(p.data, "TargetName", "iqn.2024-01.test:t1");
    const byte_buffer wire = encode(p, d);
    const auto bhs = std::span<const std::uint8_t, bhs_size>(wire.data(), bhs_size);
    auto layout = inspect_header(bhs, d, mrdsl);
    REQUIRE(layout.has_value());
    CHECK(layout->ahs_length == 12u);
    CHECK(layout->data_segment_length == p.data.size());
    CHECK(bhs_size + layout->rest_length() == wire.size());
    auto back = decode_body(bhs, byte_span(wire).subspan(bhs_size), d, *layout);
    REQUIRE(back.has_value());
    CHECK(back->bhs[4] == 3);
    CHECK(back->ahs == p.ahs);
    CHECK(back->data == p.data);
    CHECK(back->itt() == 0x1234u);
    CHECK(back->max_cmd_sn() == 9u);
  }
}

TEST_CASE("bad input is reported with a specific error", "[pdu]") {
  pdu p(opcode::nop_in);
  p.set_final(true);
  p.data = text_bytes("ping!");
  const digest_settings both{true, true};
  const byte_buffer wire = encode(p, both);  // 48 + 4 + 8 + 4

  SECTION("truncated") {
    CHECK(decode_error(byte_span(wire).first(47), both) == errc::truncated_pdu);
    CHECK(decode_error(byte_span(wire).first(wire.size() - 1), both) == errc::truncated_pdu);
    CHECK(decode_error(byte_span(wire).first(52), both) == errc::truncated_pdu);
  }
  SECTION("extra bytes") {
    byte_buffer longer = wire;
    longer.push_back(0);
    CHECK(decode_error(longer, both) == errc::invalid_argument);
  }
  SECTION("header digest mismatch") {
    byte_buffer bad = wire;
    bad[48] ^= 0x01;  // the digest itself
    CHECK(decode_error(bad, both) == errc::header_digest_mismatch);
    bad = wire;
    bad[20] ^= 0x80;  // a header byte
    CHECK(decode_error(bad, both) == errc::header_digest_mismatch);
  }
  SECTION("data digest mismatch") {
    byte_buffer bad = wire;
    bad[53] ^= 0x01;  // a data byte
    CHECK(decode_error(bad, both) == errc::data_digest_mismatch);
    bad = wire;
    bad[58] = 0x01;  // a padding byte: the digest covers it
    CHECK(decode_error(bad, both) == errc::data_digest_mismatch);
  }
  SECTION("unknown opcodes") {
    CHECK(decode_error(bare_bhs(0x07)) == errc::unknown_opcode);
    CHECK(decode_error(bare_bhs(0x3e)) == errc::unknown_opcode);
    CHECK(decode_error(bare_bhs(0x01)) == errc::unknown_opcode);  // initiator opcode from a target
    CHECK(decode_error(bare_bhs(0x21), {}, mrdsl, pdu_source::initiator) == errc::unknown_opcode);
  }
  SECTION("data segment longer than declared") {
    byte_buffer w = bare_bhs(0x25);
    store_be(&w[5], 3, mrdsl + 1);
    CHECK(decode_error(w) == errc::bad_data_segment_length);
    store_be(&w[5], 3, 0xffffff);
    CHECK(decode_error(w) == errc::bad_data_segment_length);
  }
  SECTION("data on PDUs that carry none") {
    byte_buffer w = bare_bhs(0x31);  // R2T
    w[7] = 4;
    w.resize(52, 0);
    CHECK(decode_error(w) == errc::bad_data_segment_length);
    w[0] = 0x26;  // logout response
    CHECK(decode_error(w) == errc::bad_data_segment_length);
  }
  SECTION("AHS entries that do not fill TotalAHSLength") {
    byte_buffer w = bare_bhs(0x21);
    w[4] = 1;                                    // 4 bytes of AHS
    w.insert(w.end(), {0x00, 0x09, 0x01, 0x00});  // claims 9 bytes of AHS data
    CHECK(decode_error(w) == errc::bad_ahs_length);
    w[4] = 2;
    w.insert(w.end(), {0x00, 0x00, 0x00, 0x00});
    w[48 + 1] = 0x01;  // now two entries of 4 bytes each: length 1 and length 0
    CHECK(decode(w, {}, mrdsl).has_value());
  }
  SECTION("layout that does not match the BHS") {
    const auto bhs = std::span<const std::uint8_t, bhs_size>(wire.data(), bhs_size);
    auto layout = inspect_header(bhs, both, mrdsl);
    REQUIRE(layout.has_value());
    frame_layout wrong = *layout;
    wrong.data_segment_length += 4;
    auto r = decode_body(bhs, byte_span(wire).subspan(bhs_size), both, wrong);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_argument);
  }
}

TEST_CASE("inspect_header announces exactly what follows", "[pdu]") {
  byte_buffer w = bare_bhs(0x24);
  w[4] = 2;
  store_be(&w[5], 3, 13);
  const auto bhs = std::span<const std::uint8_t, bhs_size>(w.data(), bhs_size);
  auto l = inspect_header(bhs, {true, true}, mrdsl);
  REQUIRE(l.has_value());
  CHECK(l->ahs_length == 8u);
  CHECK(l->header_digest_length == 4u);
  CHECK(l->data_segment_length == 13u);
  CHECK(l->data_padding == 3u);
  CHECK(l->data_digest_length == 4u);
  CHECK(l->rest_length() == 8u + 4 + 13 + 3 + 4);

  store_be(&w[5], 3, 0);
  l = inspect_header(bhs, {true, true}, mrdsl);
  REQUIRE(l.has_value());
  CHECK(l->data_digest_length == 0u);  // no data, no data digest
  CHECK(l->rest_length() == 12u);
}

TEST_CASE("setters keep neighbouring bits", "[pdu]") {
  pdu p(opcode::scsi_command);
  p.set_final(true);
  p.set_write_flag(true);
  p.set_task_attr(task_attribute::simple);
  CHECK(p.flags() == 0xa1);
  p.set_task_attr(task_attribute::head_of_queue);
  CHECK(p.flags() == 0xa3);
  p.set_immediate(true);
  p.set_op(opcode::nop_out);
  CHECK(p.bhs[0] == 0x40);
  p.set_csg(login_stage::full_feature);
  p.set_nsg(login_stage::security);
  CHECK(p.csg() == login_stage::full_feature);
  CHECK(p.nsg() == login_stage::security);
  p.set_isid(0xffff123456789abcull);  // only 48 bits fit
  CHECK(p.isid() == 0x123456789abcull);
  CHECK(p.tsih() == 0);
}

TEST_CASE("opcode helpers", "[pdu]") {
  CHECK(to_string(opcode::r2t) == "r2t");
  CHECK(to_string(static_cast<opcode>(0x11)) == "unknown");
  CHECK(is_target_opcode(0x3f));
  CHECK_FALSE(is_target_opcode(0x06));
  CHECK_FALSE(is_target_opcode(0x27));
  CHECK(is_initiator_opcode(0x10));
  CHECK_FALSE(is_initiator_opcode(0x20));
}
