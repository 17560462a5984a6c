// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Instruction counts per operation, ours and the std baseline, for valgrind's callgrind: times on
// the shared 2-core machines move by 2x between runs, instruction counts do not. Each run of the
// program does one row's work on n entries; only that work is measured (callgrind's collection
// is switched on around it by client requests, so set-up, referent creation and tear-down do not
// count). scripts/instructions runs every row under callgrind and prints instructions per entry.
//
//   weakref.instructions <container>_<row> <ours|std> [n]     (n: entries, default 10000)
//
// The rows and baselines are those of containers.cpp (weak_value_map<int, item> vs
// unordered_map<int, weak_ptr<item>>; weak_key_map / weak_set under the identity policy vs
// unordered_map keyed by the object's address, with a weak_ptr to tell a live entry from a dead
// one), plus `copy`: copy-constructing the filled container; and finalize_call / finalize_death
// (below, run_finalize).
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <valgrind/callgrind.h>
import weakref;

namespace {

struct item {
  int x;
};

using value_map = weakref::weak_value_map<int, item>;
using key_map =
    weakref::weak_key_map<item, int, weakref::identity_hash<item>, weakref::identity_equal<item>>;
using set = weakref::weak_set<item, weakref::identity_hash<item>, weakref::identity_equal<item>>;
using std_value_map = std::unordered_map<int, std::weak_ptr<item>>;
using std_key_map = std::unordered_map<const item*, std::pair<std::weak_ptr<item>, int>>;
using std_set = std::unordered_map<const item*, std::weak_ptr<item>>;

// Where the result of a row goes, so that the compiler cannot drop the work.
volatile long long sink = 0;

// Runs f with callgrind collecting (outside valgrind: just runs it).
template <class F>
void measured(F&& f) {
  CALLGRIND_TOGGLE_COLLECT;
  std::forward<F>(f)();
  CALLGRIND_TOGGLE_COLLECT;
}

struct fixture {
  std::vector<std::shared_ptr<item>> owners; // made by the factory for ours, by std for std
  std::vector<int> order;                    // the keys in a fixed random order

  fixture(std::size_t n, bool ours) {
    owners.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      owners.push_back(ours ? weakref::make_shared<item>(static_cast<int>(i))
                            : std::make_shared<item>(static_cast<int>(i)));
    order.resize(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<int>(i);
    std::shuffle(order.begin(), order.end(), std::mt19937(42));
  }
  const std::shared_ptr<item>& at(int i) const { return owners[static_cast<std::size_t>(i)]; }
};

// The row's work on a container filled by fill(): insert fills another one (the first fill also
// warms the heap), copy copies it, the others use it.
template <class Fill, class Ops>
int run(std::string_view row, fixture& f, Fill fill, Ops ops) {
  auto c = fill();
  if (row == "insert") {
    measured([&] { sink = sink + static_cast<long long>(fill().size()); });
  } else if (row == "lookup") {
    measured([&] {
      for (int k : f.order) sink = sink + ops.lookup(c, k);
    });
  } else if (row == "erase") {
    measured([&] {
      for (int k : f.order) sink = sink + static_cast<long long>(ops.erase(c, k));
    });
  } else if (row == "iterate") {
    measured([&] { sink = sink + ops.iterate(c); });
  } else if (row == "copy") {
    measured([&] {
      auto copy = c;
      sink = sink + static_cast<long long>(copy.size());
    });
  } else if (row == "purge") {
    measured([&] {
      f.owners.clear(); // mass death
      ops.purge(c);
    });
  } else {
    return 2;
  }
  return 0;
}

// finalize_<row>: a finalizer (ours) against what a user writes without the library, a weak_ptr
// copy and a std::function (std), the baseline of a weak_ref with a callback in ref.cpp.
//   call:  create one and run it early, then drop it (ours: finalize + operator());
//   death: objects that each have one, released: the death runs it (std: release, then call).
int run_finalize(std::string_view row, bool ours, std::size_t n) {
  long long calls = 0;
  std::vector<std::shared_ptr<item>> objects;
  objects.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    objects.push_back(ours ? weakref::make_shared<item>(static_cast<int>(i))
                           : std::make_shared<item>(static_cast<int>(i)));
  if (row == "call") {
    measured([&] {
      for (const auto& obj : objects) {
        if (ours) {
          weakref::finalize f(obj, [&calls](int by) { calls += by; }, 1);
          f();
        } else {
          std::weak_ptr<item> w(obj);
          std::function<void()> callback([&calls] { calls += 1; });
          callback();
        }
      }
    });
  } else if (row == "death") {
    std::vector<std::function<void()>> callbacks;
    if (ours) {
      for (const auto& obj : objects) weakref::finalize(obj, [&calls](int by) { calls += by; }, 1);
    } else {
      callbacks.reserve(n);
      for (std::size_t i = 0; i < n; ++i) callbacks.emplace_back([&calls] { calls += 1; });
    }
    measured([&] {
      for (std::size_t i = 0; i < n; ++i) {
        objects[i].reset();
        if (!ours) callbacks[i]();
      }
    });
  } else {
    return 2;
  }
  sink = calls;
  return calls == static_cast<long long>(n) ? 0 : 3;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fputs("usage: weakref.instructions <container>_<row> <ours|std> [n]\n", stderr);
    return 2;
  }
  const std::string_view name = argv[1];
  const bool ours = std::string_view(argv[2]) == "ours";
  const std::size_t n = argc > 3 ? static_cast<std::size_t>(std::atol(argv[3])) : 10000;
  const auto split = name.rfind('_');
  if (split == std::string_view::npos) return 2;
  const std::string_view container = name.substr(0, split), row = name.substr(split + 1);
  if (container == "finalize") return run_finalize(row, ours, n);
  fixture f(n, ours);
  const auto keys = [&](auto insert) {
    for (std::size_t i = 0; i < n; ++i) insert(static_cast<int>(i));
  };

