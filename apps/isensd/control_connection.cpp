#include "control_connection.hpp"
#include "use_tuple.hpp"

#include <isens/events/event_json.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

namespace isens::daemon {

namespace asio = boost::asio;

// A client that reads slower than events arrive must not make the daemon
// grow without bound: past this many unsent lines, events are counted as
// lost and reported with a gap notification.
constexpr std::size_t max_outbox_lines = 10000;

namespace {

bool process_in_group(unsigned pid, unsigned gid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Groups:", 0) != 0) continue;
    std::istringstream groups(line.substr(7));
    unsigned g = 0;
    while (groups >> g)
      if (g == gid) return true;
  }
  return false;
}

}  // namespace

peer_rights rights_of(asio::local::stream_protocol::socket& socket, unsigned socket_gid) {
  ucred cred{};
  socklen_t length = sizeof cred;
  peer_rights rights;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return rights;
  rights.uid = cred.uid;
  rights.pid = static_cast<unsigned>(cred.pid);
  rights.may_mutate = cred.uid == 0 || cred.uid == ::geteuid() || cred.gid == socket_gid ||
                      process_in_group(rights.pid, socket_gid);
  return rights;
}

// Forwards bus events to the client as `event` notifications. Its callbacks
// run on the connection's strand (the subscription's executor). It sees
// every event (the filter is applied later) so that a hole in the seq run
// shows: events published just before `subscribe` reach the journal a little
// later than the bus, and are fetched from it once they are there.
class control_connection::event_forwarder : public events::subscriber {
 public:
  explicit event_forwarder(std::weak_ptr<control_connection> owner) : owner_(std::move(owner)) {}

  void on_event(const events::event& e) override {
    if (const auto c = owner_.lock()) c->deliver(e);
  }

  void on_gap(std::uint64_t lost) override {
    if (const auto c = owner_.lock()) c->send_line(make_notification("gap", {{"lost", lost}}).dump());
  }

 private:
  std::weak_ptr<control_connection> owner_;
};

void control_connection::deliver(const events::event& e) {
  if (e.seq <= last_streamed_seq_) return;  // already replayed from the journal
  if (catching_up_) {
    held_.push_back(e);
    return;
  }
  if (e.seq > last_streamed_seq_ + 1 && journal_) {
    catching_up_ = true;
    held_.push_back(e);
    asio::co_spawn(socket_.get_executor(), catch_up(e.seq - 1), asio::detached);
    return;
  }
  last_streamed_seq_ = e.seq;
  if (filter_.matches(e)) stream(e);
}

asio::awaitable<void> control_connection::catch_up(std::uint64_t up_to) {
  const auto self = shared_from_this();
  for (;;) {
    // The journal writes on its own queue, a few microseconds behind the bus.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (journal_.last_seq() < up_to && std::chrono::steady_clock::now() < deadline && !closing_) {
      asio::steady_timer pause(socket_.get_executor(), std::chrono::milliseconds(2));
      co_await pause.async_wait(use_tuple);
    }
    replay(up_to);
    if (last_streamed_seq_ < up_to) {  // the journal never got them: say so rather than skip silently
      send_line(make_notification("gap", {{"lost", up_to - last_streamed_seq_}}).dump());
      last_streamed_seq_ = up_to;
    }
    // Live events that arrived meanwhile, until another hole needs the journal.
    while (!held_.empty() && held_.front().seq <= last_streamed_seq_ + 1) {
      const auto e = std::move(held_.front());
      held_.pop_front();
      if (e.seq <= last_streamed_seq_) continue;
      last_streamed_seq_ = e.seq;
      if (filter_.matches(e)) stream(e);
    }
    if (held_.empty()) break;
    up_to = held_.front().seq - 1;
  }
  catching_up_ = false;
}

void control_connection::stream(const events::event& e) {
  if (outbox_.size() >= max_outbox_lines) {
    ++dropped_;
    return;
  }
  if (dropped_ != 0) send_line(make_notification("gap", {{"lost", std::exchange(dropped_, 0)}}).dump());
  send_line(make_notification("event", events::to_json(e)).dump());
}

void control_connection::replay(std::uint64_t up_to) {
  if (!journal_) return;
  const auto asked_from = last_streamed_seq_;
  events::journal_read_position position;
  while (last_streamed_seq_ < up_to) {
    auto batch = journal_.read(last_streamed_seq_, 1000, position);
    position = batch.position;
    if (batch.gap) {
      send_line(make_notification("gap", {{"since", asked_from},
                                          {"oldest_available", batch.oldest_available},
                                          {"detail", "the journal no longer holds these events; resync from sessions"}})
                    .dump());
    }
    if (batch.events.empty()) break;
    for (const auto& e : batch.events) {
      if (e.seq > up_to) return;
      last_streamed_seq_ = e.seq;
      if (filter_.matches(e)) stream(e);
    }
  }
}

