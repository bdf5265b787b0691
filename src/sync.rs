//! The one door through which the engine's concurrency primitives come in.
//!
//! Every atomic, mutex and once-cell whose correctness is a protocol (the per-type dispatch
//! cache, the call-site caches, the name registry, the generic-instance registry, the type
//! uid counter) comes from here, so that the loom model checks in `loom-tests/` can swap in
//! loom's versions under `--cfg loom`: loom then explores the interleavings of *our*
//! protocol on top of them. The normal build gets std's types, unchanged (`UnsafeCell` is
//! std's behind loom's `with`/`with_mut` API, so the dispatch cache's slots are written
//! once and checked by loom's cell tracking under `--cfg loom`).
//!
//! What stays std under `--cfg loom`, and why:
//! - `Arc`s holding immutable data (type definitions, bodies, names, objects): they are
//!   built before they are shared and never written afterwards, so there is no ordering
//!   for loom to check; their publication to other threads goes through the loom-visible
//!   primitives here (a once-cell, a mutex) or through loom's `thread::spawn`.
//! - arc-swap: not a dependency (the README's "Workspace, dependencies, toolchain" says
//!   why). Whoever brings it back adds its loom-visible stand-in here, with the same API.

#[cfg(all(dynacast_broken, not(loom)))]
compile_error!("`--cfg dynacast_broken` only makes sense together with `--cfg loom`");

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard, OnceLock};

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use loom_once::OnceLock;

/// std's `UnsafeCell` with loom's access API (`with`, `with_mut`), so that code written
/// against it is checked by loom's cell tracking under `--cfg loom` (a read without a
/// happens-before edge from the write is reported as a causality violation) and compiles
/// to plain pointer access otherwise.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer for reading.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a pointer for writing.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks a mutex that only engine code holds (never across a user callback). A poisoned
/// lock can then only come from a panic inside our own bookkeeping, which never leaves its
/// data half-written, so the data is still whole and we carry on with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(not(loom))]
static NEXT_UID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

#[cfg(loom)]
loom::lazy_static! {
    static ref NEXT_UID: loom::sync::atomic::AtomicU64 = loom::sync::atomic::AtomicU64::new(1);
}

/// A fresh process-wide unique id for a type or a runtime.
///
/// Under loom the counter restarts with every explored execution: ids feed the dispatch
/// cache's hash, so they must be the same in every execution for loom to replay it.
pub(crate) fn next_uid() -> u64 {
    // Relaxed: uniqueness is all we need, and fetch_add gives it under any ordering.
    NEXT_UID.fetch_add(1, Ordering::Relaxed)
}

/// loom has no `OnceLock`; this one has the part of std's API the engine uses (`new`,
/// `get`, `get_or_init`) and std's guarantee: the value is written before the state says
/// "ready" (`Release`), and a reader that sees "ready" (`Acquire`) sees the whole value.
/// The value lives in a loom `UnsafeCell`, so loom reports a causality violation if a
/// reader could ever read it without that happens-before edge.
#[cfg(loom)]
mod loom_once {
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::{AtomicU8, Ordering};

    const EMPTY: u8 = 0;
    const RUNNING: u8 = 1;
    const READY: u8 = 2;

    pub(crate) struct OnceLock<T> {
        state: AtomicU8,
        value: UnsafeCell<Option<T>>,
    }

    // SAFETY: the same bounds as std's `OnceLock`: the value is handed out as `&T` to
    // every thread (needs `Sync`) and may be initialized on one thread and dropped on
    // another (needs `Send`).
    unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
    // SAFETY: moving the cell moves the value; that needs only `T: Send`.
    unsafe impl<T: Send> Send for OnceLock<T> {}

    impl<T> OnceLock<T> {
        pub(crate) fn new() -> Self {
            OnceLock {
                state: AtomicU8::new(EMPTY),
                value: UnsafeCell::new(None),
            }
        }

        pub(crate) fn get(&self) -> Option<&T> {
            if self.state.load(Ordering::Acquire) != READY {
                return None;
            }
            // SAFETY: READY is stored (Release) only after the one write of the value,
            // which is never written again while `&self` lives; the Acquire above makes
            // that write happen-before this read, and loom's cell checks exactly that.
            // The `&T` may outlive the closure because nothing mutates or moves the value
            // until the cell is dropped, which needs `&mut self`.
            self.value.with(|p| unsafe { (*p).as_ref() })
        }

