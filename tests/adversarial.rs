//! The engine against an adversarial host (issue 11): user code dropped inside engine
//! critical sections, reference cycles, user-controlled recursion depth, huge definitions
//! and handles of another runtime. One test per case.
//!
//! Every test runs under a watchdog (`run_on`), so a deadlock fails instead of hanging CI;
//! the deep cases run on a thread with a 256 KiB stack at 100,000 levels, so a recursion
//! per level overflows it (and aborts the process) where an iterative walk does not. Live
//! hooks, bodies and payloads are counted with drop counters. Timings and memory figures
//! are not asserted here: `cargo run --release --example adversarial_figures` prints them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dynacast::interface::{MAX_GENERIC_NESTING, MAX_INTERFACE_DEPTH};
use dynacast::{
    body, ClassRef, DynError, DynHost, DynObject, DynamicCastable, InterfaceRef, Runtime, TypeExpr,
    TypeRef, Value, Variance, WeakRuntime,
};

type Rt = Runtime<DynHost>;

/// The stack of the deep cases' threads.
const SMALL_STACK: usize = 256 << 10;
/// How deep the deep cases go.
const DEEP: usize = 100_000;

/// Runs `f` on a fresh thread with `stack` bytes of stack; a hang of more than 120 s fails
/// the test. A panic inside `f` is re-raised here.
fn run_on<T: Send + 'static>(stack: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(());
            out
        })
        .expect("spawn");
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(()) => match handle.join().expect("joined") {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(_) => panic!("watchdog: not finished after 120 s (deadlock or hang)"),
    }
}

fn watchdog<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    run_on(2 << 20, f)
}

/// Counts live values: each `Probe` adds one while it lives.
#[derive(Clone, Default)]
struct Live(Arc<AtomicUsize>);

