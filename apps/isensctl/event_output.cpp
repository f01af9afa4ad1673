#include "event_output.hpp"

#include <isens/events/event_json.hpp>

#include <iomanip>
#include <iostream>
#include <sstream>

namespace isensctl {

std::string event_line(const isens::events::event& e) {
  std::ostringstream line;
  line << std::right << std::setw(6) << e.seq << "  " << isens::events::format_timestamp(e.timestamp) << "  "
       << std::left << std::setw(19) << to_string(e.kind) << std::setw(17) << to_string(e.reason) << "session "
       << e.session_id << "  " << e.target << "  " << e.portal << (e.cid ? "  cid " + std::to_string(*e.cid) : "")
       << (e.detail.empty() ? "" : "  " + e.detail);
  return line.str();
}

void print_gap(const nlohmann::ordered_json& gap, bool as_json) {
  if (as_json) {
    std::cout << nlohmann::ordered_json{{"gap", gap}}.dump() << std::endl;
  } else {
    std::cerr << "isensctl: gap in the event stream: " << gap.dump() << '\n';
  }
}

}  // namespace isensctl
