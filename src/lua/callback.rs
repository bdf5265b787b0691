//! The engine calling into Lua: method bodies and the dynamic-castable hook.
//!
//! Engine bodies and hooks must be `Send + Sync`, and Lua values are neither, so they hold
//! only registry keys (which are) and fetch the Lua function through the call's context,
//! the [`Lua`] handle, when they run. Lua code is called by [`call_protected`]: one
//! `lua_pcall` whose message handler notes the traceback, so a raised value is kept as it
//! is ([`LuaError::Raised`]) with the frames it was raised in.

use std::ffi::c_int;
use std::sync::Arc;

use mlua::{ffi, Function, Lua, RegistryKey, Table, Value};

use super::error::LuaError;
use super::handles::{binding, identity_key, object_table, type_userdata, LuaType};
use super::stack;
use super::LuaHost;
use crate::error::Error;
use crate::hook::DynamicCastable;
use crate::host::{body, static_body, Body, StaticBody};
use crate::interface::InterfaceRef;
use crate::object::Object;
use crate::types::TypeRef;

/// The registry slot where [`note_traceback`] leaves the traceback of the last error: a
/// light-userdata key (this static's address), so that reading the slot and clearing it
/// after the call allocate nothing (a string key may have to be interned again, and a
/// memory error there would have no protected call to catch it).
static TRACEBACK: u8 = 0;

/// [`TRACEBACK`] as the pointer `lua_rawgetp` and `lua_rawsetp` take.
fn traceback_key() -> *const std::ffi::c_void {
    std::ptr::addr_of!(TRACEBACK).cast()
}

/// The message handler of [`call_protected`]: notes the traceback of the stack the error
/// was raised in (level 1: the function that raised) in the registry, and leaves the raised
/// value itself as the error value, unchanged.
unsafe extern "C-unwind" fn note_traceback(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: Lua calls a message handler with the error value at index 1 and at least
    // LUA_MINSTACK free slots; `luaL_traceback` pushes one string, which `lua_rawsetp`
    // pops into the registry. A memory error raised here becomes LUA_ERRERR of the
    // protected call, a normal error return.
    unsafe {
        ffi::luaL_traceback(state, state, std::ptr::null(), 1);
        ffi::lua_rawsetp(state, ffi::LUA_REGISTRYINDEX, traceback_key());
    }
    1
}

