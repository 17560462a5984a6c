// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The ratio table shared by the benchmark programs (header-only).
//
// Every benchmark is registered once per side under one naming convention:
//     ours/<op>[/args]   the weakref operation
//     std/<op>[/args]    its std baseline, measured in the same process
//     flat/<op>[/args]   a second baseline where there is one (the containers:
//                        boost::unordered_flat_map<K, std::weak_ptr<V>>, what a performance-minded
//                        user would pick instead of std::unordered_map)
// The reporter forwards every run to the default display reporter (the console one unless
// --benchmark_format says otherwise), keeps each run's time per iteration, and at the end
// prints one row per <op>[/args]:
//     operation | ours ns | std ns | [flat ns] | ours/std | [ours/flat] | target | met?...
// where the ratios are ours / baseline and the times are per operation: the time per iteration
// (CPU time, or real time for benchmarks that use manual or real time), divided by the counter
// `ops_per_iteration` when a benchmark sets it (an iteration that times a batch of operations,
// e.g. with manual time). The flat columns appear when some row has a flat side. The target is
// common.hpp's, keyed by <op>, the first component after the prefix, and is checked against
// each baseline. With repetitions the median is used (Google Benchmark's median aggregate, or
// the median of the repetitions it reported), and each time is followed by its spread,
// ±(standard deviation / mean) of the repetitions.
//
// A row can report a size instead of a time: a benchmark that sets the counter `bytes_per_op`
// (e.g. bytes per live container entry, counted by a memory_resource) has that value taken
// instead of its time; such cells carry the unit " B", and the ratio is ours / baseline bytes.
//
// A derived row is computed from two measured rows of the same program, on every side:
// (minuend - subtrahend) / divisor, e.g. the price of one more callback at a death from the
// deaths with 16 and with 1 callback (run_main's `derived`). It has no spread.
//
// run_main() is the programs' main(): it accepts Google Benchmark's flags plus
//     --ratio_md=<path>            also write the table as Markdown to <path>
//     --ratio_tsv=<path>           also write the medians, one tab-separated row per operation
//     --single_threaded_baseline   do not start the warm-up thread (see below)
// and returns 0 whether or not a target is met: timings never fail a build or CI. It returns 1
// only for unrecognized arguments, when no benchmark matched, or when a benchmark reported an
// error.
//
// Why a warm-up thread: libstdc++ updates shared_ptr/weak_ptr counts with plain (non-atomic)
// instructions while the process has never started a thread (glibc's __libc_single_threaded),
// and switches to atomic instructions for good at the first std::thread. The library's own
// atomics (per-referent spinlock, handle counts) are always atomic. The multi-threaded state is
// the one weak references are used in and the only one that stays consistent once a
// ->Threads(n) benchmark has run, so by default one thread is started and joined before any
// benchmark; --single_threaded_baseline keeps the single-threaded state (until the first
// ->Threads(n) benchmark, which the programs register last).
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common.hpp"

namespace weakref_bench {

// The user counter a benchmark sets when one iteration performs several operations.
inline constexpr const char* ops_per_iteration = "ops_per_iteration";
// The user counter a benchmark sets when its row is a size, not a time (see the header comment).
inline constexpr const char* bytes_per_op = "bytes_per_op";

// A row computed from two measured rows (see the header comment).
struct derived_row {
  std::string name;
  std::string minuend, subtrahend; // full row names, without the side prefix
  double divisor = 1;
};

class ratio_reporter : public benchmark::BenchmarkReporter {
public:
  explicit ratio_reporter(benchmark::BenchmarkReporter* display,
                          std::vector<target> targets = brief_targets(),
                          std::vector<derived_row> derived = {})
      : display_(display), targets_(std::move(targets)), derived_(std::move(derived)) {}

  bool ReportContext(const Context& context) override { return display_->ReportContext(context); }

  void ReportRuns(const std::vector<Run>& runs) override {
    display_->ReportRuns(runs);
    for (const Run& run : runs) collect(run);
  }

  void Finalize() override { display_->Finalize(); }

  bool any_error() const { return any_error_; }

  // The table as plain text (for the console) or as Markdown.
  void print_table(std::ostream& out, bool markdown) const {
    print_grid(out, ratio_head("ns", any_flat_), table(), markdown);
    out << (markdown ? "\n" : "") << footnote() << "\n";
  }

  // One line per row, tab-separated: operation, ours, std, flat (medians; "-" if missing). Read
  // by benchmarks/cpython.py, which compares the same operations run through CPython.
  void print_tsv(std::ostream& out) const {
    for (const std::string& name : order_) {
      const row_data& r = rows_.at(name);
      out << name;
      for (const samples& s : r.side) {
        const std::optional<double> v = value(s);
        out << '\t' << (v ? fixed(*v, 3) : "-");
      }
      out << '\n';
    }
  }

  void set_note(std::string note) { note_ = std::move(note); }

private:
  struct samples {
    std::vector<double> iterations;     // ns per iteration, one per reported repetition
    std::optional<double> median;       // Google Benchmark's median aggregate, if reported
    std::optional<double> mean, stddev; // raw times of the mean and stddev aggregates
    bool error = false;
    bool bytes = false; // the values are bytes_per_op counters, not times
  };
  struct row_data {
    samples side[sides];       // 0: ours, 1: std, 2: flat
    std::int64_t first_family; // registration order, whatever order the runs came in
  };

