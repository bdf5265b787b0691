//! Static dispatch (issue 2, deliverable 5; rule C1, C4, C5 for metadata-implemented
//! interfaces): interface maps, implicit by-name mapping, explicit maps, inherited
//! implementations, virtual overrides through an interface, `call_virtual`, default
//! interface methods (most specific wins, diamond, re-abstraction), helpers and statics,
//! argument counts, and "a static call allocates nothing".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dynacast::{
    body, static_body, ClassRef, DynError, DynHost, DynamicCastable, Error, InterfaceRef, Object,
    Runtime, TypeRef, Value,
};

type Rt = Runtime<DynHost>;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

fn int(i: i64) -> dynacast::Body<DynHost> {
    body(move |_| Ok(Value::Int(i)))
}

fn new(rt: &Rt, class: &ClassRef<DynHost>) -> Object<DynHost> {
    rt.new_object(class, Value::Nil).unwrap()
}

fn call(obj: &Object<DynHost>, iface: &InterfaceRef<DynHost>, m: &str) -> Result<Value, DynError> {
    obj.call(&iface.method(m).unwrap(), &[], &mut ())
}

/// A hook that counts its calls and never serves anything, to prove C1 (metadata wins).
#[derive(Default)]
struct HookCounts {
    casts: AtomicUsize,
    resolutions: AtomicUsize,
}

struct CountingHook(Arc<HookCounts>);

impl DynamicCastable<DynHost> for CountingHook {
    fn is_interface_implemented(
        &self,
        _: &Object<DynHost>,
        _: &InterfaceRef<DynHost>,
        _: bool,
        _: &mut (),
    ) -> Result<bool, DynError> {
        self.0.casts.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
    fn get_interface_implementation(
        &self,
        _: &Object<DynHost>,
        _: &InterfaceRef<DynHost>,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.0.resolutions.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    }
}

// Issue 2 §5: calls through the class's interface map; implicit mapping by name and arity.
#[test]
fn implicit_mapping_by_name_and_arity() {
    let rt = Rt::new();
    let shape = rt
        .interface("IShape")
        .abstract_method("area", 0)
        .abstract_method("scale", 1)
        .define()
        .unwrap();
    let square = rt
        .class("Square")
        .implement(&shape)
        .virtual_method_body("area", 0, int(4))
        .virtual_method("scale", 1, |call| {
            let (_, args, _): (_, &[Value], _) = call.into_parts();
            Ok(Value::Int(4 * args[0].as_int().unwrap()))
        })
        .define()
        .unwrap();
    let obj = new(&rt, &square);
    assert_eq!(call(&obj, &shape, "area").unwrap(), Value::Int(4));
    let scale = shape.method("scale").unwrap();
    assert_eq!(
        obj.call(&scale, &[Value::Int(3)], &mut ()).unwrap(),
        Value::Int(12)
    );
}

// Issue 2 §5, as issue 13 §9 changed it: a class method of the same name but another arity
// does not implement the slot, and is a definition error even when the interface has a
// default (it was silently ignored); an explicit map of the slot lets both coexist.
#[test]
fn implicit_mapping_requires_same_arity() {
    let rt = Rt::new();
    let iface = rt
        .interface("I")
        .default_method_body("m", 1, int(7))
        .define()
        .unwrap();
    let err = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Could not load type 'C': 'C.m' takes 0 argument(s) but interface method 'I.m' takes 1"
    );
    let class = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 0, int(1))
        .virtual_method_body("m1", 1, int(2))
        .map(&iface, "m", "m1")
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    let m = iface.method("m").unwrap();
    assert_eq!(obj.call(&m, &[Value::Nil], &mut ()).unwrap(), Value::Int(2));
    assert_eq!(
        obj.call_virtual(&class.virtual_method("m").unwrap(), &[], &mut ())
            .unwrap(),
        Value::Int(1)
    );
}

// Issue 2 §5: an explicit map wins over the by-name match.
#[test]
fn explicit_map_wins_over_name() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let class = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 0, int(1))
        .virtual_method_body("explicit_m", 0, int(2))
        .map(&iface, "m", "explicit_m")
        .define()
        .unwrap();
    assert_eq!(call(&new(&rt, &class), &iface, "m").unwrap(), Value::Int(2));
}

