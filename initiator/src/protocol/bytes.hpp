#pragma once
/// Byte vocabulary of the wire layer: buffers, views, and big-endian field
/// access (iSCSI and SCSI are big-endian; only CRC32C digests are not).

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace isens::initiator::protocol {

/// An owned run of wire bytes.
using byte_buffer = std::vector<std::uint8_t>;

/// A read-only view of wire bytes.
using byte_span = std::span<const std::uint8_t>;

/// Reads an unsigned big-endian integer of `n` (<= 8) bytes at `p`.
constexpr std::uint64_t load_be(const std::uint8_t* p, std::size_t n) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

/// Writes the low `n` (<= 8) bytes of `v` big-endian at `p`.
constexpr void store_be(std::uint8_t* p, std::size_t n, std::uint64_t v) noexcept {
  for (std::size_t i = n; i > 0; --i) {
    p[i - 1] = static_cast<std::uint8_t>(v & 0xff);
    v >>= 8;
  }
}

/// Reads a 16-bit big-endian value at `p`.
constexpr std::uint16_t load_be16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>(load_be(p, 2)); }

/// Reads a 32-bit big-endian value at `p`.
constexpr std::uint32_t load_be32(const std::uint8_t* p) noexcept { return static_cast<std::uint32_t>(load_be(p, 4)); }

/// Reads a 64-bit big-endian value at `p`.
constexpr std::uint64_t load_be64(const std::uint8_t* p) noexcept { return load_be(p, 8); }

}  // namespace isens::initiator::protocol
