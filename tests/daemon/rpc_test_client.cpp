#include "rpc_test_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace isens::test {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;

rpc_test_client::rpc_test_client(const std::filesystem::path& socket, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("cannot connect to " + socket.string() + ": " + std::strerror(err));
  }
}

rpc_test_client::~rpc_test_client() { close(); }

void rpc_test_client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool rpc_test_client::send_raw(std::string_view bytes) {
  const auto deadline = steady::now() + timeout_;
  while (!bytes.empty()) {
    // MSG_NOSIGNAL: a daemon that closed on us must give EPIPE, not kill the test run.
    const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
      if (left <= 0) throw std::runtime_error("the daemon stopped reading (send timed out)");
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(left));
      continue;
    }
    return false;
  }
  return true;
}

std::optional<std::string> rpc_test_client::read_line() {
  const auto deadline = steady::now() + timeout_;
  for (;;) {
    if (const auto end = buffer_.find('\n'); end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0) throw std::runtime_error("no line from isensd within " + std::to_string(timeout_.count()) + " ms");
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    if (ready <= 0) continue;
    char chunk[65536];
    const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;  // EOF, or ECONNRESET after the daemon closed
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

json rpc_test_client::read_json() {
  const auto line = read_line();
  if (!line) throw std::runtime_error("isensd closed the connection");
  try {
    return json::parse(*line);
  } catch (const json::parse_error& ex) {
    throw std::runtime_error("isensd sent a line that is not JSON: " + *line + " (" + ex.what() + ")");
  }
}

json rpc_test_client::request(const std::string& method, json params) {
  const int id = next_id_++;
  const json message{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
  if (!send_raw(message.dump() + "\n")) throw std::runtime_error("isensd closed the connection");
  for (;;) {
    auto answer = read_json();
    if (answer.contains("id") && answer["id"] == id) return answer;
    if (!answer.contains("id")) {
      notifications_.push_back(std::move(answer));
      continue;
    }
    throw std::runtime_error("answer to another request: " + answer.dump());
  }
}

json rpc_test_client::call(const std::string& method, json params) {
  auto answer = request(method, std::move(params));
  if (const auto error = answer.find("error"); error != answer.end())
    throw rpc_call_error(error->value("code", 0), error->value("message", std::string()), *error);
  if (!answer.contains("result")) throw std::runtime_error("an answer with neither result nor error: " + answer.dump());
  return answer["result"];
}

json rpc_test_client::next_notification() {
  if (!notifications_.empty()) {
    auto n = std::move(notifications_.front());
    notifications_.pop_front();
    return n;
  }
  auto message = read_json();
  if (message.contains("id")) throw std::runtime_error("expected a notification, got " + message.dump());
  return message;
}

std::optional<json> rpc_test_client::next_notification_or_close() {
  if (!notifications_.empty()) return next_notification();
  const auto line = read_line();
  if (!line) return std::nullopt;
  auto message = json::parse(*line);
  if (message.contains("id")) throw std::runtime_error("expected a notification, got " + message.dump());
  return message;
}

json rpc_test_client::next_event() {
  for (;;) {
    auto n = next_notification();
    if (n.value("method", std::string()) == "event") return n.at("params");
  }
}

std::unique_ptr<rpc_test_client> subscribed_client(const std::filesystem::path& socket, json params) {
  auto client = std::make_unique<rpc_test_client>(socket);
  const auto result = client->call("subscribe", std::move(params));
  if (result.value("subscribed", false) != true) throw std::runtime_error("subscribe said " + result.dump());
  return client;
}

std::vector<json> events_through(rpc_test_client& client, std::uint64_t last_seq) {
  std::vector<json> events;
  while (events.empty() || events.back().at("seq").get<std::uint64_t>() < last_seq)
    events.push_back(client.next_event());
  return events;
}

std::vector<json> events_until_closed(rpc_test_client& client) {
  std::vector<json> events;
  while (const auto message = client.next_notification_or_close())
    if (message->value("method", std::string()) == "event") events.push_back(message->at("params"));
  return events;
}

std::vector<std::uint64_t> seqs_of(const std::vector<json>& events) {
  std::vector<std::uint64_t> seqs;
  for (const auto& e : events) seqs.push_back(e.at("seq").get<std::uint64_t>());
  return seqs;
}

std::vector<std::string> kinds_of(const std::vector<json>& events) {
  std::vector<std::string> kinds;
  for (const auto& e : events) kinds.push_back(e.at("kind").get<std::string>());
  return kinds;
}

}  // namespace isens::test
