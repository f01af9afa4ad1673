#include "isens/nbd/server.hpp"
#include "isens/unix_socket/stale_socket.hpp"
#include "client_connection.hpp"
#include "server_context.hpp"
#include "wire.hpp"

#include <isens/events/subscriber.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>
#include <stdexcept>

namespace isens::nbd {

namespace asio = boost::asio;
using detail::client_connection;
using detail::export_state;
using detail::server_context;

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("nbd: " + what); }

std::shared_ptr<export_state> make_export(const initiator::session_info& s, const initiator::device_info& d,
                                          std::uint32_t max_payload) {
  auto e = std::make_shared<export_state>();
  auto& info = e->info;
  info.session_id = s.session_id;
  info.lun = d.lun;
  info.target = s.target_name;
  info.name = s.target_name + "/" + std::to_string(d.lun);
  info.alias = "session/" + std::to_string(s.session_id) + "/" + std::to_string(d.lun);
  info.block_size = d.capacity->block_size;
  info.size_bytes = d.capacity->bytes();
  info.preferred_block_size = std::max<std::uint32_t>(4096, info.block_size);
  // At most what one request may carry, and what the LUN takes in one command (Block Limits).
  std::uint64_t max_bytes = max_payload;
  if (d.limits && d.limits->max_transfer_blocks != 0)
    max_bytes = std::min<std::uint64_t>(max_bytes, std::uint64_t{d.limits->max_transfer_blocks} * info.block_size);
  info.max_block_size = std::max<std::uint32_t>(info.block_size, static_cast<std::uint32_t>(max_bytes - max_bytes % info.block_size));
  // CAN_MULTI_CONN: every connection to an export goes through the one
  // session to the one LUN, a write is answered only after the target's
  // GOOD, and FLUSH is SYNCHRONIZE CACHE of the whole LUN: what one
  // connection was told is written, another reads and a later flush
  // anywhere covers (docs/nbd.md).
  info.transmission_flags = wire::tf_has_flags | wire::tf_send_flush | wire::tf_send_fua |
                            wire::tf_send_write_zeroes | wire::tf_can_multi_conn;
  // TRIM where UNMAP deallocates; where the LUN has no provisioning page,
  // its first answer to UNMAP tells (client_connection).
  if (!d.provisioning || d.provisioning->unmap) info.transmission_flags |= wire::tf_send_trim;
  e->zeroes_by_unmap = d.provisioning && d.provisioning->write_same_unmap && d.provisioning->zeroes_after_unmap;
  e->zero_block.assign(info.block_size, std::byte{0});
  return e;
}

