//! Validation (issue 2, deliverable 3; rules M1–M6): every bad definition is a typed error whose
//! message names the type and the member, and nothing reachable through the public API
//! panics. Also: abstract instantiation, foreign-runtime types, `redefine`.

use std::fmt::Debug;

use dynacast::{
    body, DynError, DynHost, Error, InvalidOperation, Runtime, TypeExpr, Value, Variance,
};

type Rt = Runtime<DynHost>;

fn int(i: i64) -> dynacast::Body<DynHost> {
    body(move |_| Ok(Value::Int(i)))
}

/// Asserts `result` is `TypeLoad` for `type_name` with exactly `message`, and checks the
/// Display form built from both.
#[track_caller]
fn assert_type_load<T: Debug>(result: Result<T, DynError>, type_name: &str, message: &str) {
    let err = result.unwrap_err();
    assert_eq!(err.kind(), "TypeLoad");
    assert_eq!(
        err,
        Error::TypeLoad {
            type_name: type_name.into(),
            message: message.into()
        }
    );
    assert_eq!(
        err.to_string(),
        format!("Could not load type '{type_name}': {message}")
    );
}

// Validation: unknown base class, unknown base interface, unknown listed interface.
#[test]
fn unknown_names() {
    let rt = Rt::new();
    assert_type_load(
        rt.class("C").base("Nope").define(),
        "C",
        "unknown type 'Nope'",
    );
    assert_type_load(
        rt.interface("I").base("INope").define(),
        "I",
        "unknown type 'INope'",
    );
    assert_type_load(
        rt.class("C").implement("INope").define(),
        "C",
        "unknown type 'INope'",
    );
    assert_type_load(
        rt.class("C").map("INope", "m", "m").define(),
        "C",
        "unknown type 'INope'",
    );
    // Nothing was registered by the failed definitions.
    assert_eq!(rt.lookup("C"), None);
    assert_eq!(rt.lookup("I"), None);
}

// Validation: a class's base must be a class.
#[test]
fn non_class_base() {
    let rt = Rt::new();
    let iface = rt.interface("IBase").define().unwrap();
    let expected = "base type 'IBase' is an interface, not a class";
    assert_type_load(rt.class("C").base(&iface).define(), "C", expected);
    assert_type_load(rt.class("C").base("IBase").define(), "C", expected);
}

// Validation: non-interface in an interface list (a class's or an interface's).
#[test]
fn class_in_interface_list() {
    let rt = Rt::new();
    let class = rt.class("K").define().unwrap();
    assert_type_load(
        rt.class("C").implement(&class).define(),
        "C",
        "'K' in the interface list is a class, not an interface",
    );
    assert_type_load(
        rt.interface("I").base(&class).define(),
        "I",
        "'K' in the base list of interface 'I' is not an interface",
    );
    assert_type_load(
        rt.class("C").map(&class, "m", "m").define(),
        "C",
        "'K' in an interface map is a class, not an interface",
    );
}

// Validation: inheritance cycle. Handles can only name already defined types, so the only
// cycle that can be written is naming oneself.
#[test]
fn self_inheritance_is_a_cycle() {
    let rt = Rt::new();
    assert_type_load(
        rt.class("C").base("C").define(),
        "C",
        "inheritance cycle: 'C' cannot derive from itself",
    );
    assert_type_load(
        rt.interface("I").base("I").define(),
        "I",
        "inheritance cycle: 'I' cannot derive from itself",
    );
    // Even when redefining a name that exists: by name, a type cannot derive from itself.
    rt.class("D").define().unwrap();
    assert_type_load(
        rt.class("D").base("D").redefine().define(),
        "D",
        "inheritance cycle: 'D' cannot derive from itself",
    );
}

// Validation: a redefinition that derives from the old definition through its handle is not
// a cycle: the old type is a different, complete type.
#[test]
fn redefinition_may_derive_from_old_definition_by_handle() {
    let rt = Rt::new();
    let old = rt
        .class("D")
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap();
    let new = rt
        .class("D")
        .base(&old)
        .override_method_body("m", int(2))
        .redefine()
        .define()
        .unwrap();
    assert_eq!(new.base(), Some(&old));
    assert_eq!(rt.lookup("D"), Some(new.as_type()));
}

