#pragma once
/// Errors of the libnats C client as one line for a person.

#include <nats/nats.h>

#include <stdexcept>
#include <string>

namespace isens::fleet {

/// A failed NATS or JetStream call. what() is one line: what was attempted,
/// the status text, the JetStream error code when there is one, and the
/// client's last error detail. It never contains a secret.
class nats_error : public std::runtime_error {
 public:
  nats_error(const std::string& what, natsStatus status, jsErrCode js_code = static_cast<jsErrCode>(0));
  /// A failure found by isens itself (a mismatching stream, a bad option):
  /// `message` is the whole line.
  static nats_error plain(const std::string& message, natsStatus status = NATS_ERR);

  /// The client status.
  natsStatus status() const noexcept { return status_; }
  /// The JetStream error code (0 when none).
  jsErrCode js_code() const noexcept { return js_code_; }

 private:
  struct plain_tag {};
  nats_error(plain_tag, const std::string& message, natsStatus status);
  natsStatus status_;
  jsErrCode js_code_;
};

/// "<what>: <status text>[ (JetStream error N)][: <detail>]" without throwing.
std::string describe_nats_failure(const std::string& what, natsStatus status,
                                  jsErrCode js_code = static_cast<jsErrCode>(0));

/// Throws nats_error unless `status` is NATS_OK.
void check_nats(natsStatus status, const std::string& what, jsErrCode js_code = static_cast<jsErrCode>(0));

}  // namespace isens::fleet
