//! The per-type cache of dynamic dispatch resolutions (rule D1, D2).
//!
//! Key: the called interface method (declaring interface uid, slot). Value: the body the
//! hook's implementation interface gives for it. Only successes are stored.
//!
//! # Structure
//!
//! An insert-only, open-addressed hash table. Each slot is an atomic word holding the key's
//! interface uid (0: empty) and a cell holding the entry. A reader loads the one atomic
//! pointer to the current table, hashes the key, walks the probe sequence and stops at the
//! first empty slot: no lock, no allocation, no reference counting, and three dependent
//! loads (table, slot key, entry) before the body's thin entry point is called.
//!
//! Invariant **slot publication**: a slot's entry is written once, by the writer, *before*
//! its key word is stored with `Release`; a reader reads the entry only after loading a
//! non-zero key with `Acquire`; an entry is never written again nor dropped while the cache
//! lives. So a reader that matches a key reads that key's whole entry (no torn entry) and
//! a hit stays a hit (broken variant `RelaxedSlotKey`).
//!
//! Writers serialize on a per-type mutex, re-check under it and publish only if the key is
//! still absent: the first published resolution wins and every racing resolver returns it.
//! Hooks never run under that mutex.
//!
//! # Growth and reclamation
//!
//! The table keeps its load factor at or below one half. To grow, the writer fills a table
//! of twice the size with every entry, then stores the pointer to it with `Release`;
//! readers load it with `Acquire`, so the new table is complete when seen.
//!
//! Invariant **retired tables live as long as the cache**: every table ever published is
//! owned by the writer's list and freed only when the cache itself is dropped (which needs
//! `&mut`, so no reader can still be inside it). A reader that still holds an older table
//! keeps reading valid (if older) data, with no epoch or hazard-pointer scheme. Because
//! each table doubles, all of them together take less than twice the last one.
//!
//! # Flushing (live reload)
//!
//! A flush empties the cache so that the next call asks the hook again. A reader of the
//! tables above borrows the entry it found for as long as the body it serves runs, so those
//! tables can never be freed early. The first flush therefore switches the cache to a
//! second mode for good: `current` is set to null (every borrowing reader misses and goes
//! to [`find`](DispatchCache::find)), and the tables published from then on hang off
//! `flushable`. Their readers register with the cache's [`Grace`] (see `crate::reload`),
//! clone the resolution they find (two `Arc` counts) and leave before running it, so a
//! flush retires the flushable table and frees it once no registered reader can still be
//! inside (invariant **flushed tables are freed after their grace period**, broken variant
//! `FreeWithoutGrace`). The tables of the first mode stay until the cache drops (bounded:
//! less than twice the largest); a cache never flushed pays nothing for any of this, its
//! readers never look at `flushable`. A call in flight finishes with the body it found.
//!
//! # Model checking
//!
//! Under `--cfg loom` the atomics, the mutex and the cells come from loom (see `sync`), and
//! every table carries a loom leak tracker, so `loom-tests/` checks this protocol across
//! interleavings: loom's `UnsafeCell` reports an entry read without the happens-before
//! edge of slot publication, and its leak check a table not freed with its class. With
//! `--cfg dynacast_broken` as well, the steps marked "broken variant" below can be switched
//! off one at a time (`sync::broken`) to prove the models notice.
//!
//! rule A2 measured an insert-only atomic table at about 1.6× a direct call against 3.1×
//! for `arc_swap::Cache` + hashbrown and 8.8× for `ArcSwap::load` + hashbrown, which is
//! why the read path is this table and not a snapshot map.

use std::ptr;

use crate::host::{Body, Host};
use crate::interface::{InterfaceRef, MethodKey};
use crate::reload::{Grace, Retired};
#[cfg(dynacast_broken)]
use crate::sync::broken::{self, Variant};
use crate::sync::{lock, AtomicPtr, AtomicU64, Mutex, Ordering, UnsafeCell};

/// log2 of the first table's size.
const FIRST_SIZE_LOG2: u32 = 3;
/// log2 of the largest table (2^32 slots, far more than any type has methods); past it
/// a resolution is returned without being stored.
const MAX_SIZE_LOG2: u32 = 32;

