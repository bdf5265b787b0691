//! The hook path beyond the scenarios S1–S7 scenarios: inheritance of the hook, the per-type cache
//! (sharing, growth, races, panics) and answers the engine must reject (rules B, C, D).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use dynacast::{
    DynError, DynHost, DynObject, DynamicCastable, InterfaceRef, Runtime, TypeRef, Value,
};

type Iface = InterfaceRef<DynHost>;

/// Picks the implementation interface for an object.
type Answer = Box<dyn Fn(&DynObject) -> TypeRef<DynHost> + Send + Sync>;

/// Serves every interface with `implementation`, counting calls; optionally panics on the
/// first dispatch question, or sleeps to widen race windows.
struct ServeAll {
    implementation: Answer,
    casts: Arc<AtomicUsize>,
    dispatches: Arc<AtomicUsize>,
    panic_first: bool,
    delay: Duration,
}

impl ServeAll {
    fn new(implementation: &Iface) -> (Self, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let answer = implementation.as_type();
        let (casts, dispatches) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let hook = ServeAll {
            implementation: Box::new(move |_| answer.clone()),
            casts: casts.clone(),
            dispatches: dispatches.clone(),
            panic_first: false,
            delay: Duration::ZERO,
        };
        (hook, casts, dispatches)
    }
}

