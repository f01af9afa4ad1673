#include "exposition_parser.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

namespace isens::test {

namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

bool valid_metric_name(std::string_view s) {
  if (s.empty() || !(name_start(s[0]) || s[0] == ':')) return false;
  for (char c : s) {
    if (!(name_char(c) || c == ':')) return false;
  }
  return true;
}

// Go's ParseFloat as Prometheus uses it: decimal or exponent forms, and the
// special spellings +Inf, -Inf, NaN.
std::optional<double> parse_float(std::string_view s) {
  if (s == "+Inf" || s == "Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

struct line_parser {
  std::string_view rest;
  std::size_t line_no;

  [[noreturn]] void fail(const std::string& what) const {
    throw exposition_error("line " + std::to_string(line_no) + ": " + what);
  }
  std::string_view take_name(bool metric) {
    std::size_t n = 0;
    while (n < rest.size() && (name_char(rest[n]) || (metric && rest[n] == ':'))) ++n;
    auto name = rest.substr(0, n);
    if (name.empty() || (!metric && !name_start(name[0])) || (metric && !valid_metric_name(name))) fail("bad name");
    rest.remove_prefix(n);
    return name;
  }
  std::string take_label_value() {
    if (rest.empty() || rest[0] != '"') fail("label value must be quoted");
    std::string out;
    for (std::size_t i = 1; i < rest.size(); ++i) {
      if (rest[i] == '"') {
        rest.remove_prefix(i + 1);
        return out;
      }
      if (rest[i] != '\\') {
        out += rest[i];
        continue;
      }
      if (++i == rest.size()) break;
      if (rest[i] == 'n') {
        out += '\n';
      } else if (rest[i] == '\\' || rest[i] == '"') {
        out += rest[i];
      } else {
        fail("bad escape in label value");
      }
    }
    fail("unterminated label value");
  }
  void skip_blanks(bool required) {
    std::size_t n = 0;
    while (n < rest.size() && (rest[n] == ' ' || rest[n] == '\t')) ++n;
    if (required && n == 0) fail("blank expected");
    rest.remove_prefix(n);
  }
};

std::string unescape_help(line_parser& p, std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
    } else if (i + 1 < text.size() && text[i + 1] == 'n') {
      out += '\n', ++i;
    } else if (i + 1 < text.size() && text[i + 1] == '\\') {
      out += '\\', ++i;
    } else {
      p.fail("bad escape in HELP");
    }
  }
  return out;
}

sample parse_sample(line_parser& p) {
  sample s{std::string(p.take_name(true)), {}, 0};
  if (!p.rest.empty() && p.rest[0] == '{') {
    p.rest.remove_prefix(1);
    while (!p.rest.empty() && p.rest[0] != '}') {
      auto label = std::string(p.take_name(false));
      if (label.starts_with("__")) p.fail("reserved label name " + label);
      if (p.rest.empty() || p.rest[0] != '=') p.fail("'=' expected");
      p.rest.remove_prefix(1);
      if (!s.labels.emplace(label, p.take_label_value()).second) p.fail("label " + label + " twice");
      if (!p.rest.empty() && p.rest[0] == ',') p.rest.remove_prefix(1);
      else if (p.rest.empty() || p.rest[0] != '}') p.fail("',' or '}' expected");
    }
    if (p.rest.empty()) p.fail("'}' expected");
    p.rest.remove_prefix(1);
  }
  p.skip_blanks(true);
  const auto space = p.rest.find_first_of(" \t");
  const auto value = parse_float(p.rest.substr(0, space));
  if (!value) p.fail("bad value");
  s.value = *value;
  if (space != std::string_view::npos) {  // an optional integer timestamp
    p.rest.remove_prefix(space);
    p.skip_blanks(true);
    long long ts = 0;
    const auto [end, ec] = std::from_chars(p.rest.data(), p.rest.data() + p.rest.size(), ts);
    if (ec != std::errc{} || end != p.rest.data() + p.rest.size()) p.fail("bad timestamp");
  }
  return s;
}

// The family a sample belongs to: itself, or a histogram/summary it is a part of.
std::string family_of(const exposition& x, const std::string& name) {
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (!name.ends_with(suffix)) continue;
    const auto base = name.substr(0, name.size() - suffix.size());
    auto it = x.types.find(base);
    if (it != x.types.end() && (it->second == "histogram" || (it->second == "summary" && suffix != "_bucket"))) {
      return base;
    }
  }
  return name;
}

