#include "http_test_client.hpp"

#include "loopback_connection.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace isens::test {

using namespace std::chrono_literals;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Status line and headers of a response head (without the blank line).
int parse_head(const std::string& head, std::map<std::string, std::string>& headers) {
  std::istringstream in(head);
  std::string line;
  std::getline(in, line);
  if (line.rfind("HTTP/1.1 ", 0) != 0) throw std::runtime_error("not an HTTP/1.1 response: " + line);
  const int status = std::stoi(line.substr(9, 3));
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto value = line.find_first_not_of(' ', colon + 1);
    headers[lower(line.substr(0, colon))] = value == std::string::npos ? "" : line.substr(value);
  }
  return status;
}

}  // namespace

http_answer http_exchange(unsigned short port, const std::string& raw) {
  const loopback_connection connection(port);
  const int fd = connection.fd();
  connection.send_all(raw);
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("no complete answer within 10 s");
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char chunk[8192];
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    got.append(chunk, static_cast<std::size_t>(n));
  }
  const auto head_end = got.find("\r\n\r\n");
  if (head_end == std::string::npos) throw std::runtime_error("no response head in: " + got);
  http_answer answer;
  answer.status = parse_head(got.substr(0, head_end), answer.headers);
  answer.body = got.substr(head_end + 4);
  return answer;
}

http_answer http_get(unsigned short port, const std::string& path, const std::string& method,
                     const std::vector<std::string>& headers) {
  std::string raw = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& h : headers) raw += h + "\r\n";
  return http_exchange(port, raw + "\r\n");
}

int connect_loopback(unsigned short port, int receive_buffer) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  return fd;
}

sse_reader::sse_reader(unsigned short port, const std::string& path, const std::vector<std::string>& headers,
                       int receive_buffer) {
  fd_ = connect_loopback(port, receive_buffer);
  std::string raw = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
  for (const auto& h : headers) raw += h + "\r\n";
  raw += "\r\n";
  if (::send(fd_, raw.data(), raw.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(raw.size())) {
    ::close(fd_);
    throw std::runtime_error("cannot send the request");
  }
}

sse_reader::~sse_reader() {
  if (fd_ >= 0) ::close(fd_);
}

bool sse_reader::fill(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || closed_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 100))) <= 0) continue;
    char chunk[16384];
    const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

int sse_reader::read_head(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
    if (!fill(deadline)) throw std::runtime_error("no response head; got: " + buffer_);
  const int status = parse_head(buffer_.substr(0, end), headers_);
  buffer_.erase(0, end + 4);
  return status;
}

std::optional<sse_frame> sse_reader::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // A frame ends with a blank line; a comment line alone is a frame here too.
    if (!buffer_.empty() && buffer_[0] == ':') {
      const auto eol = buffer_.find('\n');
      if (eol != std::string::npos) {
        sse_frame f;
        f.comment = buffer_.substr(1, eol - 1);
        if (!f.comment.empty() && f.comment[0] == ' ') f.comment.erase(0, 1);
        buffer_.erase(0, eol + 1);
        if (!buffer_.empty() && buffer_[0] == '\n') buffer_.erase(0, 1);
        return f;
      }
    } else if (const auto end = buffer_.find("\n\n"); end != std::string::npos) {
      sse_frame f;
      std::istringstream lines(buffer_.substr(0, end));
      buffer_.erase(0, end + 2);
      std::string line;
      bool any = false;
      while (std::getline(lines, line)) {
        if (!line.empty() && line[0] == ':') {  // a comment inside the block
          f.comment = line.substr(line.size() > 1 && line[1] == ' ' ? 2 : 1);
          any = true;
          continue;
        }
        const auto colon = line.find(':');
        const auto field = line.substr(0, colon);
        auto value = colon == std::string::npos ? "" : line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        if (field == "id") f.id = std::stoull(value);
        else if (field == "event") f.event = value;
        else if (field == "data") f.data += (f.data.empty() ? "" : "\n") + value;
        else if (field == "retry") continue;
        any = true;
      }
      if (any) return f;
      continue;  // only retry: take the next
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<sse_frame> sse_reader::next_event(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto f = next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
    if (!f || !f->event.empty()) return f;
  }
}

bool sse_reader::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_) {
    buffer_.clear();
    if (!fill(deadline) && !closed_) return false;
  }
  return true;
}

}  // namespace isens::test
