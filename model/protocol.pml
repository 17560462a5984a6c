/* SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception */
/*
 * The weak containers' death protocol, as a Promela model for SPIN (issue 17). MAINTAINERS.md,
 * "The protocol model", maps every step to the code; scripts/check-model generates, compiles
 * and runs it in each configuration, and checks that the constants below still mirror the code.
 *
 * What is modelled: one container (one weak_table and its table_core), owned by the `owner`
 * process; NR referents (weakly referenceable objects: a use count, a control block's weak
 * count, a chunk holding the header with its spinlock and weak list); NE entry slots (each a
 * table_entry: a node of its referent's weak list, a payload, a place in the chains and in the
 * inbox, and the owner's record of who took it out); NDIERS `dier` processes, each holding one strong owner of one referent and
 * releasing it (the death then runs on that thread, or on the owner's if the owner holds the
 * last pin), and optionally taking handles on the entries through weak_refs() and dropping the
 * handle that keyrefs() gave out.
 *
 * Memory is explicit: an entry, the core and a referent's chunk are UNUSED, ALLOC or FREED, and
 * every access the code makes to one asserts that it is ALLOC (no use after free, no double
 * free). The payload is P_NONE, P_BUILT or P_GONE (destroyed exactly once, never read after,
 * never destroyed while the owner reads it). Owner-side ghost variables say which entries the
 * owner erased, so that a live entry that went missing is caught (check_table, lookup). At the
 * end `init` checks that everything was released (no leak, no payload left undestroyed), and
 * SPIN's invalid-end-state check finds any deadlock (a thread stuck on a spinlock).
 *
 * Each atomic read-modify-write or load of the code is one step; owner-only bookkeeping is
 * merged into the step next to it. Memory is sequentially consistent here: the memory orders of
 * the code are not checked (TSan and the reasoning in the code's comments cover them).
 *
 * Configuration (spin -DNAME=value): NR referents, NE entries (entry e's referent is e % NR),
 * NDIERS dying threads (dier r owns referent r), RA the core's releases_anywhere (1: the death
 * destroys the payload, as for std::allocator; 0: the owner's purge does, as for an
 * unsynchronized pool), K the owner's operations before it destroys the container, WEAKREFS
 * (the first WEAKREFS dying threads list their referent's references with weak_refs() and drop
 * those handles later) and KEYREF (the owner hands a keyrefs() handle to the dying threads),
 * REENTER (a payload the owner destroys runs user code that purges the container again, one
 * level deep). BUG_* seed a known bug for `scripts/check-model --self-test`; none is defined in
 * a normal run.
 */

#ifndef NR
#define NR 1
#endif
#ifndef NE
#define NE 2
#endif
#ifndef NDIERS
#define NDIERS 1
#endif
#ifndef RA
#define RA 1
#endif
#ifndef K
#define K 3
#endif
#ifndef WEAKREFS
#define WEAKREFS 0
#endif
#ifndef KEYREF
#define KEYREF 0
#endif
#ifndef REENTER
#define REENTER 0
#endif

#define NONE 255
#define CLOSED 254 /* table_core::closed(): the inbox after the container's destructor */
#define REF_OF(e) ((e) % NR)
#define BIT(i) (1 << (i))

/*
 * The atomics of modules/control.cppm and modules/table.cppm, and what mirrors each here.
 * scripts/check-model fails when the code declares an atomic that this list does not name.
 *   @atomic locked_       hlock[r]          spinlock of the referent's header
 *   @atomic handles       handles[e]        node_base::handles
 *   @atomic head          linked[e]         header::head: the weak list as the set of linked
 *                                           nodes (order: newest first, as die() walks it)
 *   @atomic linked        linked[e]         node_base::linked, written under the header's lock
 *                                           as here; release() reads it without the lock only
 *                                           for a reference whose weak list holds a handle
 *                                           (list_holds_handle), never for an entry
 *   @atomic refs          core_refs         table_core::refs (one per entry, no prepaying)
 *   @atomic inbox         inbox, inext[e]   table_core::inbox (and node_base::prev as its link)
 *   @atomic pending_count pending           table_core::pending_count
 *   @atomic hash_cached   -                 not modelled: a weak_ref's cached hash
 *   @atomic hash_value    -                 not modelled: a weak_ref's cached hash
 */

