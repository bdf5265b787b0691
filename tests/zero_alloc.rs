//! The hot paths allocate nothing (rule A2): metadata casts, hook casts with a
//! non-allocating hook, static and virtual calls, cached hook dispatch and call-site
//! dispatch, once the caches are warm.
//!
//! A counting global allocator (tests/common/counting_alloc.rs) counts per thread, and
//! every measurement runs in this one test.

use std::hint::black_box;

use dynacast::{
    CallSite, DynError, DynHost, DynObject, DynamicCastable, InterfaceRef, Runtime, TypeRef, Value,
};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

/// Allocations made on this thread while `f` runs 100 times.
fn allocations_in<R>(mut f: impl FnMut() -> R) -> usize {
    let before = allocations();
    for _ in 0..100 {
        black_box(f());
    }
    allocations() - before
}

/// Serves `IWork` with `IWorkImpl`; answers casts with one comparison. Allocates nothing.
struct Hook {
    iwork: InterfaceRef<DynHost>,
    implementation: TypeRef<DynHost>,
}

impl DynamicCastable<DynHost> for Hook {
    fn is_interface_implemented(
        &self,
        _: &DynObject,
        iface: &InterfaceRef<DynHost>,
        _: bool,
        _: &mut (),
    ) -> Result<bool, DynError> {
        Ok(*iface == self.iwork)
    }
    fn get_interface_implementation(
        &self,
        _: &DynObject,
        iface: &InterfaceRef<DynHost>,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        Ok((*iface == self.iwork).then(|| self.implementation.clone()))
    }
}

fn add_one(this: &DynObject, args: &[Value]) -> Result<Value, DynError> {
    match (this.payload(), &args[0]) {
        (Value::Int(a), Value::Int(b)) => Ok(Value::Int(a + b)),
        _ => Ok(Value::Nil),
    }
}

#[test]
fn hot_paths_allocate_nothing() {
    let rt = Runtime::<DynHost>::new();
    let iwork = rt
        .interface("IWork")
        .abstract_method("work", 1)
        .define()
        .unwrap();
    let iwork_impl = rt
        .interface("IWorkImpl")
        .base(&iwork)
        .override_base(&iwork, "work", |call| {
            let (this, args, _) = call.into_parts();
            add_one(this, args)
        })
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    let static_class = rt
        .class("Static")
        .implement(&iwork)
        .virtual_method("work", 1, |call| {
            let (this, args, _) = call.into_parts();
            add_one(this, args)
        })
        .define()
        .unwrap();
    let hooked = |name: &str| {
        rt.class(name)
            .hook(Hook {
                iwork: iwork.clone(),
                implementation: iwork_impl.as_type(),
            })
            .define()
            .unwrap()
    };
    let hooked_class = hooked("Hooked");
    let static_obj = rt.new_object(&static_class, Value::Int(1)).unwrap();
    let hook_obj = rt.new_object(&hooked_class, Value::Int(1)).unwrap();
    let poly: Vec<_> = (0..4)
        .map(|i| {
            rt.new_object(&hooked(&format!("Poly{i}")), Value::Int(1))
                .unwrap()
        })
        .collect();
    let work = iwork.method("work").unwrap();
    let virtual_work = static_class.virtual_method("work").unwrap();
    let args = [Value::Int(2)];
    let object_class = rt.object_class().clone();

    // Warm every cache: the per-type dispatch caches and the call sites.
    let mono_site = CallSite::new(work.clone());
    let poly_site = CallSite::new(work.clone());
    assert_eq!(hook_obj.call(&work, &args, &mut ()).unwrap(), Value::Int(3));
    assert_eq!(
        mono_site.call(&hook_obj, &args, &mut ()).unwrap(),
        Value::Int(3)
    );
    for o in &poly {
        assert_eq!(poly_site.call(o, &args, &mut ()).unwrap(), Value::Int(3));
    }

    // The counter sees this thread's allocations (so a zero below means something).
    assert_eq!(allocations_in(|| Box::new(black_box(1u64))), 100);

    let measured = [
        (
            "metadata cast to an interface",
            allocations_in(|| static_obj.cast(&iwork, &mut ()).unwrap()),
        ),
        (
            "metadata is_instance_of an interface",
            allocations_in(|| static_obj.is_instance_of(&iwork, &mut ()).unwrap()),
        ),
        (
            "metadata cast to a class",
            allocations_in(|| hook_obj.cast(&object_class, &mut ()).unwrap()),
        ),
        (
            "hook cast",
            allocations_in(|| hook_obj.cast(&iwork, &mut ()).unwrap()),
        ),
        (
            "hook is_instance_of",
            allocations_in(|| hook_obj.is_instance_of(&iwork, &mut ()).unwrap()),
        ),
        (
            "static interface call",
            allocations_in(|| static_obj.call(&work, &args, &mut ()).unwrap()),
        ),
        (
            "virtual call",
            allocations_in(|| {
                static_obj
                    .call_virtual(&virtual_work, &args, &mut ())
                    .unwrap()
            }),
        ),
        (
            "cached hook dispatch",
            allocations_in(|| hook_obj.call(&work, &args, &mut ()).unwrap()),
        ),
        (
            "monomorphic call site",
            allocations_in(|| mono_site.call(&hook_obj, &args, &mut ()).unwrap()),
        ),
        (
            "polymorphic call site",
            allocations_in(|| {
                for o in &poly {
                    black_box(poly_site.call(o, &args, &mut ()).unwrap());
                }
            }),
        ),
    ];
    let allocating: Vec<_> = measured.iter().filter(|(_, n)| *n != 0).collect();
    assert!(
        allocating.is_empty(),
        "allocations on hot paths: {allocating:?}"
    );
}
