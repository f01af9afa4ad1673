#pragma once
/// The iSCSI PDU value and its framing (RFC 7143 §11).
///
/// A PDU on the wire is: a 48-byte Basic Header Segment (BHS), an optional
/// Additional Header Segment (AHS, TotalAHSLength 4-byte words), an optional
/// CRC32C header digest over BHS+AHS, the data segment padded with zeros to a
/// multiple of 4, and an optional CRC32C data digest over data+padding (only
/// when the data segment is not empty).
///
/// `pdu` keeps the BHS as raw bytes; every wire offset of this library is
/// written once, here, as a named getter/setter (as libiscsi's PDU setters
/// do). Getters never fail: a BHS always has 48 bytes.
///
/// Sending: build a `pdu`, set fields, fill `data`, call `encode` (it sets
/// TotalAHSLength and DataSegmentLength from `ahs` and `data`).
///
/// Receiving, header then body (the Asio chat-client pattern):
///   1. read 48 bytes, call `inspect_header` → a `frame_layout` (or an error:
///      unknown opcode, data segment longer than we declared);
///   2. read `layout.rest_length()` more bytes, call `decode_body` → a `pdu`
///      (or an error: digest mismatch, malformed AHS, truncated input).

#include "isens/initiator/error.hpp"
#include "protocol/bytes.hpp"
#include "protocol/crc32c.hpp"
#include "protocol/opcode.hpp"

#include <array>
#include <cstdint>
#include <span>

namespace isens::initiator::protocol {

/// Size of the Basic Header Segment.
inline constexpr std::size_t bhs_size = 48;

/// Largest value the 24-bit DataSegmentLength field can hold.
inline constexpr std::uint32_t max_data_segment_length = 0xFFFFFF;

/// Which CRC32C digests are in use on a connection (negotiated at login).
struct digest_settings {
  bool header = false;  ///< HeaderDigest=CRC32C
  bool data = false;    ///< DataDigest=CRC32C
};

/// Login stages (CSG/NSG, RFC 7143 §11.12.3).
enum class login_stage : std::uint8_t { security = 0, operational = 1, full_feature = 3 };

/// SCSI task attributes of a SCSI Command PDU (RFC 7143 §11.3.1.3).
enum class task_attribute : std::uint8_t { untagged = 0, simple = 1, ordered = 2, head_of_queue = 3, aca = 4 };

/// Which side sent the PDU being decoded: decides which opcodes are valid.
enum class pdu_source : std::uint8_t { target, initiator };

/// The ITT/TTT value meaning "no tag" (0xffffffff).
inline constexpr std::uint32_t reserved_tag = 0xFFFFFFFF;

/// One PDU: raw BHS plus AHS and data segment (public: it is a plain value).
struct pdu {
  std::array<std::uint8_t, bhs_size> bhs{};  ///< the 48-byte BHS
  byte_buffer ahs;                            ///< AHS bytes, without header digest
  byte_buffer data;                           ///< data segment, without padding or digest

  /// An all-zero PDU.
  pdu() = default;
  /// A PDU with the opcode set (and the I bit for login requests, which require it).
  explicit pdu(opcode op) { set_op(op); if (op == opcode::login_request) set_immediate(true); }

