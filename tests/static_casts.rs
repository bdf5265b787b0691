//! Static casts (issue 2, deliverable 4; rule B1 and "casting to a class never calls the
//! hook"): `is_instance_of` and `cast` answered by metadata for class and interface targets,
//! base interfaces, variance, the root class, and .NET's InvalidCast message.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dynacast::{
    CastTarget, ClassRef, DynError, DynHost, DynamicCastable, Error, InterfaceRef, Object, Runtime,
    TypeRef, Value, Variance,
};

type Rt = Runtime<DynHost>;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

fn new(rt: &Rt, class: &ClassRef<DynHost>) -> Object<DynHost> {
    rt.new_object(class, Value::Nil).unwrap()
}

/// `is_instance_of` and `cast` agree, and `is_instance_of_static` too (no hook involved).
#[track_caller]
fn assert_is<T: CastTarget<DynHost>>(obj: &Object<DynHost>, target: &T, expected: bool) {
    assert_eq!(obj.is_instance_of(target, &mut ()).unwrap(), expected);
    assert_eq!(obj.is_instance_of_static(target), expected);
    assert_eq!(obj.cast(target, &mut ()).is_ok(), expected);
}

/// A hook that says yes to everything and counts how often it is asked.
struct YesHook(Arc<AtomicUsize>);

impl DynamicCastable<DynHost> for YesHook {
    fn is_interface_implemented(
        &self,
        _: &Object<DynHost>,
        _: &InterfaceRef<DynHost>,
        _: bool,
        _: &mut (),
    ) -> Result<bool, DynError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
    fn get_interface_implementation(
        &self,
        _: &Object<DynHost>,
        _: &InterfaceRef<DynHost>,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    }
}

// B1: the class chain, up to the root class `object`; siblings and subclasses are not.
#[test]
fn class_chain() {
    let rt = Rt::new();
    let a = rt.class("A").define().unwrap();
    let b = rt.class("B").base(&a).define().unwrap();
    let c = rt.class("C").base(&b).define().unwrap();
    let sibling = rt.class("Sibling").base(&a).define().unwrap();
    let obj = new(&rt, &c);
    for target in [&a, &b, &c, rt.object_class()] {
        assert_is(&obj, target, true);
    }
    assert_is(&obj, &sibling, false);
    assert_is(&new(&rt, &a), &b, false);
    assert_is(&new(&rt, &a), &c, false);
    assert_is(&new(&rt, rt.object_class()), &a, false);
    assert_is(&new(&rt, rt.object_class()), rt.object_class(), true);
}