impl DynamicCastable<DynHost> for ServeAll {
    fn is_interface_implemented(
        &self,
        _: &DynObject,
        _: &Iface,
        _: bool,
        _: &mut (),
    ) -> Result<bool, DynError> {
        self.casts.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
    fn get_interface_implementation(
        &self,
        obj: &DynObject,
        _: &Iface,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        let n = self.dispatches.fetch_add(1, Ordering::SeqCst);
        if self.panic_first && n == 0 {
            panic!("hook panicked");
        }
        thread::sleep(self.delay);
        Ok(Some((self.implementation)(obj)))
    }
}

/// `IMany` with `n` methods `m0…`, and a marked implementation whose `mi` returns `i`.
fn many(rt: &Runtime<DynHost>, n: usize) -> (Iface, Iface) {
    let mut b = rt.interface("IMany");
    for i in 0..n {
        b = b.abstract_method(&format!("m{i}"), 0);
    }
    let many = b.define().unwrap();
    let mut b = rt
        .interface("IManyImpl")
        .base(&many)
        .dynamic_castable_implementation();
    for i in 0..n {
        b = b.override_base(&many, &format!("m{i}"), move |_| Ok(Value::Int(i as i64)));
    }
    (many, b.define().unwrap())
}

#[test]
fn subclasses_inherit_the_hook_and_keep_their_own_cache() {
    let rt = Runtime::<DynHost>::new();
    let (many, imp) = many(&rt, 1);
    let (hook, casts, dispatches) = ServeAll::new(&imp);
    let base = rt.class("Base").hook(hook).define().unwrap();
    let derived = rt.class("Derived").base(&base).define().unwrap();
    assert!(derived.has_hook());
    let m0 = many.method("m0").unwrap();

    let b = rt.new_object(&base, Value::Nil).unwrap();
    let d = rt.new_object(&derived, Value::Nil).unwrap();
    assert!(d.is_instance_of(&many, &mut ()).unwrap());
    assert_eq!(casts.load(Ordering::SeqCst), 1);
    assert_eq!(b.call(&m0, &[], &mut ()).unwrap(), Value::Int(0));
    assert_eq!(d.call(&m0, &[], &mut ()).unwrap(), Value::Int(0));
    // D1 caches per type: Derived is another type, so it asks once for itself.
    assert_eq!(dispatches.load(Ordering::SeqCst), 2);
    assert_eq!(
        (base.cached_resolutions(), derived.cached_resolutions()),
        (1, 1)
    );
    d.call(&m0, &[], &mut ()).unwrap();
    assert_eq!(dispatches.load(Ordering::SeqCst), 2);
}

#[test]
fn the_cache_grows_and_keeps_every_entry() {
    let rt = Runtime::<DynHost>::new();
    let (many, imp) = many(&rt, 40);
    let (hook, _, dispatches) = ServeAll::new(&imp);
    let class = rt.class("Many").hook(hook).define().unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    let methods = many.methods();
    for (i, m) in methods.iter().enumerate() {
        assert_eq!(obj.call(m, &[], &mut ()).unwrap(), Value::Int(i as i64));
        // Everything published so far is still there after each growth.
        for (j, earlier) in methods[..=i].iter().enumerate() {
            assert_eq!(
                obj.call(earlier, &[], &mut ()).unwrap(),
                Value::Int(j as i64)
            );
        }
    }
    assert_eq!(dispatches.load(Ordering::SeqCst), 40);
    assert_eq!(class.cached_resolutions(), 40);
}

#[test]
fn racing_first_resolutions_publish_one_answer() {
    const THREADS: usize = 4;
    for _round in 0..20 {
        let rt = Runtime::<DynHost>::new();
        let iface = rt
            .interface("IWho")
            .abstract_method("who", 0)
            .define()
            .unwrap();
        // Implementation k answers k; the hook names a different one per instance, which
        // breaks the hook contract on purpose: the first published answer must serve all.
        let impls: Vec<Iface> = (0..THREADS)
            .map(|k| {
                rt.interface(&format!("IWhoImpl{k}"))
                    .base(&iface)
                    .override_base(&iface, "who", move |_| Ok(Value::Int(k as i64)))
                    .dynamic_castable_implementation()
                    .define()
                    .unwrap()
            })
            .collect();
        let (mut hook, _, dispatches) = ServeAll::new(&impls[0]);
        hook.implementation =
            Box::new(move |obj| impls[obj.payload().as_int().unwrap() as usize].as_type());
        hook.delay = Duration::from_millis(2);
        let class = rt.class("Racy").hook(hook).define().unwrap();
        let who = iface.method("who").unwrap();
        let barrier = Arc::new(Barrier::new(THREADS));
        let answers: Vec<Value> = thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|k| {
                    let obj = rt.new_object(&class, Value::Int(k as i64)).unwrap();
                    let (who, barrier) = (who.clone(), barrier.clone());
                    s.spawn(move || {
                        barrier.wait();
                        obj.call(&who, &[], &mut ()).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let calls = dispatches.load(Ordering::SeqCst);
        assert!((1..=THREADS).contains(&calls), "{calls} hook calls");
        assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
        // Every later call, on any instance, returns the published answer without asking.
        for k in 0..THREADS {
            let obj = rt.new_object(&class, Value::Int(k as i64)).unwrap();
            assert_eq!(obj.call(&who, &[], &mut ()).unwrap(), answers[0]);
        }
        assert_eq!(dispatches.load(Ordering::SeqCst), calls);
        assert_eq!(class.cached_resolutions(), 1);
    }
}

#[test]
fn a_panicking_hook_publishes_nothing() {
    let rt = Runtime::<DynHost>::new();
    let (many, imp) = many(&rt, 2);
    let (mut hook, _, dispatches) = ServeAll::new(&imp);
    hook.panic_first = true;
    let class = rt.class("Panicky").hook(hook).define().unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    let m1 = many.method("m1").unwrap();
    let caught = catch_unwind(AssertUnwindSafe(|| obj.call(&m1, &[], &mut ())));
    assert!(caught.is_err(), "the panic reaches the caller");
    assert_eq!(class.cached_resolutions(), 0);
    assert_eq!(obj.call(&m1, &[], &mut ()).unwrap(), Value::Int(1));
    assert_eq!(obj.call(&m1, &[], &mut ()).unwrap(), Value::Int(1));
    assert_eq!(dispatches.load(Ordering::SeqCst), 2);
    assert_eq!(class.cached_resolutions(), 1);
}

#[test]
fn an_implementation_from_another_runtime_is_rejected() {
    let rt = Runtime::<DynHost>::new();
    let other = Runtime::<DynHost>::new();
    let (many, _) = many(&rt, 1);
    let (_, foreign_impl) = self::many(&other, 1);
    let (hook, _, dispatches) = ServeAll::new(&foreign_impl);
    let class = rt.class("Foreign").hook(hook).define().unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    let err = obj
        .call(&many.method("m0").unwrap(), &[], &mut ())
        .unwrap_err();
    assert_eq!(err.kind(), "InvalidOperation");
    assert_eq!(
        err.to_string(),
        "Type 'IManyImpl' returned by IDynamicInterfaceCastable belongs to another Runtime."
    );
    obj.call(&many.method("m0").unwrap(), &[], &mut ())
        .unwrap_err();
    assert_eq!(dispatches.load(Ordering::SeqCst), 2);
}

#[test]
fn without_a_hook_a_missing_interface_is_an_invalid_cast() {
    let rt = Runtime::<DynHost>::new();
    let (many, _) = many(&rt, 1);
    let plain = rt.class("Plain").define().unwrap();
    let obj = rt.new_object(&plain, Value::Nil).unwrap();
    assert!(!obj.is_instance_of(&many, &mut ()).unwrap());
    let err = obj
        .call(&many.method("m0").unwrap(), &[], &mut ())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to cast object of type 'Plain' to type 'IMany'."
    );
}

/// A hook that asks about the object it is asked about, forever.
struct Narcissus {
    iface: Iface,
    calls: Arc<AtomicUsize>,
}

impl DynamicCastable<DynHost> for Narcissus {
    fn is_interface_implemented(
        &self,
        obj: &DynObject,
        iface: &Iface,
        _: bool,
        cx: &mut (),
    ) -> Result<bool, DynError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        obj.is_instance_of(iface, cx)
    }
    fn get_interface_implementation(
        &self,
        obj: &DynObject,
        _: &Iface,
        cx: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        obj.call(&self.iface.method("m0")?, &[], cx)?;
        Ok(None)
    }
}

#[test]
fn endless_hook_recursion_is_an_error_not_a_stack_overflow() {
    let rt = Runtime::<DynHost>::new();
    let (many, _) = many(&rt, 1);
    let calls = Arc::new(AtomicUsize::new(0));
    let class = rt
        .class("Narcissus")
        .hook(Narcissus {
            iface: many.clone(),
            calls: calls.clone(),
        })
        .define()
        .unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    let limit = dynacast::hook::max_hook_depth();
    assert_eq!(limit, dynacast::hook::DEFAULT_MAX_HOOK_DEPTH);
    let message = format!(
        "Hook calls nested more than {limit} deep asking type 'Narcissus' about 'IMany': the hook recurses without end."
    );

    let err = obj.is_instance_of(&many, &mut ()).unwrap_err();
    assert_eq!(
        (err.kind(), err.to_string()),
        ("InvalidOperation", message.clone())
    );
    assert_eq!(calls.load(Ordering::SeqCst), limit);

    let err = obj
        .call(&many.method("m0").unwrap(), &[], &mut ())
        .unwrap_err();
    assert_eq!((err.kind(), err.to_string()), ("InvalidOperation", message));
    assert_eq!(calls.load(Ordering::SeqCst), 2 * limit);
    // The nesting count unwound with the errors: the next attempt gets the full depth again.
    obj.is_instance_of(&many, &mut ()).unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 3 * limit);
}

/// Asks about the object and interface it is asked about again, through `is_instance_of`
/// (or `Object::cast`'s inlined hook step when `by_cast`), counting its calls; panics on
/// its `panic_at`-th call and answers "no" on its `answer_at`-th instead (0: never).
struct AsksItself {
    calls: Arc<AtomicUsize>,
    panic_at: usize,
    answer_at: usize,
    by_cast: bool,
}

impl AsksItself {
    fn new(calls: &Arc<AtomicUsize>, panic_at: usize, answer_at: usize, by_cast: bool) -> Self {
        AsksItself {
            calls: calls.clone(),
            panic_at,
            answer_at,
            by_cast,
        }
    }
}

impl DynamicCastable<DynHost> for AsksItself {
    fn is_interface_implemented(
        &self,
        obj: &DynObject,
        iface: &Iface,
        _: bool,
        cx: &mut (),
    ) -> Result<bool, DynError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let kind = if self.by_cast { "cast hook" } else { "hook" };
        if call == self.panic_at {
            panic!("{kind} panics {call} deep");
        }
        if call == self.answer_at {
            return Ok(false);
        }
        if self.by_cast {
            obj.cast(iface, cx).map(|_| true)
        } else {
            obj.is_instance_of(iface, cx)
        }
    }
}

