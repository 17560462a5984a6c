// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: the introduction's rules about the weak containers (PY-INTRO-3, -4, -7, -8).
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "support.hpp"

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

using conformance::walked;

namespace {

// A large object (the doc's image), counting its live instances.
struct picture {
  static inline int alive = 0;
  int id;
  std::vector<unsigned char> pixels;
  explicit picture(int i) : id(i), pixels(4096, static_cast<unsigned char>(i)) { ++alive; }
  picture(const picture& o) : id(o.id), pixels(o.pixels) { ++alive; }
  picture& operator=(const picture&) = default;
  ~picture() { --alive; }
  friend bool operator==(const picture& a, const picture& b) { return a.id == b.id; }
};
struct picture_hash {
  std::size_t operator()(const picture& p) const noexcept { return std::hash<int>{}(p.id); }
};

// A strongly held part (a weak_value_map key, a weak_key_map value) counting its instances.
struct part {
  static inline int alive = 0;
  int n;
  explicit part(int x = 0) : n(x) { ++alive; }
  part(const part& o) : n(o.n) { ++alive; }
  part& operator=(const part&) = default;
  ~part() { --alive; }
  friend bool operator==(const part& a, const part& b) { return a.n == b.n; }
};
struct part_hash {
  std::size_t operator()(const part& p) const noexcept { return std::hash<int>{}(p.n); }
};

// A large object whose pixels are part of the object itself, so that its storage is the
// factory's allocation (an out-of-line buffer would be freed by the destructor anyway and hide
// whether the object's own storage is kept).
struct large_picture {
  static inline int alive = 0;
  int id;
  std::array<unsigned char, 256 * 1024> pixels;
  explicit large_picture(int i) : id(i) {
    pixels.fill(static_cast<unsigned char>(i));
    ++alive;
  }
  large_picture(const large_picture&) = delete;
  large_picture& operator=(const large_picture&) = delete;
  ~large_picture() { --alive; }
};

// An allocator that counts the bytes it has handed out and not yet been given back.
template <class T>
struct counting_allocator {
  using value_type = T;
  std::size_t* live_bytes;
  explicit counting_allocator(std::size_t* live) noexcept : live_bytes(live) {}
  template <class U>
  counting_allocator(const counting_allocator<U>& other) noexcept : live_bytes(other.live_bytes) {}
  T* allocate(std::size_t n) {
    *live_bytes += n * sizeof(T);
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    *live_bytes -= n * sizeof(T);
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  friend bool operator==(const counting_allocator& a, const counting_allocator<U>& b) noexcept {
    return a.live_bytes == b.live_bytes;
  }
};

using value_map_t = wr::weak_value_map<part, picture, part_hash>;
using key_map_t = wr::weak_key_map<picture, part, picture_hash>;
using set_t = wr::weak_set<picture, picture_hash>;

std::shared_ptr<picture> make_picture(int i) { return wr::make_shared<picture>(i); }

// A mapping in the sense of PY-INTRO-4: a forward range with key and mapped types, lookup by key.
template <class M>
concept mapping =
    std::ranges::forward_range<M> && requires(const M& m, const typename M::key_type& k) {
      typename M::mapped_type;
      { m.contains(k) } -> std::same_as<bool>;
      { m.size() } -> std::same_as<std::size_t>;
    };

} // namespace

BOOST_AUTO_TEST_SUITE(intro_containers)

// PY-INTRO-3: "appearing in a weak container (a cache or mapping) never keeps an object alive".
// Checks [weakref.containers.general]/3; [weakref.value.map.cons]/8.
BOOST_AUTO_TEST_CASE(PY_INTRO_3_weak_containers_never_keep_an_object_alive) {
  value_map_t by_name;
  key_map_t notes;
  set_t seen;
  auto p = make_picture(1);
  const std::weak_ptr<picture> watch = p;
  by_name[part(1)] = p;
  by_name[part(2)] = p;
  notes[p] = part(10);
  seen.add(p);
  // Copies of the containers and their references are weak too.
  const value_map_t by_name_copy = by_name;
  const key_map_t notes_copy = notes;
  const set_t seen_copy = seen;
  const auto valuerefs = by_name.valuerefs();
  const auto keyrefs = notes.keyrefs();
  BOOST_TEST(p.use_count() == 1);
  const int before = picture::alive;
  p.reset(); // its only owner
  BOOST_TEST(watch.expired());
  BOOST_TEST(picture::alive == before - 1);
  BOOST_TEST(by_name.empty());
  BOOST_TEST(notes.empty());
  BOOST_TEST(seen.empty());
  BOOST_TEST(by_name_copy.empty());
  BOOST_TEST(notes_copy.empty());
  BOOST_TEST(seen_copy.empty());
}

// PY-INTRO-3: "appearing in a weak container (a cache or mapping) never keeps an object alive".
// Here: the doc's primary use, a cache of large objects: an object is served from the cache while
// someone uses it; once only the cache refers to it, it is destroyed, and its storage (counted
// by the allocator that made it) is given back, at the latest by the cache's next insertion,
// which removes the dead entry ([weakref.containers.general]/8): the cache keeps neither the
// object nor its memory.
BOOST_AUTO_TEST_CASE(PY_INTRO_3_cache_of_large_objects) {
  std::size_t object_storage = 0; // bytes of the objects' allocations not yet given back
  wr::weak_value_map<int, large_picture> cache;
  int loads = 0;
  const auto load = [&](int id) {
    if (auto hit = cache.get(id)) return hit;
    ++loads;
    auto fresh =
        wr::allocate_shared<large_picture>(counting_allocator<large_picture>(&object_storage), id);
    cache[id] = fresh;
    return fresh;
  };
  auto a = load(1);
  auto again = load(1);
  BOOST_TEST(loads == 1);
  BOOST_TEST((again == a)); // served from the cache
  BOOST_TEST(large_picture::alive == 1);
  const std::size_t one_object = object_storage;
  BOOST_TEST(one_object >= sizeof(large_picture));
  a.reset();
  again.reset();                         // only the cache refers to it now
  BOOST_TEST(large_picture::alive == 0); // not kept alive by the cache
  BOOST_TEST(cache.empty());

  auto other = load(2); // the cache's next insertion drops the dead entry
  BOOST_TEST(loads == 2);
  BOOST_TEST(large_picture::alive == 1);
  BOOST_TEST(object_storage == one_object); // the first object's storage was given back
  auto reloaded = load(1);
  BOOST_TEST(loads == 3);
  BOOST_TEST(reloaded->id == 1);
  BOOST_TEST(object_storage == 2 * one_object);
  other.reset();
  reloaded.reset();
  cache.purge();
  BOOST_TEST(large_picture::alive == 0);
  BOOST_TEST(object_storage == 0u); // every object's storage, with only the cache left
  BOOST_TEST(cache.empty());
}

// PY-INTRO-4: "the module supplies weak_key_map and weak_value_map: mappings holding their keys,
// respectively values, by weak reference".
// Checks [weakref.value.map]/1; [weakref.key.map]/1.
BOOST_AUTO_TEST_CASE(PY_INTRO_4_weak_key_map_and_weak_value_map_are_supplied) {
  static_assert(mapping<wr::weak_key_map<picture, int, picture_hash>>);
  static_assert(mapping<wr::weak_value_map<int, picture>>);
  static_assert(std::same_as<wr::weak_key_map<picture, int, picture_hash>::key_type,
                             std::shared_ptr<picture>>);
  static_assert(
      std::same_as<wr::weak_value_map<int, picture>::mapped_type, std::shared_ptr<picture>>);

  // weak_key_map: the key by weak reference, the value strongly.
  wr::weak_key_map<picture, std::shared_ptr<int>, picture_hash> keys;
  auto k = make_picture(1);
  auto strong_value = std::make_shared<int>(42);
  const std::weak_ptr<int> value_watch = strong_value;
  keys[k] = std::move(strong_value);
  BOOST_TEST(k.use_count() == 1);     // weak key
  BOOST_TEST(!value_watch.expired()); // strong value: the map is its only owner now
  BOOST_TEST(*keys.at(*k) == 42);

  // weak_value_map: the key strongly, the value by weak reference.
  wr::weak_value_map<std::string, picture> values;
  auto v = make_picture(2);
  {
    std::string key = "two";
    values[key] = v;
  } // the map owns its copy of the key
  BOOST_TEST(v.use_count() == 1); // weak value
  BOOST_TEST((values.at("two") == v));
  v.reset();
  BOOST_TEST(values.empty());
  k.reset();
  BOOST_TEST(keys.empty());
}

// PY-INTRO-7 (adapted): "when only weak containers refer to an object, it dies and its entries
// disappear from every weak container". Here: at once, from every lookup, iteration and size().
// Checks [weakref.containers.general]/5 and /7.
BOOST_AUTO_TEST_CASE(PY_INTRO_7_entries_vanish_from_every_container_at_the_death) {
  value_map_t images;     // the doc's example: the image is a value
  value_map_t thumbnails; // in a second mapping too
  key_map_t metadata;     // and a key
  set_t recent;           // and an element
  auto image = make_picture(7);
  auto other = make_picture(8);
  images[part(1)] = image;
  images[part(2)] = other;
  thumbnails[part(1)] = image;
  metadata[image] = part(100);
  metadata[other] = part(200);
  recent.add(image);
  recent.add(other);
  const int before = picture::alive;
  image.reset(); // the last remaining references are the weak containers'
  BOOST_TEST(picture::alive == before - 1);
  // Observed through const access only: no purge has happened.
  const value_map_t& ci = images;
  const value_map_t& ct = thumbnails;
  const key_map_t& cm = metadata;
  const set_t& cr = recent;
  BOOST_TEST(ci.size() == 1u);
  BOOST_TEST(ct.size() == 0u);
  BOOST_TEST(cm.size() == 1u);
  BOOST_TEST(cr.size() == 1u);
  BOOST_TEST(!ci.contains(part(1)));
  BOOST_TEST(!ct.contains(part(1)));
  BOOST_TEST(!cm.contains(picture(7)));
  BOOST_TEST(!cr.contains(picture(7)));
  BOOST_TEST(walked(ci) == 1u);
  BOOST_TEST(walked(ct) == 0u);
  BOOST_TEST(walked(cm) == 1u);
  BOOST_TEST(walked(cr) == 1u);
  for (const auto& [key, value] : ci) BOOST_TEST(value->id == 8);
  for (const auto& [key, value] : cm) BOOST_TEST(key->id == 8);
  for (const auto& element : cr) BOOST_TEST(element->id == 8);
}

// PY-INTRO-7: "when only weak containers refer to an object, it dies and its entries disappear
// from every weak container", with their strongly held parts (a weak_value_map key, a
// weak_key_map value): inside the death, as Python releases them.
// Checks [weakref.containers.general]/8.
BOOST_AUTO_TEST_CASE(PY_INTRO_7_strong_parts_destroyed_inside_the_death) {
  value_map_t images;
  key_map_t metadata;
  auto image = make_picture(7);
  images[part(1)] = image;
  metadata[image] = part(100);
  const int parts = part::alive;
  image.reset();
  BOOST_TEST(part::alive == parts - 2); // the key of images and the value of metadata
  BOOST_TEST(images.size() == 0u);
  BOOST_TEST(metadata.size() == 0u);
}

// PY-INTRO-8: "each weak-container entry is a weak reference registered with its referent, whose
// death notifies the container".
// Checks [weakref.containers.general]/3; [weakref.introspection]/1 and /3.
BOOST_AUTO_TEST_CASE(PY_INTRO_8_entries_are_registered_weak_references) {
  value_map_t images;
  key_map_t metadata;
  set_t recent;
  auto image = make_picture(1);
  BOOST_TEST(wr::weak_ref_count(image) == 0u);
  images[part(1)] = image;
  BOOST_TEST(wr::weak_ref_count(image) == 1u);
  metadata[image] = part(2);
  BOOST_TEST(wr::weak_ref_count(image) == 2u);
  recent.add(image);
  BOOST_TEST(wr::weak_ref_count(image) == 3u);
  const auto listed = wr::weak_refs(image);
  BOOST_TEST(listed.size() == 3u);
  for (const auto& r : listed) {
    BOOST_TEST(std::holds_alternative<wr::weak_ref<picture>>(r));
    BOOST_TEST((std::get<wr::weak_ref<picture>>(r)().get() == image.get()));
  }
}

// PY-INTRO-8: "each weak-container entry is a weak reference registered with its referent, whose
// death notifies the container". Here: the death notifies the containers during the death itself: a
// callback that runs after the entries' (registered before them: callbacks run newest first) finds
// every container already updated, size() included, with no operation of the owner in between.
// Checks [weakref.containers.general]/7-8; [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(PY_INTRO_8_death_notifies_the_containers) {
  value_map_t images;
  key_map_t metadata;
  set_t recent;
  auto image = make_picture(1);
  auto other = make_picture(2);
  std::size_t sizes[3] = {99, 99, 99};
  bool called = false;
  const wr::weak_ref<picture> older(image, [&](wr::weak_ref<picture>) {
    called = true;
    sizes[0] = std::as_const(images).size();
    sizes[1] = std::as_const(metadata).size();
    sizes[2] = std::as_const(recent).size();
  });
  images[part(1)] = image;
  images[part(2)] = other;
  metadata[image] = part(1);
  metadata[other] = part(2);
  recent.add(image);
  recent.add(other);
  image.reset();
  BOOST_TEST(called);
  BOOST_TEST(sizes[0] == 1u);
  BOOST_TEST(sizes[1] == 1u);
  BOOST_TEST(sizes[2] == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
