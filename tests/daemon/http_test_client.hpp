// Plain-socket HTTP for the daemon tests: one request per connection, the
// way curl or Prometheus sends it, and a reader of a Server-Sent Events
// stream that sees every byte isensd writes (no client library in between).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace isens::test {

/// What one HTTP request got back.
struct http_answer {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;
};

/// Sends `raw` (a whole request, or bytes that are not one) and reads to EOF, bounded.
http_answer http_exchange(unsigned short port, const std::string& raw);
/// One HTTP/1.1 request with Connection: close and `headers` ("Name: value" lines).
http_answer http_get(unsigned short port, const std::string& path, const std::string& method = "GET",
                     const std::vector<std::string>& headers = {});

/// A TCP socket connected to 127.0.0.1:`port`, with SO_RCVBUF `receive_buffer`
/// set before connecting when non-zero (a small window that fills soon); throws.
int connect_loopback(unsigned short port, int receive_buffer = 0);

/// One SSE frame: its fields, or a comment line.
struct sse_frame {
  std::optional<std::uint64_t> id;
  std::string event;    ///< "" for a comment
  std::string data;     ///< data lines joined with "\n"
  std::string comment;  ///< the text after ':' for a comment
};

/// A GET /events stream read frame by frame.
class sse_reader {
 public:
  /// Connects (with SO_RCVBUF `receive_buffer` when non-zero, set before
  /// connecting) and sends the request; throws if it cannot.
  sse_reader(unsigned short port, const std::string& path, const std::vector<std::string>& headers = {},
             int receive_buffer = 0);
  ~sse_reader();
  sse_reader(const sse_reader&) = delete;
  sse_reader& operator=(const sse_reader&) = delete;

  /// Reads the response head; returns the status (the headers are kept).
  int read_head(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// The response headers, lower-case names.
  const std::map<std::string, std::string>& headers() const noexcept { return headers_; }
  /// The next frame (comments included), or nullopt on timeout or EOF.
  std::optional<sse_frame> next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// The next event frame (comments skipped), or nullopt on timeout or EOF.
  std::optional<sse_frame> next_event(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// True once the server closed the stream.
  bool closed() const noexcept { return closed_; }
  /// Waits up to `timeout` for the server to close, reading (and dropping) what it sends.
  bool wait_closed(std::chrono::milliseconds timeout);

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  std::map<std::string, std::string> headers_;
  bool closed_ = false;
};

}  // namespace isens::test
