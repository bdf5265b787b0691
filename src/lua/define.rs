//! `dynacast.interface(name, spec)` and `dynacast.class(name, spec)`: Lua tables to builders.
//!
//! Member tables are read in name order, so that a script defines the same slots in the
//! same order on every run. The arity of a method written in Lua is its parameter count,
//! less `self` for instance methods; a variadic function needs no fixed arity and is refused.

use std::sync::Arc;

use mlua::{Function, Lua, Table, Value};

use super::callback::{lua_body, lua_static_body, LuaHook};
use super::error::LuaError;
use super::handles::LuaType;
use super::LuaHost;
use crate::class::ClassRef;
use crate::error::Error;
use crate::interface::{InterfaceRef, TypeExpr};
use crate::runtime::Runtime;
use crate::types::TypeRef;

type Result<T> = std::result::Result<T, Error<LuaError>>;

fn type_load(name: &str, message: String) -> Error<LuaError> {
    Error::TypeLoad {
        type_name: Arc::from(name),
        message,
    }
}

/// A type as a script writes it: a type handle, or a name to look up at definition.
pub(crate) fn type_expr(owner: &str, value: &Value) -> Result<TypeExpr<LuaHost>> {
    match value {
        Value::String(s) => Ok(TypeExpr::Named(Arc::from(s.to_str()?.as_ref()))),
        Value::UserData(ud) if ud.is::<LuaType>() => {
            Ok(TypeExpr::Type(ud.borrow::<LuaType>()?.0.clone()))
        }
        other => Err(type_load(
            owner,
            format!(
                "expected a type or a type name, got a {}",
                other.type_name()
            ),
        )),
    }
}

/// The type an expression names now, if any (names are looked up in `rt`).
fn current(rt: &Runtime<LuaHost>, expr: &TypeExpr<LuaHost>) -> Option<TypeRef<LuaHost>> {
    match expr {
        TypeExpr::Type(t) => Some(t.clone()),
        TypeExpr::Named(n) => rt.lookup(n),
        _ => None,
    }
}

/// `spec[field]` as a list of type expressions.
fn type_list(owner: &str, spec: &Table, field: &str) -> Result<Vec<TypeExpr<LuaHost>>> {
    match spec.get::<Option<Table>>(field)? {
        None => Ok(Vec::new()),
        Some(list) => list
            .sequence_values::<Value>()
            .map(|v| type_expr(owner, &v?))
            .collect(),
    }
}