void check_histograms(const exposition& x) {
  for (const auto& [family, type] : x.types) {
    if (type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    std::map<std::map<std::string, std::string>, double> counts;
    std::set<std::map<std::string, std::string>> sums;
    for (const auto& s : x.samples) {
      auto labels = s.labels;
      if (s.name == family + "_bucket") {
        auto le = labels.find("le");
        if (le == labels.end()) throw exposition_error(family + ": bucket without le");
        const auto bound = parse_float(le->second);
        if (!bound) throw exposition_error(family + ": bad le " + le->second);
        labels.erase(le);
        buckets[labels].emplace_back(*bound, s.value);
      } else if (s.name == family + "_count") {
        counts[labels] = s.value;
      } else if (s.name == family + "_sum") {
        sums.insert(labels);
      }
    }
    for (const auto& [labels, list] : buckets) {
      for (std::size_t i = 1; i < list.size(); ++i) {
        if (!(list[i - 1].first < list[i].first)) throw exposition_error(family + ": le not increasing");
        if (list[i - 1].second > list[i].second) throw exposition_error(family + ": buckets not cumulative");
      }
      if (list.empty() || !std::isinf(list.back().first)) throw exposition_error(family + ": no +Inf bucket");
      if (!counts.contains(labels) || counts[labels] != list.back().second) {
        throw exposition_error(family + ": _count differs from the +Inf bucket");
      }
      if (!sums.contains(labels)) throw exposition_error(family + ": no _sum");
    }
  }
}

}  // namespace

exposition parse_exposition(std::string_view text) {
  exposition x;
  if (!text.empty() && text.back() != '\n') throw exposition_error("the last line must end with a newline");
  std::set<std::string> closed;  // families whose group has ended
  std::set<std::string> seen;    // families with samples
  std::set<std::pair<std::string, std::map<std::string, std::string>>> series;
  std::string current;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    line_parser p{text.substr(0, eol), ++line_no};
    text.remove_prefix(eol + 1);
    if (p.rest.empty()) continue;
    std::string family;
    if (p.rest.starts_with("# HELP ") || p.rest.starts_with("# TYPE ")) {
      const bool is_help = p.rest[2] == 'H';
      p.rest.remove_prefix(7);
      family = std::string(p.take_name(true));
      if (seen.contains(family)) p.fail(family + ": HELP/TYPE after its samples");
      if (is_help) {
        if (!p.rest.empty()) p.skip_blanks(true);
        if (!x.help.emplace(family, unescape_help(p, p.rest)).second) p.fail(family + ": second HELP");
      } else {
        p.skip_blanks(true);
        static const std::set<std::string_view> types{"counter", "gauge", "histogram", "summary", "untyped"};
        if (!types.contains(p.rest)) p.fail("unknown type " + std::string(p.rest));
        if (!x.types.emplace(family, std::string(p.rest)).second) p.fail(family + ": second TYPE");
      }
    } else if (p.rest[0] == '#') {
      continue;  // a comment
    } else {
      auto s = parse_sample(p);
      family = family_of(x, s.name);
      seen.insert(family);
      if (!series.emplace(s.name, s.labels).second) p.fail(s.name + ": the same series twice");
      auto type = x.types.find(family);
      if (type != x.types.end() && type->second == "counter" && !(s.value >= 0)) p.fail(s.name + ": negative counter");
      x.samples.push_back(std::move(s));
    }
    if (family != current) {
      if (closed.contains(family)) p.fail(family + ": lines of one family must be one group");
      if (!current.empty()) closed.insert(current);
      current = family;
    }
  }
  check_histograms(x);
  return x;
}

double exposition::value(std::string_view name, const std::map<std::string, std::string>& labels) const {
  for (const auto& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  throw exposition_error("no sample " + std::string(name));
}

bool exposition::has(std::string_view name, const std::map<std::string, std::string>& labels) const {
  for (const auto& s : samples) {
    if (s.name == name && s.labels == labels) return true;
  }
  return false;
}

}  // namespace isens::test
