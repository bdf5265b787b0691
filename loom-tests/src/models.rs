//! One model per invariant of the per-type dispatch cache and the hook path (issue 4).
//!
//! Every model builds its world on the model thread (some also cache a few resolutions
//! there, before any actor exists), spawns two or three actors that drive the engine
//! through its public API, and only joins them (tokio-rs/loom#392: a model thread that
//! reads while the actors run can make loom explore a single interleaving). The actors
//! return what they saw; the invariants are asserted on that after the join (a few final
//! checks read the engine then, when no actor is left to race), and the interesting
//! outcomes are recorded in the model's [`Coverage`] and asserted at the end.
//!
//! No model needs the engine's internals: only `dynacast::loom_broken` (the must-fail
//! switch, under `--cfg dynacast_broken`) is exposed for loom, as a `#[doc(hidden)]` item.
//!
//! Each model returns loom's iteration count. The must-fail tests run the same functions
//! with one protocol step broken (`dynacast::loom_broken`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use dynacast::call_site::{CallSite, CallSiteState};
use dynacast::TypeRef;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

use crate::explore::{explore, silence_planned_panics, Coverage};
use crate::fixtures::{call, value, world, Behaviour, Caller, K_VALUE};

/// D1: racing first resolutions of (type, method) all return the same implementation, and
/// every later lookup returns it. Three resolvers race; the hook answers `Impl1`, `Impl2`,
/// `Impl3` in turn, so a resolver that returned its own answer instead of the published
/// one would be seen.
pub fn canonical_result() -> usize {
    explore(
        "canonical_result",
        &[
            "all three resolvers asked the hook",
            "two resolvers asked the hook",
            "one resolver asked, the others hit",
            "a later answer of the hook was the one published",
        ],
        |cov: &Coverage| {
            let w = world(1, &[1, 2, 3], Behaviour::Plain);
            let actors: Vec<_> = (0..3)
                .map(|_| {
                    let (obj, m0) = (w.obj.clone(), w.m[0].clone());
                    thread::spawn(move || {
                        let mut cx = Caller::default();
                        let first = call(&obj, &m0, &mut cx).0;
                        let later = call(&obj, &m0, &mut cx).0;
                        (first, later, cx)
                    })
                })
                .collect();
            let seen: Vec<_> = actors.into_iter().map(|a| a.join().unwrap()).collect();
            let canonical = seen[0].0;
            for (first, later, _) in &seen {
                assert_eq!(
                    *first, canonical,
                    "canonical_result: racing resolutions differ"
                );
                assert_eq!(
                    *later, canonical,
                    "canonical_result: a later lookup differs"
                );
            }
            match seen.iter().map(|s| s.2.dispatch_hook_calls).sum::<usize>() {
                3 => cov.saw("all three resolvers asked the hook"),
                2 => cov.saw("two resolvers asked the hook"),
                1 => cov.saw("one resolver asked, the others hit"),
                n => panic!("canonical_result: {n} hook calls for 3 resolvers"),
            }
            if canonical != value(1, 0) {
                cov.saw("a later answer of the hook was the one published");
            }
        },
    )
}

