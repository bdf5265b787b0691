//! The loom models, each run to completion (see `loom_tests::models` for what each checks).
//! Only under `--cfg loom`; the README's "Model checking (loom)" section has the command.
#![cfg(loom)]

use loom_tests::fixtures::Behaviour;
use loom_tests::models;

#[test]
fn canonical_result() {
    models::canonical_result();
}

#[test]
fn monotonic_visibility() {
    models::monotonic_visibility();
}

#[test]
fn no_torn_entry() {
    models::no_torn_entry();
}

#[test]
fn hook_call_bounds() {
    models::hook_call_bounds();
}

#[test]
fn growth_keeps_entries() {
    models::growth_keeps_entries();
}

#[test]
fn no_leaked_tables() {
    models::no_leaked_tables(Behaviour::Plain);
}

/// The leak check sees the tables: a hook that keeps its own object alive forms a cycle
/// (object → class → hook → object), so the class's tables outlive the iteration.
#[test]
#[should_panic(expected = "Allocation leaked")]
fn leak_check_sees_a_cycle() {
    models::no_leaked_tables(Behaviour::HoldsItsObject);
}

#[test]
fn reentrant_hook() {
    models::reentrant_hook();
}

#[test]
fn panicking_hook() {
    models::panicking_hook();
}

#[test]
fn define_while_dispatching() {
    models::define_while_dispatching();
}

#[test]
fn call_site_pairs_types_with_their_targets() {
    models::call_site_pairs_types_with_their_targets();
}

#[test]
fn thin_body_owner() {
    models::thin_body_owner();
}

#[test]
fn flush_versus_call() {
    loom_tests::reload_models::flush_versus_call();
}

#[test]
fn switch_versus_call() {
    loom_tests::reload_models::switch_versus_call();
}

#[test]
fn called_word() {
    models::called_word();
}

#[test]
fn thin_hook_owner() {
    models::thin_hook_owner();
}

#[test]
fn call_site_first_entry() {
    models::call_site_first_entry();
}

#[test]
fn thin_shared_hook_owner() {
    models::thin_shared_hook_owner();
}
