#include "isens/subscribers/metrics_registry.hpp"

#include "exposition_parser.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace isens::subscribers;
using isens::test::exposition_error;
using isens::test::parse_exposition;

TEST_CASE("an unlabelled counter renders as HELP, TYPE and one sample", "[metrics]") {
  metrics_registry r;
  CHECK(r.render().empty());
  r.describe_counter("isens_reconnects_total", "Sessions logged in again.");
  r.increment("isens_reconnects_total");
  r.increment("isens_reconnects_total", {}, 2);
  CHECK(r.render() ==
        "# HELP isens_reconnects_total Sessions logged in again.\n"
        "# TYPE isens_reconnects_total counter\n"
        "isens_reconnects_total 3\n");
  CHECK(r.value("isens_reconnects_total") == 3);
}

TEST_CASE("a labelled counter keeps one series per label set, sorted", "[metrics]") {
  metrics_registry r;
  r.describe_counter("isens_events_total", "Events by kind.");
  r.increment("isens_events_total", {{"kind", "logon"}, {"bus", "main"}});
  r.increment("isens_events_total", {{"kind", "connection_made"}, {"bus", "main"}});
  // The same set given in another order is the same series.
  r.increment("isens_events_total", {{"bus", "main"}, {"kind", "logon"}});
  r.increment("isens_events_total", {{"kind", "logoff"}, {"bus", "main"}}, 0);
  CHECK(r.render() ==
        "# HELP isens_events_total Events by kind.\n"
        "# TYPE isens_events_total counter\n"
        "isens_events_total{bus=\"main\",kind=\"connection_made\"} 1\n"
        "isens_events_total{bus=\"main\",kind=\"logoff\"} 0\n"
        "isens_events_total{bus=\"main\",kind=\"logon\"} 2\n");
  CHECK(r.value("isens_events_total", {{"kind", "logon"}, {"bus", "main"}}) == 2);
  CHECK_FALSE(r.value("isens_events_total", {{"kind", "logon"}}));
}

TEST_CASE("a gauge goes up and down and takes fractions", "[metrics]") {
  metrics_registry r;
  r.describe_gauge("isens_connections", "Connections.");
  r.set("isens_connections", {}, 4);
  r.set("isens_connections", {}, -1.5);
  CHECK(r.render() ==
        "# HELP isens_connections Connections.\n"
        "# TYPE isens_connections gauge\n"
        "isens_connections -1.5\n");
  r.set("isens_connections", {}, 0.1);
  CHECK(r.render().ends_with("isens_connections 0.1\n"));
  r.set("isens_connections", {}, std::numeric_limits<double>::infinity());
  CHECK(r.render().ends_with("isens_connections +Inf\n"));
  r.set("isens_connections", {}, std::numeric_limits<double>::quiet_NaN());
  CHECK(r.render().ends_with("isens_connections NaN\n"));
  CHECK(std::isnan(parse_exposition(r.render()).value("isens_connections")));
}

TEST_CASE("a histogram renders cumulative buckets, +Inf, _sum and _count", "[metrics]") {
  metrics_registry r;
  r.describe_histogram("isens_login_duration_seconds", "Login time.", {0.5, 1, 2.5});
  for (double v : {0.25, 0.5, 0.75, 3.0}) r.observe("isens_login_duration_seconds", {}, v);
  r.observe("isens_login_duration_seconds", {{"target", "t1"}}, 1);
  CHECK(r.render() ==
        "# HELP isens_login_duration_seconds Login time.\n"
        "# TYPE isens_login_duration_seconds histogram\n"
        "isens_login_duration_seconds_bucket{le=\"0.5\"} 2\n"
        "isens_login_duration_seconds_bucket{le=\"1\"} 3\n"
        "isens_login_duration_seconds_bucket{le=\"2.5\"} 3\n"
        "isens_login_duration_seconds_bucket{le=\"+Inf\"} 4\n"
        "isens_login_duration_seconds_sum 4.5\n"
        "isens_login_duration_seconds_count 4\n"
        "isens_login_duration_seconds_bucket{target=\"t1\",le=\"0.5\"} 0\n"
        "isens_login_duration_seconds_bucket{target=\"t1\",le=\"1\"} 1\n"
        "isens_login_duration_seconds_bucket{target=\"t1\",le=\"2.5\"} 1\n"
        "isens_login_duration_seconds_bucket{target=\"t1\",le=\"+Inf\"} 1\n"
        "isens_login_duration_seconds_sum{target=\"t1\"} 1\n"
        "isens_login_duration_seconds_count{target=\"t1\"} 1\n");
  CHECK(r.observation_count("isens_login_duration_seconds") == 4u);
}