/// Monotonic visibility: once a reader has seen the resolution, it never misses it again
/// and never sees another value. The writer raises `returned` after its call returns, so
/// a reader that hit while it was down saw the entry while the resolver was still inside.
pub fn monotonic_visibility() -> usize {
    explore(
        "monotonic_visibility",
        &[
            "reader hit before the resolver returned",
            "reader hit after the resolver returned",
            "reader missed and resolved itself",
        ],
        |cov: &Coverage| {
            let w = world(1, &[1, 2], Behaviour::Plain);
            let returned = Arc::new(AtomicBool::new(false));
            let writer = {
                let (obj, m0, returned) = (w.obj.clone(), w.m[0].clone(), returned.clone());
                thread::spawn(move || {
                    let v = call(&obj, &m0, &mut Caller::default()).0;
                    returned.store(true, Ordering::Release);
                    v
                })
            };
            let reader = {
                let (obj, m0, returned) = (w.obj.clone(), w.m[0].clone(), returned.clone());
                thread::spawn(move || {
                    let mut cx = Caller::default();
                    let first = call(&obj, &m0, &mut cx);
                    let after_return = returned.load(Ordering::Acquire);
                    let second = call(&obj, &m0, &mut cx);
                    (first, after_return, second)
                })
            };
            let written = writer.join().unwrap();
            let ((v1, missed1), after_return, (v2, missed2)) = reader.join().unwrap();
            assert_eq!(
                v2, v1,
                "monotonic_visibility: a value changed after it was seen"
            );
            assert!(
                !missed2,
                "monotonic_visibility: a miss after the value was seen"
            );
            assert_eq!(
                v1, written,
                "monotonic_visibility: reader and resolver differ"
            );
            match (missed1, after_return) {
                (false, false) => cov.saw("reader hit before the resolver returned"),
                (false, true) => cov.saw("reader hit after the resolver returned"),
                (true, _) => cov.saw("reader missed and resolved itself"),
            }
        },
    )
}

/// No torn entry: a reader that matches a key reads that key's value. Two methods are
/// published by two actors, each then reading the other's, so each read may race the
/// other's publication of a neighbouring slot.
pub fn no_torn_entry() -> usize {
    explore(
        "no_torn_entry",
        &[
            "read the other actor's entry from the cache",
            "resolved the other actor's method itself",
        ],
        |cov: &Coverage| {
            let w = world(2, &[1], Behaviour::Plain);
            let actors: Vec<_> = (0..2)
                .map(|me| {
                    let (obj, m) = (w.obj.clone(), w.m.clone());
                    thread::spawn(move || {
                        let mut cx = Caller::default();
                        let own = call(&obj, &m[me], &mut cx);
                        let other = call(&obj, &m[1 - me], &mut cx);
                        (own, other)
                    })
                })
                .collect();
            for (me, actor) in actors.into_iter().enumerate() {
                let ((own, _), (other, missed)) = actor.join().unwrap();
                assert_eq!(own, value(1, me), "no_torn_entry: wrong value for m{me}");
                assert_eq!(other, value(1, 1 - me), "no_torn_entry: torn entry");
                cov.saw(if missed {
                    "resolved the other actor's method itself"
                } else {
                    "read the other actor's entry from the cache"
                });
            }
        },
    )
}

/// Hook call bounds: 1 ≤ `get_interface_implementation` calls per (type, method) ≤ racing
/// resolvers, and a resolver's later calls never ask again (D1); the cast hook runs once
/// per cast attempt, `is_instance_of` and `cast` alike, never skipped by a cache (B3).
/// Three resolvers race, each casting twice and calling twice.
pub fn hook_call_bounds() -> usize {
    explore(
        "hook_call_bounds",
        &[
            "hook asked once for three resolvers",
            "hook asked by two of three resolvers",
            "hook asked by all three resolvers",
        ],
        |cov: &Coverage| {
            let w = world(1, &[1], Behaviour::Plain);
            let actors: Vec<_> = (0..3)
                .map(|_| {
                    let (obj, m0, j) = (w.obj.clone(), w.m[0].clone(), w.j.clone());
                    thread::spawn(move || {
                        let mut cx = Caller::default();
                        assert!(obj.is_instance_of(&j, &mut cx).unwrap());
                        call(&obj, &m0, &mut cx);
                        obj.cast(&j, &mut cx).unwrap();
                        call(&obj, &m0, &mut cx);
                        cx
                    })
                })
                .collect();
            let mut total = 0;
            for actor in actors {
                let cx = actor.join().unwrap();
                assert!(
                    cx.dispatch_hook_calls <= 1,
                    "hook_call_bounds: one resolver asked the hook {} times",
                    cx.dispatch_hook_calls
                );
                assert_eq!(
                    cx.cast_hook_calls, 2,
                    "hook_call_bounds: a cast skipped the hook"
                );
                total += cx.dispatch_hook_calls;
            }
            match total {
                1 => cov.saw("hook asked once for three resolvers"),
                2 => cov.saw("hook asked by two of three resolvers"),
                3 => cov.saw("hook asked by all three resolvers"),
                n => panic!("hook_call_bounds: {n} dispatch hook calls for 3 resolvers"),
            }
        },
    )
}