impl Live {
    fn probe(&self) -> Probe {
        self.0.fetch_add(1, Ordering::SeqCst);
        Probe {
            live: self.0.clone(),
            on_drop: None,
        }
    }
    fn probe_with(&self, on_drop: impl FnOnce() + Send + Sync + 'static) -> Probe {
        let mut probe = self.probe();
        probe.on_drop = Some(Box::new(on_drop));
        probe
    }
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

type OnDrop = Box<dyn FnOnce() + Send + Sync>;

struct Probe {
    live: Arc<AtomicUsize>,
    on_drop: Option<OnDrop>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(f) = self.on_drop.take() {
            f();
        }
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The tests' hook: answers casts with `yes`, names `serve` (if any) for every interface,
/// counts how often it is asked, and may carry a probe.
#[derive(Default)]
struct TestHook {
    yes: bool,
    serve: Option<InterfaceRef<DynHost>>,
    asked: Arc<AtomicUsize>,
    _probe: Option<Probe>,
}

impl TestHook {
    /// Says no to everything; lives as long as `probe`.
    fn probed(probe: Probe) -> Self {
        TestHook {
            _probe: Some(probe),
            ..TestHook::default()
        }
    }
    /// Says yes to every cast and counts its calls in `asked`.
    fn yes(asked: &Arc<AtomicUsize>) -> Self {
        TestHook {
            yes: true,
            asked: asked.clone(),
            ..TestHook::default()
        }
    }
    /// Names `implementation` for every interface.
    fn serving(implementation: InterfaceRef<DynHost>) -> Self {
        TestHook {
            yes: true,
            serve: Some(implementation),
            ..TestHook::default()
        }
    }
}

impl DynamicCastable<DynHost> for TestHook {
    fn is_interface_implemented(
        &self,
        _: &DynObject,
        _: &InterfaceRef<DynHost>,
        _: bool,
        _: &mut (),
    ) -> Result<bool, DynError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(self.yes)
    }
    fn get_interface_implementation(
        &self,
        _: &DynObject,
        _: &InterfaceRef<DynHost>,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(self.serve.as_ref().map(InterfaceRef::as_type))
    }
}

/// A body that carries a probe and returns `value`.
fn probed_body(probe: Probe, value: i64) -> dynacast::Body<DynHost> {
    body(move |_| {
        let _ = &probe;
        Ok(Value::Int(value))
    })
}

/// What a `Drop` saw when it called back into the runtime.
type Seen = Arc<Mutex<Vec<Option<String>>>>;

/// A probe whose drop looks `name` up through `weak` (the re-entrant call that used to
/// deadlock) and records what it found.
fn reentrant_probe(live: &Live, weak: WeakRuntime<DynHost>, name: &str, seen: &Seen) -> Probe {
    let (name, seen) = (name.to_owned(), seen.clone());
    live.probe_with(move || {
        let found = weak.upgrade().map(|rt| {
            rt.lookup(&name)
                .map_or("none".to_owned(), |t| t.to_string())
        });
        seen.lock().unwrap().push(found);
    })
}

// §1: the class a redefinition replaces dies (no objects left) and its hook's and body's
// `Drop` call back into the runtime: they run after the registry lock is released.
#[test]
fn redefine_drops_the_old_class_outside_the_registry_lock() {
    watchdog(|| {
        let rt = Rt::new();
        let (live, seen) = (Live::default(), Seen::default());
        let hook = TestHook::probed(reentrant_probe(&live, rt.downgrade(), "P", &seen));
        let method = probed_body(reentrant_probe(&live, rt.downgrade(), "P", &seen), 1);
        rt.class("P")
            .hook(hook)
            .virtual_method_body("m", 0, method)
            .define()
            .unwrap();
        assert_eq!(live.count(), 2);
        let new = rt.class("P").redefine().define().unwrap();
        assert_eq!(live.count(), 0);
        // Both drops looked "P" up and found the new class: the lock was free.
        assert_eq!(*seen.lock().unwrap(), vec![Some("P".to_owned()); 2]);
        assert_eq!(rt.lookup("P"), Some(new.as_type()));
        rt.class("Q").define().unwrap();
    });
}

// §1 and §4: a definition rejected while it is built drops its hook and bodies there; their
// `Drop` looks a name up from another thread and waits for it, so a registry lock held
// through the build (or the drop) would deadlock.
#[test]
fn rejected_definition_drops_its_parts_outside_the_registry_lock() {
    watchdog(|| {
        let rt = Rt::new();
        let iface = rt
            .interface("IShape")
            .abstract_method("area", 0)
            .define()
            .unwrap();
        let (live, seen) = (Live::default(), Seen::default());
        let from_other_thread = |rt: &Rt| {
            let (rt, seen) = (rt.clone(), seen.clone());
            move || {
                let found = std::thread::spawn(move || rt.lookup("IShape").map(|t| t.to_string()))
                    .join()
                    .unwrap();
                seen.lock().unwrap().push(found);
            }
        };
        let err = rt
            .class("Blob")
            .implement(&iface)
            .hook(TestHook::probed(live.probe_with(from_other_thread(&rt))))
            .virtual_method_body(
                "other",
                0,
                probed_body(live.probe_with(from_other_thread(&rt)), 0),
            )
            .define()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Could not load type 'Blob': the class is not abstract but does not implement interface method 'IShape.area'"
        );
        assert_eq!(live.count(), 0);
        assert_eq!(*seen.lock().unwrap(), vec![Some("IShape".to_owned()); 2]);
        assert_eq!(rt.lookup("Blob"), None);
    });
}

// §1: a `Drop` that instantiates a generic (its instance cache lock) and defines a type
// while the class that held it dies in a redefinition.
#[test]
fn generic_instantiation_from_a_drop_does_not_deadlock() {
    watchdog(|| {
        let rt = Rt::new();
        let factory = rt
            .generic_interface("IFactory", &[Variance::Invariant])
            .abstract_method("make", 0)
            .define_generic()
            .unwrap();
        let p = rt.class("P").define().unwrap();
        let of_p = factory.instantiate(&[p.as_type()]).unwrap();
        let live = Live::default();
        let done = Arc::new(AtomicUsize::new(0));
        let on_drop = {
            let (weak, done, p) = (rt.downgrade(), done.clone(), p.clone());
            move || {
                let rt = weak.upgrade().unwrap();
                let generic = rt.lookup_generic("IFactory").unwrap();
                let again = generic.instantiate(&[p.as_type()]).unwrap();
                rt.class("DefinedInDrop")
                    .implement(&again)
                    .virtual_method("make", 0, |_| Ok(Value::Nil))
                    .define()
                    .unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            }
        };
        rt.class("Q")
            .implement(&of_p)
            .virtual_method_body("make", 0, probed_body(live.probe_with(on_drop), 7))
            .define()
            .unwrap();
        rt.class("Q").redefine().define().unwrap();
        assert_eq!((live.count(), done.load(Ordering::SeqCst)), (0, 1));
        assert!(rt.lookup("DefinedInDrop").is_some());
        assert_eq!(factory.instantiate(&[p.as_type()]).unwrap(), of_p);
    });
}

