//! Hooks that misbehave (rules C1–D3 D2 and the hook contract in `src/hook.rs`): they panic,
//! re-enter the engine on the same object, recurse, define types, answer per instance, or
//! return types of another runtime. Every test runs under a watchdog, so a deadlock fails
//! the test instead of hanging CI.

mod model;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use dynacast::{
    ClassRef, DynError, DynHost, DynObject, DynamicCastable, InterfaceRef, MethodRef, Runtime,
    TypeRef, Value,
};
use model::within;

type IsFn =
    dyn Fn(&DynObject, &InterfaceRef<DynHost>, bool) -> Result<bool, DynError> + Send + Sync;
type GetFn = dyn Fn(&DynObject, &InterfaceRef<DynHost>) -> Result<Option<TypeRef<DynHost>>, DynError>
    + Send
    + Sync;

/// A hook made of two closures, counting its calls.
struct FnHook {
    is: Box<IsFn>,
    get: Box<GetFn>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    is: AtomicUsize,
    get: AtomicUsize,
}

impl Counts {
    fn get(&self) -> (usize, usize) {
        (
            self.is.load(Ordering::SeqCst),
            self.get.load(Ordering::SeqCst),
        )
    }
}

impl DynamicCastable<DynHost> for FnHook {
    fn is_interface_implemented(
        &self,
        obj: &DynObject,
        iface: &InterfaceRef<DynHost>,
        throw: bool,
        _cx: &mut (),
    ) -> Result<bool, DynError> {
        self.counts.is.fetch_add(1, Ordering::SeqCst);
        (self.is)(obj, iface, throw)
    }

    fn get_interface_implementation(
        &self,
        obj: &DynObject,
        iface: &InterfaceRef<DynHost>,
        _cx: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.counts.get.fetch_add(1, Ordering::SeqCst);
        (self.get)(obj, iface)
    }
}

/// `ITest { hello }` and `IOther { other }`, each with a marked implementation interface
/// whose body returns a string naming it.
struct Fixture {
    rt: Runtime<DynHost>,
    itest: InterfaceRef<DynHost>,
    hello: MethodRef<DynHost>,
    imp: InterfaceRef<DynHost>,
    iother: InterfaceRef<DynHost>,
    other: MethodRef<DynHost>,
    other_imp: InterfaceRef<DynHost>,
}

fn implementation(
    rt: &Runtime<DynHost>,
    name: &str,
    base: &InterfaceRef<DynHost>,
    method: &str,
    answer: &'static str,
) -> InterfaceRef<DynHost> {
    rt.interface(name)
        .base(base)
        .override_base(base, method, move |_| Ok(Value::from(answer)))
        .dynamic_castable_implementation()
        .define()
        .unwrap()
}

fn fixture() -> Fixture {
    let rt = Runtime::<DynHost>::new();
    let itest = rt
        .interface("ITest")
        .abstract_method("hello", 0)
        .define()
        .unwrap();
    let iother = rt
        .interface("IOther")
        .abstract_method("other", 0)
        .define()
        .unwrap();
    let imp = implementation(&rt, "ITestImpl", &itest, "hello", "hello");
    let other_imp = implementation(&rt, "IOtherImpl", &iother, "other", "other");
    Fixture {
        hello: itest.method("hello").unwrap(),
        other: iother.method("other").unwrap(),
        rt,
        itest,
        imp,
        iother,
        other_imp,
    }
}

impl Fixture {
    fn class(
        &self,
        name: &str,
        is: Box<IsFn>,
        get: Box<GetFn>,
    ) -> (ClassRef<DynHost>, Arc<Counts>) {
        let counts = Arc::new(Counts::default());
        let class = self
            .rt
            .class(name)
            .hook(FnHook {
                is,
                get,
                counts: counts.clone(),
            })
            .define()
            .unwrap();
        (class, counts)
    }

