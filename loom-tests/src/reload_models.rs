//! Live reload's models (README "Live reload"): a flush racing with calls, and a takeover
//! (with a retarget) racing with calls. Built like `models` (world on the model thread,
//! actors only joined, invariants asserted after the join, outcomes recorded).
//!
//! Both rely on the grace period of `dynacast::reload`: a reader registered before a table
//! (or a forward target) was unpublished keeps it allocated. loom checks that through the
//! cells the engine touches before freeing (a table's slots, a class's `alive` cell): a
//! free that does not happen after a registered reader's read is a causality violation
//! (must-fail variant `FreeWithoutGrace`), and its leak check sees every table freed.

use dynacast::{ClassRef, Runtime};
use loom::thread;

use crate::explore::{explore, Coverage};
use crate::fixtures::{call, reloadable_world, value, Behaviour, Caller, LoomHost};

/// Flush versus call: one actor calls `m0` twice while another flushes the class. The
/// class was flushed once and `m0` resolved (to `Impl1`) before the actors start, so the
/// caller reads a flushable table the flush retires. Every call returns a resolution the
/// hook gave (`Impl1`'s or, after the flush, `Impl2`'s), the second call never goes back to
/// an older one, and the caller asks the hook at most once per flush it saw.
pub fn flush_versus_call() -> usize {
    explore(
        "flush_versus_call",
        &[
            "both calls hit the resolution cached before the flush",
            "the flush came between the calls: the second asked the hook",
            "the flush came first: the first call asked the hook",
        ],
        |cov: &Coverage| {
            let w = reloadable_world(1, &[1, 2], Behaviour::Plain);
            w.class.flush().expect("flush");
            let mut cx = Caller::default();
            assert_eq!(call(&w.obj, &w.m[0], &mut cx).0, value(1, 0));
            let (obj, m0) = (w.obj.clone(), w.m[0].clone());
            let caller = thread::spawn(move || {
                let mut cx = Caller::default();
                let first = call(&obj, &m0, &mut cx);
                let second = call(&obj, &m0, &mut cx);
                (first, second)
            });
            let class = w.class.clone();
            let flusher = thread::spawn(move || class.flush().expect("flush"));
            let (first, second) = caller.join().unwrap();
            flusher.join().unwrap();
            let old = value(1, 0);
            let new = value(2, 0);
            match (first, second) {
                ((v1, false), (v2, false)) if v1 == old && v2 == old => {
                    cov.saw("both calls hit the resolution cached before the flush")
                }
                ((v1, false), (v2, true)) if v1 == old && v2 == new => {
                    cov.saw("the flush came between the calls: the second asked the hook")
                }
                ((v1, true), (v2, false)) if v1 == new && v2 == new => {
                    cov.saw("the flush came first: the first call asked the hook")
                }
                other => panic!("flush_versus_call: unexpected calls {other:?}"),
            }
            // After both, the cache serves one resolution and the hook is asked no more.
            let mut cx = Caller::default();
            let (v, asked) = call(&w.obj, &w.m[0], &mut cx);
            assert!(
                !asked || v == new,
                "flush_versus_call: a later call asked again"
            );
        },
    )
}

/// `C` implementing `I { m0 }` with `m0` returning `n`, taking over `old` if given.
fn version(
    rt: &Runtime<LoomHost>,
    i: &dynacast::InterfaceRef<LoomHost>,
    n: u64,
    old: Option<&ClassRef<LoomHost>>,
) -> ClassRef<LoomHost> {
    let mut b = rt.class("V").redefine();
    if let Some(old) = old {
        b = b.take_over(old);
    }
    b.implement(i)
        .virtual_method("m0", 0, move |_| Ok(n))
        .define()
        .expect("a version")
}

/// Switch versus call: an object of version 1, taken over by version 2 before the actors
/// start; one actor calls `m0` twice while another defines version 3, which takes over
/// version 2 (retargeting version 1's objects to it and retiring the forward to version
/// 2). Every call runs version 2's or version 3's body, never version 1's, never back to
/// an older one.
pub fn switch_versus_call() -> usize {
    explore(
        "switch_versus_call",
        &[
            "both calls ran version 2",
            "the switch came between the calls",
            "both calls ran version 3",
        ],
        |cov: &Coverage| {
            let rt = Runtime::<LoomHost>::with_live_reload();
            let i = rt
                .interface("I")
                .abstract_method("m0", 0)
                .define()
                .expect("I");
            let m0 = i.method("m0").expect("m0");
            let v1 = version(&rt, &i, 1, None);
            let obj = rt.new_object(&v1, ()).expect("object");
            let v2 = version(&rt, &i, 2, Some(&v1));
            let caller = thread::spawn(move || {
                let mut cx = Caller::default();
                (call(&obj, &m0, &mut cx).0, call(&obj, &m0, &mut cx).0)
            });
            let (rt2, i2) = (rt.clone(), i.clone());
            let switcher = thread::spawn(move || {
                let v3 = version(&rt2, &i2, 3, Some(&v2));
                drop(v2); // only the forward keeps version 2 alive now
                v3
            });
            let seen = caller.join().unwrap();
            let v3 = switcher.join().unwrap();
            match seen {
                (2, 2) => cov.saw("both calls ran version 2"),
                (2, 3) => cov.saw("the switch came between the calls"),
                (3, 3) => cov.saw("both calls ran version 3"),
                other => panic!("switch_versus_call: unexpected calls {other:?}"),
            }
            assert_eq!(
                v1.successor(),
                Some(v3),
                "switch_versus_call: not retargeted"
            );
        },
    )
}
