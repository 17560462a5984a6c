module;
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <ranges>
#include <type_traits>
export module weakref:containers;

export namespace weakref {

// [weakref.containers.general]/1 Tag for the constructors that take a range (as std::from_range
// in C++23; this library also serves C++20).
struct from_range_t {
  explicit from_range_t() = default;
};
inline constexpr from_range_t from_range{};

// [weakref.containers.identity] The identity policy: weak keys (elements) match when they are
// the same object, not when they compare equal (Python matches by ==). For referent types
// without == or std::hash, and for programs that want identity. Pass both as the Hash and
// KeyEqual arguments of weak_key_map or weak_set.
template <class T>
struct identity_hash {
  using is_transparent = void;
  std::size_t operator()(const T& object) const noexcept {
    return std::hash<const void*>{}(static_cast<const void*>(std::addressof(object)));
  }
};

template <class T>
struct identity_equal {
  using is_transparent = void;
  bool operator()(const T& a, const T& b) const noexcept {
    return std::addressof(a) == std::addressof(b);
  }
};

} // namespace weakref

namespace weakref::detail {

template <class H, class E>
inline constexpr bool is_identity_policy = false;
template <class T>
inline constexpr bool is_identity_policy<identity_hash<T>, identity_equal<T>> = true;

// A range whose elements construct a container element (Python: "update from ... an iterable").
template <class R, class T>
concept compatible_range =
    std::ranges::input_range<R> && std::convertible_to<std::ranges::range_reference_t<R>, T>;

} // namespace weakref::detail
