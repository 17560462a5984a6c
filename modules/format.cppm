// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <version>
// [weakref.format] is provided where the standard library has <format> (libstdc++ 12, which
// the `libstdcxx` and `bench` presets use, has none): the partition is then empty.
#if defined(__cpp_lib_format)
#include <concepts>
#include <cstdlib>
#include <format>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define WEAKREF_HAS_CXXABI 1
#endif
#define WEAKREF_HAS_FORMAT 1
#endif
export module weakref:format;
import :control;
import :ref;
import :proxy;
import :value_map;
import :key_map;
import :set;
import :finalize;
import :method;

#if defined(WEAKREF_HAS_FORMAT)

// [weakref.format] std::formatter for weak references (Python's repr) and for the weak
// containers (as the standard formats ranges). Nothing here is exported by name: the
// specializations of std::formatter are reachable through `import weakref;`.
namespace weakref::detail {

// The name of a referent's dynamic type ([weakref.format]/3): typeid's name, demangled where the
// C++ ABI library offers it (libc++ and libstdc++ both do), else as typeid gives it.
inline std::string type_name(const std::type_info& type) {
#if defined(WEAKREF_HAS_CXXABI)
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
  if (status == 0 && demangled) return demangled.get();
#endif
  return type.name();
}

// [weakref.format]/2 The referent's address is that of its most derived object, as Python's
// id(), and its type the dynamic one.
template <class T>
const void* object_address(const T& referent) noexcept {
  if constexpr (std::is_polymorphic_v<T>)
    return dynamic_cast<const void*>(std::addressof(referent));
  else
    return std::addressof(referent);
}

// [weakref.format]/1 Only the empty format-spec is accepted: `{}`.
template <class ParseContext>
constexpr typename ParseContext::iterator parse_empty_spec(ParseContext& ctx) {
  auto it = ctx.begin();
  if (it != ctx.end() && *it != '}')
    throw std::format_error(
        "weakref: a weak reference or weak container is formatted with {}, no format-spec");
  return it;
}

// [weakref.format]/2 Python: <weakref at 0x...; to 'T' at 0x...> and <weakref at 0x...; dead>;
// `kind` is "weakref" or "weakproxy". The referent is pinned while its type is read.
template <class T, class Handle, class Out>
Out write_repr(std::string_view kind, const Handle& handle, Out out) {
  const void* const self = access::identity(handle);
  if (const std::shared_ptr<T> referent = handle.lock())
    return std::format_to(out, "<{} at {}; to '{}' at {}>", kind, self,
                          type_name(typeid(*referent)), object_address(*referent));
  return std::format_to(out, "<{} at {}; dead>", kind, self);
}

// What the formatters of weak references and finalizers share: only `{}` is accepted.
struct repr_formatter {
  template <class ParseContext>
  constexpr typename ParseContext::iterator parse(ParseContext& ctx) {
    return parse_empty_spec(ctx);
  }
};

// [weakref.format]/6 Python 3.4: <finalize object at 0x...; for 'T' at 0x...> while the finalizer
// is alive and its object lives, else <finalize object at 0x...; dead>. The object is pinned
// while its type is read.
template <class Finalize, class Out>
Out write_finalize_repr(const Finalize& f, Out out) {
  const void* const self = access::identity(f.ref());
  if (f.alive())
    if (const auto referent = f.ref().lock())
      return std::format_to(out, "<finalize object at {}; for '{}' at {}>", self,
                            type_name(typeid(*referent)), object_address(*referent));
  return std::format_to(out, "<finalize object at {}; dead>", self);
}

// [weakref.format]/5 An element type is formattable when std::formatter<E, char> is enabled
// ([format.formatter.spec]/5: a disabled specialization is not default constructible). The
// C++23 concept std::formattable is not available in C++20.
template <class E>
concept formattable_element = std::semiregular<std::formatter<std::remove_cvref_t<E>, char>>;

template <class F>
concept has_debug_format = requires(F& f) { f.set_debug_format(); };

// An element written as std::range_formatter writes it: with the debug format (strings quoted
// and escaped) where the element's formatter has one (C++23).
template <class E>
class element_writer {
  std::formatter<std::remove_cvref_t<E>, char> formatter_;

public:
  constexpr element_writer() {
    if constexpr (has_debug_format<decltype(formatter_)>) formatter_.set_debug_format();
  }
  template <class FormatContext>
  void write(const E& e, FormatContext& ctx) const {
    ctx.advance_to(formatter_.format(e, ctx));
  }
};

// `{a, b}` for a set, `{k: v, ...}` for a map, in iteration order ([weakref.format]/5). Each
// element is pinned by the iterator while it is written ([weakref.containers.general]).
template <class Container, class Elements>
struct container_formatter {
  Elements elements;