// Validation: duplicate type names, across kinds, and the root class's name.
#[test]
fn duplicate_type_names() {
    let rt = Rt::new();
    let first = rt.interface("X").define().unwrap();
    let msg = "a type named 'X' is already defined";
    // A different definition of the name fails; the same one returns the registered type
    // (live reload: tests/live_reload.rs).
    assert_type_load(rt.interface("X").abstract_method("m", 0).define(), "X", msg);
    assert_eq!(rt.interface("X").define().unwrap(), first);
    assert_type_load(rt.class("X").define(), "X", msg);
    assert_type_load(
        rt.generic_interface("X", &[Variance::Invariant])
            .define_generic(),
        "X",
        msg,
    );
    assert_eq!(rt.lookup("X"), Some(first.as_type()));
    let root = "a type named 'object' is already defined";
    assert_type_load(rt.class("object").define(), "object", root);
    assert_type_load(rt.class("object").redefine().define(), "object", root);
    assert_type_load(rt.interface("object").redefine().define(), "object", root);
}

// Validation: empty names.
#[test]
fn empty_names() {
    let rt = Rt::new();
    let msg = "a type needs a non-empty name";
    assert_type_load(rt.class("").define(), "", msg);
    assert_type_load(rt.interface("").define(), "", msg);
}

// Validation: duplicate method names in an interface and in a class (own or inherited).
#[test]
fn duplicate_methods() {
    let rt = Rt::new();
    assert_type_load(
        rt.interface("I")
            .abstract_method("m", 0)
            .default_method_body("m", 1, int(1))
            .define(),
        "I",
        "method 'm' is declared twice",
    );
    assert_type_load(
        rt.interface("I")
            .abstract_method("m", 0)
            .static_method_body("m", 0, dynacast::static_body(|_| Ok(Value::Nil)))
            .define(),
        "I",
        "method 'm' is declared twice",
    );
    let dup = "method 'm' is declared twice (an inherited method is replaced with override_method)";
    assert_type_load(
        rt.class("C")
            .virtual_method_body("m", 0, int(1))
            .virtual_method_body("m", 0, int(2))
            .define(),
        "C",
        dup,
    );
    let base = rt
        .class("Base")
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap();
    assert_type_load(
        rt.class("C")
            .base(&base)
            .virtual_method_body("m", 0, int(2))
            .define(),
        "C",
        dup,
    );
    assert_type_load(
        rt.class("C")
            .base(&base)
            .override_method_body("m", int(2))
            .override_method_body("m", int(3))
            .define(),
        "C",
        "method 'm' is overridden twice",
    );
}

// Validation: override of a non-existent (or not inherited) method.
#[test]
fn override_of_missing_method() {
    let rt = Rt::new();
    assert_type_load(
        rt.class("C").override_method_body("m", int(1)).define(),
        "C",
        "there is no inherited virtual method 'm' to override",
    );
    // A method of the class itself is not inherited.
    assert_type_load(
        rt.class("C")
            .virtual_method_body("m", 0, int(1))
            .override_method_body("m", int(2))
            .define(),
        "C",
        "there is no inherited virtual method 'm' to override",
    );
}

// Validation: a concrete class cannot leave a virtual method abstract (own or inherited).
#[test]
fn concrete_class_with_abstract_method() {
    let rt = Rt::new();
    assert_type_load(
        rt.class("C").abstract_method("m", 0).define(),
        "C",
        "the class is not abstract but leaves method 'm' abstract",
    );
    let base = rt
        .class("Base")
        .abstract_class()
        .abstract_method("m", 0)
        .define()
        .unwrap();
    assert_type_load(
        rt.class("C").base(&base).define(),
        "C",
        "the class is not abstract but leaves method 'm' abstract",
    );
    rt.class("C")
        .base(&base)
        .override_method_body("m", int(1))
        .define()
        .unwrap();
}

// Validation (decision): a concrete class leaving an interface method with no implementation
// and no default is a TypeLoad at define(); an abstract class may.
#[test]
fn concrete_class_with_unimplemented_interface_method() {
    let rt = Rt::new();
    let base = rt
        .interface("IBase")
        .abstract_method("m", 0)
        .define()
        .unwrap();
    let derived = rt.interface("IDerived").base(&base).define().unwrap();
    assert_type_load(
        rt.class("C").implement(&derived).define(),
        "C",
        "the class is not abstract but does not implement interface method 'IBase.m'",
    );
    // A method of the same name but another arity does not implement it: the error
    // names both arities.
    assert_type_load(
        rt.class("C")
            .implement(&base)
            .virtual_method_body("m", 1, int(1))
            .define(),
        "C",
        "'C.m' takes 1 argument(s) but interface method 'IBase.m' takes 0",
    );
    let abs = rt
        .class("Abs")
        .abstract_class()
        .implement(&derived)
        .define()
        .unwrap();
    // A concrete subclass must still supply it: re-listing the interface maps by name.
    assert_type_load(
        rt.class("Sub").base(&abs).define(),
        "Sub",
        "the class is not abstract but does not implement interface method 'IBase.m'",
    );
    rt.class("Sub")
        .base(&abs)
        .implement(&base)
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap();
}