// §1: dropping the runtime drops every type; a `Drop` that calls back finds the runtime
// gone instead of deadlocking on it.
#[test]
fn dropping_the_runtime_runs_drops_outside_any_lock() {
    watchdog(|| {
        let rt = Rt::new();
        let (live, seen) = (Live::default(), Seen::default());
        let hook = TestHook::probed(reentrant_probe(&live, rt.downgrade(), "P", &seen));
        rt.class("P").hook(hook).define().unwrap();
        let keeper = Rt::new();
        let other_seen = seen.clone();
        let other = keeper.downgrade();
        let probe = live.probe_with(move || {
            // Another, live runtime is usable from the drop.
            let rt = other.upgrade().unwrap();
            rt.class("FromDrop").define().unwrap();
            other_seen.lock().unwrap().push(Some("defined".to_owned()));
        });
        rt.interface("I")
            .default_method_body("m", 0, probed_body(probe, 0))
            .define()
            .unwrap();
        assert_eq!(live.count(), 2);
        drop(rt);
        assert_eq!(live.count(), 0);
        let mut seen = seen.lock().unwrap().clone();
        seen.sort();
        assert_eq!(seen, vec![None, Some("defined".to_owned())]);
        assert!(keeper.lookup("FromDrop").is_some());
    });
}

// §2: 20,000 reloads of a class with a hook and a body, each implemented through a generic
// instantiation `IFactory<P>` by a reloaded class: old types, hooks and bodies die as soon
// as nothing refers to them, the instance cache does not grow with the reloads, and after
// `drop(rt)` nothing is left.
#[test]
fn reloads_with_generics_leave_nothing_alive() {
    watchdog(|| {
        let rt = Rt::new();
        let live = Live::default();
        let factory = rt
            .generic_interface("IFactory", &[Variance::Covariant])
            .abstract_method("make", 0)
            .define_generic()
            .unwrap();
        let mut max_instantiations = 0;
        for i in 0..20_000 {
            let p = rt
                .class("P")
                .redefine()
                .hook(TestHook::probed(live.probe()))
                .virtual_method_body("m", 0, probed_body(live.probe(), i))
                .define()
                .unwrap();
            let of_p = factory.instantiate(&[p.as_type()]).unwrap();
            rt.class("Q")
                .redefine()
                .implement(&of_p)
                .virtual_method_body("make", 0, probed_body(live.probe(), i))
                .define()
                .unwrap();
            max_instantiations = max_instantiations.max(factory.live_instantiations());
            // The current P (hook, body) and Q (body).
            assert_eq!(live.count(), 3);
        }
        assert_eq!(max_instantiations, 1);
        drop(rt);
        assert_eq!(live.count(), 0);
        assert_eq!(factory.live_instantiations(), 0);
    });
}

// §2: 10,000 runtimes, each with one instantiation of a generic holding a probed body.
#[test]
fn runtimes_with_instantiations_are_freed() {
    watchdog(|| {
        let live = Live::default();
        for _ in 0..10_000 {
            let rt = Rt::new();
            let g = rt
                .generic_interface("IG", &[Variance::Invariant])
                .default_method_body("m", 0, probed_body(live.probe(), 1))
                .define_generic()
                .unwrap();
            let c = rt.class("C").define().unwrap();
            let of_c = g.instantiate(&[c.as_type()]).unwrap();
            rt.class("D").implement(&of_c).define().unwrap();
        }
        assert_eq!(live.count(), 0);
    });
}

// §3: a type expression nested 100,000 deep is refused with `TypeLoad` (generic nesting is
// bounded) and dropped without recursion.
#[test]
fn deeply_nested_type_expression_is_refused() {
    run_on(SMALL_STACK, || {
        let rt = Rt::new();
        let g = rt
            .generic_interface("IG", &[Variance::Covariant])
            .define_generic()
            .unwrap();
        let c = rt.class("C").define().unwrap();
        let nested = || {
            let mut expr = TypeExpr::from(&c);
            for _ in 0..DEEP {
                expr = TypeExpr::generic(&g, [expr]);
            }
            expr
        };
        let err = rt.class("D").implement(nested()).define().unwrap_err();
        let expected = format!(
            "Could not load type 'D': a type expression nests generic instantiations more than {MAX_GENERIC_NESTING} deep"
        );
        assert_eq!((err.kind(), err.to_string()), ("TypeLoad", expected));
        let err = rt
            .interface("IE")
            .base(nested())
            .define()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("Could not load type 'IE': a type expression nests"));
        assert_eq!(rt.lookup("D"), None);
    });
}

