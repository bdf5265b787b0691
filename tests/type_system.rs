//! The type system (issue 2, deliverables 2 and 6; rules M1–M6): definitions, stable handles,
//! interfaces and their members, generics and variance, classes, objects, the host-generic
//! value representation, the error enum, and thread-safe registration while other threads
//! cast and call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use dynacast::{
    body, static_body, ClassRef, DynError, DynHost, DynamicCastable, Error, Host, HostError,
    InterfaceRef, InvalidOperation, Object, Runtime, TypeExpr, TypeRef, Value, Variance,
};

type Rt = Runtime<DynHost>;

fn int(i: i64) -> dynacast::Body<DynHost> {
    body(move |_| Ok(Value::Int(i)))
}

fn new(rt: &Rt, class: &ClassRef<DynHost>) -> Object<DynHost> {
    rt.new_object(class, Value::Nil).unwrap()
}

// §1 handles: stable, cheap, identity-compared; the registry hands back the same handle.
#[test]
fn handles_are_stable_identities() {
    let rt = Rt::new();
    let a = rt.interface("IA").abstract_method("m", 0).define().unwrap();
    let b = rt.interface("IB").abstract_method("m", 0).define().unwrap();
    let class = rt
        .class("C")
        .implement(&a)
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap();
    assert_eq!(rt.lookup("IA"), Some(a.as_type()));
    assert_eq!(rt.lookup("C"), Some(class.as_type()));
    assert_eq!(rt.lookup("C").unwrap().as_class(), Some(&class));
    assert_eq!(rt.lookup("IA").unwrap().as_interface(), Some(&a));
    assert_eq!(rt.lookup("nope"), None);
    // Same shape, different types.
    assert_ne!(a, b);
    assert_ne!(a.uid(), b.uid());
    assert_eq!(a.clone(), a);
    assert_eq!(a.name(), "IA");
    assert_eq!(a.to_string(), "IA");
    assert_eq!(format!("{a:?}"), "interface IA");
    assert_eq!(format!("{class:?}"), "class C");
    assert_eq!(class.as_type().to_string(), "C");
    assert_eq!(TypeRef::from(&class).uid(), class.uid());
    // Method references compare by declaring interface and slot.
    assert_eq!(a.method("m").unwrap(), a.method("m").unwrap());
    assert_ne!(a.method("m").unwrap(), b.method("m").unwrap());
    // Runtime clones are the same runtime; new runtimes are distinct.
    assert_eq!(rt.clone().id(), rt.id());
    assert_ne!(Rt::new().id(), rt.id());
    let weak = rt.downgrade();
    assert_eq!(weak.upgrade().unwrap().id(), rt.id());
}

// §1 decision: the root class "object" is the base of every class; every type is
// assignable to it.
#[test]
fn root_class_object() {
    let rt = Rt::new();
    let object = rt.object_class();
    assert_eq!(object.name(), "object");
    assert_eq!(object.base(), None);
    assert!(!object.is_abstract());
    assert_eq!(rt.lookup("object"), Some(object.as_type()));
    let a = rt.class("A").define().unwrap();
    let b = rt.class("B").base(&a).define().unwrap();
    assert_eq!(a.base(), Some(object));
    assert_eq!(b.base(), Some(&a));
    let iface = rt.interface("I").define().unwrap();
    for t in [a.as_type(), b.as_type(), iface.as_type(), object.as_type()] {
        assert!(t.is_assignable_to(&object.as_type()), "{t:?}");
    }
    // Plain objects of the root class exist.
    let obj = new(&rt, object);
    assert_eq!(obj.class(), object);
}

