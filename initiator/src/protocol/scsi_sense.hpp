#pragma once
/// SCSI sense data (SPC-4 §4.5): fixed (0x70/0x71) and descriptor
/// (0x72/0x73) formats, reduced to sense key, ASC and ASCQ with a readable
/// text such as "NOT READY: MEDIUM NOT PRESENT (asc 0x3a ascq 0x00)".

#include "isens/initiator/error.hpp"
#include "protocol/bytes.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace isens::initiator::protocol {

/// Sense keys (SPC-4 Table 48).
enum class sense_key : std::uint8_t {
  no_sense = 0x0,
  recovered_error = 0x1,
  not_ready = 0x2,
  medium_error = 0x3,
  hardware_error = 0x4,
  illegal_request = 0x5,
  unit_attention = 0x6,
  data_protect = 0x7,
  blank_check = 0x8,
  vendor_specific = 0x9,
  copy_aborted = 0xa,
  aborted_command = 0xb,
  reserved = 0xc,
  volume_overflow = 0xd,
  miscompare = 0xe,
  completed = 0xf,
};

/// The sense key's SPC name in capitals ("NOT READY").
std::string_view to_string(sense_key k) noexcept;

/// The SPC text of a common ASC/ASCQ pair, or empty when not in our table.
std::string_view asc_ascq_text(std::uint8_t asc, std::uint8_t ascq) noexcept;

/// The parts of sense data the initiator acts on.
struct sense_data {
  std::uint8_t response_code = 0;  ///< 0x70..0x73
  sense_key key = sense_key::no_sense;  ///< sense key
  std::uint8_t asc = 0;            ///< additional sense code
  std::uint8_t ascq = 0;           ///< additional sense code qualifier
  bool descriptor_format = false;  ///< 0x72/0x73
  bool deferred = false;           ///< 0x71/0x73: about an earlier command
};

/// "KEY: TEXT (asc 0xAA ascq 0xQQ)".
std::string describe(const sense_data& s);

/// Parses raw sense data; scsi_bad_response when short or of unknown format.
result<sense_data> parse_sense(byte_span sense);

/// Parses the data segment of a SCSI Response PDU: SenseLength (2 bytes,
/// RFC 7143 §11.4.7.2) then the sense data.
result<sense_data> parse_sense_segment(byte_span data_segment);

}  // namespace isens::initiator::protocol