#[test]
fn a_panic_deep_in_nested_hooks_restores_the_nesting_count() {
    let rt = Runtime::<DynHost>::new();
    let (many, _) = many(&rt, 1);
    let calls = Arc::new(AtomicUsize::new(0));
    let panic_at = 5;
    let class = rt
        .class("PanicsDeep")
        .hook(AsksItself::new(&calls, panic_at, 0, false))
        .define()
        .unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    let caught = catch_unwind(AssertUnwindSafe(|| obj.is_instance_of(&many, &mut ())));
    let payload = caught.expect_err("the panic reaches the caller");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("hook panics 5 deep")
    );
    assert_eq!(calls.load(Ordering::SeqCst), panic_at);
    // Five guards unwound: the next recursion gets the whole depth again, not limit - 5.
    let err = obj.is_instance_of(&many, &mut ()).unwrap_err();
    assert_eq!(err.kind(), "InvalidOperation");
    let limit = dynacast::hook::max_hook_depth();
    assert_eq!(calls.load(Ordering::SeqCst), panic_at + limit);
}

// `Object::cast` asks a hooked class's hook on its inlined path (one compare, then the
// hook's own cast entry point, which counts the nesting): the limit, its exact error, a
// "no" turned into the cast's error, and the count restored after errors and panics.
#[test]
fn cast_asks_the_hook_with_nesting_limit_error_and_restored_count() {
    let rt = Runtime::<DynHost>::new();
    let (many, _) = many(&rt, 1);
    let limit = dynacast::hook::max_hook_depth();
    let calls = Arc::new(AtomicUsize::new(0));
    let define = |name: &str, panic_at, answer_at| {
        rt.class(name)
            .hook(AsksItself::new(&calls, panic_at, answer_at, true))
            .define()
            .unwrap()
    };

    let endless = rt.new_object(&define("Endless", 0, 0), Value::Nil).unwrap();
    let err = endless.cast(&many, &mut ()).unwrap_err();
    assert_eq!(
        (err.kind(), err.to_string()),
        (
            "InvalidOperation",
            format!("Hook calls nested more than {limit} deep asking type 'Endless' about 'IMany': the hook recurses without end.")
        )
    );
    assert_eq!(calls.load(Ordering::SeqCst), limit);
    endless.cast(&many, &mut ()).unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 2 * limit, "the count unwound");

    calls.store(0, Ordering::SeqCst);
    let says_no = rt.new_object(&define("SaysNo", 0, 3), Value::Nil).unwrap();
    let err = says_no.cast(&many, &mut ()).unwrap_err();
    assert_eq!(
        (err.kind(), err.to_string()),
        (
            "InvalidCast",
            "Unable to cast object of type 'SaysNo' to type 'IMany'.".to_string()
        )
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    calls.store(0, Ordering::SeqCst);
    let panics = rt.new_object(&define("Panics", 5, 0), Value::Nil).unwrap();
    let caught = catch_unwind(AssertUnwindSafe(|| panics.cast(&many, &mut ())));
    let payload = caught.expect_err("the panic reaches the caller");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("cast hook panics 5 deep")
    );
    // Five levels unwound: the next recursion gets the whole depth again, not limit - 5.
    panics.cast(&many, &mut ()).unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 5 + limit);
}