// A disk with a power-of-two block size the NBD block-size rules allow.
bool exportable(const initiator::device_info& d) {
  return d.inquiry.device_type == 0x00 && d.capacity && d.capacity->block_size >= 1 &&
         d.capacity->block_size <= 65536 && std::has_single_bit(d.capacity->block_size) && d.capacity->block_count > 0;
}

}  // namespace

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(asio::any_io_executor executor, initiator::initiator& ini, events::event_bus& bus, server_options options)
      : context(std::make_shared<server_context>(executor, ini, bus, std::move(options))),
        unix_acceptor(executor),
        tcp_acceptor(executor) {}

  std::shared_ptr<server_context> context;
  asio::local::stream_protocol::acceptor unix_acceptor;
  asio::ip::tcp::acceptor tcp_acceptor;
  std::uint16_t bound_tcp_port = 0;
  events::subscription subscription;
  struct export_watcher;

  // Adds the exports of one session from its snapshot (on the executor),
  // each once MODE SENSE said whether it is write-protected.
  void add_session(std::uint64_t session_id) {
    const auto s = context->ini.session(session_id);
    if (!s || !s->connected) return;
    for (const auto& d : s->devices) {
      if (!exportable(d) || context->exports.find(make_export(*s, d, context->options.max_payload)->info.alias))
        continue;  // already there (a second session_ready or a resync)
      asio::co_spawn(context->executor, add_export(shared_from_this(), make_export(*s, d, context->options.max_payload)),
                     asio::detached);
    }
  }

  static asio::awaitable<void> add_export(std::shared_ptr<impl> self, std::shared_ptr<export_state> e) {
    auto& info = e->info;
    const auto mode = co_await self->context->ini.scsi_mode_sense(info.session_id, info.lun);
    if (mode) {
      info.read_only = mode->write_protected;
      e->fua_native = mode->dpo_fua;
    } else {
      spdlog::warn("nbd: export {}: MODE SENSE failed ({}); served writable, FUA by flushing", info.name,
                   mode.error().what());
      e->fua_native = false;
    }
    if (info.read_only) info.transmission_flags |= wire::tf_read_only;
    if (self->context->stopped || !self->context->ini.session(info.session_id)) co_return;  // gone meanwhile
    if (self->context->exports.find(info.alias)) co_return;
    // Two sessions to one target: the second is reachable by its alias only.
    if (self->context->exports.find(info.name)) info.name = info.alias;
    if (self->context->exports.add(e))
      spdlog::info("nbd: export {} ({} bytes{}) ready", info.name, info.size_bytes, info.read_only ? ", read-only" : "");
  }

  void close_exports(std::vector<std::shared_ptr<export_state>> gone, events::event_reason reason, const std::string& why) {
    for (auto& e : gone) {
      e->closed = true;
      for (auto& w : std::vector(e->attached)) {
        if (auto c = w.lock()) c->close(reason, why);
      }
      spdlog::info("nbd: export {} closed: {}", e->info.name, why);
    }
  }

  // Sessions that went while events were lost are closed, new ones added.
  void resync() {
    std::set<std::uint64_t> live;
    for (const auto& s : context->ini.sessions()) {
      live.insert(s.session_id);
      if (!s.devices.empty()) add_session(s.session_id);
    }
    for (const auto& e : context->exports.list()) {
      if (!live.contains(e->info.session_id))
        close_exports(context->exports.remove_session(e->info.session_id), events::event_reason::none,
                      "its session is gone");
    }
  }

  void accept_unix() {
    unix_acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                            asio::local::stream_protocol::socket socket) {
      if (ec == asio::error::operation_aborted || self->context->stopped) return;
      if (!ec) {
        const int fd = socket.release();
        self->serve(client_connection::socket_type(self->context->executor, asio::generic::stream_protocol(AF_UNIX, 0), fd),
                    "unix");
      }
      self->accept_unix();
    });
  }

  void accept_tcp() {
    tcp_acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted || self->context->stopped) return;
      if (!ec) {
        boost::system::error_code ignored;
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
        const auto remote = socket.remote_endpoint(ignored);
        std::string peer = remote.address().to_string() + ":" + std::to_string(remote.port());
        const auto protocol = socket.local_endpoint(ignored).protocol();
        const int fd = socket.release();
        self->serve(client_connection::socket_type(self->context->executor,
                                                   asio::generic::stream_protocol(protocol.family(), IPPROTO_TCP), fd),
                    std::move(peer));
      }
      self->accept_tcp();
    });
  }

  void serve(client_connection::socket_type socket, std::string peer) {
    if (context->connections.size() >= context->options.max_clients) {
      spdlog::warn("nbd: refusing a client from {}: {} clients already connected", peer, context->connections.size());
      return;  // the socket closes here
    }
    const auto id = context->next_client_id++;
    auto c = std::make_shared<client_connection>(context, std::move(socket), id, std::move(peer));
    context->connections.emplace(id, c);
    c->start();
  }
};

// Learns from the bus which exports exist; runs on the server's executor.
struct server::impl::export_watcher final : public events::subscriber {
  explicit export_watcher(std::weak_ptr<impl> server) : server_(std::move(server)) {}
  void on_session_ready(const events::event& e) override {
    if (auto s = server_.lock(); s && !s->context->stopped) s->add_session(e.session_id);
  }
  void on_logoff(const events::event& e) override {
    auto s = server_.lock();
    if (!s) return;
    s->close_exports(s->context->exports.remove_session(e.session_id), e.reason,
                     "its session logged off (" + std::string(events::to_string(e.reason)) + ")");
  }
  void on_gap(std::uint64_t) override {
    if (auto s = server_.lock(); s && !s->context->stopped) s->resync();
  }

  std::weak_ptr<impl> server_;
};

