//! What a body reaches through its `Call` (the method, its interface, the runtime, its
//! arguments) and calls by name, without capturing any engine handle.

use std::sync::Arc;

use dynacast::{DynError, DynHost, Runtime, Value};

#[test]
fn a_default_body_reads_its_method_and_interface_and_the_interface_is_freed() -> Result<(), DynError>
{
    let alive = Arc::new(());
    let rt = Runtime::<DynHost>::new();
    let held = alive.clone();
    let shape = rt
        .interface("IShape")
        .default_method("describe", 0, move |call| {
            let _ = &held;
            let method = call.method().map_or("none", |m| m.name()).to_owned();
            let iface = call.interface().map_or("none", |i| i.name()).to_owned();
            Ok(Value::from(format!("{iface}.{method}")))
        })
        .define()?;
    let square = rt.class("Square").implement(&shape).define()?;
    let obj = rt.new_object(&square, Value::Nil)?;
    assert_eq!(
        obj.call(&shape.method("describe")?, &[], &mut ())?,
        Value::from("IShape.describe")
    );
    assert_eq!(
        obj.call_by_name("describe", &[], &mut ())?,
        Value::from("IShape.describe")
    );
    // A body run outside dispatch knows no method.
    let body = obj.resolve(&shape.method("describe")?, &mut ())?;
    assert_eq!(body.call(&obj, &[], &mut ())?, Value::from("none.none"));
    assert_eq!(Arc::strong_count(&alive), 2);
    drop((rt, shape, square, obj, body));
    // The body's closure (and so the interface that owns it) is gone: no cycle.
    assert_eq!(Arc::strong_count(&alive), 1);
    Ok(())
}

#[test]
fn a_body_reaches_the_runtime_until_it_is_dropped() -> Result<(), DynError> {
    let rt = Runtime::<DynHost>::new();
    let factory = rt
        .interface("IFactory")
        .default_method("make", 0, |call| {
            let rt = call.runtime()?;
            let class = rt.class("Made").redefine().define()?;
            Ok(Value::Object(rt.new_object(&class, Value::Int(1))?))
        })
        .define()?;
    let class = rt.class("Factory").implement(&factory).define()?;
    let obj = rt.new_object(&class, Value::Nil)?;
    let make = factory.method("make")?;
    let made = obj.call(&make, &[], &mut ())?;
    assert_eq!(
        made.as_object().map(|o| o.class().name().to_owned()),
        Some("Made".to_owned())
    );
    drop(rt);
    let err = obj.call(&make, &[], &mut ()).unwrap_err();
    assert_eq!(err.kind(), "InvalidOperation");
    assert_eq!(
        err.to_string(),
        "The Runtime of type 'Factory' was dropped: keep a Runtime handle alive while its objects are called."
    );
    Ok(())
}

#[test]
fn arg_past_the_end_is_an_error_naming_the_method() -> Result<(), DynError> {
    let rt = Runtime::<DynHost>::new();
    let i = rt
        .interface("IOne")
        .default_method("first_two", 1, |call| Ok(call.arg(1)?.clone()))
        .define()?;
    let obj = rt.new_object(&rt.class("One").implement(&i).define()?, Value::Nil)?;
    let err = obj
        .call(&i.method("first_two")?, &[Value::Int(1)], &mut ())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "'IOne.first_two' asked for argument 1 but was called with 1 argument(s): declare the arity the body reads."
    );
    Ok(())
}

#[test]
fn call_by_name_prefers_the_class_then_the_single_interface_method() -> Result<(), DynError> {
    let rt = Runtime::<DynHost>::new();
    let a = rt
        .interface("IA")
        .default_method("hi", 0, |_| Ok(Value::from("IA")))
        .define()?;
    let b = rt
        .interface("IB")
        .default_method("hi", 0, |_| Ok(Value::from("IB")))
        .default_method("only_b", 0, |_| Ok(Value::from("only IB")))
        .define()?;
    let both = rt.class("Both").implement(&a).implement(&b).define()?;
    let obj = rt.new_object(&both, Value::Nil)?;
    assert_eq!(
        obj.call_by_name("only_b", &[], &mut ())?,
        Value::from("only IB")
    );
    let err = obj.call_by_name("hi", &[], &mut ()).unwrap_err();
    assert_eq!(err.kind(), "AmbiguousName");
    assert_eq!(
        err.to_string(),
        "Class 'Both' implements 'hi' of both 'IA' and 'IB': call it through one of them."
    );
    let err = obj.call_by_name("nope", &[], &mut ()).unwrap_err();
    assert_eq!(err.to_string(), "Member 'nope' not found on type 'Both'.");
    let own = rt
        .class("Own")
        .implement(&a)
        .implement(&b)
        .virtual_method("hi", 0, |_| Ok(Value::from("class")))
        .define()?;
    let obj = rt.new_object(&own, Value::Nil)?;
    assert_eq!(obj.call_by_name("hi", &[], &mut ())?, Value::from("class"));
    Ok(())
}

