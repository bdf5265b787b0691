//! A host, a counting hook and a small world of types, built afresh in every iteration of
//! a model (loom objects cannot outlive their iteration).
//!
//! The world: interface `I { m0 .. m(n-1) }`; implementation interfaces `Impl<t>` (marked,
//! base `I`) whose body for `mk` returns `t * 100 + k`, so a result names both the
//! implementation and the method; interface `K { k0 }` served by `KImpl` (`k0` returns
//! [`K_VALUE`]); interface `J`, which the hook claims for casts; class `C` with the hook
//! and no interface in its metadata, and one object of it.

use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};

use dynacast::{
    ClassRef, DynamicCastable, Error, Host, InterfaceRef, MethodRef, Object, Runtime, TypeRef,
    WeakRuntime,
};
use loom::sync::atomic::{AtomicUsize, Ordering};

/// The host of the models: values are numbers, the context records what one actor's calls
/// made the hook do.
pub struct LoomHost;

/// The host error (no model expects one).
#[derive(Debug)]
pub struct ModelError(pub &'static str);

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ModelError {}

impl Host for LoomHost {
    type Value = u64;
    type Error = ModelError;
    type Context = Caller;
    type Payload = ();
}

/// One actor's record of the hook calls its own calls caused (nested ones included).
#[derive(Default, Debug, Clone, Copy)]
pub struct Caller {
    /// `get_interface_implementation` calls, any interface.
    pub dispatch_hook_calls: usize,
    /// `is_interface_implemented` calls.
    pub cast_hook_calls: usize,
    /// Nested `K.k0` calls made by a re-entrant hook that the cache served.
    pub nested_hits: usize,
    /// Nested `K.k0` calls made by a re-entrant hook that asked the hook.
    pub nested_misses: usize,
}

/// What `K.k0` returns.
pub const K_VALUE: u64 = 900;

/// What the hook does besides answering.
pub enum Behaviour {
    /// Only answers.
    Plain,
    /// The very first `get_interface_implementation` call panics.
    PanicOnFirstCall,
    /// Asked about `I`, first casts the object to `J` and calls `K.k0` on it (rule D2).
    Reenter,
    /// Asked about `I`, first defines a new interface in the runtime (rule D2).
    DefineTypes,
    /// Keeps its own object alive: a reference cycle, which leaks the class's tables.
    HoldsItsObject,
}

/// Counters shared by the hook and the model (loom atomics: the hook's bookkeeping is part
/// of what loom interleaves).
#[derive(Default)]
pub struct Counters {
    /// `get_interface_implementation` calls about `I`, in call order.
    pub dispatch_about_i: AtomicUsize,
    /// `is_interface_implemented` calls.
    pub cast: AtomicUsize,
}

/// A hook that answers `I` with the implementations in turn (the n-th call about `I` gets
/// `impls[n % len]`), `K` with `KImpl`, and claims `J` for casts.
///
/// Answering in turn breaks the hook contract on purpose (one answer per type): it makes a
/// non-canonical result visible, which a contract-abiding hook would hide.
pub struct CountingHook {
    counters: Arc<Counters>,
    impls: Vec<InterfaceRef<LoomHost>>,
    i: InterfaceRef<LoomHost>,
    j: InterfaceRef<LoomHost>,
    k: InterfaceRef<LoomHost>,
    k0: MethodRef<LoomHost>,
    k_impl: InterfaceRef<LoomHost>,
    behaviour: Behaviour,
    runtime: WeakRuntime<LoomHost>,
    held: StdMutex<Option<Object<LoomHost>>>,
}

impl DynamicCastable<LoomHost> for CountingHook {
    fn is_interface_implemented(
        &self,
        _obj: &Object<LoomHost>,
        iface: &InterfaceRef<LoomHost>,
        _throw: bool,
        cx: &mut Caller,
    ) -> Result<bool, Error<ModelError>> {
        self.counters.cast.fetch_add(1, Ordering::Relaxed);
        cx.cast_hook_calls += 1;
        Ok(*iface == self.j)
    }

    fn get_interface_implementation(
        &self,
        obj: &Object<LoomHost>,
        iface: &InterfaceRef<LoomHost>,
        cx: &mut Caller,
    ) -> Result<Option<TypeRef<LoomHost>>, Error<ModelError>> {
        cx.dispatch_hook_calls += 1;
        if *iface == self.k {
            return Ok(Some(self.k_impl.as_type()));
        }
        if *iface != self.i {
            return Ok(None);
        }
        let n = self
            .counters
            .dispatch_about_i
            .fetch_add(1, Ordering::Relaxed);
        match self.behaviour {
            Behaviour::PanicOnFirstCall if n == 0 => {
                std::panic::panic_any(crate::explore::PLANNED_PANIC)
            }
            Behaviour::Reenter => {
                obj.cast(&self.j, cx)?;
                let before = cx.dispatch_hook_calls;
                assert_eq!(obj.call(&self.k0, &[], cx)?, K_VALUE);
                if cx.dispatch_hook_calls == before {
                    cx.nested_hits += 1;
                } else {
                    cx.nested_misses += 1;
                }
            }
            Behaviour::DefineTypes => {
                if let Some(rt) = self.runtime.upgrade() {
                    rt.interface(&format!("DefinedByHook{n}")).define()?;
                }
            }
            _ => {}
        }
        Ok(Some(self.impls[n % self.impls.len()].as_type()))
    }
}

/// The types and the object of one iteration.
pub struct World {
    /// The runtime.
    pub rt: Runtime<LoomHost>,
    /// `I`'s methods `m0 ..`.
    pub m: Vec<MethodRef<LoomHost>>,
    /// `J`, claimed by the hook.
    pub j: InterfaceRef<LoomHost>,
    /// `K.k0`.
    pub k0: MethodRef<LoomHost>,
    /// The class with the hook.
    pub class: ClassRef<LoomHost>,
    /// An instance of `class`.
    pub obj: Object<LoomHost>,
    /// The hook's counters.
    pub counters: Arc<Counters>,
    hook: Arc<CountingHook>,
}

impl World {
    /// An object of a second class, `C2`, whose hook answers `I` with `Impl<tag>` only
    /// (`tag` must be one of the world's tags), so that `I`'s methods resolve to other
    /// bodies on it than on `C`.
    pub fn second_class_object(&self, tag: u64) -> Object<LoomHost> {
        let h = &self.hook;
        let name = format!("Impl{tag}");
        let answer = h
            .impls
            .iter()
            .find(|i| i.name() == name)
            .expect("a world tag");
        let hook = CountingHook {
            counters: Arc::new(Counters::default()),
            impls: vec![answer.clone()],
            i: h.i.clone(),
            j: h.j.clone(),
            k: h.k.clone(),
            k0: h.k0.clone(),
            k_impl: h.k_impl.clone(),
            behaviour: Behaviour::Plain,
            runtime: self.rt.downgrade(),
            held: StdMutex::new(None),
        };
        let class = self.rt.class("C2").hook(hook).define().expect("C2");
        self.rt.new_object(&class, ()).expect("object")
    }
}

/// Builds the world with `methods` methods on `I` and one implementation per tag.
pub fn world(methods: usize, tags: &[u64], behaviour: Behaviour) -> World {
    world_in(Runtime::<LoomHost>::new(), methods, tags, behaviour)
}

/// [`world`] in a runtime made with live reload (its classes can be flushed).
pub fn reloadable_world(methods: usize, tags: &[u64], behaviour: Behaviour) -> World {
    world_in(
        Runtime::<LoomHost>::with_live_reload(),
        methods,
        tags,
        behaviour,
    )
}

fn world_in(rt: Runtime<LoomHost>, methods: usize, tags: &[u64], behaviour: Behaviour) -> World {
    let mut i = rt.interface("I");
    for k in 0..methods {
        i = i.abstract_method(&format!("m{k}"), 0);
    }
    let i = i.define().expect("I");
    let impls = tags
        .iter()
        .map(|&tag| {
            let mut b = rt
                .interface(&format!("Impl{tag}"))
                .base(&i)
                .dynamic_castable_implementation();
            for k in 0..methods {
                let value = tag * 100 + k as u64;
                b = b.override_base(&i, &format!("m{k}"), move |_| Ok(value));
            }
            b.define().expect("Impl")
        })
        .collect();
    let j = rt.interface("J").define().expect("J");
    let k = rt
        .interface("K")
        .abstract_method("k0", 0)
        .define()
        .expect("K");
    let k_impl = rt
        .interface("KImpl")
        .base(&k)
        .override_base(&k, "k0", |_| Ok(K_VALUE))
        .dynamic_castable_implementation()
        .define()
        .expect("KImpl");
    let counters = Arc::new(Counters::default());
    let holds = matches!(behaviour, Behaviour::HoldsItsObject);
    let hook = Arc::new(CountingHook {
        counters: counters.clone(),
        impls,
        i: i.clone(),
        j: j.clone(),
        k0: k.method("k0").expect("k0"),
        k,
        k_impl,
        behaviour,
        runtime: rt.downgrade(),
        held: StdMutex::new(None),
    });
    let class = rt.class("C").shared_hook(hook.clone()).define().expect("C");
    let obj = rt.new_object(&class, ()).expect("object");
    if holds {
        *hook.held.lock().expect("fresh mutex") = Some(obj.clone());
    }
    World {
        m: (0..methods)
            .map(|k| i.method(&format!("m{k}")).expect("m"))
            .collect(),
        k0: hook.k0.clone(),
        j,
        rt,
        class,
        obj,
        counters,
        hook,
    }
}

/// The value `Impl<tag>` gives for `m<k>`.
pub fn value(tag: u64, k: usize) -> u64 {
    tag * 100 + k as u64
}

/// Calls `method` on `obj`; returns the value and whether this call asked the hook.
pub fn call(obj: &Object<LoomHost>, method: &MethodRef<LoomHost>, cx: &mut Caller) -> (u64, bool) {
    let before = cx.dispatch_hook_calls;
    let v = obj.call(method, &[], cx).expect("the call resolves");
    (v, cx.dispatch_hook_calls != before)
}
