#pragma once
/// CRC32C (Castagnoli), the iSCSI header and data digest (RFC 7143 §13.1).

#include "protocol/bytes.hpp"

#include <cstdint>

namespace isens::initiator::protocol {

/// Size in bytes of a header or data digest on the wire.
inline constexpr std::size_t digest_size = 4;

/// The CRC32C of `bytes` (initial value and final XOR 0xFFFFFFFF, reflected).
std::uint32_t crc32c(byte_span bytes) noexcept;

/// The CRC32C of `first` followed by `second` (header digest over BHS + AHS).
std::uint32_t crc32c(byte_span first, byte_span second) noexcept;

/// Writes a digest as it travels on the wire: least significant byte first
/// (RFC 7143 Appendix B.4 shows 0x8a9136aa sent as aa 36 91 8a).
void store_digest(std::uint8_t* out, std::uint32_t digest) noexcept;

/// Reads a digest stored by `store_digest`.
std::uint32_t load_digest(const std::uint8_t* in) noexcept;

}  // namespace isens::initiator::protocol