  // ---- common fields (every opcode) ----
  /// The six-bit opcode (byte 0).
  protocol::opcode op() const noexcept { return static_cast<protocol::opcode>(bhs[0] & 0x3f); }
  /// Sets the opcode, keeping the I bit.
  void set_op(protocol::opcode v) noexcept { bhs[0] = static_cast<std::uint8_t>((bhs[0] & 0x40) | (static_cast<std::uint8_t>(v) & 0x3f)); }
  /// I bit: immediate delivery (byte 0, 0x40).
  bool immediate() const noexcept { return bit(0, 0x40); }
  /// Sets the I bit.
  void set_immediate(bool v) noexcept { set_bit(0, 0x40, v); }
  /// The whole opcode-specific flags byte (byte 1).
  std::uint8_t flags() const noexcept { return bhs[1]; }
  /// Sets the flags byte.
  void set_flags(std::uint8_t v) noexcept { bhs[1] = v; }
  /// F bit: final PDU of a sequence (byte 1, 0x80); T (transit) for login.
  bool is_final() const noexcept { return bit(1, 0x80); }
  /// Sets the F bit.
  void set_final(bool v) noexcept { set_bit(1, 0x80, v); }
  /// TotalAHSLength in 4-byte words (byte 4).
  std::uint8_t total_ahs_length() const noexcept { return bhs[4]; }
  /// Sets TotalAHSLength (encode() overwrites it from `ahs`).
  void set_total_ahs_length(std::uint8_t words) noexcept { bhs[4] = words; }
  /// DataSegmentLength, 24 bits (bytes 5-7).
  std::uint32_t data_segment_length() const noexcept { return get(5, 3); }
  /// Sets DataSegmentLength (encode() overwrites it from `data`).
  void set_data_segment_length(std::uint32_t v) noexcept { put(5, 3, v); }
  /// LUN, 8 raw bytes (bytes 8-15), big-endian; see scsi.hpp for LUN numbers.
  std::uint64_t lun() const noexcept { return get(8, 8); }
  /// Sets the raw LUN field.
  void set_lun(std::uint64_t v) noexcept { put(8, 8, v); }
  /// Initiator Task Tag (bytes 16-19).
  std::uint32_t itt() const noexcept { return get32(16); }
  /// Sets the ITT.
  void set_itt(std::uint32_t v) noexcept { put(16, 4, v); }
  /// Target Transfer Tag (bytes 20-23; NOP, text, data, R2T, SNACK).
  std::uint32_t ttt() const noexcept { return get32(20); }
  /// Sets the TTT.
  void set_ttt(std::uint32_t v) noexcept { put(20, 4, v); }
  /// CmdSN of initiator PDUs (bytes 24-27).
  std::uint32_t cmd_sn() const noexcept { return get32(24); }
  /// Sets CmdSN.
  void set_cmd_sn(std::uint32_t v) noexcept { put(24, 4, v); }
  /// StatSN of target PDUs (bytes 24-27).
  std::uint32_t stat_sn() const noexcept { return get32(24); }
  /// Sets StatSN.
  void set_stat_sn(std::uint32_t v) noexcept { put(24, 4, v); }
  /// ExpStatSN of initiator PDUs (bytes 28-31).
  std::uint32_t exp_stat_sn() const noexcept { return get32(28); }
  /// Sets ExpStatSN.
  void set_exp_stat_sn(std::uint32_t v) noexcept { put(28, 4, v); }
  /// ExpCmdSN of target PDUs (bytes 28-31).
  std::uint32_t exp_cmd_sn() const noexcept { return get32(28); }
  /// Sets ExpCmdSN.
  void set_exp_cmd_sn(std::uint32_t v) noexcept { put(28, 4, v); }
  /// MaxCmdSN of target PDUs (bytes 32-35).
  std::uint32_t max_cmd_sn() const noexcept { return get32(32); }
  /// Sets MaxCmdSN.
  void set_max_cmd_sn(std::uint32_t v) noexcept { put(32, 4, v); }