server::server(asio::any_io_executor executor, initiator::initiator& ini, events::event_bus& bus, server_options options)
    : impl_(std::make_shared<impl>(std::move(executor), ini, bus, std::move(options))) {
  const auto& o = impl_->context->options;
  if (o.max_payload < 4096 || o.max_payload > (64u << 20))
    fail("max_payload must be between 4096 and 64 MiB, not " + std::to_string(o.max_payload));
  if (o.max_requests_per_client == 0) fail("max_requests_per_client must be at least 1");
}

server::~server() { stop(); }

void server::start() {
  auto& p = *impl_;
  const auto& o = p.context->options;
  if (!o.unix_socket.empty()) {
    const auto& path = o.unix_socket;
    std::error_code fs_error;
    std::filesystem::create_directories(path.parent_path(), fs_error);
    if (!unix_socket::remove_if_stale(path)) fail("something already listens on " + path.string());
    boost::system::error_code ec;
    p.unix_acceptor.open(asio::local::stream_protocol(), ec);
    if (!ec) p.unix_acceptor.bind(asio::local::stream_protocol::endpoint(path.string()), ec);
    if (!ec) p.unix_acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail("cannot listen on " + path.string() + ": " + ec.message());
    if (::chmod(path.c_str(), o.socket_mode) != 0) fail("cannot chmod " + path.string() + ": " + std::strerror(errno));
    if (o.socket_gid && ::chown(path.c_str(), static_cast<uid_t>(-1), *o.socket_gid) != 0)
      fail("cannot give " + path.string() + " to group " + std::to_string(*o.socket_gid) + ": " + std::strerror(errno));
    p.accept_unix();
    spdlog::info("nbd: exports served on unix socket {}", path.string());
  }
  if (!o.tcp_listen.empty()) {
    const auto where = initiator::portal::parse(o.tcp_listen);
    if (!where) fail("bad [nbd] listen address '" + o.tcp_listen + "': " + where.error().what());
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(where->host, ec);
    if (ec) fail("[nbd] listen needs an IP address, not '" + where->host + "'");
    const asio::ip::tcp::endpoint endpoint(address, where->port);
    p.tcp_acceptor.open(endpoint.protocol(), ec);
    if (!ec) p.tcp_acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) p.tcp_acceptor.bind(endpoint, ec);
    if (!ec) p.tcp_acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail("cannot listen on " + o.tcp_listen + ": " + ec.message());
    p.bound_tcp_port = p.tcp_acceptor.local_endpoint().port();
    p.accept_tcp();
    spdlog::info("nbd: exports served on tcp {}:{}", where->host, p.bound_tcp_port);
  }
  events::subscription_options so;
  so.name = "nbd";
  so.executor = p.context->executor;
  p.subscription = p.context->bus.subscribe(std::make_shared<impl::export_watcher>(impl_), {}, std::move(so));
  // Sessions ready before we subscribed (add_session skips what is known).
  asio::dispatch(p.context->executor, [self = impl_] { self->resync(); });
}

void server::stop() {
  auto& p = *impl_;
  if (p.context->stopped) return;
  p.context->stopped = true;
  p.subscription.unsubscribe();
  boost::system::error_code ignored;
  if (p.unix_acceptor.is_open()) {
    p.unix_acceptor.close(ignored);
    std::error_code fs_error;
    std::filesystem::remove(p.context->options.unix_socket, fs_error);
  }
  p.tcp_acceptor.close(ignored);
  p.close_exports(p.context->exports.clear(), events::event_reason::shutdown, "the server stops");
  for (auto& [id, w] : std::map(p.context->connections)) {
    if (auto c = w.lock()) c->close(events::event_reason::shutdown, "the server stops");
  }
}

std::vector<export_info> server::exports() const {
  std::vector<export_info> out;
  for (const auto& e : impl_->context->exports.list()) out.push_back(e->snapshot());
  return out;
}

std::string server::uri(const std::string& export_name) const {
  const auto& o = impl_->context->options;
  if (!o.unix_socket.empty()) return "nbd+unix:///" + export_name + "?socket=" + o.unix_socket.string();
  const auto where = initiator::portal::parse(o.tcp_listen);
  const std::string host = where ? where->host : "127.0.0.1";
  return "nbd://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(tcp_port()) + "/" + export_name;
}

std::uint16_t server::tcp_port() const { return impl_->bound_tcp_port; }

}  // namespace isens::nbd
