#include "isens/initiator/error.hpp"

#include <boost/throw_exception.hpp>

#include <ostream>
#include <stdexcept>

namespace isens::initiator {
namespace {

class category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "isens.initiator"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::truncated_pdu: return "truncated PDU";
      case errc::bad_data_segment_length: return "PDU data segment length out of range";
      case errc::bad_ahs_length: return "PDU additional header segment length out of range";
      case errc::unknown_opcode: return "PDU with an unknown opcode";
      case errc::header_digest_mismatch: return "header digest mismatch";
      case errc::data_digest_mismatch: return "data digest mismatch";
      case errc::malformed_text: return "malformed key=value text";
      case errc::unexpected_pdu: return "unexpected PDU from the target";
      case errc::pdu_rejected: return "the target rejected a PDU";
      case errc::connect_failed: return "could not connect to the portal";
      case errc::connect_timeout: return "timed out connecting to the portal";
      case errc::login_timeout: return "timed out during login";
      case errc::connection_closed: return "the target closed the connection";
      case errc::redirect_failed: return "could not follow the target's redirect";
      case errc::login_auth_failed: return "authentication failed";
      case errc::login_forbidden: return "the initiator is not allowed to access this target";
      case errc::login_target_not_found: return "target not found";
      case errc::login_target_removed: return "the target has been removed";
      case errc::login_unsupported_version: return "unsupported iSCSI version";
      case errc::login_too_many_connections: return "too many connections on this session";
      case errc::login_missing_parameter: return "a login parameter is missing";
      case errc::login_cant_include_in_session: return "the target cannot add this connection to the session";
      case errc::login_session_type_unsupported: return "session type not supported";
      case errc::login_session_does_not_exist: return "the session does not exist on the target";
      case errc::login_invalid_request: return "invalid request during login";
      case errc::login_initiator_error: return "login failed: initiator error";
      case errc::login_service_unavailable: return "the target service is unavailable";
      case errc::login_out_of_resources: return "the target is out of resources";
      case errc::login_target_error: return "login failed: target error";
      case errc::negotiation_failed: return "parameter negotiation failed";
      case errc::target_auth_failed: return "the target failed mutual CHAP authentication";
      case errc::no_such_session: return "no such session";
      case errc::no_such_connection: return "no such connection";
      case errc::last_connection: return "cannot remove the last connection of a session; log out instead";
      case errc::session_not_logged_in: return "the session is not logged in";
      case errc::nop_timeout: return "the target did not answer a NOP-Out ping in time";
      case errc::command_timeout: return "the command timed out";
      case errc::logout_failed: return "logout failed";
      case errc::shutting_down: return "the initiator is shutting down";
      case errc::scsi_check_condition: return "SCSI CHECK CONDITION";
      case errc::scsi_bad_status: return "unexpected SCSI status";
      case errc::scsi_bad_response: return "malformed SCSI response data";
      case errc::invalid_argument: return "invalid argument";
    }
    return "unknown initiator error";
  }
};

}  // namespace

const boost::system::error_category& initiator_category() noexcept {
  static const category_impl instance;
  return instance;
}

boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), initiator_category()};
}

std::string error::what() const { return message.empty() ? code.message() : message; }

std::ostream& operator<<(std::ostream& out, const error& e) { return out << e.what(); }

error make_error(errc e, std::string message) { return error{make_error_code(e), std::move(message)}; }

void throw_exception_from_error(const error& e, const boost::source_location& loc) {
  boost::throw_exception(std::runtime_error(e.what()), loc);
}

}  // namespace isens::initiator
