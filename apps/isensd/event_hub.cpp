#include "event_hub.hpp"

#include "sse_client.hpp"

#include <isens/events/event_json.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include <charconv>

namespace isens::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

// A seq as the browser sends it back: decimal digits only.
std::optional<std::uint64_t> parse_seq(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

sse_frame frame_event(const events::event& e) {
  // to_json_line is one line: one data: field is enough.
  return {e.seq, std::make_shared<const std::string>("id: " + std::to_string(e.seq) + "\nevent: " +
                                                      std::string(events::to_string(e.kind)) +
                                                      "\ndata: " + events::to_json_line(e) + "\n\n")};
}

sse_frame frame_gap(std::uint64_t resume_at, std::uint64_t since, std::uint64_t oldest_available,
                    const std::string& detail) {
  const nlohmann::json data{{"since", since}, {"resume_at", resume_at}, {"oldest_available", oldest_available},
                            {"detail", detail}};
  return {0, std::make_shared<const std::string>("id: " + std::to_string(resume_at) + "\nevent: gap\ndata: " +
                                                  data.dump() + "\n\n")};
}

// Hands bus events to the hub on the hub's executor.
class event_hub::forwarder : public events::subscriber {
 public:
  explicit forwarder(std::weak_ptr<event_hub> hub) : hub_(std::move(hub)) {}
  void on_event(const events::event& e) override {
    if (const auto h = hub_.lock()) h->publish(e);
  }
  void on_gap(std::uint64_t lost) override {
    if (const auto h = hub_.lock()) h->lost(lost);
  }

 private:
  std::weak_ptr<event_hub> hub_;
};

event_hub::event_hub(asio::any_io_executor executor, events::event_bus& bus,
                     std::shared_ptr<events::event_journal> journal, event_hub_options options)
    : executor_(std::move(executor)), bus_(bus), journal_(std::move(journal)), options_(options) {}

event_hub::~event_hub() = default;

void event_hub::start() {
  head_ = bus_.last_seq();  // what came before is in the journal
  events::subscription_options o;
  o.name = "events-stream";
  o.executor = executor_;
  o.queue_capacity = 1 << 14;
  subscription_ = bus_.subscribe(std::make_shared<forwarder>(weak_from_this()), {}, std::move(o));
  asio::co_spawn(executor_, ping_loop(shared_from_this()), asio::detached);
}

void event_hub::stop() {
  stopped_ = true;
  subscription_.unsubscribe();
  const auto clients = clients_;  // close() detaches
  for (auto* c : clients) c->close();
}

void event_hub::publish(const events::event& e) {
  if (e.seq <= head_) return;
  if (e.seq != head_ + 1 && !ring_.empty()) {
    // The ring must stay contiguous for clients that join from it.
    ring_.clear();
  }
  auto frame = frame_event(e);
  head_ = e.seq;
  ring_.push_back(frame);
  if (ring_.size() > options_.ring_frames) ring_.pop_front();
  const auto clients = clients_;  // a lagging client closes (and detaches) here
  for (auto* c : clients) c->push_live(frame);
}

void event_hub::lost(std::uint64_t) {
  // The hub's own queue overflowed: the journal has what it missed.
  ring_.clear();
  for (auto* c : clients_) c->fall_back_to_journal();
}

asio::awaitable<void> event_hub::ping_loop(std::shared_ptr<event_hub> self) {
  (void)self;  // keeps the hub alive while the loop runs
  asio::steady_timer timer(executor_);
  const sse_frame ping{0, std::make_shared<const std::string>(": ping\n\n")};
  while (!stopped_) {
    timer.expires_after(options_.ping_interval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopped_) break;
    const auto clients = clients_;
    for (auto* c : clients) c->push_note(ping);
  }
}

asio::awaitable<void> event_hub::serve(boost::beast::tcp_stream stream, http_request request) {
  const auto self = shared_from_this();
  auto refuse = [&](http::status status, std::string text) -> asio::awaitable<void> {
    auto response = make_response(request, status, "text/plain", std::move(text) + "\n");
    response.prepare_payload();
    stream.expires_after(std::chrono::seconds(10));
    co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
  };
  if (stopped_) co_return;
  // Last-Event-ID (the browser's reconnect) wins over ?since= (the page's first connect).
  std::optional<std::uint64_t> since;
  if (const auto id = request.find("Last-Event-ID"); id != request.end()) {
    since = parse_seq(id->value());
    if (!since) {
      co_await refuse(http::status::bad_request, "Last-Event-ID must be an event seq (decimal digits)");
      co_return;
    }
  } else if (const auto q = query_value(request.target(), "since")) {
    since = parse_seq(*q);
    if (!since) {
      co_await refuse(http::status::bad_request, "since must be an event seq (decimal digits)");
      co_return;
    }
  }
  if (clients_.size() >= options_.max_clients) {
    co_await refuse(http::status::service_unavailable,
                    "isensd: " + std::to_string(options_.max_clients) + " event streams are open already");
    co_return;
  }
  std::deque<sse_frame> preface;
  const auto last = std::max(bus_.last_seq(), head_);
  auto cursor = since.value_or(last);
  if (cursor > last) {
    // A seq this isensd never handed out: a wiped state directory, another host.
    preface.push_back(frame_gap(last, cursor, journal_->first_seq(),
                                "this seq is ahead of the journal's head; resync from /api/sessions"));
    cursor = last;
  }
  auto client = std::make_shared<sse_client>(std::move(stream), self, cursor, std::move(preface));
  co_await client->run();
}

}  // namespace isens::daemon