// §3: instantiating generics one inside another stops at the documented nesting limit.
#[test]
fn nested_instantiations_stop_at_the_limit() {
    run_on(SMALL_STACK, || {
        let rt = Rt::new();
        let g = rt
            .generic_interface("IG", &[Variance::Covariant])
            .define_generic()
            .unwrap();
        let mut t = rt.class("C").define().unwrap().as_type();
        for _ in 0..MAX_GENERIC_NESTING {
            t = g.instantiate(&[t]).unwrap().as_type();
        }
        let err = g.instantiate(&[t.clone()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Could not load type 'IG': generic instantiations nest more than {MAX_GENERIC_NESTING} deep"
            )
        );
        // Assignability recurses through the arguments, within the limit.
        assert!(t.is_assignable_to(&t));
    });
}

/// A chain of `depth` classes below `object`, each redefining the name "Link" so that
/// only its subclass (and, for the leaf, the registry) holds it. Returns the leaf and the
/// class at depth `keep` of the chain.
fn class_chain(rt: &Rt, depth: usize, keep: usize) -> (ClassRef<DynHost>, ClassRef<DynHost>) {
    let mut class = rt.object_class().clone();
    let mut kept = class.clone();
    for level in 1..=depth {
        class = rt.class("Link").redefine().base(&class).define().unwrap();
        if level == keep {
            kept = class.clone();
        }
    }
    (class, kept)
}

// §3 and §4: a 100,000-deep class chain is defined, cast through and dropped (owned only by
// its leaf) on a 256 KiB stack; a subclass test against a deep class walks the chain.
#[test]
fn deep_class_chain_is_defined_cast_and_dropped_iteratively() {
    run_on(SMALL_STACK, || {
        let rt = Rt::new();
        let live = Live::default();
        let (leaf, middle) = class_chain(&rt, DEEP, DEEP / 2);
        let leaf = rt
            .class("Leaf")
            .base(&leaf)
            .hook(TestHook::probed(live.probe()))
            .define()
            .unwrap();
        let obj = rt.new_object(&leaf, Value::Nil).unwrap();
        obj.cast(&middle, &mut ()).unwrap();
        obj.cast(rt.object_class(), &mut ()).unwrap();
        assert!(leaf.as_type().is_assignable_to(&middle.as_type()));
        assert!(!middle.as_type().is_assignable_to(&leaf.as_type()));
        let err = rt
            .new_object(&middle, Value::Nil)
            .unwrap()
            .cast(&leaf, &mut ())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unable to cast object of type 'Link' to type 'Leaf'."
        );
        drop((obj, middle, leaf, rt));
        assert_eq!(live.count(), 0);
    });
}

// §4: the subclass test through skip links (past the inline display) answers every pair
// of a 300-deep chain right, in both directions.
#[test]
fn subclass_tests_along_a_chain_are_exact() {
    let rt = Rt::new();
    let mut chain = vec![rt.object_class().clone()];
    for level in 1..300 {
        let base = chain.last().unwrap().clone();
        chain.push(rt.class(&format!("L{level}")).base(&base).define().unwrap());
    }
    for (i, from) in chain.iter().enumerate() {
        let obj = rt.new_object(from, Value::Nil).unwrap();
        for (j, to) in chain.iter().enumerate() {
            assert_eq!(obj.is_instance_of_static(to), j <= i, "L{i} is L{j}");
            assert_eq!(from.as_type().is_assignable_to(&to.as_type()), j <= i);
        }
    }
}

