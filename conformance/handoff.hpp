// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// How the concurrency tests make referents die on another thread, and know that they did while
// they worked: objects handed from the thread that owns them to killer threads, which release
// them there (handoff); a count of the deaths in progress, by which a working thread tells
// whether an operation overlapped one (death_watch); and turns taken by two threads, for
// interleavings forced step by step (turns). No dependency on any weakref implementation; the
// unit tests (tests/) use it too.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace conformance {

// Deaths in progress on the threads that release objects, seen from the threads that work on
// them. A dying thread brackets each release that may be the last owner's with dying(); a
// working thread brackets an operation (or a few) with begin() and overlapped(), which is true,
// and counts them, if a death was in progress at either end or started in between: the
// operations overlapped a death. A bracketed release that turns out not to be the last owner's,
// because the working thread held another owner at that moment, counts too: the death then
// follows on the working thread.
//
// Left to the scheduler, how many operations overlap a death varies by orders of magnitude (a
// loaded machine runs the killer while the worker waits for a processor, valgrind runs one
// thread at a time). So a test also calls hold() from inside some deaths (a death callback of
// the dying object): on a thread releasing within dying(), while fewer than `hold_target`
// operations have overlapped a death, it keeps the death open until a working thread has closed
// a window, which then overlapped it. A floor of up to `hold_target` overlapping operations is
// then met however the threads are scheduled, provided the deaths and the work run at the same
// time: that is what the floor asserts. finish() ends every hold (the work is done); hold()
// anywhere else returns at once.
class death_watch {
public:
  explicit death_watch(long hold_target = 0) noexcept : hold_target_(hold_target) {}

  template <class Release>
  void dying(Release&& release) {
    const death_watch* const outer = std::exchange(releasing_here(), this);
    in_progress_.fetch_add(1);
    started_.fetch_add(1);
    std::forward<Release>(release)();
    in_progress_.fetch_sub(1);
    releasing_here() = outer;
  }

  void hold() const {
    if (releasing_here() != this || overlapping_.load() >= hold_target_) return;
    const long closed = closed_.load();
    // Spins a while first: a working thread that has a processor closes a window every few
    // microseconds, and a yield on a loaded machine may give the processor away for long.
    for (int spins = 0; closed_.load() == closed && !finished_.load(); ++spins)
      if (spins >= 2'000) std::this_thread::yield();
  }
  void finish() noexcept { finished_.store(true); }

  // What begin() saw, for overlapped().
  struct window {
    long started;
    bool busy;
  };
  window begin() const noexcept {
    const long started = started_.load();
    return {started, in_progress_.load() > 0};
  }
  // Closes the window of `operations` operations; counts them if they overlapped a death.
  bool overlapped(const window& w, long operations = 1) noexcept {
    const bool overlap = overlapped_quietly(w);
    if (overlap) overlapping_.fetch_add(operations);
    closed_.fetch_add(1); // after the check: a hold waiting for this window is counted
    return overlap;
  }
  // The check alone, counting nothing and ending no hold: for a helper thread whose operations
  // are not the ones the holds are for (one that only destroys references, say).
  bool overlapped_quietly(const window& w) const noexcept {
    return w.busy || started_.load() != w.started || in_progress_.load() > 0;
  }
  // Operations counted by overlapped().
  long overlapping() const noexcept { return overlapping_.load(); }
  // Releases bracketed by dying().
  long count() const noexcept { return started_.load(); }

private:
  static const death_watch*& releasing_here() noexcept {
    thread_local const death_watch* watch = nullptr;
    return watch;
  }

  const long hold_target_;
  std::atomic<int> in_progress_{0};
  std::atomic<long> started_{0};
  std::atomic<long> closed_{0};
  std::atomic<long> overlapping_{0};
  std::atomic<bool> finished_{false};
};

// Two threads taking turns through numbered steps: one waits for a step that the other reaches,
// so that an interleaving is forced, not hoped for.
class turns {
public:
  void reach(int step) {
    step_.store(step);
    step_.notify_all();
  }
  void wait_for(int step) const {
    for (int now = step_.load(); now < step; now = step_.load()) step_.wait(now);
  }

private:
  std::atomic<int> step_{0};
};

template <class T>
class handoff {
public:
  // A killer keeps the last `held` objects it was given a while longer, so that deaths
  // interleave with the owner's use instead of following each hand-off at once. With a watch,
  // each release is bracketed as a death in progress.
  explicit handoff(std::size_t held = 16, death_watch* watch = nullptr)
      : held_(held), watch_(watch) {}

  void put(std::shared_ptr<T> p) {
    std::lock_guard guard(mutex_);
    queue_.push_back(std::move(p));
  }
  // A killer thread's body: releases what it is handed until `stop`.
  void kill_until(const std::atomic<bool>& stop) {
    std::vector<std::shared_ptr<T>> held(held_);
    std::size_t n = 0;
    while (!stop.load()) {
      std::vector<std::shared_ptr<T>> batch;
      {
        std::lock_guard guard(mutex_);
        batch.swap(queue_);
      }
      for (auto& p : batch) {
        std::shared_ptr<T> displaced = std::exchange(held[n++ % held.size()], std::move(p));
        if (watch_) // it dies here, unless the owner holds it for a moment
          watch_->dying([&] { displaced.reset(); });
      }
      if (batch.empty()) std::this_thread::yield();
    }
  }
  // Releases what no killer took (call after the killers have joined).
  void drain() {
    std::lock_guard guard(mutex_);
    queue_.clear();
  }

private:
  const std::size_t held_;
  death_watch* const watch_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<T>> queue_;
};

} // namespace conformance