// §1 interfaces: slots with arity, defaults, helpers, statics, bases; the MethodRef names
// the declaring interface (rule C2).
#[test]
fn interface_members_and_bases() {
    let rt = Rt::new();
    let root = rt
        .interface("IRoot")
        .abstract_method("r", 2)
        .define()
        .unwrap();
    let left = rt
        .interface("ILeft")
        .base(&root)
        .abstract_method("l", 0)
        .define()
        .unwrap();
    let right = rt.interface("IRight").base(&root).define().unwrap();
    let both = rt
        .interface("IBoth")
        .base(&left)
        .base(&right)
        .default_method_body("d", 1, int(1))
        .helper_body("h", 0, int(2))
        .static_method_body("s", 0, static_body(|_| Ok(Value::Int(3))))
        .define()
        .unwrap();
    // Transitive bases without duplicates, in base-list order.
    assert_eq!(
        both.all_bases(),
        &[left.clone(), root.clone(), right.clone()]
    );
    assert_eq!(root.all_bases(), &[] as &[InterfaceRef<DynHost>]);
    let names: Vec<String> = both
        .methods()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    assert_eq!(names, ["d", "h", "s"]);
    let r = both.method("r").unwrap();
    assert_eq!(r.interface(), &root);
    assert_eq!((r.arity(), r.slot(), r.is_virtual()), (2, 0, true));
    assert_eq!(both.method("l").unwrap().interface(), &left);
    let d = both.method("d").unwrap();
    assert_eq!(
        (d.arity(), d.slot(), d.is_virtual(), d.is_static()),
        (1, 0, true, false)
    );
    let h = both.method("h").unwrap();
    assert_eq!((h.is_virtual(), h.is_static()), (false, false));
    let s = both.method("s").unwrap();
    assert_eq!((s.is_virtual(), s.is_static(), s.slot()), (false, true, 2));
    assert_eq!(format!("{r:?}"), "IRoot.r");
    assert_eq!(
        both.method("zz").unwrap_err().to_string(),
        "Member 'zz' not found on type 'IBoth'."
    );
}

// §1 interfaces: the dynamic-castable-implementation mark is not inherited.
#[test]
fn dynamic_castable_mark_is_not_inherited() {
    let rt = Rt::new();
    let base = rt.interface("IBase").define().unwrap();
    let marked = rt
        .interface("IMarked")
        .base(&base)
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    let derived = rt.interface("IDerived").base(&marked).define().unwrap();
    assert!(!base.is_dynamic_castable_implementation());
    assert!(marked.is_dynamic_castable_implementation());
    assert!(!derived.is_dynamic_castable_implementation());
}

// §1 generics: closed instantiations are distinct types with one identity per argument
// list; names include their arguments.
#[test]
fn generic_instantiations_are_distinct_types() {
    let rt = Rt::new();
    let int_t = rt.class("int").define().unwrap().as_type();
    let str_t = rt.class("string").define().unwrap().as_type();
    let generic = rt
        .generic_interface(
            "ITestGeneric",
            &[Variance::Contravariant, Variance::Covariant],
        )
        .abstract_method("m", 1)
        .define_generic()
        .unwrap();
    assert_eq!(generic.name(), "ITestGeneric");
    assert_eq!(generic.arity(), 2);
    assert_eq!(
        generic.variances(),
        &[Variance::Contravariant, Variance::Covariant]
    );
    let ii = generic
        .instantiate(&[int_t.clone(), int_t.clone()])
        .unwrap();
    let ii2 = generic
        .instantiate(&[int_t.clone(), int_t.clone()])
        .unwrap();
    let is = generic
        .instantiate(&[int_t.clone(), str_t.clone()])
        .unwrap();
    assert_eq!(ii, ii2);
    assert_ne!(ii, is);
    assert_eq!(ii.name(), "ITestGeneric<int, int>");
    assert_eq!(is.name(), "ITestGeneric<int, string>");
    let (def, args) = is.generic_arguments().unwrap();
    assert_eq!(def.name(), "ITestGeneric");
    assert_eq!(args, &[int_t.clone(), str_t.clone()]);
    // Method refs of different instantiations are different methods.
    assert_ne!(ii.method("m").unwrap(), is.method("m").unwrap());
    assert_eq!(ii.method("m").unwrap().interface(), &ii);
    // Closed generics are not registered by name; the definition is.
    assert_eq!(rt.lookup("ITestGeneric"), None);
    assert_eq!(rt.lookup("ITestGeneric<int, int>"), None);
    assert_eq!(
        rt.lookup_generic("ITestGeneric").unwrap().name(),
        "ITestGeneric"
    );
    assert!(rt.lookup_generic("int").is_none());
    assert!(rt
        .interface("IPlain")
        .define()
        .unwrap()
        .generic_arguments()
        .is_none());
    // Nested instantiations, written as type expressions.
    let nested = rt
        .class("Holder")
        .implement(TypeExpr::generic(
            &generic,
            [
                TypeExpr::from(int_t.clone()),
                TypeExpr::generic(&generic, ["int".into(), "string".into()]),
            ],
        ))
        .virtual_method_body("m", 1, int(0))
        .define()
        .unwrap();
    let inner = is.as_type();
    let outer = generic.instantiate(&[int_t.clone(), inner]).unwrap();
    assert_eq!(outer.name(), "ITestGeneric<int, ITestGeneric<int, string>>");
    assert_eq!(nested.interfaces(), vec![outer]);
}