// Issue 2 §5: a map through a derived interface reaches the method declared by its base.
#[test]
fn explicit_map_of_base_method_through_derived_interface() {
    let rt = Rt::new();
    let base = rt
        .interface("IBase")
        .abstract_method("m", 0)
        .define()
        .unwrap();
    let derived = rt.interface("IDerived").base(&base).define().unwrap();
    let class = rt
        .class("C")
        .implement(&derived)
        .virtual_method_body("other", 0, int(5))
        .map(&derived, "m", "other")
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    assert_eq!(call(&obj, &derived, "m").unwrap(), Value::Int(5));
    assert_eq!(call(&obj, &base, "m").unwrap(), Value::Int(5));
}

// Issue 2 §5: methods of a base interface are reached through the derived interface's handle;
// the MethodRef names the declaring interface.
#[test]
fn base_interface_methods_dispatch_through_derived() {
    let rt = Rt::new();
    let base = rt
        .interface("IBase")
        .abstract_method("m", 0)
        .define()
        .unwrap();
    let derived = rt
        .interface("IDerived")
        .base(&base)
        .abstract_method("n", 0)
        .define()
        .unwrap();
    let class = rt
        .class("C")
        .implement(&derived)
        .virtual_method_body("m", 0, int(1))
        .virtual_method_body("n", 0, int(2))
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    assert_eq!(derived.method("m").unwrap().interface(), &base);
    assert_eq!(call(&obj, &derived, "m").unwrap(), Value::Int(1));
    assert_eq!(call(&obj, &base, "m").unwrap(), Value::Int(1));
    assert_eq!(call(&obj, &derived, "n").unwrap(), Value::Int(2));
}

// Issue 2 §5: inherited implementations: a subclass inherits its base's interface map.
#[test]
fn subclass_inherits_interface_map() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let base = rt
        .class("Base")
        .implement(&iface)
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap();
    let derived = rt.class("Derived").base(&base).define().unwrap();
    let grandchild = rt.class("Grandchild").base(&derived).define().unwrap();
    assert_eq!(
        call(&new(&rt, &derived), &iface, "m").unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        call(&new(&rt, &grandchild), &iface, "m").unwrap(),
        Value::Int(1)
    );
}

// Issue 2 §5: virtual calls with overrides, through the interface: a subclass's override of
// the mapped virtual method serves interface calls, including an explicitly mapped one.
#[test]
fn override_serves_interface_calls() {
    let rt = Rt::new();
    let iface = rt
        .interface("I")
        .abstract_method("m", 0)
        .abstract_method("n", 0)
        .define()
        .unwrap();
    let base = rt
        .class("Base")
        .implement(&iface)
        .virtual_method_body("m", 0, int(1))
        .virtual_method_body("impl_n", 0, int(10))
        .map(&iface, "n", "impl_n")
        .define()
        .unwrap();
    let derived = rt
        .class("Derived")
        .base(&base)
        .override_method_body("m", int(2))
        .override_method_body("impl_n", int(20))
        .define()
        .unwrap();
    let base_obj = new(&rt, &base);
    let derived_obj = new(&rt, &derived);
    assert_eq!(call(&base_obj, &iface, "m").unwrap(), Value::Int(1));
    assert_eq!(call(&base_obj, &iface, "n").unwrap(), Value::Int(10));
    assert_eq!(call(&derived_obj, &iface, "m").unwrap(), Value::Int(2));
    assert_eq!(call(&derived_obj, &iface, "n").unwrap(), Value::Int(20));
}

// Issue 2 §5: an abstract base maps the interface to an abstract method; the concrete
// subclass's override serves it.
#[test]
fn abstract_base_mapping_served_by_subclass_override() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let base = rt
        .class("Base")
        .abstract_class()
        .implement(&iface)
        .abstract_method("m", 0)
        .define()
        .unwrap();
    let derived = rt
        .class("Derived")
        .base(&base)
        .override_method_body("m", int(3))
        .define()
        .unwrap();
    assert_eq!(
        call(&new(&rt, &derived), &iface, "m").unwrap(),
        Value::Int(3)
    );
}

