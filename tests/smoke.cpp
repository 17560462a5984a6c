#include <memory>
#include <cstdio>
import weakref;
struct X { int v; };
int main() {
  auto p = weakref::make_shared<X>(3);
  weakref::weak_ref<X> r(p, [](weakref::weak_ref<X>) { std::puts("cb"); });
  std::printf("%d %zu\n", r()->v, weakref::weak_ref_count(p));
  p.reset();
  std::printf("%d\n", (int)r.expired());
}
