#include "protocol/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace isens::initiator::protocol {

namespace {

// The running CRC register (not inverted): `state` in, `state` out.
using update_fn = std::uint32_t (*)(std::uint32_t state, const std::uint8_t* p, std::size_t n) noexcept;

// The reflected polynomial 0x1EDC6F41, one byte at a time.
constexpr std::array<std::uint32_t, 256> make_table() noexcept {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr auto table = make_table();

std::uint32_t update_table(std::uint32_t state, const std::uint8_t* p, std::size_t n) noexcept {
  for (; n > 0; --n, ++p) state = table[(state ^ *p) & 0xff] ^ (state >> 8);
  return state;
}

#if defined(__x86_64__)
// SSE4.2's CRC32 instruction computes exactly CRC32C, 8 bytes at a time:
// data digests at memory speed instead of ~0.5 GB/s through a table.
__attribute__((target("sse4.2"))) std::uint32_t update_sse42(std::uint32_t state, const std::uint8_t* p,
                                                             std::size_t n) noexcept {
  std::uint64_t crc = state;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    crc = _mm_crc32_u64(crc, word);
  }
  auto c = static_cast<std::uint32_t>(crc);
  for (; n > 0; --n, ++p) c = _mm_crc32_u8(c, *p);
  return c;
}
#endif

update_fn pick_update() noexcept {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) return update_sse42;
#endif
  return update_table;
}

const update_fn update = pick_update();

}  // namespace

std::uint32_t crc32c(byte_span bytes) noexcept { return ~update(0xFFFFFFFF, bytes.data(), bytes.size()); }

std::uint32_t crc32c(byte_span first, byte_span second) noexcept {
  return ~update(update(0xFFFFFFFF, first.data(), first.size()), second.data(), second.size());
}

void store_digest(std::uint8_t* out, std::uint32_t digest) noexcept {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(digest >> (8 * i));
}

std::uint32_t load_digest(const std::uint8_t* in) noexcept {
  return static_cast<std::uint32_t>(in[0]) | static_cast<std::uint32_t>(in[1]) << 8 |
         static_cast<std::uint32_t>(in[2]) << 16 | static_cast<std::uint32_t>(in[3]) << 24;
}

}  // namespace isens::initiator::protocol