TEST_CASE("families render in name order and the whole exposition parses", "[metrics]") {
  metrics_registry r;
  r.describe_histogram("isens_b_seconds", "B.", {1});
  r.describe_gauge("isens_c", "C.");
  r.describe_counter("isens_a_total", "A.");
  r.increment("isens_a_total", {{"x", "1"}});
  r.set("isens_c", {}, 2);
  r.observe("isens_b_seconds", {}, 0.5);
  CHECK(r.render() ==
        "# HELP isens_a_total A.\n# TYPE isens_a_total counter\nisens_a_total{x=\"1\"} 1\n"
        "# HELP isens_b_seconds B.\n# TYPE isens_b_seconds histogram\n"
        "isens_b_seconds_bucket{le=\"1\"} 1\nisens_b_seconds_bucket{le=\"+Inf\"} 1\n"
        "isens_b_seconds_sum 0.5\nisens_b_seconds_count 1\n"
        "# HELP isens_c C.\n# TYPE isens_c gauge\nisens_c 2\n");
  const auto x = parse_exposition(r.render());
  CHECK(x.types.at("isens_b_seconds") == "histogram");
  CHECK(x.value("isens_b_seconds_bucket", {{"le", "+Inf"}}) == 1);
  CHECK(x.samples.size() == 6);
}

