#include "control_server.hpp"

#include "control_connection.hpp"

#include "isens/unix_socket/stale_socket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

namespace isens::daemon {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

unsigned resolve_group(const std::optional<std::string>& name) {
  if (!name) return static_cast<unsigned>(::getegid());
  if (const group* g = ::getgrnam(name->c_str())) return g->gr_gid;
  fail("socket group \"" + *name + "\" does not exist");
}

// A socket file left by a crashed daemon is removed; one a live daemon
// answers on is not (two daemons must not share a socket).
void clear_stale_socket(const std::filesystem::path& path) {
  if (!unix_socket::remove_if_stale(path)) fail("another isensd is already listening on " + path.string());
}

}  // namespace

control_server::control_server(asio::any_io_executor executor, control_server_options options, rpc_methods& methods,
                               events::event_bus& bus, journal_reader journal)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      methods_(methods),
      bus_(bus),
      journal_(std::move(journal)) {}

control_server::~control_server() { stop(); }

void control_server::refuse_if_taken() const { clear_stale_socket(options_.socket_path); }

void control_server::start() {
  const auto& path = options_.socket_path;
  socket_gid_ = resolve_group(options_.socket_group);
  std::error_code dir_error;
  std::filesystem::create_directories(path.parent_path(), dir_error);
  if (dir_error) fail("cannot create " + path.parent_path().string() + ": " + dir_error.message());
  clear_stale_socket(path);

  acceptor_.emplace(executor_);
  boost::system::error_code ec;
  acceptor_->open(stream_protocol(), ec);
  if (!ec) acceptor_->bind(stream_protocol::endpoint(path.string()), ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("cannot listen on " + path.string() + ": " + ec.message());
  if (::chmod(path.c_str(), options_.socket_mode) != 0) fail("cannot chmod " + path.string() + ": " + std::strerror(errno));
  if (options_.socket_group && ::chown(path.c_str(), static_cast<uid_t>(-1), socket_gid_) != 0)
    fail("cannot give " + path.string() + " to group " + *options_.socket_group + ": " + std::strerror(errno));
  asio::co_spawn(executor_, accept_loop(), asio::detached);
  spdlog::info("control socket listening on {}", path.string());
}

void control_server::stop() {
  if (!acceptor_) return;
  boost::system::error_code ignored;
  acceptor_->close(ignored);
  acceptor_.reset();
  std::error_code remove_error;
  std::filesystem::remove(options_.socket_path, remove_error);
}

asio::awaitable<void> control_server::accept_loop() {
  while (acceptor_ && acceptor_->is_open()) {
    // Each client gets its own strand: its reads, writes and event
    // callbacks then never run concurrently.
    stream_protocol::socket socket(asio::make_strand(executor_));
    auto [ec] = co_await acceptor_->async_accept(socket, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      spdlog::warn("control socket: accept failed: {}", ec.message());
      continue;
    }
    const auto rights = rights_of(socket, socket_gid_);
    auto client = std::make_shared<control_connection>(std::move(socket), rights, methods_, bus_, journal_,
                                                       options_.max_line_bytes);
    asio::co_spawn(client->socket_executor(), client->serve(), asio::detached);
  }
}

}  // namespace isens::daemon
