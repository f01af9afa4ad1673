#include "protocol/crc32c.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <numeric>
#include <string_view>

using namespace isens::initiator::protocol;

TEST_CASE("crc32c matches RFC 3720/7143 Appendix B.4 vectors", "[crc32c]") {
  std::array<std::uint8_t, 32> buf{};
  CHECK(crc32c(buf) == 0x8a9136aau);

  buf.fill(0xff);
  CHECK(crc32c(buf) == 0x62a8ab43u);

  std::iota(buf.begin(), buf.end(), std::uint8_t{0});
  CHECK(crc32c(buf) == 0x46dd794eu);

  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(31 - i);
  CHECK(crc32c(buf) == 0x113fdb5cu);
}

TEST_CASE("crc32c of the B.4 SCSI Read(10) PDU", "[crc32c]") {
  const std::array<std::uint8_t, 48> pdu{
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
      0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  CHECK(crc32c(pdu) == 0xd9963a56u);
}

TEST_CASE("crc32c check value and split input", "[crc32c]") {
  constexpr std::string_view check = "123456789";
  const auto* p = reinterpret_cast<const std::uint8_t*>(check.data());
  CHECK(crc32c(byte_span(p, check.size())) == 0xe3069283u);
  CHECK(crc32c(byte_span(p, 4), byte_span(p + 4, 5)) == 0xe3069283u);
  CHECK(crc32c(byte_span{}) == 0u);
}

TEST_CASE("digests travel least significant byte first", "[crc32c]") {
  // RFC 3720 B.4 lists the zeros vector's CRC as the bytes aa 36 91 8a.
  std::array<std::uint8_t, 4> wire{};
  store_digest(wire.data(), 0x8a9136aau);
  CHECK(wire == std::array<std::uint8_t, 4>{0xaa, 0x36, 0x91, 0x8a});
  CHECK(load_digest(wire.data()) == 0x8a9136aau);
}