/// A hook finds its implementation interface by name through the object's class, so it
/// holds no runtime (and no type) of its own.
#[test]
fn a_hook_reaches_the_runtime_through_the_object_class() -> Result<(), DynError> {
    use dynacast::{DynamicCastable, InterfaceRef, Object, TypeRef};
    struct ByName;
    impl DynamicCastable<DynHost> for ByName {
        fn get_interface_implementation(
            &self,
            obj: &Object<DynHost>,
            iface: &InterfaceRef<DynHost>,
            _: &mut (),
        ) -> Result<Option<TypeRef<DynHost>>, DynError> {
            let rt = obj.class().runtime()?;
            Ok(rt.lookup(&format!("{}Impl", iface.name())))
        }
    }
    let cx = &mut ();
    let rt = Runtime::<DynHost>::new();
    let greet = rt
        .interface("IGreet")
        .abstract_method("hello", 0)
        .define()?;
    rt.interface("IGreetImpl")
        .base(&greet)
        .override_base(&greet, "hello", |_| Ok(Value::from("hi")))
        .dynamic_castable_implementation()
        .define()?;
    let proxy = rt.class("Proxy").hook(ByName).define()?;
    let obj = rt.new_object(&proxy, Value::Nil)?;
    assert_eq!(
        obj.call(&greet.method("hello")?, &[], cx)?,
        Value::from("hi")
    );
    drop(rt);
    // The class outlives its runtime here: a published resolution still serves, and the
    // runtime is reported gone, not panicked on.
    assert_eq!(
        obj.call(&greet.method("hello")?, &[], cx)?,
        Value::from("hi")
    );
    assert_eq!(
        proxy.runtime().unwrap_err().to_string(),
        "The Runtime of type 'Proxy' was dropped: keep a Runtime handle alive while its objects are called."
    );
    Ok(())
}

#[test]
fn a_static_factory_reaches_its_member_and_runtime_without_capturing_them() -> Result<(), DynError>
{
    let alive = Arc::new(());
    let rt = Runtime::<DynHost>::new();
    rt.class("Point").define()?;
    let held = alive.clone();
    let points = rt
        .interface("Points")
        .static_method("make", 1, move |call| {
            let _ = &held;
            let rt = call.runtime()?;
            let class = rt.lookup("Point").and_then(|t| t.as_class().cloned());
            let class = class.ok_or_else(|| dynacast::HostError::new("no class 'Point'"))?;
            let tag = format!("{}.{}", call.interface().name(), call.method().name());
            let made = rt.new_object(&class, call.arg(0)?.clone())?;
            Ok(Value::List(
                vec![Value::from(tag), Value::Object(made)].into(),
            ))
        })
        .define()?;
    let make = points.method("make")?;
    let cx = &mut ();
    let result = make.call_static(&[Value::Int(7)], cx)?;
    let out = result.as_list().expect("the factory returns a list");
    assert_eq!(out[0], Value::from("Points.make"));
    let made = out[1].as_object().expect("an object");
    assert_eq!(made.class().name(), "Point");
    assert_eq!(made.payload(), &Value::Int(7));
    // Too few arguments for what the body reads: the error names the member.
    let reads_two = rt
        .interface("Reads")
        .static_method("two", 1, |call| Ok(call.arg(1)?.clone()))
        .define()?;
    assert_eq!(
        reads_two.method("two")?.call_static(&[Value::Nil], cx).unwrap_err().to_string(),
        "'Reads.two' asked for argument 1 but was called with 1 argument(s): declare the arity the body reads."
    );
    drop((result, rt));
    // The runtime is gone (the interface held it weakly): the body's error says so.
    assert_eq!(
        make.call_static(&[Value::Int(1)], cx).unwrap_err().to_string(),
        "The Runtime of type 'Points' was dropped: keep a Runtime handle alive while its objects are called."
    );
    drop((points, make, reads_two));
    // The closure (and so the interface that owns it) is freed: no cycle.
    assert_eq!(Arc::strong_count(&alive), 1);
    Ok(())
}