  // ---- login request / response (§11.12, §11.13) ----
  /// T bit: transit to the next stage (byte 1, 0x80).
  bool transit() const noexcept { return bit(1, 0x80); }
  /// Sets the T bit.
  void set_transit(bool v) noexcept { set_bit(1, 0x80, v); }
  /// C bit: text continues in the next PDU (login and text, byte 1, 0x40).
  bool continue_flag() const noexcept { return bit(1, 0x40); }
  /// Sets the C bit.
  void set_continue_flag(bool v) noexcept { set_bit(1, 0x40, v); }
  /// Current stage (byte 1, bits 3-2).
  login_stage csg() const noexcept { return static_cast<login_stage>((bhs[1] >> 2) & 0x3); }
  /// Sets CSG.
  void set_csg(login_stage v) noexcept { bhs[1] = static_cast<std::uint8_t>((bhs[1] & ~0x0c) | ((static_cast<std::uint8_t>(v) & 0x3) << 2)); }
  /// Next stage (byte 1, bits 1-0).
  login_stage nsg() const noexcept { return static_cast<login_stage>(bhs[1] & 0x3); }
  /// Sets NSG.
  void set_nsg(login_stage v) noexcept { bhs[1] = static_cast<std::uint8_t>((bhs[1] & ~0x03) | (static_cast<std::uint8_t>(v) & 0x3)); }
  /// Version-max (byte 2).
  std::uint8_t version_max() const noexcept { return bhs[2]; }
  /// Sets Version-max.
  void set_version_max(std::uint8_t v) noexcept { bhs[2] = v; }
  /// Version-min of a login request (byte 3).
  std::uint8_t version_min() const noexcept { return bhs[3]; }
  /// Sets Version-min.
  void set_version_min(std::uint8_t v) noexcept { bhs[3] = v; }
  /// Version-active of a login response (byte 3).
  std::uint8_t version_active() const noexcept { return bhs[3]; }
  /// Sets Version-active.
  void set_version_active(std::uint8_t v) noexcept { bhs[3] = v; }
  /// ISID as a 48-bit value (bytes 8-13).
  std::uint64_t isid() const noexcept { return get(8, 6); }
  /// Sets the ISID (low 48 bits of `v`).
  void set_isid(std::uint64_t v) noexcept { put(8, 6, v); }
  /// TSIH (bytes 14-15).
  std::uint16_t tsih() const noexcept { return static_cast<std::uint16_t>(get(14, 2)); }
  /// Sets the TSIH.
  void set_tsih(std::uint16_t v) noexcept { put(14, 2, v); }
  /// CID of a login or logout request (bytes 20-21).
  std::uint16_t cid() const noexcept { return static_cast<std::uint16_t>(get(20, 2)); }
  /// Sets the CID.
  void set_cid(std::uint16_t v) noexcept { put(20, 2, v); }
  /// Status-Class of a login response (byte 36).
  std::uint8_t status_class() const noexcept { return bhs[36]; }
  /// Sets Status-Class.
  void set_status_class(std::uint8_t v) noexcept { bhs[36] = v; }
  /// Status-Detail of a login response (byte 37).
  std::uint8_t status_detail() const noexcept { return bhs[37]; }
  /// Sets Status-Detail.
  void set_status_detail(std::uint8_t v) noexcept { bhs[37] = v; }

  // ---- SCSI command (§11.3) ----
  /// R bit: data flows target→initiator (byte 1, 0x40).
  bool read_flag() const noexcept { return bit(1, 0x40); }
  /// Sets the R bit.
  void set_read_flag(bool v) noexcept { set_bit(1, 0x40, v); }
  /// W bit: data flows initiator→target (byte 1, 0x20).
  bool write_flag() const noexcept { return bit(1, 0x20); }
  /// Sets the W bit.
  void set_write_flag(bool v) noexcept { set_bit(1, 0x20, v); }
  /// Task attribute (byte 1, bits 2-0).
  task_attribute task_attr() const noexcept { return static_cast<task_attribute>(bhs[1] & 0x07); }
  /// Sets the task attribute.
  void set_task_attr(task_attribute v) noexcept { bhs[1] = static_cast<std::uint8_t>((bhs[1] & ~0x07) | (static_cast<std::uint8_t>(v) & 0x07)); }
  /// Expected Data Transfer Length (bytes 20-23).
  std::uint32_t expected_data_transfer_length() const noexcept { return get32(20); }
  /// Sets Expected Data Transfer Length.
  void set_expected_data_transfer_length(std::uint32_t v) noexcept { put(20, 4, v); }
  /// The 16-byte CDB field (bytes 32-47).
  std::span<const std::uint8_t, 16> cdb() const noexcept { return std::span<const std::uint8_t, 16>(bhs.data() + 32, 16); }
  /// Copies a CDB of at most 16 bytes in, zero-filling the rest (longer CDBs need an AHS).
  void set_cdb(byte_span cdb);