/// A cached resolution as a reader gets it: borrowed from a table that lives as long as the
/// cache, or cloned out of a flushable one (see "Flushing" in the module docs).
pub(crate) enum Hit<'a, H: Host> {
    Shared(&'a Resolved<H>),
    Owned(Resolved<H>),
}

impl<H: Host> Hit<'_, H> {
    pub(crate) fn resolved(&self) -> &Resolved<H> {
        match self {
            Hit::Shared(r) => r,
            Hit::Owned(r) => r,
        }
    }
}

/// A successful dynamic resolution.
pub(crate) struct Resolved<H: Host> {
    pub(crate) body: Body<H>,
    /// The implementation interface the hook named (for `ClassRef::cached_implementation`).
    pub(crate) implementation: InterfaceRef<H>,
}

impl<H: Host> Clone for Resolved<H> {
    fn clone(&self) -> Self {
        Resolved {
            body: self.body.clone(),
            implementation: self.implementation.clone(),
        }
    }
}

struct Entry<H: Host> {
    /// The key's slot (its interface uid is the slot's key word).
    slot: u32,
    resolved: Resolved<H>,
}

/// One slot: see "slot publication" in the module docs. A cache line each, so a hit reads
/// one line and the slot array's alignment leaves six low address bits for the tag (see
/// `DispatchCache::current`).
#[repr(align(64))]
struct Slot<H: Host> {
    /// The key's interface uid once the entry is written; 0 (never a uid) while empty.
    iface: AtomicU64,
    /// `None` until `fill`; dropped with the slot (an `Option` rather than `MaybeUninit`
    /// so that dropping needs no access loom would check against the readers: the class
    /// that owns the table is freed through std `Arc`s, whose synchronization loom does
    /// not see).
    entry: UnsafeCell<Option<Entry<H>>>,
}

impl<H: Host> Slot<H> {
    fn empty() -> Self {
        Slot {
            iface: AtomicU64::new(0),
            entry: UnsafeCell::new(None),
        }
    }

    /// The entry, if the slot is filled, and its key's interface uid.
    #[inline(always)]
    fn get(&self) -> Option<(u64, &Entry<H>)> {
        let iface = self.iface.load(Ordering::Acquire);
        if iface == 0 {
            return None;
        }
        // SAFETY: invariant "slot publication": a non-zero key was stored with `Release`
        // after the entry was written, this `Acquire` load saw it, so the write happens-
        // before this read; the entry is never written again or dropped while `&self`
        // lives (only `Drop`, with `&mut`, drops it, and `free_after_grace` empties it
        // once no reader can be inside). loom's cell checks the edge. So the entry is
        // there: `unwrap_unchecked` spares the hot path a second test.
        let entry = self
            .entry
            .with(|p| unsafe { (*p).as_ref().unwrap_unchecked() });
        Some((iface, entry))
    }

    /// Writes the entry and publishes it. Only the writer (holding the cache's mutex)
    /// calls this, on a slot it saw empty, so no one else writes or reads the cell.
    fn fill(&self, iface: u64, entry: Entry<H>) -> &Entry<H> {
        // SAFETY: the slot is empty (key 0) and only the writer, serialized by the cache's
        // mutex, fills slots: no reader reads the cell before the key below is non-zero,
        // and no other writer touches it (invariant "slot publication").
        let stored: *const Entry<H> = self.entry.with_mut(|p| unsafe { (*p).insert(entry) });
        self.iface.store(iface, slot_release());
        // SAFETY: written just above and never written again while `&self` lives; see `get`.
        unsafe { &*stored }
    }
}

/// `Release`: what "slot publication" relies on (broken variant `RelaxedSlotKey`).
fn slot_release() -> Ordering {
    #[cfg(dynacast_broken)]
    if broken::is(Variant::RelaxedSlotKey) {
        return Ordering::Relaxed;
    }
    Ordering::Release
}

/// The low address bits of a slot array that hold its log2 size in `current`.
const TAG_BITS: usize = 63;