/// Growth keeps published entries: `m0 ..= m3` are cached (4 of 8 slots); two writers
/// resolve `m4` and `m5`: the first to publish moves everything to a 16-slot table, the
/// other publishes into the old or the new one. The reader, reading `m0` and `m3`
/// meanwhile, must hit every time, and each writer must then hit its own entry.
pub fn growth_keeps_entries() -> usize {
    explore(
        "growth_keeps_entries",
        &[
            "reader read before the growth was published",
            "reader read after the growth was published",
        ],
        |cov: &Coverage| {
            let w = world(6, &[1], Behaviour::Plain);
            let mut setup = Caller::default();
            for m in &w.m[..4] {
                call(&w.obj, m, &mut setup);
            }
            // Raised by a writer once its publish returned; the first publish is the 5th
            // entry, which grows the table, so a raised flag means the growth is published.
            let grown = Arc::new(AtomicBool::new(false));
            let writers: Vec<_> = [4, 5]
                .into_iter()
                .map(|k| {
                    let (obj, m, grown) = (w.obj.clone(), w.m[k].clone(), grown.clone());
                    thread::spawn(move || {
                        let mut cx = Caller::default();
                        assert_eq!(call(&obj, &m, &mut cx), (value(1, k), true));
                        grown.store(true, Ordering::Release);
                        assert_eq!(
                            call(&obj, &m, &mut cx),
                            (value(1, k), false),
                            "growth_keeps_entries: a writer lost its own entry"
                        );
                    })
                })
                .collect();
            let reader = {
                let (obj, m, grown) = (w.obj.clone(), w.m.clone(), grown.clone());
                thread::spawn(move || {
                    let mut cx = Caller::default();
                    let mut after = Vec::new();
                    for k in [0, 3] {
                        after.push(grown.load(Ordering::Acquire));
                        let (v, missed) = call(&obj, &m[k], &mut cx);
                        assert_eq!(v, value(1, k), "growth_keeps_entries: wrong value");
                        assert!(!missed, "growth_keeps_entries: a published entry was lost");
                    }
                    after
                })
            };
            for writer in writers {
                writer.join().unwrap();
            }
            let after = reader.join().unwrap();
            assert_eq!(
                w.class.cached_resolutions(),
                6,
                "growth_keeps_entries: the cache lost count of its entries"
            );
            if after.contains(&true) {
                cov.saw("reader read after the growth was published");
            }
            if after.contains(&false) {
                cov.saw("reader read before the growth was published");
            }
        },
    )
}

