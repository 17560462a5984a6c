// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Allocator-aware weak containers: a cache whose entries, keys and referents all come from one
// std::pmr memory resource (here a buffer on the stack), through weakref::pmr::weak_value_map
// and weakref::allocate_shared.
#include <cstddef>
#include <cstdio>
#include <memory>
#include <memory_resource>
#include <string>
import weakref;

// Counts what the container and the factory take from the buffer.
class counting_resource : public std::pmr::memory_resource {
public:
  explicit counting_resource(std::pmr::memory_resource* upstream) : upstream_(upstream) {}
  std::size_t allocations() const { return allocations_; }

private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    ++allocations_;
    return upstream_->allocate(bytes, align);
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override {
    upstream_->deallocate(p, bytes, align);
  }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }
  std::pmr::memory_resource* upstream_;
  std::size_t allocations_ = 0;
};

struct Glyph {
  char32_t code;
};

int main() {
  std::byte buffer[16384];
  std::pmr::monotonic_buffer_resource arena(buffer, sizeof buffer,
                                            std::pmr::null_memory_resource());
  counting_resource counting(&arena);

  // Keys are std::pmr::string: the container hands them its allocator (uses-allocator
  // construction).
  weakref::pmr::weak_value_map<std::pmr::string, Glyph> glyphs(&counting);
  std::pmr::polymorphic_allocator<Glyph> alloc(&counting);

  std::size_t before = counting.allocations();
  auto a = weakref::allocate_shared<Glyph>(alloc, U'a'); // object and weak list: one allocation
  auto b = weakref::allocate_shared<Glyph>(alloc, U'b');
  std::printf("each glyph: %zu allocation\n", (counting.allocations() - before) / 2);

  before = counting.allocations();
  glyphs["a glyph name long enough to need memory of its own"] = a;
  glyphs["b"] = b;
  std::printf("glyphs: %zu, entries and keys from the arena: %s\n", glyphs.size(),
              counting.allocations() - before >= 3 ? "yes" : "no");
  b.reset();
  std::printf("glyphs: %zu\n", glyphs.size());
}