/// Fibonacci hashing of a key: keys are small sequential ids, which the multiply spreads
/// evenly; a table of 2^n slots takes the top n bits as the home slot.
#[inline(always)]
pub(crate) fn key_hash(key: MethodKey) -> u64 {
    let mixed = key.iface ^ (u64::from(key.slot) << 40);
    mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A published table, borrowed: its slots (a power of two of them).
struct Table<'a, H: Host> {
    slots: &'a [Slot<H>],
    /// log2 of `slots.len()`, at least `FIRST_SIZE_LOG2`.
    log2: u32,
}

impl<H: Host> Clone for Table<'_, H> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<H: Host> Copy for Table<'_, H> {}

impl<'a, H: Host> Table<'a, H> {
    /// The home slot of `key`: the top `log2` bits of its [`key_hash`].
    #[inline(always)]
    fn home(self, key: MethodKey) -> usize {
        self.home_of(key_hash(key))
    }

    /// The home slot of a key whose [`key_hash`] is `hash`.
    #[inline(always)]
    fn home_of(self, hash: u64) -> usize {
        (hash >> (64 - self.log2)) as usize
    }

    fn mask(self) -> usize {
        self.slots.len() - 1
    }

    /// `key`'s entry if it sits in its home slot (the usual case at a load factor of 1/2);
    /// `hash` is `key_hash(key)`.
    #[inline(always)]
    fn find_at_home(self, key: MethodKey, hash: u64) -> Option<&'a Resolved<H>> {
        let home = self.home_of(hash);
        debug_assert!(home < self.slots.len());
        // SAFETY: `home_of` keeps the top `log2` bits of the hash, a number below
        // 2^log2, the table's length (`untag_non_null`).
        let (iface, entry) = unsafe { self.slots.get_unchecked(home) }.get()?;
        (iface == key.iface && entry.slot == key.slot).then_some(&entry.resolved)
    }

    fn find(self, key: MethodKey) -> Option<&'a Resolved<H>> {
        let mut i = self.home(key);
        // The load factor stays at or below 1/2, so an empty slot always ends the walk;
        // the bound only makes that obvious.
        for _ in 0..self.slots.len() {
            let (iface, entry) = self.slots.get(i)?.get()?;
            if iface == key.iface && entry.slot == key.slot {
                return Some(&entry.resolved);
            }
            i = (i + 1) & self.mask();
        }
        None
    }

    /// Fills the first empty slot of `key`'s probe sequence. Only the writer (holding the
    /// cache's mutex) calls this, so the slot it finds empty is still empty when it fills
    /// it. `Err` gives `resolved` back if the probe sequence has no empty slot (never at a
    /// load factor of 1/2).
    fn insert(self, key: MethodKey, resolved: Resolved<H>) -> Result<&'a Resolved<H>, Resolved<H>> {
        let mut i = self.home(key);
        for _ in 0..self.slots.len() {
            let Some(slot) = self.slots.get(i) else { break };
            if slot.get().is_none() {
                let entry = Entry {
                    slot: key.slot,
                    resolved,
                };
                return Ok(&slot.fill(key.iface, entry).resolved);
            }
            i = (i + 1) & self.mask();
        }
        Err(resolved)
    }

    fn entries(self) -> impl Iterator<Item = (MethodKey, &'a Resolved<H>)> {
        self.slots.iter().filter_map(|s| {
            s.get().map(|(iface, e)| {
                (
                    MethodKey {
                        iface,
                        slot: e.slot,
                    },
                    &e.resolved,
                )
            })
        })
    }
}

/// A table's slots, owned by the writer's list from its allocation until the cache drops
/// (or, for a flushable table, until its grace period ends).
struct OwnedTable<H: Host> {
    /// From `Box::into_raw`; readers borrow it through `current` without the lock.
    slots: *mut [Slot<H>],
    log2: u32,
    /// Lets loom report a table that outlives its model (a leak).
    #[cfg(loom)]
    _alive: loom::alloc::Track<()>,
}

impl<H: Host> OwnedTable<H> {
    fn new(log2: u32) -> Self {
        let slots: Box<[Slot<H>]> = (0..1usize << log2).map(|_| Slot::empty()).collect();
        OwnedTable {
            slots: Box::into_raw(slots),
            log2,
            #[cfg(loom)]
            _alive: loom::alloc::Track::new(()),
        }
    }
}