/// No leak and no use-after-free of retired tables: two writers publish the 4th and 5th
/// resolutions (the 5th grows the table, retiring the first) while a reader reads `m0`,
/// possibly from the retired table. The model thread drops its handles right after
/// spawning, so the last actor to finish frees the class with every table. At the end of
/// each iteration loom's leak check fails if any table (each carries a loom allocation
/// tracker under `cfg(loom)`) is still alive.
///
/// Use-after-free is ruled out by construction rather than by loom, which does not track
/// std memory: a retired table is freed only with its class, and the `&Resolved` a reader
/// borrows cannot outlive the object (hence the class) it was read through.
pub fn no_leaked_tables(behaviour: Behaviour) -> usize {
    explore(
        "no_leaked_tables",
        &[
            "the growth finished while the reader was reading",
            "the reader read after the growth",
        ],
        move |cov: &Coverage| {
            let behaviour = match behaviour {
                Behaviour::HoldsItsObject => Behaviour::HoldsItsObject,
                _ => Behaviour::Plain,
            };
            let w = world(5, &[1], behaviour);
            let mut setup = Caller::default();
            for m in &w.m[..3] {
                call(&w.obj, m, &mut setup);
            }
            let returned = Arc::new(AtomicUsize::new(0));
            let writers: Vec<_> = [3, 4]
                .into_iter()
                .map(|k| {
                    let (obj, m, returned) = (w.obj.clone(), w.m[k].clone(), returned.clone());
                    thread::spawn(move || {
                        let mut cx = Caller::default();
                        assert_eq!(call(&obj, &m, &mut cx), (value(1, k), true));
                        returned.fetch_add(1, Ordering::Release);
                        assert_eq!(call(&obj, &m, &mut cx), (value(1, k), false));
                    })
                })
                .collect();
            let reader = {
                let (obj, m0, returned) = (w.obj.clone(), w.m[0].clone(), returned.clone());
                thread::spawn(move || {
                    let before = returned.load(Ordering::Acquire);
                    let hit = call(&obj, &m0, &mut Caller::default());
                    assert_eq!(hit, (value(1, 0), false), "no_leaked_tables: lost m0");
                    (before, returned.load(Ordering::Acquire))
                })
            };
            drop(w);
            for writer in writers {
                writer.join().unwrap();
            }
            match reader.join().unwrap() {
                (2, _) => cov.saw("the reader read after the growth"),
                (_, 2) => cov.saw("the growth finished while the reader was reading"),
                _ => {}
            }
        },
    )
}

/// Re-entrancy (D2): a hook that casts and dispatches on the same object, while another
/// actor does the same, completes (loom reports a deadlock otherwise).
pub fn reentrant_hook() -> usize {
    explore(
        "reentrant_hook",
        &[
            "a nested call asked the hook",
            "a nested call hit the other actor's entry",
        ],
        |cov: &Coverage| {
            let w = world(1, &[1], Behaviour::Reenter);
            let actors: Vec<_> = (0..2)
                .map(|_| {
                    let (obj, m0, k0) = (w.obj.clone(), w.m[0].clone(), w.k0.clone());
                    thread::spawn(move || {
                        let mut cx = Caller::default();
                        let v = call(&obj, &m0, &mut cx).0;
                        assert_eq!(call(&obj, &k0, &mut cx).0, K_VALUE);
                        (v, cx)
                    })
                })
                .collect();
            for actor in actors {
                let (v, cx) = actor.join().unwrap();
                assert_eq!(v, value(1, 0), "reentrant_hook: wrong value");
                if cx.nested_misses > 0 {
                    cov.saw("a nested call asked the hook");
                }
                if cx.nested_hits > 0 {
                    cov.saw("a nested call hit the other actor's entry");
                }
            }
        },
    )
}

/// A panicking hook publishes nothing and leaves the cache usable: the first hook call
/// panics (caught inside the actor, which then calls again); every call that returns
/// gets `Impl1`'s value, the retry after the panic finds no entry left by the panicking
/// call, and exactly one resolution ends up cached.
pub fn panicking_hook() -> usize {
    silence_planned_panics();
    explore(
        "panicking_hook",
        &[
            "after the panic, the retry resolved and published",
            "the other actor hit the entry published after the panic",
            "the other actor resolved it itself",
        ],
        |cov: &Coverage| {
            let w = world(1, &[1], Behaviour::PanicOnFirstCall);
            let actors: Vec<_> = (0..2)
                .map(|_| {
                    let (obj, m0) = (w.obj.clone(), w.m[0].clone());
                    thread::spawn(move || {
                        let mut cx = Caller::default();
                        let first = catch_unwind(AssertUnwindSafe(|| call(&obj, &m0, &mut cx)));
                        let retry = call(&obj, &m0, &mut cx);
                        (first.ok(), retry)
                    })
                })
                .collect();
            let mut panics = 0;
            for actor in actors {
                let (first, (retry, retry_missed)) = actor.join().unwrap();
                assert_eq!(
                    retry,
                    value(1, 0),
                    "panicking_hook: the cache is not usable"
                );
                match first {
                    None => {
                        panics += 1;
                        if retry_missed {
                            cov.saw("after the panic, the retry resolved and published");
                        }
                    }
                    Some((v, missed)) => {
                        assert_eq!(v, value(1, 0), "panicking_hook: wrong value");
                        cov.saw(if missed {
                            "the other actor resolved it itself"
                        } else {
                            "the other actor hit the entry published after the panic"
                        });
                    }
                }
            }
            assert_eq!(
                panics, 1,
                "panicking_hook: exactly the first hook call panics"
            );
            assert_eq!(
                w.class.cached_resolutions(),
                1,
                "panicking_hook: cache changed"
            );
        },
    )
}