  template <class ParseContext>
  constexpr typename ParseContext::iterator parse(ParseContext& ctx) {
    return parse_empty_spec(ctx);
  }
  template <class FormatContext>
  typename FormatContext::iterator format(const Container& c, FormatContext& ctx) const {
    auto out = ctx.out();
    *out++ = '{';
    bool first = true;
    for (auto&& element : c) {
      if (!first) out = std::format_to(out, ", ");
      first = false;
      ctx.advance_to(out);
      elements.write(element, ctx);
      out = ctx.out();
    }
    *out++ = '}';
    return out;
  }
};

template <class K, class V>
struct pair_writer {
  element_writer<K> key;
  element_writer<V> value;
  template <class FormatContext>
  void write_pair(const K& k, const V& v, FormatContext& ctx) const {
    key.write(k, ctx);
    ctx.advance_to(std::format_to(ctx.out(), ": "));
    value.write(v, ctx);
  }
};

// weak_value_map: the key, then the referent of the value.
template <class K, class V>
struct value_map_elements : pair_writer<K, V> {
  template <class Element, class FormatContext>
  void write(const Element& e, FormatContext& ctx) const {
    this->write_pair(e.first, *e.second, ctx);
  }
};

// weak_key_map: the referent of the key, then the value.
template <class K, class V>
struct key_map_elements : pair_writer<K, V> {
  template <class Element, class FormatContext>
  void write(const Element& e, FormatContext& ctx) const {
    this->write_pair(*e.first, e.second, ctx);
  }
};

// weak_set: the referent.
template <class T>
struct set_elements {
  element_writer<T> element;
  template <class Element, class FormatContext>
  void write(const Element& e, FormatContext& ctx) const {
    element.write(*e, ctx);
  }
};

} // namespace weakref::detail

// [weakref.format]/2 For weak_ref<T> and the classes derived from it (as std::hash,
// [weakref.ref.hash]/1), whatever T is.
template <weakref::ref_type R>
struct std::formatter<R, char> : weakref::detail::repr_formatter {
  template <class FormatContext>
  typename FormatContext::iterator format(const R& r, FormatContext& ctx) const {
    using T = typename R::element_type;
    return weakref::detail::write_repr<T>("weakref", static_cast<const weakref::weak_ref<T>&>(r),
                                          ctx.out());
  }
};

// [weakref.format]/4 Python: <weakproxy at 0x...; to 'T' at 0x...>. The proxy is formatted, not
// its referent (Python's repr, not str): formatting never throws reference_error.
template <class T>
struct std::formatter<weakref::weak_proxy<T>, char> : weakref::detail::repr_formatter {
  template <class FormatContext>
  typename FormatContext::iterator format(const weakref::weak_proxy<T>& p,
                                          FormatContext& ctx) const {
    return weakref::detail::write_repr<T>("weakproxy", p, ctx.out());
  }
};

// [weakref.format]/6 finalize (Python 3.4's repr).
template <class T, class F, class... Args>
struct std::formatter<weakref::finalize<T, F, Args...>, char> : weakref::detail::repr_formatter {
  template <class FormatContext>
  typename FormatContext::iterator format(const weakref::finalize<T, F, Args...>& f,
                                          FormatContext& ctx) const {
    return weakref::detail::write_finalize_repr(f, ctx.out());
  }
};

// [weakref.format]/7 weak_method: as its reference to the object (Python's WeakMethod is a ref).
template <class T, class M>
struct std::formatter<weakref::weak_method<T, M>, char> : weakref::detail::repr_formatter {
  template <class FormatContext>
  typename FormatContext::iterator format(const weakref::weak_method<T, M>& m,
                                          FormatContext& ctx) const {
    return weakref::detail::write_repr<T>("weakref", m.ref(), ctx.out());
  }
};

// [weakref.format]/5 The containers, when their elements are formattable.
template <class K, class V, class H, class E, class A>
  requires weakref::detail::formattable_element<K> && weakref::detail::formattable_element<V>
struct std::formatter<weakref::weak_value_map<K, V, H, E, A>, char>
    : weakref::detail::container_formatter<weakref::weak_value_map<K, V, H, E, A>,
                                           weakref::detail::value_map_elements<K, V>> {};

template <class K, class V, class H, class E, class A>
  requires weakref::detail::formattable_element<K> && weakref::detail::formattable_element<V>
struct std::formatter<weakref::weak_key_map<K, V, H, E, A>, char>
    : weakref::detail::container_formatter<weakref::weak_key_map<K, V, H, E, A>,
                                           weakref::detail::key_map_elements<K, V>> {};

template <class T, class H, class E, class A>
  requires weakref::detail::formattable_element<T>
struct std::formatter<weakref::weak_set<T, H, E, A>, char>
    : weakref::detail::container_formatter<weakref::weak_set<T, H, E, A>,
                                           weakref::detail::set_elements<T>> {};

#endif // WEAKREF_HAS_FORMAT
