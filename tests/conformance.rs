//! The acceptance scenarios of scenarios S1–S7, ported from the .NET runtime's
//! `IDynamicInterfaceCastable` tests. Each scenario runs on its own subclass of
//! `DynamicInterfaceCastable` (and its own runtime), so per-type caches cannot leak
//! between scenarios. Every test asserts exact results, exact error kinds and messages,
//! and exact hook call counts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use dynacast::{
    body, static_body, ClassMethodRef, ClassRef, DynError, DynHost, DynObject, DynamicCastable,
    HostError, InterfaceRef, Object, Runtime, TypeExpr, TypeRef, Value, Variance,
};

type Rt = Runtime<DynHost>;
type Iface = InterfaceRef<DynHost>;

/// Counts hook calls and records what the hook was asked about.
#[derive(Default)]
struct Counters {
    is_implemented: AtomicUsize,
    get_implementation: AtomicUsize,
    asked: Mutex<Vec<String>>,
}

impl Counters {
    fn counts(&self) -> (usize, usize) {
        (
            self.is_implemented.load(Ordering::SeqCst),
            self.get_implementation.load(Ordering::SeqCst),
        )
    }
    /// Counts a cast question and records it as `is:<interface>`.
    fn record_cast(&self, iface: &Iface) {
        self.is_implemented.fetch_add(1, Ordering::SeqCst);
        self.asked
            .lock()
            .unwrap()
            .push(format!("is:{}", iface.name()));
    }
    /// Counts a dispatch question and records it as `get:<interface>`.
    fn record_dispatch(&self, iface: &Iface) {
        self.get_implementation.fetch_add(1, Ordering::SeqCst);
        self.asked
            .lock()
            .unwrap()
            .push(format!("get:{}", iface.name()));
    }
    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

/// The .NET test's `DynamicInterfaceCastable` hook: answers from an interface → implementation
/// map, and throws "REQUESTED=<name>" when asked to throw.
struct MapHook {
    map: HashMap<u64, TypeRef<DynHost>>,
    counters: Arc<Counters>,
}

impl DynamicCastable<DynHost> for MapHook {
    fn is_interface_implemented(
        &self,
        _obj: &DynObject,
        iface: &Iface,
        throw_if_not_implemented: bool,
        _cx: &mut (),
    ) -> Result<bool, DynError> {
        self.counters.record_cast(iface);
        if self.map.contains_key(&iface.uid()) {
            return Ok(true);
        }
        if throw_if_not_implemented {
            return Err(HostError::new(format!("REQUESTED={}", iface.name())).into());
        }
        Ok(false)
    }