  // ---- SCSI response (§11.4) and Data-In (§11.7) ----
  /// Response code of SCSI, task management and logout responses (byte 2).
  std::uint8_t response() const noexcept { return bhs[2]; }
  /// Sets the response code.
  void set_response(std::uint8_t v) noexcept { bhs[2] = v; }
  /// SCSI status (byte 3; SCSI response, and Data-In when S is set).
  std::uint8_t status() const noexcept { return bhs[3]; }
  /// Sets the SCSI status.
  void set_status(std::uint8_t v) noexcept { bhs[3] = v; }
  /// o bit: bidirectional read residual overflow (byte 1, 0x10).
  bool bidi_overflow() const noexcept { return bit(1, 0x10); }
  /// Sets the o bit.
  void set_bidi_overflow(bool v) noexcept { set_bit(1, 0x10, v); }
  /// u bit: bidirectional read residual underflow (byte 1, 0x08).
  bool bidi_underflow() const noexcept { return bit(1, 0x08); }
  /// Sets the u bit.
  void set_bidi_underflow(bool v) noexcept { set_bit(1, 0x08, v); }
  /// O bit: residual overflow (byte 1, 0x04).
  bool residual_overflow() const noexcept { return bit(1, 0x04); }
  /// Sets the O bit.
  void set_residual_overflow(bool v) noexcept { set_bit(1, 0x04, v); }
  /// U bit: residual underflow (byte 1, 0x02).
  bool residual_underflow() const noexcept { return bit(1, 0x02); }
  /// Sets the U bit.
  void set_residual_underflow(bool v) noexcept { set_bit(1, 0x02, v); }
  /// ExpDataSN of a SCSI response or task management request (bytes 36-39).
  std::uint32_t exp_data_sn() const noexcept { return get32(36); }
  /// Sets ExpDataSN.
  void set_exp_data_sn(std::uint32_t v) noexcept { put(36, 4, v); }
  /// Bidirectional Read Residual Count (bytes 40-43).
  std::uint32_t bidi_residual_count() const noexcept { return get32(40); }
  /// Sets the bidirectional residual count.
  void set_bidi_residual_count(std::uint32_t v) noexcept { put(40, 4, v); }
  /// Residual Count of SCSI response and Data-In (bytes 44-47).
  std::uint32_t residual_count() const noexcept { return get32(44); }
  /// Sets the residual count.
  void set_residual_count(std::uint32_t v) noexcept { put(44, 4, v); }
  /// S bit of Data-In: the PDU carries the command's status (byte 1, 0x01).
  bool has_status() const noexcept { return bit(1, 0x01); }
  /// Sets the S bit.
  void set_has_status(bool v) noexcept { set_bit(1, 0x01, v); }
  /// A bit of Data-In: acknowledge requested (byte 1, 0x40).
  bool acknowledge() const noexcept { return bit(1, 0x40); }
  /// Sets the A bit.
  void set_acknowledge(bool v) noexcept { set_bit(1, 0x40, v); }

  // ---- Data-In / Data-Out / R2T (§11.7, §11.8) ----
  /// DataSN of Data-In/Data-Out (bytes 36-39).
  std::uint32_t data_sn() const noexcept { return get32(36); }
  /// Sets DataSN.
  void set_data_sn(std::uint32_t v) noexcept { put(36, 4, v); }
  /// R2TSN of an R2T (bytes 36-39).
  std::uint32_t r2t_sn() const noexcept { return get32(36); }
  /// Sets R2TSN.
  void set_r2t_sn(std::uint32_t v) noexcept { put(36, 4, v); }
  /// Buffer Offset of Data-In/Data-Out/R2T (bytes 40-43).
  std::uint32_t buffer_offset() const noexcept { return get32(40); }
  /// Sets Buffer Offset.
  void set_buffer_offset(std::uint32_t v) noexcept { put(40, 4, v); }
  /// Desired Data Transfer Length of an R2T (bytes 44-47).
  std::uint32_t desired_data_transfer_length() const noexcept { return get32(44); }
  /// Sets Desired Data Transfer Length.
  void set_desired_data_transfer_length(std::uint32_t v) noexcept { put(44, 4, v); }

  // ---- logout (§11.14, §11.15) ----
  /// Reason code of a logout request (byte 1, bits 6-0).
  std::uint8_t reason_code() const noexcept { return bhs[1] & 0x7f; }
  /// Sets the reason code, keeping the F bit.
  void set_reason_code(std::uint8_t v) noexcept { bhs[1] = static_cast<std::uint8_t>((bhs[1] & 0x80) | (v & 0x7f)); }
  /// Time2Wait of a logout response (bytes 40-41).
  std::uint16_t time2wait() const noexcept { return static_cast<std::uint16_t>(get(40, 2)); }
  /// Sets Time2Wait.
  void set_time2wait(std::uint16_t v) noexcept { put(40, 2, v); }
  /// Time2Retain of a logout response (bytes 42-43).
  std::uint16_t time2retain() const noexcept { return static_cast<std::uint16_t>(get(42, 2)); }
  /// Sets Time2Retain.
  void set_time2retain(std::uint16_t v) noexcept { put(42, 2, v); }