// Abstract instantiation → InvalidOperation naming the class.
#[test]
fn abstract_class_has_no_instances() {
    let rt = Rt::new();
    let abs = rt.class("Abs").abstract_class().define().unwrap();
    assert!(abs.is_abstract());
    let err = rt.new_object(&abs, Value::Nil).unwrap_err();
    assert_eq!(err.kind(), "InvalidOperation");
    assert_eq!(
        err,
        Error::InvalidOperation(InvalidOperation::AbstractClass {
            class: "Abs".into()
        })
    );
    assert_eq!(
        err.to_string(),
        "Cannot create an instance of the abstract class 'Abs'."
    );
    let err = dynacast::Object::new(&abs, Value::Nil).unwrap_err();
    assert_eq!(err.kind(), "InvalidOperation");
}

// Validation: wrong generic arity, everywhere a generic can be named.
#[test]
fn wrong_generic_arity() {
    let rt = Rt::new();
    let a = rt.interface("A").define().unwrap().as_type();
    let pair = rt
        .generic_interface("IPair", &[Variance::Invariant, Variance::Covariant])
        .define_generic()
        .unwrap();
    assert_type_load(
        pair.instantiate(std::slice::from_ref(&a)),
        "IPair",
        "wrong number of type arguments: expected 2, got 1",
    );
    assert_type_load(
        pair.instantiate(&[a.clone(), a.clone(), a.clone()]),
        "IPair",
        "wrong number of type arguments: expected 2, got 3",
    );
    // Naming the generic definition where a type is expected.
    assert_type_load(
        rt.class("C").implement("IPair").define(),
        "C",
        "'IPair' is a generic interface and needs 2 type argument(s)",
    );
    // A generic instantiation written into a class definition names the class.
    let one_arg = TypeExpr::generic(&pair, [TypeExpr::from(a.clone())]);
    assert_type_load(
        rt.class("C").implement(one_arg.clone()).define(),
        "C",
        "wrong number of type arguments for generic interface 'IPair': expected 2, got 1",
    );
    // ... and into a generic definition: caught when it is defined, not instantiated.
    assert_type_load(
        rt.generic_interface("IG", &[Variance::Invariant])
            .base(TypeExpr::generic(&pair, [TypeExpr::Param(0)]))
            .define_generic(),
        "IG",
        "wrong number of type arguments for generic interface 'IPair': expected 2, got 1",
    );
    // define() vs define_generic().
    assert_type_load(
        rt.generic_interface("IG", &[Variance::Invariant]).define(),
        "IG",
        "a generic interface is defined with define_generic()",
    );
    assert_type_load(
        rt.interface("IG").define_generic(),
        "IG",
        "a generic interface needs at least one type parameter",
    );
    // Type parameters out of range, in a generic and in a plain definition.
    assert_type_load(
        rt.generic_interface("IG", &[Variance::Invariant])
            .base(TypeExpr::Param(1))
            .define_generic(),
        "IG",
        "type parameter 1 is out of range (1 parameter(s))",
    );
    assert_type_load(
        rt.interface("I").base(TypeExpr::Param(0)).define(),
        "I",
        "type parameter 0 is out of range (0 parameter(s))",
    );
    assert_type_load(
        rt.class("C").implement(TypeExpr::Param(0)).define(),
        "C",
        "type parameter 0 is out of range (0 parameter(s))",
    );
}

