//! The engine calling into Lua: method bodies and the dynamic-castable hook.
//!
//! Engine bodies and hooks must be `Send + Sync`, and Lua values are neither, so they hold
//! only registry keys (which are) and fetch the Lua function through the call's context,
//! the [`Lua`] handle, when they run. Lua code is called under the original `pcall`, so a
//! raised value is kept as it is ([`LuaError::Raised`]).

use std::sync::Arc;

use mlua::{Function, IntoLuaMulti, Lua, RegistryKey, Table, Value, Variadic};

use super::error::LuaError;
use super::handles::{binding, object_table, type_userdata, LuaType};
use super::LuaHost;
use crate::error::Error;
use crate::hook::DynamicCastable;
use crate::host::{body, static_body, Body, StaticBody};
use crate::interface::InterfaceRef;
use crate::object::Object;
use crate::types::TypeRef;

/// Calls `f(args...)` under the original `pcall`: its first result, or the value it raised.
/// One fixed pair comes back, so no result list is allocated.
pub(crate) fn call_protected(
    lua: &Lua,
    pcall: &Function,
    f: &Function,
    args: impl IntoLuaMulti,
) -> Result<Value, LuaError> {
    let (ok, value): (bool, Value) = pcall.call((f, args))?;
    if ok {
        Ok(value)
    } else {
        Err(LuaError::raised(lua, value))
    }
}

/// An instance method body (virtual, default or helper) written in Lua: `f(self, ...)`,
/// whose first result is the call's result.
pub(crate) fn lua_body(lua: &Lua, f: Function) -> mlua::Result<Body<LuaHost>> {
    let key = Arc::new(lua.create_registry_value(f)?);
    Ok(body::<LuaHost, _>(move |call| {
        let (this, args, lua): (_, _, &mut Lua) = call.into_parts();
        let b = binding(lua)?;
        let f: Function = lua.registry_value(&key)?;
        let this = object_table(&b, lua, this, None)?;
        let args: Variadic<Value> = args.iter().cloned().collect();
        Ok(call_protected(lua, &b.pcall, &f, (this, args))?)
    }))
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
        let b = binding(lua)?;
        let f: Function = lua.registry_value(&key)?;
        let args: Variadic<Value> = args.iter().cloned().collect();
        Ok(call_protected(lua, &b.pcall, &f, args)?)
    }))
}

/// A class's hook written in Lua: a table with the functions
/// `is_interface_implemented(self, iface, throw)` and `get_interface_implementation(self,
/// iface)`. The functions are read from the table on every call, so assigning new ones
/// takes effect at once (within the engine's caching rules: see the module docs).
pub(crate) struct LuaHook {
    table: RegistryKey,
}

impl LuaHook {
    pub(crate) fn new(lua: &Lua, table: Table) -> mlua::Result<Self> {
        Ok(LuaHook {
            table: lua.create_registry_value(table)?,
        })
    }

    fn function(&self, lua: &Lua, name: &mlua::LuaString) -> mlua::Result<Option<Function>> {
        let table: Table = lua.registry_value(&self.table)?;
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
        let args = (
            object_table(&b, lua, obj, None)?,
            type_userdata(&b, lua, &iface.as_type())?,
            throw_if_not_implemented,
        );
        let answer = call_protected(lua, &b.pcall, &f, args)?;
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
        let args = (
            object_table(&b, lua, obj, None)?,
            type_userdata(&b, lua, &iface.as_type())?,
        );
        match call_protected(lua, &b.pcall, &f, args)? {
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