  // ---- async message (§11.9) ----
  /// AsyncEvent (byte 36).
  std::uint8_t async_event() const noexcept { return bhs[36]; }
  /// Sets AsyncEvent.
  void set_async_event(std::uint8_t v) noexcept { bhs[36] = v; }
  /// AsyncVCode (byte 37).
  std::uint8_t async_vcode() const noexcept { return bhs[37]; }
  /// Sets AsyncVCode.
  void set_async_vcode(std::uint8_t v) noexcept { bhs[37] = v; }
  /// Parameter1 (bytes 38-39).
  std::uint16_t parameter1() const noexcept { return static_cast<std::uint16_t>(get(38, 2)); }
  /// Sets Parameter1.
  void set_parameter1(std::uint16_t v) noexcept { put(38, 2, v); }
  /// Parameter2 (bytes 40-41).
  std::uint16_t parameter2() const noexcept { return static_cast<std::uint16_t>(get(40, 2)); }
  /// Sets Parameter2.
  void set_parameter2(std::uint16_t v) noexcept { put(40, 2, v); }
  /// Parameter3 (bytes 42-43).
  std::uint16_t parameter3() const noexcept { return static_cast<std::uint16_t>(get(42, 2)); }
  /// Sets Parameter3.
  void set_parameter3(std::uint16_t v) noexcept { put(42, 2, v); }

  // ---- reject (§11.17); the rejected BHS is the data segment ----
  /// Reject reason (byte 2).
  std::uint8_t reject_reason() const noexcept { return bhs[2]; }
  /// Sets the reject reason.
  void set_reject_reason(std::uint8_t v) noexcept { bhs[2] = v; }

  // ---- task management (§11.5, §11.6) ----
  /// Task management function (byte 1, bits 6-0).
  std::uint8_t function() const noexcept { return bhs[1] & 0x7f; }
  /// Sets the function, keeping the F bit.
  void set_function(std::uint8_t v) noexcept { bhs[1] = static_cast<std::uint8_t>((bhs[1] & 0x80) | (v & 0x7f)); }
  /// Referenced Task Tag (bytes 20-23).
  std::uint32_t referenced_task_tag() const noexcept { return get32(20); }
  /// Sets Referenced Task Tag.
  void set_referenced_task_tag(std::uint32_t v) noexcept { put(20, 4, v); }
  /// RefCmdSN (bytes 32-35).
  std::uint32_t ref_cmd_sn() const noexcept { return get32(32); }
  /// Sets RefCmdSN.
  void set_ref_cmd_sn(std::uint32_t v) noexcept { put(32, 4, v); }

  // ---- SNACK (§11.16) ----
  /// SNACK type (byte 1, bits 3-0).
  std::uint8_t snack_type() const noexcept { return bhs[1] & 0x0f; }
  /// Sets the SNACK type, keeping the F bit.
  void set_snack_type(std::uint8_t v) noexcept { bhs[1] = static_cast<std::uint8_t>((bhs[1] & 0x80) | (v & 0x0f)); }
  /// BegRun (bytes 40-43).
  std::uint32_t beg_run() const noexcept { return get32(40); }
  /// Sets BegRun.
  void set_beg_run(std::uint32_t v) noexcept { put(40, 4, v); }
  /// RunLength (bytes 44-47).
  std::uint32_t run_length() const noexcept { return get32(44); }
  /// Sets RunLength.
  void set_run_length(std::uint32_t v) noexcept { put(44, 4, v); }

