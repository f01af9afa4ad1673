#include "static_assets.hpp"

namespace isens::daemon {

namespace http = boost::beast::http;

std::string_view content_type_for(std::string_view path) {
  const auto ends = [&](std::string_view suffix) { return path.ends_with(suffix); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

void add_static_routes(http_server& server) {
  for (const auto& file : embedded_files()) {
    auto handler = [file](const http_request& request) {
      auto response = make_response(request, http::status::ok, std::string(content_type_for(file.path)),
                                    std::string(file.bytes));
      // Everything the page loads comes from here: no other origin may be used.
      response.set("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                   "connect-src 'self'; frame-ancestors 'none'");
      return response;
    };
    if (file.path == "/index.html") server.route("/", handler);
    server.route(std::string(file.path), std::move(handler));
  }
}

}  // namespace isens::daemon
