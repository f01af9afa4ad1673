#include "dashboard_api.hpp"

#include "event_hub.hpp"
#include "io_sampler.hpp"
#include "session_tracker.hpp"

#include <isens/events/event_json.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <unistd.h>

#ifndef ISENS_VERSION
#define ISENS_VERSION "unknown"
#endif

namespace isens::daemon {

namespace http = boost::beast::http;
using json = nlohmann::ordered_json;

namespace {

constexpr std::size_t max_events_per_request = 10000;

http_response json_response(const http_request& request, const json& body) {
  return make_response(request, http::status::ok, "application/json", body.dump() + "\n");
}

http_response bad_request(const http_request& request, const std::string& why) {
  return make_response(request, http::status::bad_request, "application/json", json{{"error", why}}.dump() + "\n");
}

// A non-negative integer query parameter; `fallback` when absent, nullopt when malformed.
std::optional<std::uint64_t> uint_param(const http_request& request, std::string_view name, std::uint64_t fallback) {
  const auto text = query_value(request.target(), name);
  if (!text) return fallback;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc{} || end != text->data() + text->size() || text->empty()) return std::nullopt;
  return value;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

}  // namespace

void add_api_routes(http_server& server, const dashboard_sources& sources) {
  const auto started = std::chrono::steady_clock::now();
  const auto started_wall = std::chrono::system_clock::now();
  const auto* s = &sources;

  server.route("/api/status", [s, started, started_wall, host = host_name()](const http_request& request) {
    const auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return json_response(request, {{"host", host},
                                   {"initiator_name", s->initiator_name},
                                   {"version", ISENS_VERSION},
                                   {"pid", ::getpid()},
                                   {"started_ms", epoch_ms(started_wall)},
                                   {"uptime_s", uptime},
                                   {"boot_id", s->bus.boot_id()},
                                   {"head_seq", s->bus.last_seq()},
                                   {"journal", {{"oldest_seq", s->journal->first_seq()}, {"last_seq", s->journal->last_seq()}}},
                                   {"stream_clients", s->stream.client_count()},
                                   {"read_only", true}});
  });

  server.route("/api/sessions", [s](const http_request& request) {
    const auto now = std::chrono::system_clock::now();
    // The control socket's form, so the two never drift apart; then what only the page needs.
    auto sessions = s->sessions_json(s->initiator.sessions());
    for (auto& session : sessions) {
      const auto id = session.at("session_id").get<std::uint64_t>();
      session["tracked"] = s->tracker.to_json(id, now);
      session["rate"] = io_sampler::to_json(s->rates.latest(id));
    }
    return json_response(request, {{"boot_id", s->bus.boot_id()}, {"head_seq", s->bus.last_seq()},
                                   {"time_ms", epoch_ms(now)}, {"sessions", std::move(sessions)}});
  });

  server.route("/api/events", [s](const http_request& request) {
    const auto since = uint_param(request, "since", 0);
    const auto limit = uint_param(request, "limit", 1000);
    if (!since) return bad_request(request, "since must be an event seq (decimal digits)");
    if (!limit || *limit == 0 || *limit > max_events_per_request)
      return bad_request(request, "limit must be between 1 and " + std::to_string(max_events_per_request));
    const auto batch = s->journal->read_since(*since, static_cast<std::size_t>(*limit));
    json list = json::array();
    for (const auto& e : batch.events) list.push_back(events::to_json(e));
    const auto next = batch.events.empty() ? batch.next_after : std::max(batch.next_after, batch.events.back().seq);
    return json_response(request, {{"events", std::move(list)},
                                   {"gap", batch.gap},
                                   {"oldest_available", batch.oldest_available},
                                   {"next_after", next},
                                   {"last_seq", s->journal->last_seq()},
                                   {"boot_id", s->bus.boot_id()}});
  });

  server.route("/api/io", [s](const http_request& request) { return json_response(request, s->rates.history_json()); });
}

}  // namespace isens::daemon