// B1 / B4 message: a failed cast is InvalidCast naming the object's type and the target.
#[test]
fn failed_cast_message() {
    let rt = Rt::new();
    let iface = rt.interface("IShape").define().unwrap();
    let a = rt.class("A").define().unwrap();
    let b = rt.class("B").define().unwrap();
    let obj = new(&rt, &a);
    let err = obj.cast(&iface, &mut ()).unwrap_err();
    assert_eq!(err.kind(), "InvalidCast");
    assert_eq!(
        err,
        Error::InvalidCast {
            object_type: "A".into(),
            target_type: "IShape".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "Unable to cast object of type 'A' to type 'IShape'."
    );
    let err = obj.cast(&b, &mut ()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to cast object of type 'A' to type 'B'."
    );
    // The same through a TypeRef target.
    let err = obj.cast(&b.as_type(), &mut ()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to cast object of type 'A' to type 'B'."
    );
}

// B1: interfaces the class implements, those a base class implements, and all their base
// interfaces, transitively.
#[test]
fn implemented_interfaces_and_their_bases() {
    let rt = Rt::new();
    let root = rt.interface("IRoot").define().unwrap();
    let mid = rt.interface("IMid").base(&root).define().unwrap();
    let leaf = rt.interface("ILeaf").base(&mid).define().unwrap();
    let other = rt.interface("IOther").define().unwrap();
    let unrelated = rt.interface("IUnrelated").define().unwrap();
    let base = rt.class("Base").implement(&leaf).define().unwrap();
    let derived = rt
        .class("Derived")
        .base(&base)
        .implement(&other)
        .define()
        .unwrap();
    let base_obj = new(&rt, &base);
    let derived_obj = new(&rt, &derived);
    for target in [&root, &mid, &leaf] {
        assert_is(&base_obj, target, true);
        assert_is(&derived_obj, target, true);
    }
    assert_is(&derived_obj, &other, true);
    assert_is(&base_obj, &other, false);
    assert_is(&derived_obj, &unrelated, false);
    // Deriving from an interface's base does not make one an instance of the derived one.
    let only_root = rt.class("OnlyRoot").implement(&root).define().unwrap();
    assert_is(&new(&rt, &only_root), &mid, false);
}

// B1 with variance: `out T` (covariant), `in T` (contravariant), invariant.
#[test]
fn generic_variance() {
    let rt = Rt::new();
    let animal = rt.class("Animal").define().unwrap().as_type();
    let cat = rt
        .class("Cat")
        .base(animal.as_class().unwrap())
        .define()
        .unwrap()
        .as_type();
    let object = rt.object_class().as_type();
    let out_g = rt
        .generic_interface("IProducer", &[Variance::Covariant])
        .define_generic()
        .unwrap();
    let in_g = rt
        .generic_interface("IConsumer", &[Variance::Contravariant])
        .define_generic()
        .unwrap();
    let inv_g = rt
        .generic_interface("IBox", &[Variance::Invariant])
        .define_generic()
        .unwrap();
    let producer_cat = out_g.instantiate(std::slice::from_ref(&cat)).unwrap();
    let consumer_animal = in_g.instantiate(std::slice::from_ref(&animal)).unwrap();
    let box_cat = inv_g.instantiate(std::slice::from_ref(&cat)).unwrap();
    let class = rt
        .class("Zoo")
        .implement(&producer_cat)
        .implement(&consumer_animal)
        .implement(&box_cat)
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    // out T: IProducer<Cat> is an IProducer<Animal> and IProducer<object>, not the reverse.
    assert_is(
        &obj,
        &out_g.instantiate(std::slice::from_ref(&animal)).unwrap(),
        true,
    );
    assert_is(
        &obj,
        &out_g.instantiate(std::slice::from_ref(&object)).unwrap(),
        true,
    );
    // in T: IConsumer<Animal> is an IConsumer<Cat>, not an IConsumer<object>.
    assert_is(
        &obj,
        &in_g.instantiate(std::slice::from_ref(&cat)).unwrap(),
        true,
    );
    assert_is(
        &obj,
        &in_g.instantiate(std::slice::from_ref(&object)).unwrap(),
        false,
    );
    // invariant: only IBox<Cat>.
    assert_is(&obj, &box_cat, true);
    assert_is(
        &obj,
        &inv_g.instantiate(std::slice::from_ref(&animal)).unwrap(),
        false,
    );
    let err = obj
        .cast(
            &inv_g.instantiate(std::slice::from_ref(&animal)).unwrap(),
            &mut (),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to cast object of type 'Zoo' to type 'IBox<Animal>'."
    );
}

// B1 with variance on two parameters and through a base interface (`IDerived<out T> :
// IBase<T>`), with interface type arguments.
#[test]
fn variance_through_base_interfaces_and_interface_arguments() {
    let rt = Rt::new();
    let ianimal = rt.interface("IAnimal").define().unwrap().as_type();
    let icat = rt
        .interface("ICat")
        .base(ianimal.as_interface().unwrap())
        .define()
        .unwrap()
        .as_type();
    let base = rt
        .generic_interface("IBase", &[Variance::Contravariant, Variance::Covariant])
        .define_generic()
        .unwrap();
    let derived = rt
        .generic_interface("IDerived", &[Variance::Contravariant, Variance::Covariant])
        .base(dynacast::TypeExpr::generic(
            &base,
            [dynacast::TypeExpr::Param(0), dynacast::TypeExpr::Param(1)],
        ))
        .define_generic()
        .unwrap();
    let implemented = derived
        .instantiate(&[ianimal.clone(), icat.clone()])
        .unwrap();
    let class = rt.class("C").implement(&implemented).define().unwrap();
    let obj = new(&rt, &class);
    // IDerived<IAnimal, ICat> : IBase<IAnimal, ICat> → IBase<ICat, IAnimal> by variance.
    assert_is(
        &obj,
        &base.instantiate(&[icat.clone(), ianimal.clone()]).unwrap(),
        true,
    );
    assert_is(
        &obj,
        &derived
            .instantiate(&[icat.clone(), ianimal.clone()])
            .unwrap(),
        true,
    );
    assert_is(
        &obj,
        &base.instantiate(&[ianimal.clone(), icat.clone()]).unwrap(),
        true,
    );
    // Both directions of widening at once.
    assert_is(
        &obj,
        &base.instantiate(&[icat.clone(), ianimal.clone()]).unwrap(),
        true,
    );
    // The wrong direction on either parameter fails: `in` may not widen, `out` may not narrow.
    let object = rt.object_class().as_type();
    let isiamese = rt
        .interface("ISiamese")
        .base(icat.as_interface().unwrap())
        .define()
        .unwrap()
        .as_type();
    assert_is(
        &obj,
        &base.instantiate(&[object, icat.clone()]).unwrap(),
        false,
    );
    assert_is(
        &obj,
        &base.instantiate(&[ianimal.clone(), isiamese]).unwrap(),
        false,
    );
    let unrelated = rt.interface("IUnrelated").define().unwrap().as_type();
    assert_is(
        &obj,
        &base.instantiate(&[unrelated, icat.clone()]).unwrap(),
        false,
    );
}

// B1: every type is assignable to `object`; interfaces are assignable to no other class.
#[test]
fn type_assignability() {
    let rt = Rt::new();
    let object = rt.object_class().as_type();
    let iface = rt.interface("I").define().unwrap().as_type();
    let derived_iface = rt
        .interface("IDerived")
        .base(iface.as_interface().unwrap())
        .define()
        .unwrap()
        .as_type();
    let class = rt
        .class("C")
        .implement(iface.as_interface().unwrap())
        .define()
        .unwrap()
        .as_type();
    let other = rt.class("D").define().unwrap().as_type();
    assert!(iface.is_assignable_to(&object));
    assert!(class.is_assignable_to(&object));
    assert!(object.is_assignable_to(&object));
    assert!(!object.is_assignable_to(&class));
    assert!(!iface.is_assignable_to(&class));
    assert!(!iface.is_assignable_to(&other));
    assert!(class.is_assignable_to(&iface));
    assert!(derived_iface.is_assignable_to(&iface));
    assert!(!iface.is_assignable_to(&derived_iface));
    assert!(!class.is_assignable_to(&derived_iface));
    assert!(!class.is_assignable_to(&other));
    assert!(iface.is_assignable_to(&iface));
}

// "Casting to a class never calls the hook", and B1 before B2: a metadata answer never asks.
#[test]
fn class_targets_and_metadata_hits_never_ask_the_hook() {
    let rt = Rt::new();
    let asked = Arc::new(AtomicUsize::new(0));
    let iface = rt.interface("I").define().unwrap();
    let other = rt.interface("IOther").define().unwrap();
    let unrelated = rt.class("Unrelated").define().unwrap();
    let class = rt
        .class("C")
        .implement(&iface)
        .hook(YesHook(asked.clone()))
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    assert!(obj.is_instance_of(&class, &mut ()).unwrap());
    assert!(obj.is_instance_of(rt.object_class(), &mut ()).unwrap());
    assert!(!obj.is_instance_of(&unrelated, &mut ()).unwrap());
    assert!(obj.cast(&unrelated, &mut ()).is_err());
    assert!(obj.is_instance_of(&iface, &mut ()).unwrap());
    obj.cast(&iface, &mut ()).unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 0);
    // Only an interface the metadata does not know reaches the hook.
    assert!(obj.is_instance_of(&other, &mut ()).unwrap());
    assert!(!obj.is_instance_of_static(&other));
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}

