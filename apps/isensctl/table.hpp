#pragma once
// isensctl's human-readable output: aligned tables and byte sizes.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace isensctl {

// One row of cells; every row of a table has as many as its header.
using table_row = std::vector<std::string>;

// Writes `header` and `rows` left-aligned, each column as wide as its widest
// cell plus two spaces (the last one unpadded), so long IQNs do not push the
// columns after them out of line.
void print_table(std::ostream& out, const table_row& header, const std::vector<table_row>& rows);

// A byte count for people: "0 B", "512 B", "1.5 KiB", "20.0 GiB".
std::string human_size(std::uint64_t bytes);

}  // namespace isensctl
