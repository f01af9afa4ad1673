#include "daemon_commands.hpp"

#include "event_output.hpp"
#include "rpc_client.hpp"
#include "table.hpp"

#include <isens/events/event_json.hpp>

#include <charconv>
#include <iomanip>
#include <iostream>

namespace isensctl {

namespace {

// Runs `body` with a connected client; a client_error becomes one line on
// stderr and its exit code.
template <class Body>
int with_daemon(const daemon_options& o, Body body) {
  try {
    rpc_client client(o.socket);
    return body(client);
  } catch (const client_error& e) {
    std::cerr << "isensctl: " << e.what() << '\n';
    return e.exit_code();
  }
}

int print_json(const json& j) {
  std::cout << j.dump(2) << '\n';
  return 0;
}

json credentials_params(const login_request& r) {
  json p = json::object();
  if (!r.chap_user.empty()) {
    p["chap_user"] = r.chap_user;
    p["chap_secret"] = r.chap_secret;
  }
  if (!r.chap_target_user.empty()) {
    p["chap_target_user"] = r.chap_target_user;
    p["chap_target_secret"] = r.chap_target_secret;
  }
  return p;
}

std::string str(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

}  // namespace

int cmd_login(const daemon_options& o, const login_request& r) {
  return with_daemon(o, [&](rpc_client& c) {
    auto params = credentials_params(r);
    params["portal"] = r.portal;
    params["target"] = r.target;
    params["header_digest"] = r.header_digest;
    params["data_digest"] = r.data_digest;
    params["persistent"] = r.persistent;
    const auto result = c.call("login_to_target", params);
    if (o.json) return print_json(result);
    std::cout << result.at("session_id").get<std::uint64_t>() << '\n';
    if (result.contains("registration_id")) std::cerr << "registered as " << str(result, "registration_id") << '\n';
    return 0;
  });
}

int cmd_logout(const daemon_options& o, std::uint64_t session_id) {
  return with_daemon(o, [&](rpc_client& c) {
    const auto result = c.call("logout_from_target", {{"session_id", session_id}});
    if (o.json) return print_json(result);
    std::cout << "session " << session_id << " logged out\n";
    return 0;
  });
}

int cmd_sessions(const daemon_options& o, std::optional<std::uint64_t> session_id) {
  return with_daemon(o, [&](rpc_client& c) {
    json params = json::object();
    if (session_id) params["session_id"] = *session_id;
    const auto sessions = c.call("sessions", params);
    if (o.json) return print_json(sessions);
    std::vector<table_row> rows;
    for (const auto& s : sessions) {
      const auto io = s.value("io", json::object());  // an isensd older than the data path has none: "-"
      const auto size = [&io](const char* key) {
        return io.contains(key) ? human_size(io.at(key).get<std::uint64_t>()) : "-";
      };
      rows.push_back({str(s, "session_id"), str(s, "target_name"), str(s, "target_portal"), str(s, "isid"),
                      str(s, "tsih"), s.value("connected", false) ? "connected" : "disconnected",
                      s.value("persistent", false) ? "yes" : "no",
                      str(s, "connection_count"), str(s, "auth_type"),
                      str(s, "header_digest") + "/" + str(s, "data_digest"), str(io, "read_ops"), str(io, "write_ops"),
                      size("read_bytes"), size("write_bytes"), str(io, "in_flight") + "/" + str(io, "queued"),
                      str(io, "failed")});
    }
    print_table(std::cout,
                {"SESSION", "TARGET", "PORTAL", "ISID", "TSIH", "STATE", "PERSISTENT", "CONNS", "AUTH", "DIGEST H/D", "READS", "WRITES",
                 "READ", "WRITTEN", "INFLIGHT/QUEUED", "FAILED"},
                rows);
    return 0;
  });
}

int cmd_connections(const daemon_options& o, std::optional<std::uint64_t> session_id) {
  return with_daemon(o, [&](rpc_client& c) {
    json params = json::object();
    if (session_id) params["session_id"] = *session_id;
    const auto sessions = c.call("sessions", params);
    json rows = json::array();
    for (const auto& s : sessions)
      for (auto conn : s.at("connections")) {
        conn["session_id"] = s.at("session_id");
        rows.push_back(conn);
      }
    if (o.json) return print_json(rows);
    std::vector<table_row> cells;
    for (const auto& r : rows) {
      cells.push_back({str(r, "session_id"), str(r, "connection_id"), str(r, "cid"), str(r, "local_address"),
                       str(r, "remote_address")});
    }
    print_table(std::cout, {"SESSION", "CONNECTION", "CID", "LOCAL", "REMOTE"}, cells);
    return 0;
  });
}

int cmd_add_connection(const daemon_options& o, std::uint64_t session_id, const std::string& portal) {
  return with_daemon(o, [&](rpc_client& c) {
    json params{{"session_id", session_id}};
    if (!portal.empty()) params["portal"] = portal;
    const auto result = c.call("add_connection_to_session", params);
    if (o.json) return print_json(result);
    std::cout << result.at("connection_id").get<std::uint64_t>() << '\n';
    return 0;
  });
}

int cmd_remove_connection(const daemon_options& o, std::uint64_t session_id, std::uint64_t connection_id) {
  return with_daemon(o, [&](rpc_client& c) {
    const auto result =
        c.call("remove_connection_from_session", {{"session_id", session_id}, {"connection_id", connection_id}});
    if (o.json) return print_json(result);
    std::cout << "connection " << connection_id << " removed from session " << session_id << '\n';
    return 0;
  });
}

int cmd_register(const daemon_options& o, std::uint64_t session_id) {
  return with_daemon(o, [&](rpc_client& c) {
    const auto result = c.call("register_session", {{"session_id", session_id}});
    if (o.json) return print_json(result);
    std::cout << str(result, "registration_id") << '\n';
    return 0;
  });
}

int cmd_unregister(const daemon_options& o, const std::vector<std::string>& ids) {
  return with_daemon(o, [&](rpc_client& c) {
    int status = 0;
    json results = json::array();
    for (const auto& id : ids) {
      // Digits only: a session id (a registration id is target@portal).
      std::uint64_t session_id = 0;
      const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), session_id);
      const bool session = !id.empty() && ec == std::errc() && end == id.data() + id.size();
      try {
        const auto result = session ? c.call("unregister_session", {{"session_id", session_id}})
                                    : c.call("unregister_session", {{"registration_id", id}});
        results.push_back(result);
        if (!o.json)
          std::cout << str(result, "registration_id") << (session ? " (session " + id + ")" : std::string())
                    << " unregistered (its session, if any, stays logged in)\n";
      } catch (const client_error& e) {
        if (e.exit_code() != 1) throw;  // no daemon, or a broken answer: stop here
        std::cerr << "isensctl: " << e.what() << '\n';
        status = 1;
      }
    }
    if (o.json) print_json(results);
    return status;
  });
}