// Issue 2 §5: a subclass that re-lists an interface re-maps it (C# interface
// re-implementation); without re-listing the inherited mapping stays.
#[test]
fn relisted_interface_is_remapped() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let base = rt
        .class("Base")
        .implement(&iface)
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap();
    let remapped = rt
        .class("Remapped")
        .base(&base)
        .implement(&iface)
        .virtual_method_body("other", 0, int(9))
        .map(&iface, "m", "other")
        .define()
        .unwrap();
    let kept = rt
        .class("Kept")
        .base(&base)
        .virtual_method_body("other", 0, int(9))
        .define()
        .unwrap();
    assert_eq!(
        call(&new(&rt, &remapped), &iface, "m").unwrap(),
        Value::Int(9)
    );
    assert_eq!(call(&new(&rt, &kept), &iface, "m").unwrap(), Value::Int(1));
}

// rule C1: a class that implements the interface in its metadata never asks its hook.
#[test]
fn metadata_implementation_never_asks_hook() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let hook = Arc::new(HookCounts::default());
    let class = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 0, int(1))
        .hook(CountingHook(hook.clone()))
        .define()
        .unwrap();
    let sub = rt.class("Sub").base(&class).define().unwrap();
    for obj in [new(&rt, &class), new(&rt, &sub)] {
        for _ in 0..3 {
            assert_eq!(call(&obj, &iface, "m").unwrap(), Value::Int(1));
            assert!(obj.is_instance_of(&iface, &mut ()).unwrap());
        }
    }
    assert_eq!(hook.casts.load(Ordering::SeqCst), 0);
    assert_eq!(hook.resolutions.load(Ordering::SeqCst), 0);
    assert_eq!(class.cached_resolutions(), 0);
}

// Issue 2 §5: a call through an interface the class does not implement and without a hook
// is an InvalidCast naming the object's type and the interface.
#[test]
fn call_through_unimplemented_interface_is_invalid_cast() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let class = rt.class("C").define().unwrap();
    let err = call(&new(&rt, &class), &iface, "m").unwrap_err();
    assert_eq!(err.kind(), "InvalidCast");
    assert_eq!(
        err.to_string(),
        "Unable to cast object of type 'C' to type 'I'."
    );
}

// Issue 2 §5: call_virtual runs the most derived override; `this` is the original object.
#[test]
fn call_virtual_runs_most_derived_override() {
    let rt = Rt::new();
    let base = rt
        .class("Base")
        .virtual_method_body("who", 0, int(1))
        .virtual_method("me", 0, |call| {
            let (this, _, _) = call.into_parts();
            Ok(Value::Object(this.clone()))
        })
        .define()
        .unwrap();
    let mid = rt
        .class("Mid")
        .base(&base)
        .override_method_body("who", int(2))
        .define()
        .unwrap();
    let leaf = rt.class("Leaf").base(&mid).define().unwrap();
    let who = base.virtual_method("who").unwrap();
    let me = base.virtual_method("me").unwrap();
    assert_eq!(
        new(&rt, &base).call_virtual(&who, &[], &mut ()).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        new(&rt, &mid).call_virtual(&who, &[], &mut ()).unwrap(),
        Value::Int(2)
    );
    let leaf_obj = new(&rt, &leaf);
    assert_eq!(
        leaf_obj.call_virtual(&who, &[], &mut ()).unwrap(),
        Value::Int(2)
    );
    let returned = leaf_obj.call_virtual(&me, &[], &mut ()).unwrap();
    assert!(Object::ptr_eq(returned.as_object().unwrap(), &leaf_obj));
    // The same slot looked up on the subclass is the same method.
    assert_eq!(leaf.virtual_method("who").unwrap().name(), "who");
    assert_eq!(
        leaf_obj
            .call_virtual(&leaf.virtual_method("who").unwrap(), &[], &mut ())
            .unwrap(),
        Value::Int(2)
    );
}