// A hooked class that also implements an interface in its metadata takes the cast's
// out-of-line path (its hook gate is closed): its own interface never asks the hook, any
// other asks it on every attempt.
#[test]
fn a_hooked_class_with_interfaces_asks_its_hook_only_about_the_others() {
    let rt = Runtime::<DynHost>::new();
    let (many, imp) = many(&rt, 1);
    let own = rt.interface("IOwn").define().unwrap();
    let other = rt.interface("IOther").define().unwrap();
    let (hook, casts, _) = ServeAll::new(&imp);
    let class = rt
        .class("Mixed")
        .implement(&own)
        .hook(hook)
        .define()
        .unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    obj.cast(&own, &mut ()).unwrap();
    assert!(obj.is_instance_of(&own, &mut ()).unwrap());
    assert_eq!(
        casts.load(Ordering::SeqCst),
        0,
        "metadata answers first (B1)"
    );
    obj.cast(&many, &mut ()).unwrap();
    assert!(obj.is_instance_of(&many, &mut ()).unwrap());
    assert_eq!(
        casts.load(Ordering::SeqCst),
        2,
        "every other cast asks (B2-B3)"
    );
    obj.cast(&other, &mut ()).unwrap();
    assert_eq!(casts.load(Ordering::SeqCst), 3);
    // A subclass inherits the hook and the interface: the same answers.
    let sub = rt.class("MixedSub").base(&class).define().unwrap();
    let sub_obj = rt.new_object(&sub, Value::Nil).unwrap();
    sub_obj.cast(&own, &mut ()).unwrap();
    sub_obj.cast(&other, &mut ()).unwrap();
    assert_eq!(casts.load(Ordering::SeqCst), 4);
}

/// A panic deep in nested hooks restores the nesting count (as above) also when the
/// outermost call is `cast`'s inlined hook step and the hook was given as an `Arc<dyn>`
/// (called through its typed wrapper's thin entry point).
#[test]
fn a_panic_in_a_shared_hook_under_cast_restores_the_nesting_count() {
    let rt = Runtime::<DynHost>::new();
    let (many, _) = many(&rt, 1);
    let calls = Arc::new(AtomicUsize::new(0));
    let panic_at = 3;
    let hook: Arc<dyn DynamicCastable<DynHost>> =
        Arc::new(AsksItself::new(&calls, panic_at, 0, false));
    let class = rt.class("PanicsShared").shared_hook(hook).define().unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    let caught = catch_unwind(AssertUnwindSafe(|| obj.cast(&many, &mut ()).map(|_| ())));
    let payload = caught.expect_err("the panic reaches the caller");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("hook panics 3 deep")
    );
    assert_eq!(calls.load(Ordering::SeqCst), panic_at);
    let err = obj.cast(&many, &mut ()).unwrap_err();
    let limit = dynacast::hook::max_hook_depth();
    assert_eq!(
        err.to_string(),
        format!(
            "Hook calls nested more than {limit} deep asking type 'PanicsShared' about \
             'IMany': the hook recurses without end."
        )
    );
    assert_eq!(calls.load(Ordering::SeqCst), panic_at + limit);
}
