#pragma once
// JSON-RPC 2.0 framing for the control socket: one JSON object per line.

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace isens::daemon {

using json = nlohmann::ordered_json;

// Standard JSON-RPC error codes, and the ones isensd adds (-32000 and below).
namespace rpc_code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int operation_failed = -32000;  // the initiator said no: data.code names why
inline constexpr int permission_denied = -32001;
inline constexpr int not_found = -32002;
}  // namespace rpc_code

// An error a method reports to its caller.
class rpc_error : public std::runtime_error {
 public:
  rpc_error(int code, const std::string& message, json data = nullptr)
      : std::runtime_error(message), code_(code), data_(std::move(data)) {}
  int code() const noexcept { return code_; }
  const json& data() const noexcept { return data_; }
  /// The id of the request it answers, when the request got as far as having one.
  const json& request_id() const noexcept { return request_id_; }
  /// Returns a copy that answers request `id`.
  rpc_error for_request(json id) const {
    rpc_error copy = *this;
    copy.request_id_ = std::move(id);
    return copy;
  }

 private:
  int code_;
  json data_;
  json request_id_;
};

// A parsed request. Notifications (no id) are answered never.
struct rpc_request {
  json id;  // null for a notification
  std::string method;
  json params;  // an object (missing params become {})
  bool notification = false;
};

// Parses one line; throws rpc_error(parse_error | invalid_request).
rpc_request parse_request(std::string_view line);

// {"jsonrpc":"2.0","id":…,"result":…}
json make_result(const json& id, json result);
// {"jsonrpc":"2.0","id":…,"error":{"code":…,"message":…,"data":…}}
json make_error(const json& id, int code, const std::string& message, const json& data = nullptr);
// {"jsonrpc":"2.0","method":…,"params":…} (server → client)
json make_notification(const std::string& method, json params);

// Typed access to params with invalid_params errors that name the member.
std::string param_string(const json& params, const char* name);
std::optional<std::string> optional_string(const json& params, const char* name);
std::uint64_t param_uint(const json& params, const char* name);
std::optional<std::uint64_t> optional_uint(const json& params, const char* name);
bool optional_bool(const json& params, const char* name, bool fallback);

}  // namespace isens::daemon
