#pragma once
/// SCSI commands the initiator issues itself (SPC-4/SBC-3): CDB builders and
/// parsers of their response data. Every parser checks lengths first:
/// short or inconsistent data is errc::scsi_bad_response, never an
/// out-of-bounds read. Sense data lives in scsi_sense.hpp.

#include "isens/initiator/error.hpp"
#include "protocol/bytes.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace isens::initiator::protocol {

/// A CDB in the 16-byte form of the SCSI Command PDU (zero-padded).
using cdb = std::array<std::uint8_t, 16>;

/// SCSI status byte values (SAM-5).
enum class scsi_status : std::uint8_t {
  good = 0x00,
  check_condition = 0x02,
  condition_met = 0x04,
  busy = 0x08,
  reservation_conflict = 0x18,
  task_set_full = 0x28,
  aca_active = 0x30,
  task_aborted = 0x40,
};

/// "GOOD", "CHECK CONDITION", ... or "UNKNOWN".
std::string_view to_string(scsi_status s) noexcept;

/// VPD page: Unit Serial Number.
inline constexpr std::uint8_t vpd_unit_serial_number = 0x80;
/// VPD page: Device Identification.
inline constexpr std::uint8_t vpd_device_identification = 0x83;

/// TEST UNIT READY (0x00).
cdb test_unit_ready_cdb() noexcept;
/// INQUIRY (0x12) for standard data.
cdb inquiry_cdb(std::uint16_t allocation_length) noexcept;
/// INQUIRY (0x12) with EVPD for VPD page `page`.
cdb inquiry_vpd_cdb(std::uint8_t page, std::uint16_t allocation_length) noexcept;
/// READ CAPACITY(10) (0x25); its data is 8 bytes.
cdb read_capacity10_cdb() noexcept;
/// READ CAPACITY(16): SERVICE ACTION IN(16) 0x9e, service action 0x10.
cdb read_capacity16_cdb(std::uint32_t allocation_length = 32) noexcept;
/// MODE SENSE(6) (0x1a) of all pages, without block descriptors.
cdb mode_sense6_cdb(std::uint8_t allocation_length) noexcept;
/// REPORT LUNS (0xa0); allocation length at least 16.
cdb report_luns_cdb(std::uint32_t allocation_length, std::uint8_t select_report = 0) noexcept;
/// READ(10) (0x28).
cdb read10_cdb(std::uint32_t lba, std::uint16_t blocks) noexcept;
/// READ(16) (0x88).
cdb read16_cdb(std::uint64_t lba, std::uint32_t blocks) noexcept;
/// WRITE(10) (0x2a).
cdb write10_cdb(std::uint32_t lba, std::uint16_t blocks) noexcept;
/// WRITE(16) (0x8a).
cdb write16_cdb(std::uint64_t lba, std::uint32_t blocks) noexcept;
/// WRITE(16) with the FUA bit: GOOD only once the blocks are on stable storage.
cdb write16_fua_cdb(std::uint64_t lba, std::uint32_t blocks) noexcept;
/// SYNCHRONIZE CACHE(10) of the whole logical unit (LBA 0, 0 blocks).
cdb synchronize_cache10_cdb() noexcept;
/// WRITE SAME(16) (0x93): one block of Data-Out written to `blocks` blocks;
/// with `unmap` the target may deallocate them instead (SBC-4 §5.50).
cdb write_same16_cdb(std::uint64_t lba, std::uint32_t blocks, bool unmap) noexcept;
/// UNMAP (0x42) with a parameter list of `parameter_length` bytes (see unmap_parameters).
cdb unmap_cdb(std::uint16_t parameter_length) noexcept;
/// UNMAP's parameter list for one range: an 8-byte header and one 16-byte descriptor.
std::array<std::uint8_t, 24> unmap_parameters(std::uint64_t lba, std::uint32_t blocks) noexcept;

