// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
export module weakref:factory;
import :control;

namespace weakref::detail {

template <std::size_t Align>
struct alignas(Align) chunk_unit {
  unsigned char bytes[Align];
};

constexpr std::size_t round_up(std::size_t n, std::size_t a) noexcept {
  return (n + a - 1) / a * a;
}

// What follows the control block in the chunk: the header (a base, so that the type-erased
// header* converts back with static_cast), the allocator and the object's storage.
template <class T, class Alloc>
struct block : header {
  using value_type = std::remove_cv_t<T>;
  // The chunk is allocated in units of the strictest alignment among its parts, not of
  // max_align_t: units of 8 bytes for an `int` make its chunk 8 bytes smaller than units of 16
  // could (a control block that asks for more than this gets an allocation of its own).
  static constexpr std::size_t unit_align =
      std::max({alignof(header), alignof(Alloc), alignof(value_type)});
  using unit = chunk_unit<unit_align>;
  using unit_allocator = typename std::allocator_traits<Alloc>::template rebind_alloc<unit>;
  using unit_traits = std::allocator_traits<unit_allocator>;
  using value_allocator = typename std::allocator_traits<Alloc>::template rebind_alloc<value_type>;
  using value_traits = std::allocator_traits<value_allocator>;

  [[no_unique_address]] Alloc alloc;
  alignas(value_type) unsigned char storage[sizeof(value_type)];

  explicit block(const Alloc& a) : alloc(a) {}

  // The chunk's size in units: the control block's slot, then the block.
  static std::size_t units(std::size_t cb_slot) noexcept {
    return (cb_slot + round_up(sizeof(block), alignof(unit))) / alignof(unit);
  }

  // The bytes of the control block's slot, probed on first use: 0 when the control block gets
  // an allocation of its own, because it is stricter than the unit alignment or larger than a
  // slot can say (neither ever seen).
  static std::size_t control_block_bytes() {
    static const std::size_t bytes = [] {
      const probe_result cb = probe_control_block<T, block>();
      const std::size_t slot = round_up(cb.size, alignof(unit));
      return cb.align <= alignof(unit) && slot <= 0xFFFF ? slot : 0;
    }();
    return bytes;
  }

  value_type* object() noexcept { return reinterpret_cast<value_type*>(storage); }
  static block* from(header* h) noexcept { return static_cast<block*>(h); }

  static void destroy_object(header* h) noexcept {
    block* b = from(h);
    value_allocator va(b->alloc);
    value_traits::destroy(va, std::launder(b->object()));
  }

  static void free_chunk(header* h) noexcept {
    header_unreachable(h);
    block* b = from(h);
    unit_allocator ua(b->alloc);
    unit* first = static_cast<unit*>(h->chunk());
    const std::size_t n = units(h->cb_slot);
    b->~block();
    unit_traits::deallocate(
        ua, std::pointer_traits<typename unit_traits::pointer>::pointer_to(*first), n);
  }

  static constexpr header_ops block_ops{&destroy_object};
};

} // namespace weakref::detail

export namespace weakref {

// [weakref.factory]/3 Python: "Not all objects can be weakly referenced" (PY-INTRO-5). In C++ the
// weakly referenceable objects are exactly those made here: the returned shared_ptr shares one
// allocation with the object, its control block and its weak list (the same count of
// allocations as std::allocate_shared).
//
// Constraints: T is not an array type.
// Mandates: T is an object type constructible from args through the allocator.
// Effects: as std::allocate_shared<T>(a, args...); the object is constructed with
//   allocator_traits<A2>::construct, where A2 is Alloc rebound to remove_cv_t<T>, and destroyed
//   with allocator_traits<A2>::destroy after the death callbacks ([weakref.ref.death]).
// Throws: what the allocator or T's constructor throws; then nothing is leaked.
template <class T, class Alloc, class... Args>
  requires(!std::is_array_v<T>)
std::shared_ptr<T> allocate_shared(const Alloc& a, Args&&... args) {
  static_assert(std::is_object_v<T>, "weakref::allocate_shared<T>: T must be an object type");
  using block = detail::block<T, Alloc>;

  const std::size_t cb_bytes = block::control_block_bytes();
  const std::size_t units = block::units(cb_bytes);

  typename block::unit_allocator ua(a);
  auto memory = block::unit_traits::allocate(ua, units);
  unsigned char* base = reinterpret_cast<unsigned char*>(std::to_address(memory));
  block* b = ::new (static_cast<void*>(base + cb_bytes)) block(a);
  b->cb_slot = static_cast<std::uint16_t>(cb_bytes);
  b->ops = &block::block_ops;

  try {
    typename block::value_allocator va(a);
    block::value_traits::construct(va, b->object(), std::forward<Args>(args)...);
  } catch (...) {
    block::free_chunk(b);
    throw;
  }
  T* object = std::launder(b->object());
  try {
    // Taking a raw pointer (not aliasing) keeps enable_shared_from_this working.
    return std::shared_ptr<T>(object, detail::deleter{b},
                              detail::chunk_allocator<std::byte, block>{b});
  } catch (...) {
    // Only reachable if the control block did not fit its slot and operator new failed; the
    // shared_ptr constructor has already run the deleter, which destroyed the object.
    block::free_chunk(b);
    throw;
  }
}

// [weakref.factory]/8 Effects: equivalent to allocate_shared<T>(std::allocator<T>(), args...).
template <class T, class... Args>
  requires(!std::is_array_v<T>)
std::shared_ptr<T> make_shared(Args&&... args) {
  return weakref::allocate_shared<T>(std::allocator<std::remove_cv_t<T>>(),
                                     std::forward<Args>(args)...);
}

} // namespace weakref
