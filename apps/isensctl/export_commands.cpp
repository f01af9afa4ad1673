#include "export_commands.hpp"

#include "rpc_client.hpp"
#include "table.hpp"

#include <iostream>

namespace isensctl {

int cmd_exports(const daemon_options& o) {
  try {
    rpc_client client(o.socket);
    const auto exports = client.call("exports");
    if (o.json) {
      std::cout << exports.dump(2) << '\n';
      return 0;
    }
    std::vector<table_row> rows;
    for (const auto& e : exports) {
      const auto& b = e.at("block_size");
      rows.push_back({e.at("uri").get<std::string>(), std::to_string(e.at("session_id").get<std::uint64_t>()),
                      human_size(e.at("size_bytes").get<std::uint64_t>()),
                      std::to_string(b.at("minimum").get<std::uint32_t>()) + "/" +
                          std::to_string(b.at("preferred").get<std::uint32_t>()) + "/" +
                          human_size(b.at("maximum").get<std::uint32_t>()),
                      e.at("read_only").get<bool>() ? "ro" : "rw", std::to_string(e.at("clients").get<std::size_t>())});
    }
    if (rows.empty()) {
      std::cout << "no exports (a disk LUN is exported once its session is ready)\n";
      return 0;
    }
    print_table(std::cout, {"URI", "SESSION", "SIZE", "BLOCK MIN/PREF/MAX", "MODE", "CLIENTS"}, rows);
    return 0;
  } catch (const client_error& e) {
    std::cerr << "isensctl: " << e.what() << '\n';
    return e.exit_code();
  }
}

}  // namespace isensctl
