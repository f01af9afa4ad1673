// The RAII connection: options applied on purpose (nats_options.hpp), the
// C callbacks routed to std::function, and a teardown that waits for them.
#include "isens/fleet/nats_connection.hpp"

#include "isens/fleet/nats_error.hpp"

#include <condition_variable>
#include <mutex>

namespace isens::fleet {

std::string redact_url(const std::string& url) {
  auto scheme = url.find("://");
  auto start = scheme == std::string::npos ? 0 : scheme + 3;
  auto at = url.find('@', start);
  auto slash = url.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return url;
  return url.substr(0, start) + "***@" + url.substr(at + 1);
}

std::string redacted_urls(const nats_options& options) {
  std::string list;
  for (const auto& url : options.urls) {
    if (!list.empty()) list += ',';
    list += redact_url(url);
  }
  return list;
}

struct nats_connection::state {
  connection_callbacks callbacks;
  natsConnection* connection = nullptr;
  jsCtx* jetstream = nullptr;

  // Guards callbacks against teardown: none starts once `closing` is set,
  // and the destructor waits for the running ones and for the closed event.
  std::mutex mutex;
  std::condition_variable changed;
  bool closing = false;
  bool closed = false;
  int running = 0;

  bool enter() {
    std::lock_guard lock(mutex);
    if (closing) return false;
    ++running;
    return true;
  }
  void leave() {
    std::lock_guard lock(mutex);
    --running;
    changed.notify_all();
  }

  template <typename F>
  void guarded(F&& f) {
    if (!enter()) return;
    try {
      f();
    } catch (...) {
      // a callback must not unwind into C
    }
    leave();
  }

