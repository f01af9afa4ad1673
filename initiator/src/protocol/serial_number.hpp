#pragma once
/// 32-bit serial number arithmetic (RFC 1982), which CmdSN, StatSN and
/// DataSN use (RFC 7143 §4.2.2.1): comparisons that survive wrap-around.

#include <cstdint>

namespace isens::initiator::protocol {

/// True when `a` comes after `b` in serial order.
constexpr bool serial_greater(std::uint32_t a, std::uint32_t b) noexcept {
  return a != b && static_cast<std::int32_t>(a - b) > 0;
}

/// True when `a` equals `b` or comes after it.
constexpr bool serial_greater_equal(std::uint32_t a, std::uint32_t b) noexcept { return a == b || serial_greater(a, b); }

}  // namespace isens::initiator::protocol
