// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// expected: self_callback<Derived>: Derived must be derived from weak_ref<T>
// PY-SUB-1: a self_callback hands its callback the derived reference object, so it belongs in a
// class derived from weak_ref<T>, T the referent's type; anywhere else it is rejected at compile
// time with a diagnostic that says so ([weakref.ref.self]/4).
#include <memory>
import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

struct not_a_ref {
  explicit not_a_ref(const std::shared_ptr<int>& ob) : on_death(*this, ob, [](not_a_ref&) {}) {}
  wr::self_callback<not_a_ref> on_death;
};

int main() {
  auto ob = wr::make_shared<int>(1);
  not_a_ref r(ob);
  return 0;
}