// §3 and §4: an interface chain past the documented depth is refused with `TypeLoad`; a
// class implementing a chain's leaf has every interface of it.
#[test]
fn interface_chain_stops_at_the_depth_limit() {
    run_on(SMALL_STACK, || {
        let rt = Rt::new();
        let root = rt.interface("I").abstract_method("m", 0).define().unwrap();
        let mut leaf = root.clone();
        let mut refused = None;
        for level in 1..=DEEP {
            match rt.interface("I").redefine().base(&leaf).define() {
                Ok(next) => leaf = next,
                Err(err) => {
                    refused = Some((level, err.to_string()));
                    break;
                }
            }
        }
        assert_eq!(
            refused,
            Some((
                MAX_INTERFACE_DEPTH + 1,
                format!(
                    "Could not load type 'I': interface inheritance is more than {MAX_INTERFACE_DEPTH} levels deep"
                )
            ))
        );
        assert_eq!(leaf.all_bases().len(), MAX_INTERFACE_DEPTH);
        let class = rt
            .class("C")
            .implement(&leaf)
            .virtual_method("m", 0, |_| Ok(Value::Int(5)))
            .define()
            .unwrap();
        assert_eq!(class.interfaces().len(), MAX_INTERFACE_DEPTH + 1);
        let obj = rt.new_object(&class, Value::Nil).unwrap();
        assert_eq!(
            obj.call(&root.method("m").unwrap(), &[], &mut ()).unwrap(),
            Value::Int(5)
        );
        drop((obj, class, leaf, root, rt));
    });
}

// §3: 100,000 objects linked through `Value::Object` payloads, and lists nested 100,000
// deep, drop without recursion; shared links are left intact.
#[test]
fn linked_objects_and_nested_lists_drop_iteratively() {
    run_on(SMALL_STACK, || {
        let rt = Rt::new();
        let node = rt.class("Node").define().unwrap();
        let live = Live::default();
        let tail = rt
            .new_object(&node, Value::Any(Arc::new(live.probe())))
            .unwrap();
        let mut head = Value::Object(tail.clone());
        for _ in 0..DEEP {
            head = Value::Object(rt.new_object(&node, head).unwrap());
        }
        drop(head);
        // The tail is shared with this test: it survives, payload and all.
        assert_eq!(live.count(), 1);
        assert!(matches!(tail.payload(), Value::Any(_)));
        drop(tail);
        assert_eq!(live.count(), 0);

        let mut list = Value::Any(Arc::new(live.probe()));
        for _ in 0..DEEP {
            let object = rt.new_object(&node, list).unwrap();
            list = Value::List(Arc::from(vec![Value::Int(1), Value::Object(object)]));
        }
        assert_eq!(live.count(), 1);
        drop(list);
        assert_eq!(live.count(), 0);
    });
}

// §4: an interface with 100,000 methods, a class implementing all of them, and an
// interface with 100,000 bases; every method is served by its own body.
#[test]
fn huge_interfaces_are_defined_and_resolved() {
    watchdog(|| {
        let rt = Rt::new();
        let n = 100_000;
        let mut big = rt.interface("IBig");
        let mut class = rt.class("Big").implement("IBig");
        for i in 0..n {
            let name = format!("m{i}");
            big = big.abstract_method(&name, 0);
            let value = i64::try_from(i).unwrap();
            class = class.virtual_method(&name, 0, move |_| Ok(Value::Int(value)));
        }
        let big = big.define().unwrap();
        let class = class.define().unwrap();
        let obj = rt.new_object(&class, Value::Nil).unwrap();
        for i in [0, 1, n / 2, n - 1] {
            let method = big.method(&format!("m{i}")).unwrap();
            let expected = Value::Int(i64::try_from(i).unwrap());
            assert_eq!(obj.call(&method, &[], &mut ()).unwrap(), expected);
        }

        let mut wide = rt.interface("IWide");
        let mut bases = Vec::with_capacity(n);
        for i in 0..n {
            let base = rt
                .interface(&format!("IB{i}"))
                .abstract_method(&format!("b{i}"), 0);
            let base = base.define().unwrap();
            wide = wide.base(&base);
            bases.push(base);
        }
        let wide = wide.define().unwrap();
        assert_eq!(wide.all_bases().len(), n);
        let err = wide.method("nope").unwrap_err();
        assert_eq!(err.to_string(), "Member 'nope' not found on type 'IWide'.");
        assert_eq!(
            wide.method(&format!("b{}", n - 1)).unwrap().interface(),
            &bases[n - 1]
        );
    });
}

