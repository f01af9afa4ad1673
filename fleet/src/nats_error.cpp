// One-line descriptions of libnats failures.
#include "isens/fleet/nats_error.hpp"

#include <cstring>

namespace isens::fleet {

std::string describe_nats_failure(const std::string& what, natsStatus status, jsErrCode js_code) {
  std::string line = what;
  line += ": ";
  line += natsStatus_GetText(status);
  if (js_code != 0) line += " (JetStream error " + std::to_string(static_cast<int>(js_code)) + ")";
  // The client's thread-local detail, e.g. "Authorization Violation" or the
  // server's JetStream description; it names no secret we gave it.
  natsStatus last_status = NATS_OK;
  const char* detail = nats_GetLastError(&last_status);
  if (detail != nullptr && *detail != '\0' && std::strcmp(detail, natsStatus_GetText(status)) != 0) {
    line += ": ";
    line += detail;
  }
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

nats_error::nats_error(const std::string& what, natsStatus status, jsErrCode js_code)
    : std::runtime_error(describe_nats_failure(what, status, js_code)), status_(status), js_code_(js_code) {}

nats_error::nats_error(plain_tag, const std::string& message, natsStatus status)
    : std::runtime_error(message), status_(status), js_code_(static_cast<jsErrCode>(0)) {}

nats_error nats_error::plain(const std::string& message, natsStatus status) {
  return nats_error(plain_tag{}, message, status);
}

void check_nats(natsStatus status, const std::string& what, jsErrCode js_code) {
  if (status != NATS_OK) throw nats_error(what, status, js_code);
}

}  // namespace isens::fleet
