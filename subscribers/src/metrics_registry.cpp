#include "isens/subscribers/metrics_registry.hpp"

#include "exposition_text.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace isens::subscribers {

namespace {

constexpr std::string_view logins_total = "isens_logins_total";
constexpr std::string_view login_duration = "isens_login_duration_seconds";

std::string quoted(std::string_view name) { return "metric \"" + std::string(name) + "\""; }

std::string_view type_name(metric_type type) noexcept {
  switch (type) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
  }
  return "untyped";
}

// The sample names a family writes; two families must not share any, or a
// scraper could not tell whose sample `x_count` is.
std::vector<std::string> sample_names(std::string_view name, metric_type type) {
  std::vector<std::string> names{std::string(name)};
  if (type == metric_type::histogram) {
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) names.push_back(std::string(name) + std::string(suffix));
  }
  return names;
}

// Writes `{a="1",b="2"}`, with `le` last when given (the order clients use);
// writes nothing for an empty set.
void append_labels(std::string& out, const std::vector<std::pair<std::string, std::string>>& labels,
                   const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    detail::append_label_value(out, value);
    out += '"';
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

}  // namespace

std::vector<double> default_duration_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void metrics_registry::describe_counter(std::string_view name, std::string_view help) {
  describe(name, help, metric_type::counter, {});
}

void metrics_registry::describe_gauge(std::string_view name, std::string_view help) {
  describe(name, help, metric_type::gauge, {});
}

void metrics_registry::describe_histogram(std::string_view name, std::string_view help, std::vector<double> bounds) {
  describe(name, help, metric_type::histogram, std::move(bounds));
}

void metrics_registry::describe(std::string_view name, std::string_view help, metric_type type,
                                std::vector<double> bounds) {
  if (!name.starts_with(metric_name_prefix) || !detail::valid_metric_name(name)) {
    throw std::invalid_argument(quoted(name) + ": a name must start with \"isens_\" and match [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      throw std::invalid_argument(quoted(name) + ": bucket bounds must be finite and strictly increasing");
    }
  }
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    if (it->second.type == type && it->second.help == help && it->second.bounds == bounds) return;
    throw std::invalid_argument(quoted(name) + " is already described with another type, help or buckets");
  }
  const auto mine = sample_names(name, type);
  for (const auto& [other, f] : families_) {
    for (const auto& theirs : sample_names(other, f.type)) {
      if (std::find(mine.begin(), mine.end(), theirs) != mine.end()) {
        throw std::invalid_argument(quoted(name) + " clashes with the samples of metric \"" + other + "\"");
      }
    }
  }
  families_.emplace(std::string(name), family{type, std::string(help), std::move(bounds), {}});
}

metrics_registry::label_key metrics_registry::make_key(std::string_view name, const metric_labels& labels,
                                                       metric_type type) {
  label_key key(labels.begin(), labels.end());
  std::sort(key.begin(), key.end());
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto& label = key[i].first;
    if (!detail::valid_label_name(label)) {
      throw std::invalid_argument(quoted(name) + ": bad label name \"" + label + "\"");
    }
    if (type == metric_type::histogram && label == "le") {
      throw std::invalid_argument(quoted(name) + ": label \"le\" is reserved for histogram buckets");
    }
    if (i > 0 && key[i - 1].first == label) {
      throw std::invalid_argument(quoted(name) + ": label \"" + label + "\" given twice");
    }
  }
  return key;
}

metrics_registry::family& metrics_registry::find(std::string_view name, metric_type type) {
  auto it = families_.find(name);
  if (it == families_.end()) throw std::invalid_argument(quoted(name) + " is not described");
  if (it->second.type != type) {
    throw std::invalid_argument(quoted(name) + " is a " + std::string(type_name(it->second.type)) + ", not a " +
                                std::string(type_name(type)));
  }
  return it->second;
}

const metrics_registry::family* metrics_registry::find_any(std::string_view name) const {
  auto it = families_.find(name);
  return it == families_.end() ? nullptr : &it->second;
}

void metrics_registry::increment(std::string_view name, const metric_labels& labels, double by) {
  if (!(by >= 0)) throw std::invalid_argument(quoted(name) + ": a counter cannot go down");
  auto key = make_key(name, labels, metric_type::counter);
  std::lock_guard lock(mutex_);
  find(name, metric_type::counter).children[std::move(key)].value += by;
}

void metrics_registry::set(std::string_view name, const metric_labels& labels, double value) {
  auto key = make_key(name, labels, metric_type::gauge);
  std::lock_guard lock(mutex_);
  find(name, metric_type::gauge).children[std::move(key)].value = value;
}

void metrics_registry::observe(std::string_view name, const metric_labels& labels, double value) {
  if (std::isnan(value)) throw std::invalid_argument(quoted(name) + ": cannot observe NaN");
  auto key = make_key(name, labels, metric_type::histogram);
  std::lock_guard lock(mutex_);
  auto& f = find(name, metric_type::histogram);
  auto& s = f.children[std::move(key)];
  s.buckets.resize(f.bounds.size());
  // `le` is inclusive: a value equal to a bound belongs in that bound's bucket.
  const auto bucket = std::lower_bound(f.bounds.begin(), f.bounds.end(), value);
  if (bucket != f.bounds.end()) ++s.buckets[static_cast<std::size_t>(bucket - f.bounds.begin())];
  s.sum += value;
  ++s.count;
}