/// Under `call_virtual` a body learns the class method called (as the caller named it:
/// the base's, for an override running on a subclass), and no interface method.
#[test]
fn a_class_method_body_reads_its_class_method() -> Result<(), DynError> {
    use dynacast::{body, Call};
    let cx = &mut ();
    let describe = |call: &Call<'_, DynHost>| {
        let class_method = call.class_method().map_or("none".to_owned(), |m| {
            format!("{}.{}/{}", m.class().name(), m.name(), m.arity())
        });
        let method = call.method().map_or("none", |m| m.name());
        format!(
            "{class_method} method={method} on {}",
            call.this().class().name()
        )
    };
    // A shared body passes the call on with `Body::invoke`: it sees the same class method.
    let shared =
        body::<DynHost, _>(move |call| Ok(Value::from(format!("shared {}", describe(&call)))));
    let rt = Runtime::<DynHost>::new();
    let shape = rt
        .class("Shape")
        .virtual_method("area", 1, move |call| Ok(Value::from(describe(&call))))
        .virtual_method("name", 0, move |call| shared.invoke(call))
        .virtual_method("second", 1, |call| Ok(call.arg(1)?.clone()))
        .define()?;
    let square = rt
        .class("Square")
        .base(&shape)
        .override_method("area", move |call| {
            Ok(Value::from(format!("override {}", describe(&call))))
        })
        .define()?;
    let area = shape.virtual_method("area")?;
    let one = [Value::Int(1)];
    let shape_obj = rt.new_object(&shape, Value::Nil)?;
    let square_obj = rt.new_object(&square, Value::Nil)?;
    assert_eq!(
        shape_obj.call_virtual(&area, &one, cx)?,
        Value::from("Shape.area/1 method=none on Shape")
    );
    assert_eq!(
        square_obj.call_virtual(&area, &one, cx)?,
        Value::from("override Shape.area/1 method=none on Square")
    );
    assert_eq!(
        square_obj.call_virtual(&square.virtual_method("area")?, &one, cx)?,
        Value::from("override Square.area/1 method=none on Square")
    );
    assert_eq!(
        square_obj.call_by_name("name", &[], cx)?,
        Value::from("shared Square.name/0 method=none on Square")
    );
    // A body run directly knows neither.
    let resolved = rt
        .interface("IArea")
        .default_method("area", 1, move |call| Ok(Value::from(describe(&call))))
        .define()?;
    let with_iface = rt.class("WithArea").implement(&resolved).define()?;
    let obj = rt.new_object(&with_iface, Value::Nil)?;
    let method = resolved.method("area")?;
    assert_eq!(
        obj.call(&method, &one, cx)?,
        Value::from("none method=area on WithArea")
    );
    let body = obj.resolve(&method, cx)?;
    assert_eq!(
        body.call(&obj, &one, cx)?,
        Value::from("none method=none on WithArea")
    );
    // A missing argument names the class method.
    let err = square_obj
        .call_virtual(&shape.virtual_method("second")?, &one, cx)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "'Shape.second' asked for argument 1 but was called with 1 argument(s): declare the arity the body reads."
    );
    Ok(())
}

/// A body called through a call site sees the site's method on every path of the site:
/// the miss that fills an entry, the first entry's hit, a later entry's hit, and a
/// megamorphic call.
#[test]
fn a_call_site_passes_its_method_to_the_body() -> Result<(), DynError> {
    use dynacast::{CallSite, CallSiteState, CALL_SITE_ENTRIES};
    let cx = &mut ();
    let rt = Runtime::<DynHost>::new();
    let shape = rt
        .interface("IShape")
        .default_method("describe", 0, |call| {
            let method = call.method().map_or("none", |m| m.name());
            let iface = call.interface().map_or("none", |i| i.name());
            let class_method = call.class_method().map_or("none", |m| m.name());
            Ok(Value::from(format!(
                "{iface}.{method} class_method={class_method} on {}",
                call.this().class().name()
            )))
        })
        .define()?;
    let site = CallSite::new(shape.method("describe")?);
    let objects = (0..=CALL_SITE_ENTRIES)
        .map(|n| {
            let class = rt.class(&format!("C{n}")).implement(&shape).define()?;
            rt.new_object(&class, Value::Nil)
        })
        .collect::<Result<Vec<_>, DynError>>()?;
    for round in 0..2 {
        for (n, obj) in objects.iter().enumerate() {
            assert_eq!(
                site.call(obj, &[], cx)?,
                Value::from(format!("IShape.describe class_method=none on C{n}")),
                "round {round}, class {n}"
            );
        }
    }
    assert_eq!(site.state(), CallSiteState::Megamorphic);
    Ok(())
}
