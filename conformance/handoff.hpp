// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Objects handed from the thread that owns them to killer threads, which release them there:
// how the concurrency tests make referents die on another thread. No dependency on any weakref
// implementation; the unit tests (tests/) use it too.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace conformance {

template <class T>
class handoff {
public:
  // A killer keeps the last `held` objects it was given a while longer, so that deaths
  // interleave with the owner's use instead of following each hand-off at once.
  explicit handoff(std::size_t held = 16) : held_(held) {}

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
      for (auto& p : batch) held[n++ % held.size()] = std::move(p); // the displaced one dies here
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
  std::mutex mutex_;
  std::vector<std::shared_ptr<T>> queue_;
};

} // namespace conformance