// §1 generics: assignability honours variance (`out` widens, `in` narrows, invariant is
// exact), also for type arguments that are themselves variant generics.
#[test]
fn generic_assignability_honours_variance() {
    let rt = Rt::new();
    let animal = rt.class("Animal").define().unwrap();
    let cat = rt.class("Cat").base(&animal).define().unwrap().as_type();
    let animal = animal.as_type();
    let g = |name: &str, v: Variance| rt.generic_interface(name, &[v]).define_generic().unwrap();
    let out_g = g("IOut", Variance::Covariant);
    let in_g = g("IIn", Variance::Contravariant);
    let inv_g = g("IInv", Variance::Invariant);
    let t = |def: &dynacast::GenericInterface<DynHost>, arg: &TypeRef<DynHost>| {
        def.instantiate(std::slice::from_ref(arg))
            .unwrap()
            .as_type()
    };
    assert!(t(&out_g, &cat).is_assignable_to(&t(&out_g, &animal)));
    assert!(!t(&out_g, &animal).is_assignable_to(&t(&out_g, &cat)));
    assert!(t(&in_g, &animal).is_assignable_to(&t(&in_g, &cat)));
    assert!(!t(&in_g, &cat).is_assignable_to(&t(&in_g, &animal)));
    assert!(!t(&inv_g, &cat).is_assignable_to(&t(&inv_g, &animal)));
    assert!(!t(&inv_g, &animal).is_assignable_to(&t(&inv_g, &cat)));
    assert!(t(&inv_g, &cat).is_assignable_to(&t(&inv_g, &cat)));
    // Different definitions are never assignable, whatever the arguments.
    assert!(!t(&out_g, &cat).is_assignable_to(&t(&in_g, &cat)));
    // IOut<IOut<Cat>> → IOut<IOut<Animal>>: variance composes.
    let out_cat = t(&out_g, &cat);
    let out_animal = t(&out_g, &animal);
    assert!(t(&out_g, &out_cat).is_assignable_to(&t(&out_g, &out_animal)));
    // IIn<IOut<Animal>> → IIn<IOut<Cat>>.
    assert!(t(&in_g, &out_animal).is_assignable_to(&t(&in_g, &out_cat)));
    assert!(!t(&in_g, &out_cat).is_assignable_to(&t(&in_g, &out_animal)));
}