// §4: definitions are built without the registry lock, so two of one name can race: the
// first to register wins and the others fail as if they had come second; with `redefine`
// every one succeeds and the name ends on one of them.
#[test]
fn concurrent_definitions_of_one_name() {
    watchdog(|| {
        let rt = Rt::new();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let rt = rt.clone();
                std::thread::spawn(move || {
                    // Each thread's definition differs (a same definition would return the
                    // registered class: live reload's "same definition, same type").
                    (0..200)
                        .filter(|i| {
                            rt.class(&format!("C{i}"))
                                .virtual_method(&format!("t{t}"), 0, |_| Ok(Value::Nil))
                                .define()
                                .is_ok()
                        })
                        .count()
                })
            })
            .collect();
        let wins: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        // Each name is taken by exactly one of the racing definitions; the others fail.
        assert_eq!(wins, 200);
        let err = rt.class("C0").define().unwrap_err();
        assert_eq!(
            err.to_string(),
            "Could not load type 'C0': a type named 'C0' is already defined"
        );
        // With `redefine`, every racing definition succeeds and the name ends on one of them.
        let defined: Vec<ClassRef<DynHost>> = (0..4)
            .map(|_| {
                let rt = rt.clone();
                std::thread::spawn(move || rt.class("R").redefine().define().unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let current = rt.lookup("R").unwrap();
        assert!(defined.iter().any(|c| c.as_type() == current));
    });
}

// §5: a cast to another runtime's interface fails with an error that says so, and the
// hook (which would say yes to anything) is never asked.
#[test]
fn cast_to_a_foreign_interface_never_asks_the_hook() {
    watchdog(|| {
        let (rt, other) = (Rt::new(), Rt::new());
        let asked = Arc::new(AtomicUsize::new(0));
        let class = rt.class("C").hook(TestHook::yes(&asked)).define().unwrap();
        let obj = rt.new_object(&class, Value::Nil).unwrap();
        let foreign = other
            .interface("IGreet")
            .abstract_method("hello", 0)
            .define()
            .unwrap();
        let err = obj.cast(&foreign, &mut ()).unwrap_err();
        assert_eq!(
            (err.kind(), err.to_string()),
            (
                "InvalidOperation",
                "Type 'IGreet' belongs to another Runtime.".to_owned()
            )
        );
        let err = obj.is_instance_of(&foreign, &mut ()).unwrap_err();
        assert_eq!(err.to_string(), "Type 'IGreet' belongs to another Runtime.");
        assert!(!obj.is_instance_of_static(&foreign));
        let err = obj
            .call(&foreign.method("hello").unwrap(), &[], &mut ())
            .unwrap_err();
        assert_eq!(err.to_string(), "Type 'IGreet' belongs to another Runtime.");
        assert_eq!(asked.load(Ordering::SeqCst), 0);
    });
}

// §5: a method of another runtime's `IGreet`, called on a class that implements its own
// `IGreet`, names the real problem (not "Unable to cast ... to type 'IGreet'").
#[test]
fn foreign_method_refs_are_refused() {
    watchdog(|| {
        let (rt, other) = (Rt::new(), Rt::new());
        let greet = rt
            .interface("IGreet")
            .abstract_method("hello", 0)
            .helper("help", 0, |_| Ok(Value::Int(1)));
        let greet = greet.define().unwrap();
        let class = rt
            .class("Greeter")
            .implement(&greet)
            .virtual_method("hello", 0, |_| Ok(Value::Int(0)))
            .define()
            .unwrap();
        let obj = rt.new_object(&class, Value::Nil).unwrap();
        let foreign = other
            .interface("IGreet")
            .abstract_method("hello", 0)
            .helper("help", 0, |_| Ok(Value::Int(2)))
            .define()
            .unwrap();
        let expected = "Type 'IGreet' belongs to another Runtime.";
        for name in ["hello", "help"] {
            let method = foreign.method(name).unwrap();
            assert_eq!(
                obj.call(&method, &[], &mut ()).unwrap_err().to_string(),
                expected
            );
            assert_eq!(
                obj.resolve(&method, &mut ()).unwrap_err().to_string(),
                expected
            );
        }
        let foreign_class = other
            .class("Greeter")
            .virtual_method("hello", 0, |_| Ok(Value::Int(3)))
            .define()
            .unwrap();
        let err = obj
            .call_virtual(
                &foreign_class.virtual_method("hello").unwrap(),
                &[],
                &mut (),
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Type 'Greeter' belongs to another Runtime."
        );
        let err = other.new_object(&class, Value::Nil).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Type 'Greeter' belongs to another Runtime."
        );
    });
}

