//! # dynacast
//!
//! A dynamic interface casting and dispatch engine: the object model that .NET exposes as
//! `IDynamicInterfaceCastable`, for scripting runtimes, language VMs and plugin hosts.
//!
//! A host defines interfaces (method slots, default bodies, base interfaces), classes
//! (single base class, virtual methods, interface maps) and objects at run time. A class
//! may carry a [`DynamicCastable`] hook: a cast to an interface the class does not
//! implement asks the hook **every** time; a call through such an interface asks the hook
//! once per (class, method) for an *implementation interface* whose default methods serve
//! the call, and caches that answer for every instance of the class.
//!
//! Where to read:
//! - [`rules`]: the semantic rules, with the ids (B1, C4, D1, …) the code and tests cite;
//! - [the cast path](rules#casts-b) and [the dispatch path](rules#dispatch-c-d), step by step (their code: `src/cast.rs` and
//!   `src/dispatch.rs`, top to bottom);
//! - [`hook`]: the hook trait and its contract;
//! - `dispatch_cache`: the lock-free per-type cache of dynamic resolutions;
//! - [`interface`], [`class`], [`runtime`], [`types`]: definitions and the type system.
//!
//! A body is a closure taking one [`Call`]: it reaches the object, the arguments, the
//! caller's context, the method called, its interface and the runtime through it, with no
//! annotation and nothing captured. A host whose context is `()` writes `let cx = &mut ();`
//! once and passes `cx` to every call and cast.
//!
//! ```
//! use dynacast::{DynError, DynHost, DynamicCastable, InterfaceRef, Object, Runtime, TypeRef, Value};
//!
//! let cx = &mut ();
//! let rt = Runtime::<DynHost>::new();
//! let greet = rt.interface("IGreet").abstract_method("hello", 0).abstract_method("goodbye", 0).define()?;
//! let greet_impl = rt
//!     .interface("IGreetImpl")
//!     .base(&greet)
//!     .override_base(&greet, "hello", |call| {
//!         Ok(Value::from(format!("Hello World from {}", call.this().class().name())))
//!     })
//!     .dynamic_castable_implementation()
//!     .define()?;
//!
//! // The common hook: implemented exactly when it has an implementation to give.
//! struct Hook(InterfaceRef<DynHost>, InterfaceRef<DynHost>);
//! impl DynamicCastable<DynHost> for Hook {
//!     fn get_interface_implementation(&self, _: &Object<DynHost>, iface: &InterfaceRef<DynHost>, _: &mut ()) -> Result<Option<TypeRef<DynHost>>, DynError> {
//!         Ok((*iface == self.0).then(|| self.1.as_type()))
//!     }
//! }
//!
//! let class = rt.class("Proxy").hook(Hook(greet.clone(), greet_impl)).define()?;
//! let obj = rt.new_object(&class, Value::Nil)?;
//! obj.cast(&greet, cx)?;
//! assert_eq!(obj.call(&greet.method("hello")?, &[], cx)?, Value::from("Hello World from Proxy"));
//! assert_eq!(obj.call(&greet.method("goodbye")?, &[], cx).unwrap_err().kind(), "EntryPointNotFound");
//! # Ok::<(), DynError>(())
//! ```
#![warn(missing_docs)]

mod by_name;
mod call;
pub mod call_site;
mod cast;
pub mod class;
mod default_methods;
mod dispatch;
mod dispatch_cache;
pub mod error;
pub mod hook;
pub mod host;
pub mod interface;
#[cfg(feature = "lua")]
pub mod lua;
pub mod object;
mod reload;
pub mod rules;
pub mod runtime;
mod same_definition;
mod sync;
#[cfg(all(loom, dynacast_broken))]
#[doc(hidden)]
pub use sync::broken as loom_broken;
pub mod types;
pub mod value;

pub use by_name::NamedMethod;
pub use call::{Call, StaticCall};
pub use call_site::{CallSite, CallSiteState, CALL_SITE_ENTRIES};
pub use class::{ClassBuilder, ClassMethodRef, ClassRef};
pub use error::{Error, InvalidOperation};
pub use hook::DynamicCastable;
pub use host::{body, static_body, Body, CallResult, Host, StaticBody};
pub use interface::{
    GenericInterface, InterfaceBuilder, InterfaceRef, MethodRef, TypeExpr, Variance,
};
pub use object::Object;
pub use runtime::{Runtime, WeakRuntime};
pub use types::{CastTarget, TypeRef};
pub use value::{DynError, DynHost, DynObject, DynRuntime, HostError, Value};

/// The README's Rust examples, compiled and run as doc tests (they use the `lua` feature).
#[cfg(all(doctest, feature = "lua"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
