// A plain TCP connection to a peer on 127.0.0.1, for tests that speak to it
// byte by byte (a broken initiator, a bare HTTP request).
#pragma once

#include <string_view>

namespace isens::test {

class loopback_connection {
 public:
  /// Connects to 127.0.0.1:`port`; throws std::runtime_error if it cannot.
  explicit loopback_connection(unsigned short port);
  ~loopback_connection();
  loopback_connection(const loopback_connection&) = delete;
  loopback_connection& operator=(const loopback_connection&) = delete;

  int fd() const noexcept { return fd_; }
  /// The port of our end, as the peer sees it.
  unsigned short local_port() const;
  /// Sends all of `bytes`; throws std::runtime_error if it cannot.
  void send_all(std::string_view bytes) const;

 private:
  int fd_;
};

}  // namespace isens::test
