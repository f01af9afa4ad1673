#pragma once
// A deliberately simple, blocking NBD client for what real clients never
// send: garbage, unknown options and commands, bad ranges, vanishing with
// requests in flight. Every read has a deadline (SO_RCVTIMEO), so a server
// that fails to answer fails the test instead of hanging it.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace isens::test {

class raw_nbd_client {
 public:
  static constexpr std::uint64_t ihaveopt = 0x49484156454F5054;

  explicit raw_nbd_client(const std::string& socket_path, std::chrono::seconds timeout = std::chrono::seconds(10)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      throw std::runtime_error("cannot connect to " + socket_path);
    }
    timeval tv{static_cast<time_t>(timeout.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~raw_nbd_client() { close(); }
  raw_nbd_client(const raw_nbd_client&) = delete;
  raw_nbd_client& operator=(const raw_nbd_client&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void send(const std::vector<std::uint8_t>& bytes) {
    std::size_t at = 0;
    while (at < bytes.size()) {
      const auto n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      at += static_cast<std::size_t>(n);
    }
  }

  // Exactly n bytes; throws on EOF or timeout.
  std::vector<std::uint8_t> receive(std::size_t n) {
    std::vector<std::uint8_t> out(n);
    std::size_t at = 0;
    while (at < n) {
      const auto got = ::recv(fd_, out.data() + at, n - at, 0);
      if (got == 0) throw std::runtime_error("the server closed the connection");
      if (got < 0) throw std::runtime_error("no answer from the server in time");
      at += static_cast<std::size_t>(got);
    }
    return out;
  }

  // True when the server hangs up (EOF or reset) before the deadline; any byte is an error.
  bool hung_up() {
    std::uint8_t b;
    for (;;) {
      const auto got = ::recv(fd_, &b, 1, 0);
      if (got == 0) return true;
      if (got < 0) return errno == ECONNRESET;
      // A pending reply to something sent before is fine; keep reading.
    }
  }

  static void put(std::vector<std::uint8_t>& v, std::uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) v.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
  static std::uint64_t get(const std::vector<std::uint8_t>& v, std::size_t at, int bytes) {
    std::uint64_t x = 0;
    for (int i = 0; i < bytes; ++i) x = (x << 8) | v.at(at + static_cast<std::size_t>(i));
    return x;
  }

  // Reads the greeting and sends client flags; returns the handshake flags.
  std::uint16_t greet(std::uint32_t client_flags = 3) {
    const auto g = receive(18);
    if (get(g, 0, 8) != 0x4e42444d41474943 || get(g, 8, 8) != ihaveopt) throw std::runtime_error("bad greeting");
    std::vector<std::uint8_t> f;
    put(f, client_flags, 4);
    send(f);
    return static_cast<std::uint16_t>(get(g, 16, 2));
  }

  void send_option(std::uint32_t option, const std::vector<std::uint8_t>& data = {}) {
    std::vector<std::uint8_t> o;
    put(o, ihaveopt, 8);
    put(o, option, 4);
    put(o, data.size(), 4);
    o.insert(o.end(), data.begin(), data.end());
    send(o);
  }

  struct option_reply {
    std::uint32_t option = 0;
    std::uint32_t type = 0;
    std::vector<std::uint8_t> data;
  };
  option_reply read_option_reply() {
    const auto h = receive(20);
    if (get(h, 0, 8) != 0x3e889045565a9) throw std::runtime_error("bad option reply magic");
    option_reply r;
    r.option = static_cast<std::uint32_t>(get(h, 8, 4));
    r.type = static_cast<std::uint32_t>(get(h, 12, 4));
    r.data = receive(static_cast<std::size_t>(get(h, 16, 4)));
    return r;
  }

  static std::vector<std::uint8_t> go_data(const std::string& name) {
    std::vector<std::uint8_t> d;
    put(d, name.size(), 4);
    d.insert(d.end(), name.begin(), name.end());
    put(d, 0, 2);
    return d;
  }

  // NBD_OPT_GO: the reply types up to the final one (ACK or an error).
  std::vector<option_reply> go(const std::string& name, std::uint32_t option = 7) {
    send_option(option, go_data(name));
    std::vector<option_reply> out;
    for (;;) {
      out.push_back(read_option_reply());
      if (out.back().type != 3) return out;  // not NBD_REP_INFO: ACK or error
    }
  }

  // Greets and enters transmission on `name`; throws if refused.
  void open(const std::string& name, bool structured = false) {
    greet();
    if (structured) {
      send_option(8);
      if (read_option_reply().type != 1) throw std::runtime_error("structured replies refused");
    }
    const auto replies = go(name);
    if (replies.back().type != 1) throw std::runtime_error("GO refused for " + name);
  }

  void request(std::uint16_t type, std::uint64_t cookie, std::uint64_t offset, std::uint32_t length,
               std::uint16_t flags = 0, const std::vector<std::uint8_t>& payload = {}) {
    std::vector<std::uint8_t> r;
    put(r, 0x25609513, 4);
    put(r, flags, 2);
    put(r, type, 2);
    put(r, cookie, 8);
    put(r, offset, 8);
    put(r, length, 4);
    r.insert(r.end(), payload.begin(), payload.end());
    send(r);
  }

  struct simple_reply {
    std::uint32_t error = 0;
    std::uint64_t cookie = 0;
  };
  // A simple reply header (for a successful READ, the data follows: read it with receive()).
  simple_reply read_simple_reply() {
    const auto h = receive(16);
    if (get(h, 0, 4) != 0x67446698) throw std::runtime_error("not a simple reply");
    return {static_cast<std::uint32_t>(get(h, 4, 4)), get(h, 8, 8)};
  }

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

}  // namespace isens::test