  if (container == "value_map" && ours) {
    struct ops {
      long long lookup(value_map& m, int k) { return m.get(k)->x; }
      std::size_t erase(value_map& m, int k) { return m.erase(k); }
      long long iterate(value_map& m) {
        long long s = 0;
        for (const auto& [k, v] : m) s += v->x;
        return s;
      }
      void purge(value_map& m) { m.purge(); }
    };
    return run(
        row, f,
        [&] {
          value_map m;
          keys([&](int i) { m.insert_or_assign(i, f.at(i)); });
          return m;
        },
        ops{});
  }
  if (container == "value_map") {
    struct ops {
      long long lookup(std_value_map& m, int k) { return m.find(k)->second.lock()->x; }
      std::size_t erase(std_value_map& m, int k) { return m.erase(k); }
      long long iterate(std_value_map& m) {
        long long s = 0;
        for (const auto& [k, w] : m) s += w.lock()->x;
        return s;
      }
      void purge(std_value_map& m) {
        std::erase_if(m, [](const auto& kv) { return kv.second.expired(); });
      }
    };
    return run(
        row, f,
        [&] {
          std_value_map m;
          keys([&](int i) { m.insert_or_assign(i, std::weak_ptr<item>(f.at(i))); });
          return m;
        },
        ops{});
  }
  if (container == "key_map" && ours) {
    struct ops {
      const fixture* f;
      long long lookup(key_map& m, int k) { return *m.get(*f->at(k)); }
      std::size_t erase(key_map& m, int k) { return m.erase(*f->at(k)); }
      long long iterate(key_map& m) {
        long long s = 0;
        for (const auto& [k, v] : m) s += k->x + v;
        return s;
      }
      void purge(key_map& m) { m.purge(); }
    };
    return run(
        row, f,
        [&] {
          key_map m;
          keys([&](int i) { m.try_emplace(f.at(i), i); });
          return m;
        },
        ops{&f});
  }
  if (container == "key_map") {
    struct ops {
      const fixture* f;
      long long lookup(std_key_map& m, int k) {
        auto it = m.find(f->at(k).get());
        return it->second.first.expired() ? 0 : it->second.second;
      }
      std::size_t erase(std_key_map& m, int k) { return m.erase(f->at(k).get()); }
      long long iterate(std_key_map& m) {
        long long s = 0;
        for (const auto& [a, e] : m) s += e.first.lock()->x + e.second;
        return s;
      }
      void purge(std_key_map& m) {
        std::erase_if(m, [](const auto& kv) { return kv.second.first.expired(); });
      }
    };
    return run(
        row, f,
        [&] {
          std_key_map m;
          keys([&](int i) { m.try_emplace(f.at(i).get(), f.at(i), i); });
          return m;
        },
        ops{&f});
  }
  if (container == "set" && ours) {
    struct ops {
      const fixture* f;
      long long lookup(set& s, int k) { return s.contains(*f->at(k)) ? 1 : 0; }
      std::size_t erase(set& s, int k) { return s.erase(*f->at(k)); }
      long long iterate(set& s) {
        long long sum = 0;
        for (const auto& p : s) sum += p->x;
        return sum;
      }
      void purge(set& s) { s.purge(); }
    };
    return run(
        row, f,
        [&] {
          set s;
          keys([&](int i) { s.insert(f.at(i)); });
          return s;
        },
        ops{&f});
  }
  if (container == "set") {
    struct ops {
      const fixture* f;
      long long lookup(std_set& s, int k) {
        auto it = s.find(f->at(k).get());
        return it != s.end() && !it->second.expired() ? 1 : 0;
      }
      std::size_t erase(std_set& s, int k) { return s.erase(f->at(k).get()); }
      long long iterate(std_set& s) {
        long long sum = 0;
        for (const auto& [a, w] : s) sum += w.lock()->x;
        return sum;
      }
      void purge(std_set& s) {
        std::erase_if(s, [](const auto& kv) { return kv.second.expired(); });
      }
    };
    return run(
        row, f,
        [&] {
          std_set s;
          keys([&](int i) { s.try_emplace(f.at(i).get(), f.at(i)); });
          return s;
        },
        ops{&f});
  }
  return 2;
}
