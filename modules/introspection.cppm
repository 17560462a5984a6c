// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <cstddef>
#include <memory>
#include <mutex>
#include <variant>
#include <vector>
export module weakref:introspection;
import :control;
import :ref;
import :proxy;

export namespace weakref {

// [weakref.introspection]/1 Python: getweakrefcount(object): "Return the number of weak
// references and proxies which refer to object" (PY-COUNT-1). Each reference counts once
// however many handles (copies) it has. Returns 0 for an object that is not weakly
// referenceable, as Python does.
template <class T>
std::size_t weak_ref_count(const std::shared_ptr<T>& obj) noexcept {
  detail::header* h = detail::header_of(obj);
  if (h == nullptr) return 0;
  std::lock_guard guard(h->lock);
  return h->count;
}

// [weakref.introspection]/6 The same through a std::weak_ptr: 0 once it has expired, as Python
// counts no reference to a dead object.
template <class T>
std::size_t weak_ref_count(const std::weak_ptr<T>& obj) noexcept {
  return weak_ref_count(obj.lock());
}

// [weakref.introspection]/3 Python: getweakrefs(object): "Return a list of all weak reference
// and proxy objects which refer to object" (PY-REFS-1), newest first. Each element is a handle
// to the existing reference (identical() to it), never a new one, so the size is
// weak_ref_count(obj) at the time of the call. A reference of another element type (a
// weak_ref<Base> to a Derived object, a container's entry) is listed as a view of element type
// T ([weakref.ref.conv]/2): the same reference seen as one to *obj.
template <class T>
std::vector<std::variant<weak_ref<T>, weak_proxy<T>>> weak_refs(const std::shared_ptr<T>& obj) {
  using entry = std::variant<weak_ref<T>, weak_proxy<T>>;
  std::vector<entry> result;
  detail::header* h = detail::header_of(obj);
  if (h == nullptr) return result;

  // Handles are taken under the lock into storage reserved beforehand, so nothing can throw
  // while the lock is held; wrapping them may allocate, after the lock is released.
  std::vector<detail::node_base*> taken;
  for (;;) {
    std::size_t needed;
    {
      std::lock_guard guard(h->lock);
      needed = h->count;
      if (taken.capacity() >= needed) {
        for (detail::node_base* n = h->first(); n != nullptr; n = n->next)
          if (detail::try_acquire(n)) taken.push_back(n);
        break;
      }
    }
    taken.reserve(needed);
  }
  std::size_t adopted = 0;
  try {
    result.reserve(taken.size());
    for (; adopted < taken.size(); ++adopted) {
      detail::node_base* n = taken[adopted];
      // A reference of another element type gets a view, which takes over the handle taken.
      if (n->ops->element_tag != &detail::type_tag<T>)
        n = detail::make_view<T>(n, std::weak_ptr<T>(obj));
      if (n->ops->kind == detail::node_kind::proxy)
        result.emplace_back(std::in_place_index<1>, detail::access::adopt<weak_proxy<T>>(n));
      else
        result.emplace_back(std::in_place_index<0>, detail::access::adopt<weak_ref<T>>(n));
    }
  } catch (...) {
    for (; adopted < taken.size(); ++adopted) detail::release(taken[adopted]);
    throw;
  }
  return result;
}

// [weakref.introspection]/6 The same through a std::weak_ptr: empty once it has expired.
template <class T>
std::vector<std::variant<weak_ref<T>, weak_proxy<T>>> weak_refs(const std::weak_ptr<T>& obj) {
  return weak_refs(obj.lock());
}

} // namespace weakref