/* Memory of an entry, the core, a chunk. */
#define UNUSED 0
#define ALLOC 1
#define FREED 2
/* Payload of an entry (the strongly held part). */
#define P_NONE 0
#define P_BUILT 1
#define P_GONE 2

/* Referents: the std::shared_ptr control block and the chunk (modules/control.cppm, D1). */
byte use[NR];   /* use count: strong owners (the owner's key object, a dier's, pins) */
byte wc[NR];    /* weak count: 1 for all strong owners, 1 per entry's weak_ptr */
bool chunk[NR]; /* the chunk (header) is allocated */
bool hlock[NR]; /* header::lock */
byte obj[NR];   /* the referent object: 1 alive, 2 destroyed */

/* Entries (table_entry, modules/table.cppm). */
byte emem[NE];                   /* UNUSED / ALLOC / FREED */
byte handles[NE];                /* node_base::handles */
bool linked[NE];                 /* node_base::linked: in its referent's weak list */
bool retired[NE];                /* table_entry::retired (owner only) */
bool claimed_by_death[NE];       /* table_entry::claimed_by_death (owner only) */
bool in_chain[NE];               /* in the table's chains (owner only) */
byte payload[NE];                /* P_NONE / P_BUILT / P_GONE */
byte inext[NE];                  /* table_entry::inbox_next() (node_base::prev) */
bool reading[NE];                /* ghost: the owner is reading the payload */
bool counted[NE];                /* ghost: pending_count includes this entry */
bool inprog[NE];                 /* ghost: taken by a death that has not counted it yet */
bool erased_by_owner[NE];        /* ghost: the owner took it out (erase, clear) */

/* The table_core. Owner-only fields: size, retired_pending. */
byte core_mem;
byte core_refs;
byte inbox = NONE;
byte pending;
bool releases_anywhere;
byte size;
byte retired_pending;

/* Hand-offs between threads. */
byte kref = NONE;    /* a keyrefs() handle the owner gave out */
bool owner_holds[NR]; /* the owner's own strong owner of each referent (its key objects) */

/* ---- Referent side: modules/control.cppm ------------------------------------------------ */

/* [control.cppm:spinlock::lock]: a blocked thread waits here (a lock never released is a
 * deadlock, reported as an invalid end state). The header lives in the chunk. */
inline hdr_lock(hr) {
  atomic { !hlock[hr] -> assert(chunk[hr]); hlock[hr] = 1 }
}
/* [control.cppm:spinlock::unlock] */
inline hdr_unlock(hr) {
  atomic { assert(chunk[hr] && hlock[hr]); hlock[hr] = 0 }
}

/* std::weak_ptr destruction (the control block's weak count): the last one frees the chunk
 * ([control.cppm:chunk_allocator::deallocate], then factory.cppm's block::free_chunk). */
inline weak_release(wr) {
  d_step {
    assert(wc[wr] > 0);
    wc[wr]--;
    if
    :: wc[wr] == 0 -> assert(chunk[wr] && use[wr] == 0 && obj[wr] == 2); chunk[wr] = 0
    :: else
    fi
  }
}

/* [table.cppm:table_core::unref]: the last reference frees the core. */
inline core_unref(cn) {
  d_step {
    assert(core_mem == ALLOC && core_refs >= cn);
    core_refs = core_refs - cn;
    if
    :: core_refs == 0 -> core_mem = FREED
    :: else
    fi
  }
}

/* [table.cppm:table_entry::dispose] -> [table.cppm:table_core::free_entry]: ~entry (its
 * weak_ptr goes), deallocation through the core's allocator, then the entry's reference on the
 * core. The payload must be gone by then, and the entry out of every list. */
inline free_entry(fe) {
  d_step {
    assert(emem[fe] == ALLOC);
    assert(payload[fe] == P_GONE);
    assert(!linked[fe] && !in_chain[fe] && !reading[fe]);
    assert(core_mem == ALLOC);
    emem[fe] = FREED
  }
  weak_release(REF_OF(fe));
  core_unref(1)
}

/* [control.cppm:release](n, k): drops k handles. Fast path when the count is k: recheck under
 * the header's lock (only lock holders can add a handle to a last one), store 0, unlink,
 * dispose; else fetch_sub, and the one that reaches 0 unlinks under the lock and disposes. */