TEST_CASE("label values and help text are escaped", "[metrics]") {
  metrics_registry r;
  r.describe_counter("isens_odd_total", "Help with \\ and\nnewline, \"quotes\" stay.");
  const std::string nasty = "a\"b\\c\nd";
  r.increment("isens_odd_total", {{"v", nasty}});
  CHECK(r.render() ==
        "# HELP isens_odd_total Help with \\\\ and\\nnewline, \"quotes\" stay.\n"
        "# TYPE isens_odd_total counter\n"
        "isens_odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
  const auto x = parse_exposition(r.render());
  CHECK(x.value("isens_odd_total", {{"v", nasty}}) == 1);
  CHECK(x.help.at("isens_odd_total") == "Help with \\ and\nnewline, \"quotes\" stay.");
}

TEST_CASE("record_login counts results and observes the duration", "[metrics]") {
  metrics_registry r;
  r.record_login(true, std::chrono::milliseconds(30));
  r.record_login(true, std::chrono::milliseconds(700));
  r.record_login(false, std::chrono::seconds(20));
  const auto x = parse_exposition(r.render());
  CHECK(x.value("isens_logins_total", {{"result", "ok"}}) == 2);
  CHECK(x.value("isens_logins_total", {{"result", "failed"}}) == 1);
  CHECK(x.value("isens_login_duration_seconds_bucket", {{"le", "0.05"}}) == 1);
  CHECK(x.value("isens_login_duration_seconds_bucket", {{"le", "1"}}) == 2);
  CHECK(x.value("isens_login_duration_seconds_bucket", {{"le", "10"}}) == 2);
  CHECK(x.value("isens_login_duration_seconds_bucket", {{"le", "+Inf"}}) == 3);
  CHECK(x.value("isens_login_duration_seconds_count") == 3);
  CHECK(x.value("isens_login_duration_seconds_sum") == Approx(20.73));
  CHECK(x.types.at("isens_logins_total") == "counter");
}

TEST_CASE("replace_series swaps a whole family and drops vanished series", "[metrics]") {
  metrics_registry r;
  r.describe_gauge("isens_q", "Q.");
  r.replace_series("isens_q", {{{{"s", "a"}}, 1}, {{{"s", "b"}}, 2}});
  r.replace_series("isens_q", {{{{"s", "b"}}, 5}});
  CHECK(r.render() == "# HELP isens_q Q.\n# TYPE isens_q gauge\nisens_q{s=\"b\"} 5\n");
  CHECK_THROWS_AS(r.replace_series("isens_q", {{{{"s", "b"}}, 1}, {{{"s", "b"}}, 2}}), std::invalid_argument);
  r.describe_counter("isens_c_total", "C.");
  CHECK_THROWS_AS(r.replace_series("isens_c_total", {{{}, -1}}), std::invalid_argument);
}

TEST_CASE("replace_histogram_series swaps a histogram family from per-bucket counts", "[metrics]") {
  metrics_registry r;
  r.describe_histogram("isens_lat_seconds", "Latency.", {0.001, 0.01});
  // Per bucket, not cumulative; the last count is above the last bound.
  r.replace_histogram_series("isens_lat_seconds", {{{{"s", "a"}}, {1, 2, 3}, 4.5}, {{{"s", "b"}}, {0, 0, 0}, 0}});
  CHECK(r.render() ==
        "# HELP isens_lat_seconds Latency.\n"
        "# TYPE isens_lat_seconds histogram\n"
        "isens_lat_seconds_bucket{s=\"a\",le=\"0.001\"} 1\n"
        "isens_lat_seconds_bucket{s=\"a\",le=\"0.01\"} 3\n"
        "isens_lat_seconds_bucket{s=\"a\",le=\"+Inf\"} 6\n"
        "isens_lat_seconds_sum{s=\"a\"} 4.5\n"
        "isens_lat_seconds_count{s=\"a\"} 6\n"
        "isens_lat_seconds_bucket{s=\"b\",le=\"0.001\"} 0\n"
        "isens_lat_seconds_bucket{s=\"b\",le=\"0.01\"} 0\n"
        "isens_lat_seconds_bucket{s=\"b\",le=\"+Inf\"} 0\n"
        "isens_lat_seconds_sum{s=\"b\"} 0\n"
        "isens_lat_seconds_count{s=\"b\"} 0\n");
  CHECK(r.observation_count("isens_lat_seconds", {{"s", "a"}}) == 6u);
  CHECK_NOTHROW(parse_exposition(r.render()));

  // The next replacement drops the vanished series and replaces, not adds.
  r.replace_histogram_series("isens_lat_seconds", {{{{"s", "b"}}, {0, 1, 0}, 0.005}});
  auto x = parse_exposition(r.render());
  CHECK_FALSE(x.has("isens_lat_seconds_count", {{"s", "a"}}));
  CHECK(x.value("isens_lat_seconds_bucket", {{"s", "b"}, {"le", "0.01"}}) == 1);
  CHECK(x.value("isens_lat_seconds_count", {{"s", "b"}}) == 1);
  // Observations still add to a replaced series.
  r.observe("isens_lat_seconds", {{"s", "b"}}, 0.0005);
  x = parse_exposition(r.render());
  CHECK(x.value("isens_lat_seconds_bucket", {{"s", "b"}, {"le", "0.001"}}) == 1);
  CHECK(x.value("isens_lat_seconds_count", {{"s", "b"}}) == 2);

  // Misuse leaves the family as it was.
  CHECK_THROWS_WITH(r.replace_histogram_series("isens_lat_seconds", {{{}, {1, 2}, 0}}),
                    Catch::Contains("3 bucket counts expected, 2 given"));
  CHECK_THROWS_WITH(r.replace_histogram_series("isens_lat_seconds", {{{{"s", "c"}}, {0, 0, 0}, 0}, {{{"s", "c"}}, {0, 0, 0}, 0}}),
                    Catch::Contains("same label set"));
  CHECK_THROWS_AS(r.replace_histogram_series("isens_lat_seconds", {{{{"le", "1"}}, {0, 0, 0}, 0}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(r.replace_histogram_series("isens_lat_seconds",
                                             {{{}, {0, 0, 0}, std::numeric_limits<double>::quiet_NaN()}}),
                  std::invalid_argument);
  CHECK_THROWS_WITH(r.replace_series("isens_lat_seconds", {}), Catch::Contains("counters and gauges only"));
  r.describe_gauge("isens_g", "G.");
  CHECK_THROWS_WITH(r.replace_histogram_series("isens_g", {}), Catch::Contains("histograms only"));
  CHECK_THROWS_WITH(r.replace_histogram_series("isens_nope_seconds", {}), Catch::Contains("not described"));
  CHECK(r.observation_count("isens_lat_seconds", {{"s", "b"}}) == 2u);
  CHECK_FALSE(r.observation_count("isens_lat_seconds", {{"s", "c"}}));
}

TEST_CASE("misuse is refused with a message naming the metric", "[metrics]") {
  metrics_registry r;
  CHECK_THROWS_WITH(r.describe_counter("events_total", "x"), Catch::Contains("\"events_total\""));
  CHECK_THROWS_AS(r.describe_counter("isens_bad-name", "x"), std::invalid_argument);
  CHECK_THROWS_AS(r.describe_histogram("isens_h", "x", {1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(r.describe_histogram("isens_h", "x", {1, std::numeric_limits<double>::infinity()}),
                  std::invalid_argument);
  r.describe_counter("isens_c_total", "C.");
  CHECK_NOTHROW(r.describe_counter("isens_c_total", "C."));
  CHECK_THROWS_AS(r.describe_counter("isens_c_total", "other help"), std::invalid_argument);
  CHECK_THROWS_AS(r.describe_gauge("isens_c_total", "C."), std::invalid_argument);
  CHECK_THROWS_WITH(r.increment("isens_c_total", {}, -1), Catch::Contains("cannot go down"));
  CHECK_THROWS_WITH(r.set("isens_c_total", {}, 1), Catch::Contains("is a counter, not a gauge"));
  CHECK_THROWS_WITH(r.increment("isens_nope_total"), Catch::Contains("not described"));
  CHECK_THROWS_AS(r.increment("isens_c_total", {{"__name", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.increment("isens_c_total", {{"1x", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.increment("isens_c_total", {{"a", "1"}, {"a", "2"}}), std::invalid_argument);
  r.describe_histogram("isens_h", "H.", {1});
  CHECK_THROWS_WITH(r.observe("isens_h", {{"le", "1"}}, 1), Catch::Contains("reserved"));
  CHECK_THROWS_AS(r.observe("isens_h", {}, std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  // A histogram's samples would collide with these names.
  CHECK_THROWS_WITH(r.describe_counter("isens_h_count", "x"), Catch::Contains("clashes"));
  r.describe_gauge("isens_x_sum", "X.");
  CHECK_THROWS_WITH(r.describe_histogram("isens_x", "x", {1}), Catch::Contains("clashes"));
  // Nothing half-made is left behind by the failures.
  CHECK_NOTHROW(parse_exposition(r.render()));
}

TEST_CASE("the registry counts exactly under concurrent use and renders meanwhile", "[metrics]") {
  metrics_registry r;
  r.describe_counter("isens_hits_total", "Hits.");
  r.describe_histogram("isens_lat_seconds", "Latency.", default_duration_buckets());
  constexpr int threads = 4;
  constexpr int per_thread = 2000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&r, t] {
      for (int i = 0; i < per_thread; ++i) {
        r.increment("isens_hits_total", {{"worker", std::to_string(t % 2)}});
        r.observe("isens_lat_seconds", {}, 0.001 * i);
      }
    });
  }
  // Whole families replaced meanwhile, as a scrape's snapshot does.
  r.describe_gauge("isens_depth", "Depth.");
  r.describe_histogram("isens_copied_seconds", "Copied.", {1});
  workers.emplace_back([&r] {
    for (std::uint64_t i = 0; i < per_thread; ++i) {
      r.replace_series("isens_depth", {{{{"q", "a"}}, static_cast<double>(i)}});
      r.replace_histogram_series("isens_copied_seconds", {{{{"q", "a"}}, {i, i}, 1.5 * static_cast<double>(i)}});
    }
  });
  for (int i = 0; i < 50; ++i) CHECK_NOTHROW(parse_exposition(r.render()));
  for (auto& w : workers) w.join();
  const auto x = parse_exposition(r.render());
  CHECK(x.value("isens_hits_total", {{"worker", "0"}}) == 2 * per_thread);
  CHECK(x.value("isens_hits_total", {{"worker", "1"}}) == 2 * per_thread);
  CHECK(x.value("isens_lat_seconds_count") == threads * per_thread);
  CHECK(x.value("isens_depth", {{"q", "a"}}) == per_thread - 1);
  CHECK(x.value("isens_copied_seconds_count", {{"q", "a"}}) == 2 * (per_thread - 1));
}

TEST_CASE("the test's exposition parser rejects malformed text", "[metrics][parser]") {
  // If the parser accepted anything, the "it parses" checks above would prove nothing.
  CHECK_NOTHROW(parse_exposition("# TYPE isens_a counter\nisens_a{x=\"1\",} 1 1700000000000\n"));
  CHECK_THROWS_AS(parse_exposition("isens_a 1"), exposition_error);  // no final newline
  CHECK_THROWS_AS(parse_exposition("isens_a{x=\"a\\tb\"} 1\n"), exposition_error);
  CHECK_THROWS_AS(parse_exposition("isens_a{x=\"a} 1\n"), exposition_error);
  CHECK_THROWS_AS(parse_exposition("isens_a{x=1} 1\n"), exposition_error);
  CHECK_THROWS_AS(parse_exposition("isens_a one\n"), exposition_error);
  CHECK_THROWS_AS(parse_exposition("isens-a 1\n"), exposition_error);
  CHECK_THROWS_AS(parse_exposition("isens_a 1\nisens_b 1\nisens_a{x=\"1\"} 2\n"), exposition_error);
  CHECK_THROWS_AS(parse_exposition("isens_a 1\nisens_a 2\n"), exposition_error);
  CHECK_THROWS_AS(parse_exposition("isens_a 1\n# TYPE isens_a counter\n"), exposition_error);
  CHECK_THROWS_AS(parse_exposition("# TYPE isens_a counter\nisens_a -1\n"), exposition_error);
  CHECK_THROWS_AS(parse_exposition("# TYPE isens_a counter\n# TYPE isens_a gauge\n"), exposition_error);
  CHECK_THROWS_AS(parse_exposition("# HELP isens_a a\\tb\n"), exposition_error);
  const std::string head = "# TYPE isens_h histogram\n";
  CHECK_NOTHROW(parse_exposition(head + "isens_h_bucket{le=\"1\"} 1\nisens_h_bucket{le=\"+Inf\"} 2\n"
                                        "isens_h_sum 3\nisens_h_count 2\n"));
  CHECK_THROWS_AS(parse_exposition(head + "isens_h_bucket{le=\"1\"} 1\nisens_h_sum 3\nisens_h_count 1\n"),
                  exposition_error);  // no +Inf
  CHECK_THROWS_AS(parse_exposition(head + "isens_h_bucket{le=\"1\"} 2\nisens_h_bucket{le=\"+Inf\"} 1\n"
                                          "isens_h_sum 3\nisens_h_count 1\n"),
                  exposition_error);  // not cumulative
  CHECK_THROWS_AS(parse_exposition(head + "isens_h_bucket{le=\"+Inf\"} 2\nisens_h_sum 3\nisens_h_count 1\n"),
                  exposition_error);  // count differs
  CHECK_THROWS_AS(parse_exposition(head + "isens_h_bucket{le=\"+Inf\"} 1\nisens_h_count 1\n"),
                  exposition_error);  // no sum
}