// Validation: a generic definition's base list is checked when it is defined, where it does
// not depend on a type parameter; otherwise when it is instantiated.
#[test]
fn generic_definition_bases_are_checked() {
    let rt = Rt::new();
    let class = rt.class("K").define().unwrap();
    assert_type_load(
        rt.generic_interface("IG", &[Variance::Invariant])
            .base(&class)
            .define_generic(),
        "IG",
        "'K' in the base list of interface 'IG' is not an interface",
    );
    let by_param = rt
        .generic_interface("IP", &[Variance::Invariant])
        .base(TypeExpr::Param(0))
        .define_generic()
        .unwrap();
    assert_type_load(
        by_param.instantiate(&[class.as_type()]),
        "IP<K>",
        "'K' in the base list of interface 'IP<K>' is not an interface",
    );
    let iface = rt
        .interface("IBase")
        .abstract_method("m", 0)
        .define()
        .unwrap();
    // Overrides that do not depend on a parameter are checked at definition too.
    assert_type_load(
        rt.generic_interface("IG", &[Variance::Invariant])
            .base(&iface)
            .override_base_body(&iface, "nope", int(1))
            .define_generic(),
        "IG",
        "base interface 'IBase' has no virtual method 'nope'",
    );
    assert_eq!(rt.lookup_generic("IG").map(|g| g.name().to_string()), None);
    let ok = by_param.instantiate(&[iface.as_type()]).unwrap();
    assert_eq!(ok.all_bases(), std::slice::from_ref(&iface));
    assert_eq!(ok.method("m").unwrap().interface(), &iface);
}

// Validation: an interface may only give bodies for (or re-abstract) methods of its own
// base interfaces, and only for virtual methods that exist.
#[test]
fn override_of_non_base_interface_method() {
    let rt = Rt::new();
    let base = rt
        .interface("IBase")
        .abstract_method("m", 0)
        .helper_body("h", 0, int(0))
        .define()
        .unwrap();
    let other = rt
        .interface("IOther")
        .abstract_method("m", 0)
        .define()
        .unwrap();
    let class = rt.class("K").define().unwrap();
    assert_type_load(
        rt.interface("I")
            .base(&base)
            .override_base_body(&other, "m", int(1))
            .define(),
        "I",
        "'IOther' is not a base interface of 'I', so 'I' cannot give a body for its method 'm'",
    );
    assert_type_load(
        rt.interface("I")
            .base(&base)
            .reabstract(&other, "m")
            .define(),
        "I",
        "'IOther' is not a base interface of 'I', so 'I' cannot give a body for its method 'm'",
    );
    assert_type_load(
        rt.interface("I")
            .base(&base)
            .override_base_body(&class, "m", int(1))
            .define(),
        "I",
        "'K' is not a base interface of 'I', so 'I' cannot give a body for its method 'm'",
    );
    assert_type_load(
        rt.interface("I")
            .base(&base)
            .override_base_body(&base, "nope", int(1))
            .define(),
        "I",
        "base interface 'IBase' has no virtual method 'nope'",
    );
    assert_type_load(
        rt.interface("I")
            .base(&base)
            .override_base_body(&base, "h", int(1))
            .define(),
        "I",
        "base interface 'IBase' has no virtual method 'h'",
    );
    assert_type_load(
        rt.interface("I")
            .base(&base)
            .override_base_body(&base, "m", int(1))
            .reabstract(&base, "m")
            .define(),
        "I",
        "method 'IBase.m' is overridden twice",
    );
    // An interface cannot override its own method either: it is not its own base.
    assert_type_load(
        rt.interface("I")
            .abstract_method("m", 0)
            .override_base_body("I", "m", int(1))
            .define(),
        "I",
        "inheritance cycle: 'I' cannot derive from itself",
    );
}

// Validation: explicit interface maps.
#[test]
fn bad_interface_maps() {
    let rt = Rt::new();
    let iface = rt
        .interface("I")
        .abstract_method("m", 1)
        .helper_body("h", 0, int(0))
        .define()
        .unwrap();
    let other = rt
        .interface("IOther")
        .abstract_method("m", 0)
        .define()
        .unwrap();
    assert_type_load(
        rt.class("C")
            .virtual_method_body("x", 1, int(1))
            .map(&other, "m", "x")
            .define(),
        "C",
        "maps a method of 'IOther', which the class does not implement",
    );
    assert_type_load(
        rt.class("C")
            .implement(&iface)
            .virtual_method_body("m", 1, int(1))
            .map(&iface, "nope", "m")
            .define(),
        "C",
        "interface 'I' has no virtual method 'nope'",
    );
    assert_type_load(
        rt.class("C")
            .implement(&iface)
            .virtual_method_body("m", 1, int(1))
            .map(&iface, "h", "m")
            .define(),
        "C",
        "interface 'I' has no virtual method 'h'",
    );
    assert_type_load(
        rt.class("C")
            .implement(&iface)
            .virtual_method_body("m", 1, int(1))
            .map(&iface, "m", "nope")
            .define(),
        "C",
        "the class has no virtual method 'nope' to map",
    );
    assert_type_load(
        rt.class("C")
            .implement(&iface)
            .virtual_method_body("x", 0, int(1))
            .map(&iface, "m", "x")
            .define(),
        "C",
        "cannot map 'I.m' (1 argument(s)) to 'x' (0 argument(s))",
    );
    assert_type_load(
        rt.class("C")
            .implement(&iface)
            .virtual_method_body("x", 1, int(1))
            .map(&iface, "m", "x")
            .map(&iface, "m", "x")
            .define(),
        "C",
        "'I.m' is mapped twice",
    );
}