  static void on_disconnected(natsConnection*, void* closure) {
    auto* self = static_cast<state*>(closure);
    self->guarded([&] {
      if (self->callbacks.disconnected) self->callbacks.disconnected();
    });
  }
  static void on_reconnected(natsConnection*, void* closure) {
    auto* self = static_cast<state*>(closure);
    self->guarded([&] {
      if (self->callbacks.reconnected) self->callbacks.reconnected();
    });
  }
  static void on_closed(natsConnection*, void* closure) {
    auto* self = static_cast<state*>(closure);
    self->guarded([&] {
      if (self->callbacks.closed) self->callbacks.closed();
    });
    std::lock_guard lock(self->mutex);
    self->closed = true;
    self->changed.notify_all();
  }
  static void on_error(natsConnection*, natsSubscription*, natsStatus status, void* closure) {
    auto* self = static_cast<state*>(closure);
    self->guarded([&] {
      if (self->callbacks.async_error) self->callbacks.async_error(natsStatus_GetText(status));
    });
  }
  static void on_publish_result(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
    auto* self = static_cast<state*>(closure);
    self->guarded([&] {
      if (self->callbacks.publish_result) self->callbacks.publish_result(msg, ack, error);
    });
    natsMsg_Destroy(msg);
  }
};

namespace {

struct options_handle {
  natsOptions* options = nullptr;
  ~options_handle() { natsOptions_Destroy(options); }
};

void apply(natsOptions* o, const nats_options& options) {
  std::vector<const char*> urls;
  for (const auto& url : options.urls) urls.push_back(url.c_str());
  if (urls.empty()) throw nats_error::plain("no NATS server URL configured", NATS_INVALID_ARG);
  const std::string where = "NATS options for " + redacted_urls(options);
  check_nats(natsOptions_SetServers(o, urls.data(), static_cast<int>(urls.size())), where);
  check_nats(natsOptions_SetName(o, options.name.c_str()), where);
  check_nats(natsOptions_SetTimeout(o, options.connect_timeout.count()), where);
  check_nats(natsOptions_SetAllowReconnect(o, options.allow_reconnect), where);
  check_nats(natsOptions_SetMaxReconnect(o, options.max_reconnect), where);
  check_nats(natsOptions_SetReconnectWait(o, options.reconnect_wait.count()), where);
  check_nats(natsOptions_SetReconnectJitter(o, 100, 1000), where);
  check_nats(natsOptions_SetPingInterval(o, options.ping_interval.count()), where);
  check_nats(natsOptions_SetMaxPingsOut(o, options.max_pings_out), where);
  check_nats(natsOptions_SetReconnectBufSize(o, options.reconnect_buffer_bytes), where);
  check_nats(natsOptions_SetFailRequestsOnDisconnect(o, true), where);

  const auto& c = options.credentials;
  int kinds = (c.password.empty() && c.user.empty() ? 0 : 1) + (c.token.empty() ? 0 : 1) +
              (c.nkey_seed_file.empty() ? 0 : 1) + (c.creds_file.empty() ? 0 : 1);
  if (kinds > 1)
    throw nats_error::plain("NATS credentials: use only one of user/password, token, nkey or creds file", NATS_INVALID_ARG);
  // The statuses below are reported without the values passed.
  if (!c.user.empty()) check_nats(natsOptions_SetUserInfo(o, c.user.c_str(), c.password.c_str()), "NATS user/password");
  if (!c.token.empty()) check_nats(natsOptions_SetToken(o, c.token.c_str()), "NATS token");
  if (!c.nkey_seed_file.empty()) {
    if (c.nkey_public.empty()) throw nats_error::plain("NATS nkey: the public key is missing", NATS_INVALID_ARG);
    check_nats(natsOptions_SetNKeyFromSeed(o, c.nkey_public.c_str(), c.nkey_seed_file.c_str()),
               "NATS nkey seed file " + c.nkey_seed_file.string());
  }
  if (!c.creds_file.empty())
    check_nats(natsOptions_SetUserCredentialsFromFiles(o, c.creds_file.c_str(), nullptr),
               "NATS creds file " + c.creds_file.string());

  const auto& tls = options.tls;
  if (tls.enabled) {
    check_nats(natsOptions_SetSecure(o, true), "NATS TLS");
    if (!tls.ca_file.empty())
      check_nats(natsOptions_LoadCATrustedCertificates(o, tls.ca_file.c_str()), "NATS TLS CA file " + tls.ca_file.string());
    if (!tls.cert_file.empty())
      check_nats(natsOptions_LoadCertificatesChain(o, tls.cert_file.c_str(), tls.key_file.c_str()),
                 "NATS TLS certificate " + tls.cert_file.string());
    if (!tls.expected_hostname.empty())
      check_nats(natsOptions_SetExpectedHostname(o, tls.expected_hostname.c_str()), "NATS TLS hostname");
  }
}

}  // namespace

std::unique_ptr<nats_connection> nats_connection::connect(const nats_options& options, connection_callbacks callbacks,
                                                          jetstream_settings settings) {
  auto s = std::make_unique<state>();
  s->callbacks = std::move(callbacks);
  options_handle o;
  check_nats(natsOptions_Create(&o.options), "NATS options");
  apply(o.options, options);
  check_nats(natsOptions_SetDisconnectedCB(o.options, &state::on_disconnected, s.get()), "NATS options");
  check_nats(natsOptions_SetReconnectedCB(o.options, &state::on_reconnected, s.get()), "NATS options");
  check_nats(natsOptions_SetClosedCB(o.options, &state::on_closed, s.get()), "NATS options");
  check_nats(natsOptions_SetErrorHandler(o.options, &state::on_error, s.get()), "NATS options");

  natsStatus status = natsConnection_Connect(&s->connection, o.options);
  if (status != NATS_OK) throw nats_error("cannot connect to NATS at " + redacted_urls(options), status);
  // From here the destructor of `result` cleans up.
  std::unique_ptr<nats_connection> result(new nats_connection(std::move(s)));
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = options.api_timeout.count();
  js_options.PublishAsync.MaxPending = settings.max_pending_async;
  js_options.PublishAsync.AckHandler = &state::on_publish_result;
  js_options.PublishAsync.AckHandlerClosure = result->state_.get();
  check_nats(natsConnection_JetStream(&result->state_->jetstream, result->state_->connection, &js_options),
             "NATS JetStream context");
  return result;
}

nats_connection::nats_connection(std::unique_ptr<state> s) : state_(std::move(s)) {}

nats_connection::~nats_connection() {
  {
    std::unique_lock lock(state_->mutex);
    state_->closing = true;
    state_->changed.wait(lock, [&] { return state_->running == 0; });
  }
  natsConnection_Close(state_->connection);
  {
    // The closed callback is the client's last word; destroying before it
    // ran would leave it a dangling closure. Bounded in case it never comes.
    std::unique_lock lock(state_->mutex);
    state_->changed.wait_for(lock, std::chrono::seconds(5), [&] { return state_->closed; });
  }
  jsCtx_Destroy(state_->jetstream);
  natsConnection_Destroy(state_->connection);
}

natsConnection* nats_connection::handle() const noexcept { return state_->connection; }
jsCtx* nats_connection::jetstream() const noexcept { return state_->jetstream; }

bool nats_connection::is_connected() const noexcept {
  return natsConnection_Status(state_->connection) == NATS_CONN_STATUS_CONNECTED;
}

std::string nats_connection::connected_url() const {
  char buffer[512] = {};
  if (natsConnection_GetConnectedUrl(state_->connection, buffer, sizeof buffer) != NATS_OK) return {};
  return redact_url(buffer);
}

}  // namespace isens::fleet
