//! Errors across the Lua boundary, both ways.
//!
//! - A Lua body or hook that raises (`error(v)`) is called in a protected call, so the raised
//!   value `v` itself is kept (in the Lua registry) as [`LuaError::Raised`], with the
//!   traceback of where it was raised; when the engine hands
//!   the failure back to a Lua caller, the binding raises `v` again, unchanged.
//! - Every other failure (the engine's, the binding's own checks, mlua's) reaches Lua as an
//!   error table `{ kind = "...", message = "...", where = "chunk:line" }` whose metatable
//!   is `dynacast.Error`.

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
    /// mlua reported a failure (out of memory, a registry key of another Lua state, …), or
    /// the binding's own check failed ([`BindingError`] inside). Raised to Lua callers as a
    /// `dynacast.Error` table (kind `"LuaError"`, or the [`BindingError`]'s kind).
    Lua(mlua::Error),
}

/// A value raised by Lua code, kept alive in the Lua registry.
#[derive(Clone)]
pub struct RaisedValue {
    key: Arc<RegistryKey>,
    text: Arc<str>,
    traceback: Option<Arc<str>>,
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

    /// The traceback of the stack the value was raised in (`"stack traceback:\n\t…"`, as
    /// `debug.traceback` prints it, starting at the function that raised), when Rust called
    /// the Lua code that raised it; `None` for a value raised by a script's own call.
    pub fn traceback(&self) -> Option<&str> {
        self.traceback.as_deref()
    }
}

impl fmt::Debug for RaisedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Raised({:?})", self.text)
    }
}

impl LuaError {
    /// Keeps `value`, raised by Lua code, so that it can be raised again unchanged.
    pub(crate) fn raised(lua: &Lua, value: Value, traceback: Option<String>) -> LuaError {
        // `tostring` runs a `__tostring` metamethod, which may itself fail: fall back to the
        // type name rather than lose the value.
        let text = value
            .to_string()
            .unwrap_or_else(|_| format!("<{}>", value.type_name()));
        match lua.create_registry_value(value) {
            Ok(key) => LuaError::Raised(RaisedValue {
                key: Arc::new(key),
                text: text.into(),
                traceback: traceback.map(Into::into),
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

impl From<mlua::Error> for Error<LuaError> {
    fn from(e: mlua::Error) -> Self {
        Error::Host(LuaError::Lua(e))
    }
}

/// A failure the binding itself detects (a bad argument, a value of another Lua state, ...),
/// with a kind of its own. It travels inside [`mlua::Error::external`], and reaches Lua as a
/// `dynacast.Error` table with that kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingError {
    /// `"BadArgument"` (an argument of the wrong type or value), `"ForeignState"` (an
    /// object, type or runtime of another Lua state, or of a closed one) or `"StackLimit"`
    /// (calls that cross Rust nest past the thread's stack budget:
    /// [`set_stack_budget`](super::set_stack_budget)).
    pub kind: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for BindingError {}

/// An argument check failed: a [`BindingError`] of kind `BadArgument`.
pub(crate) fn bad_argument(message: impl Into<String>) -> mlua::Error {
    mlua::Error::external(BindingError {
        kind: "BadArgument",
        message: message.into(),
    })
}

/// A value of another (or a closed) Lua state: a [`BindingError`] of kind `ForeignState`.
pub(crate) fn foreign_state(message: impl Into<String>) -> mlua::Error {
    mlua::Error::external(BindingError {
        kind: "ForeignState",
        message: message.into(),
    })
}

/// The value the binding raises in Lua for `err`: the original value for
/// [`LuaError::Raised`], else a `dynacast.Error` table `{ kind, message, where }` (`where`
/// is `"chunk:line"` of the script line that made the failing call, when there is one).
///
/// For embedders' own Rust callbacks that call the engine: raise this value (e.g. with a
/// Lua `error(v, 0)`) and scripts see the same errors as from the binding's own functions.
pub fn error_value(lua: &Lua, err: Error<LuaError>) -> mlua::Result<Value> {
    let (kind, message) = match err {
        Error::Host(LuaError::Raised(r)) => return r.value(lua),
        Error::Host(LuaError::Lua(e)) => match e.downcast_ref::<BindingError>() {
            Some(b) => (b.kind, b.message.clone()),
            None => ("LuaError", e.to_string()),
        },
        other => (other.kind(), other.to_string()),
    };
    error_table(lua, kind, &message, script_position(lua).as_deref()).map(Value::Table)
}

/// `"chunk:line"` of the innermost running Lua function that is not the binding's own.
fn script_position(lua: &Lua) -> Option<String> {
    // Level 0 is the running Rust function; a handful of binding frames at most sit above
    // the script's. The bound keeps the walk short on deep stacks.
    (1..16).find_map(|level| {
        lua.inspect_stack(level, |d| {
            let src = d.source();
            if src.what == "C" || src.source.as_deref() == Some("=dynacast") {
                return None;
            }
            let line = d.current_line()?;
            Some(format!(
                "{}:{line}",
                src.short_src.as_deref().unwrap_or("?")
            ))
        })
        .flatten()
    })
}

impl From<Error<LuaError>> for mlua::Error {
    /// The error for an mlua callback: mlua's own error for [`LuaError::Lua`], otherwise
    /// the engine error wrapped with [`mlua::Error::external`]. To raise exactly what the
    /// binding raises (the same value, or a `dynacast.Error` table), use [`error_value`].
    fn from(err: Error<LuaError>) -> Self {
        match err {
            Error::Host(LuaError::Lua(e)) => e,
            other => mlua::Error::external(other),
        }
    }
}

/// `{ kind = kind, message = message, where = position }` with the `dynacast.Error`
/// metatable.
pub(crate) fn error_table(
    lua: &Lua,
    kind: &str,
    message: &str,
    position: Option<&str>,
) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 3)?;
    t.raw_set("kind", kind)?;
    t.raw_set("message", message)?;
    t.raw_set("where", position)?;
    t.set_metatable(Some(binding(lua)?.error_mt.clone()))?;
    Ok(t)
}

/// The metatable of error tables: `tostring(e)` is `"<where>: <kind>: <message>"` (without
/// `"<where>: "` when the position is unknown).
pub(crate) fn error_metatable(lua: &Lua) -> mlua::Result<Table> {
    let mt = lua.create_table()?;
    mt.raw_set("__name", "dynacast.Error")?;
    mt.raw_set(
        "__tostring",
        lua.create_function(|_, e: Table| {
            let kind: String = e.raw_get("kind")?;
            let message: String = e.raw_get("message")?;
            Ok(match e.raw_get::<Option<String>>("where")? {
                Some(at) => format!("{at}: {kind}: {message}"),
                None => format!("{kind}: {message}"),
            })
        })?,
    )?;
    Ok(mt)
}