// §1 generics: a generic interface's members and bases may use its parameters.
#[test]
fn generic_bases_use_parameters() {
    let rt = Rt::new();
    let ienum = rt
        .generic_interface("IEnumerable", &[Variance::Covariant])
        .abstract_method("first", 0)
        .define_generic()
        .unwrap();
    let ilist = rt
        .generic_interface("IList", &[Variance::Invariant])
        .base(TypeExpr::generic(&ienum, [TypeExpr::Param(0)]))
        .abstract_method("count", 0)
        .define_generic()
        .unwrap();
    let cat = rt.class("Cat").define().unwrap().as_type();
    let list_cat = ilist.instantiate(std::slice::from_ref(&cat)).unwrap();
    let enum_cat = ienum.instantiate(std::slice::from_ref(&cat)).unwrap();
    assert_eq!(list_cat.all_bases(), std::slice::from_ref(&enum_cat));
    assert_eq!(list_cat.method("first").unwrap().interface(), &enum_cat);
    let enum_obj = ienum.instantiate(&[rt.object_class().as_type()]).unwrap();
    assert!(list_cat.as_type().is_assignable_to(&enum_obj.as_type()));
    let class = rt
        .class("CatList")
        .implement(&list_cat)
        .virtual_method_body("first", 0, int(1))
        .virtual_method_body("count", 0, int(2))
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    assert_eq!(
        obj.call(&enum_obj.method("first").unwrap(), &[], &mut ())
            .unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        obj.call(&list_cat.method("count").unwrap(), &[], &mut ())
            .unwrap(),
        Value::Int(2)
    );
}

// §1 classes: base class, vtable with overrides, interface maps inherited, abstract classes,
// hooks inherited by subclasses.
#[test]
fn classes_vtables_and_inheritance() {
    struct NoHook;
    impl DynamicCastable<DynHost> for NoHook {
        fn is_interface_implemented(
            &self,
            _: &Object<DynHost>,
            _: &InterfaceRef<DynHost>,
            _: bool,
            _: &mut (),
        ) -> Result<bool, DynError> {
            Ok(false)
        }
        fn get_interface_implementation(
            &self,
            _: &Object<DynHost>,
            _: &InterfaceRef<DynHost>,
            _: &mut (),
        ) -> Result<Option<TypeRef<DynHost>>, DynError> {
            Ok(None)
        }
    }
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let abs = rt
        .class("Abs")
        .abstract_class()
        .implement(&iface)
        .abstract_method("m", 0)
        .virtual_method_body("n", 1, int(1))
        .hook(NoHook)
        .define()
        .unwrap();
    let concrete = rt
        .class("Concrete")
        .base(&abs)
        .override_method_body("m", int(2))
        .define()
        .unwrap();
    assert!(abs.is_abstract() && !concrete.is_abstract());
    assert!(abs.has_hook() && concrete.has_hook());
    assert!(!rt.object_class().has_hook());
    assert_eq!(concrete.interfaces(), vec![iface.clone()]);
    let m = concrete.virtual_method("m").unwrap();
    assert_eq!((m.name(), m.arity(), m.class()), ("m", 0, &concrete));
    assert_eq!(concrete.virtual_method("n").unwrap().arity(), 1);
    assert_eq!(format!("{m:?}"), "Concrete.m");
    let obj = new(&rt, &concrete);
    assert_eq!(
        obj.call_virtual(&abs.virtual_method("m").unwrap(), &[], &mut ())
            .unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        obj.call(&iface.method("m").unwrap(), &[], &mut ()).unwrap(),
        Value::Int(2)
    );
}

// §1 objects: class pointer plus payload; `this` inside any body is the original object.
#[test]
fn objects_carry_class_and_payload_and_this_is_original() {
    let rt = Rt::new();
    let iface = rt
        .interface("I")
        .abstract_method("virt", 0)
        .default_method("dflt", 0, |call| {
            let (this, _, _) = call.into_parts();
            Ok(Value::Object(this.clone()))
        })
        .helper("help", 0, |call| {
            let (this, _, _) = call.into_parts();
            Ok(Value::Object(this.clone()))
        })
        .define()
        .unwrap();
    let class = rt
        .class("C")
        .implement(&iface)
        .virtual_method("virt", 0, |call| {
            let (this, _, _) = call.into_parts();
            Ok(this.payload().clone())
        })
        .define()
        .unwrap();
    let obj = rt.new_object(&class, Value::from("payload")).unwrap();
    assert_eq!(obj.class(), &class);
    assert_eq!(obj.payload(), &Value::from("payload"));
    let clone = obj.clone();
    assert!(Object::ptr_eq(&obj, &clone));
    assert!(!Object::ptr_eq(
        &obj,
        &rt.new_object(&class, Value::Nil).unwrap()
    ));
    assert_eq!(
        obj.call(&iface.method("virt").unwrap(), &[], &mut ())
            .unwrap(),
        Value::from("payload")
    );
    for m in ["dflt", "help"] {
        let out = obj.call(&iface.method(m).unwrap(), &[], &mut ()).unwrap();
        assert!(Object::ptr_eq(out.as_object().unwrap(), &obj), "{m}");
    }
}