  void collect(const Run& run) {
    if (run.error_occurred) any_error_ = true;
    // The row key: the name without the time type ("manual_time", "real_time"), the minimum
    // time, the iteration and repetition settings, which every side of a row shares.
    const benchmark::BenchmarkName& n = run.run_name;
    std::string name = n.function_name;
    for (const std::string* part : {&n.args, &n.threads})
      if (!part->empty()) name += "/" + *part;
    std::size_t side = sides;
    for (std::size_t s = 0; s < sides; ++s) {
      const std::string prefix = std::string(side_names[s]) + "/";
      if (name.rfind(prefix, 0) == 0) {
        side = s;
        name.erase(0, prefix.size());
        break;
      }
    }
    if (side == sides) return; // not part of a row
    if (side == 2) any_flat_ = true;
    auto [it, inserted] = rows_.try_emplace(name);
    if (inserted) {
      order_.push_back(name);
      it->second.first_family = run.family_index;
    }
    it->second.first_family = std::min(it->second.first_family, run.family_index);
    repetitions_ = std::max(repetitions_, run.repetitions);
    samples& s = it->second.side[side];
    if (run.error_occurred) {
      s.error = true;
      return;
    }
    // CPU time, unless the benchmark reports its own time (manual time: the batches, timed by
    // thread_cpu_clock) or uses real time (the multi-threaded rows): on a shared machine, the
    // time a process spends descheduled is noise that CPU time leaves out.
    const bool real = !n.time_type.empty();
    const double time = real ? run.GetAdjustedRealTime() : run.GetAdjustedCPUTime();
    double ns = time * 1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit);
    if (const auto ops = run.counters.find(ops_per_iteration);
        ops != run.counters.end() && ops->second.value > 0)
      ns /= ops->second.value;
    if (const auto bytes = run.counters.find(bytes_per_op); bytes != run.counters.end()) {
      ns = bytes->second.value; // a size row: the counter, not the time
      s.bytes = true;
      any_bytes_ = true;
    }
    if (run.run_type == Run::RT_Aggregate) {
      // The spread is stddev / mean of the raw times: a ratio, so no per-operation scaling
      // (the stddev aggregate's counters are standard deviations, not the counters).
      const double raw = time;
      if (run.aggregate_name == "median")
        s.median = ns;
      else if (run.aggregate_name == "mean")
        s.mean = raw;
      else if (run.aggregate_name == "stddev")
        s.stddev = raw;
    } else {
      s.iterations.push_back(ns);
    }
  }

  // The relative spread of the repetitions (coefficient of variation), when there were several.
  static std::optional<double> spread(const samples& s) {
    if (s.error || s.bytes) return std::nullopt;
    if (s.mean && s.stddev && *s.mean > 0) return *s.stddev / *s.mean;
    if (s.iterations.size() < 2) return std::nullopt;
    double mean = 0;
    for (double x : s.iterations) mean += x;
    mean /= static_cast<double>(s.iterations.size());
    double var = 0;
    for (double x : s.iterations) var += (x - mean) * (x - mean);
    var /= static_cast<double>(s.iterations.size() - 1);
    return mean > 0 ? std::sqrt(var) / mean : std::optional<double>();
  }

  static std::optional<double> value(const samples& s) {
    if (s.error) return std::nullopt;
    if (s.median) return s.median;
    if (s.iterations.empty()) return std::nullopt;
    std::vector<double> v = s.iterations;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  static std::string fixed(double x, int digits) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << x;
    return s.str();
  }

  static std::string ns_text(const samples& s, const std::optional<double>& v) {
    if (s.error) return "error";
    if (!v) return "-";
    std::string text = fixed(*v, *v < 100 ? 2 : 1) + (s.bytes ? " B" : "");
    if (const std::optional<double> cv = spread(s))
      text += " ±" + fixed(*cv * 100, *cv < 0.1 ? 1 : 0) + "%";
    return text;
  }

  std::vector<std::string> cells(const std::string& name, const std::string (&text)[sides],
                                 const std::optional<double> (&v)[sides]) const {
    return ratio_cells(name, text, v, find_target(targets_, name), false, any_flat_);
  }