// call_virtual's inlined path serves the method's own class and subclasses whose first
// ancestors it records inline; deeper ones go out of line. Every (method's class, object's
// class) pair of a chain ten classes deep gets the most derived override, an ancestor's
// object the exact error, and a slot that only some levels add keeps its place.
#[test]
fn call_virtual_at_every_depth_of_a_deep_chain() {
    let rt = Rt::new();
    let mut chain: Vec<ClassRef<DynHost>> = Vec::new();
    for depth in 0..10i64 {
        let name = format!("L{depth}");
        let mut builder = rt.class(&name);
        builder = match chain.last() {
            None => builder.virtual_method_body("who", 0, int(0)),
            Some(base) => builder.base(base).override_method_body("who", int(depth)),
        };
        if depth == 3 {
            builder = builder.virtual_method_body("added", 1, int(30));
        }
        chain.push(builder.define().unwrap());
    }
    for (level, declaring) in chain.iter().enumerate() {
        let who = declaring.virtual_method("who").unwrap();
        for (depth, class) in chain.iter().enumerate() {
            let result = new(&rt, class).call_virtual(&who, &[], &mut ());
            if depth >= level {
                assert_eq!(
                    result.unwrap(),
                    Value::Int(depth as i64),
                    "L{level}.who on L{depth}"
                );
            } else {
                assert_eq!(
                    result.unwrap_err().to_string(),
                    format!("Unable to cast object of type 'L{depth}' to type 'L{level}'."),
                );
            }
        }
    }
    let added = chain[3].virtual_method("added").unwrap();
    let deepest = new(&rt, &chain[9]);
    assert_eq!(
        deepest
            .call_virtual(&added, &[Value::Nil], &mut ())
            .unwrap(),
        Value::Int(30)
    );
    assert_eq!(
        deepest
            .call_virtual(&added, &[], &mut ())
            .unwrap_err()
            .to_string(),
        "Method 'L9.added' takes 1 argument(s) but was called with 0."
    );
}

// Issue 2 §5: call_virtual on an object whose class does not derive from the method's class.
#[test]
fn call_virtual_on_unrelated_object_is_invalid_cast() {
    let rt = Rt::new();
    let a = rt
        .class("A")
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap();
    let b = rt
        .class("B")
        .virtual_method_body("m", 0, int(2))
        .define()
        .unwrap();
    let err = new(&rt, &b)
        .call_virtual(&a.virtual_method("m").unwrap(), &[], &mut ())
        .unwrap_err();
    assert_eq!(err.kind(), "InvalidCast");
    assert_eq!(
        err.to_string(),
        "Unable to cast object of type 'B' to type 'A'."
    );
}

// Issue 2 §5 (ArgumentCount): wrong argument counts, through an interface and virtually.
#[test]
fn wrong_argument_count() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 1).define().unwrap();
    let class = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 1, int(1))
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    let err = obj
        .call(&iface.method("m").unwrap(), &[], &mut ())
        .unwrap_err();
    assert_eq!(err.kind(), "ArgumentCount");
    assert_eq!(
        err.to_string(),
        "Method 'I.m' takes 1 argument(s) but was called with 0."
    );
    let err = obj
        .call_virtual(
            &class.virtual_method("m").unwrap(),
            &[Value::Nil, Value::Nil],
            &mut (),
        )
        .unwrap_err();
    assert_eq!(err.kind(), "ArgumentCount");
    assert_eq!(
        err.to_string(),
        "Method 'C.m' takes 1 argument(s) but was called with 2."
    );
}

// rule C4 (static): an interface method the class does not implement falls back to the
// interface's default; `this` inside the default is the original object.
#[test]
fn default_method_serves_unimplemented_slot() {
    let rt = Rt::new();
    let iface = rt
        .interface("I")
        .default_method("me", 0, |call| {
            let (this, _, _) = call.into_parts();
            Ok(Value::Object(this.clone()))
        })
        .define()
        .unwrap();
    let class = rt.class("C").implement(&iface).define().unwrap();
    let obj = new(&rt, &class);
    let returned = call(&obj, &iface, "me").unwrap();
    assert!(Object::ptr_eq(returned.as_object().unwrap(), &obj));
}

// rule C4 (static): the class's own method beats any default.
#[test]
fn class_method_beats_default() {
    let rt = Rt::new();
    let iface = rt
        .interface("I")
        .default_method_body("m", 0, int(1))
        .define()
        .unwrap();
    let class = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 0, int(2))
        .define()
        .unwrap();
    assert_eq!(call(&new(&rt, &class), &iface, "m").unwrap(), Value::Int(2));
}