impl<H: Host> OwnedTable<H> {
    /// The table, borrowed for as long as `self`.
    fn table(&self) -> Table<'_, H> {
        Table {
            // SAFETY: `slots` came from `Box::into_raw` in `new` and is freed only by
            // `drop`, which the borrow of `self` excludes.
            slots: unsafe { &*self.slots },
            log2: self.log2,
        }
    }

    /// The address readers load: the first slot, tagged with the log2 size in the low bits
    /// the slots' 64-byte alignment leaves zero (log2 ≤ 32 < 64).
    fn tagged(&self) -> *mut Slot<H> {
        self.slots
            .cast::<Slot<H>>()
            .cast::<u8>()
            .wrapping_add(self.log2 as usize)
            .cast::<Slot<H>>()
    }

    /// Frees a flushable table whose grace period is over. Its entries are taken out
    /// through the cells first, so that under loom a reader still inside (broken variant
    /// `FreeWithoutGrace`) is reported as a race with this write.
    fn free_after_grace(self) {
        for slot in self.table().slots {
            // SAFETY: invariant "flushed tables are freed after their grace period": no
            // registered reader can still be inside this table, and writers retired it
            // under the cache's mutex, so no one else touches the cell.
            drop(slot.entry.with_mut(|p| unsafe { (*p).take() }));
        }
    }
}

impl<H: Host> Drop for OwnedTable<H> {
    fn drop(&mut self) {
        // SAFETY: invariant "retired tables live as long as the cache" (or, for a flushable
        // table, "flushed tables are freed after their grace period"): `slots` came from
        // `Box::into_raw` in `new`, this is its only owner, and an `OwnedTable` is dropped
        // only with the cache (`&mut`), when no reader holds a table any more, or after
        // its grace period (`DispatchCache::flush`).
        drop(unsafe { Box::from_raw(self.slots) });
    }
}

// SAFETY: an `OwnedTable` owns its slots like a `Box<[Slot]>` would. Slots hold `Resolved`
// values (bodies and interface handles, `Send + Sync`), and shared access to a slot's
// cell follows the slot-publication protocol (one writer under the cache's mutex, readers
// after an `Acquire` of a non-zero key).
unsafe impl<H: Host> Send for OwnedTable<H> {}
// SAFETY: see `Send`.
unsafe impl<H: Host> Sync for OwnedTable<H> {}

/// What the writer's mutex guards: the entry count and every table ever published.
struct Writer<H: Host> {
    len: usize,
    /// The tables of `current` (all of them, until the cache drops).
    tables: Vec<OwnedTable<H>>,
    /// Set by the first flush, for good: publish into `flushable` from then on.
    flushed: bool,
    /// The table `flushable` points to, if any.
    live: Option<OwnedTable<H>>,
    /// Flushable tables replaced (by a flush or by growth), freed after their grace.
    retired: Vec<Retired<OwnedTable<H>>>,
}

/// The dynamic-resolution cache of one class.
pub(crate) struct DispatchCache<H: Host> {
    /// The newest table: the address of its first slot plus its log2 size (in the low
    /// bits that the slots' 64-byte alignment leaves zero), so one load gives both; null
    /// until the first publish.
    current: AtomicPtr<Slot<H>>,
    /// After the first flush: the newest table, tagged like `current`, read only under
    /// `grace` (see "Flushing" in the module docs); null while empty.
    flushable: AtomicPtr<Slot<H>>,
    grace: Grace,
    /// Serializes writers.
    writer: Mutex<Writer<H>>,
    /// Broken variant `ReserveAcrossHook` only: the class's resolution is reserved.
    #[cfg(dynacast_broken)]
    reserved: crate::sync::AtomicUsize,
}

impl<H: Host> DispatchCache<H> {
    pub(crate) fn new() -> Self {
        DispatchCache {
            current: AtomicPtr::new(ptr::null_mut()),
            flushable: AtomicPtr::new(ptr::null_mut()),
            grace: Grace::new(),
            writer: Mutex::new(Writer {
                len: 0,
                tables: Vec::new(),
                flushed: false,
                live: None,
                retired: Vec::new(),
            }),
            #[cfg(dynacast_broken)]
            reserved: crate::sync::AtomicUsize::new(0),
        }
    }

