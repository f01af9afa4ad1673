#pragma once
/// CHAP with MD5 for iSCSI login (RFC 1994; RFC 7143 §12.1.3), one-way or
/// mutual. Only CHAP_A=5 (MD5) is supported: tgt and most targets use it.
///
/// Exchange, security stage: we send AuthMethod=CHAP (login flow) and
/// `start()` (CHAP_A=5); the target answers CHAP_A, CHAP_I, CHAP_C;
/// `respond()` gives CHAP_N, CHAP_R (and CHAP_I, CHAP_C for mutual CHAP);
/// for mutual CHAP the target then sends CHAP_N, CHAP_R, checked by
/// `verify_target()`.

#include "isens/initiator/error.hpp"
#include "protocol/bytes.hpp"
#include "protocol/text_keys.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace isens::initiator::protocol {

/// CHAP_A value of MD5.
inline constexpr std::uint8_t chap_algorithm_md5 = 5;

/// Length of our CHAP_C challenges.
inline constexpr std::size_t chap_challenge_length = 16;

/// Longest challenge we accept from a target (RFC 7143 §12.1.3: 1024 bytes).
inline constexpr std::size_t chap_max_challenge_length = 1024;

/// An MD5 CHAP response.
using chap_digest = std::array<std::uint8_t, 16>;

/// MD5(id || secret || challenge) (RFC 1994 §4.1).
chap_digest chap_md5_response(std::uint8_t id, std::string_view secret, byte_span challenge);

/// Encodes binary as an iSCSI hex constant: "0x" and lowercase hex digits.
std::string encode_binary_hex(byte_span bytes);

/// Encodes binary as an iSCSI base64 constant: "0b" and padded base64.
std::string encode_binary_base64(byte_span bytes);

/// Decodes a binary value: "0x"/"0X" hex (an odd digit count implies a
/// leading zero) or "0b"/"0B" base64 (strict alphabet and padding);
/// malformed_text on anything else or on an empty value.
result<byte_buffer> decode_binary(std::string_view value);

/// `n` bytes from the OS CSPRNG (std::random_device).
byte_buffer generate_challenge(std::size_t n);

/// Equality whose run time does not depend on where the inputs differ.
bool constant_time_equal(byte_span a, byte_span b) noexcept;

/// A CHAP name and secret.
struct chap_credentials {
  std::string name;    ///< CHAP_N
  std::string secret;  ///< never logged, never put in an error message
};

/// The initiator's side of one CHAP exchange.
class chap_initiator {
 public:
  /// One-way CHAP as `initiator`; mutual when `target` is given (the
  /// target's CHAP_N is checked when `target->name` is not empty).
  explicit chap_initiator(chap_credentials initiator, std::optional<chap_credentials> target = std::nullopt);

  /// The keys that open the exchange: CHAP_A=5.
  key_values start() const;

  /// Answers the target's CHAP_A/CHAP_I/CHAP_C. Errors: negotiation_failed
  /// (CHAP_A other than 5, key missing), malformed_text (bad CHAP_I/CHAP_C),
  /// target_auth_failed (the target reflected our own challenge),
  /// invalid_argument (mutual CHAP with one secret for both directions).
  result<key_values> respond(const key_values& target_keys);

  /// Checks the target's CHAP_N/CHAP_R after a mutual `respond`: target_auth_failed
  /// on a wrong name or response, malformed_text on an undecodable one.
  result<void> verify_target(const key_values& target_keys) const;

  /// True when the target is authenticated too.
  bool mutual() const noexcept { return target_.has_value(); }

  /// The CHAP_C we sent (empty before a mutual `respond`).
  const byte_buffer& sent_challenge() const noexcept { return challenge_; }

 private:
  chap_credentials initiator_;
  std::optional<chap_credentials> target_;
  std::uint8_t id_ = 0;
  byte_buffer challenge_;
};

}  // namespace isens::initiator::protocol
