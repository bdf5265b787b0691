//! The classic `IDynamicInterfaceCastable` greeter (scenarios S1–S7, scenario 7).
//!
//! `IGreet { hello, goodbye }`; the implementation interface `IGreetImpl` gives only
//! `hello`. A class whose hook maps `IGreet` to `IGreetImpl` can be cast to `IGreet` and
//! greets; `goodbye` fails with `EntryPointNotFound`. Counters show that every cast asks
//! the hook again, while the dispatch answer is cached for the whole class.
//!
//! Run: `cargo run --release --example greeter`. Exits non-zero if a count is off.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dynacast::{DynError, DynHost, DynamicCastable, InterfaceRef, Object, Runtime, TypeRef, Value};

/// Counts both hook calls so the program can show what the engine caches and what not.
#[derive(Default)]
struct Counters {
    is_interface_implemented: AtomicUsize,
    get_interface_implementation: AtomicUsize,
}

struct GreeterHook {
    greet: InterfaceRef<DynHost>,
    greet_impl: InterfaceRef<DynHost>,
    counters: Arc<Counters>,
}

impl DynamicCastable<DynHost> for GreeterHook {
    fn is_interface_implemented(
        &self,
        _obj: &Object<DynHost>,
        iface: &InterfaceRef<DynHost>,
        _throw_if_not_implemented: bool,
        _cx: &mut (),
    ) -> Result<bool, DynError> {
        self.counters
            .is_interface_implemented
            .fetch_add(1, Ordering::SeqCst);
        Ok(*iface == self.greet)
    }

    fn get_interface_implementation(
        &self,
        _obj: &Object<DynHost>,
        iface: &InterfaceRef<DynHost>,
        _cx: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.counters
            .get_interface_implementation
            .fetch_add(1, Ordering::SeqCst);
        Ok((*iface == self.greet).then(|| self.greet_impl.as_type()))
    }
}

fn run() -> Result<bool, DynError> {
    let rt = Runtime::<DynHost>::new();
    let greet = rt
        .interface("IGreet")
        .abstract_method("hello", 0)
        .abstract_method("goodbye", 0)
        .define()?;
    let greet_impl = rt
        .interface("IGreetImpl")
        .base(&greet)
        .override_base(&greet, "hello", |call| {
            let (this, _args, _cx) = call.into_parts();
            println!("Hello World from {}", this.class().name());
            Ok(Value::Nil)
        })
        .dynamic_castable_implementation()
        .define()?;

    let counters = Arc::new(Counters::default());
    let class = rt
        .class("DynamicCastable")
        .hook(GreeterHook {
            greet: greet.clone(),
            greet_impl: greet_impl.clone(),
            counters: counters.clone(),
        })
        .define()?;
    let hello = greet.method("hello")?;
    let goodbye = greet.method("goodbye")?;
    let counts = || {
        (
            counters.is_interface_implemented.load(Ordering::SeqCst),
            counters.get_interface_implementation.load(Ordering::SeqCst),
        )
    };
    let mut ok = true;
    let mut expect = |what: &str, got: (usize, usize), want: (usize, usize)| {
        println!(
            "  [{what}] is_interface_implemented calls: {}, get_interface_implementation calls: {}",
            got.0, got.1
        );
        if got != want {
            println!("  expected {want:?}");
            ok = false;
        }
    };

    let first = rt.new_object(&class, Value::Nil)?;
    first.cast(&greet, &mut ())?;
    first.call(&hello, &[], &mut ())?;
    expect("first instance: cast + hello", counts(), (1, 1));

    let second = rt.new_object(&class, Value::Nil)?;
    second.cast(&greet, &mut ())?;
    second.call(&hello, &[], &mut ())?;
    expect("second instance: cast + hello", counts(), (2, 1));

    let goodbye_failed = match second.call(&goodbye, &[], &mut ()) {
        Err(e) => {
            println!("goodbye failed: {} ({})", e.kind(), e);
            e.kind() == "EntryPointNotFound"
        }
        Ok(_) => {
            println!("goodbye unexpectedly succeeded");
            false
        }
    };
    expect("after goodbye (failures are not cached)", counts(), (2, 2));
    Ok(ok && goodbye_failed)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