    /// The current table, if any.
    #[inline(always)]
    fn table(&self) -> Option<Table<'_, H>> {
        // Acquire pairs with the Release in `install`: the table we read was completely
        // filled before its pointer was stored.
        let tagged = self.current.load(Ordering::Acquire);
        // SAFETY: invariant "retired tables live as long as the cache": a non-null
        // `current` is a table (tagged in `install`) that the writer's list owns until the
        // cache is dropped, and the borrow cannot outlive `&self`.
        unsafe { untag(tagged) }
    }

    /// The cached resolution of `key` in either mode (see "Flushing" in the module docs):
    /// borrowed from `current`, else cloned out of `flushable` under the grace period.
    pub(crate) fn find(&self, key: MethodKey) -> Option<Hit<'_, H>> {
        if let Some(hit) = self.get(key) {
            return Some(Hit::Shared(hit));
        }
        let _reader = self.grace.enter();
        // Loaded after `enter` (its fence): the table stays allocated while `_reader` lives.
        let tagged = self.flushable.load(Ordering::Acquire);
        // SAFETY: invariant "flushed tables are freed after their grace period": a table
        // loaded from `flushable` by a registered reader is freed only after that reader
        // leaves, and the borrow ends with this function (the resolution is cloned out).
        let table = unsafe { untag(tagged) }?;
        table.find(key).cloned().map(Hit::Owned)
    }

    /// Empties the cache: the next call of any method asks the hook again. Calls in flight
    /// keep the resolution they found. Never waits; frees what no reader can hold any more.
    pub(crate) fn flush(&self) {
        let freed = {
            let mut writer = lock(&self.writer);
            if !writer.flushed {
                writer.flushed = true;
                // Its tables stay in `writer.tables`: borrowing readers may be inside.
                self.current.store(ptr::null_mut(), Ordering::Release);
            }
            self.flushable.store(ptr::null_mut(), Ordering::Release);
            if let Some(live) = writer.live.take() {
                writer.retired.push(Grace::retire(live));
            }
            writer.len = 0;
            self.grace.reclaim(&mut writer.retired)
        };
        // Outside the lock: the entries hold user bodies.
        for table in freed {
            table.free_after_grace();
        }
    }

    /// How many flushable tables wait for their grace period (for tests of memory bounds).
    pub(crate) fn retired_tables(&self) -> usize {
        lock(&self.writer).retired.len()
    }

    /// The fast path of [`get`](Self::get), inlined into `Object::call`: the cached
    /// resolution of `key` if it sits in its home slot. `None` says nothing: ask `get`.
    /// `hash` is [`key_hash`]`(key)`, which `MethodRef` computes once (the multiply off
    /// the call path).
    #[inline(always)]
    pub(crate) fn get_at_home(&self, key: MethodKey, hash: u64) -> Option<&Resolved<H>> {
        #[cfg(dynacast_broken)]
        if broken::is(Variant::NeverHit) || broken::is(Variant::ReserveAcrossHook) {
            return None;
        }
        let tagged = self.current.load(Ordering::Acquire);
        if tagged.is_null() {
            return None;
        }
        // SAFETY: as in `table`; `tagged` is not null (checked here, once: going through
        // `table`'s `Option` tested the untagged address for null a second time).
        unsafe { untag_non_null(tagged) }.find_at_home(key, hash)
    }

    /// The cached resolution of `key`, if any. Lock-free and allocation-free.
    #[inline]
    pub(crate) fn get(&self, key: MethodKey) -> Option<&Resolved<H>> {
        #[cfg(dynacast_broken)]
        if broken::is(Variant::NeverHit) {
            return None;
        }
        let found = self.lookup(key);
        #[cfg(dynacast_broken)]
        if found.is_none() && broken::is(Variant::ReserveAcrossHook) {
            self.reserve();
        }
        found
    }

    #[inline]
    fn lookup(&self, key: MethodKey) -> Option<&Resolved<H>> {
        self.table()?.find(key)
    }

    /// Publishes `resolved` for `key` unless a resolution is already there, and returns the
    /// one that is (first published wins). `Err` gives `resolved` back in the one case it
    /// cannot be stored: the table would exceed its largest size.
    pub(crate) fn publish(
        &self,
        key: MethodKey,
        resolved: Resolved<H>,
    ) -> Result<Hit<'_, H>, Resolved<H>> {
        #[cfg_attr(dynacast_broken, allow(unused_mut))] // shadowed below
        let mut writer = lock(&self.writer);
        if writer.flushed {
            return self.publish_flushable(writer, key, resolved);
        }
        // Writers serialize on `writer` (broken variant `NoWriterLock`: the count is read
        // and written back under brief locks, and the rest runs unserialized).
        #[cfg(dynacast_broken)]
        let unserialized = Mutex::new(Writer {
            len: writer.len,
            tables: Vec::new(),
            flushed: false,
            live: None,
            retired: Vec::new(),
        });
        #[cfg(dynacast_broken)]
        let broken_unserialized = broken::is(Variant::NoWriterLock);
        #[cfg(dynacast_broken)]
        let mut writer = if broken_unserialized {
            drop(writer);
            lock(&unserialized)
        } else {
            writer
        };
        #[cfg(dynacast_broken)]
        let _release = Unreserve(self);
        // Re-check under the lock: a racing writer may have published `key` since our miss
        // (broken variant `NoRecheck`).
        #[cfg(dynacast_broken)]
        let recheck = !broken::is(Variant::NoRecheck);
        #[cfg(not(dynacast_broken))]
        let recheck = true;
        if let Some(existing) = self.lookup(key).filter(|_| recheck) {
            // Our resolution lost the race. It may hold the last reference to an
            // implementation interface the hook built just now, whose bodies are user
            // code: it must die after the guard. (A parameter is dropped after the locals
            // anyway; the explicit order keeps that true if this code is reshaped.
            // tests/adversarial.rs: a_lost_publish_race_drops_its_resolution_outside_the_cache_lock.)
            drop(writer);
            drop(resolved);
            return Ok(Hit::Shared(existing));
        }
        // Only writers change `current`, and we are the only writer now.
        let table = match self.table() {
            None => self.install(&mut writer, FIRST_SIZE_LOG2, None),
            Some(t) if (writer.len + 1) * 2 > t.slots.len() => {
                if t.log2 + 1 > MAX_SIZE_LOG2 {
                    return Err(resolved);
                }
                self.install(&mut writer, t.log2 + 1, Some(t))
            }
            Some(t) => t,
        };
        let stored = table.insert(key, resolved)?;
        writer.len += 1;
        #[cfg(dynacast_broken)]
        if broken_unserialized {
            let mut real = lock(&self.writer);
            real.len = writer.len;
            real.tables.append(&mut writer.tables);
        }
        Ok(Hit::Shared(stored))
    }

    /// [`publish`](Self::publish) after the first flush: into `flushable`, returning a
    /// clone (readers may not borrow a table a flush can free).
    fn publish_flushable(
        &self,
        mut writer: crate::sync::MutexGuard<'_, Writer<H>>,
        key: MethodKey,
        resolved: Resolved<H>,
    ) -> Result<Hit<'_, H>, Resolved<H>> {
        // The writer lock is held: the live table cannot be retired under us.
        if let Some(existing) = writer.live.as_ref().and_then(|t| t.table().find(key)) {
            let existing = existing.clone();
            drop(writer);
            drop(resolved); // after the guard: it may hold user code (see `publish`)
            return Ok(Hit::Owned(existing));
        }
        let grow_to = match &writer.live {
            None => Some(FIRST_SIZE_LOG2),
            Some(t) if (writer.len + 1) * 2 > 1usize << t.log2 => Some(t.log2 + 1),
            Some(_) => None,
        };
        if let Some(log2) = grow_to {
            if log2 > MAX_SIZE_LOG2 {
                drop(writer);
                return Err(resolved);
            }
            let grown = OwnedTable::new(log2);
            if let Some(old) = &writer.live {
                for (k, r) in old.table().entries() {
                    let _ = grown.table().insert(k, r.clone());
                }
            }
            // Release pairs with the Acquire in `find`: the table is filled when seen.
            self.flushable.store(grown.tagged(), Ordering::Release);
            if let Some(old) = writer.live.replace(grown) {
                writer.retired.push(Grace::retire(old));
            }
        }
        // `live` is set: it was, or it was just grown.
        let Some(live) = writer.live.as_ref() else {
            drop(writer);
            return Err(resolved);
        };
        let stored = match live.table().insert(key, resolved) {
            Ok(stored) => stored.clone(),
            Err(unstored) => {
                drop(writer);
                return Err(unstored);
            }
        };
        writer.len += 1;
        let freed = self.grace.reclaim(&mut writer.retired);
        drop(writer);
        for table in freed {
            table.free_after_grace();
        }
        Ok(Hit::Owned(stored))
    }

    /// Allocates a table of 2^`log2` slots, fills it with `old`'s entries, hands it to
    /// the writer's list and publishes it.
    fn install(
        &self,
        writer: &mut Writer<H>,
        log2: u32,
        old: Option<Table<'_, H>>,
    ) -> Table<'_, H> {
        let owned = OwnedTable::new(log2);
        // SAFETY: just allocated, and owned by the writer's list (below) until the cache
        // drops, so the borrow may live as long as `&self` (invariant "retired tables live
        // as long as the cache").
        let table = Table {
            slots: unsafe { &*owned.slots },
            log2,
        };
        let tagged = owned.tagged();
        writer.tables.push(owned);
        // Fill before publishing (broken variant `PublishBeforeFill`).
        #[cfg(dynacast_broken)]
        if broken::is(Variant::PublishBeforeFill) {
            self.current.store(tagged, Ordering::Release);
        }
        if let Some(old) = old {
            for (key, resolved) in old.entries() {
                let _ = table.insert(key, resolved.clone());
            }
        }
        // Release pairs with the Acquire in `table` (broken variant `RelaxedGeneration`).
        #[cfg(dynacast_broken)]
        let release = if broken::is(Variant::RelaxedGeneration) {
            Ordering::Relaxed
        } else {
            Ordering::Release
        };
        #[cfg(not(dynacast_broken))]
        let release = Ordering::Release;
        self.current.store(tagged, release);
        table
    }

    /// Broken variant `ReserveAcrossHook`: waits until no other resolution of this class is
    /// under way, then reserves it until the next publish.
    #[cfg(dynacast_broken)]
    fn reserve(&self) {
        while self
            .reserved
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            loom::thread::yield_now();
        }
    }

    /// Number of cached resolutions.
    pub(crate) fn len(&self) -> usize {
        lock(&self.writer).len
    }
}

