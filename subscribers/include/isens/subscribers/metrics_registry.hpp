#pragma once
/// A small thread-safe metrics registry that renders the Prometheus text
/// exposition format, version 0.0.4. Just what isensd exposes — counters,
/// gauges and fixed-bucket histograms, each with labels — so the daemon does
/// not need a client library Debian does not ship.
///
/// A metric family is described once (name, help, type); its series are then
/// addressed by label set and created on first use. Output is ordered by
/// family name, then by label set, so a scrape is deterministic.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isens::subscribers {

/// The Content-Type an HTTP endpoint serves render() output with.
inline constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric name must start with this, so isens metrics group together.
inline constexpr std::string_view metric_name_prefix = "isens_";

/// Label name/value pairs; their order does not matter (series are keyed by sorted names).
using metric_labels = std::vector<std::pair<std::string, std::string>>;

/// The kind of a metric family, as written on its `# TYPE` line.
enum class metric_type : std::uint8_t { counter, gauge, histogram };

/// Bucket bounds suited to durations in seconds from 5 ms to 10 s (Prometheus' defaults).
std::vector<double> default_duration_buckets();

/// Counters, gauges and histograms with labels. Every member is thread-safe.
/// Misuse (bad names, type mismatches, a counter going down) throws
/// std::invalid_argument naming the metric: it is a programming error, and a
/// silently wrong metric is worse than a loud one.
class metrics_registry {
 public:
  /// One series of a counter or gauge family, for replace_series().
  using series_value = std::pair<metric_labels, double>;
  /// One series of a histogram family, for replace_histogram_series().
  struct histogram_value {
    metric_labels labels;
    /// Observations per bucket, not cumulative: one count per bound of the
    /// family, then one for everything above the last bound (their total is
    /// the series' _count).
    std::vector<std::uint64_t> buckets;
    double sum = 0;  ///< sum of the observations
  };

  /// Declares a counter; repeating an identical description is a no-op.
  void describe_counter(std::string_view name, std::string_view help);
  /// Declares a gauge; repeating an identical description is a no-op.
  void describe_gauge(std::string_view name, std::string_view help);
  /// Declares a histogram with strictly increasing finite upper bounds (+Inf is implicit).
  void describe_histogram(std::string_view name, std::string_view help, std::vector<double> bounds);

  /// Adds `by` (>= 0) to a counter series, creating it at 0 first; by = 0 just creates it.
  void increment(std::string_view name, const metric_labels& labels = {}, double by = 1.0);
  /// Sets a gauge series.
  void set(std::string_view name, const metric_labels& labels, double value);
  /// Records one observation in a histogram series.
  void observe(std::string_view name, const metric_labels& labels, double value);
  /// Replaces every series of a counter or gauge family at once, for values
  /// owned elsewhere (bus stats, session snapshots): a scrape never sees the
  /// family half-updated, and series that vanished (an ended subscription) go.
  void replace_series(std::string_view name, const std::vector<series_value>& series);
  /// The same for a histogram family, from bucket counts kept elsewhere (a
  /// session's latency histogram); `buckets` must have one entry more than
  /// the family has bounds.
  void replace_histogram_series(std::string_view name, const std::vector<histogram_value>& series);

  /// Counts a login (`isens_logins_total{result="ok|failed"}`) and its
  /// duration (`isens_login_duration_seconds`); the daemon calls it per login.
  void record_login(bool ok, std::chrono::duration<double> elapsed);

  /// The current value of a counter or gauge series; empty when absent.
  std::optional<double> value(std::string_view name, const metric_labels& labels = {}) const;
  /// The observation count of a histogram series; empty when absent.
  std::optional<std::uint64_t> observation_count(std::string_view name, const metric_labels& labels = {}) const;

  /// Every family in the text exposition format 0.0.4; empty when nothing is described.
  std::string render() const;

 private:
  using label_key = std::vector<std::pair<std::string, std::string>>;  // sorted by name
  struct series {
    double value = 0;                     // counter / gauge
    std::vector<std::uint64_t> buckets;   // histogram: per-bound counts, not cumulative
    double sum = 0;
    std::uint64_t count = 0;
  };
  struct family {
    metric_type type = metric_type::counter;
    std::string help;
    std::vector<double> bounds;
    std::map<label_key, series> children;
  };

  void describe(std::string_view name, std::string_view help, metric_type type, std::vector<double> bounds);
  family& find(std::string_view name, metric_type type);
  const family* find_any(std::string_view name) const;
  static label_key make_key(std::string_view name, const metric_labels& labels, metric_type type);
  /// The type and number of bucket bounds of a described family; throws when it is not described.
  std::pair<metric_type, std::size_t> shape(std::string_view name) const;
  /// Swaps in a family's new series at once; throws when a label set repeats.
  void replace_children(std::string_view name, metric_type type, std::vector<std::pair<label_key, series>> children);

  mutable std::mutex mutex_;
  std::map<std::string, family, std::less<>> families_;
};

}  // namespace isens::subscribers