// rule C4 (static): most specific default wins: a derived interface's explicit override of
// the base method beats the base's own default.
#[test]
fn most_specific_default_wins() {
    let rt = Rt::new();
    let base = rt
        .interface("IBase")
        .default_method_body("m", 0, int(1))
        .define()
        .unwrap();
    let mid = rt
        .interface("IMid")
        .base(&base)
        .override_base_body(&base, "m", int(2))
        .define()
        .unwrap();
    let leaf = rt
        .interface("ILeaf")
        .base(&mid)
        .override_base_body(&base, "m", int(3))
        .define()
        .unwrap();
    let only_base = rt.class("OnlyBase").implement(&base).define().unwrap();
    let with_mid = rt.class("WithMid").implement(&mid).define().unwrap();
    // Listing both the base and the derived interface changes nothing: the derived wins.
    let with_leaf = rt
        .class("WithLeaf")
        .implement(&base)
        .implement(&leaf)
        .implement(&mid)
        .define()
        .unwrap();
    assert_eq!(
        call(&new(&rt, &only_base), &base, "m").unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        call(&new(&rt, &with_mid), &base, "m").unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        call(&new(&rt, &with_mid), &mid, "m").unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        call(&new(&rt, &with_leaf), &leaf, "m").unwrap(),
        Value::Int(3)
    );
}

// rule C4 (static): the default may come from a base interface of the listed interface,
// and a subclass's newly listed, more specific interface takes over the inherited default.
#[test]
fn default_from_base_and_subclass_adds_more_specific() {
    let rt = Rt::new();
    let base = rt
        .interface("IBase")
        .default_method_body("m", 0, int(1))
        .define()
        .unwrap();
    let derived = rt.interface("IDerived").base(&base).define().unwrap();
    let better = rt
        .interface("IBetter")
        .base(&base)
        .override_base_body(&base, "m", int(2))
        .define()
        .unwrap();
    let class = rt.class("C").implement(&derived).define().unwrap();
    let sub = rt
        .class("Sub")
        .base(&class)
        .implement(&better)
        .define()
        .unwrap();
    assert_eq!(
        call(&new(&rt, &class), &derived, "m").unwrap(),
        Value::Int(1)
    );
    assert_eq!(call(&new(&rt, &sub), &base, "m").unwrap(), Value::Int(2));
}

// rule C4 (static): diamond → defined fine, AmbiguousImplementation at the call, naming the
// type, the interface, the method and both candidates.
#[test]
fn diamond_is_ambiguous_at_call() {
    let rt = Rt::new();
    let base = rt
        .interface("IBase")
        .default_method_body("m", 0, int(0))
        .define()
        .unwrap();
    let left = rt
        .interface("ILeft")
        .base(&base)
        .override_base_body(&base, "m", int(1))
        .define()
        .unwrap();
    let right = rt
        .interface("IRight")
        .base(&base)
        .override_base_body(&base, "m", int(2))
        .define()
        .unwrap();
    let class = rt
        .class("Diamond")
        .implement(&left)
        .implement(&right)
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    let err = call(&obj, &base, "m").unwrap_err();
    assert_eq!(err.kind(), "AmbiguousImplementation");
    assert_eq!(
        err,
        Error::AmbiguousImplementation {
            type_name: "Diamond".into(),
            interface: "IBase".into(),
            method: "m".into(),
            implementation: None,
            candidates: vec!["ILeft".into(), "IRight".into()],
        }
    );
    assert_eq!(
        err.to_string(),
        "The call to 'IBase.m' on type 'Diamond' is ambiguous: 'ILeft' and 'IRight' each give a most specific default."
    );
    // The same through the derived handles (the method is declared by IBase).
    assert_eq!(call(&obj, &left, "m").unwrap_err(), err);
}

// rule C4 (static): a diamond is resolved by a more specific interface deriving from both,
// or by the class's own method.
#[test]
fn diamond_resolved_by_more_specific_or_class() {
    let rt = Rt::new();
    let base = rt
        .interface("IBase")
        .abstract_method("m", 0)
        .define()
        .unwrap();
    let left = rt
        .interface("ILeft")
        .base(&base)
        .override_base_body(&base, "m", int(1))
        .define()
        .unwrap();
    let right = rt
        .interface("IRight")
        .base(&base)
        .override_base_body(&base, "m", int(2))
        .define()
        .unwrap();
    let both = rt
        .interface("IBoth")
        .base(&left)
        .base(&right)
        .override_base_body(&base, "m", int(3))
        .define()
        .unwrap();
    let via_both = rt.class("ViaBoth").implement(&both).define().unwrap();
    let own = rt
        .class("Own")
        .implement(&left)
        .implement(&right)
        .virtual_method_body("m", 0, int(4))
        .define()
        .unwrap();
    assert_eq!(
        call(&new(&rt, &via_both), &base, "m").unwrap(),
        Value::Int(3)
    );
    assert_eq!(call(&new(&rt, &own), &base, "m").unwrap(), Value::Int(4));
}

