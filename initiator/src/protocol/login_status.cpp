#include "protocol/login_status.hpp"

#include <cstdio>

namespace isens::initiator::protocol {
namespace {

struct status_entry {
  std::uint16_t status;
  errc code;
  const char* text;
};

// RFC 7143 §11.13.5.
constexpr status_entry failures[] = {
    {0x0200, errc::login_initiator_error, "initiator error"},
    {0x0201, errc::login_auth_failed, "authentication failed"},
    {0x0202, errc::login_forbidden, "authorization failure: the initiator may not access this target"},
    {0x0203, errc::login_target_not_found, "target not found"},
    {0x0204, errc::login_target_removed, "target removed"},
    {0x0205, errc::login_unsupported_version, "unsupported iSCSI version"},
    {0x0206, errc::login_too_many_connections, "too many connections"},
    {0x0207, errc::login_missing_parameter, "missing parameter"},
    {0x0208, errc::login_cant_include_in_session, "cannot include this connection in the session"},
    {0x0209, errc::login_session_type_unsupported, "session type not supported"},
    {0x020a, errc::login_session_does_not_exist, "session does not exist"},
    {0x020b, errc::login_invalid_request, "invalid request during login"},
    {0x0300, errc::login_target_error, "target error"},
    {0x0301, errc::login_service_unavailable, "service unavailable"},
    {0x0302, errc::login_out_of_resources, "out of resources"},
};

std::string with_status(const std::string& text, std::uint16_t status) {
  char buf[32];
  std::snprintf(buf, sizeof buf, " (status 0x%04x)", static_cast<unsigned>(status));
  return text + buf;
}

}  // namespace

login_status classify_login_status(std::uint8_t status_class, std::uint8_t status_detail) {
  const auto status = static_cast<std::uint16_t>(status_class << 8 | status_detail);
  login_status s;
  if (status_class == 0) {
    s.message = with_status("success", status);
    return s;
  }
  if (status_class == 1) {
    s.outcome = login_outcome::redirect;
    s.code = errc::redirect_failed;
    s.permanent = status_detail == 0x02;
    const char* text = status_detail == 0x01   ? "target moved temporarily"
                       : status_detail == 0x02 ? "target moved permanently"
                                               : "target redirected the login";
    s.message = with_status(text, status);
    return s;
  }
  s.outcome = login_outcome::failure;
  for (const auto& e : failures) {
    if (e.status == status) {
      s.code = e.code;
      s.message = with_status(e.text, status);
      return s;
    }
  }
  // Unknown detail: fall back on the class.
  s.code = status_class == 2 ? errc::login_initiator_error : errc::login_target_error;
  s.message = with_status(status_class == 2 ? "initiator error" : "target error", status);
  return s;
}

result<void> check_login_status(std::uint8_t status_class, std::uint8_t status_detail) {
  // Every login response passes here: success needs no message built.
  if (status_class == 0) return {};
  login_status s = classify_login_status(status_class, status_detail);
  if (s.outcome == login_outcome::success) return {};
  return make_error(s.code, std::move(s.message));
}

}  // namespace isens::initiator::protocol