/// Broken variant `ReserveAcrossHook`: a publish releases the reservation.
#[cfg(dynacast_broken)]
struct Unreserve<'a, H: Host>(&'a DispatchCache<H>);

#[cfg(dynacast_broken)]
impl<H: Host> Drop for Unreserve<'_, H> {
    fn drop(&mut self) {
        if broken::is(Variant::ReserveAcrossHook) {
            self.0.reserved.store(0, Ordering::Release);
        }
    }
}

/// The table a tagged pointer (`OwnedTable::tagged`) stands for; `None` for null.
///
/// # Safety
///
/// A non-null `tagged` must come from `OwnedTable::tagged` of a table that stays allocated
/// for `'a`.
#[inline(always)]
unsafe fn untag<'a, H: Host>(tagged: *mut Slot<H>) -> Option<Table<'a, H>> {
    if tagged.is_null() {
        return None;
    }
    // SAFETY: the caller's contract, and `tagged` is not null.
    Some(unsafe { untag_non_null(tagged) })
}

/// [`untag`] of an address known not to be null.
///
/// # Safety
///
/// `tagged` must come from `OwnedTable::tagged` of a table that stays allocated for `'a`.
#[inline(always)]
unsafe fn untag_non_null<'a, H: Host>(tagged: *mut Slot<H>) -> Table<'a, H> {
    let log2 = tagged as usize & TAG_BITS;
    let first = tagged.cast::<u8>().wrapping_sub(log2).cast::<Slot<H>>();
    // SAFETY: the caller's contract: `first` is the first of 2^log2 slots alive for `'a`.
    let slots = unsafe { std::slice::from_raw_parts(first, 1usize << log2) };
    Table {
        slots,
        log2: log2 as u32,
    }
}
