#pragma once
// The Prometheus endpoint: a minimal HTTP/1.1 server (Boost.Beast) that
// answers GET /metrics with the text exposition format.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <optional>
#include <string>

namespace isens::daemon {

class metrics_server {
 public:
  // `render` builds the exposition text at scrape time.
  metrics_server(boost::asio::any_io_executor executor, std::function<std::string()> render);

  // Listens on "HOST:PORT"; throws std::runtime_error naming the address.
  void start(const std::string& listen);
  void stop();
  // The port actually bound (useful with port 0).
  std::uint16_t port() const noexcept { return port_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::any_io_executor executor_;
  std::function<std::string()> render_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::uint16_t port_ = 0;
};

}  // namespace isens::daemon