std::pair<metric_type, std::size_t> metrics_registry::shape(std::string_view name) const {
  std::lock_guard lock(mutex_);
  const auto* f = find_any(name);
  if (f == nullptr) throw std::invalid_argument(quoted(name) + " is not described");
  return {f->type, f->bounds.size()};
}

void metrics_registry::replace_children(std::string_view name, metric_type type,
                                        std::vector<std::pair<label_key, series>> children) {
  std::map<label_key, series> fresh;
  for (auto& [key, s] : children) {
    if (!fresh.emplace(std::move(key), std::move(s)).second) {
      throw std::invalid_argument(quoted(name) + ": the same label set given twice");
    }
  }
  std::lock_guard lock(mutex_);
  find(name, type).children = std::move(fresh);
}

void metrics_registry::replace_series(std::string_view name, const std::vector<series_value>& series) {
  const auto type = shape(name).first;
  if (type == metric_type::histogram) {
    throw std::invalid_argument(quoted(name) + ": replace_series takes counters and gauges only");
  }
  std::vector<std::pair<label_key, metrics_registry::series>> fresh;
  for (const auto& [labels, value] : series) {
    if (type == metric_type::counter && !(value >= 0)) {
      throw std::invalid_argument(quoted(name) + ": a counter cannot be negative");
    }
    fresh.emplace_back(make_key(name, labels, type), metrics_registry::series{value, {}, 0, 0});
  }
  replace_children(name, type, std::move(fresh));
}

void metrics_registry::replace_histogram_series(std::string_view name, const std::vector<histogram_value>& series) {
  const auto [type, bounds] = shape(name);
  if (type != metric_type::histogram) {
    throw std::invalid_argument(quoted(name) + ": replace_histogram_series takes histograms only");
  }
  std::vector<std::pair<label_key, metrics_registry::series>> fresh;
  for (const auto& h : series) {
    if (h.buckets.size() != bounds + 1) {
      throw std::invalid_argument(quoted(name) + ": " + std::to_string(bounds + 1) + " bucket counts expected, " +
                                  std::to_string(h.buckets.size()) + " given");
    }
    if (std::isnan(h.sum)) throw std::invalid_argument(quoted(name) + ": a sum cannot be NaN");
    metrics_registry::series s{0, {h.buckets.begin(), h.buckets.end() - 1}, h.sum, 0};
    for (const auto n : h.buckets) s.count += n;
    fresh.emplace_back(make_key(name, h.labels, type), std::move(s));
  }
  replace_children(name, type, std::move(fresh));
}

void metrics_registry::record_login(bool ok, std::chrono::duration<double> elapsed) {
  describe_counter(logins_total, "Logins to targets by the initiator, by result.");
  describe_histogram(login_duration, "Time from TCP connect to full-feature phase of successful and failed logins.",
                     default_duration_buckets());
  // Both results exist from the first login on, so a failure ratio never
  // divides by a missing series.
  increment(logins_total, {{"result", "ok"}}, ok ? 1 : 0);
  increment(logins_total, {{"result", "failed"}}, ok ? 0 : 1);
  observe(login_duration, {}, std::max(0.0, elapsed.count()));
}

std::optional<double> metrics_registry::value(std::string_view name, const metric_labels& labels) const {
  std::lock_guard lock(mutex_);
  const auto* f = find_any(name);
  if (f == nullptr || f->type == metric_type::histogram) return std::nullopt;
  auto it = f->children.find(make_key(name, labels, f->type));
  if (it == f->children.end()) return std::nullopt;
  return it->second.value;
}

std::optional<std::uint64_t> metrics_registry::observation_count(std::string_view name,
                                                                 const metric_labels& labels) const {
  std::lock_guard lock(mutex_);
  const auto* f = find_any(name);
  if (f == nullptr || f->type != metric_type::histogram) return std::nullopt;
  auto it = f->children.find(make_key(name, labels, f->type));
  if (it == f->children.end()) return std::nullopt;
  return it->second.count;
}

std::string metrics_registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + ' ';
    detail::append_help(out, f.help);
    out += "\n# TYPE " + name + ' ' + std::string(type_name(f.type)) + '\n';
    for (const auto& [labels, s] : f.children) {
      if (f.type != metric_type::histogram) {
        out += name;
        append_labels(out, labels);
        out += ' ';
        detail::append_value(out, s.value);
        out += '\n';
        continue;
      }
      // Buckets are cumulative on the wire: each counts every observation <= le.
      std::uint64_t cumulative = 0;
      std::string le;
      for (std::size_t i = 0; i <= f.bounds.size(); ++i) {
        le.clear();
        if (i < f.bounds.size()) {
          cumulative += s.buckets.empty() ? 0 : s.buckets[i];
          detail::append_value(le, f.bounds[i]);
        } else {
          cumulative = s.count;
          le = "+Inf";
        }
        out += name + "_bucket";
        append_labels(out, labels, &le);
        out += ' ' + std::to_string(cumulative) + '\n';
      }
      out += name + "_sum";
      append_labels(out, labels);
      out += ' ';
      detail::append_value(out, s.sum);
      out += '\n' + name + "_count";
      append_labels(out, labels);
      out += ' ' + std::to_string(s.count) + '\n';
    }
  }
  return out;
}

}  // namespace isens::subscribers