// rule C4 (static): a re-abstracted most specific default → defined fine (decision),
// EntryPointNotFound at the call naming type, interface, method and the re-abstracting one.
#[test]
fn reabstracted_default_is_entry_point_not_found_at_call() {
    let rt = Rt::new();
    let base = rt
        .interface("IBase")
        .default_method_body("m", 0, int(1))
        .define()
        .unwrap();
    let re = rt
        .interface("IRe")
        .base(&base)
        .reabstract(&base, "m")
        .define()
        .unwrap();
    let class = rt.class("C").implement(&re).define().unwrap();
    let err = call(&new(&rt, &class), &base, "m").unwrap_err();
    assert_eq!(err.kind(), "EntryPointNotFound");
    assert_eq!(
        err,
        Error::EntryPointNotFound {
            type_name: "C".into(),
            interface: "IBase".into(),
            method: "m".into(),
            implementation: None,
            reabstracted_in: Some("IRe".into()),
        }
    );
    assert_eq!(
        err.to_string(),
        "Entry point not found: type 'C' has no implementation of 'IBase.m' (the most specific declaration, in 'IRe', is abstract)."
    );
    // A class method of that name still implements it.
    let fixed = rt
        .class("Fixed")
        .implement(&re)
        .virtual_method_body("m", 0, int(5))
        .define()
        .unwrap();
    assert_eq!(call(&new(&rt, &fixed), &base, "m").unwrap(), Value::Int(5));
    // A more specific interface can give the body back.
    let restored = rt
        .interface("IRestored")
        .base(&re)
        .override_base_body(&base, "m", int(6))
        .define()
        .unwrap();
    let class2 = rt.class("C2").implement(&restored).define().unwrap();
    assert_eq!(call(&new(&rt, &class2), &base, "m").unwrap(), Value::Int(6));
}

// rule C5: non-virtual helpers and statics are called directly, with `this` for helpers.
#[test]
fn helpers_and_statics_are_called_directly() {
    let rt = Rt::new();
    let iface = rt
        .interface("I")
        .helper("helper", 1, |call| {
            let (this, args, _) = call.into_parts();
            Ok(Value::List(
                vec![Value::Object(this.clone()), args[0].clone()].into(),
            ))
        })
        .static_method("make", 1, |call| Ok(call.arg(0)?.clone()))
        .define()
        .unwrap();
    let class = rt.class("C").implement(&iface).define().unwrap();
    // Helpers are not dispatched, so even an object whose class lacks the interface runs it.
    let other = rt.class("Other").define().unwrap();
    let helper = iface.method("helper").unwrap();
    let make = iface.method("make").unwrap();
    assert!(!helper.is_virtual() && !helper.is_static());
    assert!(!make.is_virtual() && make.is_static());
    for obj in [new(&rt, &class), new(&rt, &other)] {
        let Value::List(out) = &obj.call(&helper, &[Value::Int(1)], &mut ()).unwrap() else {
            panic!("helper returns a list")
        };
        assert!(Object::ptr_eq(out[0].as_object().unwrap(), &obj));
        assert_eq!(out[1], Value::Int(1));
        assert_eq!(
            obj.call(&make, &[Value::Int(2)], &mut ()).unwrap(),
            Value::Int(2)
        );
    }
    assert_eq!(
        make.call_static(&[Value::Int(3)], &mut ()).unwrap(),
        Value::Int(3)
    );
    let err = make.call_static(&[], &mut ()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Method 'I.make' takes 1 argument(s) but was called with 0."
    );
    let err = helper.call_static(&[Value::Int(1)], &mut ()).unwrap_err();
    assert_eq!(err.kind(), "MissingMember");
    assert_eq!(
        err.to_string(),
        "Member 'static helper' not found on type 'I'."
    );
}