    fn get_interface_implementation(
        &self,
        _obj: &DynObject,
        iface: &Iface,
        _cx: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.counters.record_dispatch(iface);
        Ok(self.map.get(&iface.uid()).cloned())
    }
}

/// The fixtures shared by the scenarios: `ITest`, `ITestImpl`, `IDirectlyImplemented`,
/// the class `DynamicInterfaceCastable`.
struct Fixtures {
    rt: Rt,
    itest: Iface,
    itest_impl: Iface,
    idirect: Iface,
    idirect_impl: Iface,
    base_class: ClassRef<DynHost>,
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn fixtures() -> Fixtures {
    let rt = Rt::new();
    let itest = rt
        .interface("ITest")
        .abstract_method("get_my_type", 0)
        .abstract_method("return_this", 0)
        .abstract_method("get_number", 0)
        .abstract_method("call_implemented", 1)
        .define()
        .unwrap();
    let idirect = rt
        .interface("IDirectlyImplemented")
        .abstract_method("implemented_method", 0)
        .define()
        .unwrap();

    // `call_implemented` needs the class method and ITestImpl's own members, which exist
    // only once defined: the body reads them from cells filled below.
    let class_method: Arc<OnceLock<ClassMethodRef<DynHost>>> = Arc::default();
    let impl_iface: Arc<OnceLock<Iface>> = Arc::default();
    let itest_for_body = itest.clone();
    let (cm, ii) = (class_method.clone(), impl_iface.clone());
    let call_implemented = body(move |call| {
        let (this, args, cx): (&DynObject, _, _) = call.into_parts();
        let imp = ii.get().expect("ITestImpl defined");
        match args[0].as_str() {
            Some("class") => {
                let m = cm.get().expect("class defined");
                this.cast(m.class(), cx)?;
                this.call_virtual(m, &[], cx)
            }
            Some("interface") => this.call(&itest_for_body.method("get_number")?, &[], cx),
            Some("private") => this.call(&imp.method("get_number_private")?, &[], cx),
            Some("static") => imp.method("get_number_static")?.call_static(&[], cx),
            Some("public") => this.call(&imp.method("get_number_helper")?, &[], cx),
            _ => Err(HostError::new("bad argument").into()),
        }
    });
    let itest_impl = rt
        .interface("ITestImpl")
        .base(&itest)
        .override_base(&itest, "return_this", |call| {
            let (this, _, _) = call.into_parts();
            Ok(Value::Object(this.clone()))
        })
        .override_base(&itest, "get_my_type", |call| {
            let (this, _, _) = call.into_parts();
            Ok(Value::from(this.class().clone()))
        })
        .override_base(&itest, "get_number", |_| Ok(Value::Int(1)))
        .override_base_body(&itest, "call_implemented", call_implemented)
        .helper("get_number_private", 0, |_| Ok(Value::Int(2)))
        .static_method_body("get_number_static", 0, static_body(|_| Ok(Value::Int(3))))
        .default_method("get_number_helper", 0, |_| {
            Err(HostError::new("a public virtual helper must go through the hook").into())
        })
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    impl_iface.set(itest_impl.clone()).unwrap();
    let idirect_impl = rt
        .interface("IDirectlyImplementedImpl")
        .base(&idirect)
        .override_base(&idirect, "implemented_method", |_| Ok(Value::Int(0)))
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    let base_class = rt
        .class("DynamicInterfaceCastable")
        .implement(&idirect)
        .virtual_method("implemented_method", 0, |_| Ok(Value::Int(-1)))
        .define()
        .unwrap();
    class_method
        .set(base_class.virtual_method("implemented_method").unwrap())
        .unwrap();
    Fixtures {
        rt,
        itest,
        itest_impl,
        idirect,
        idirect_impl,
        base_class,
    }
}

impl Fixtures {
    /// A subclass of `DynamicInterfaceCastable` whose hook answers from `map`, and one instance.
    fn castable(
        &self,
        name: &str,
        map: &[(&Iface, TypeRef<DynHost>)],
    ) -> (DynObject, Arc<Counters>) {
        let counters = Arc::new(Counters::default());
        let hook = MapHook {
            map: map.iter().map(|(i, t)| (i.uid(), t.clone())).collect(),
            counters: counters.clone(),
        };
        let class = self
            .rt
            .class(name)
            .base(&self.base_class)
            .hook(hook)
            .define()
            .unwrap();
        (self.rt.new_object(&class, Value::Nil).unwrap(), counters)
    }
}

fn call(obj: &DynObject, iface: &Iface, method: &str, args: &[Value]) -> Result<Value, DynError> {
    obj.call(&iface.method(method).unwrap(), args, &mut ())
}

#[test]
fn scenario_1_basic() {
    let f = fixtures();
    let (obj, counters) = f.castable("Basic", &[(&f.itest, f.itest_impl.as_type())]);

    // B2/B3: `is` and `cast` each ask the hook, with throw = false and true.
    assert!(obj.is_instance_of(&f.itest, &mut ()).unwrap());
    obj.cast(&f.itest, &mut ()).unwrap();
    assert_eq!(counters.counts(), (2, 0));

    let this = call(&obj, &f.itest, "return_this", &[]).unwrap();
    assert!(
        Object::ptr_eq(this.as_object().unwrap(), &obj),
        "`this` is the original object"
    );
    assert_eq!(
        call(&obj, &f.itest, "get_my_type", &[]).unwrap(),
        Value::from(obj.class().clone())
    );
    assert_eq!(obj.class().name(), "Basic");

    assert_eq!(
        call(&obj, &f.itest, "call_implemented", &[s("class")]).unwrap(),
        Value::Int(-1)
    );
    assert_eq!(
        call(&obj, &f.itest, "call_implemented", &[s("interface")]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        call(&obj, &f.itest, "call_implemented", &[s("private")]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        call(&obj, &f.itest, "call_implemented", &[s("static")]).unwrap(),
        Value::Int(3)
    );
    // C5: a public virtual method of the implementation interface dispatches on `this`,
    // so the hook is asked about ITestImpl itself, which it does not serve.
    let err = call(&obj, &f.itest, "call_implemented", &[s("public")]).unwrap_err();
    assert_eq!(err.kind(), "InvalidCast");
    assert_eq!(
        err.to_string(),
        "Unable to cast object of type 'Basic' to type 'ITestImpl'."
    );

    // D1: one hook call per (type, method) that succeeded: return_this, get_my_type,
    // call_implemented, get_number; plus one per failed ITestImpl.get_number_helper lookup.
    assert_eq!(counters.counts(), (2, 5));
    let again = call(&obj, &f.itest, "call_implemented", &[s("public")]).unwrap_err();
    assert_eq!(again.kind(), "InvalidCast");
    assert_eq!(counters.counts(), (2, 6), "failures are not cached");
    // C2: the hook is asked about the declaring interface.
    assert_eq!(
        counters.asked(),
        [
            "is:ITest",
            "is:ITest",
            "get:ITest",
            "get:ITest",
            "get:ITest",
            "get:ITest",
            "get:ITestImpl",
            "get:ITestImpl",
        ]
    );

    // A second instance of the class shares the cache: no further hook call.
    let other = f.rt.new_object(obj.class(), Value::Nil).unwrap();
    let this = call(&other, &f.itest, "return_this", &[]).unwrap();
    assert!(Object::ptr_eq(this.as_object().unwrap(), &other));
    assert_eq!(
        call(&other, &f.itest, "get_number", &[]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(counters.counts(), (2, 6));
}

#[test]
fn scenario_2_generic_and_variance() {
    let f = fixtures();
    let rt = &f.rt;
    let int = rt.class("int").define().unwrap();
    let string = rt.class("string").define().unwrap();
    let boolean = rt.class("bool").define().unwrap();
    let object = rt.object_class().clone();
    let t = |c: &ClassRef<DynHost>| c.as_type();

    let generic = rt
        .generic_interface(
            "ITestGeneric",
            &[Variance::Contravariant, Variance::Covariant],
        )
        .abstract_method("return_arg", 1)
        .abstract_method("double_generic_arg", 1)
        .define_generic()
        .unwrap();
    let double = body(|call| {
        let (_, args, _): (_, &[Value], _) = call.into_parts();
        match &args[0] {
            Value::Int(i) => Ok(Value::Int(i * 2)),
            Value::Str(s) => Ok(Value::from(format!("{s}{s}"))),
            _ => Err(HostError::new("Unable to double").into()),
        }
    });
    let base_expr = || TypeExpr::generic(&generic, [TypeExpr::Param(0), TypeExpr::Param(1)]);
    let generic_impl = rt
        .generic_interface(
            "ITestGenericImpl",
            &[Variance::Invariant, Variance::Invariant],
        )
        .base(base_expr())
        .override_base(base_expr(), "return_arg", |call| {
            let (_, args, _): (_, &[Value], _) = call.into_parts();
            Ok(args[0].clone())
        })
        .override_base_body(base_expr(), "double_generic_arg", double.clone())
        .dynamic_castable_implementation()
        .define_generic()
        .unwrap();
    let int_int = generic.instantiate(&[t(&int), t(&int)]).unwrap();
    let int_impl = rt
        .interface("ITestGenericIntImpl")
        .base(&int_int)
        .override_base(&int_int, "return_arg", |call| {
            let (_, args, _): (_, &[Value], _) = call.into_parts();
            Ok(args[0].clone())
        })
        .override_base_body(&int_int, "double_generic_arg", double)
        .dynamic_castable_implementation()
        .define()
        .unwrap();

    let str_str = generic.instantiate(&[t(&string), t(&string)]).unwrap();
    let str_obj = generic.instantiate(&[t(&string), t(&object)]).unwrap();
    let bool_bool = generic.instantiate(&[t(&boolean), t(&boolean)]).unwrap();
    // Each closed instantiation is one type: asking again gives the same interface.
    assert_eq!(
        generic.instantiate(&[t(&string), t(&object)]).unwrap(),
        str_obj
    );
    assert_eq!(str_obj.name(), "ITestGeneric<string, object>");
    let impl_str_str = generic_impl.instantiate(&[t(&string), t(&string)]).unwrap();
    let impl_obj_str = generic_impl.instantiate(&[t(&object), t(&string)]).unwrap();

    let (obj, counters) = f.castable(
        "Generic",
        &[
            (&int_int, int_impl.as_type()),
            (&str_str, impl_str_str.as_type()),
            (&str_obj, impl_obj_str.as_type()),
        ],
    );

    for iface in [&int_int, &str_str, &str_obj] {
        assert!(
            obj.is_instance_of(iface, &mut ()).unwrap(),
            "is {}",
            iface.name()
        );
        obj.cast(iface, &mut ()).unwrap();
    }
    // B5: not implemented; the hook's error names the exact closed type.
    assert!(!obj.is_instance_of(&bool_bool, &mut ()).unwrap());
    let err = obj.cast(&bool_bool, &mut ()).unwrap_err();
    assert_eq!(err.kind(), "Host");
    assert_eq!(err.to_string(), "REQUESTED=ITestGeneric<bool, bool>");
    assert_eq!(counters.counts(), (8, 0));

    assert_eq!(
        call(&obj, &int_int, "return_arg", &[Value::Int(42)]).unwrap(),
        Value::Int(42)
    );
    assert_eq!(
        call(&obj, &str_str, "return_arg", &[s("str")]).unwrap(),
        s("str")
    );
    // Variance (C3.4): ITestGenericImpl<object, string> serves ITestGeneric<string, object>.
    assert_eq!(
        call(&obj, &str_obj, "return_arg", &[s("str")]).unwrap(),
        s("str")
    );
    for iface in [&int_int, &str_str, &str_obj] {
        assert_eq!(
            call(&obj, iface, "double_generic_arg", &[Value::Int(42)]).unwrap(),
            Value::Int(84)
        );
        assert_eq!(
            call(&obj, iface, "double_generic_arg", &[s("str")]).unwrap(),
            s("strstr")
        );
    }
    // One resolution per (type, method): 3 interfaces × 2 methods.
    assert_eq!(counters.counts(), (8, 6));
    let asked = counters.asked();
    assert_eq!(
        &asked[8..],
        [
            "get:ITestGeneric<int, int>",
            "get:ITestGeneric<string, string>",
            "get:ITestGeneric<string, object>",
            "get:ITestGeneric<int, int>",
            "get:ITestGeneric<string, string>",
            "get:ITestGeneric<string, object>",
        ]
    );
}

#[test]
fn scenario_3_overridden_implementation() {
    let f = fixtures();
    let rt = &f.rt;
    let int = rt.class("int").define().unwrap();
    let ioverride = rt
        .interface("IOverrideTest")
        .base(&f.itest_impl)
        .define()
        .unwrap();
    let int_for_body = int.clone();
    let ioverride_impl = rt
        .interface("IOverrideTestImpl")
        .base(&ioverride)
        .override_base(&f.itest, "get_number", |_| Ok(Value::Int(10)))
        .override_base(&f.itest, "get_my_type", move |_| {
            Ok(Value::from(int_for_body.clone()))
        })
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    // The mark is not inherited: IOverrideTest (between two marked interfaces) is unmarked.
    assert!(!ioverride.is_dynamic_castable_implementation());

    let (obj, counters) = f.castable(
        "Overridden",
        &[
            (&f.itest, ioverride_impl.as_type()),
            (&ioverride, ioverride_impl.as_type()),
        ],
    );
    assert!(obj.is_instance_of(&ioverride, &mut ()).unwrap());
    obj.cast(&ioverride, &mut ()).unwrap();

    // The caller holds IOverrideTest, but the methods are declared by ITest (C2).
    let via =
        |name: &str, args: &[Value]| obj.call(&ioverride.method(name).unwrap(), args, &mut ());
    let this = via("return_this", &[]).unwrap();
    assert!(Object::ptr_eq(this.as_object().unwrap(), &obj));
    assert_eq!(via("get_my_type", &[]).unwrap(), Value::from(int.clone()));
    assert_eq!(
        via("call_implemented", &[s("class")]).unwrap(),
        Value::Int(-1)
    );
    // C5: the body's call of get_number goes through the hook path and picks up the override.
    assert_eq!(
        via("call_implemented", &[s("interface")]).unwrap(),
        Value::Int(10)
    );
    assert_eq!(
        via("call_implemented", &[s("private")]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        via("call_implemented", &[s("static")]).unwrap(),
        Value::Int(3)
    );
    assert_eq!(counters.counts(), (2, 4));
    assert!(counters.asked()[2..].iter().all(|a| a == "get:ITest"));
}

#[test]
fn scenario_4_not_implemented() {
    let f = fixtures();
    let inot = f.rt.interface("INotImplemented").define().unwrap();
    let (obj, counters) = f.castable("NotImplemented", &[(&f.itest, f.itest_impl.as_type())]);
    assert!(!obj.is_instance_of(&inot, &mut ()).unwrap());
    let err = obj.cast(&inot, &mut ()).unwrap_err();
    assert_eq!(
        err,
        DynError::Host(HostError::new("REQUESTED=INotImplemented"))
    );
    assert_eq!(counters.counts(), (2, 0));
    // B3: never cached: every attempt asks again.
    assert!(!obj.is_instance_of(&inot, &mut ()).unwrap());
    assert_eq!(counters.counts(), (3, 0));
    assert_eq!(counters.asked(), ["is:INotImplemented"; 3]);
}

#[test]
fn scenario_5_directly_implemented() {
    let f = fixtures();
    let (obj, counters) = f.castable(
        "Direct",
        &[
            (&f.itest, f.itest_impl.as_type()),
            (&f.idirect, f.idirect_impl.as_type()),
        ],
    );
    assert!(obj.is_instance_of(&f.idirect, &mut ()).unwrap());
    obj.cast(&f.idirect, &mut ()).unwrap();
    // C1: the class's own implementation wins; the hook is never asked.
    assert_eq!(
        call(&obj, &f.idirect, "implemented_method", &[]).unwrap(),
        Value::Int(-1)
    );
    assert_eq!(
        call(&obj, &f.idirect, "implemented_method", &[]).unwrap(),
        Value::Int(-1)
    );
    assert_eq!(counters.counts(), (0, 0));
    // Casting to a class never calls the hook.
    assert!(obj.is_instance_of(&f.base_class, &mut ()).unwrap());
    assert_eq!(counters.counts(), (0, 0));
}

/// The modes of the .NET test's `BadDynamicInterfaceCastable`.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    DefaultHandle,
    Class,
    NoAttribute,
    NotImplemented,
    NoDefaultImplementation,
    CallNotImplemented,
    UseOtherInterface,
    ThrowException,
    Reabstracted,
    Diamond,
}

struct BadHook {
    itest: Iface,
    mode: Arc<Mutex<Mode>>,
    answers: HashMap<&'static str, TypeRef<DynHost>>,
    counters: Arc<Counters>,
}

impl DynamicCastable<DynHost> for BadHook {
    fn is_interface_implemented(
        &self,
        _: &DynObject,
        iface: &Iface,
        _: bool,
        _: &mut (),
    ) -> Result<bool, DynError> {
        self.counters.is_implemented.fetch_add(1, Ordering::SeqCst);
        if *self.mode.lock().unwrap() == Mode::ThrowException {
            return Err(HostError::new(format!("REQUESTED={}", iface.name())).into());
        }
        Ok(*iface == self.itest)
    }

    fn get_interface_implementation(
        &self,
        _: &DynObject,
        iface: &Iface,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.counters.record_dispatch(iface);
        if *iface != self.itest {
            return Ok(None);
        }
        let key = match *self.mode.lock().unwrap() {
            Mode::DefaultHandle => return Ok(None),
            Mode::ThrowException => {
                return Err(HostError::new(format!("REQUESTED={}", iface.name())).into())
            }
            Mode::Class => "TestImpl",
            Mode::NoAttribute => "INoAttributeImpl",
            Mode::NotImplemented => "INotTestImpl",
            Mode::NoDefaultImplementation => "ITestNoDefaultImpl",
            Mode::CallNotImplemented => "ITestPartialImpl",
            Mode::UseOtherInterface => "ITestOtherImpl",
            Mode::Reabstracted => "ITestReabstracted",
            Mode::Diamond => "IDiamondTest",
        };
        Ok(self.answers.get(key).cloned())
    }
}

#[test]
fn scenario_6_error_handling() {
    let f = fixtures();
    let rt = &f.rt;
    let itest = &f.itest;
    let ep = |name: &str| rt.lookup(name).unwrap();

    let test_impl = rt
        .class("TestImpl")
        .implement(&f.itest_impl)
        .define()
        .unwrap();
    rt.interface("INoAttributeImpl")
        .base(&f.itest_impl)
        .define()
        .unwrap();
    rt.interface("INotTestImpl")
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    rt.interface("ITestNoDefaultImpl")
        .base(itest)
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    let itest_for_partial = itest.clone();
    rt.interface("ITestPartialImpl")
        .base(itest)
        .override_base(itest, "return_this", move |call| {
            let (this, _, cx) = call.into_parts();
            // Calls a method this implementation has no default for.
            this.call(
                &itest_for_partial.method("call_implemented")?,
                &[Value::from("class")],
                cx,
            )?;
            Ok(Value::Object(this.clone()))
        })
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    let iother = rt
        .interface("IOther")
        .abstract_method("other_method", 0)
        .define()
        .unwrap();
    let iother_for_body = iother.clone();
    rt.interface("ITestOtherImpl")
        .base(&f.itest_impl)
        .base(&iother)
        .override_base_body(
            itest,
            "get_number",
            // Passes `this` on as IOther, which the hook does not serve.
            body(move |call| {
                let (this, _, cx) = call.into_parts();
                this.call(&iother_for_body.method("other_method")?, &[], cx)
            }),
        )
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    let reabstracted = rt
        .interface("ITestReabstracted")
        .base(itest)
        .reabstract(itest, "get_my_type")
        .reabstract(itest, "return_this")
        .reabstract(itest, "get_number")
        .reabstract(itest, "call_implemented")
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    rt.interface("IDiamondTest")
        .base(&f.itest_impl)
        .base(&reabstracted)
        .dynamic_castable_implementation()
        .define()
        .unwrap();

    let names = [
        "TestImpl",
        "INoAttributeImpl",
        "INotTestImpl",
        "ITestNoDefaultImpl",
        "ITestPartialImpl",
        "ITestOtherImpl",
        "ITestReabstracted",
        "IDiamondTest",
    ];
    let answers = names.iter().map(|n| (*n, ep(n))).collect();
    assert_eq!(ep("TestImpl"), test_impl.as_type());
    let mode = Arc::new(Mutex::new(Mode::DefaultHandle));
    let counters = Arc::new(Counters::default());
    let class = rt
        .class("BadDynamicInterfaceCastable")
        .hook(BadHook {
            itest: itest.clone(),
            mode: mode.clone(),
            answers,
            counters: counters.clone(),
        })
        .define()
        .unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    obj.cast(itest, &mut ()).unwrap();

    let set = |m: Mode| *mode.lock().unwrap() = m;
    let fails = |method: &str, kind: &str, message: &str| {
        let err = call(&obj, itest, method, &[]).unwrap_err();
        assert_eq!(
            (err.kind(), err.to_string().as_str()),
            (kind, message),
            "calling {method}"
        );
    };

    set(Mode::Class);
    fails(
        "get_my_type",
        "InvalidOperation",
        "Type 'TestImpl' returned by IDynamicInterfaceCastable is not an interface.",
    );
    set(Mode::NoAttribute);
    fails(
        "get_my_type",
        "InvalidOperation",
        "Type 'INoAttributeImpl' returned by IDynamicInterfaceCastable does not have the attribute 'DynamicInterfaceCastableImplementationAttribute'.",
    );
    set(Mode::NotImplemented);
    fails(
        "get_my_type",
        "InvalidOperation",
        "Type 'INotTestImpl' returned by IDynamicInterfaceCastable does not implement the requested interface 'ITest'.",
    );
    set(Mode::NoDefaultImplementation);
    obj.cast(itest, &mut ()).unwrap();
    fails(
        "return_this",
        "EntryPointNotFound",
        "Entry point not found: type 'BadDynamicInterfaceCastable' has no implementation of 'ITest.return_this' in implementation interface 'ITestNoDefaultImpl'.",
    );
    assert_eq!(class.cached_resolutions(), 0, "failures are not cached");

    // return_this resolves (and is cached); its body's call of call_implemented fails.
    set(Mode::CallNotImplemented);
    fails(
        "return_this",
        "EntryPointNotFound",
        "Entry point not found: type 'BadDynamicInterfaceCastable' has no implementation of 'ITest.call_implemented' in implementation interface 'ITestPartialImpl'.",
    );
    assert_eq!(class.cached_resolutions(), 1);
    let method = |name: &str| itest.method(name).unwrap();
    let named = |name: &str| rt.lookup(name).and_then(|t| t.as_interface().cloned());
    assert_eq!(
        class.cached_implementation(&method("return_this")),
        named("ITestPartialImpl")
    );
    assert_eq!(
        class.cached_implementation(&method("call_implemented")),
        None
    );

    // get_number is a different method: the cached return_this must not decide it (D1).
    set(Mode::UseOtherInterface);
    fails(
        "get_number",
        "InvalidCast",
        "Unable to cast object of type 'BadDynamicInterfaceCastable' to type 'IOther'.",
    );
    assert_eq!(class.cached_resolutions(), 2);
    assert_eq!(
        class.cached_implementation(&method("get_number")),
        named("ITestOtherImpl")
    );

    set(Mode::ThrowException);
    let err = obj.cast(itest, &mut ()).unwrap_err();
    assert_eq!(err, DynError::Host(HostError::new("REQUESTED=ITest")));
    // A throwing get_interface_implementation reaches the caller unchanged.
    let err = call(&obj, itest, "get_my_type", &[]).unwrap_err();
    assert_eq!(err, DynError::Host(HostError::new("REQUESTED=ITest")));

    // return_this runs its cached ITestPartialImpl body, whose call_implemented now resolves
    // through the re-abstracted (then the diamond) implementation.
    set(Mode::Reabstracted);
    fails(
        "return_this",
        "EntryPointNotFound",
        "Entry point not found: type 'BadDynamicInterfaceCastable' has no implementation of 'ITest.call_implemented' in implementation interface 'ITestReabstracted' (the most specific declaration, in 'ITestReabstracted', is abstract).",
    );
    fails(
        "get_my_type",
        "EntryPointNotFound",
        "Entry point not found: type 'BadDynamicInterfaceCastable' has no implementation of 'ITest.get_my_type' in implementation interface 'ITestReabstracted' (the most specific declaration, in 'ITestReabstracted', is abstract).",
    );
    set(Mode::Diamond);
    fails(
        "return_this",
        "AmbiguousImplementation",
        "The call to 'ITest.call_implemented' on type 'BadDynamicInterfaceCastable' is ambiguous: 'ITestImpl' and 'ITestReabstracted' each give a most specific default in implementation interface 'IDiamondTest'.",
    );
    set(Mode::DefaultHandle);
    fails(
        "get_my_type",
        "InvalidCast",
        "Unable to cast object of type 'BadDynamicInterfaceCastable' to type 'ITest'.",
    );
    assert_eq!(class.cached_resolutions(), 2);

    // Hook calls: get_my_type ×3, return_this ×1 (NoDefault), return_this + call_implemented
    // (CallNotImplemented), get_number + IOther.other_method (UseOther), get_my_type (throw),
    // call_implemented + get_my_type (reabstracted), call_implemented (diamond), get_my_type.
    // Casts: the first, the one under NoDefaultImplementation, the throwing one.
    assert_eq!(counters.counts(), (3, 13));
    assert_eq!(
        counters.asked(),
        [
            "get:ITest",
            "get:ITest",
            "get:ITest",
            "get:ITest",
            "get:ITest",
            "get:ITest",
            "get:ITest",
            "get:IOther",
            "get:ITest",
            "get:ITest",
            "get:ITest",
            "get:ITest",
            "get:ITest",
        ]
    );
}

#[test]
fn scenario_7_greeter() {
    let rt = Rt::new();
    let greet = rt
        .interface("IGreet")
        .abstract_method("hello", 0)
        .abstract_method("goodbye", 0)
        .define()
        .unwrap();
    let printed: Arc<Mutex<Vec<String>>> = Arc::default();
    let out = printed.clone();
    let greet_impl = rt
        .interface("IGreetImpl")
        .base(&greet)
        .override_base(&greet, "hello", move |call| {
            let (this, _, _) = call.into_parts();
            out.lock()
                .unwrap()
                .push(format!("Hello World from {}", this.class().name()));
            Ok(Value::Nil)
        })
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    let counters = Arc::new(Counters::default());
    let class = rt
        .class("DynamicCastable")
        .hook(MapHook {
            map: [(greet.uid(), greet_impl.as_type())].into_iter().collect(),
            counters: counters.clone(),
        })
        .define()
        .unwrap();

    let first = rt.new_object(&class, Value::Nil).unwrap();
    first.cast(&greet, &mut ()).unwrap();
    call(&first, &greet, "hello", &[]).unwrap();
    assert_eq!(counters.counts(), (1, 1));

    let second = rt.new_object(&class, Value::Nil).unwrap();
    second.cast(&greet, &mut ()).unwrap();
    call(&second, &greet, "hello", &[]).unwrap();
    // The second instance's hello did not ask again; its cast did.
    assert_eq!(counters.counts(), (2, 1));
    assert_eq!(
        *printed.lock().unwrap(),
        ["Hello World from DynamicCastable"; 2]
    );

    let err = call(&second, &greet, "goodbye", &[]).unwrap_err();
    assert_eq!(
        err,
        DynError::EntryPointNotFound {
            type_name: "DynamicCastable".into(),
            interface: "IGreet".into(),
            method: "goodbye".into(),
            implementation: Some("IGreetImpl".into()),
            reabstracted_in: None,
        }
    );
    assert_eq!(
        err.to_string(),
        "Entry point not found: type 'DynamicCastable' has no implementation of 'IGreet.goodbye' in implementation interface 'IGreetImpl'."
    );
    assert_eq!(counters.counts(), (2, 2));
    call(&first, &greet, "goodbye", &[]).unwrap_err();
    assert_eq!(
        counters.counts(),
        (2, 3),
        "a failed resolution is asked again"
    );
}