// B1: types of another runtime are never instances (distinct identities), even by name;
// a cast or test against one is an error that says so (issue 11 §5).
#[test]
fn foreign_targets_are_not_matched() {
    let rt = Rt::new();
    let other = Rt::new();
    let iface = rt.interface("I").define().unwrap();
    let foreign_iface = other.interface("I").define().unwrap();
    let class = rt.class("C").implement(&iface).define().unwrap();
    let foreign_class = other.class("C").define().unwrap();
    let obj = new(&rt, &class);
    assert!(!obj.is_instance_of_static(&foreign_iface));
    assert!(!obj.is_instance_of_static(&foreign_class));
    assert!(!obj.is_instance_of_static(other.object_class()));
    for (target, name) in [
        (foreign_iface.as_type(), "I"),
        (foreign_class.as_type(), "C"),
        (other.object_class().as_type(), "object"),
    ] {
        let expected = format!("Type '{name}' belongs to another Runtime.");
        let err = obj.cast(&target, &mut ()).unwrap_err();
        assert_eq!(
            (err.kind(), err.to_string()),
            ("InvalidOperation", expected.clone())
        );
        let err = obj.is_instance_of(&target, &mut ()).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
}

// Issue 2 §5: "a metadata cast allocates nothing and takes no lock" (allocation half).
#[test]
fn static_casts_allocate_nothing() {
    let rt = Rt::new();
    let base = rt.interface("IBase").define().unwrap();
    let iface = rt.interface("I").base(&base).define().unwrap();
    let missing = rt.interface("IMissing").define().unwrap();
    let cat = rt.class("Cat").define().unwrap().as_type();
    let generic = rt
        .generic_interface("IProducer", &[Variance::Covariant])
        .define_generic()
        .unwrap();
    let producer_cat = generic.instantiate(&[cat]).unwrap();
    let producer_obj = generic.instantiate(&[rt.object_class().as_type()]).unwrap();
    let a = rt
        .class("A")
        .implement(&iface)
        .implement(&producer_cat)
        .define()
        .unwrap();
    let b = rt.class("B").base(&a).define().unwrap();
    let obj = new(&rt, &b);
    let mut hits = 0;
    let before = allocations();
    for _ in 0..1000 {
        hits += obj.is_instance_of(&base, &mut ()).unwrap() as usize;
        hits += obj.is_instance_of(&a, &mut ()).unwrap() as usize;
        hits += obj.is_instance_of(&producer_obj, &mut ()).unwrap() as usize;
        hits += obj.cast(&iface, &mut ()).is_ok() as usize;
        hits += obj.is_instance_of(&missing, &mut ()).unwrap() as usize;
    }
    assert_eq!(allocations() - before, 0);
    assert_eq!(hits, 4000);
}

// B1: classes with many interfaces (the sorted-table look-up) answer exactly, including
// through variance and through a base class.
#[test]
fn many_interfaces() {
    let rt = Rt::new();
    let ifaces: Vec<InterfaceRef<DynHost>> = (0..20)
        .map(|i| {
            rt.interface(&format!("I{i}"))
                .default_method("m", 0, move |_| Ok(Value::Int(i)))
                .define()
                .unwrap()
        })
        .collect();
    let cat = rt.class("Cat").define().unwrap().as_type();
    let producer = rt
        .generic_interface("IProducer", &[Variance::Covariant])
        .define_generic()
        .unwrap();
    let producer_cat = producer.instantiate(std::slice::from_ref(&cat)).unwrap();
    let producer_obj = producer
        .instantiate(&[rt.object_class().as_type()])
        .unwrap();
    let mut builder = rt.class("Many").implement(&producer_cat);
    // Every other interface, so that misses fall between hits in the sorted table.
    for iface in ifaces.iter().step_by(2) {
        builder = builder.implement(iface);
    }
    let many = builder.define().unwrap();
    let sub = rt.class("Sub").base(&many).define().unwrap();
    for obj in [new(&rt, &many), new(&rt, &sub)] {
        for (i, iface) in ifaces.iter().enumerate() {
            assert_is(&obj, iface, i % 2 == 0);
            let result = obj.call(&iface.method("m").unwrap(), &[], &mut ());
            if i % 2 == 0 {
                assert_eq!(result.unwrap(), Value::Int(i as i64));
            } else {
                assert_eq!(
                    result.unwrap_err().to_string(),
                    format!(
                        "Unable to cast object of type '{}' to type 'I{i}'.",
                        obj.class().name()
                    )
                );
            }
        }
        assert_is(&obj, &producer_obj, true);
    }
}