/// Standard INQUIRY data (SPC-4 §6.6.2); strings are trimmed of spaces/NULs.
struct standard_inquiry {
  std::uint8_t peripheral_qualifier = 0;  ///< byte 0 bits 7-5 (0: LU present)
  std::uint8_t device_type = 0;           ///< byte 0 bits 4-0 (0: disk, 5: CD/DVD, 0x1f: unknown)
  bool removable = false;                 ///< RMB
  std::uint8_t version = 0;               ///< SPC version claimed
  std::string vendor;                     ///< T10 vendor identification
  std::string product;                    ///< product identification
  std::string revision;                   ///< product revision level
};

/// Parses standard INQUIRY data (at least 36 bytes).
result<standard_inquiry> parse_standard_inquiry(byte_span data);

/// Parses VPD page 0x80 to the serial number, trimmed.
result<std::string> parse_unit_serial_number(byte_span data);

/// One designation descriptor of VPD page 0x83.
struct designation_descriptor {
  std::uint8_t protocol_identifier = 0;  ///< byte 0 bits 7-4 (valid when piv)
  std::uint8_t code_set = 0;             ///< 1 binary, 2 ASCII, 3 UTF-8
  bool piv = false;                      ///< protocol identifier valid
  std::uint8_t association = 0;          ///< 0 LU, 1 target port, 2 target device
  std::uint8_t designator_type = 0;      ///< 1 T10, 2 EUI-64, 3 NAA, 8 SCSI name, ...
  byte_buffer designator;                ///< raw designator bytes
  std::string text;                      ///< ASCII/UTF-8 as text, binary as lowercase hex
};

/// Parses VPD page 0x83 into its descriptors.
result<std::vector<designation_descriptor>> parse_device_identification(byte_span data);

/// READ CAPACITY(10)/(16) data.
struct capacity {
  std::uint64_t last_lba = 0;        ///< address of the last block
  std::uint32_t block_size = 0;      ///< bytes per logical block
  std::uint64_t capacity_bytes = 0;  ///< (last_lba + 1) * block_size
  bool needs_read_capacity16 = false;  ///< READ CAPACITY(10) said 0xffffffff: ask again with (16)
  bool thin_provisioned = false;       ///< (16) only: LBPME, the device can deallocate blocks
  bool zeroes_after_unmap = false;     ///< (16) only: LBPRZ, deallocated blocks read as zeros
};

/// Parses READ CAPACITY(10) data (8 bytes).
result<capacity> parse_read_capacity10(byte_span data);

/// Parses READ CAPACITY(16) data (at least 12 bytes).
result<capacity> parse_read_capacity16(byte_span data);

/// The MODE SENSE(6) header's device-specific parameter of a block device.
struct mode_header {
  bool write_protected = false;  ///< WP, bit 7
  bool dpo_fua = false;          ///< DPOFUA, bit 4
};

/// Parses the 4-byte MODE SENSE(6) header.
result<mode_header> parse_mode_sense6_header(byte_span data);

/// REPORT LUNS data.
struct report_luns_data {
  std::vector<std::uint64_t> luns;  ///< LUN numbers (see decode_lun), in target order
  std::uint32_t list_length = 0;    ///< bytes of LUN list the target has
  bool truncated = false;           ///< allocation was too short: ask again with 8 + list_length
};

/// Parses REPORT LUNS data; a list longer than the buffer gives the entries present.
result<report_luns_data> parse_report_luns(byte_span data);

/// The LUN number of an 8-byte LUN field (SAM-5 §4.7): peripheral (bus 0)
/// and flat-space addressing decode to their number; other forms are
/// returned as the Linux scsilun_to_int packing of their first four bytes pairs.
std::uint64_t decode_lun(std::uint64_t raw) noexcept;

/// The 8-byte LUN field for a number: peripheral addressing below 256, flat
/// space below 16384; larger numbers are invalid_argument.
result<std::uint64_t> encode_lun(std::uint64_t number);

}  // namespace isens::initiator::protocol
