#pragma once
/// Errors of the initiator: one error category for every failure the
/// initiator reports, plus `error`, a code with a human-readable message.

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <iosfwd>
#include <string>
#include <system_error>

namespace isens::initiator {

/// Every failure the initiator can report. Login status values map 1:1 onto
/// the `login_*` codes (RFC 7143 §11.13.5).
enum class errc {
  // Wire format (a malformed or unexpected PDU from the target).
  truncated_pdu = 1,
  bad_data_segment_length,
  bad_ahs_length,
  unknown_opcode,
  header_digest_mismatch,
  data_digest_mismatch,
  malformed_text,
  unexpected_pdu,
  pdu_rejected,
  // Transport.
  connect_failed,
  connect_timeout,
  login_timeout,
  connection_closed,
  // Login status class 0x01 (redirect) that could not be followed.
  redirect_failed,
  // Login status class 0x02: initiator error.
  login_auth_failed,
  login_forbidden,
  login_target_not_found,
  login_target_removed,
  login_unsupported_version,
  login_too_many_connections,
  login_missing_parameter,
  login_cant_include_in_session,
  login_session_type_unsupported,
  login_session_does_not_exist,
  login_invalid_request,
  login_initiator_error,
  // Login status class 0x03: target error.
  login_service_unavailable,
  login_out_of_resources,
  login_target_error,
  // Login negotiation done by the initiator itself.
  negotiation_failed,
  target_auth_failed,
  // Sessions and connections.
  no_such_session,
  no_such_connection,
  last_connection,
  session_not_logged_in,
  nop_timeout,
  command_timeout,
  logout_failed,
  shutting_down,
  // SCSI.
  scsi_check_condition,
  scsi_bad_status,
  scsi_bad_response,
  invalid_argument,
};

/// The category behind `errc`; its name is "isens.initiator".
const boost::system::error_category& initiator_category() noexcept;

/// Lets `errc` values convert implicitly to boost::system::error_code.
boost::system::error_code make_error_code(errc e) noexcept;

/// A failure: a code to branch on and a message to show a person (it names
/// what failed and why, never a secret).
struct error {
  boost::system::error_code code;
  std::string message;

  /// The message, or the code's own message when none was given.
  std::string what() const;
};

/// Prints the message (tests and logs).
std::ostream& operator<<(std::ostream& out, const error& e);

/// Builds an `error` from a code and an optional detail message.
error make_error(errc e, std::string message = {});

/// Thrown by `result<T>::value()` on failure (Boost.System's customization point).
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

/// The return type of every fallible initiator call.
template <class T>
using result = boost::system::result<T, error>;

}  // namespace isens::initiator

template <>
struct boost::system::is_error_code_enum<isens::initiator::errc> : std::true_type {};