inline release(rn, rk) {
  atomic { assert(emem[rn] == ALLOC && handles[rn] >= rk); rl_fast = (handles[rn] == rk) }
  if
  :: rl_fast ->
    hdr_lock(REF_OF(rn));
    atomic {
      assert(emem[rn] == ALLOC);
      rl_last = (handles[rn] == rk);
      if
      :: rl_last -> handles[rn] = 0; linked[rn] = 0 /* [control.cppm:header::unlink] */
      :: else -> skip /* a handle was taken meanwhile: the slow path follows */
      fi
    }
    hdr_unlock(REF_OF(rn))
  :: else
  fi;
  if
  :: rl_fast && rl_last
  :: else ->
    atomic {
      assert(emem[rn] == ALLOC && handles[rn] >= rk);
      rl_last = (handles[rn] == rk);
      handles[rn] = handles[rn] - rk
    }
    if
    :: rl_last ->
      hdr_lock(REF_OF(rn));
      d_step { assert(emem[rn] == ALLOC); linked[rn] = 0 }
      hdr_unlock(REF_OF(rn))
    :: else
    fi
  fi;
  rl_fast = 0;
  if
  :: rl_last -> rl_last = 0; free_entry(rn)
  :: else
  fi
}

/* [table.cppm:table_entry::destroy_payload], through the core's allocator. */
inline destroy_payload(pe) {
  d_step {
    assert(emem[pe] == ALLOC && core_mem == ALLOC);
    assert(payload[pe] == P_BUILT); /* never twice */
    assert(!reading[pe]);           /* never while the owner reads it */
    payload[pe] = P_GONE
  }
}

/* [control.cppm:release_unlinked](n): drops one handle of a node out of its weak list (only
 * handle holders can add one then): the last holder frees it, without the header's lock. */
inline release_unlinked(un) {
  atomic {
    assert(emem[un] == ALLOC && handles[un] > 0 && !linked[un]);
    ru_last = (handles[un] == 1);
    handles[un]--
  }
  if
  :: ru_last -> ru_last = 0; free_entry(un)
  :: else
  fi
}

/* [table.cppm:table_entry::queue]: the death's last touch of the entry and the core, a Treiber
 * push (head = inbox; do e->set_inbox_next(head) while !CAS(inbox, head, e)); onto a closed
 * inbox (the container is gone) the death drops the table's handle instead. */
inline queue(qe) {
  atomic { assert(emem[qe] == ALLOC && core_mem == ALLOC); od_head = inbox }
  do
#ifndef BUG_CLOSED_INBOX_IGNORED
  :: od_head == CLOSED -> release_unlinked(qe); break
#endif
  :: else ->
    atomic { assert(emem[qe] == ALLOC); inext[qe] = od_head }
    atomic {
      assert(core_mem == ALLOC);
      if
      :: inbox == od_head -> inbox = qe; od_pushed = 1
      :: else -> od_head = inbox
      fi
    }
    if
    :: od_pushed -> break
    :: else
    fi
  od;
  od_pushed = 0;
  od_head = NONE
}

/* [table.cppm:table_entry::on_death]: the entry's callback, run by header::die() after it took the
 * entry out of the weak list, without a pin (the table's handle keeps the entry until the owner
 * has seen it queued). The report (pending_count), then the payload where the death destroys it
 * ([table.cppm:table_entry::release_payload]), then the queueing. */
inline on_death(oe) {
  atomic {
    assert(emem[oe] == ALLOC && core_mem == ALLOC);
    od_dd = releases_anywhere;
    pending++; counted[oe] = 1; inprog[oe] = 0
  }
#ifdef BUG_QUEUE_BEFORE_PAYLOAD
  queue(oe);
  if
  :: od_dd -> destroy_payload(oe)
  :: else
  fi;
#else
  if
  :: od_dd -> destroy_payload(oe)
  :: else
  fi;
  queue(oe);
#endif
  od_dd = 0
}

