//! Proof that the models bite: each test breaks one protocol step the engine relies on
//! (`dynacast::loom_broken`, compiled in only with `--cfg loom --cfg dynacast_broken`) and
//! runs the model that guards it, which must then fail, for the expected reason.
//!
//! The variant is selected per test thread; loom runs a model's threads on the test's own
//! thread, so each test breaks exactly its own model.
#![cfg(all(loom, dynacast_broken))]

use dynacast::loom_broken::{set, Variant};
use loom_tests::models;

/// Runs `model` with `variant` switched on (and off again, whatever happens).
fn broken(variant: Variant, model: fn() -> usize) {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            set(None);
        }
    }
    let _restore = Restore;
    set(Some(variant));
    model();
}

/// Without the re-check under the writer lock, a second resolver publishes its own
/// answer and returns it.
#[test]
#[should_panic(expected = "canonical_result: racing resolutions differ")]
fn no_recheck_breaks_canonical_result() {
    broken(Variant::NoRecheck, models::canonical_result);
}

/// Without the re-check, a reader that resolved its own answer later finds the other one.
#[test]
#[should_panic(expected = "monotonic_visibility: a value changed after it was seen")]
fn no_recheck_breaks_monotonic_visibility() {
    broken(Variant::NoRecheck, models::monotonic_visibility);
}

/// A cache slot's key published with `Relaxed`: a reader can see the key without seeing
/// the entry written; loom's cell tracking reports it.
#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_slot_key_breaks_no_torn_entry() {
    broken(Variant::RelaxedSlotKey, models::no_torn_entry);
}

/// The grown table's pointer published with `Relaxed`: a reader can take the new table
/// before its slots (their creation and the copied entries) are visible to it; loom
/// reports the reader's load of a slot key that does not happen after the slot's creation.
#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_generation_breaks_growth() {
    broken(Variant::RelaxedGeneration, models::growth_keeps_entries);
}

/// The new generation published before the copy: a reader finds it half empty.
#[test]
#[should_panic(expected = "growth_keeps_entries: a published entry was lost")]
fn publish_before_fill_breaks_growth() {
    broken(Variant::PublishBeforeFill, models::growth_keeps_entries);
}

/// A cache that never hits: resolvers ask the hook on every call.
#[test]
#[should_panic(expected = "hook_call_bounds: one resolver asked the hook 2 times")]
fn never_hit_breaks_hook_call_bounds() {
    broken(Variant::NeverHit, models::hook_call_bounds);
}

/// A resolution reserved across the hook: the hook's nested dispatch waits for itself.
#[test]
#[should_panic(expected = "Model exceeded maximum number of branches")]
fn reserve_across_hook_breaks_reentrant_hook() {
    broken(Variant::ReserveAcrossHook, models::reentrant_hook);
}

/// A resolution reserved across the hook: the panic leaves the reservation behind and the
/// retry waits forever.
#[test]
#[should_panic(expected = "Model exceeded maximum number of branches")]
fn reserve_across_hook_breaks_panicking_hook() {
    broken(Variant::ReserveAcrossHook, models::panicking_hook);
}

/// A once-cell published with `Relaxed`: a call site's entry can be seen before its
/// (class, body) pair is written.
#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_once_lock_breaks_call_site() {
    broken(
        Variant::RelaxedOnceLock,
        models::call_site_pairs_types_with_their_targets,
    );
}

/// Writers that do not serialize: both grow the table, each into a table of its own, and
/// the second pointer stored replaces the first, with the entry only the first copied or
/// inserted: a writer then misses the entry it published itself.
#[test]
#[should_panic(expected = "growth_keeps_entries: a writer lost its own entry")]
fn no_writer_lock_breaks_growth() {
    broken(Variant::NoWriterLock, models::growth_keeps_entries);
}

/// A body copy that keeps one count of its closure's `Arc` too many: the closure (with
/// its loom tracker) outlives every handle, and loom's leak check reports it.
#[test]
#[should_panic(expected = "Allocation leaked")]
fn leak_body_owner_breaks_thin_body_owner() {
    broken(Variant::LeakBodyOwner, models::thin_body_owner);
}

/// A flush that frees the table it retires at once: a caller still reading it is reported
/// (the free's write to the slot's cell does not happen after the caller's read).
#[test]
#[should_panic(expected = "Causality violation")]
fn free_without_grace_breaks_flush_versus_call() {
    broken(
        Variant::FreeWithoutGrace,
        loom_tests::reload_models::flush_versus_call,
    );
}

/// A takeover that drops the forward target it replaces at once: a caller that is
/// following the old forward is reported.
#[test]
#[should_panic(expected = "Causality violation")]
fn free_without_grace_breaks_switch_versus_call() {
    broken(
        Variant::FreeWithoutGrace,
        loom_tests::reload_models::switch_versus_call,
    );
}

/// A class method's `Called` word made without its tag: its body no longer knows it was
/// called as a class method.
#[test]
#[should_panic(expected = "called_word: a class method's body saw another call")]
fn called_tag_lost_breaks_called_word() {
    broken(Variant::CalledTagLost, models::called_word);
}

/// A copy of a class's hook that keeps one count of the hook's `Arc` too many: the hook
/// outlives every handle and loom's leak check reports it.
#[test]
#[should_panic(expected = "Allocation leaked")]
fn leak_hook_owner_breaks_thin_hook_owner() {
    broken(Variant::LeakHookOwner, models::thin_hook_owner);
}

/// A call site whose first entry's key is published `Relaxed`: an actor that sees the key
/// reads the entry point without the write happening-before its read.
#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_first_entry_breaks_call_site_first_entry() {
    broken(Variant::RelaxedFirstEntry, models::call_site_first_entry);
}

/// A copy of a class's shared hook (its typed wrapper) that keeps one count of the
/// wrapper's `Arc` too many: the wrapper and the host's hook outlive every handle.
#[test]
#[should_panic(expected = "Allocation leaked")]
fn leak_hook_owner_breaks_thin_shared_hook_owner() {
    broken(Variant::LeakHookOwner, models::thin_shared_hook_owner);
}