        pub(crate) fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
            loop {
                if let Some(v) = self.get() {
                    return v;
                }
                match self.state.compare_exchange(
                    EMPTY,
                    RUNNING,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break,
                    // Another thread is initializing: let it run (loom needs the yield to
                    // see that this thread is waiting, not making progress).
                    Err(_) => loom::thread::yield_now(),
                }
            }
            // If `init` panics, the cell goes back to empty, as std's does.
            struct Reset<'a>(&'a AtomicU8);
            impl Drop for Reset<'_> {
                fn drop(&mut self) {
                    self.0.store(EMPTY, Ordering::Release);
                }
            }
            let reset = Reset(&self.state);
            let value = init();
            // SAFETY: the state is RUNNING and only this thread moved it there, so no
            // other thread reads (they need READY) or writes (they need EMPTY) the cell.
            // The `&T` outlives the closure for the reason given in `get`.
            let stored: &T = self.value.with_mut(|p| unsafe { (*p).insert(value) });
            std::mem::forget(reset);
            self.state.store(READY, publish_ordering());
            stored
        }
    }

    /// `Release`: the one ordering the protocol of this cell relies on.
    fn publish_ordering() -> Ordering {
        #[cfg(dynacast_broken)]
        if super::broken::is(super::broken::Variant::RelaxedOnceLock) {
            return Ordering::Relaxed;
        }
        Ordering::Release
    }
}

/// Deliberately broken protocol steps, compiled in only with `--cfg loom --cfg
/// dynacast_broken` and switched on one at a time, per test thread, by the must-fail
/// models in `loom-tests/` (loom runs a model's threads on the test's own thread, so a
/// thread-local selects the variant for exactly one model). Each variant undoes one step
/// the engine relies on; its model must then fail, which proves the model can see it.
#[cfg(all(loom, dynacast_broken))]
pub mod broken {
    use std::cell::Cell;

    /// One broken protocol step.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Variant {
        /// The once-cell publishes its value with `Relaxed` instead of `Release`.
        RelaxedOnceLock,
        /// A dispatch-cache slot publishes its key with `Relaxed` instead of `Release`.
        RelaxedSlotKey,
        /// Cloning a body leaks one count of the `Arc` its thin entry point reads through
        /// (the closure then outlives every handle).
        LeakBodyOwner,
        /// Growth publishes the grown table's pointer with `Relaxed` instead of `Release`.
        RelaxedGeneration,
        /// Growth publishes the grown table before copying the entries into it.
        PublishBeforeFill,
        /// A writer publishes without re-checking for the key under the writer lock.
        NoRecheck,
        /// Writers do not serialize: only the entry count is read and written under the
        /// writer lock, briefly.
        NoWriterLock,
        /// A miss reserves the class's resolution (like a lock held across the hook) and
        /// only a publish releases it: a failing, panicking or re-entrant resolution then
        /// waits forever.
        ReserveAcrossHook,
        /// The cache never reports a hit, so every call asks the hook again.
        NeverHit,
        /// A flush frees the table it retires at once, without waiting for the grace
        /// period of the readers that may still be inside it.
        FreeWithoutGrace,
        /// A class method's `Called` word is made without its tag: a body run by
        /// `call_virtual` cannot tell what was called.
        CalledTagLost,
        /// Cloning a class's hook leaks one count of the `Arc` its thin entry point reads
        /// through (the hook then outlives every handle).
        LeakHookOwner,
        /// A call site publishes its first entry's class key with `Relaxed` instead of
        /// `Release`.
        RelaxedFirstEntry,
    }

    thread_local! {
        static ACTIVE: Cell<Option<Variant>> = const { Cell::new(None) };
    }

    /// Switches `variant` on for models run on this thread (`None`: the real protocol).
    pub fn set(variant: Option<Variant>) {
        ACTIVE.with(|a| a.set(variant));
    }

    pub(crate) fn is(variant: Variant) -> bool {
        ACTIVE.with(|a| a.get() == Some(variant))
    }
}
