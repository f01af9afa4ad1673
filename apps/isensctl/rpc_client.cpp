#include "rpc_client.hpp"

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

namespace isensctl {

namespace asio = boost::asio;

rpc_client::rpc_client(const std::filesystem::path& socket_path) : socket_(io_), path_(socket_path) {
  boost::system::error_code ec;
  socket_.connect(asio::local::stream_protocol::endpoint(socket_path.string()), ec);
  if (ec)
    throw client_error("cannot reach isensd at " + socket_path.string() + ": " + ec.message() +
                           " (is isensd running? see --socket)",
                       3);
}

void rpc_client::write_message(const json& message) {
  const auto line = message.dump() + "\n";
  boost::system::error_code ec;
  asio::write(socket_, asio::buffer(line), ec);
  if (ec) throw client_error("lost the connection to isensd: " + ec.message(), 3);
}

json rpc_client::read_message() {
  boost::system::error_code ec;
  const auto n = asio::read_until(socket_, asio::dynamic_buffer(buffer_), '\n', ec);
  if (ec) throw client_error("isensd closed the connection: " + ec.message(), 3);
  const auto line = buffer_.substr(0, n - 1);
  buffer_.erase(0, n);
  try {
    return json::parse(line);
  } catch (const json::parse_error&) {
    throw client_error("isensd sent something that is not JSON", 1);
  }
}

json rpc_client::call(const std::string& method, json params) {
  const int id = next_id_++;
  write_message({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
  for (;;) {
    auto answer = read_message();
    if (!answer.contains("id") || answer["id"] != id) continue;  // a notification: not ours here
    if (const auto error = answer.find("error"); error != answer.end())
      throw client_error(error->value("message", std::string("unknown error")), 1);
    return answer.value("result", json());
  }
}

void rpc_client::stream(json params, const std::function<bool(const json&)>& on_notification) {
  (void)call("subscribe", std::move(params));
  for (;;) {
    const auto message = read_message();
    if (message.contains("id")) continue;
    if (!on_notification(message)) return;
  }
}

}  // namespace isensctl
