//! Live reload's shared pieces: the grace period that lets a flush free what readers may
//! still hold, and how call sites learn of a flush or a takeover.
//!
//! # Grace periods, without waiting
//!
//! A flushed dispatch cache must free the table it replaces, yet a reader on another
//! thread may be inside it, and a flush may even run inside a body (or a hook) that is
//! itself such a reader: a flush that waited for readers could wait for itself. So nothing
//! here waits. A [`Grace`] is two reader counters, SRCU-style:
//!
//! - a reader picks the counter of the current epoch's parity, increments it, issues a
//!   `SeqCst` fence, and only then loads the pointer it will read through; it decrements
//!   the same counter (`Release`) when it is done ([`Grace::enter`], [`ReadGuard`]);
//! - a writer first unpublishes what it retires (a pointer store), issues a `SeqCst` fence,
//!   then looks at the counters ([`Grace::reclaim`]): a counter seen at zero after the
//!   fence has no reader left that could have loaded the retired pointer (the two fences
//!   order "reader's increment, reader's load" against "writer's store, writer's look":
//!   either the look sees the increment or the load sees the store). A retired item is
//!   freed once *each* counter has been seen at zero after it was retired; each look also
//!   flips the epoch, so new readers go to the other counter and the busy one drains.
//!
//! Retired items wait for the next `reclaim` (the next flush, the next growth of the
//! table, or the owner's drop), so memory stays bounded by what was retired since the last
//! two looks, whatever the number of flushes: a loop that flushes and calls frees every
//! table but the newest. Readers hold their guard only while they clone what they found
//! (an `Arc` count), never while user code runs.
//!
//! # Call sites
//!
//! Inline caches that key on a class's address (call sites) cannot see a flush or a
//! takeover of that class, so the class tells them: it keeps a weak list of the sites
//! that cached it, and a flush or a takeover makes their entries for it miss
//! (`call_site::SiteRegistry`). A hit checks nothing more than before, so a host that
//! never reloads pays nothing on it.

#[cfg(dynacast_broken)]
use crate::sync::broken::{self, Variant};
use crate::sync::{fence, AtomicUsize, Ordering};

/// Two reader counters and an epoch; see the module docs.
pub(crate) struct Grace {
    readers: [AtomicUsize; 2],
    epoch: AtomicUsize,
}

/// A registered reader: what it loads after [`Grace::enter`] stays allocated until drop.
pub(crate) struct ReadGuard<'a> {
    counter: &'a AtomicUsize,
}

impl Drop for ReadGuard<'_> {
    fn drop(&mut self) {
        // Release: the reader's accesses happen before a writer's `Acquire` look that sees
        // the counter back at zero, and so before the free that follows it.
        self.counter.fetch_sub(1, Ordering::Release);
    }
}

/// An item retired at some point, and which counters have been seen at zero since.
pub(crate) struct Retired<T> {
    item: T,
    drained: [bool; 2],
}

impl Grace {
    pub(crate) fn new() -> Self {
        Grace {
            readers: [AtomicUsize::new(0), AtomicUsize::new(0)],
            epoch: AtomicUsize::new(0),
        }
    }

    /// Registers a reader. Load the pointers to read through only after this returns.
    #[inline]
    pub(crate) fn enter(&self) -> ReadGuard<'_> {
        let parity = self.epoch.load(Ordering::Relaxed) & 1;
        let counter = if parity == 0 {
            &self.readers[0]
        } else {
            &self.readers[1]
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // Pairs with the fence in `reclaim`: see the module docs.
        fence(Ordering::SeqCst);
        ReadGuard { counter }
    }

    /// Wraps an item just unpublished (its pointer already replaced), to hand to `reclaim`.
    pub(crate) fn retire<T>(item: T) -> Retired<T> {
        Retired {
            item,
            drained: [false; 2],
        }
    }

    /// Looks at both counters and moves every item that no reader can hold any more out of
    /// `retired`, for the caller to drop (after releasing its locks: items may hold user
    /// code). Never waits. Call it with the lock that serializes retirements held.
    pub(crate) fn reclaim<T>(&self, retired: &mut Vec<Retired<T>>) -> Vec<T> {
        if retired.is_empty() {
            return Vec::new();
        }
        // Pairs with the fence in `enter`: see the module docs.
        fence(Ordering::SeqCst);
        for (i, counter) in self.readers.iter().enumerate() {
            if counter.load(Ordering::Acquire) == 0 || free_without_grace() {
                for r in retired.iter_mut() {
                    if let Some(d) = r.drained.get_mut(i) {
                        *d = true;
                    }
                }
            }
        }
        // New readers go to the other counter, so the one just looked at can drain.
        self.epoch.fetch_add(1, Ordering::Relaxed);
        let (free, keep): (Vec<_>, Vec<_>) = std::mem::take(retired)
            .into_iter()
            .partition(|r| r.drained == [true; 2]);
        *retired = keep;
        free.into_iter().map(|r| r.item).collect()
    }
}

/// Broken variant `FreeWithoutGrace`: every counter counts as drained.
fn free_without_grace() -> bool {
    #[cfg(dynacast_broken)]
    if broken::is(Variant::FreeWithoutGrace) {
        return true;
    }
    false
}

/// Under loom: a cell with no data whose accesses tell loom that a reader used something
/// (`read`) that a free then releases (`write`): a free that does not happen after the
/// read is reported as a causality violation.
#[cfg(loom)]
pub(crate) struct Alive(crate::sync::UnsafeCell<()>);

// SAFETY: `Alive` holds no data (a unit); its cell is only touched through loom's
// `with`/`with_mut`, whose ordering loom checks, which is the cell's whole purpose.
#[cfg(loom)]
unsafe impl Sync for Alive {}
// SAFETY: see `Sync`.
#[cfg(loom)]
unsafe impl Send for Alive {}

#[cfg(loom)]
impl Alive {
    pub(crate) fn new() -> Self {
        Alive(crate::sync::UnsafeCell::new(()))
    }
    pub(crate) fn read(&self) {
        self.0.with(|_| ());
    }
    pub(crate) fn write(&self) {
        self.0.with_mut(|_| ());
    }
}
