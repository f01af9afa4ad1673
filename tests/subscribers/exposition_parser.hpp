#pragma once
// A strict parser of the Prometheus text exposition format 0.0.4, written
// from the format's description rather than from metrics_registry, so the
// tests check the registry's output against the format and not against
// itself. Debian 12's promtool comes only in the 96 MB `prometheus` server
// package (with a web UI and a service), too big to pull in for one check.

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace isens::test {

// Thrown with the 1-based line number and what is wrong with that line.
class exposition_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One sample line, with label values unescaped.
struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// What a scraper would see.
struct exposition {
  std::map<std::string, std::string> types;  // family name -> counter|gauge|histogram|summary|untyped
  std::map<std::string, std::string> help;   // family name -> unescaped help text
  std::vector<sample> samples;               // in input order

  // The value of the sample with exactly these labels; throws when absent.
  double value(std::string_view name, const std::map<std::string, std::string>& labels = {}) const;
  // True when such a sample exists.
  bool has(std::string_view name, const std::map<std::string, std::string>& labels = {}) const;
};

// Parses and validates: syntax, escapes, HELP/TYPE before and at most once
// per family, families not interleaved, no duplicate series, counters not
// negative, histogram buckets sorted and cumulative with +Inf == _count and
// a _sum. Throws exposition_error.
exposition parse_exposition(std::string_view text);

}  // namespace isens::test
