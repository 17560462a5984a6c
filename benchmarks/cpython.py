#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""The CPython comparison of the benchmarks (design brief, "Targets": vs CPython 3.11 weakref).

Runs the workloads of weakref.bench.ref and weakref.bench.containers through Python's weakref
module (standard library only), reads our medians and the std baselines' from the .tsv files the
benchmark programs write (--ratio_tsv: libstdc++) and weakref.instructions --time --tsv writes
(libc++), and prints one row per operation:

    operation | CPython ns | ours ns: libstdc++ / libc++ | speedup | target | met? | faster? |
    std speedup

where speedup = CPython time / our time (per operation, medians; for each standard library),
"met?" checks the brief's target for the row, "faster?" issue 18's rule that no row of ours is
slower than CPython at any size (speedup >= 1), and "std speedup" is the speedup of the std
baseline, which the brief quotes as context. Used by scripts/bench; by hand:

    python3 benchmarks/cpython.py --ours build/bench/*.tsv [--ours-libcxx build/bench/libcxx.tsv]
                                  [--md out.md] [--repetitions 5] [--sizes 1000 100000 1000000]
    python3 benchmarks/cpython.py --smoke        # tiny sizes, no comparison: checks the workloads

Each workload is timed as a whole loop of operations (the loop's own overhead is part of what a
Python program pays, as the loop is part of ours) in process CPU time, time.process_time_ns: on
a shared machine, time spent descheduled is noise (the single-threaded C++ rows use CPU time
too). The median of the repetitions is reported with its spread (stddev / mean). The referent is a small class with
__slots__ = ("x", "__weakref__"), Python's counterpart of `struct item { int x; }`. Dead entries of
CPython's weak containers are removed by the death callbacks themselves, so "purge" there is the
mass death alone; ours is the mass death followed by purge().
"""
import argparse
import gc
import itertools
import pathlib
import statistics
import sys
import time
import weakref

# The brief's CPython targets: our speedup over CPython must be at least this.
TARGETS = {
    "ref_create_destroy": 5.0,
    "lock_live": 2.5,
    "value_map_insert": 10.0,
    "key_map_insert": 10.0,
    "value_map_lookup_hit": 7.0,
    "key_map_lookup": 7.0,
    "set_lookup": 7.0,
    "value_map_purge": 3.0,
    "key_map_purge": 3.0,
    "set_purge": 3.0,
}


# Rows that weakref.instructions names without the Google Benchmark programs' argument.
SAME_ROW = {"death_finalize/1": "death_finalize"}


class Item:
    __slots__ = ("x", "__weakref__")

    def __init__(self, x):
        self.x = x


def timed(run, ops, repetitions):
    """Times run() (which performs `ops` operations and returns the nanoseconds it timed, or None
    to be timed whole) `repetitions` times; returns (median ns per op, relative spread)."""
    samples = []
    for _ in range(repetitions):
        gc.collect()
        gc.disable()  # as in C++: no collector pass in the middle of a loop
        try:
            t0 = time.process_time_ns()
            inner = run()
            t1 = time.process_time_ns()
        finally:
            gc.enable()
        samples.append((inner if inner is not None else t1 - t0) / ops)
    mean = statistics.fmean(samples)
    spread = statistics.stdev(samples) / mean if len(samples) > 1 and mean > 0 else None
    return statistics.median(samples), spread


# ------------------------------------------------------------------------------- weak references

def ref_workloads(ops):
    obj = Item(1)

    def ref_create_destroy():
        ref = weakref.ref
        for _ in itertools.repeat(None, ops):
            ref(obj)

    def ref_create_destroy_callback():
        ref = weakref.ref
        calls = []
        callback = calls.append
        for _ in itertools.repeat(None, ops):
            ref(obj, callback)

    live = weakref.ref(obj)

    def lock_live():
        r = live
        for _ in itertools.repeat(None, ops):
            r()

    dead_obj = Item(2)
    dead = weakref.ref(dead_obj)
    del dead_obj

    def lock_dead():
        r = dead
        for _ in itertools.repeat(None, ops):
            r()

    def factory_create_destroy():
        make = Item
        for _ in itertools.repeat(None, ops):
            make(1)

    yield "ref_create_destroy", ref_create_destroy, ops
    yield "ref_create_destroy_callback", ref_create_destroy_callback, ops
    yield "lock_live", lock_live, ops
    yield "lock_dead", lock_dead, ops
    yield "factory_create_destroy", factory_create_destroy, ops

    batch = max(1, ops // 100)
    for k in (1, 4, 16):
        def death_callbacks(k=k):
            calls = []
            callback = calls.append
            objects = [Item(i) for i in range(batch)]
            refs = [weakref.ref(o, callback) for o in objects for _ in range(k)]
            t0 = time.process_time_ns()
            objects.clear()
            t1 = time.process_time_ns()
            if len(calls) != batch * k:
                raise RuntimeError("not every callback ran")
            del refs
            return t1 - t0
        # Python's no-callback refs are shared, but refs with callbacks are distinct: k of them.
        yield f"death_callbacks/k:{k}", death_callbacks, batch

    def finalize_create_call():
        finalize = weakref.finalize
        calls = []
        callback = calls.append
        for _ in itertools.repeat(None, ops):
            finalize(obj, callback, 1)()
        if len(calls) != ops:
            raise RuntimeError("not every finalizer ran")

    def death_finalize():
        calls = []
        callback = calls.append
        objects = [Item(i) for i in range(batch)]
        for o in objects:
            weakref.finalize(o, callback, 1)
        del o
        t0 = time.process_time_ns()
        objects.clear()
        t1 = time.process_time_ns()
        if len(calls) != batch:
            raise RuntimeError("not every finalizer ran")
        return t1 - t0

    yield "finalize_create_call", finalize_create_call, ops
    yield "death_finalize/1", death_finalize, batch


# -------------------------------------------------------------------------------- weak containers

def container_workloads(n):
    rows = f"n:{n}"
    keys = list(range(n))
    import random
    random.Random(20240611).shuffle(keys)
    owners = [Item(i) for i in range(n)]
    strangers = [Item(i) for i in range(n)]

    kinds = {
        "value_map": (weakref.WeakValueDictionary,
                      lambda m, i, o: m.__setitem__(i, o)),
        "key_map": (weakref.WeakKeyDictionary,
                    lambda m, i, o: m.__setitem__(o, i)),
        "set": (weakref.WeakSet, lambda m, i, o: m.add(o)),
    }

    def filled(kind, objects):
        make, insert = kinds[kind]
        m = make()
        for i, o in enumerate(objects):
            insert(m, i, o)
        return m

    for kind in kinds:
        make, _ = kinds[kind]

        def insert(kind=kind, make=make):
            m = make()
            if kind == "value_map":
                for i, o in enumerate(owners):
                    m[i] = o
            elif kind == "key_map":
                for i, o in enumerate(owners):
                    m[o] = i
            else:
                add = m.add
                for o in owners:
                    add(o)
            if len(m) != n:
                raise RuntimeError("an insert was lost")

        m = filled(kind, owners)
        if kind == "value_map":
            def lookup_hit(m=m):
                get = m.get
                for k in keys:
                    get(k).x
            def lookup_miss(m=m):
                get = m.get
                for k in keys:
                    get(k + n)
        elif kind == "key_map":
            def lookup_hit(m=m):
                get = m.get
                for k in keys:
                    get(owners[k])
            def lookup_miss(m=m):
                get = m.get
                for k in keys:
                    get(strangers[k])
        else:
            def lookup_hit(m=m):
                for k in keys:
                    owners[k] in m
            def lookup_miss(m=m):
                for k in keys:
                    strangers[k] in m

        def erase(kind=kind):
            m = filled(kind, owners)
            t0 = time.process_time_ns()
            if kind == "value_map":
                for k in keys:
                    del m[k]
            elif kind == "key_map":
                for k in keys:
                    del m[owners[k]]
            else:
                discard = m.discard
                for k in keys:
                    discard(owners[k])
            t1 = time.process_time_ns()
            if len(m) != 0:
                raise RuntimeError("erase left entries behind")
            return t1 - t0

        def iterate(m=m, kind=kind):
            total = 0
            if kind == "value_map":
                for k, v in m.items():
                    total += v.x
            elif kind == "key_map":
                for k, v in m.items():
                    total += v
            else:
                for k in m:
                    total += k.x
            if total != n * (n - 1) // 2:
                raise RuntimeError("iteration missed a live entry")

        def purge(kind=kind):
            objects = [Item(i) for i in range(n)]
            m = filled(kind, objects)
            t0 = time.process_time_ns()
            objects.clear()  # mass death: the callbacks remove the entries
            t1 = time.process_time_ns()
            if len(m) != 0:
                raise RuntimeError("dead entries left behind")
            return t1 - t0

        lookup = "lookup_hit" if kind == "value_map" else "lookup"
        yield f"{kind}_insert/{rows}", insert, n
        yield f"{kind}_{lookup}/{rows}", lookup_hit, n
        yield f"{kind}_lookup_miss/{rows}", lookup_miss, n
        yield f"{kind}_erase/{rows}", erase, n
        yield f"{kind}_iterate/{rows}", iterate, n
        yield f"{kind}_purge/{rows}", purge, n


# ---------------------------------------------------------------------------------------- report

def read_ours(paths):
    """operation -> (ours ns, std ns) from the benchmark programs' --ratio_tsv files."""
    rows = {}
    for path in paths:
        for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")  # operation, ours, std[, flat]
            if len(parts) < 3:
                continue
            value = lambda s: None if s == "-" else float(s)
            rows[parts[0]] = (value(parts[1]), value(parts[2]))
    return rows


def fmt(ns, spread=None):
    if ns is None:
        return "-"
    text = f"{ns:.2f}" if ns < 100 else f"{ns:.1f}"
    if spread is not None:
        text += f" ±{spread * 100:.{1 if spread < 0.1 else 0}f}%"
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", nargs="*", default=[],
                        help="the Google Benchmark programs' --ratio_tsv files (libstdc++)")
    parser.add_argument("--ours-libcxx", nargs="*", default=[],
                        help="weakref.instructions --time --tsv files (libc++)")
    parser.add_argument("--md", help="also write the table as Markdown to this file")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--ref-ops", type=int, default=1_000_000,
                        help="operations per run of the weak reference workloads")
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000, 100_000, 1_000_000],
                        help="container sizes (entries)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, 1 repetition: only checks that every workload runs")
    args = parser.parse_args()
    if args.smoke:
        args.repetitions, args.ref_ops, args.sizes = 1, 1000, [100]

    libraries = [read_ours(args.ours), read_ours(args.ours_libcxx)]  # libstdc++, libc++
    measured = []
    workloads = itertools.chain(ref_workloads(args.ref_ops),
                                *(container_workloads(n) for n in args.sizes))
    for name, run, ops in workloads:
        # A workload scaled to 1 K entries repeats its loop so that each run lasts long enough
        # to time (its ns per op is unchanged).
        loops = max(1, 100_000 // ops) if ops < 100_000 and not args.smoke else 1
        if loops > 1:
            def run(run=run, loops=loops):
                total = 0
                for _ in range(loops):
                    inner = run()
                    total = None if inner is None or total is None else total + inner
                return total
        ns, spread = timed(run, ops * loops, args.repetitions)
        measured.append((name, ns, spread))
        print(f"  {name}: {fmt(ns, spread)} ns", file=sys.stderr, flush=True)

    def both(cells):  # one cell per standard library, "-" for a library not measured
        return " / ".join(cells) if any(c != "-" for c in cells) else "-"

    head = ["operation", "CPython ns", "ours ns: libstdc++ / libc++", "speedup", "target",
            "met?", "faster?", "std speedup"]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|---:|---:|---:|---|---|---:|"]
    slower = []
    for name, ns, spread in measured:
        goal = TARGETS.get(name.split("/")[0])
        ours_ns, speedups, met, faster = [], [], [], []
        for library, rows in zip(("libstdc++", "libc++"), libraries):
            our, _ = rows.get(name, rows.get(SAME_ROW.get(name), (None, None)))
            speedup = ns / our if our else None
            ours_ns.append(fmt(our))
            speedups.append(f"{speedup:.1f}" if speedup else "-")
            met.append("-" if goal is None or speedup is None else
                       ("yes" if speedup >= goal else "NO"))
            faster.append("-" if speedup is None else ("yes" if speedup >= 1 else "NO"))
            if speedup is not None and speedup < 1:
                slower.append(f"{name} ({library})")
        _, base = libraries[0].get(name, (None, None))
        lines.append("| " + " | ".join([
            name, fmt(ns, spread), both(ours_ns), both(speedups),
            f">= {goal:g}" if goal else "-", both(met), both(faster),
            f"{ns / base:.1f}" if base else "-",
        ]) + " |")
    lines += ["", f"speedup = CPython / ours (CPU time per operation for CPython, median of {args.repetitions} "
              f"repetitions, ± stddev / mean), with libstdc++ (the Google Benchmark programs) / "
              f"with libc++ (weakref.instructions --time); met? = the design brief's target; "
              f"faster? = speedup >= 1 (issue 18: no row slower than CPython at any size); "
              f"std speedup = CPython / the std baseline of the same row (libstdc++). Python "
              f"{sys.version.split()[0]} ({sys.implementation.name}), weakref module, the same "
              f"workloads (benchmarks/cpython.py). Slower than CPython: "
              f"{', '.join(slower) if slower else 'no row'}."]
    table = "\n".join(lines) + "\n"
    print()
    print(table)
    if args.md:
        pathlib.Path(args.md).write_text("### CPython " + sys.version.split()[0] +
                                         " weakref vs ours\n\n" + table, encoding="utf-8")


if __name__ == "__main__":
    main()
