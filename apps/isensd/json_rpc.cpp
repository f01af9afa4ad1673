#include "json_rpc.hpp"

namespace isens::daemon {

rpc_request parse_request(std::string_view line) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::parse_error& ex) {
    throw rpc_error(rpc_code::parse_error, std::string("parse error: ") + ex.what());
  }
  if (!j.is_object()) throw rpc_error(rpc_code::invalid_request, "a request must be a JSON object");
  if (j.value("jsonrpc", "") != "2.0") throw rpc_error(rpc_code::invalid_request, "\"jsonrpc\" must be \"2.0\"");
  const auto method = j.find("method");
  if (method == j.end() || !method->is_string())
    throw rpc_error(rpc_code::invalid_request, "\"method\" must be a string");

  rpc_request r;
  r.method = method->get<std::string>();
  if (const auto id = j.find("id"); id != j.end()) {
    if (!id->is_string() && !id->is_number_integer() && !id->is_null())
      throw rpc_error(rpc_code::invalid_request, "\"id\" must be a string, an integer or null");
    r.id = *id;
  } else {
    r.notification = true;
  }
  if (const auto params = j.find("params"); params != j.end() && !params->is_null()) {
    // JSON-RPC 2.0: an error answers with the request's id whenever it could be read.
    if (!params->is_object())
      throw rpc_error(rpc_code::invalid_params, "\"params\" must be an object").for_request(r.id);
    r.params = *params;
  } else {
    r.params = json::object();
  }
  return r;
}

json make_result(const json& id, json result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json make_error(const json& id, int code, const std::string& message, const json& data) {
  json error{{"code", code}, {"message", message}};
  if (!data.is_null()) error["data"] = data;
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}};
}

json make_notification(const std::string& method, json params) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

namespace {

[[noreturn]] void bad(const char* name, const char* what) {
  throw rpc_error(rpc_code::invalid_params, std::string("param \"") + name + "\" " + what);
}

}  // namespace

std::optional<std::string> optional_string(const json& params, const char* name) {
  const auto it = params.find(name);
  if (it == params.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) bad(name, "must be a string");
  return it->get<std::string>();
}

std::string param_string(const json& params, const char* name) {
  auto v = optional_string(params, name);
  if (!v || v->empty()) bad(name, "is required");
  return *v;
}

std::optional<std::uint64_t> optional_uint(const json& params, const char* name) {
  const auto it = params.find(name);
  if (it == params.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0))
    bad(name, "must be a non-negative integer");
  return it->get<std::uint64_t>();
}

std::uint64_t param_uint(const json& params, const char* name) {
  auto v = optional_uint(params, name);
  if (!v) bad(name, "is required");
  return *v;
}

bool optional_bool(const json& params, const char* name, bool fallback) {
  const auto it = params.find(name);
  if (it == params.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) bad(name, "must be true or false");
  return it->get<bool>();
}

}  // namespace isens::daemon
