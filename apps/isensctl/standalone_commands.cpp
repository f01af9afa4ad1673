#include "standalone_commands.hpp"

#include "run_initiator.hpp"
#include "table.hpp"

#include <isens/events/event_json.hpp>
#include <isens/initiator/json.hpp>

#include <iomanip>
#include <iostream>
#include <mutex>

namespace isensctl {

namespace asio = boost::asio;
namespace ini = isens::initiator;
using json = nlohmann::ordered_json;

namespace {

// Collects every event for printing once the run is over.
class event_collector : public isens::events::subscriber {
 public:
  void on_event(const isens::events::event& e) override {
    std::lock_guard lock(mutex_);
    events_.push_back(e);
  }
  std::vector<isens::events::event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<isens::events::event> events_;
};

int fail(const std::string& message) {
  std::cerr << "isensctl: " << message << '\n';
  return 1;
}

ini::initiator_options initiator_settings(const standalone_options& common) {
  ini::initiator_options options;
  options.initiator_name = common.initiator_name;
  options.connect_timeout = std::chrono::milliseconds(common.timeout_ms);
  options.login_timeout = std::chrono::milliseconds(common.timeout_ms);
  options.command_timeout = std::chrono::milliseconds(common.timeout_ms);
  options.single_threaded = true;  // run_initiator() runs its io_context on the calling thread only
  return options;
}

std::optional<ini::chap_credentials> credentials(const std::string& user, const std::string& secret) {
  if (user.empty() && secret.empty()) return std::nullopt;
  return ini::chap_credentials{user, secret};
}

void print_devices(const std::vector<ini::device_info>& devices) {
  std::vector<table_row> rows;
  for (const auto& d : devices) {
    rows.push_back({std::to_string(d.lun), ini::device_type_name(d.inquiry.device_type), d.inquiry.vendor,
                    d.inquiry.product, d.inquiry.revision,
                    d.capacity ? human_size(d.capacity->bytes()) + " (" + std::to_string(d.capacity->block_count) +
                                     " x " + std::to_string(d.capacity->block_size) + ")"
                               : "-"});
  }
  print_table(std::cout, {"LUN", "TYPE", "VENDOR", "PRODUCT", "REV", "CAPACITY"}, rows);
}

}  // namespace

int run_discover(const standalone_options& common) {
  auto where = ini::portal::parse(common.portal);
  if (!where) return fail(where.error().what());
  ini::discovery_options options;
  options.discovery_portal = *where;
  options.chap = credentials(common.chap_user, common.chap_secret);
  options.mutual_chap = credentials(common.chap_target_user, common.chap_target_secret);

  return run_initiator(initiator_settings(common), [&](ini::initiator& initiator) -> asio::awaitable<int> {
    auto targets = co_await initiator.discover(options);
    if (!targets) co_return fail("discovery failed: " + targets.error().what());
    if (common.json) {
      json out = json::array();
      for (const auto& t : *targets) out.push_back(ini::to_json(t));
      std::cout << out.dump(2) << '\n';
    } else if (targets->empty()) {
      std::cout << "no targets at " << where->to_string() << '\n';
    } else {
      for (const auto& t : *targets) {
        std::cout << t.name << '\n';
        for (const auto& p : t.portals) std::cout << "    " << p.address.to_string() << ",tpgt " << p.portal_group_tag << '\n';
      }
    }
    co_return 0;
  });
}

int run_probe(const standalone_options& common, const probe_options& probe) {
  auto where = ini::portal::parse(common.portal);
  if (!where) return fail(where.error().what());
  ini::login_options options;
  options.target_portal = *where;
  options.target_name = probe.target;
  options.chap = credentials(common.chap_user, common.chap_secret);
  options.mutual_chap = credentials(common.chap_target_user, common.chap_target_secret);
  options.header_digest = ini::parse_digest(probe.header_digest).value_or(ini::digest::none);  // checked by the flag
  options.data_digest = ini::parse_digest(probe.data_digest).value_or(ini::digest::none);
  options.max_connections = std::max(1u, probe.connections);

  auto collector = std::make_shared<event_collector>();
  json report;
  std::optional<ini::session_info> seen;
  const int code = run_initiator(
      initiator_settings(common),
      [&](ini::initiator& initiator) -> asio::awaitable<int> {
        auto session_id = co_await initiator.login_to_target(options);
        if (!session_id) co_return fail(session_id.error().what());
        int status = 0;
        for (unsigned i = 1; i < probe.connections; ++i) {
          auto added = co_await initiator.add_connection_to_session(*session_id);
          if (!added) {
            std::cerr << "isensctl: connection " << i + 1 << " of " << probe.connections
                      << " failed: " << added.error().what() << '\n';
            status = 1;
            break;
          }
        }
        if (auto snapshot = initiator.session(*session_id)) seen = *snapshot;
        if (auto out = co_await initiator.logout_from_target(*session_id); !out) {
          std::cerr << "isensctl: " << out.error().what() << '\n';
          status = 1;
        }
        co_return status;
      },
      collector);
  if (!seen) return code;

  const auto events = collector->events();
  if (common.json) {
    report = ini::to_json(*seen);
    if (probe.events) {
      json list = json::array();
      for (const auto& e : events) list.push_back(isens::events::to_json(e));
      report["events"] = std::move(list);
    }
    std::cout << report.dump(2) << '\n';
    return code;
  }
  std::cout << "session " << seen->session_id << " to " << seen->target_name << " at " << seen->target_portal.to_string()
            << "\n  isid " << isens::events::format_isid(seen->isid) << ", tsih " << seen->tsih << ", auth "
            << seen->auth_type << ", header digest " << (seen->header_digest ? "CRC32C" : "None") << ", data digest "
            << (seen->data_digest ? "CRC32C" : "None") << "\n  " << seen->connections.size() << " connection(s):\n";
  for (const auto& c : seen->connections)
    std::cout << "    cid " << c.cid << "  " << c.local_address << " -> " << c.remote_address << '\n';
  std::cout << '\n';
  print_devices(seen->devices);
  if (probe.events) {
    std::cout << "\nevents:\n";
    for (const auto& e : events) {
      std::cout << "  " << std::right << std::setw(4) << e.seq << "  " << std::left << std::setw(19) << to_string(e.kind)
                << std::setw(14) << to_string(e.reason) << (e.cid ? "cid " + std::to_string(*e.cid) : "") << '\n'
                << std::right;
    }
  }
  return code;
}

}  // namespace isensctl
