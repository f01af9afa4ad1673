#include "table.hpp"

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>

namespace isensctl {

void print_table(std::ostream& out, const table_row& header, const std::vector<table_row>& rows) {
  std::vector<std::size_t> widths(header.size());
  const auto widen = [&](const table_row& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  };
  widen(header);
  for (const auto& row : rows) widen(row);
  const auto line = [&](const table_row& row) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i + 1 < row.size() && i < widths.size()) {
        out << std::left << std::setw(static_cast<int>(widths[i] + 2)) << row[i];
      } else {
        out << row[i];
      }
    }
    out << '\n';
  };
  line(header);
  for (const auto& row : rows) line(row);
}

std::string human_size(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  std::ostringstream out;
  out << std::fixed << std::setprecision(unit == 0 ? 0 : 1) << value << ' ' << units[unit];
  return out.str();
}

}  // namespace isensctl
