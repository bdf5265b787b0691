//! The per-type cache of dynamic dispatch resolutions (SPEC D1, D2).
//!
//! Key: the called interface method (declaring interface uid, slot). Value: the body the
//! hook's implementation interface gives for it. Only successes are stored.
//!
//! # Structure
//!
//! An insert-only, open-addressed hash table whose slots are once-cells. A reader hashes the
//! key, walks the probe sequence and stops at the first empty slot: no lock, no allocation,
//! no reference counting. A slot, once filled, never changes, so a reader that matches a key
//! reads that key's value (no torn entry) and a hit stays a hit.
//!
//! Writers serialize on a per-type mutex, re-check under it and publish only if the key is
//! still absent: the first published resolution wins and every racing resolver returns it.
//! Hooks never run under that mutex.
//!
//! # Growth and reclamation
//!
//! The table keeps its load factor at or below one half. To grow, the writer fills a table
//! of twice the size with every entry, then publishes its generation number with `Release`;
//! readers load it with `Acquire`, so the new table is complete when seen. Old generations
//! stay alive, untouched, until the class itself is dropped: a reader that still holds one
//! keeps reading valid (if older) data, with no epoch or hazard-pointer scheme. Because each
//! generation doubles, all of them together take less than twice the last one.
//!
//! # Model checking
//!
//! Under `--cfg loom` the atomics, the mutex and the once-cells come from loom (see
//! `sync`), and every table carries a loom leak tracker, so `loom-tests/` checks this
//! protocol across interleavings. With `--cfg dynacast_broken` as well, the steps marked
//! "broken variant" below can be switched off one at a time (`sync::broken`) to prove the
//! models notice.
//!
//! SPEC §5 measured an insert-only atomic table at about 1.6× a direct call against 3.1×
//! for `arc_swap::Cache` + hashbrown and 8.8× for `ArcSwap::load` + hashbrown, which is
//! why the read path is this table and not a snapshot map.

use crate::host::{Body, Host};
use crate::interface::{InterfaceRef, MethodKey};
#[cfg(dynacast_broken)]
use crate::sync::broken::{self, Variant};
use crate::sync::{lock, AtomicUsize, Mutex, OnceLock, Ordering};

/// log2 of the first table's size.
const FIRST_SIZE_LOG2: u32 = 3;
/// Generations of tables; the last holds 2^(3+23) (67 million) slots, far more than any
/// type has methods. They sit inline in the cache (24 once-cells of a few words each), so a
/// lookup finds the current table's cell by address arithmetic instead of a pointer load.
const GENERATIONS: usize = 24;

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
    key: MethodKey,
    resolved: Resolved<H>,
}

struct Table<H: Host> {
    slots: Box<[OnceLock<Entry<H>>]>,
    /// 64 − log2(size): the hash's top bits pick the home slot.
    shift: u32,
    /// Lets loom report a table that outlives its model (a leak).
    #[cfg(loom)]
    _alive: loom::alloc::Track<()>,
}