/// A host with its own value, error, context and payload types (§1: "the value
/// representation is the embedder's").
struct MyHost;

#[derive(Debug, Clone, PartialEq)]
struct MyError(u32);
impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "my error {}", self.0)
    }
}
impl std::error::Error for MyError {}

/// A call context like a script engine's: a call log.
struct Interp {
    log: Vec<String>,
}

impl Host for MyHost {
    type Value = u32;
    type Error = MyError;
    type Context = Interp;
    type Payload = &'static str;
}

// §1: bodies, arguments, results, errors and the caller's context are the host's own.
#[test]
fn custom_host_types_flow_through() {
    let rt = Runtime::<MyHost>::new();
    let iface = rt
        .interface("IAdd")
        .abstract_method("add", 2)
        .abstract_method("fail", 0)
        .define()
        .unwrap();
    let class = rt
        .class("Adder")
        .implement(&iface)
        .virtual_method("add", 2, |call| {
            let (this, args, cx) = call.into_parts();
            cx.log.push(format!("{} add", this.payload()));
            Ok(args[0] + args[1])
        })
        .virtual_method("fail", 0, |_| Err(Error::Host(MyError(7))))
        .define()
        .unwrap();
    let obj = rt.new_object(&class, "adder#1").unwrap();
    let mut cx = Interp { log: Vec::new() };
    assert_eq!(
        obj.call(&iface.method("add").unwrap(), &[2, 3], &mut cx)
            .unwrap(),
        5
    );
    assert_eq!(cx.log, ["adder#1 add"]);
    let err = obj
        .call(&iface.method("fail").unwrap(), &[], &mut cx)
        .unwrap_err();
    assert_eq!(err, Error::Host(MyError(7)));
    assert_eq!(err.host_error(), Some(&MyError(7)));
    assert_eq!(err.to_string(), "my error 7");
}

// Issue 2 §6: one error enum, `std::error::Error + Send + Sync`, stable kind() strings.
#[test]
fn error_enum_kinds_and_traits() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<DynError>();
    assert_error::<Error<MyError>>();
    let name = || -> Arc<str> { "X".into() };
    let cases: Vec<(DynError, &str)> = vec![
        (
            Error::InvalidCast {
                object_type: name(),
                target_type: name(),
            },
            "InvalidCast",
        ),
        (
            Error::InvalidOperation(InvalidOperation::AbstractClass { class: name() }),
            "InvalidOperation",
        ),
        (
            Error::EntryPointNotFound {
                type_name: name(),
                interface: name(),
                method: name(),
                implementation: None,
                reabstracted_in: None,
            },
            "EntryPointNotFound",
        ),
        (
            Error::AmbiguousImplementation {
                type_name: name(),
                interface: name(),
                method: name(),
                implementation: None,
                candidates: vec![],
            },
            "AmbiguousImplementation",
        ),
        (
            Error::TypeLoad {
                type_name: name(),
                message: "m".into(),
            },
            "TypeLoad",
        ),
        (
            Error::MissingMember {
                type_name: name(),
                member: name(),
            },
            "MissingMember",
        ),
        (
            Error::ArgumentCount {
                method: name(),
                expected: 1,
                actual: 2,
            },
            "ArgumentCount",
        ),
        (Error::Host(HostError::new("h")), "Host"),
    ];
    for (err, kind) in cases {
        assert_eq!(err.kind(), kind);
        assert_eq!(err.host_error().is_some(), kind == "Host");
    }
}