 private:
  bool bit(std::size_t at, std::uint8_t mask) const noexcept { return (bhs[at] & mask) != 0; }
  void set_bit(std::size_t at, std::uint8_t mask, bool v) noexcept {
    bhs[at] = static_cast<std::uint8_t>(v ? (bhs[at] | mask) : (bhs[at] & ~mask));
  }
  std::uint64_t get(std::size_t at, std::size_t n) const noexcept { return load_be(bhs.data() + at, n); }
  std::uint32_t get32(std::size_t at) const noexcept { return load_be32(bhs.data() + at); }
  void put(std::size_t at, std::size_t n, std::uint64_t v) noexcept { store_be(bhs.data() + at, n, v); }
};

/// What follows a BHS on the wire, as announced by that BHS.
struct frame_layout {
  std::uint32_t ahs_length = 0;            ///< AHS bytes (TotalAHSLength * 4)
  std::uint32_t header_digest_length = 0;  ///< 4 with HeaderDigest=CRC32C, else 0
  std::uint32_t data_segment_length = 0;   ///< data bytes, without padding
  std::uint32_t data_padding = 0;          ///< zero bytes that pad data to 4
  std::uint32_t data_digest_length = 0;    ///< 4 with DataDigest=CRC32C and data present

  /// Bytes to read after the BHS to complete the PDU.
  std::size_t rest_length() const noexcept {
    return std::size_t{ahs_length} + header_digest_length + data_segment_length + data_padding + data_digest_length;
  }
  /// Layouts are equal when every part is.
  friend bool operator==(const frame_layout&, const frame_layout&) = default;
};

/// Serialises `p`: BHS (with TotalAHSLength/DataSegmentLength taken from
/// `p.ahs`/`p.data`), AHS padded to 4, header digest, data, padding, data digest.
/// Precondition: p.data.size() <= max_data_segment_length, p.ahs.size() <= 1020.
byte_buffer encode(const pdu& p, digest_settings digests);

/// The bytes that frame a data segment kept elsewhere (a caller's buffer
/// sent in place): `head` is the BHS (with TotalAHSLength and
/// DataSegmentLength set for `payload`), the padded AHS and the header
/// digest; `tail` is the padding after the payload and its data digest.
struct framing {
  /// The head's bytes.
  byte_span head() const noexcept {
    return long_head.empty() ? byte_span(short_head.data(), short_head_length) : byte_span(long_head);
  }
  /// A head without AHS (every PDU of the data path) is kept inline, since
  /// a heap buffer per PDU sent cost a malloc and a free per command; one
  /// with an AHS goes in `long_head`.
  std::array<std::uint8_t, bhs_size + digest_size> short_head{};
  std::uint8_t short_head_length = 0;
  byte_buffer long_head;
  std::array<std::uint8_t, 7> tail{};
  std::uint8_t tail_length = 0;
};

/// Frames `p` around `payload` (which replaces `p.data`); head + payload +
/// tail is what encode() gives for the same PDU with `payload` as data.
framing frame_around(const pdu& p, byte_span payload, digest_settings digests);

/// Checks a received header digest (the 4 bytes after BHS and AHS);
/// header_digest_mismatch when it is wrong.
result<void> check_header_digest(std::span<const std::uint8_t, bhs_size> bhs, byte_span ahs,
                                 const std::uint8_t* digest);

/// Checks a received data digest over a data segment and its padding;
/// data_digest_mismatch when it is wrong.
result<void> check_data_digest(byte_span data, byte_span padding, const std::uint8_t* digest);

/// Validates a received BHS and says how many bytes follow it. Errors:
/// unknown_opcode (not an opcode `source` may send), bad_data_segment_length
/// (longer than `max_recv_data_segment_length`, or data on an opcode that
/// must carry none).
result<frame_layout> inspect_header(std::span<const std::uint8_t, bhs_size> bhs, digest_settings digests,
                                    std::uint32_t max_recv_data_segment_length,
                                    pdu_source source = pdu_source::target);

/// Completes a PDU from its BHS and the `layout.rest_length()` bytes after it.
/// Errors: truncated_pdu (rest too short), invalid_argument (rest too long or
/// layout not the one `inspect_header` gives), bad_ahs_length (AHS entries do
/// not fill TotalAHSLength exactly), header_digest_mismatch, data_digest_mismatch.
result<pdu> decode_body(std::span<const std::uint8_t, bhs_size> bhs, byte_span rest, digest_settings digests,
                        const frame_layout& layout);

/// Both steps on a whole PDU in one buffer (tests, fuzzers, scripted peers);
/// extra bytes after the PDU are an error (invalid_argument).
result<pdu> decode(byte_span whole, digest_settings digests, std::uint32_t max_recv_data_segment_length,
                   pdu_source source = pdu_source::target);

}  // namespace isens::initiator::protocol
