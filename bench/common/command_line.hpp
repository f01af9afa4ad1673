#pragma once
// The command line of a benchmark, read with CLI11 the same way in every
// bench: a full run by default, `--quick` for a smoke run, counts to change
// either. --help prints the usage and exits 0; a bad argument is one line on
// stderr and exits 2 before anything starts (so no JSON line: nothing ran).

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <system_error>

namespace isens::bench {

/// Builds the options of one benchmark (`Options`: a struct whose default
/// values are the full run) from its command line.
template <class Options>
class command_line {
 public:
  /// `quick_run` is what --quick sets, `quick_about` says what it runs.
  command_line(const std::string& bench_name, const std::string& about, const Options& quick_run,
               const std::string& quick_about)
      : app_(about, bench_name) {
    app_.footer("Exit code: 0 when every measurement succeeded, 1 when one failed (the JSON line says which), 2 on "
                "a bad argument.");
    // Defined before every other option: CLI11 applies options in the order
    // they are defined, so what the command line gives wins over --quick.
    flag("--quick", [quick_run](Options& o) { o = quick_run; }, "Smoke run, " + quick_about);
  }

  /// `--name N`, a count (rounds, drops, sessions, threads): a whole number
  /// above 0 (or 0 too, where 0 means "skip", with `zero_allowed`), its
  /// default shown by --help.
  template <class Count>
  void count(const std::string& name, Count Options::*field, const std::string& about, bool zero_allowed = false) {
    // Own check rather than CLI::PositiveNumber, whose message prints DBL_MAX.
    const CLI::Validator whole_number_above_zero(
        [zero_allowed](std::string& input) -> std::string {
          Count value{};
          const char* end = input.data() + input.size();
          const auto [stop, error] = std::from_chars(input.data(), end, value);
          if (error == std::errc{} && stop == end && (value > 0 || zero_allowed)) return {};
          return std::string(zero_allowed ? "needs a whole number" : "needs a whole number above 0") + ", not '" +
                 input + "'";
        },
        "");
    app_.add_option(name, options_.*field, about)
        ->type_name("N")
        ->capture_default_str()
        ->check(whole_number_above_zero);
  }

  /// `--name` without a value, which applies `set` to the options.
  void flag(const std::string& name, std::function<void(Options&)> set, const std::string& about) {
    app_.add_flag_callback(name, [this, set = std::move(set)] { set(options_); }, about);
  }

  /// The options the command line asks for; returns only when it is valid.
  Options parse_or_exit(int argc, char** argv) {
    try {
      app_.parse(argc, argv);
    } catch (const CLI::CallForHelp& help) {
      std::exit(app_.exit(help));
    } catch (const CLI::ParseError& error) {
      std::fprintf(stderr, "%s: %s (see --help)\n", app_.get_name().c_str(), error.what());
      std::exit(2);
    }
    return options_;
  }

 private:
  Options options_;  // the full run until the command line says otherwise
  CLI::App app_;
};

}  // namespace isens::bench
