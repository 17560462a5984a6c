// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The weakref module: Python's weakref semantics for objects owned by std::shared_ptr.
// Each partition implements one section of the proposed wording in proposal/.
export module weakref;

export import :errors;        // [weakref.error]   reference_error, type_error, callback errors
export import :control;       // (internal) the weak list and the death protocol; exports nothing
export import :factory;       // [weakref.factory] make_shared, allocate_shared
export import :ref;           // [weakref.ref]     weak_ref
export import :proxy;         // [weakref.proxy]   weak_proxy and the proxy kinds
export import :introspection; // [weakref.introspection] weak_ref_count, weak_refs
export import :finalize;      // [weakref.finalize] finalize (Python 3.4)
export import :method;        // [weakref.method]  weak_method (Python 3.4: WeakMethod)
export import :table;         // (internal) the weak hash table; exports nothing
export import :containers;    // [weakref.containers] from_range, the identity policy, the core
export import :value_map;     // [weakref.value.map] weak_value_map
export import :key_map;       // [weakref.key.map]   weak_key_map
export import :set;           // [weakref.set]     weak_set
export import :format;        // [weakref.format]  std::formatter for refs, proxies, containers
