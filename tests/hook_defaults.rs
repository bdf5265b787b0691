//! The hook trait's provided methods: a hook that writes only `get_interface_implementation`
//! answers casts through it (asked on every cast, rules B2-B3), and an empty hook implements
//! nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dynacast::{
    DynError, DynHost, DynObject, DynamicCastable, InterfaceRef, Runtime, TypeRef, Value,
};

type Iface = InterfaceRef<DynHost>;

/// Serves `served` with `implementation` and counts the questions.
struct Serves {
    served: Iface,
    implementation: Iface,
    asked: Arc<AtomicUsize>,
}

impl DynamicCastable<DynHost> for Serves {
    fn get_interface_implementation(
        &self,
        _: &DynObject,
        iface: &Iface,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok((*iface == self.served).then(|| self.implementation.as_type()))
    }
}

struct Nothing;
impl DynamicCastable<DynHost> for Nothing {}

fn greet(rt: &Runtime<DynHost>) -> (Iface, Iface) {
    let greet = rt
        .interface("IGreet")
        .abstract_method("hello", 0)
        .define()
        .unwrap();
    let greet_impl = rt
        .interface("IGreetImpl")
        .base(&greet)
        .override_base(&greet, "hello", |_| Ok(Value::from("hi")))
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    (greet, greet_impl)
}

#[test]
fn casts_ask_get_interface_implementation_every_time_and_calls_once() {
    let rt = Runtime::<DynHost>::new();
    let (greet, greet_impl) = greet(&rt);
    let other = rt
        .interface("IOther")
        .abstract_method("x", 0)
        .define()
        .unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let hook = Serves {
        served: greet.clone(),
        implementation: greet_impl,
        asked: asked.clone(),
    };
    let class = rt.class("Proxy").hook(hook).define().unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();

    assert!(obj.is_instance_of(&greet, &mut ()).unwrap());
    obj.cast(&greet, &mut ()).unwrap();
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "one question per cast, never cached"
    );
    assert!(!obj.is_instance_of(&other, &mut ()).unwrap());
    assert_eq!(
        obj.cast(&other, &mut ()).unwrap_err().to_string(),
        "Unable to cast object of type 'Proxy' to type 'IOther'."
    );
    assert_eq!(asked.load(Ordering::SeqCst), 4);

    let hello = greet.method("hello").unwrap();
    assert_eq!(obj.call(&hello, &[], &mut ()).unwrap(), Value::from("hi"));
    assert_eq!(obj.call(&hello, &[], &mut ()).unwrap(), Value::from("hi"));
    assert_eq!(
        asked.load(Ordering::SeqCst),
        5,
        "the resolution is cached per class"
    );
}

#[test]
fn an_empty_hook_implements_nothing() {
    let rt = Runtime::<DynHost>::new();
    let (greet, _) = greet(&rt);
    let class = rt.class("Empty").hook(Nothing).define().unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    assert!(!obj.is_instance_of(&greet, &mut ()).unwrap());
    let err = obj
        .call(&greet.method("hello").unwrap(), &[], &mut ())
        .unwrap_err();
    assert_eq!(err.kind(), "InvalidCast");
    assert_eq!(
        err.to_string(),
        "Unable to cast object of type 'Empty' to type 'IGreet'."
    );
}