// Issue 2 §5: `resolve` returns the body a call would run (static tables, no hook).
#[test]
fn resolve_returns_the_static_body() {
    let rt = Rt::new();
    let iface = rt
        .interface("I")
        .abstract_method("m", 0)
        .static_method_body("s", 0, static_body(|_| Ok(Value::Nil)))
        .define()
        .unwrap();
    let class = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 0, int(8))
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    let resolved = obj.resolve(&iface.method("m").unwrap(), &mut ()).unwrap();
    assert_eq!(resolved.call(&obj, &[], &mut ()).unwrap(), Value::Int(8));
    let err = obj
        .resolve(&iface.method("s").unwrap(), &mut ())
        .err()
        .unwrap();
    assert_eq!(err.kind(), "MissingMember");
}

// Issue 2 §5: host errors from bodies pass through unchanged.
#[test]
fn body_errors_pass_through_unchanged() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let class = rt
        .class("C")
        .implement(&iface)
        .virtual_method("m", 0, |_| Err(dynacast::HostError::new("boom").into()))
        .define()
        .unwrap();
    let err = call(&new(&rt, &class), &iface, "m").unwrap_err();
    assert_eq!(err, Error::Host(dynacast::HostError::new("boom")));
    assert_eq!(err.kind(), "Host");
    assert_eq!(err.to_string(), "boom");
}

// Issue 2 §5: "a static call allocates nothing and takes no lock" (allocation half; the
// lock half is by construction: static tables are immutable).
#[test]
fn static_calls_allocate_nothing() {
    let rt = Rt::new();
    let base = rt
        .interface("IBase")
        .default_method_body("d", 0, int(1))
        .define()
        .unwrap();
    let iface = rt
        .interface("I")
        .base(&base)
        .abstract_method("m", 0)
        .define()
        .unwrap();
    let class = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 0, int(2))
        .define()
        .unwrap();
    let sub = rt
        .class("Sub")
        .base(&class)
        .override_method_body("m", int(3))
        .define()
        .unwrap();
    let obj = new(&rt, &sub);
    let m = iface.method("m").unwrap();
    let d = iface.method("d").unwrap();
    let virt = class.virtual_method("m").unwrap();
    let mut sum = 0;
    let before = allocations();
    for _ in 0..1000 {
        sum += obj.call(&m, &[], &mut ()).unwrap().as_int().unwrap();
        sum += obj.call(&d, &[], &mut ()).unwrap().as_int().unwrap();
        sum += obj
            .call_virtual(&virt, &[], &mut ())
            .unwrap()
            .as_int()
            .unwrap();
    }
    assert_eq!(allocations() - before, 0);
    assert_eq!(sum, 7000);
}

// rule C4 + §1 generics: a class implementing two instantiations of one generic interface
// that are variance-compatible (IG<Str> and IG<object> with `out T`) calls each one's own
// default: the exact interface's default is the most specific, not a diamond.
#[test]
fn variant_instantiations_each_use_their_own_default() {
    use dynacast::Variance;
    let rt = Rt::new();
    let string = rt.class("Str").define().unwrap();
    let object = rt.object_class().as_type();
    let generic = rt
        .generic_interface("IG", &[Variance::Covariant])
        .default_method_body("m", 0, int(1))
        .define_generic()
        .unwrap();
    let ig_str = generic.instantiate(&[string.as_type()]).unwrap();
    let ig_obj = generic.instantiate(&[object]).unwrap();
    let class = rt
        .class("C")
        .implement(&ig_str)
        .implement(&ig_obj)
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    assert_eq!(call(&obj, &ig_obj, "m").unwrap(), Value::Int(1));
    assert_eq!(call(&obj, &ig_str, "m").unwrap(), Value::Int(1));
}

