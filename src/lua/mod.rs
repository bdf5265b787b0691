//! The Lua binding (cargo feature `lua`): Lua 5.4 scripts define interfaces, implementation
//! interfaces and classes, create objects, cast them and call their methods, through
//! dynacast, with [`mlua`] 0.12. Objects are plain Lua tables that the Lua GC fully sees.
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
//!         init = function(self, side) self.side = side end,
//!         methods = { area = function(self) return self.side * self.side end },
//!     })
//!     local sq = Square(3)
//!     assert(sq:is(IShape) and sq:area() == 9 and IShape.area(sq) == 9)
//! "#).exec()?;
//! # Ok::<(), mlua::Error>(())
//! ```
//!
//! # The script's view
//!
//! - `dynacast.interface(name, spec)` defines an interface; `spec` keys (all optional):
//!   `bases` (list of types or type names), `methods` (`name = arity` for an abstract slot,
//!   `name = function(self, ...)` for a default body), `helpers` (non-virtual instance
//!   members), `statics` (static members, no `self`), `overrides` (default bodies for base
//!   methods, keyed `"method"` or `"IBase.method"`), `reabstract` (list of such keys),
//!   `implementation = true` (the dynamic-castable-implementation mark), `redefine = true`.
//! - `dynacast.reload(chunk, ...)` re-runs a module so that live objects follow its edits,
//!   `dynacast.flush([class])` flushes dispatch caches (see "Live reload" below).
//! - `dynacast.generic_interface(name, spec)` defines a generic interface: `spec.params`
//!   lists one variance per type parameter (`"out"`, `"in"` or `"invariant"`), the other
//!   keys are an interface spec's. The result `G` is a [`LuaGeneric`]: `G(T, ...)` (or
//!   `dynacast.instantiate(G, T, ...)`, types or type names) is the instantiated interface,
//!   the same type handle for the same arguments; casts follow the variances.
//! - `dynacast.class(name, spec)`: `base`, `implements`, `methods` (functions; a name the
//!   base class has overrides it, `name = arity` declares an abstract method), `abstract`,
//!   `hook` (below), `redefine`, `init = function(self, ...)` (the initializer, inherited),
//!   `metamethods` (`__tostring`, `__eq`, `__lt`, `__le`, `__len`, `__concat`,
//!   `__call`, `__close` and the arithmetic ones; inherited), `maps` (explicit interface
//!   maps: `["IShape.area"] = "surface"` serves `IShape.area` with the class method
//!   `surface`; the interface is named as in `implements`, an instantiation as
//!   `"ISource<Dog>"`) and `statics` (functions without `self`, reached as `C.name(...)`
//!   and through subclasses; kept on the Lua side, as the Rust class builder has none).
//! - Specs are strict: an unknown key, a list with a nil hole, a flag that is not a
//!   boolean, a member name that is not a string, an arity outside `0..=200`: a `TypeLoad`
//!   error naming the key and the type.
//! - Objects: `Class(...)` makes one and runs `init(obj, ...)`; `Class:new(fields)` (or
//!   `dynacast.new(Class, fields)`) makes one from a table without a metatable, which
//!   becomes the object. An object **is** that Lua table: its entries are its fields
//!   (`obj.x` is a table read, `pairs(obj)` walks the fields), its metatable is its
//!   class's, protected (`getmetatable(obj)` is the class's; `setmetatable(obj, …)` is
//!   refused). Making an object never leaves Lua (after a class's first object): its
//!   engine object is made when Rust first needs it (a call or cast through the engine, a
//!   hook, [`lua_to_object`]), and is the same object from then on.
//! - `obj:m(...)`: the class's own Lua method `m` (the most derived override; a plain Lua
//!   call that never leaves Lua: it may yield, and recursion is as deep as Lua's), else
//!   the class's virtual method `m`, else the one interface method `m` among the interfaces
//!   the class implements in its metadata (two of them: an `AmbiguousName` error naming
//!   both). A name found through the engine is asked once per class, then kept.
//! - `I.m(obj, ...)` calls interface `I`'s method `m` through `I`, on any object (hook
//!   dispatch on proxies included). The first call on an object of a class asks the engine
//!   to resolve (and publish: the hook runs at most once per class, as from Rust); the
//!   class's method table then keeps that resolution under a key of `I.m`'s own, so later
//!   calls never leave Lua. A body written in Lua is always called from Lua (tail calls);
//!   `I.m` has the method's parameters, so it follows Lua's argument rules like `obj:m()`.
//!   `C.m(obj, ...)` is class `C`'s own Lua implementation of `m`, a non-virtual call:
//!   `Base.m(self)` is a super call (for a method written in Rust, the virtual method's
//!   handle). `T:method("m")` is `I.m`'s method handle: called, it resolves in the engine
//!   and checks the argument count (`ArgumentCount`), then calls a Lua body from Lua.
//! - Reserved names, all on the `__index` fallback only, so no field is ever shadowed: an
//!   object's `is(T)`, `cast(T)` (returns the object or raises), `call(handle, ...)` and
//!   `class()`, reached when neither a field nor a class method has the name; a type's
//!   `name`, `is_interface`, `is_implementation`, `cached_resolutions`, `new`, `method`,
//!   `methods()`, `interfaces()`, `base()` and `assignable_to(T)` (reflection). Member
//!   names beginning with `"\0dynacast."` are the binding's (a `TypeLoad` error).
//! - `tostring(obj)` is `"<Class>: 0x…"` (identity) unless the class declares
//!   `__tostring`. Objects and types keep their identity: usable as table keys.
//! - `dynacast.lookup(name)` finds a type. The arity of a method written in Lua is its
//!   parameter count less `self`; results are the function's first result. Calls that stay
//!   in Lua (`obj:m()` with a Lua method) follow Lua's argument rules; calls through the
//!   engine check the arity (`ArgumentCount`).
//! - One runtime per Lua state and one Lua state per runtime, for the runtime's life.
//!
//! # What cannot yield, and depth
//!
//! A body written in Lua that a script reaches through `obj:m()`, `I.m(obj)`, a handle
//! `I:method("m")(obj)` or `dynacast.call(obj, handle, ...)` is called from Lua, so it may
//! yield and it nests as deep as Lua calls do (tests: 1,000 levels). What runs *inside* a
//! crossing of Rust cannot yield ("attempt to yield across a C-call boundary"): a hook the
//! engine runs (`get_interface_implementation`, inside the engine's resolution, so the
//! *first* call per class through an interface a hook serves cannot yield, the cached ones
//! can; `is_interface_implemented` reached through `dynacast.is`/`dynacast.cast` or from
//! Rust), a class method's handle, a body written in Rust, and a method called from Rust
//! (an embedder's function included). `obj:is(T)` and `obj:cast(T)` call a hook written in
//! Lua from Lua (see Hooks): it may yield.
//! Each nested crossing takes one of Lua's 200 C levels, so calls that cross Rust nest
//! about 190 deep, then fail with a clean "C stack overflow" error (tests: 180 nest). Each
//! crossing also takes Rust stack (about 16 KiB in a debug build, about 3.4 KiB optimized),
//! so the binding guards it in bytes: from the outermost crossing on a thread, nested ones
//! may take [`DEFAULT_STACK_BUDGET`] (1 MiB) of Rust stack, then fail with a clean
//! `StackLimit` error instead of overflowing the thread's stack (an abort). A thread with a
//! bigger stack may allow more with [`set_stack_budget`] (per thread). With the default
//! budget an optimized build reaches Lua's own limit first; a debug build nests about 60.
//!
//! # Hooks
//!
//! A class's `hook` is a table with `is_interface_implemented(obj, iface, throw)` and
//! `get_interface_implementation(obj, iface)`. The functions are read from the table on
//! every call. `is_interface_implemented` runs on **every** cast the metadata does not
//! answer. `get_interface_implementation` is asked once per (class, method): its answer is
//! cached for the class (rule D1); failures are not.
//!
//! `obj:is(T)` and `obj:cast(T)` call a hook written in Lua straight from Lua, as the
//! engine would (the function read anew, one call per attempt, with `throw`; any true
//! value is yes; a missing function is no), so a hook cast costs about one Lua call more
//! than a metadata one, keeps the hook's frames in a traceback, and may yield.
//! `dynacast.is`/`dynacast.cast` and casts from Rust go through the engine: same answers,
//! counts and errors. Two differences follow from not crossing the engine: the engine's
//! hook nesting limit ([`max_hook_depth`](crate::hook::max_hook_depth)) does not count these
//! calls, so a hook that asks itself without end fails with Lua's own "stack overflow"
//! error; and `error(msg, 2)` in a hook names the binding's line that called it (a hook has
//! no script caller: use `error(msg)` or `error(value, 0)`).
//!
//! # Live reload
//!
//! `dynacast.reload(chunk, ...)` runs `chunk` (a function, or the path of a Lua file) as a
//! reload of a module: an editor calls it after each save, and the objects already alive
//! follow the edits (see `reload.rs` for the details). It needs a runtime made with
//! [`Runtime::with_live_reload`](crate::Runtime::with_live_reload):
//! - a definition whose Lua functions are the same code as at the member's last definition
//!   (same bytecode with debug information, raw-equal upvalues, functions among them
//!   compared the same way) is the registered type: an unchanged re-run is a no-op;
//! - every class the reload defines redefines its name, and a changed one takes over the
//!   live objects of the class it replaces: each object's table gets the new class's
//!   metatable (fields kept), so `obj:m()`, `I.m(obj)`, `obj:is(I)`, `obj:cast(I)` and
//!   `obj:class()` follow the new class; a kept handle of the old class makes objects of
//!   the newest;
//! - a class keeps its hook, reading the re-run's table; when its
//!   `get_interface_implementation` changed (as code) the class is flushed (the engine's
//!   cache and the Lua side's mirrors): the next call asks the hook again, once per class;
//! - an edited interface is a new type (the core's rule): classes implementing it are new
//!   too and take over their objects; the old handle is a type of its own (`obj:is(Old)`
//!   is false, `Old.m(obj)` an `InvalidCast` error); `dynacast.lookup` gives the new one.
//!
//! `dynacast.flush(Class)` (or `dynacast.flush()`, every class) flushes by hand.
//! Outside a reload, `redefine = true` defines a new engine class under the old name and
//! objects made before keep the old one.
//!
//! # Errors
//!
//! Everything the binding raises is a `dynacast.Error` table `{ kind, message, where }`
//! (`where` is `"chunk:line"` of the script line that made the failing call;
//! `tostring(e)` is `"<where>: <kind>: <message>"`), except a value raised by a Lua body or
//! hook, which reaches the caller unchanged (the same table, string or userdata), however
//! many engine frames it crossed. Kinds: the engine's (`InvalidCast`, `InvalidOperation`,
//! `EntryPointNotFound`, `AmbiguousImplementation`, `TypeLoad`, `MissingMember`,
//! `ArgumentCount`), the binding's own ([`BindingError`]: `BadArgument`, `ForeignState`,
//! `AmbiguousName`) and `LuaError` (mlua failed). A body a script reaches (`obj:m()`,
//! `I.m(obj)`, a handle) is called from Lua and keeps its frames and `error(msg, 2)`
//! positions, on the first call too. A body or hook run from Rust is called in one
//! protected call whose message handler notes the traceback where the value was raised:
//! Rust gets the value unchanged with that traceback ([`RaisedValue::traceback`]); a
//! script that catches it (after it crossed Rust) sees its own frames from the re-raise.
//! Embedders' own Rust functions raise the same values with [`create_function`] (or
//! [`error_value`]).
//!
//! # Rust side
//!
//! [`LuaHost`] is the [`Host`]: values are [`mlua::Value`]s, the call context is the
//! [`Lua`](mlua::Lua) handle (bodies and hooks fetch their functions through it, as engine
//! bodies must be `Send + Sync` and Lua values are not), the payload is a [`LuaPayload`].
//! Objects made from Rust with [`LuaPayload::new`] and handed over with [`object_to_lua`]
//! are the same objects scripts see; [`lua_to_object`] goes the other way. See
//! `handles.rs` for how an object's table lives and dies with the GC.

mod api;
mod callback;
mod define;
mod error;
mod handles;
mod reload;
mod stack;

pub use api::{create_function, install};
pub use error::{error_value, BindingError, LuaError, RaisedValue};
pub use handles::{
    class_to_lua, lua_to_object, object_to_lua, type_to_lua, LuaGeneric, LuaMethod, LuaObject,
    LuaPayload, LuaType,
};
pub use stack::{set_stack_budget, DEFAULT_STACK_BUDGET};

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