/// Concurrent type definition while dispatching (rules M1–M6, D2): one actor defines a
/// subclass and calls through it while the other dispatches on the original class, and
/// the hook itself defines a type each time it is asked.
pub fn define_while_dispatching() -> usize {
    explore(
        "define_while_dispatching",
        &[
            "dispatcher found the subclass defined",
            "dispatcher ran before the subclass was defined",
        ],
        |cov: &Coverage| {
            let w = world(1, &[1], Behaviour::DefineTypes);
            let definer = {
                let (rt, class, m0) = (w.rt.clone(), w.class.clone(), w.m[0].clone());
                thread::spawn(move || {
                    let sub = rt.class("Sub").base(&class).define().unwrap();
                    let obj = rt.new_object(&sub, ()).unwrap();
                    call(&obj, &m0, &mut Caller::default()).0
                })
            };
            let dispatcher = {
                let (rt, obj, m0) = (w.rt.clone(), w.obj.clone(), w.m[0].clone());
                thread::spawn(move || {
                    let v = call(&obj, &m0, &mut Caller::default()).0;
                    let sub = match rt.lookup("Sub") {
                        Some(TypeRef::Class(sub)) => {
                            let obj = rt.new_object(&sub, ()).unwrap();
                            Some(call(&obj, &m0, &mut Caller::default()).0)
                        }
                        Some(other) => panic!("define_while_dispatching: Sub is {other}"),
                        None => None,
                    };
                    (v, sub)
                })
            };
            assert_eq!(definer.join().unwrap(), value(1, 0));
            let (v, sub) = dispatcher.join().unwrap();
            assert_eq!(v, value(1, 0));
            match sub {
                Some(v) => {
                    assert_eq!(v, value(1, 0));
                    cov.saw("dispatcher found the subclass defined");
                }
                None => cov.saw("dispatcher ran before the subclass was defined"),
            }
            let hooked = w.counters.dispatch_about_i.load(Ordering::Relaxed);
            for n in 0..hooked {
                assert!(w.rt.lookup(&format!("DefinedByHook{n}")).is_some());
            }
        },
    )
}

/// Call-site caches never pair one type's key with another type's target: one
/// `CallSite` for `I.m0` is shared by two actors calling it on instances of two classes
/// whose hooks resolve `m0` to different bodies (`Impl1` on `C`, `Impl2` on `C2`); every
/// call returns its own class's body, and the site ends up holding both classes.
pub fn call_site_pairs_types_with_their_targets() -> usize {
    explore(
        "call_site_pairs_types_with_their_targets",
        &[
            "a call walked past the other class's entry",
            "a call found the site empty",
        ],
        |cov: &Coverage| {
            let w = world(1, &[1, 2], Behaviour::Plain);
            let site = Arc::new(CallSite::new(w.m[0].clone()));
            let objects = [(w.obj.clone(), 1), (w.second_class_object(2), 2)];
            let actors: Vec<_> = objects
                .into_iter()
                .map(|(obj, tag)| {
                    let site = site.clone();
                    thread::spawn(move || {
                        let mut cx = Caller::default();
                        let before = site.state();
                        for _ in 0..2 {
                            let v = site.call(&obj, &[], &mut cx).unwrap();
                            assert_eq!(v, value(tag, 0), "call_site: another class's target");
                        }
                        before
                    })
                })
                .collect();
            for actor in actors {
                match actor.join().unwrap() {
                    CallSiteState::Empty => cov.saw("a call found the site empty"),
                    CallSiteState::Monomorphic => {
                        cov.saw("a call walked past the other class's entry")
                    }
                    other => panic!("call_site: unexpected state {other:?} before any own call"),
                }
            }
            assert_eq!(site.state(), CallSiteState::Polymorphic(2));
        },
    )
}