// MissingMember: looking up a method that does not exist, with the exact message.
#[test]
fn missing_members() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let class = rt
        .class("C")
        .virtual_method_body("v", 0, int(1))
        .define()
        .unwrap();
    let err = iface.method("nope").unwrap_err();
    assert_eq!(err.kind(), "MissingMember");
    assert_eq!(
        err,
        Error::MissingMember {
            type_name: "I".into(),
            member: "nope".into()
        }
    );
    assert_eq!(err.to_string(), "Member 'nope' not found on type 'I'.");
    let err = class.virtual_method("nope").unwrap_err();
    assert_eq!(err.to_string(), "Member 'nope' not found on type 'C'.");
}

// Foreign-runtime types: rejected in definitions, instantiations and object creation.
#[test]
fn foreign_runtime_types() {
    let rt = Rt::new();
    let other = Rt::new();
    let foreign_iface = other
        .interface("IForeign")
        .abstract_method("m", 0)
        .define()
        .unwrap();
    let foreign_class = other.class("Foreign").define().unwrap();
    assert_type_load(
        rt.class("C").base(&foreign_class).define(),
        "C",
        "type 'Foreign' belongs to another Runtime",
    );
    assert_type_load(
        rt.class("C").implement(&foreign_iface).define(),
        "C",
        "type 'IForeign' belongs to another Runtime",
    );
    assert_type_load(
        rt.interface("I").base(&foreign_iface).define(),
        "I",
        "type 'IForeign' belongs to another Runtime",
    );
    // The other runtime's root class is foreign too.
    assert_type_load(
        rt.class("C").base(other.object_class()).define(),
        "C",
        "type 'object' belongs to another Runtime",
    );
    let generic = rt
        .generic_interface("IG", &[Variance::Invariant])
        .define_generic()
        .unwrap();
    assert_type_load(
        generic.instantiate(&[foreign_iface.as_type()]),
        "IG",
        "type argument 'IForeign' belongs to another Runtime",
    );
    let foreign_generic = other
        .generic_interface("IFG", &[Variance::Invariant])
        .define_generic()
        .unwrap();
    let local = rt.interface("ILocal").define().unwrap();
    assert_type_load(
        rt.class("C")
            .implement(TypeExpr::generic(
                &foreign_generic,
                [TypeExpr::from(&local)],
            ))
            .define(),
        "C",
        "generic interface 'IFG' belongs to another Runtime",
    );
    let err = rt.new_object(&foreign_class, Value::Nil).unwrap_err();
    assert_eq!(
        err,
        Error::InvalidOperation(InvalidOperation::ForeignType {
            type_name: "Foreign".into()
        })
    );
    assert_eq!(
        err.to_string(),
        "Type 'Foreign' belongs to another Runtime."
    );
    // Nothing was registered.
    assert_eq!(rt.lookup("C"), None);
    assert_eq!(rt.lookup("I"), None);
}