    fn object(&self, class: &ClassRef<DynHost>, payload: i64) -> DynObject {
        self.rt.new_object(class, Value::Int(payload)).unwrap()
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn a_panicking_dispatch_hook_publishes_nothing_and_the_next_call_works() {
    within(30, || {
        let f = fixture();
        let panicked = Arc::new(AtomicBool::new(false));
        let (imp, itest) = (f.imp.clone(), f.itest.clone());
        let p = panicked.clone();
        let (class, counts) = f.class(
            "Panicky",
            Box::new(|_, _, _| Ok(false)),
            Box::new(move |_, iface| {
                if !p.swap(true, Ordering::SeqCst) {
                    panic!("hook panicked on purpose");
                }
                Ok((*iface == itest).then(|| imp.as_type()))
            }),
        );
        let (a, b) = (f.object(&class, 0), f.object(&class, 1));
        let caught = catch_unwind(AssertUnwindSafe(|| a.call(&f.hello, &[], &mut ())))
            .expect_err("the panic reaches the caller");
        assert_eq!(panic_message(&*caught), "hook panicked on purpose");
        assert_eq!(
            class.cached_resolutions(),
            0,
            "a panicking hook publishes nothing"
        );
        assert_eq!(counts.get(), (0, 1));

        assert_eq!(
            a.call(&f.hello, &[], &mut ()).unwrap(),
            Value::from("hello")
        );
        assert_eq!(counts.get(), (0, 2), "the next call asks the hook again");
        assert_eq!(class.cached_resolutions(), 1);
        assert_eq!(
            b.call(&f.hello, &[], &mut ()).unwrap(),
            Value::from("hello")
        );
        assert_eq!(
            counts.get(),
            (0, 2),
            "then the published answer serves every instance"
        );
    });
}

#[test]
fn a_panicking_cast_hook_reaches_the_caller_and_the_next_cast_asks_again() {
    within(30, || {
        let f = fixture();
        let panicked = Arc::new(AtomicBool::new(false));
        let p = panicked.clone();
        let itest = f.itest.clone();
        let (class, counts) = f.class(
            "PanickyCast",
            Box::new(move |_, iface, _| {
                if !p.swap(true, Ordering::SeqCst) {
                    panic!("cast hook panicked");
                }
                Ok(*iface == itest)
            }),
            Box::new(|_, _| Ok(None)),
        );
        let a = f.object(&class, 0);
        let caught = catch_unwind(AssertUnwindSafe(|| a.cast(&f.itest, &mut ())))
            .expect_err("the panic reaches the caller");
        assert_eq!(panic_message(&*caught), "cast hook panicked");
        a.cast(&f.itest, &mut ()).unwrap();
        assert!(a.is_instance_of(&f.itest, &mut ()).unwrap());
        assert_eq!(counts.get(), (3, 0), "every cast asks the hook (B3)");
    });
}

#[test]
fn a_hook_may_cast_and_dispatch_on_the_same_object_from_inside() {
    within(30, || {
        let f = fixture();
        let (itest, iother, other) = (f.itest.clone(), f.iother.clone(), f.other.clone());
        let (imp, other_imp) = (f.imp.clone(), f.other_imp.clone());
        let (itest2, iother2) = (f.itest.clone(), f.iother.clone());
        let (class, counts) = f.class(
            "Reentrant",
            Box::new(move |obj, iface, _| {
                if *iface == itest2 {
                    // A cast on the same object from inside the cast hook.
                    return obj.is_instance_of(&iother2, &mut ());
                }
                Ok(*iface == iother2)
            }),
            Box::new(move |obj, iface| {
                if *iface == itest {
                    // A cast and a dispatch on the same object from inside the hook.
                    obj.cast(&iother, &mut ())?;
                    assert_eq!(obj.call(&other, &[], &mut ())?, Value::from("other"));
                    return Ok(Some(imp.as_type()));
                }
                Ok((*iface == iother).then(|| other_imp.as_type()))
            }),
        );
        let a = f.object(&class, 0);
        a.cast(&f.itest, &mut ()).unwrap();
        assert_eq!(counts.get(), (2, 0), "the outer cast and the one inside it");
        assert_eq!(
            a.call(&f.hello, &[], &mut ()).unwrap(),
            Value::from("hello")
        );
        // get(ITest) → cast IOther (is +1) → call other → get(IOther).
        assert_eq!(counts.get(), (3, 2));
        assert_eq!(
            a.call(&f.hello, &[], &mut ()).unwrap(),
            Value::from("hello")
        );
        assert_eq!(
            a.call(&f.other, &[], &mut ()).unwrap(),
            Value::from("other")
        );
        assert_eq!(counts.get(), (3, 2), "both resolutions are published");
        assert_eq!(class.cached_resolutions(), 2);
    });
}

/// Endless hook recursion is refused at `max_hook_depth` (tests/hook_dispatch.rs); this
/// checks that bounded deep re-entrancy below that limit completes with exact counts.
#[test]
fn deep_reentrant_dispatch_from_the_hook_completes() {
    const DEPTH: usize = 100;
    within(60, || {
        let f = fixture();
        let depth = Arc::new(AtomicUsize::new(0));
        // Stack addresses of the outermost and innermost hook frames, to report the stack
        // one level of re-entrant dispatch takes (a host picking its own depth limit needs it).
        let frames = Arc::new(std::sync::Mutex::new(Vec::<usize>::new()));
        let (imp, hello, d, fr) = (
            f.imp.clone(),
            f.hello.clone(),
            depth.clone(),
            frames.clone(),
        );
        let (class, counts) = f.class(
            "Deep",
            Box::new(|_, _, _| Ok(false)),
            Box::new(move |obj, _| {
                let marker = 0u8;
                fr.lock().unwrap().push(std::ptr::addr_of!(marker) as usize);
                if d.fetch_add(1, Ordering::SeqCst) < DEPTH {
                    // The very method being resolved, on the same object: not published
                    // yet, so it asks the hook again, one level deeper.
                    assert_eq!(obj.call(&hello, &[], &mut ())?, Value::from("hello"));
                }
                Ok(Some(imp.as_type()))
            }),
        );
        let a = f.object(&class, 0);
        assert_eq!(
            a.call(&f.hello, &[], &mut ()).unwrap(),
            Value::from("hello")
        );
        assert_eq!(counts.get(), (0, DEPTH + 1));
        assert_eq!(
            class.cached_resolutions(),
            1,
            "the innermost answer, published once"
        );
        assert_eq!(
            a.call(&f.hello, &[], &mut ()).unwrap(),
            Value::from("hello")
        );
        assert_eq!(counts.get(), (0, DEPTH + 1));
        let frames = frames.lock().unwrap();
        let per_level = frames[0].abs_diff(frames[DEPTH]) / DEPTH;
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("re-entrancy: depth {DEPTH} completed, {per_level} bytes of stack per level\n")
                .as_bytes(),
        );
    });
}

#[test]
fn a_hook_may_define_new_types_through_the_runtime() {
    within(30, || {
        let f = fixture();
        let weak = f.rt.downgrade();
        let weak2 = f.rt.downgrade();
        let defined = Arc::new(AtomicUsize::new(0));
        let d = defined.clone();
        let (class, counts) = f.class(
            "Definer",
            Box::new(move |_, _, _| {
                let rt = weak2.upgrade().expect("runtime alive");
                let n = d.fetch_add(1, Ordering::SeqCst);
                rt.class(&format!("Side{n}")).define()?;
                Ok(true)
            }),
            Box::new(move |_, iface| {
                let rt = weak.upgrade().expect("runtime alive");
                let name = format!("{}Generated", iface.name());
                let generated = rt
                    .interface(&name)
                    .base(iface)
                    .override_base(iface, "hello", |_| Ok(Value::from("generated")))
                    .dynamic_castable_implementation()
                    .define()?;
                Ok(Some(generated.as_type()))
            }),
        );
        let a = f.object(&class, 0);
        for _ in 0..3 {
            a.cast(&f.itest, &mut ()).unwrap();
        }
        for n in 0..3 {
            assert!(f.rt.lookup(&format!("Side{n}")).is_some());
        }
        assert_eq!(
            a.call(&f.hello, &[], &mut ()).unwrap(),
            Value::from("generated")
        );
        assert!(f.rt.lookup("ITestGenerated").is_some());
        assert_eq!(
            a.call(&f.hello, &[], &mut ()).unwrap(),
            Value::from("generated")
        );
        assert_eq!(
            counts.get(),
            (3, 1),
            "published: the hook does not define it twice"
        );
    });
}

/// The hook contract asks for one answer per type; a hook that breaks it gets the
/// documented outcome: the first published answer serves every instance (rule D1).
#[test]
fn a_per_instance_dispatch_answer_is_served_to_the_whole_type() {
    within(30, || {
        let f = fixture();
        let imp_a = implementation(&f.rt, "ImplA", &f.itest, "hello", "A");
        let imp_b = implementation(&f.rt, "ImplB", &f.itest, "hello", "B");
        let (class, counts) = f.class(
            "Fickle",
            Box::new(|_, _, _| Ok(true)),
            Box::new(move |obj, _| {
                let answer = if obj.payload().as_int() == Some(0) {
                    &imp_a
                } else {
                    &imp_b
                };
                Ok(Some(answer.as_type()))
            }),
        );
        let (zero, one) = (f.object(&class, 0), f.object(&class, 1));
        assert_eq!(one.call(&f.hello, &[], &mut ()).unwrap(), Value::from("B"));
        assert_eq!(zero.call(&f.hello, &[], &mut ()).unwrap(), Value::from("B"));
        assert_eq!(counts.get(), (0, 1));
    });
}

#[test]
fn a_type_from_another_runtime_is_rejected_and_not_cached() {
    within(30, || {
        let f = fixture();
        let other_rt = Runtime::<DynHost>::new();
        let foreign_test = other_rt
            .interface("ITest")
            .abstract_method("hello", 0)
            .define()
            .unwrap();
        let foreign = implementation(&other_rt, "ITestImpl", &foreign_test, "hello", "foreign");
        let (class, counts) = f.class(
            "Smuggler",
            Box::new(|_, _, _| Ok(true)),
            Box::new(move |_, _| Ok(Some(foreign.as_type()))),
        );
        let a = f.object(&class, 0);
        for attempt in 1..=2 {
            let err = a.call(&f.hello, &[], &mut ()).unwrap_err();
            assert_eq!(err.kind(), "InvalidOperation");
            assert_eq!(
                err.to_string(),
                "Type 'ITestImpl' returned by IDynamicInterfaceCastable belongs to another Runtime."
            );
            assert_eq!(counts.get(), (0, attempt), "failures are not cached");
        }
        assert_eq!(class.cached_resolutions(), 0);
    });
}

/// Not a hook, but the same promise: a body that panics unwinds to the caller, and the
/// resolution published before it ran keeps serving.
#[test]
fn a_panicking_body_reaches_the_caller_and_the_next_call_works() {
    within(30, || {
        let f = fixture();
        let panicked = Arc::new(AtomicBool::new(false));
        let p = panicked.clone();
        let imp =
            f.rt.interface("PanickyImpl")
                .base(&f.itest)
                .override_base(&f.itest, "hello", move |_| {
                    if !p.swap(true, Ordering::SeqCst) {
                        panic!("body panicked");
                    }
                    Ok(Value::from("recovered"))
                })
                .dynamic_castable_implementation()
                .define()
                .unwrap();
        let (class, counts) = f.class(
            "PanickyBody",
            Box::new(|_, _, _| Ok(true)),
            Box::new(move |_, _| Ok(Some(imp.as_type()))),
        );
        let a = f.object(&class, 0);
        let caught = catch_unwind(AssertUnwindSafe(|| a.call(&f.hello, &[], &mut ())))
            .expect_err("the panic reaches the caller");
        assert_eq!(panic_message(&*caught), "body panicked");
        assert_eq!(
            a.call(&f.hello, &[], &mut ()).unwrap(),
            Value::from("recovered")
        );
        assert_eq!(counts.get(), (0, 1), "resolved once, before the body ran");
    });
}
