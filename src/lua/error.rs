//! Errors across the Lua boundary, both ways.
//!
//! - A Lua body or hook that raises (`error(v)`) is called under `pcall`, so the raised value
//!   `v` itself is kept (in the Lua registry) as [`LuaError::Raised`]; when the engine hands
//!   the failure back to a Lua caller, the binding raises `v` again, unchanged.
//! - The engine's own failures reach Lua as error tables `{ kind = "...", message = "..." }`
//!   whose metatable is `dynacast.Error` (`tostring(e)` gives `"<kind>: <message>"`).

use std::fmt;
use std::sync::Arc;

use mlua::{Lua, RegistryKey, Table, Value};

use super::handles::binding;
use crate::error::Error;

/// The binding's host error ([`Host::Error`](crate::Host::Error) of
/// [`LuaHost`](super::LuaHost)).
#[derive(Debug, Clone)]
pub enum LuaError {
    /// A Lua body or hook raised this value; it reaches a Lua caller unchanged.
    Raised(RaisedValue),
    /// mlua reported a failure (a value of the wrong type, out of memory, a registry key of
    /// another Lua state, …). Raised to Lua callers as mlua's own error.
    Lua(mlua::Error),
}

/// A value raised by Lua code, kept alive in the Lua registry.
#[derive(Clone)]
pub struct RaisedValue {
    key: Arc<RegistryKey>,
    text: Arc<str>,
}

impl RaisedValue {
    /// The raised value itself (in the Lua state that raised it).
    pub fn value(&self, lua: &Lua) -> mlua::Result<Value> {
        lua.registry_value(&self.key)
    }

    /// `tostring` of the value, taken when it was raised.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for RaisedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Raised({:?})", self.text)
    }
}

impl LuaError {
    /// Keeps `value`, raised by Lua code, so that it can be raised again unchanged.
    pub(crate) fn raised(lua: &Lua, value: Value) -> LuaError {
        // `tostring` runs a `__tostring` metamethod, which may itself fail: fall back to the
        // type name rather than lose the value.
        let text = value
            .to_string()
            .unwrap_or_else(|_| format!("<{}>", value.type_name()));
        match lua.create_registry_value(value) {
            Ok(key) => LuaError::Raised(RaisedValue {
                key: Arc::new(key),
                text: text.into(),
            }),
            Err(e) => LuaError::Lua(e),
        }
    }
}

impl fmt::Display for LuaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LuaError::Raised(r) => f.write_str(&r.text),
            LuaError::Lua(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LuaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LuaError::Raised(_) => None,
            LuaError::Lua(e) => Some(e),
        }
    }
}

impl From<mlua::Error> for LuaError {
    fn from(e: mlua::Error) -> Self {
        LuaError::Lua(e)
    }
}

impl From<LuaError> for Error<LuaError> {
    fn from(e: LuaError) -> Self {
        Error::Host(e)
    }
}

impl From<mlua::Error> for Error<LuaError> {
    fn from(e: mlua::Error) -> Self {
        Error::Host(LuaError::Lua(e))
    }
}

/// The value a failed binding call raises in Lua: the original value for
/// [`LuaError::Raised`], an error table for the engine's errors. mlua's own errors come
/// back as `Err`, for mlua to raise.
pub(crate) fn failure_value(lua: &Lua, err: Error<LuaError>) -> mlua::Result<Value> {
    match err {
        Error::Host(LuaError::Raised(r)) => r.value(lua),
        Error::Host(LuaError::Lua(e)) => Err(e),
        other => error_table(lua, other.kind(), &other.to_string()).map(Value::Table),
    }
}

/// `{ kind = kind, message = message }` with the `dynacast.Error` metatable.
pub(crate) fn error_table(lua: &Lua, kind: &str, message: &str) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 2)?;
    t.raw_set("kind", kind)?;
    t.raw_set("message", message)?;
    t.set_metatable(Some(binding(lua)?.error_mt.clone()))?;
    Ok(t)
}

/// The metatable of error tables: `tostring(e)` is `"<kind>: <message>"`.
pub(crate) fn error_metatable(lua: &Lua) -> mlua::Result<Table> {
    let mt = lua.create_table()?;
    mt.raw_set("__name", "dynacast.Error")?;
    mt.raw_set(
        "__tostring",
        lua.create_function(|_, e: Table| {
            let kind: String = e.raw_get("kind")?;
            let message: String = e.raw_get("message")?;
            Ok(format!("{kind}: {message}"))
        })?,
    )?;
    Ok(mt)
}