/* [control.cppm:header::die]: runs where the last strong owner went (use count 0). */
inline die(dr) {
  /* 0. head.load(): an empty weak list needs no lock */
  d_step {
    assert(chunk[dr]);
    dd_empty = 1;
    for (dd_i : 0 .. NE - 1) {
      if
      :: linked[dd_i] && REF_OF(dd_i) == dr -> dd_empty = 0
      :: else
      fi
    }
    dd_i = 0
  }
  if
  :: !dd_empty ->
    /* 1. under the lock, detach every node, newest first; an entry is not pinned
     *    (node_ops::kept_while_linked): while linked, it holds the table's handle */
    hdr_lock(dr);
    dd_i = NE;
    do
    :: dd_i > 0 ->
      dd_i--;
      atomic {
        if
        :: linked[dd_i] && REF_OF(dd_i) == dr ->
          assert(emem[dd_i] == ALLOC && handles[dd_i] > 0);
          linked[dd_i] = 0; inprog[dd_i] = 1; dd_chain = dd_chain | BIT(dd_i)
        :: else
        fi
      }
    :: else -> break
    od;
    hdr_unlock(dr);
    /* 2. the callbacks, newest first, no lock held */
    dd_i = NE;
    do
    :: dd_i > 0 ->
      dd_i--;
      if
      :: dd_chain & BIT(dd_i) -> dd_chain = dd_chain & ~BIT(dd_i); on_death(dd_i)
      :: else
      fi
    :: else -> break
    od
  :: else
  fi;
  dd_empty = 0;
  /* 3. ops->destroy_referent */
  d_step { assert(obj[dr] == 1); obj[dr] = 2 }
}

/* The release of a strong owner (std::shared_ptr's destructor): the last one runs the deleter
 * ([control.cppm:deleter] -> header::die), then drops the owners' weak count. */
inline strong_release(sr) {
  atomic { assert(use[sr] > 0); use[sr]--; sr_last = (use[sr] == 0) }
  if
  :: sr_last -> sr_last = 0; die(sr); weak_release(sr)
  :: else
  fi
}

/* ---- Owner side: modules/table.cppm weak_table ------------------------------------------ */

/* [table.cppm:weak_table::purge]: takes the whole inbox with one exchange; for each entry
 * ([table.cppm:weak_table::remove_queued]), unlinks it unless the owner has retired it already
 * (only dead entries come here), destroys the payload unless the death does, and drops the
 * table's handle. Written as pieces because it has three instances: the owner's purge, whose
 * payload destruction (user code) may purge again (REENTER), that nested purge, and the
 * destructor's, which closes the inbox. */
inline purge_take(cur) {
  atomic { assert(core_mem == ALLOC); cur = inbox; inbox = NONE }
}
inline purge_entry(cur, nxt, ret, own) {
  atomic {
    assert(emem[cur] == ALLOC && core_mem == ALLOC);
    nxt = inext[cur];
    assert(pending > 0 && counted[cur]);
    pending--;
    counted[cur] = 0;
    ret = retired[cur]
  }
  if
  :: ret -> d_step { assert(retired_pending > 0); retired_pending--; ret = 0 }
  :: else ->
    d_step {
      /* only a dead entry comes through the inbox: a live one is never removed */
      assert(use[REF_OF(cur)] == 0 && !linked[cur] && in_chain[cur]);
      in_chain[cur] = 0; retired[cur] = 1; size--;
      own = !releases_anywhere
    }
  fi
}
inline purge_drop(cur, nxt) {
  release_unlinked(cur); /* drop: the table's handle */
  cur = nxt;
  nxt = 0
}

/* The nested purge: its payload destruction does not re-enter again. */
inline purge_inner() {
  purge_take(pi_cur);
  do
  :: pi_cur == NONE -> break
  :: else ->
    purge_entry(pi_cur, pi_next, pi_retired, pi_own);
    if
    :: pi_own -> pi_own = 0; destroy_payload(pi_cur)
    :: else
    fi;
    purge_drop(pi_cur, pi_next)
  od
}

/* The owner destroys a payload: user code, which may use the container again
 * ([weakref.containers.general]/6, D9); here it purges (one level deep). */
inline owner_destroy(pe) {
  destroy_payload(pe);
#if REENTER
  if
  :: skip
  :: purge_inner()
  fi
#endif
}

inline purge_list() {
  do
  :: pg_cur == NONE -> break
  :: else ->
    purge_entry(pg_cur, pg_next, pg_retired, pg_own);
    if
    :: pg_own -> pg_own = 0; owner_destroy(pg_cur)
    :: else
    fi;
    purge_drop(pg_cur, pg_next)
  od
}