impl<H: Host> Table<H> {
    fn with_size_log2(log2: u32) -> Self {
        Table {
            slots: (0..1usize << log2).map(|_| OnceLock::new()).collect(),
            shift: 64 - log2,
            #[cfg(loom)]
            _alive: loom::alloc::Track::new(()),
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Fibonacci hashing: keys are small sequential ids, which the multiply spreads evenly.
    #[inline]
    fn home(&self, key: MethodKey) -> usize {
        let mixed = key.iface ^ (u64::from(key.slot) << 40);
        (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn find(&self, key: MethodKey) -> Option<&Resolved<H>> {
        let mut i = self.home(key);
        // The load factor stays at or below 1/2, so an empty slot always ends the walk;
        // the bound only makes that obvious.
        for _ in 0..self.slots.len() {
            match self.slots[i].get() {
                None => return None,
                Some(e) if e.key == key => return Some(&e.resolved),
                Some(_) => i = (i + 1) & self.mask(),
            }
        }
        None
    }

    /// Fills the first empty slot of `key`'s probe sequence. Only the writer (holding the
    /// cache's mutex) calls this, so the slot it finds empty is still empty when it sets it.
    fn insert(&self, key: MethodKey, resolved: Resolved<H>) -> &Resolved<H> {
        let mut i = self.home(key);
        loop {
            let slot = &self.slots[i];
            if slot.get().is_none() {
                return &slot.get_or_init(|| Entry { key, resolved }).resolved;
            }
            i = (i + 1) & self.mask();
        }
    }

    fn entries(&self) -> impl Iterator<Item = &Entry<H>> {
        self.slots.iter().filter_map(|s| s.get())
    }
}

/// The dynamic-resolution cache of one class.
pub(crate) struct DispatchCache<H: Host> {
    /// Index of the newest table in `tables`.
    current: AtomicUsize,
    /// Inline, not boxed: one dependent load fewer on every lookup.
    tables: [OnceLock<Table<H>>; GENERATIONS],
    /// Serializes writers; holds the number of entries.
    writer: Mutex<usize>,
    /// Broken variant `ReserveAcrossHook` only: the class's resolution is reserved.
    #[cfg(dynacast_broken)]
    reserved: crate::sync::AtomicUsize,
}

impl<H: Host> DispatchCache<H> {
    pub(crate) fn new() -> Self {
        DispatchCache {
            current: AtomicUsize::new(0),
            tables: std::array::from_fn(|_| OnceLock::new()),
            writer: Mutex::new(0),
            #[cfg(dynacast_broken)]
            reserved: AtomicUsize::new(0),
        }
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
        // Acquire pairs with the Release in `grow`: the table of the generation we read
        // was completely filled before that generation was published.
        let generation = self.current.load(Ordering::Acquire);
        self.tables.get(generation)?.get()?.find(key)
    }

    /// Publishes `resolved` for `key` unless a resolution is already there, and returns the
    /// one that is (first published wins). `Err` gives `resolved` back in the one case it
    /// cannot be stored: every generation is full.
    pub(crate) fn publish(
        &self,
        key: MethodKey,
        resolved: Resolved<H>,
    ) -> Result<&Resolved<H>, Resolved<H>> {
        #[cfg_attr(dynacast_broken, allow(unused_mut))] // shadowed below
        let mut len = lock(&self.writer);
        // Writers serialize on `writer` (broken variant `NoWriterLock`: the count is read
        // and written back under brief locks, and the rest runs unserialized).
        #[cfg(dynacast_broken)]
        let unserialized = Mutex::new(*len);
        #[cfg(dynacast_broken)]
        let mut len = if broken::is(Variant::NoWriterLock) {
            drop(len);
            lock(&unserialized)
        } else {
            len
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
            return Ok(existing);
        }
        // Only writers change `current`, and we are the only writer now.
        let mut generation = self.current.load(Ordering::Relaxed);
        let mut table =
            self.tables[generation].get_or_init(|| Table::with_size_log2(FIRST_SIZE_LOG2));
        if (*len + 1) * 2 > table.slots.len() {
            if generation + 1 == GENERATIONS {
                return Err(resolved);
            }
            table = self.grow(table, generation);
            generation += 1;
        }
        let stored = table.insert(key, resolved);
        *len += 1;
        #[cfg(dynacast_broken)]
        if broken::is(Variant::NoWriterLock) {
            *lock(&self.writer) = *len;
        }
        debug_assert_eq!(self.current.load(Ordering::Relaxed), generation);
        Ok(stored)
    }

    /// Copies every entry into a table twice the size and publishes it.
    fn grow(&self, old: &Table<H>, generation: usize) -> &Table<H> {
        let log2 = 64 - old.shift + 1;
        let next = self.tables[generation + 1].get_or_init(|| Table::with_size_log2(log2));
        // Fill before publishing (broken variant `PublishBeforeFill`).
        #[cfg(dynacast_broken)]
        if broken::is(Variant::PublishBeforeFill) {
            self.current.store(generation + 1, Ordering::Release);
        }
        for e in old.entries() {
            next.insert(e.key, e.resolved.clone());
        }
        // Release pairs with the Acquire in `lookup` (broken variant `RelaxedGeneration`).
        #[cfg(dynacast_broken)]
        let release = if broken::is(Variant::RelaxedGeneration) {
            Ordering::Relaxed
        } else {
            Ordering::Release
        };
        #[cfg(not(dynacast_broken))]
        let release = Ordering::Release;
        self.current.store(generation + 1, release);
        next
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
        *lock(&self.writer)
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