/// The function [`call_protected`] calls.
#[derive(Clone, Copy)]
pub(crate) enum Callee<'a> {
    Function(&'a Function),
    /// A function kept in the registry, pushed straight from there.
    Registry(&'a RegistryKey),
}

/// The first argument of [`call_protected`], before `args`.
pub(crate) enum First<'a> {
    None,
    Value(&'a Value),
    /// The table of the object with this payload id, read straight from the binding's
    /// identity table (found in the registry under `handles::IDENTITY`); when it is not
    /// there, the call is not made ([`Outcome::NoTable`]).
    Object(i64),
}

enum Outcome {
    /// A nil, boolean or number result, read straight off the stack ([`Primitive`]).
    Primitive(Primitive),
    Returned(Value),
    Raised(Value, Option<String>),
    NoTable,
}

/// Calls `f(first, args...)` in one `lua_pcall`: its first result, or the value it raised
/// (unchanged: a table stays that table) with the traceback of where it was raised.
///
/// One protected call, not mlua's `Function::call` (which turns a raised table into a
/// string) under Lua's `pcall` (a second C level per crossing, halving how deep calls
/// that cross Rust nest); the function and the object's table are pushed straight from
/// the registry and the identity table, without taking mlua references to them.
fn call_raw(lua: &Lua, f: Callee<'_>, first: First<'_>, args: &[Value]) -> mlua::Result<Outcome> {
    let _crossing = stack::enter()?;
    lua.exec_raw_lua(|raw| {
        let state = raw.state();
        let nargs = args.len() + usize::from(!matches!(first, First::None));
        let (Ok(nargs), Ok(room)) = (c_int::try_from(nargs), c_int::try_from(nargs * 2 + 6)) else {
            return Err(mlua::Error::runtime("too many arguments for a Lua call"));
        };
        // SAFETY: every push below is within the `room` slots `lua_checkstack` granted
        // (mlua's `push`/`push_value` use at most 2 per value; the handler, the function,
        // the identity table and its entry take one each); the stack is put back to `top`
        // on every path, so mlua's view of its stack is unchanged. Reads are raw, so no
        // Lua code runs before `lua_pcall`. With `First::Object`, the call is made only
        // when the object's id is in this state's identity table: payload ids are unique
        // across states, so the object is this state's, so is its runtime (one runtime per
        // state), so is the body and its registry id. In another state the pushed function
        // is some value of that registry, popped again, never called.
        unsafe {
            let top = ffi::lua_gettop(state);
            if ffi::lua_checkstack(state, room) == 0 {
                return Err(mlua::Error::StackError);
            }
            ffi::lua_pushcfunction(state, note_traceback);
            let pushed = (|| {
                // The identity table goes below the function (the call leaves it there, and
                // `lua_settop` takes it away): no stack rotation.
                let ids = match first {
                    First::Object(_) => {
                        if ffi::lua_rawgetp(state, ffi::LUA_REGISTRYINDEX, identity_key())
                            != ffi::LUA_TTABLE
                        {
                            return Ok(false);
                        }
                        top + 2 // (above the message handler)
                    }
                    _ => 0,
                };
                match f {
                    Callee::Function(f) => raw.push(f)?,
                    Callee::Registry(key) => {
                        ffi::lua_rawgeti(
                            state,
                            ffi::LUA_REGISTRYINDEX,
                            ffi::lua_Integer::from(key.id()),
                        );
                    }
                }
                match first {
                    First::None => {}
                    First::Value(v) => raw.push_value(v)?,
                    First::Object(id) => {
                        if ffi::lua_rawgeti(state, ids, id) != ffi::LUA_TTABLE {
                            return Ok(false);
                        }
                    }
                }
                for v in args {
                    raw.push_value(v)?;
                }
                Ok::<_, mlua::Error>(true)
            })();
            match pushed {
                Ok(true) => {}
                Ok(false) => {
                    ffi::lua_settop(state, top);
                    return Ok(Outcome::NoTable);
                }
                Err(e) => {
                    ffi::lua_settop(state, top);
                    return Err(e);
                }
            }
            let status = ffi::lua_pcall(state, nargs, 1, top + 1);
            if status == ffi::LUA_OK {
                if let Some(value) = primitive_at_top(state) {
                    ffi::lua_settop(state, top);
                    return Ok(Outcome::Primitive(value));
                }
            }
            // (The result is at the top, above the identity table when there is one.)
            let value = raw.pop::<Value>();
            let outcome = if status == ffi::LUA_OK {
                value.map(Outcome::Returned)
            } else {
                // Raw get, and a raw set of nil over an existing key: no allocation.
                ffi::lua_rawgetp(state, ffi::LUA_REGISTRYINDEX, traceback_key());
                let traceback = raw.pop::<Option<String>>().ok().flatten();
                ffi::lua_pushnil(state);
                ffi::lua_rawsetp(state, ffi::LUA_REGISTRYINDEX, traceback_key());
                value.map(|v| Outcome::Raised(v, traceback))
            };
            ffi::lua_settop(state, top);
            outcome
        }
    })
}

/// A result that needs no reference into Lua: nil, a boolean or a number.
///
/// Read straight off the stack and turned into a [`Value`] only where the call's result is
/// returned (`Primitive::into_value`), instead of mlua's `pop::<Value>` and the moves of
/// the `Value` inside `Outcome` that follow it: copying a value right after it was written
/// cost a store-forwarding stall (16-byte loads over narrower stores) of about a tenth of
/// a call from Rust whose Lua body returns a number.
#[derive(Clone, Copy)]
enum Primitive {
    Nil,
    Boolean(bool),
    Integer(ffi::lua_Integer),
    Number(ffi::lua_Number),
}

impl Primitive {
    /// What mlua's `pop::<Value>` makes of the same Lua value (an integer stays
    /// `Value::Integer`).
    #[inline(always)]
    fn into_value(self) -> Value {
        match self {
            Primitive::Nil => Value::Nil,
            Primitive::Boolean(b) => Value::Boolean(b),
            Primitive::Integer(i) => Value::Integer(i),
            Primitive::Number(n) => Value::Number(n),
        }
    }
}

/// The value at the top of `state`'s stack when it is nil, a boolean or a number; `None`
/// for other types.
///
/// # Safety
///
/// `state` must be a valid state with at least one value on its stack.
unsafe fn primitive_at_top(state: *mut ffi::lua_State) -> Option<Primitive> {
    // SAFETY: the caller's contract: index -1 is a valid stack slot; these reads run no
    // Lua code and do not change the stack.
    unsafe {
        match ffi::lua_type(state, -1) {
            ffi::LUA_TNIL => Some(Primitive::Nil),
            ffi::LUA_TBOOLEAN => Some(Primitive::Boolean(ffi::lua_toboolean(state, -1) != 0)),
            ffi::LUA_TNUMBER if ffi::lua_isinteger(state, -1) != 0 => {
                Some(Primitive::Integer(ffi::lua_tointeger(state, -1)))
            }
            ffi::LUA_TNUMBER => Some(Primitive::Number(ffi::lua_tonumber(state, -1))),
            _ => None,
        }
    }
}

/// [`call_raw`] with its first argument given: its first result, or the value it raised.
pub(crate) fn call_protected(
    lua: &Lua,
    f: Callee<'_>,
    first: Option<&Value>,
    args: &[Value],
) -> Result<Value, LuaError> {
    let first = first.map_or(First::None, First::Value);
    match call_raw(lua, f, first, args)? {
        Outcome::Primitive(p) => Ok(p.into_value()),
        Outcome::Returned(v) => Ok(v),
        Outcome::Raised(v, traceback) => Err(LuaError::raised(lua, v, traceback)),
        Outcome::NoTable => Err(mlua::Error::runtime("no first argument").into()),
    }
}

/// An instance method body (virtual, default or helper) written in Lua: `f(self, ...)`,
/// whose first result is the call's result.
pub(crate) fn lua_body(lua: &Lua, f: Function) -> mlua::Result<Body<LuaHost>> {
    let key = Arc::new(lua.create_registry_value(f)?);
    Ok(body::<LuaHost, _>(move |call| {
        let (this, args, lua): (_, _, &mut Lua) = call.into_parts();
        call_on_object(lua, Callee::Registry(&key), this, args)
    }))
}

/// Calls `f(obj, args...)` with `obj`'s table: straight from the identity table when Lua
/// has it (the common case); else (pinned, not yet handed over, of another state) the
/// checked way.
fn call_on_object(
    lua: &Lua,
    f: Callee<'_>,
    obj: &Object<LuaHost>,
    args: &[Value],
) -> Result<Value, Error<LuaError>> {
    match call_raw(lua, f, First::Object(obj.payload().id()), args)? {
        Outcome::Primitive(p) => return Ok(p.into_value()),
        Outcome::Returned(v) => return Ok(v),
        Outcome::Raised(v, traceback) => return Err(LuaError::raised(lua, v, traceback).into()),
        Outcome::NoTable => {}
    }
    let b = binding(lua)?;
    let this = Value::Table(object_table(&b, lua, obj, None)?);
    let f = match f {
        Callee::Function(f) => f.clone(),
        Callee::Registry(key) => lua.registry_value::<Function>(key)?,
    };
    Ok(call_protected(
        lua,
        Callee::Function(&f),
        Some(&this),
        args,
    )?)
}

/// The identity of a body (the address its clones share), to find the Lua function behind
/// a body the engine resolved.
pub(crate) fn body_id(body: &Body<LuaHost>) -> i64 {
    let f: &crate::host::BodyFn<LuaHost> = &**body;
    // Addresses fit in i64 on every platform Lua runs on; only equality matters.
    (f as *const crate::host::BodyFn<LuaHost>).cast::<()>() as usize as i64
}

/// `lua_body`, remembered by the binding: calls through the engine that resolve to it may
/// call `f` straight from Lua (see `prelude.lua`, `caller`).
pub(crate) fn known_lua_body(lua: &Lua, f: Function) -> mlua::Result<Body<LuaHost>> {
    let body = lua_body(lua, f.clone())?;
    binding(lua)?.bodies.raw_set(body_id(&body), f)?;
    Ok(body)
}

/// A static member written in Lua: `f(...)`.
pub(crate) fn lua_static_body(lua: &Lua, f: Function) -> mlua::Result<StaticBody<LuaHost>> {
    let key = Arc::new(lua.create_registry_value(f)?);
    Ok(static_body::<LuaHost, _>(move |call| {
        let (args, lua) = call.into_parts();
        binding(lua)?;
        let f: Function = lua.registry_value(&key)?;
        Ok(call_protected(lua, Callee::Function(&f), None, args)?)
    }))
}

/// A class's hook written in Lua: a table with the functions
/// `is_interface_implemented(self, iface, throw)` and `get_interface_implementation(self,
/// iface)`. The functions are read from the table on every call, so assigning new ones
/// takes effect at once (within the engine's caching rules: see the module docs).
///
/// The table sits in a holder table of the hook's own, so that a reload can give the same
/// hook (the same `Arc`, hence the same class definition) the re-run's new table.
pub(crate) struct LuaHook {
    holder: RegistryKey,
}

impl LuaHook {
    pub(crate) fn new(lua: &Lua, table: Table) -> mlua::Result<Self> {
        let holder = lua.create_table_with_capacity(1, 0)?;
        holder.raw_set(1, table)?;
        Ok(LuaHook {
            holder: lua.create_registry_value(holder)?,
        })
    }

    /// The holder table: `[1]` is the hook table.
    pub(crate) fn holder(&self, lua: &Lua) -> mlua::Result<Table> {
        lua.registry_value(&self.holder)
    }

    /// From now on, the hook reads `table`.
    pub(crate) fn read(&self, lua: &Lua, table: Table) -> mlua::Result<()> {
        lua.registry_value::<Table>(&self.holder)?.raw_set(1, table)
    }

    fn function(&self, lua: &Lua, name: &mlua::LuaString) -> mlua::Result<Option<Function>> {
        let table: Table = lua.registry_value::<Table>(&self.holder)?.raw_get(1)?;
        // A raw read first: mlua's `get` is a protected call. A hook table whose functions
        // come from its metatable (`__index`) is read the ordinary way.
        match table.raw_get::<Option<Function>>(name)? {
            Some(f) => Ok(Some(f)),
            None if table.metatable().is_some() => table.get(name),
            None => Ok(None),
        }
    }
}

impl DynamicCastable<LuaHost> for LuaHook {
    fn is_interface_implemented(
        &self,
        obj: &Object<LuaHost>,
        iface: &InterfaceRef<LuaHost>,
        throw_if_not_implemented: bool,
        lua: &mut Lua,
    ) -> Result<bool, Error<LuaError>> {
        let b = binding(lua)?;
        let Some(f) = self.function(lua, &b.is_implemented_key)? else {
            return Ok(false);
        };
        let args = [
            Value::UserData(type_userdata(&b, lua, &iface.as_type())?),
            Value::Boolean(throw_if_not_implemented),
        ];
        let answer = call_on_object(lua, Callee::Function(&f), obj, &args)?;
        Ok(!matches!(answer, Value::Nil | Value::Boolean(false)))
    }

    fn get_interface_implementation(
        &self,
        obj: &Object<LuaHost>,
        iface: &InterfaceRef<LuaHost>,
        lua: &mut Lua,
    ) -> Result<Option<TypeRef<LuaHost>>, Error<LuaError>> {
        let b = binding(lua)?;
        let Some(f) = self.function(lua, &b.get_implementation_key)? else {
            return Ok(None);
        };
        let iface = Value::UserData(type_userdata(&b, lua, &iface.as_type())?);
        match call_on_object(lua, Callee::Function(&f), obj, &[iface])? {
            Value::Nil | Value::Boolean(false) => Ok(None),
            Value::UserData(ud) if ud.is::<LuaType>() => {
                Ok(Some(ud.borrow::<LuaType>()?.0.clone()))
            }
            other => Err(mlua::Error::FromLuaConversionError {
                from: other.type_name(),
                to: "dynacast type".into(),
                message: Some("get_interface_implementation must return a type or nil".into()),
            }
            .into()),
        }
    }
}