inline purge() {
  purge_take(pg_cur);
  purge_list()
}

/* [table.cppm:weak_table::claim]: under the referent's lock, the owner takes the entry out of
 * the weak list, unless die() took it first: then the death reports and queues it, and the owner
 * takes an extra handle, because the inbox brings the entry back and its purge drops the
 * table's. */
inline claim(ce) {
  hdr_lock(REF_OF(ce));
  atomic {
    assert(emem[ce] == ALLOC);
#ifdef BUG_CLAIM_IGNORES_DEATH
    cl_death = 0;
#else
    cl_death = !linked[ce];
#endif
    linked[ce] = 0 /* [control.cppm:header::unlink] when it was linked */
  }
  hdr_unlock(REF_OF(ce));
  if
  :: cl_death ->
    claimed_by_death[ce] = 1;
    retired_pending++;
#ifndef BUG_CLAIM_NO_EXTRA_HANDLE
    atomic { assert(emem[ce] == ALLOC && handles[ce] > 0); handles[ce]++ } /* acquire(e) */
#endif
  :: else
  fi;
  cl_death = 0
}

/* [table.cppm:weak_table::unlink], for an entry the owner takes out itself. */
inline owner_unlink(ue) {
  d_step {
    assert(emem[ue] == ALLOC && in_chain[ue] && size > 0);
    in_chain[ue] = 0; retired[ue] = 1; erased_by_owner[ue] = 1; size--
  }
}

/* [table.cppm:weak_table::payload_is_ours], then destroy_payload when it is. */
inline owner_payload(oq) {
  atomic {
    assert(emem[oq] == ALLOC && core_mem == ALLOC);
    fn_ours = (!releases_anywhere || !claimed_by_death[oq])
  }
  if
  :: fn_ours -> fn_ours = 0; owner_destroy(oq)
  :: else
  fi
}

/* [table.cppm:weak_table::erase] = unlink + [table.cppm:weak_table::finish] (claim, payload,
 * [table.cppm:weak_table::drop]). */
inline erase(xe) {
#ifdef BUG_ERASE_DESTROYS_BEFORE_UNLINK
  claim(xe);
  owner_payload(xe);
  owner_unlink(xe);
#else
  owner_unlink(xe);
  claim(xe);
  owner_payload(xe);
#endif
  release_unlinked(xe)
}

/* [table.cppm:weak_table::make_entry] + [table.cppm:weak_table::link]
 * ([containers.cppm:weak_container::emplace_unique] and
 * [value_map.cppm:weak_value_map::insert_or_assign_impl] purge first).
 * The owner holds the referent (the caller's shared_ptr), so it cannot die meanwhile; the entry
 * is invisible to other threads until header::link, under the referent's lock. */
inline insert(ie) {
  purge();
  atomic {
    !hlock[REF_OF(ie)] ->
    assert(chunk[REF_OF(ie)] && use[REF_OF(ie)] > 0 && core_mem == ALLOC);
    emem[ie] = ALLOC; handles[ie] = 1; payload[ie] = P_BUILT;
    wc[REF_OF(ie)]++;  /* ref_node's weak_ptr */
    core_refs++;       /* the entry's reference on the core */
    linked[ie] = 1;    /* header::link */
    in_chain[ie] = 1; size++ /* weak_table::link */
  }
}

/* [table.cppm:weak_table::find] ([containers.cppm:weak_container::find_entry]): the entries of
 * lr's chain, newest first; the first whose weak_ptr locks is returned pinned. With the pin:
 * the payload is read; then optionally keyrefs() hands out a handle
 * ([containers.cppm:entry_ref_access::make]: acquire), or
 * [containers.cppm:weak_container::erase_matching] erases it while pinned; then the pin goes
 * (a death may run here, on the owner's thread). */