/// A call site's first entry (invariant "first entry publication" in `call_site`): the
/// monomorphic hit reads the entry point the filling thread copied into the site once it
/// sees the class's key, so the copy must happen-before that read. Two actors call the
/// same method on the same object through a fresh site; whichever resolves first fills
/// the first entry and publishes it, and the other may then hit it. Each checks the
/// answer; loom's cell checks the read against the write.
pub fn call_site_first_entry() -> usize {
    explore(
        "call_site_first_entry",
        &[
            "a call found the first entry filled by the other actor",
            "a call found the site empty",
        ],
        |cov: &Coverage| {
            let w = world(1, &[1], Behaviour::Plain);
            let site = Arc::new(CallSite::new(w.m[0].clone()));
            let actors: Vec<_> = (0..2)
                .map(|_| {
                    let (site, obj) = (site.clone(), w.obj.clone());
                    thread::spawn(move || {
                        let mut cx = Caller::default();
                        let before = site.state();
                        for _ in 0..2 {
                            let v = site.call(&obj, &[], &mut cx).unwrap();
                            assert_eq!(v, value(1, 0), "call_site_first_entry: a wrong target");
                        }
                        before
                    })
                })
                .collect();
            for actor in actors {
                match actor.join().unwrap() {
                    CallSiteState::Empty => cov.saw("a call found the site empty"),
                    CallSiteState::Monomorphic => {
                        cov.saw("a call found the first entry filled by the other actor")
                    }
                    other => panic!("call_site_first_entry: unexpected state {other:?}"),
                }
            }
            assert_eq!(site.state(), CallSiteState::Monomorphic);
        },
    )
}

/// Thin body pointers (`dynacast::Body`): a body's thin entry point reads its closure
/// through a raw pointer into the body's own `Arc`, so every copy of a body must own one
/// count of that `Arc`, and the closure must live exactly as long as the last copy. Two
/// actors call `I.m0` through their own copies (one from `Object::resolve`, called with
/// `Body::call`; one held by a call site's entry) while the model thread drops the
/// runtime and every other handle right after spawning them. The closure captures a loom
/// allocation tracker, so loom's leak check fails if any copy miscounted its ownership;
/// each actor checks the closure's answer.
///
/// As for the retired tables, use-after-free (a copy owning too little) is ruled out by
/// construction, not by loom: `data` and `owner` are set together in `body()` and copied
/// together in `clone`, and a call borrows the `Body` it reads through.
pub fn thin_body_owner() -> usize {
    explore(
        "thin_body_owner",
        &[
            "the resolved copy was called last",
            "the call site's copy was called last",
        ],
        |cov: &Coverage| {
            let rt = dynacast::Runtime::<crate::fixtures::LoomHost>::new();
            let alive = loom::alloc::Track::new(());
            let i = rt
                .interface("I")
                .default_method("m0", 0, move |_| {
                    let _owned = &alive;
                    Ok(7)
                })
                .define()
                .expect("I");
            let class = rt.class("C").implement(&i).define().expect("C");
            let obj = rt.new_object(&class, ()).expect("object");
            let m0 = i.method("m0").expect("m0");
            let done = Arc::new(AtomicUsize::new(0));
            let resolved = {
                let (obj, m0, done) = (obj.clone(), m0.clone(), done.clone());
                thread::spawn(move || {
                    let mut cx = Caller::default();
                    let body = obj.resolve(&m0, &mut cx).expect("resolves");
                    drop(m0);
                    let v = body.call(&obj, &[], &mut cx).expect("the body runs");
                    (v, done.fetch_add(1, Ordering::AcqRel))
                })
            };
            let site = {
                let (obj, m0, done) = (obj.clone(), m0.clone(), done.clone());
                thread::spawn(move || {
                    let mut cx = Caller::default();
                    let site = CallSite::new(m0);
                    let v = site.call(&obj, &[], &mut cx).expect("the site calls");
                    (v, done.fetch_add(1, Ordering::AcqRel))
                })
            };
            drop((rt, i, class, obj, m0));
            let (a, a_order) = resolved.join().unwrap();
            let (b, b_order) = site.join().unwrap();
            assert_eq!((a, b), (7, 7), "thin_body_owner: a body gave a wrong value");
            cov.saw(if a_order > b_order {
                "the resolved copy was called last"
            } else {
                "the call site's copy was called last"
            });
        },
    )
}