/// `spec[field]` as `(name, value)` pairs in name order.
fn members(spec: &Table, field: &str) -> Result<Vec<(String, Value)>> {
    let Some(table) = spec.get::<Option<Table>>(field)? else {
        return Ok(Vec::new());
    };
    let mut out = table
        .pairs::<String, Value>()
        .collect::<mlua::Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn function(owner: &str, member: &str, value: Value) -> Result<Function> {
    match value {
        Value::Function(f) => Ok(f),
        other => Err(type_load(
            owner,
            format!("'{member}' must be a function, got a {}", other.type_name()),
        )),
    }
}

/// The arity of a Lua function: its parameter count, less `self` for an instance method.
fn arity(owner: &str, member: &str, f: &Function, has_self: bool) -> Result<usize> {
    let info = f.info();
    if info.is_vararg || info.what == "C" {
        return Err(type_load(
            owner,
            format!("'{member}' takes a variable number of arguments; dynacast needs a fixed parameter list"),
        ));
    }
    let params = usize::from(info.num_params);
    if !has_self {
        return Ok(params);
    }
    params.checked_sub(1).ok_or_else(|| {
        type_load(
            owner,
            format!("'{member}' must take self as its first parameter"),
        )
    })
}

fn abstract_arity(owner: &str, member: &str, n: i64) -> Result<usize> {
    usize::try_from(n)
        .map_err(|_| type_load(owner, format!("'{member}' has a negative arity ({n})")))
}

/// Which base interface an override key means: `"IBase.method"`, or `"method"` for the
/// first base (in base-list order, bases of bases included) that declares it.
fn override_target(
    owner: &str,
    rt: &Runtime<LuaHost>,
    bases: &[TypeExpr<LuaHost>],
    key: &str,
) -> Result<(TypeExpr<LuaHost>, String)> {
    let known: Vec<InterfaceRef<LuaHost>> = bases
        .iter()
        .filter_map(|b| current(rt, b))
        .filter_map(|t| t.as_interface().cloned())
        .collect();
    if let Some((base, method)) = key.rsplit_once('.') {
        let expr = known
            .iter()
            .flat_map(|b| std::iter::once(b).chain(b.all_bases()))
            .find(|i| i.name() == base)
            .map(|i| TypeExpr::Type(i.as_type()))
            .unwrap_or_else(|| TypeExpr::Named(Arc::from(base)));
        return Ok((expr, method.to_owned()));
    }
    known
        .iter()
        .find_map(|b| b.method(key).ok())
        .map(|m| (TypeExpr::Type(m.interface().as_type()), key.to_owned()))
        .ok_or_else(|| {
            type_load(
                owner,
                format!("no base interface of '{owner}' declares a method '{key}'"),
            )
        })
}

/// `dynacast.interface(name, spec)`.
pub(crate) fn interface(
    lua: &Lua,
    rt: &Runtime<LuaHost>,
    name: &str,
    spec: Option<Table>,
) -> Result<TypeRef<LuaHost>> {
    let spec = match spec {
        Some(s) => s,
        None => lua.create_table()?,
    };
    let mut b = rt.interface(name);
    let bases = type_list(name, &spec, "bases")?;
    for base in &bases {
        b = b.base(base.clone());
    }
    for (member, value) in members(&spec, "methods")? {
        b = match value {
            Value::Integer(n) => b.method(&member, abstract_arity(name, &member, n)?),
            Value::Function(f) => {
                let n = arity(name, &member, &f, true)?;
                b.default_method(&member, n, lua_body(lua, f)?)
            }
            other => {
                return Err(type_load(
                    name,
                    format!(
                        "method '{member}' must be an arity (abstract) or a function (default body), got a {}",
                        other.type_name()
                    ),
                ))
            }
        };
    }
    for (member, value) in members(&spec, "helpers")? {
        let f = function(name, &member, value)?;
        let n = arity(name, &member, &f, true)?;
        b = b.helper(&member, n, lua_body(lua, f)?);
    }
    for (member, value) in members(&spec, "statics")? {
        let f = function(name, &member, value)?;
        let n = arity(name, &member, &f, false)?;
        b = b.static_method(&member, n, lua_static_body(lua, f)?);
    }
    for (key, value) in members(&spec, "overrides")? {
        let f = function(name, &key, value)?;
        let (base, method) = override_target(name, rt, &bases, &key)?;
        b = b.override_base(base, &method, lua_body(lua, f)?);
    }
    if let Some(list) = spec.get::<Option<Table>>("reabstract")? {
        for key in list.sequence_values::<String>() {
            let (base, method) = override_target(name, rt, &bases, &key?)?;
            b = b.reabstract(base, &method);
        }
    }
    if spec.get::<Option<bool>>("implementation")?.unwrap_or(false) {
        b = b.dynamic_castable_implementation();
    }
    if spec.get::<Option<bool>>("redefine")?.unwrap_or(false) {
        b = b.redefine();
    }
    Ok(b.define()?.as_type())
}

/// `dynacast.class(name, spec)`.
pub(crate) fn class(
    lua: &Lua,
    rt: &Runtime<LuaHost>,
    name: &str,
    spec: Option<Table>,
) -> Result<TypeRef<LuaHost>> {
    let spec = match spec {
        Some(s) => s,
        None => lua.create_table()?,
    };
    let mut b = rt.class(name);
    let base: Option<ClassRef<LuaHost>> = match spec.get::<Value>("base")? {
        Value::Nil => None,
        v => {
            let expr = type_expr(name, &v)?;
            let now = current(rt, &expr).and_then(|t| t.as_class().cloned());
            b = b.base(expr);
            now
        }
    };
    for iface in type_list(name, &spec, "implements")? {
        b = b.implement(iface);
    }
    for (member, value) in members(&spec, "methods")? {
        b = match value {
            Value::Integer(n) => b.abstract_method(&member, abstract_arity(name, &member, n)?),
            Value::Function(f) => {
                // A name the base class already has overrides its slot; a new name is a
                // new virtual method.
                if base.as_ref().is_some_and(|c| c.method(&member).is_ok()) {
                    b.override_method(&member, lua_body(lua, f)?)
                } else {
                    let n = arity(name, &member, &f, true)?;
                    b.method(&member, n, lua_body(lua, f)?)
                }
            }
            other => {
                return Err(type_load(
                    name,
                    format!(
                        "method '{member}' must be an arity (abstract) or a function, got a {}",
                        other.type_name()
                    ),
                ))
            }
        };
    }
    if let Some(hook) = spec.get::<Option<Table>>("hook")? {
        b = b.hook(LuaHook::new(lua, hook)?);
    }
    if spec.get::<Option<bool>>("abstract")?.unwrap_or(false) {
        b = b.abstract_class();
    }
    if spec.get::<Option<bool>>("redefine")?.unwrap_or(false) {
        b = b.redefine();
    }
    Ok(b.define()?.as_type())
}