// §5: assignability across runtimes is false, for interfaces, classes and root classes.
#[test]
fn assignability_across_runtimes_is_false() {
    let (rt, other) = (Rt::new(), Rt::new());
    let iface = rt.interface("I").define().unwrap().as_type();
    let class = rt.class("C").define().unwrap().as_type();
    let foreign_iface = other.interface("I").define().unwrap().as_type();
    let foreign_class = other.class("C").define().unwrap().as_type();
    let foreign_object = other.object_class().as_type();
    for from in [&iface, &class] {
        for to in [&foreign_iface, &foreign_class, &foreign_object] {
            assert!(!from.is_assignable_to(to), "{from} -> {to}");
            assert!(!to.is_assignable_to(from), "{to} -> {from}");
        }
    }
    let object = rt.object_class().as_type();
    assert!(iface.is_assignable_to(&object) && class.is_assignable_to(&object));
}

// §4: an implementation interface with many bases is searched through its index (its own
// and its bases' defaults, overrides, re-abstractions, diamonds and, by a scan, variance):
// the same answers as the pass over a short set.
#[test]
fn wide_implementation_interfaces_resolve_like_short_ones() {
    watchdog(|| {
        let rt = Rt::new();
        let text = |s: &'static str| body(move |_| Ok(Value::from(s)));
        let padding: Vec<_> = (0..10)
            .map(|i| {
                rt.interface(&format!("IA{i}"))
                    .default_method(&format!("a{i}"), 0, move |_| Ok(Value::Int(i)))
                    .define()
                    .unwrap()
            })
            .collect();
        let base = rt
            .interface("IBase")
            .abstract_method("m", 0)
            .default_method_body("r", 0, text("r"))
            .abstract_method("o", 0)
            .define()
            .unwrap();
        let x = rt
            .interface("IX")
            .base(&base)
            .override_base_body(&base, "m", text("X"));
        let x = x.define().unwrap();
        let y = rt
            .interface("IY")
            .base(&base)
            .override_base_body(&base, "m", text("Y"));
        let y = y.define().unwrap();
        let animal = rt.class("Animal").define().unwrap();
        let cat = rt.class("Cat").base(&animal).define().unwrap();
        let producer = rt
            .generic_interface("IProducer", &[Variance::Covariant])
            .default_method_body("get", 0, text("produced"))
            .define_generic()
            .unwrap();
        let of_cat = producer.instantiate(&[cat.as_type()]).unwrap();
        let of_animal = producer.instantiate(&[animal.as_type()]).unwrap();
        let mut implementation = rt.interface("IImpl").dynamic_castable_implementation();
        for b in padding.iter().chain([&x, &y, &of_cat]) {
            implementation = implementation.base(b);
        }
        let implementation = implementation
            .override_base_body(&base, "o", text("o"))
            .reabstract(&base, "r")
            .define()
            .unwrap();
        assert!(implementation.all_bases().len() > 8);
        let class = rt
            .class("C")
            .hook(TestHook::serving(implementation))
            .define()
            .unwrap();
        let obj = rt.new_object(&class, Value::Nil).unwrap();
        let call = |iface: &InterfaceRef<DynHost>, name: &str| {
            obj.call(&iface.method(name).unwrap(), &[], &mut ())
                .map_err(|e| e.to_string())
        };
        assert_eq!(call(&padding[7], "a7"), Ok(Value::Int(7)));
        assert_eq!(call(&base, "o"), Ok(Value::from("o")));
        assert_eq!(call(&of_cat, "get"), Ok(Value::from("produced")));
        assert_eq!(call(&of_animal, "get"), Ok(Value::from("produced")));
        assert_eq!(
            call(&base, "r"),
            Err("Entry point not found: type 'C' has no implementation of 'IBase.r' in implementation interface 'IImpl' (the most specific declaration, in 'IImpl', is abstract).".to_owned())
        );
        assert_eq!(
            call(&base, "m"),
            Err("The call to 'IBase.m' on type 'C' is ambiguous: 'IX' and 'IY' each give a most specific default in implementation interface 'IImpl'.".to_owned())
        );
        assert_eq!(class.cached_resolutions(), 4);
    });
}