/// What a body learns its caller called (`dynacast::Call::method`, `class_method`): one
/// word, the address of a `MethodRef` or of a `ClassMethodRef` with bit 0 set, read
/// through a raw pointer in the body (invariant "called word"). Two actors call one
/// object at once, one through an interface method (`Object::call`), one through a class
/// method (`Object::call_virtual`), with their own handles, while the model thread drops
/// every other handle; each body answers what it saw (1: the interface method `m0` and no
/// class method; 2: the class method `v` and no interface method; 0: anything else), and
/// each actor checks the answer for its own kind of call.
///
/// Reading a word as the wrong kind is ruled out by construction (the tag is set in
/// `Called::class` and tested before every read); the must-fail variant `CalledTagLost`
/// makes a class method's word without its tag, which the class-method actor sees.
pub fn called_word() -> usize {
    explore(
        "called_word",
        &[
            "the interface call finished first",
            "the class-method call finished first",
        ],
        |cov: &Coverage| {
            let rt = dynacast::Runtime::<crate::fixtures::LoomHost>::new();
            let i = rt
                .interface("I")
                .default_method("m0", 0, |call| {
                    let seen = (
                        call.method().map(|m| m.name()),
                        call.class_method().is_some(),
                    );
                    Ok(u64::from(seen == (Some("m0"), false)))
                })
                .define()
                .expect("I");
            let class = rt
                .class("C")
                .implement(&i)
                .virtual_method("v", 0, |call| {
                    let seen = (
                        call.class_method().map(|m| m.name()),
                        call.method().is_some(),
                    );
                    Ok(if seen == (Some("v"), false) { 2 } else { 0 })
                })
                .define()
                .expect("C");
            let obj = rt.new_object(&class, ()).expect("object");
            let m0 = i.method("m0").expect("m0");
            let v = class.virtual_method("v").expect("v");
            let done = Arc::new(AtomicUsize::new(0));
            let through_interface = {
                let (obj, done) = (obj.clone(), done.clone());
                thread::spawn(move || {
                    let seen = obj.call(&m0, &[], &mut Caller::default()).expect("m0 runs");
                    (seen, done.fetch_add(1, Ordering::AcqRel))
                })
            };
            let through_class = {
                let (obj, done) = (obj.clone(), done.clone());
                thread::spawn(move || {
                    let seen = obj
                        .call_virtual(&v, &[], &mut Caller::default())
                        .expect("v runs");
                    (seen, done.fetch_add(1, Ordering::AcqRel))
                })
            };
            drop((rt, i, class, obj));
            let (a, a_order) = through_interface.join().unwrap();
            let (b, b_order) = through_class.join().unwrap();
            assert_eq!(
                a, 1,
                "called_word: an interface method's body saw another call"
            );
            assert_eq!(b, 2, "called_word: a class method's body saw another call");
            cov.saw(if a_order < b_order {
                "the interface call finished first"
            } else {
                "the class-method call finished first"
            });
        },
    )
}

