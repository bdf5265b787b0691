//! The one door through which the engine's concurrency primitives come in.
//!
//! The per-type dispatch cache (and anything else whose correctness depends on memory
//! ordering) takes its atomics, mutexes and once-cells from here, so that the loom model
//! checks in `loom-tests/` can swap in loom's versions under `--cfg loom`. Immutable data
//! shared through `Arc` (type definitions, bodies) has no protocol to check and uses std.

pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};
pub(crate) use std::sync::{Mutex, MutexGuard, OnceLock};

/// Locks a mutex that only engine code holds (never across a user callback). A poisoned
/// lock can then only come from a panic inside our own bookkeeping, which never leaves its
/// data half-written, so the data is still whole and we carry on with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
