#pragma once
/// Byte vocabulary of the wire layer: buffers, views, and big-endian field
/// access (iSCSI and SCSI are big-endian; only CRC32C digests are not).

#include <bit>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <cstdint>
#include <span>
#include <vector>

namespace isens::initiator::protocol {

/// An owned run of wire bytes.
using byte_buffer = std::vector<std::uint8_t>;

/// A read-only view of wire bytes.
using byte_span = std::span<const std::uint8_t>;

namespace detail {

// One load or store and a byte swap for the usual widths (a byte loop that
// -O2 does not merge cost ~60 instructions per CDB and a few per field).
inline std::uint16_t swap_bytes(std::uint16_t v) noexcept { return __builtin_bswap16(v); }
inline std::uint32_t swap_bytes(std::uint32_t v) noexcept { return __builtin_bswap32(v); }
inline std::uint64_t swap_bytes(std::uint64_t v) noexcept { return __builtin_bswap64(v); }

template <class T>
T load_swapped(const std::uint8_t* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return swap_bytes(v);
}
template <class T>
void store_swapped(std::uint8_t* p, T v) noexcept {
  v = swap_bytes(v);
  std::memcpy(p, &v, sizeof v);
}

}  // namespace detail

/// Reads an unsigned big-endian integer of `n` (<= 8) bytes at `p`.
constexpr std::uint64_t load_be(const std::uint8_t* p, std::size_t n) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    if (!std::is_constant_evaluated()) {
      if (n == 8) return detail::load_swapped<std::uint64_t>(p);
      if (n == 4) return detail::load_swapped<std::uint32_t>(p);
      if (n == 2) return detail::load_swapped<std::uint16_t>(p);
    }
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

/// Writes the low `n` (<= 8) bytes of `v` big-endian at `p`.
constexpr void store_be(std::uint8_t* p, std::size_t n, std::uint64_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    if (!std::is_constant_evaluated()) {
      if (n == 8) return detail::store_swapped(p, v);
      if (n == 4) return detail::store_swapped(p, static_cast<std::uint32_t>(v));
      if (n == 2) return detail::store_swapped(p, static_cast<std::uint16_t>(v));
    }
  }
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
