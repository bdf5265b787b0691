//! The Lua binding (cargo feature `lua`): Lua 5.4 scripts define interfaces, implementation
//! interfaces and classes, create objects, cast them and call their methods, through
//! dynacast, with [`mlua`].
//!
//! # Wiring
//!
//! ```
//! use dynacast::lua::{install, LuaHost};
//! use dynacast::Runtime;
//!
//! let lua = mlua::Lua::new();
//! let rt = Runtime::<LuaHost>::new();
//! install(&lua, &rt)?; // the global table `dynacast`
//! lua.load(r#"
//!     local IShape = dynacast.interface("IShape", { methods = { area = 0 } })
//!     local Square = dynacast.class("Square", {
//!         implements = { IShape },
//!         methods = { area = function(self) return self.side * self.side end },
//!     })
//!     local sq = Square:new { side = 3 }
//!     assert(sq:is(IShape))
//!     assert(IShape:method("area")(sq) == 9)
//! "#).exec()?;
//! # Ok::<(), mlua::Error>(())
//! ```
//!
//! # The script's view
//!
//! - `dynacast.interface(name, spec)` defines an interface; `spec` fields (all optional):
//!   `bases` (list of types or type names), `methods` (`name = arity` for an abstract slot,
//!   `name = function(self, ...)` for a default body), `helpers` (non-virtual instance
//!   members), `statics` (static members, no `self`), `overrides` (default bodies for base
//!   methods, keyed `"method"` or `"IBase.method"`), `reabstract` (list of such keys),
//!   `implementation = true` (the dynamic-castable-implementation mark), `redefine = true`.
//! - `dynacast.class(name, spec)`: `base`, `implements`, `methods` (functions; a name the
//!   base class has overrides it, `name = arity` declares an abstract method), `abstract`,
//!   `hook` (below), `redefine`.
//! - `Class:new(fields)` or `dynacast.new(Class, fields)` makes an object; `obj.x` reads and
//!   writes its fields. `obj:is(T)` (C# `is`), `obj:cast(T)` (returns `obj`, or raises),
//!   `obj:call(method, ...)`, `obj:class()`. `IFoo:method("name")` is a method handle,
//!   callable as `m(obj, ...)` (`m(...)` for a static). `dynacast.lookup(name)` finds a type.
//!   Types and objects keep their identity in Lua: usable as table keys.
//! - The arity of a method written in Lua is its parameter count less `self`; results are
//!   the function's first result.
//! - The names `is`, `cast`, `call` and `class` are the object's methods: a field of one of
//!   those names is shadowed in Lua (Rust still reaches it through [`LuaPayload::state`]).
//! - One runtime per Lua state: bodies and hooks hold registry keys of the state that defined
//!   them, and run with that state as the context.
//!
//! # Hooks
//!
//! A class's `hook` is a table with `is_interface_implemented(obj, iface, throw)` and
//! `get_interface_implementation(obj, iface)`. The functions are read from the table on
//! every call. `is_interface_implemented` runs on **every** cast the metadata does not
//! answer. `get_interface_implementation` is asked once per (class, method): its answer is
//! cached for the class (SPEC D1); failures are not.
//!
//! # Hot reload
//!
//! Each `dynacast.class` call defines a **new engine class**, so each Lua class has its own
//! per-type cache. Redefining (`redefine = true`) takes over the name: `dynacast.lookup` and
//! new objects get the new class, objects made before keep the old one. A changed hook
//! answer therefore takes effect:
//! - for casts, at once, on old and new objects (the answer is never cached);
//! - for dispatch, on classes defined after the change; a method already resolved for an
//!   existing class keeps its cached implementation (there is no flush).
//!
//! # Errors
//!
//! The engine's errors (`InvalidCast`, `InvalidOperation`, `EntryPointNotFound`,
//! `AmbiguousImplementation`, `TypeLoad`, `MissingMember`, `ArgumentCount`) reach `pcall`
//! as tables `{ kind = ..., message = ... }` with the metatable `dynacast.Error`
//! (`tostring(e)` is `"<kind>: <message>"`). A value raised by a Lua body or hook reaches the
//! caller unchanged (the same table, string or userdata), however many engine frames it
//! crossed. mlua's own errors (an argument of the wrong type) are raised as mlua raises them.
//!
//! # Rust side
//!
//! [`LuaHost`] is the [`Host`]: values are [`mlua::Value`]s, the call context
//! is the [`Lua`](mlua::Lua) handle (bodies and hooks fetch their functions through it, as
//! engine bodies must be `Send + Sync` and Lua values are not), the payload is a
//! [`LuaPayload`]. Objects made from Rust with [`LuaPayload::new`] and handed over with
//! [`object_to_lua`] are the same objects scripts see.

mod api;
mod callback;
mod define;
mod error;
mod handles;

pub use api::{create_function, install};
pub use error::{error_value, BindingError, LuaError, RaisedValue};
pub use handles::{
    class_to_lua, lua_to_object, object_to_lua, type_to_lua, LuaMethod, LuaObject, LuaPayload,
    LuaType,
};

use crate::host::Host;

/// The [`Host`] of the Lua binding. See the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct LuaHost;

impl Host for LuaHost {
    type Value = mlua::Value;
    type Error = LuaError;
    type Context = mlua::Lua;
    type Payload = LuaPayload;
}