/// A hook that answers casts to one interface and carries a loom allocation tracker, so
/// loom's leak check sees whether the hook outlived every handle.
struct TrackedHook {
    serves: u64,
    _alive: loom::alloc::Track<()>,
}

impl dynacast::DynamicCastable<crate::fixtures::LoomHost> for TrackedHook {
    fn is_interface_implemented(
        &self,
        _obj: &dynacast::Object<crate::fixtures::LoomHost>,
        iface: &dynacast::InterfaceRef<crate::fixtures::LoomHost>,
        _throw_if_not_implemented: bool,
        _cx: &mut Caller,
    ) -> Result<bool, dynacast::Error<crate::fixtures::ModelError>> {
        Ok(iface.uid() == self.serves)
    }
}

/// Thin hook pointers (`Hook` in `dynacast::hook`): a cast calls the class's hook through
/// a raw pointer into the hook's own `Arc`, so every copy of a class's hook (a subclass
/// without a hook of its own inherits a copy) must own one count of that `Arc`, and the
/// hook must live exactly as long as the last copy. Two actors cast objects of a hooked
/// class and of its subclass (the copy) while the model thread drops the runtime and
/// every other handle right after spawning them; the hook carries a loom allocation
/// tracker, so loom's leak check fails if a copy miscounted its ownership, and each actor
/// checks the hook's answers (yes for the interface it serves, no for another).
///
/// As for bodies, use-after-free (a copy owning too little) is ruled out by construction:
/// `data` and `owner` are set together in `Hook::new` and copied together in `clone`, and
/// a cast borrows the class (so its hook) for the call.
pub fn thin_hook_owner() -> usize {
    thin_hook_owner_of("thin_hook_owner", false)
}

/// [`thin_hook_owner`] for a hook given as an `Arc<dyn>` (`ClassBuilder::shared_hook`),
/// which the engine wraps in a typed forwarder so that it too has a thin entry point: the
/// wrapper's `Arc` must be owned and freed exactly as a typed hook's is, and free the
/// host's hook with it.
pub fn thin_shared_hook_owner() -> usize {
    thin_hook_owner_of("thin_shared_hook_owner", true)
}

fn thin_hook_owner_of(name: &'static str, shared: bool) -> usize {
    explore(
        name,
        &[
            "the class's own hook was called last",
            "the subclass's copy was called last",
        ],
        move |cov: &Coverage| {
            let rt = dynacast::Runtime::<crate::fixtures::LoomHost>::new();
            let j = rt.interface("J").define().expect("J");
            let other = rt.interface("Other").define().expect("Other");
            let hook = TrackedHook {
                serves: j.uid(),
                _alive: loom::alloc::Track::new(()),
            };
            let base = if shared {
                rt.class("Hooked").shared_hook(Arc::new(hook))
            } else {
                rt.class("Hooked").hook(hook)
            };
            let base = base.define().expect("Hooked");
            let sub = rt.class("Sub").base(&base).define().expect("Sub");
            let done = Arc::new(AtomicUsize::new(0));
            let actors: Vec<_> = [&base, &sub]
                .into_iter()
                .map(|class| {
                    let obj = rt.new_object(class, ()).expect("object");
                    let (j, other, done) = (j.clone(), other.clone(), done.clone());
                    thread::spawn(move || {
                        let mut cx = Caller::default();
                        let yes = obj.is_instance_of(&j, &mut cx).expect("asks the hook");
                        let no = obj.is_instance_of(&other, &mut cx).expect("asks the hook");
                        ((yes, no), done.fetch_add(1, Ordering::AcqRel))
                    })
                })
                .collect();
            drop((rt, j, other, base, sub));
            let seen: Vec<_> = actors.into_iter().map(|a| a.join().unwrap()).collect();
            for (answers, _) in &seen {
                assert_eq!(
                    *answers,
                    (true, false),
                    "{name}: a hook gave a wrong answer"
                );
            }
            cov.saw(if seen[0].1 > seen[1].1 {
                "the class's own hook was called last"
            } else {
                "the subclass's copy was called last"
            });
        },
    )
}