  std::vector<std::vector<std::string>> table() const {
    // Registration order (runs arrive in random order with interleaved repetitions). Not
    // std::stable_sort: libstdc++ 12's calls the deprecated get_temporary_buffer, which clang
    // reports from the system header (llvm/llvm-project#76515).
    std::vector<std::string> order = order_;
    std::sort(order.begin(), order.end(), [this](const std::string& a, const std::string& b) {
      const std::int64_t fa = rows_.at(a).first_family, fb = rows_.at(b).first_family;
      return fa != fb ? fa < fb : a < b;
    });
    std::vector<std::vector<std::string>> rows;
    for (const std::string& name : order) {
      const row_data& r = rows_.at(name);
      std::optional<double> v[sides];
      std::string text[sides];
      for (std::size_t s = 0; s < sides; ++s) {
        v[s] = value(r.side[s]);
        text[s] = ns_text(r.side[s], v[s]);
      }
      rows.push_back(cells(name, text, v));
      // A derived row follows its minuend.
      for (const derived_row& d : derived_) {
        if (d.minuend != name || !rows_.contains(d.subtrahend)) continue;
        const row_data& sub = rows_.at(d.subtrahend);
        std::optional<double> dv[sides];
        std::string dtext[sides];
        for (std::size_t s = 0; s < sides; ++s) {
          const std::optional<double> b = value(sub.side[s]);
          if (v[s] && b) dv[s] = (*v[s] - *b) / d.divisor;
          dtext[s] = dv[s] ? fixed(*dv[s], *dv[s] < 100 ? 2 : 1) : "-";
        }
        rows.push_back(cells(d.name, dtext, dv));
      }
    }
    return rows;
  }

  std::string footnote() const {
    std::string s = "ours/std, ours/flat = ours / that baseline (time per operation: CPU time of "
                    "the benchmark's thread, batches included (thread_cpu_clock); real time for "
                    "the multi-threaded rows; ";
    s += repetitions_ > 1 ? "median of " + std::to_string(repetitions_) + " repetitions"
                          : std::string("single run");
    if (repetitions_ > 1) s += ", ± the spread: stddev / mean of the repetitions";
    s += "); targets: benchmarks/common.hpp (the design brief's, issue 18's where it sets one), "
         "checked against each baseline; timings never fail the run.";
    if (any_flat_)
      s += " flat: boost::unordered_flat_map with the same element type as the std baseline.";
    if (any_bytes_)
      s += " Cells in B are bytes per operation (bytes_per_op counter), not times; their ratio "
           "is ours / baseline bytes.";
    for (const derived_row& d : derived_)
      s += " " + d.name + " = (" + d.minuend + " - " + d.subtrahend + ") / " + fixed(d.divisor, 0) +
           ", on each side (no spread).";
    if (!note_.empty()) s += " " + note_;
    return s;
  }

  benchmark::BenchmarkReporter* display_;
  std::vector<target> targets_;
  std::vector<derived_row> derived_;
  std::map<std::string, row_data> rows_;
  std::vector<std::string> order_;
  std::int64_t repetitions_ = 0;
  bool any_error_ = false;
  bool any_bytes_ = false;
  bool any_flat_ = false;
  std::string note_;
};

// The main() of every benchmark program. `title` heads the Markdown table; `note`, if any, is
// appended to the table's footnote (what the program's rows mean beyond the common rules);
// `derived` lists the rows computed from two measured ones.
inline int run_main(int argc, char** argv, const char* title,
                    std::vector<target> targets = brief_targets(), std::string note = {},
                    std::vector<derived_row> derived = {}) {
  // Our own flags are taken out before Google Benchmark sees the arguments.
  std::string md_path, tsv_path;
  bool single_threaded = false;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.rfind("--ratio_md=", 0) == 0)
      md_path = std::string(arg.substr(std::strlen("--ratio_md=")));
    else if (arg.rfind("--ratio_tsv=", 0) == 0)
      tsv_path = std::string(arg.substr(std::strlen("--ratio_tsv=")));
    else if (arg == "--single_threaded_baseline")
      single_threaded = true;
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  argv[argc] = nullptr;

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  if (!single_threaded) std::thread([] {}).join(); // see the header comment

  ratio_reporter reporter(benchmark::CreateDefaultDisplayReporter(), std::move(targets),
                          std::move(derived));
  std::string process_note =
      single_threaded ? "Process state: single-threaded until the first multi-threaded "
                        "benchmark (libstdc++ counts shared_ptr owners non-atomically)."
                      : "Process state: multi-threaded (libstdc++ counts shared_ptr owners "
                        "atomically, as in any program that has started a thread).";
  if (!note.empty()) process_note += " " + note;
  reporter.set_note(std::move(process_note));
  const std::size_t matched = benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (matched == 0) {
    std::fprintf(stderr, "%s: no benchmark matched\n", title);
    return 1;
  }

  std::ostream& out = reporter.GetOutputStream();
  out << "\n" << title << ": ours vs the baselines\n";
  reporter.print_table(out, false);
  out.flush();
  if (!md_path.empty()) {
    std::ofstream md(md_path);
    md << "### " << title << " (" << standard_library() << ", Google Benchmark)\n\n";
    reporter.print_table(md, true);
    if (!md) {
      std::fprintf(stderr, "%s: cannot write %s\n", title, md_path.c_str());
      return 1;
    }
  }
  if (!tsv_path.empty()) {
    std::ofstream tsv(tsv_path);
    reporter.print_tsv(tsv);
    if (!tsv) {
      std::fprintf(stderr, "%s: cannot write %s\n", title, tsv_path.c_str());
      return 1;
    }
  }
  // A missed target is reported, never an error; a benchmark that failed is.
  return reporter.any_error() ? 1 : 0;
}

} // namespace weakref_bench
