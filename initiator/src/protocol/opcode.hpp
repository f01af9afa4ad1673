#pragma once
/// iSCSI PDU opcodes (RFC 7143 §11.2.1.2): the low six bits of BHS byte 0.

#include <cstdint>
#include <string_view>

namespace isens::initiator::protocol {

/// Every opcode defined by RFC 7143; initiator opcodes below 0x20, target ones above.
enum class opcode : std::uint8_t {
  nop_out = 0x00,
  scsi_command = 0x01,
  task_mgmt_request = 0x02,
  login_request = 0x03,
  text_request = 0x04,
  data_out = 0x05,
  logout_request = 0x06,
  snack_request = 0x10,
  nop_in = 0x20,
  scsi_response = 0x21,
  task_mgmt_response = 0x22,
  login_response = 0x23,
  text_response = 0x24,
  data_in = 0x25,
  logout_response = 0x26,
  r2t = 0x31,
  async_message = 0x32,
  reject = 0x3f,
};

/// A short lowercase name for logs ("login_response"), or "unknown".
constexpr std::string_view to_string(opcode op) noexcept {
  switch (op) {
    case opcode::nop_out: return "nop_out";
    case opcode::scsi_command: return "scsi_command";
    case opcode::task_mgmt_request: return "task_mgmt_request";
    case opcode::login_request: return "login_request";
    case opcode::text_request: return "text_request";
    case opcode::data_out: return "data_out";
    case opcode::logout_request: return "logout_request";
    case opcode::snack_request: return "snack_request";
    case opcode::nop_in: return "nop_in";
    case opcode::scsi_response: return "scsi_response";
    case opcode::task_mgmt_response: return "task_mgmt_response";
    case opcode::login_response: return "login_response";
    case opcode::text_response: return "text_response";
    case opcode::data_in: return "data_in";
    case opcode::logout_response: return "logout_response";
    case opcode::r2t: return "r2t";
    case opcode::async_message: return "async_message";
    case opcode::reject: return "reject";
  }
  return "unknown";
}

/// True when `value` (six-bit opcode) is one a target may send to an initiator.
constexpr bool is_target_opcode(std::uint8_t value) noexcept {
  switch (static_cast<opcode>(value)) {
    case opcode::nop_in:
    case opcode::scsi_response:
    case opcode::task_mgmt_response:
    case opcode::login_response:
    case opcode::text_response:
    case opcode::data_in:
    case opcode::logout_response:
    case opcode::r2t:
    case opcode::async_message:
    case opcode::reject: return true;
    default: return false;
  }
}

/// True when `value` (six-bit opcode) is one an initiator may send to a target.
constexpr bool is_initiator_opcode(std::uint8_t value) noexcept {
  switch (static_cast<opcode>(value)) {
    case opcode::nop_out:
    case opcode::scsi_command:
    case opcode::task_mgmt_request:
    case opcode::login_request:
    case opcode::text_request:
    case opcode::data_out:
    case opcode::logout_request:
    case opcode::snack_request: return true;
    default: return false;
  }
}

}  // namespace isens::initiator::protocol
