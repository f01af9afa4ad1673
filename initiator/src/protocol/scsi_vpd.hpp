#pragma once
/// The VPD pages that say how a block device wants to be driven: which
/// pages it has (0x00), its transfer and unmap limits (Block Limits, 0xB0,
/// SBC-4 §6.6.4) and whether it is thin provisioned (Logical Block
/// Provisioning, 0xB2, SBC-4 §6.6.6). The data path splits commands by the
/// first, and sends UNMAP or WRITE SAME with UNMAP only where the second
/// says they deallocate.

#include "isens/initiator/error.hpp"
#include "protocol/bytes.hpp"

#include <cstdint>
#include <vector>

namespace isens::initiator::protocol {

/// VPD page: Supported VPD Pages.
inline constexpr std::uint8_t vpd_supported_pages = 0x00;
/// VPD page: Block Limits.
inline constexpr std::uint8_t vpd_block_limits = 0xb0;
/// VPD page: Logical Block Provisioning.
inline constexpr std::uint8_t vpd_logical_block_provisioning = 0xb2;

/// The page's body (after its 4-byte header), checked to be page `page` and
/// to fit in `data`.
result<byte_span> vpd_page_body(byte_span data, std::uint8_t page);

/// The page codes page 0x00 lists.
result<std::vector<std::uint8_t>> parse_supported_vpd_pages(byte_span data);

/// Block Limits; 0 in a field means the device declares no limit.
struct block_limits_page {
  std::uint32_t max_transfer_length = 0;     ///< blocks per READ/WRITE, bytes 8-11
  std::uint32_t optimal_transfer_length = 0; ///< bytes 12-15
  std::uint32_t max_unmap_lba_count = 0;     ///< blocks per UNMAP, bytes 20-23
  std::uint32_t max_unmap_descriptors = 0;   ///< bytes 24-27
  std::uint64_t max_write_same_length = 0;   ///< blocks per WRITE SAME, bytes 36-43
};

/// Parses page 0xB0; a short page (SBC-2's 16 bytes) leaves the later fields 0.
result<block_limits_page> parse_block_limits(byte_span data);

/// Logical Block Provisioning, byte 5.
struct provisioning_page {
  bool lbpu = false;    ///< UNMAP deallocates
  bool lbpws = false;   ///< WRITE SAME(16) with UNMAP deallocates
  bool lbprz = false;   ///< deallocated blocks read back as zeros
};

/// Parses page 0xB2.
result<provisioning_page> parse_logical_block_provisioning(byte_span data);

}  // namespace isens::initiator::protocol