int cmd_registrations(const daemon_options& o) {
  return with_daemon(o, [&](rpc_client& c) {
    const auto list = c.call("registered_sessions");
    if (o.json) return print_json(list);
    for (const auto& r : list) std::cout << str(r, "registration_id") << "  (" << str(r, "auth_type") << ")\n";
    return 0;
  });
}

int cmd_scsi(const daemon_options& o, const std::string& method, std::uint64_t session_id,
             std::optional<std::uint64_t> lun) {
  return with_daemon(o, [&](rpc_client& c) {
    json params{{"session_id", session_id}};
    if (lun) params["lun"] = *lun;
    return print_json(c.call(method, params));
  });
}

int cmd_discover_via_daemon(const daemon_options& o, const login_request& r) {
  return with_daemon(o, [&](rpc_client& c) {
    auto params = credentials_params(r);
    params["portal"] = r.portal;
    const auto targets = c.call("discover", params);
    if (o.json) return print_json(targets);
    for (const auto& t : targets) {
      std::cout << str(t, "name") << '\n';
      for (const auto& p : t.at("portals")) std::cout << "    " << str(p, "address") << ",tpgt " << str(p, "portal_group_tag") << '\n';
    }
    return 0;
  });
}

int cmd_watch(const daemon_options& o, const watch_request& r) {
  return with_daemon(o, [&](rpc_client& c) {
    json params = json::object();
    if (r.since) params["since"] = *r.since;
    if (!r.kinds.empty()) params["kinds"] = r.kinds;
    if (r.session_id) params["session_id"] = *r.session_id;
    std::uint64_t seen = 0;
    if (r.count && *r.count == 0) return 0;
    c.stream(params, [&](const json& message) {
      const auto method = message.value("method", std::string());
      const auto& p = message.at("params");
      if (method == "gap") {
        print_gap(p, o.json);
        return true;
      }
      if (method != "event") return true;
      if (o.json) {
        std::cout << p.dump() << std::endl;
      } else {
        std::cout << event_line(isens::events::event_from_json(p)) << std::endl;
      }
      return !r.count || ++seen < *r.count;
    });
    return 0;
  });
}

}  // namespace isensctl