inline lookup(lr) {
  lk_e = NONE;
  lk_i = NE;
  do
  :: lk_i > 0 ->
    lk_i--;
    if
    :: in_chain[lk_i] && REF_OF(lk_i) == lr ->
      atomic {
        assert(emem[lk_i] == ALLOC);
        if
        :: use[lr] > 0 -> use[lr]++; lk_e = lk_i /* e->target.lock() */
        :: else
        fi
      }
      if
      :: lk_e != NONE -> break
      :: else
      fi
    :: else
    fi
  :: else -> break
  od;
  lk_i = 0;
  if
  :: lk_e == NONE ->
    /* no lost live entry: while the owner holds lr, an entry for it that the owner did not
     * take out must still be found */
    d_step {
      if
      :: owner_holds[lr] ->
        for (lk_i : 0 .. NE - 1) {
          assert(!(REF_OF(lk_i) == lr && emem[lk_i] != UNUSED && !erased_by_owner[lk_i]))
        }
      :: else
      fi;
      lk_i = 0
    }
  :: else ->
    d_step {
      assert(emem[lk_e] == ALLOC && linked[lk_e] && payload[lk_e] == P_BUILT);
      reading[lk_e] = 1
    }
    d_step { assert(emem[lk_e] == ALLOC && payload[lk_e] == P_BUILT); reading[lk_e] = 0 }
    if
    :: skip
#if KEYREF
    :: kref == NONE ->
      atomic { assert(emem[lk_e] == ALLOC && handles[lk_e] > 0); handles[lk_e]++; kref = lk_e }
#endif
    :: erase(lk_e)
    fi;
    strong_release(lr); /* the pin goes */
    lk_e = NONE
  fi
}

/* [table.cppm:weak_table::clear] (from destroy): purge, take every entry out and claim it, then
 * destroy the payloads that are the owner's and release. */
inline clear() {
  purge();
  cr_det = 0;
  for (cr_i : 0 .. NE - 1) {
    if
    :: in_chain[cr_i] -> owner_unlink(cr_i); claim(cr_i); cr_det = cr_det | BIT(cr_i)
    :: else
    fi
  }
  assert(size == 0);
  for (cr_i : 0 .. NE - 1) {
    if
    :: cr_det & BIT(cr_i) -> owner_payload(cr_i); release_unlinked(cr_i)
    :: else
    fi
  }
  cr_i = 0;
  cr_det = 0
}

/* [table.cppm:weak_table::destroy] (~weak_table): clear, then close the inbox, taking what it
 * holds (every entry in it is retired by now); a death that has not queued its entry yet finds
 * the inbox closed and drops the table's handle itself. No waiting. Then the container's
 * reference on the core. */
inline destroy() {
  clear();
  atomic { assert(core_mem == ALLOC); pg_cur = inbox; inbox = CLOSED }
  purge_list();
  core_unref(1)
}

/* Owner-side invariants, after every operation. */
inline check_table() {
  d_step {
    sz_chain = 0; sz_counted = 0; sz_quiet = 1;
    for (sz_i : 0 .. NE - 1) {
      /* the table's handle keeps every chained entry allocated */
      assert(!in_chain[sz_i] || emem[sz_i] == ALLOC);
      /* no lost live entry: inserted, not taken out by the owner, referent alive => chained */
      assert(!(emem[sz_i] != UNUSED && !erased_by_owner[sz_i] && use[REF_OF(sz_i)] > 0) ||
             (in_chain[sz_i] && emem[sz_i] == ALLOC && linked[sz_i]));
      if
      :: in_chain[sz_i] ->
        sz_chain++;
        if
        :: counted[sz_i] -> sz_counted++
        :: else
        fi
      :: else
      fi;
      if
      :: inprog[sz_i] -> sz_quiet = 0
      :: else
      fi
    }
    assert(size == sz_chain);
    /* [table.cppm:weak_table::size]: in_chains - (pending - retired_pending), clamped; exact when
     * no death is between its detaching the entry and its pending_count increment */
    if
    :: pending <= retired_pending -> sz_value = size
    :: pending - retired_pending >= size -> sz_value = 0
    :: else -> sz_value = size - (pending - retired_pending)
    fi;
    assert(!sz_quiet || sz_value == sz_chain - sz_counted);
    sz_i = 0; sz_chain = 0; sz_counted = 0; sz_quiet = 0; sz_value = 0
  }
}

/* An insertion from a temporary (m.insert(std::move(obj))): the caller's owner goes with it. */
inline drop_after_insert(dr) {
  if
  :: skip
  :: owner_holds[dr] = 0; strong_release(dr)
  fi
}

#define THREAD_LOCALS \
  bool rl_fast, rl_last, ru_last, sr_last, od_dd, od_pushed, dd_empty; \
  byte od_head = NONE, dd_i, dd_chain

