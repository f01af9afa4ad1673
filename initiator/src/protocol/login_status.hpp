#pragma once
/// Login response Status-Class/Status-Detail (RFC 7143 §11.13.5) as errors
/// a person can read.

#include "isens/initiator/error.hpp"

#include <cstdint>
#include <string>

namespace isens::initiator::protocol {

/// What a login response's status asks the initiator to do.
enum class login_outcome : std::uint8_t {
  success,   ///< class 0: go on with the login
  redirect,  ///< class 1: log in again at the TargetAddress the response names
  failure,   ///< class 2 (initiator error) or 3 (target error), or unknown
};

/// A classified login status.
struct login_status {
  login_outcome outcome = login_outcome::success;  ///< what to do next
  bool permanent = false;  ///< redirect: 0x0102 (moved permanently) rather than 0x0101
  errc code{};             ///< for a failure the matching login_* code; redirect_failed for a redirect
  std::string message;     ///< e.g. "authentication failed (status 0x0201)"
};

/// Classifies Status-Class/Status-Detail.
login_status classify_login_status(std::uint8_t status_class, std::uint8_t status_detail);

/// Success → ok; redirect and failure → the error of `classify_login_status`.
result<void> check_login_status(std::uint8_t status_class, std::uint8_t status_detail);

}  // namespace isens::initiator::protocol