// §1 generics + issue 2 §5: a call through a variance-compatible instantiation the class
// does not list is served by the listed one (IG<Str> serves IG<object> for `out T`).
#[test]
fn call_through_variant_instantiation() {
    use dynacast::Variance;
    let rt = Rt::new();
    let string = rt.class("Str").define().unwrap();
    let generic = rt
        .generic_interface("IG", &[Variance::Covariant])
        .abstract_method("m", 0)
        .define_generic()
        .unwrap();
    let ig_str = generic.instantiate(&[string.as_type()]).unwrap();
    let ig_obj = generic.instantiate(&[rt.object_class().as_type()]).unwrap();
    let class = rt
        .class("C")
        .implement(&ig_str)
        .virtual_method_body("m", 0, int(11))
        .define()
        .unwrap();
    assert_eq!(
        call(&new(&rt, &class), &ig_obj, "m").unwrap(),
        Value::Int(11)
    );
}

// Issue 2 §5: implicit mapping also finds a method the class inherits: a subclass that
// lists an interface is served by its base class's method of that name.
#[test]
fn implicit_mapping_finds_inherited_method() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let base = rt
        .class("Base")
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap();
    let derived = rt
        .class("Derived")
        .base(&base)
        .implement(&iface)
        .define()
        .unwrap();
    let over = rt
        .class("Over")
        .base(&derived)
        .override_method_body("m", int(2))
        .define()
        .unwrap();
    assert_eq!(
        call(&new(&rt, &derived), &iface, "m").unwrap(),
        Value::Int(1)
    );
    assert_eq!(call(&new(&rt, &over), &iface, "m").unwrap(), Value::Int(2));
    assert!(!new(&rt, &base).is_instance_of(&iface, &mut ()).unwrap());
}

// rule C5 (static half): a default body calling another method of its interface on `this`
// is ordinary dispatch: the class's (overridden) implementation runs.
#[test]
fn default_body_calls_back_through_this() {
    let rt = Rt::new();
    let iface = rt
        .interface("ITemplate")
        .abstract_method("step", 0)
        .define()
        .unwrap();
    let step = iface.method("step").unwrap();
    let step_in_body = step.clone();
    let iface = rt
        .interface("ITemplateRun")
        .base(&iface)
        .default_method("run", 0, move |call| {
            let (this, _, cx) = call.into_parts();
            let n = this.call(&step_in_body, &[], cx)?.as_int().unwrap_or(0);
            Ok(Value::Int(n * 10))
        })
        .define()
        .unwrap();
    let base = rt
        .class("Base")
        .implement(&iface)
        .virtual_method_body("step", 0, int(1))
        .define()
        .unwrap();
    let derived = rt
        .class("Derived")
        .base(&base)
        .override_method_body("step", int(2))
        .define()
        .unwrap();
    assert_eq!(
        call(&new(&rt, &base), &iface, "run").unwrap(),
        Value::Int(10)
    );
    assert_eq!(
        call(&new(&rt, &derived), &iface, "run").unwrap(),
        Value::Int(20)
    );
}

// A class keeps its primary interface's first slots inline (class.rs, `INLINE_SLOTS`) and
// the rest behind a pointer: every slot of a wide primary interface, on either side of
// that line, calls its own body, on the class and on a subclass; defaults included.
#[test]
fn every_slot_of_a_wide_primary_interface_calls_its_own_body() {
    let rt = Rt::new();
    let mut wide = rt.interface("IWide");
    for i in 0..20i64 {
        let name = format!("m{i}");
        wide = if i % 7 == 3 {
            wide.default_method_body(&name, 0, int(1000 + i))
        } else {
            wide.abstract_method(&name, 0)
        };
    }
    let wide = wide.define().unwrap();
    let mut class = rt.class("Wide").implement(&wide);
    for i in (0..20i64).filter(|i| i % 7 != 3) {
        class = class.virtual_method_body(&format!("m{i}"), 0, int(i));
    }
    let class = class.define().unwrap();
    let sub = rt
        .class("WideSub")
        .base(&class)
        .override_method_body("m9", int(-9))
        .define()
        .unwrap();
    let (obj, sub_obj) = (new(&rt, &class), new(&rt, &sub));
    for i in 0..20i64 {
        let own = if i % 7 == 3 { 1000 + i } else { i };
        let name = format!("m{i}");
        assert_eq!(call(&obj, &wide, &name).unwrap(), Value::Int(own), "{name}");
        let overridden = if i == 9 { -9 } else { own };
        assert_eq!(
            call(&sub_obj, &wide, &name).unwrap(),
            Value::Int(overridden),
            "{name} on the subclass"
        );
    }
}