proctype owner() {
  THREAD_LOCALS;
  byte ops, lk_e = NONE, lk_i, pg_cur, pg_next, pi_cur, pi_next, cr_i, cr_det;
  byte sz_i, sz_chain, sz_counted, sz_value;
  bool pg_retired, pg_own, pi_retired, pi_own, cl_death, fn_ours, sz_quiet;
  byte kx;

  do
  :: ops < K ->
    ops++;
    if
    :: emem[0] == UNUSED && owner_holds[REF_OF(0)] -> insert(0); drop_after_insert(REF_OF(0))
#if NE > 1
    :: emem[1] == UNUSED && owner_holds[REF_OF(1)] -> insert(1); drop_after_insert(REF_OF(1))
#endif
    :: lookup(0)
#if NR > 1
    :: lookup(1)
#endif
    :: in_chain[0] -> erase(0) /* unpinned: insert_or_assign's old entry, clear() */
#if NE > 1
    :: in_chain[1] -> erase(1)
#endif
    :: purge()
    :: owner_holds[0] -> owner_holds[0] = 0; strong_release(0)
#if NR > 1
    :: owner_holds[1] -> owner_holds[1] = 0; strong_release(1)
#endif
    fi;
    check_table()
  :: else -> break
  od;
  ops = 0;

  destroy();

  for (kx : 0 .. NR - 1) {
    if
    :: owner_holds[kx] -> owner_holds[kx] = 0; strong_release(kx)
    :: else
    fi
  }
  atomic { kx = kref; kref = NONE }
  if
  :: kx != NONE -> release(kx, 1)
  :: else
  fi;
  kx = 0
}

/* A thread holding one strong owner of referent dr: it releases it (the death runs here when
 * it is the last), and may meanwhile list the referent's weak references
 * ([introspection.cppm:weak_refs]: try_acquire under the lock) and drop them later, and drop the
 * keyrefs() handle the owner gave out. */
proctype dier(byte dr) {
  THREAD_LOCALS;
  bool holds = 1, listed;
  byte wr_mask, wr_i, kx;

  do
  :: holds -> holds = 0; strong_release(dr)
#if WEAKREFS
  :: holds && !listed && dr < WEAKREFS ->
    listed = 1;
    hdr_lock(dr);
    wr_i = NE;
    do
    :: wr_i > 0 ->
      wr_i--;
      atomic {
        if
        :: linked[wr_i] && REF_OF(wr_i) == dr && handles[wr_i] > 0 ->
          assert(emem[wr_i] == ALLOC); handles[wr_i]++; wr_mask = wr_mask | BIT(wr_i)
        :: else
        fi
      }
    :: else -> break
    od;
    hdr_unlock(dr)
  :: wr_mask != 0 ->
    for (wr_i : 0 .. NE - 1) {
      if
      :: wr_mask & BIT(wr_i) -> wr_mask = wr_mask & ~BIT(wr_i); release(wr_i, 1)
      :: else
      fi
    }
    wr_i = 0
#endif
#if KEYREF
  :: atomic { kref != NONE -> kx = kref; kref = NONE }; release(kx, 1); kx = 0
#endif
  :: !holds && wr_mask == 0 -> break
  od
}

init {
  byte i;
  atomic {
    for (i : 0 .. NR - 1) {
      use[i] = 1; /* the owner's */
      if
      :: i < NDIERS -> use[i]++
      :: else
      fi;
      wc[i] = 1; chunk[i] = 1; obj[i] = 1; owner_holds[i] = 1
    }
    core_mem = ALLOC; core_refs = 1; releases_anywhere = RA;
    run owner();
    for (i : 0 .. NDIERS - 1) {
      run dier(i)
    }
    i = 0
  }
  _nr_pr == 1; /* every thread has finished */
  /* Nothing leaks, nothing is left undestroyed. */
  d_step {
    for (i : 0 .. NR - 1) {
      assert(use[i] == 0 && obj[i] == 2 && !chunk[i] && !hlock[i])
    }
    for (i : 0 .. NE - 1) {
      assert(emem[i] != ALLOC);
      assert(emem[i] == UNUSED || payload[i] == P_GONE)
    }
    assert(core_mem == FREED && inbox == CLOSED && kref == NONE)
  }
}