control_connection::control_connection(asio::local::stream_protocol::socket socket, peer_rights rights,
                                       rpc_methods& methods, events::event_bus& bus, const journal_reader& journal,
                                       std::size_t max_line_bytes)
    : socket_(std::move(socket)),
      rights_(rights),
      methods_(methods),
      bus_(bus),
      journal_(journal),
      max_line_bytes_(max_line_bytes) {}

void control_connection::send_line(std::string line) {
  if (closing_) return;
  line.push_back('\n');
  outbox_.push_back(std::move(line));
  if (!std::exchange(writing_, true)) asio::co_spawn(socket_.get_executor(), write_loop(), asio::detached);
}

asio::awaitable<void> control_connection::write_loop() {
  const auto self = shared_from_this();
  while (!outbox_.empty() && !closing_) {
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(outbox_.front()), use_tuple);
    if (ec) {
      closing_ = true;
      break;
    }
    outbox_.pop_front();
  }
  writing_ = false;
}

asio::awaitable<void> control_connection::serve() {
  const auto self = shared_from_this();
  std::string buffer;
  for (;;) {
    auto [ec, n] = co_await asio::async_read_until(socket_, asio::dynamic_buffer(buffer, max_line_bytes_), '\n', use_tuple);
    if (ec == asio::error::not_found) {  // the line outgrew max_line_bytes_
      send_line(make_error(nullptr, rpc_code::invalid_request,
                           "request line longer than " + std::to_string(max_line_bytes_) + " bytes; closing")
                    .dump());
      break;
    }
    if (ec) break;  // the client went away
    std::string line = buffer.substr(0, n - 1);
    buffer.erase(0, n);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    co_await handle_line(line);
  }
  // Let queued answers go out before closing.
  while (writing_ && !closing_) {
    asio::steady_timer pause(socket_.get_executor(), std::chrono::milliseconds(5));
    co_await pause.async_wait(use_tuple);
  }
  closing_ = true;
  subscription_.unsubscribe();
  boost::system::error_code ignored;
  socket_.close(ignored);
}

asio::awaitable<void> control_connection::handle_line(const std::string& line) {
  rpc_request request;
  try {
    request = parse_request(line);
  } catch (const rpc_error& e) {
    send_line(make_error(e.request_id(), e.code(), e.what()).dump());
    co_return;
  }
  try {
    if (!methods_.exists(request.method))
      throw rpc_error(rpc_code::method_not_found, "no method \"" + request.method + "\"");
    if (methods_.is_mutating(request.method) && !rights_.may_mutate)
      throw rpc_error(rpc_code::permission_denied, "\"" + request.method +
                                                       "\" changes state: only root or the control socket's group "
                                                       "may call it (uid " + std::to_string(rights_.uid) + ")");
    if (request.method == "subscribe") {
      subscribe(request);
      co_return;
    }
    auto result = co_await methods_.call(request.method, request.params);
    if (!request.notification) send_line(make_result(request.id, std::move(result)).dump());
  } catch (const rpc_error& e) {
    if (!request.notification) send_line(make_error(request.id, e.code(), e.what(), e.data()).dump());
  } catch (const std::exception& e) {
    spdlog::error("control: method {} failed unexpectedly: {}", request.method, e.what());
    if (!request.notification) send_line(make_error(request.id, rpc_code::internal_error, e.what()).dump());
  }
}

void control_connection::subscribe(const rpc_request& request) {
  if (subscription_.active()) throw rpc_error(rpc_code::invalid_request, "already subscribed on this connection");
  events::event_filter filter;
  if (const auto kinds = request.params.find("kinds"); kinds != request.params.end() && !kinds->is_null()) {
    if (!kinds->is_array()) throw rpc_error(rpc_code::invalid_params, "param \"kinds\" must be an array of event kinds");
    filter.kinds.reset();
    for (const auto& k : *kinds) {
      const auto kind = k.is_string() ? events::parse_event_kind(k.get<std::string>()) : std::nullopt;
      if (!kind) throw rpc_error(rpc_code::invalid_params, "unknown event kind " + k.dump());
      filter.kinds.set(static_cast<std::size_t>(*kind));
    }
  }
  filter.target = optional_string(request.params, "target");
  filter.session_id = optional_uint(request.params, "session_id");
  const auto since = optional_uint(request.params, "since");

  // Subscribe before replaying: events published meanwhile queue on this
  // strand and are de-duplicated by seq, so nothing falls between the two.
  events::subscription_options options;
  options.name = "control-client-" + std::to_string(rights_.pid);
  options.executor = socket_.get_executor();
  filter_ = std::move(filter);
  const auto now = bus_.last_seq();
  last_streamed_seq_ = since ? std::min(*since, now) : now;
  subscription_ = bus_.subscribe(std::make_shared<event_forwarder>(weak_from_this()), {}, options);
  send_line(make_result(request.id, {{"subscribed", true}, {"last_seq", now}}).dump());
  if (since && journal_ && last_streamed_seq_ < now) {
    catching_up_ = true;
    asio::co_spawn(socket_.get_executor(), catch_up(now), asio::detached);
  }
}

}  // namespace isens::daemon
