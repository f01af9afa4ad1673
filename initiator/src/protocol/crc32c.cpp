#include "protocol/crc32c.hpp"

#include <boost/crc.hpp>

namespace isens::initiator::protocol {

namespace {
using crc32c_engine = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;
}  // namespace

std::uint32_t crc32c(byte_span bytes) noexcept {
  crc32c_engine crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::uint32_t crc32c(byte_span first, byte_span second) noexcept {
  crc32c_engine crc;
  crc.process_bytes(first.data(), first.size());
  crc.process_bytes(second.data(), second.size());
  return crc.checksum();
}

void store_digest(std::uint8_t* out, std::uint32_t digest) noexcept {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(digest >> (8 * i));
}

std::uint32_t load_digest(const std::uint8_t* in) noexcept {
  return static_cast<std::uint32_t>(in[0]) | static_cast<std::uint32_t>(in[1]) << 8 |
         static_cast<std::uint32_t>(in[2]) << 16 | static_cast<std::uint32_t>(in[3]) << 24;
}

}  // namespace isens::initiator::protocol