// redefine: takes over the name; old handles and old objects keep their old definition.
#[test]
fn redefine_takes_over_name_and_old_objects_keep_working() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    let old = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap();
    let old_obj = rt.new_object(&old, Value::Nil).unwrap();
    let new = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 0, int(2))
        .redefine()
        .define()
        .unwrap();
    assert_ne!(old, new);
    assert_eq!(rt.lookup("C"), Some(new.as_type()));
    let new_obj = rt.new_object(&new, Value::Nil).unwrap();
    let m = iface.method("m").unwrap();
    assert_eq!(old_obj.call(&m, &[], &mut ()).unwrap(), Value::Int(1));
    assert_eq!(new_obj.call(&m, &[], &mut ()).unwrap(), Value::Int(2));
    // The two classes are unrelated types.
    assert!(!old_obj.is_instance_of(&new, &mut ()).unwrap());
    assert!(old_obj.is_instance_of(&old, &mut ()).unwrap());
    let err = old_obj.cast(&new, &mut ()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to cast object of type 'C' to type 'C'."
    );

    // Redefining an interface: classes defined against the old one keep implementing it.
    let new_iface = rt
        .interface("I")
        .abstract_method("m", 0)
        .abstract_method("n", 0)
        .redefine()
        .define()
        .unwrap();
    assert_eq!(rt.lookup("I"), Some(new_iface.as_type()));
    assert!(old_obj.is_instance_of(&iface, &mut ()).unwrap());
    assert!(!old_obj.is_instance_of(&new_iface, &mut ()).unwrap());
    // A name-based definition now binds to the new interface.
    assert_type_load(
        rt.class("D")
            .implement("I")
            .virtual_method_body("m", 0, int(3))
            .define(),
        "D",
        "the class is not abstract but does not implement interface method 'I.n'",
    );
    // redefine of a name that does not exist yet simply defines it.
    let fresh = rt.interface("IFresh").redefine().define().unwrap();
    assert_eq!(rt.lookup("IFresh"), Some(fresh.as_type()));
    // A kind change is allowed: a class name taken over by a generic interface.
    let generic = rt
        .generic_interface("C", &[Variance::Invariant])
        .redefine()
        .define_generic()
        .unwrap();
    assert_eq!(rt.lookup("C"), None);
    assert_eq!(rt.lookup_generic("C").unwrap().name(), generic.name());
    assert_eq!(old_obj.call(&m, &[], &mut ()).unwrap(), Value::Int(1));
}

// Validation: a failed definition leaves no trace; a correct retry succeeds.
#[test]
fn failed_definition_registers_nothing() {
    let rt = Rt::new();
    let iface = rt.interface("I").abstract_method("m", 0).define().unwrap();
    assert!(rt.class("C").implement(&iface).define().is_err());
    assert_eq!(rt.lookup("C"), None);
    let class = rt
        .class("C")
        .implement(&iface)
        .virtual_method_body("m", 0, int(1))
        .define()
        .unwrap();
    assert_eq!(rt.lookup("C"), Some(class.as_type()));
}

// Decision: cycles cannot be built from handles. Redefining a name so that the new type
// derives (by name) from a type that derives from the old one is a chain, not a cycle.
#[test]
fn redefinition_by_name_builds_a_chain_not_a_cycle() {
    let rt = Rt::new();
    let old_a = rt.class("A").define().unwrap();
    let b = rt.class("B").base("A").define().unwrap();
    let new_a = rt.class("A").base("B").redefine().define().unwrap();
    assert_eq!(b.base(), Some(&old_a));
    assert_eq!(new_a.base(), Some(&b));
    assert!(new_a.as_type().is_assignable_to(&old_a.as_type()));
    assert!(!old_a.as_type().is_assignable_to(&new_a.as_type()));
    // The same for interfaces.
    let old_i = rt.interface("I").define().unwrap();
    let j = rt.interface("J").base("I").define().unwrap();
    let new_i = rt.interface("I").base("J").redefine().define().unwrap();
    assert_eq!(new_i.all_bases(), &[j, old_i]);
}

#[test]
fn a_class_method_with_the_interface_methods_name_but_another_arity() {
    let rt = Runtime::<DynHost>::new();
    let shape = rt
        .interface("IShape")
        .abstract_method("area", 0)
        .define()
        .unwrap();
    assert_type_load(
        rt.class("Square")
            .implement(&shape)
            .virtual_method("area", 1, |_| Ok(Value::Int(1)))
            .define(),
        "Square",
        "'Square.area' takes 1 argument(s) but interface method 'IShape.area' takes 0",
    );
    // A default body does not hide the mistake.
    let with_default = rt
        .interface("IDefault")
        .default_method("area", 0, |_| Ok(Value::Int(0)))
        .define()
        .unwrap();
    assert_type_load(
        rt.class("Circle")
            .implement(&with_default)
            .virtual_method("area", 2, |_| Ok(Value::Int(1)))
            .define(),
        "Circle",
        "'Circle.area' takes 2 argument(s) but interface method 'IDefault.area' takes 0",
    );
    // An explicit map to a method of the right arity is fine.
    let mapped = rt
        .class("Mapped")
        .implement(&with_default)
        .virtual_method("area", 2, |_| Ok(Value::Int(1)))
        .virtual_method("area0", 0, |_| Ok(Value::Int(7)))
        .map(&with_default, "area", "area0")
        .define();
    assert!(mapped.is_ok(), "{mapped:?}");
}
