// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// weak_ref benchmarks: each operation (ours/<op>) against its std baseline (std/<op>), measured
// in the same process; ratio_reporter.hpp prints ours / baseline against the brief's targets.
//
//   ref_create_destroy           weak_ref(obj) + ~weak_ref  vs  weak_ptr copy + ~weak_ptr
//   ref_create_destroy_callback  the same with a callback   vs  weak_ptr copy + std::function
//   lock_live                    weak_ref::lock(), alive    vs  weak_ptr::lock()
//   lock_dead                    weak_ref::lock(), dead     vs  weak_ptr::lock() on expired
//   lock_contended (2 threads)   each thread its own weak_ref to one referent, lock() in a loop
//                                vs each thread its own weak_ptr
//   lock_dead_contended          the same on a dead referent
//   factory_create_destroy       weakref::make_shared + destroy  vs  std::make_shared + destroy
//   death_callbacks/k:K          releasing the last owner of an object with K callback refs
//                                vs make_shared destroy + invoking K std::function<void()>
//   callback_at_death            derived: (death_callbacks/k:16 - death_callbacks/k:1) / 15,
//                                the price of one more callback at a death (ours) vs one more
//                                std::function call (issue 18's target: at most 2 x)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "ratio_reporter.hpp"

import weakref;

namespace {

using payload = int;

// ---------------------------------------------------------------- create + destroy, no callback

void ours_ref_create_destroy(benchmark::State& state) {
  const std::shared_ptr<payload> obj = weakref::make_shared<payload>(1);
  for (auto _ : state) {
    weakref::weak_ref<payload> r(obj);
    benchmark::DoNotOptimize(r);
  }
}

void std_ref_create_destroy(benchmark::State& state) {
  const std::shared_ptr<payload> obj = std::make_shared<payload>(1);
  const std::weak_ptr<payload> w(obj);
  for (auto _ : state) {
    std::weak_ptr<payload> copy(w);
    benchmark::DoNotOptimize(copy);
  }
}

// -------------------------------------------------------------- create + destroy, with callback

void ours_ref_create_destroy_callback(benchmark::State& state) {
  const std::shared_ptr<payload> obj = weakref::make_shared<payload>(1);
  std::int64_t calls = 0;
  for (auto _ : state) {
    weakref::weak_ref<payload> r(obj, [&calls](weakref::weak_ref<payload>) { ++calls; });
    benchmark::DoNotOptimize(r);
  }
  benchmark::DoNotOptimize(calls);
}

// What a user would store without the library: a weak_ptr and a std::function next to it.
void std_ref_create_destroy_callback(benchmark::State& state) {
  const std::shared_ptr<payload> obj = std::make_shared<payload>(1);
  const std::weak_ptr<payload> w(obj);
  std::int64_t calls = 0;
  for (auto _ : state) {
    std::weak_ptr<payload> copy(w);
    std::function<void()> callback([&calls] { ++calls; });
    benchmark::DoNotOptimize(copy);
    benchmark::DoNotOptimize(callback);
  }
  benchmark::DoNotOptimize(calls);
}

// ------------------------------------------------------------------------------- lock(), alive

void ours_lock_live(benchmark::State& state) {
  const std::shared_ptr<payload> obj = weakref::make_shared<payload>(1);
  const weakref::weak_ref<payload> r(obj);
  for (auto _ : state) {
    std::shared_ptr<payload> p = r.lock();
    benchmark::DoNotOptimize(p);
  }
}

void std_lock_live(benchmark::State& state) {
  const std::shared_ptr<payload> obj = std::make_shared<payload>(1);
  const std::weak_ptr<payload> w(obj);
  for (auto _ : state) {
    std::shared_ptr<payload> p = w.lock();
    benchmark::DoNotOptimize(p);
  }
}

// -------------------------------------------------------------------------------- lock(), dead

void ours_lock_dead(benchmark::State& state) {
  std::shared_ptr<payload> obj = weakref::make_shared<payload>(1);
  const weakref::weak_ref<payload> r(obj);
  obj.reset();
  for (auto _ : state) {
    std::shared_ptr<payload> p = r.lock();
    benchmark::DoNotOptimize(p);
  }
  if (r.lock()) state.SkipWithError("the referent should be dead");
}

void std_lock_dead(benchmark::State& state) {
  std::shared_ptr<payload> obj = std::make_shared<payload>(1);
  const std::weak_ptr<payload> w(obj);
  obj.reset();
  for (auto _ : state) {
    std::shared_ptr<payload> p = w.lock();
    benchmark::DoNotOptimize(p);
  }
  if (w.lock()) state.SkipWithError("the referent should be dead");
}

// ---------------------------------------------------------------- lock(), 2 threads, 1 referent

// The referent is shared by the benchmark's threads (a function-local static: initialized once,
// thread-safely, and alive for the whole program); each thread holds its own reference to it, so
// the threads contend on the referent's counts only.
void ours_lock_contended(benchmark::State& state) {
  static const std::shared_ptr<payload> obj = weakref::make_shared<payload>(1);
  const weakref::weak_ref<payload> r(obj);
  for (auto _ : state) {
    std::shared_ptr<payload> p = r.lock();
    benchmark::DoNotOptimize(p);
  }
}

void std_lock_contended(benchmark::State& state) {
  static const std::shared_ptr<payload> obj = std::make_shared<payload>(1);
  const std::weak_ptr<payload> w(obj);
  for (auto _ : state) {
    std::shared_ptr<payload> p = w.lock();
    benchmark::DoNotOptimize(p);
  }
}

// ------------------------------------------------------------ lock(), 2 threads, dead referent

// As above, on a referent that died before the threads started: each thread's lock() fails.
void ours_lock_dead_contended(benchmark::State& state) {
  static const weakref::weak_ref<payload> shared = [] {
    std::shared_ptr<payload> obj = weakref::make_shared<payload>(1);
    weakref::weak_ref<payload> r(obj);
    return r; // obj dies here
  }();
  const weakref::weak_ref<payload> r = shared; // a handle of this thread's own
  for (auto _ : state) {
    std::shared_ptr<payload> p = r.lock();
    benchmark::DoNotOptimize(p);
  }
  if (r.lock()) state.SkipWithError("the referent should be dead");
}

void std_lock_dead_contended(benchmark::State& state) {
  static const std::weak_ptr<payload> shared = [] {
    std::shared_ptr<payload> obj = std::make_shared<payload>(1);
    return std::weak_ptr<payload>(obj);
  }();
  const std::weak_ptr<payload> w = shared;
  for (auto _ : state) {
    std::shared_ptr<payload> p = w.lock();
    benchmark::DoNotOptimize(p);
  }
  if (w.lock()) state.SkipWithError("the referent should be dead");
}

// ------------------------------------------------------------------- factory create + destroy

void ours_factory_create_destroy(benchmark::State& state) {
  for (auto _ : state) {
    std::shared_ptr<payload> p = weakref::make_shared<payload>(1);
    benchmark::DoNotOptimize(p);
  }
}

void std_factory_create_destroy(benchmark::State& state) {
  for (auto _ : state) {
    std::shared_ptr<payload> p = std::make_shared<payload>(1);
    benchmark::DoNotOptimize(p);
  }
}

// ---------------------------------------------------------------------- death with k callbacks

// Only the death is timed (manual time): each iteration builds, untimed, a batch of objects
// each with k callback references (or k std::functions), then releases the last owner of each
// under the clock. An iteration is a batch; the ops_per_iteration counter makes the ratio table
// report the time per death.
using bench_clock = weakref_bench::thread_cpu_clock; // CPU time of this thread
// 64 objects: with k = 16 the nodes of a batch still fit in a core's L2 cache, as the baseline's
// std::functions do.
constexpr std::size_t death_batch = 64;

// The thread CPU clock is read with a system call: its cost (the median of back-to-back reads)
// is taken out of every batch, so that it does not dilute the ratio.
double clock_overhead_seconds() {
  static const double overhead = [] {
    std::vector<double> reads(101);
    for (double& r : reads) {
      const auto t0 = bench_clock::now();
      const auto t1 = bench_clock::now();
      r = std::chrono::duration<double>(t1 - t0).count();
    }
    std::nth_element(reads.begin(), reads.begin() + 50, reads.end());
    return reads[50];
  }();
  return overhead;
}

void report_death_time(benchmark::State& state, bench_clock::time_point t0,
                       bench_clock::time_point t1) {
  const double batch = std::chrono::duration<double>(t1 - t0).count() - clock_overhead_seconds();
  state.SetIterationTime(batch > 0 ? batch : 0);
}

void count_deaths(benchmark::State& state) {
  state.counters[weakref_bench::ops_per_iteration] = static_cast<double>(death_batch);
}

// Ours: releasing the last owner clears the k references, runs the k callbacks (newest first,
// each given its ref) and destroys the object; the chunk is freed later, with the last ref.
void ours_death_callbacks(benchmark::State& state) {
  const auto k = static_cast<std::size_t>(state.range(0));
  std::int64_t calls = 0;
  std::vector<std::shared_ptr<payload>> objects(death_batch);
  std::vector<weakref::weak_ref<payload>> refs;
  refs.reserve(death_batch * k);
  for (auto _ : state) {
    for (auto& obj : objects) {
      obj = weakref::make_shared<payload>(1);
      for (std::size_t i = 0; i < k; ++i)
        refs.emplace_back(obj, [&calls](weakref::weak_ref<payload>) { ++calls; });
    }
    const auto t0 = bench_clock::now();
    for (auto& obj : objects) obj.reset();
    benchmark::ClobberMemory();
    const auto t1 = bench_clock::now();
    refs.clear();
    report_death_time(state, t0, t1);
  }
  benchmark::DoNotOptimize(calls);
  count_deaths(state);
  if (calls != static_cast<std::int64_t>(state.iterations() * death_batch * k))
    state.SkipWithError("not every callback ran");
}

// Baseline: std::make_shared's destroy (object and memory, no weak_ptr outstanding) and the
// invocation of k std::function<void()> per object.
void std_death_callbacks(benchmark::State& state) {
  const auto k = static_cast<std::size_t>(state.range(0));
  std::int64_t calls = 0;
  std::vector<std::shared_ptr<payload>> objects(death_batch);
  std::vector<std::function<void()>> callbacks;
  callbacks.reserve(death_batch * k);
  for (auto _ : state) {
    for (auto& obj : objects) {
      obj = std::make_shared<payload>(1);
      for (std::size_t i = 0; i < k; ++i) callbacks.emplace_back([&calls] { ++calls; });
    }
    const auto t0 = bench_clock::now();
    for (std::size_t o = 0; o < death_batch; ++o) {
      objects[o].reset();
      for (std::size_t i = 0; i < k; ++i) callbacks[o * k + i]();
    }
    benchmark::ClobberMemory();
    const auto t1 = bench_clock::now();
    callbacks.clear();
    report_death_time(state, t0, t1);
  }
  benchmark::DoNotOptimize(calls);
  count_deaths(state);
  if (calls != static_cast<std::int64_t>(state.iterations() * death_batch * k))
    state.SkipWithError("not every callback ran");
}

// ---------------------------------------------------------------------------------- finalize
// Issue 16's target: a finalizer within 1.5x of the baselines of a weak_ref with a callback.

// Create one and run it early (the cleanup done before the death), then drop the handle.
void ours_finalize_create_call(benchmark::State& state) {
  const std::shared_ptr<payload> obj = weakref::make_shared<payload>(1);
  std::int64_t calls = 0;
  for (auto _ : state) {
    weakref::finalize f(obj, [&calls](int by) { calls += by; }, 1);
    benchmark::DoNotOptimize(f());
  }
  benchmark::DoNotOptimize(calls);
}

// Baseline: a weak_ptr copy and a std::function, called once.
void std_finalize_create_call(benchmark::State& state) {
  const std::shared_ptr<payload> obj = std::make_shared<payload>(1);
  const std::weak_ptr<payload> w(obj);
  std::int64_t calls = 0;
  for (auto _ : state) {
    std::weak_ptr<payload> copy(w);
    std::function<void()> callback([&calls] { calls += 1; });
    callback();
    benchmark::DoNotOptimize(copy);
  }
  benchmark::DoNotOptimize(calls);
}

// A death that runs one finalizer (no handle kept), timed as death_callbacks is.
void ours_death_finalize(benchmark::State& state) {
  std::int64_t calls = 0;
  std::vector<std::shared_ptr<payload>> objects(death_batch);
  for (auto _ : state) {
    for (auto& obj : objects) {
      obj = weakref::make_shared<payload>(1);
      weakref::finalize(obj, [&calls](int by) { calls += by; }, 1);
    }
    const auto t0 = bench_clock::now();
    for (auto& obj : objects) obj.reset();
    benchmark::ClobberMemory();
    const auto t1 = bench_clock::now();
    report_death_time(state, t0, t1);
  }
  benchmark::DoNotOptimize(calls);
  count_deaths(state);
  if (calls != static_cast<std::int64_t>(state.iterations() * death_batch))
    state.SkipWithError("not every finalizer ran");
}

// Baseline: std_death_callbacks with k = 1.
void std_death_finalize(benchmark::State& state) {
  state.SetLabel("k=1 of death_callbacks");
  std_death_callbacks(state);
}

// Registration order is run order: ours and std alternate per operation, and the
// multi-threaded benchmarks come last (see --single_threaded_baseline in ratio_reporter.hpp).
void register_benchmarks() {
  using benchmark::RegisterBenchmark;
  RegisterBenchmark("ours/ref_create_destroy", ours_ref_create_destroy);
  RegisterBenchmark("std/ref_create_destroy", std_ref_create_destroy);
  RegisterBenchmark("ours/ref_create_destroy_callback", ours_ref_create_destroy_callback);
  RegisterBenchmark("std/ref_create_destroy_callback", std_ref_create_destroy_callback);
  RegisterBenchmark("ours/lock_live", ours_lock_live);
  RegisterBenchmark("std/lock_live", std_lock_live);
  RegisterBenchmark("ours/lock_dead", ours_lock_dead);
  RegisterBenchmark("std/lock_dead", std_lock_dead);
  RegisterBenchmark("ours/factory_create_destroy", ours_factory_create_destroy);
  RegisterBenchmark("std/factory_create_destroy", std_factory_create_destroy);
  for (const int k : {1, 4, 16}) {
    RegisterBenchmark("ours/death_callbacks", ours_death_callbacks)
        ->ArgName("k")
        ->Arg(k)
        ->UseManualTime();
    RegisterBenchmark("std/death_callbacks", std_death_callbacks)
        ->ArgName("k")
        ->Arg(k)
        ->UseManualTime();
  }
  RegisterBenchmark("ours/finalize_create_call", ours_finalize_create_call);
  RegisterBenchmark("std/finalize_create_call", std_finalize_create_call);
  RegisterBenchmark("ours/death_finalize", ours_death_finalize)->Arg(1)->UseManualTime();
  RegisterBenchmark("std/death_finalize", std_death_finalize)->Arg(1)->UseManualTime();
  RegisterBenchmark("ours/lock_contended", ours_lock_contended)->Threads(2)->UseRealTime();
  RegisterBenchmark("std/lock_contended", std_lock_contended)->Threads(2)->UseRealTime();
  RegisterBenchmark("ours/lock_dead_contended", ours_lock_dead_contended)
      ->Threads(2)
      ->UseRealTime();
  RegisterBenchmark("std/lock_dead_contended", std_lock_dead_contended)->Threads(2)->UseRealTime();
}

} // namespace

int main(int argc, char** argv) {
  register_benchmarks();
  return weakref_bench::run_main(
      argc, argv, "weakref.bench.ref", weakref_bench::brief_targets(), {},
      {{"callback_at_death", "death_callbacks/k:16", "death_callbacks/k:1", 15}});
}