// §1: handles, objects and the runtime are Send + Sync, so any thread may use them.
#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Rt>();
    assert_send_sync::<Object<DynHost>>();
    assert_send_sync::<ClassRef<DynHost>>();
    assert_send_sync::<InterfaceRef<DynHost>>();
    assert_send_sync::<TypeRef<DynHost>>();
    assert_send_sync::<dynacast::MethodRef<DynHost>>();
    assert_send_sync::<dynacast::GenericInterface<DynHost>>();
    assert_send_sync::<Runtime<MyHost>>();
}

// §1: thread-safe registration while other threads cast and call. Definer threads define
// types (new names, redefinitions, generic instantiations) while caster threads cast and
// dispatch on existing objects; every answer is exact, every definition is visible by name
// right after it returns.
#[test]
fn registration_while_others_cast_and_call() {
    const DEFINITIONS: usize = 200;
    const READERS: usize = 3;
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let missing = rt.interface("IMissing").define().unwrap();
    let generic = rt
        .generic_interface("IG", &[Variance::Covariant])
        .default_method_body("g", 0, int(9))
        .define_generic()
        .unwrap();
    let class = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    let m = iface.method("m").unwrap();
    let start = Arc::new(Barrier::new(READERS + 2));
    let definers_done = Arc::new(AtomicUsize::new(0));
    let checks = Arc::new(AtomicUsize::new(0));

    thread::scope(|s| {
        for _ in 0..READERS {
            let (obj, m, iface, missing, start, done, checks) = (
                &obj,
                &m,
                &iface,
                &missing,
                start.clone(),
                definers_done.clone(),
                checks.clone(),
            );
            s.spawn(move || {
                start.wait();
                // At least one full pass, then keep going until both definers finish.
                loop {
                    let finished = done.load(Ordering::SeqCst) == 2;
                    assert_eq!(obj.call(m, &[], &mut ()).unwrap(), Value::Int(1));
                    assert!(obj.is_instance_of(iface, &mut ()).unwrap());
                    assert!(!obj.is_instance_of(missing, &mut ()).unwrap());
                    assert_eq!(
                        obj.cast(missing, &mut ()).unwrap_err().to_string(),
                        "Unable to cast object of type 'C' to type 'IMissing'."
                    );
                    checks.fetch_add(1, Ordering::SeqCst);
                    if finished {
                        break;
                    }
                }
            });
        }
        // Definer 1: new classes implementing I, each checked by name right after.
        {
            let (rt, iface, start, done) = (&rt, &iface, start.clone(), definers_done.clone());
            s.spawn(move || {
                start.wait();
                for i in 0..DEFINITIONS {
                    let name = format!("K{i}");
                    let k = rt
                        .class(&name)
                        .implement(iface)
                        .virtual_method_body("m", 0, int(i as i64))
                        .define()
                        .unwrap();
                    assert_eq!(rt.lookup(&name), Some(k.as_type()));
                    let o = rt.new_object(&k, Value::Nil).unwrap();
                    assert_eq!(
                        o.call(&iface.method("m").unwrap(), &[], &mut ()).unwrap(),
                        Value::Int(i as i64)
                    );
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        // Definer 2: redefinitions of one name and generic instantiations.
        {
            let (rt, generic, start, done) = (&rt, &generic, start.clone(), definers_done.clone());
            s.spawn(move || {
                start.wait();
                for i in 0..DEFINITIONS {
                    let r = rt
                        .interface("IRedefined")
                        .abstract_method("m", 0)
                        .redefine()
                        .define()
                        .unwrap();
                    assert_eq!(rt.lookup("IRedefined"), Some(r.as_type()));
                    let arg = rt.class(&format!("Arg{i}")).define().unwrap();
                    let closed = generic.instantiate(&[arg.as_type()]).unwrap();
                    assert_eq!(closed.name(), format!("IG<Arg{i}>"));
                    let k = rt
                        .class(&format!("G{i}"))
                        .implement(&closed)
                        .define()
                        .unwrap();
                    let o = rt.new_object(&k, Value::Nil).unwrap();
                    assert_eq!(
                        o.call(&closed.method("g").unwrap(), &[], &mut ()).unwrap(),
                        Value::Int(9)
                    );
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    assert!(checks.load(Ordering::SeqCst) >= READERS);
    for i in 0..DEFINITIONS {
        assert!(rt.lookup(&format!("K{i}")).is_some());
        assert!(rt.lookup(&format!("G{i}")).is_some());
    }
}

// §1: concurrent definitions of one name: exactly one wins, the others get the duplicate
// TypeLoad; concurrent instantiations of one closed generic give one identity.
#[test]
fn concurrent_definitions_of_one_name() {
    const THREADS: usize = 8;
    let rt = Rt::new();
    let generic = rt
        .generic_interface("IG", &[Variance::Invariant])
        .define_generic()
        .unwrap();
    let arg = rt.class("Arg").define().unwrap().as_type();
    let start = Barrier::new(THREADS);
    /// What each thread got: its definition attempt and its instantiation.
    type Outcome = (Result<ClassRef<DynHost>, DynError>, InterfaceRef<DynHost>);
    let results: Vec<Outcome> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let defined = rt.class("Same").define();
                    let closed = generic.instantiate(std::slice::from_ref(&arg)).unwrap();
                    (defined, closed)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<&ClassRef<DynHost>> = results
        .iter()
        .filter_map(|(r, _)| r.as_ref().ok())
        .collect();
    // The racing definitions are the same definition, so every one of them returns the
    // class that registered first (live reload's "same definition, same type").
    assert_eq!(winners.len(), THREADS);
    assert!(winners
        .iter()
        .all(|w| rt.lookup("Same") == Some(w.as_type())));
    for (_, closed) in &results {
        assert_eq!(closed, &results[0].1);
    }
}

// §1 / D2: a body may define types while it runs (no engine lock is held during calls).
#[test]
fn bodies_may_define_types_reentrantly() {
    let rt = Rt::new();
    let weak = rt.downgrade();
    let iface = rt
        .interface("I")
        .abstract_method("make", 0)
        .define()
        .unwrap();
    let class = rt
        .class("Factory")
        .implement(&iface)
        .virtual_method("make", 0, move |call| {
            let (this, _, _) = call.into_parts();
            let rt = weak.upgrade().unwrap();
            let made = rt.class("Made").base(this.class()).redefine().define()?;
            Ok(Value::from(made))
        })
        .define()
        .unwrap();
    let obj = new(&rt, &class);
    let made = obj
        .call(&iface.method("make").unwrap(), &[], &mut ())
        .unwrap();
    let made = made.as_type().unwrap().as_class().unwrap().clone();
    assert_eq!(made.base(), Some(&class));
    assert_eq!(rt.lookup("Made"), Some(made.as_type()));
}

// §1 generics: a generic interface may give default bodies for (and re-abstract) methods
// of its generic base, per instantiation.
#[test]
fn generic_overrides_of_generic_base_methods() {
    let rt = Rt::new();
    let base = rt
        .generic_interface("IBase", &[Variance::Invariant])
        .abstract_method("m", 0)
        .default_method_body("n", 0, int(0))
        .define_generic()
        .unwrap();
    let base_of_t = || TypeExpr::generic(&base, [TypeExpr::Param(0)]);
    let implementation = rt
        .generic_interface("IImpl", &[Variance::Invariant])
        .base(base_of_t())
        .override_base_body(base_of_t(), "m", int(5))
        .reabstract(base_of_t(), "n")
        .define_generic()
        .unwrap();
    let cat = rt.class("Cat").define().unwrap().as_type();
    let impl_cat = implementation
        .instantiate(std::slice::from_ref(&cat))
        .unwrap();
    let base_cat = base.instantiate(std::slice::from_ref(&cat)).unwrap();
    let class = rt.class("C").implement(&impl_cat).define().unwrap();
    let obj = new(&rt, &class);
    assert_eq!(
        obj.call(&base_cat.method("m").unwrap(), &[], &mut ())
            .unwrap(),
        Value::Int(5)
    );
    let err = obj
        .call(&base_cat.method("n").unwrap(), &[], &mut ())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Entry point not found: type 'C' has no implementation of 'IBase<Cat>.n' (the most specific declaration, in 'IImpl<Cat>', is abstract)."
    );
}