// §2: the instance cache links weakly: an instantiation is unique while something holds it
// and freed when nothing does; a later `instantiate` builds a new one.
#[test]
fn instantiations_are_unique_while_alive_and_freed_after() {
    let rt = Rt::new();
    let g = rt
        .generic_interface("IG", &[Variance::Invariant])
        .define_generic()
        .unwrap();
    let c = rt.class("C").define().unwrap().as_type();
    let held = g.instantiate(std::slice::from_ref(&c)).unwrap();
    assert_eq!(g.instantiate(std::slice::from_ref(&c)).unwrap(), held);
    assert_eq!(g.live_instantiations(), 1);
    let uid = held.uid();
    drop(held);
    assert_eq!(g.live_instantiations(), 0);
    let again = g.instantiate(std::slice::from_ref(&c)).unwrap();
    assert_ne!(again.uid(), uid);
    assert_eq!(again.name(), "IG<C>");
    // Held by a class, it stays the one instantiation.
    let class = rt.class("D").implement(&again).define().unwrap();
    drop(again);
    assert_eq!(g.live_instantiations(), 1);
    assert_eq!(class.interfaces(), vec![g.instantiate(&[c]).unwrap()]);
}

/// Builds a fresh implementation interface on every question, held by nothing but the
/// answer. The first two questions meet at a barrier, so both resolvers race to publish
/// and one loses; the loser's interface then dies with its resolution, and its `first`
/// body's drop resolves `second` on a new object of the class, which takes the class's
/// cache writer lock.
struct BuildsImplementations {
    rt: WeakRuntime<DynHost>,
    iface: InterfaceRef<DynHost>,
    questions: AtomicUsize,
    barrier: std::sync::Barrier,
    live: Live,
    resolved_from_drop: Arc<Mutex<Vec<Value>>>,
}

impl DynamicCastable<DynHost> for BuildsImplementations {
    fn get_interface_implementation(
        &self,
        _: &DynObject,
        _: &InterfaceRef<DynHost>,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        let n = self.questions.fetch_add(1, Ordering::SeqCst);
        if n < 2 {
            self.barrier.wait();
        }
        let Some(rt) = self.rt.upgrade() else {
            return Ok(None);
        };
        let probe = if n < 2 {
            let (weak, seen) = (self.rt.clone(), self.resolved_from_drop.clone());
            let second = self.iface.method("second")?;
            self.live.probe_with(move || {
                let Some(rt) = weak.upgrade() else { return };
                let Some(TypeRef::Class(racer)) = rt.lookup("Racer") else {
                    return;
                };
                if let Ok(obj) = rt.new_object(&racer, Value::Nil) {
                    let got = obj.call(&second, &[], &mut ()).unwrap_or(Value::Nil);
                    seen.lock().unwrap().push(got);
                }
            })
        } else {
            self.live.probe()
        };
        let name = format!("IRaceImpl{n}");
        let implementation = rt
            .interface(&name)
            .base(&self.iface)
            .override_base_body(&self.iface, "first", probed_body(probe, n as i64))
            .override_base(&self.iface, "second", |_| Ok(Value::Int(-2)))
            .dynamic_castable_implementation()
            .define()?;
        // The registry lets go of it: the answer is its only holder.
        rt.interface(&name).redefine().define()?;
        Ok(Some(implementation.as_type()))
    }
}

#[test]
fn a_lost_publish_race_drops_its_resolution_outside_the_cache_lock() {
    watchdog(|| {
        let rt = Rt::new();
        let iface = rt
            .interface("IRace")
            .abstract_method("first", 0)
            .abstract_method("second", 0)
            .define()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let live = Live::default();
        let hook = BuildsImplementations {
            rt: rt.downgrade(),
            iface: iface.clone(),
            questions: AtomicUsize::new(0),
            barrier: std::sync::Barrier::new(2),
            live: live.clone(),
            resolved_from_drop: seen.clone(),
        };
        let racer = rt.class("Racer").hook(hook).define().unwrap();
        let first = iface.method("first").unwrap();
        let results: Vec<Value> = std::thread::scope(|s| {
            let calls: Vec<_> = (0..2)
                .map(|_| {
                    let (rt, racer, first) = (&rt, &racer, &first);
                    s.spawn(move || {
                        let obj = rt.new_object(racer, Value::Nil).unwrap();
                        obj.call(first, &[], &mut ()).unwrap()
                    })
                })
                .collect();
            calls.into_iter().map(|c| c.join().unwrap()).collect()
        });
        // One published answer for both racers (D1)...
        assert_eq!(results[0], results[1]);
        // ...and the loser's drop resolved `second` (the third question) without deadlock.
        assert_eq!(*seen.lock().unwrap(), vec![Value::Int(-2)]);
        assert_eq!(
            live.0.load(Ordering::SeqCst),
            2,
            "the winner's and the third's bodies"
        );
    });
}
