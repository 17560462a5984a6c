// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The memory resource under the fuzzer's pmr containers: it takes its blocks from
// new_delete_resource() and keeps a ledger of them, so that every deallocation can be checked
// against its allocation (same block, size and alignment) and the whole input against a balance
// of zero ([weakref.containers.general]/15: the containers obtain all their storage from their
// allocator and give it back). Being neither new_delete_resource() nor a
// synchronized_pool_resource, it is an allocator under which a death leaves the strongly held
// part to the container's next purge ([weakref.containers.general]/8).
#pragma once

#include <cstddef>
#include <map>
#include <memory_resource>
#include <utility>

#include "model.hpp"

namespace weakref_fuzz {

class counting_resource final : public std::pmr::memory_resource {
public:
  counting_resource() = default;
  counting_resource(const counting_resource&) = delete;
  counting_resource& operator=(const counting_resource&) = delete;

  std::size_t outstanding_bytes() const { return bytes_; }
  std::size_t outstanding_blocks() const { return blocks_.size(); }
  std::size_t allocations() const { return allocations_; }
  std::size_t deallocations() const { return deallocations_; }

  // Every byte allocated was deallocated, by as many calls.
  bool balanced() const { return bytes_ == 0 && blocks_.empty() && allocations_ == deallocations_; }

private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    void* p = std::pmr::new_delete_resource()->allocate(bytes, alignment);
    blocks_.emplace(p, std::pair(bytes, alignment));
    bytes_ += bytes;
    ++allocations_;
    return p;
  }

  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
    auto it = blocks_.find(p);
    check_that(it != blocks_.end(), "[weakref.containers.general]/15 a block is given back to the "
                                    "resource it came from, once");
    check_that(it->second == std::pair(bytes, alignment),
               "[weakref.containers.general]/15 a block is given back with its size and alignment");
    blocks_.erase(it);
    bytes_ -= bytes;
    ++deallocations_;
    std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
  }

  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  std::map<void*, std::pair<std::size_t, std::size_t>> blocks_;
  std::size_t bytes_ = 0;
  std::size_t allocations_ = 0;
  std::size_t deallocations_ = 0;
};

} // namespace weakref_fuzz
