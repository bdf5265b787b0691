//! A plugin host, written the friendliest way the crate allows: shape plugins, default
//! methods that reach their own interface, a COM-style proxy answered by a hook, a
//! covariant generic factory whose body creates objects, and hot reload.
//!
//! No turbofish, no captured `Runtime`, no `OnceLock`, and one `&mut ()` line.
//!
//! Run: `cargo run --release --example plugin_host` (CI compares its output).

use dynacast::{
    DynError, DynHost, DynObject, DynamicCastable, InterfaceRef, Runtime, TypeRef, Value, Variance,
};

/// A COM-style proxy: its class implements nothing; the hook answers `IShape` with the
/// implementation interface that forwards to the remote object in the payload.
struct RemoteHook {
    shape: InterfaceRef<DynHost>,
    forwarder: InterfaceRef<DynHost>,
}

impl DynamicCastable<DynHost> for RemoteHook {
    fn get_interface_implementation(
        &self,
        _obj: &DynObject,
        iface: &InterfaceRef<DynHost>,
        _cx: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        Ok((*iface == self.shape).then(|| self.forwarder.as_type()))
    }
}

fn main() -> Result<(), DynError> {
    let cx = &mut ();
    let rt = Runtime::<DynHost>::new();

    // The plugin contract: `area` is for plugins to write; `describe` has a default that
    // reaches its own interface (no handle captured) to name itself and call `area`.
    let shape = rt
        .interface("IShape")
        .abstract_method("area", 0)
        .default_method("describe", 0, |mut call| {
            let (Some(iface), Some(method)) = (call.interface(), call.method()) else {
                return Ok(Value::Nil);
            };
            let area = call.this().call(&iface.method("area")?, &[], call.cx())?;
            Ok(Value::from(format!(
                "{} via {}.{}: area {area}",
                call.this().class().name(),
                iface.name(),
                method.name()
            )))
        })
        .define()?;

    // Two plugins.
    let square = rt
        .class("Square")
        .implement(&shape)
        .virtual_method("area", 0, |call| {
            let side = call.payload().as_int().unwrap_or(0);
            Ok(Value::Int(side * side))
        })
        .define()?;
    let circle = rt
        .class("Circle")
        .implement(&shape)
        .virtual_method("area", 0, |call| {
            let r = call.payload().as_float().unwrap_or(0.0);
            Ok(Value::Float((r * r * 314.0).round() / 100.0))
        })
        .define()?;

    // The proxy: a forwarding implementation interface and a class with a hook.
    let forwarder = rt
        .interface("IShapeForwarder")
        .base(&shape)
        .override_base(&shape, "area", |mut call| {
            match call.payload().as_object() {
                Some(remote) => remote.call_by_name("area", &[], call.cx()),
                None => Ok(Value::Nil),
            }
        })
        .dynamic_castable_implementation()
        .define()?;
    let remote = rt
        .class("RemoteShape")
        .hook(RemoteHook {
            shape: shape.clone(),
            forwarder: forwarder.clone(),
        })
        .define()?;

    let describe = shape.method("describe")?;
    let plugins = [
        rt.new_object(&square, Value::Int(3))?,
        rt.new_object(&circle, Value::Float(1.0))?,
        rt.new_object(
            &remote,
            Value::Object(rt.new_object(&square, Value::Int(5))?),
        )?,
    ];
    for plugin in &plugins {
        plugin.cast(&shape, cx)?;
        println!("{}", plugin.call(&describe, &[], cx)?);
    }

    // A covariant factory: IFactory<Square> is an IFactory<object>. Its body creates the
    // object through the runtime the call reaches, the class by name.
    let factory = rt
        .generic_interface("IFactory", &[Variance::Covariant])
        .abstract_method("make", 1)
        .define_generic()?;
    let of_square = factory.instantiate(&[square.as_type()])?;
    let of_object = factory.instantiate(&[rt.object_class().as_type()])?;
    let square_factory = rt
        .class("SquareFactory")
        .implement(&of_square)
        .virtual_method("make", 1, |call| {
            let rt = call.runtime()?;
            let class = rt.lookup("Square").and_then(|t| t.as_class().cloned());
            match class {
                Some(class) => Ok(Value::Object(rt.new_object(&class, call.arg(0)?.clone())?)),
                None => Ok(Value::Nil),
            }
        })
        .define()?;
    let maker = rt.new_object(&square_factory, Value::Nil)?;
    maker.cast(&of_object, cx)?;
    let made = maker.call(&of_object.method("make")?, &[Value::Int(4)], cx)?;
    if let Some(made) = made.as_object() {
        println!("{} made a {}", of_object.name(), made.class().name());
        println!("{}", made.call(&describe, &[], cx)?);
    }

    // Hot reload: a new version of Square; objects made from now on use it, the old
    // ones keep the class they were made with.
    let square_v2 = rt
        .class("Square")
        .redefine()
        .implement(&shape)
        .virtual_method("area", 0, |call| {
            let side = call.payload().as_int().unwrap_or(0);
            Ok(Value::Int(side * side * 10))
        })
        .define()?;
    let reloaded = maker.call(&of_object.method("make")?, &[Value::Int(4)], cx)?;
    if let Some(obj) = reloaded.as_object() {
        println!("after reload: {}", obj.call(&describe, &[], cx)?);
    }
    println!("old plugin: {}", plugins[0].call(&describe, &[], cx)?);
    let fresh = rt.new_object(&square_v2, Value::Int(1))?;
    println!("fresh plugin: {}", fresh.call_by_name("describe", &[], cx)?);
    Ok(())
}
