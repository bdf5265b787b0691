//! `dynacast.interface(name, spec)` and `dynacast.class(name, spec)`: Lua tables to builders.
//!
//! Member tables are read in name order, so that a script defines the same slots in the
//! same order on every run. The arity of a method written in Lua is its parameter count,
//! less `self` for instance methods; a variadic function needs no fixed arity and is refused.
//!
//! Specs are strict: an unknown key, a list with a nil hole, a flag that is not a boolean,
//! a member name that is not a string or an arity outside `0..=MAX_ARITY` is a `TypeLoad`
//! error naming the key and the type.

use std::sync::Arc;

use mlua::{Function, Lua, Table, Value};

use super::error::LuaError;
use super::handles::{binding, type_userdata, LuaType};
use super::reload::{self, hook_for, lua_body_for, member_key, static_body_for};
use super::LuaHost;
use crate::class::ClassRef;
use crate::error::Error;
use crate::interface::{GenericInterface, InterfaceBuilder, InterfaceRef, TypeExpr, Variance};
use crate::runtime::Runtime;
use crate::types::TypeRef;

type Result<T> = std::result::Result<T, Error<LuaError>>;

/// The largest arity a spec may declare (Lua functions take at most about 200 parameters).
pub const MAX_ARITY: i64 = 200;

const INTERFACE_KEYS: &[&str] = &[
    "params",
    "bases",
    "methods",
    "helpers",
    "statics",
    "overrides",
    "reabstract",
    "implementation",
    "redefine",
];
const CLASS_KEYS: &[&str] = &[
    "base",
    "implements",
    "methods",
    "abstract",
    "hook",
    "redefine",
    "metamethods",
    "init",
    "maps",
    "statics",
];
/// The metamethods a class spec may declare for its objects.
const METAMETHODS: &[&str] = &[
    "__tostring",
    "__eq",
    "__lt",
    "__le",
    "__len",
    "__concat",
    "__call",
    "__close",
    "__unm",
    "__add",
    "__sub",
    "__mul",
    "__div",
    "__mod",
    "__idiv",
    "__pow",
];

/// Refuses keys of `spec` outside `allowed`.
fn check_keys(owner: &str, spec: &Table, allowed: &[&str]) -> Result<()> {
    for pair in spec.pairs::<Value, Value>() {
        let (key, _) = pair?;
        let known = match &key {
            Value::String(s) => allowed
                .iter()
                .any(|a| s.as_bytes().as_ref() == a.as_bytes()),
            _ => false,
        };
        if !known {
            return Err(type_load(
                owner,
                format!(
                    "unknown key {} in the spec (known keys: {})",
                    describe_key(&key),
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn describe_key(key: &Value) -> String {
    match key {
        Value::String(s) => format!("'{}'", s.to_string_lossy()),
        Value::Integer(n) => format!("[{n}]"),
        other => format!("of type {}", other.type_name()),
    }
}

/// `spec[key]` as a flag: absent is false, anything but a boolean an error.
fn flag(owner: &str, spec: &Table, key: &str) -> Result<bool> {
    match spec.raw_get::<Value>(key)? {
        Value::Nil => Ok(false),
        Value::Boolean(b) => Ok(b),
        other => Err(type_load(
            owner,
            format!("'{key}' must be a boolean, got a {}", other.type_name()),
        )),
    }
}

/// `spec[key]` as a table (`what` names it in the error), or `None` when absent.
fn optional_table(owner: &str, spec: &Table, key: &str, what: &str) -> Result<Option<Table>> {
    match spec.raw_get::<Value>(key)? {
        Value::Nil => Ok(None),
        Value::Table(t) => Ok(Some(t)),
        other => Err(type_load(
            owner,
            format!("'{key}' must be a {what}, got a {}", other.type_name()),
        )),
    }
}

/// `spec[key]` as a list: a table whose keys are exactly 1..n.
fn list(owner: &str, spec: &Table, key: &str) -> Result<Vec<Value>> {
    let Some(table) = optional_table(owner, spec, key, "list")? else {
        return Ok(Vec::new());
    };
    let mut items: Vec<(i64, Value)> = Vec::new();
    for pair in table.pairs::<Value, Value>() {
        let (k, v) = pair?;
        match k {
            Value::Integer(i) if i >= 1 => items.push((i, v)),
            other => {
                return Err(type_load(
                    owner,
                    format!(
                        "'{key}' must be a list, but has the key {}",
                        describe_key(&other)
                    ),
                ))
            }
        }
    }
    items.sort_by_key(|(i, _)| *i);
    if let Some(pos) = items.iter().zip(1..).position(|((i, _), want)| *i != want) {
        return Err(type_load(
            owner,
            format!("'{key}' has a hole: entry {} is nil", pos + 1),
        ));
    }
    Ok(items.into_iter().map(|(_, v)| v).collect())
}

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
    list(owner, spec, field)?
        .iter()
        .map(|v| type_expr(owner, v))
        .collect()
}

/// `spec[field]` as `(name, value)` pairs in name order; names must be strings.
/// Member names reserved for the binding's own keys in class method tables.
const RESERVED_PREFIX: &[u8] = b"\0dynacast.";

fn members(owner: &str, spec: &Table, field: &str) -> Result<Vec<(String, Value)>> {
    let Some(table) = optional_table(owner, spec, field, "table")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for pair in table.pairs::<Value, Value>() {
        let (k, v) = pair?;
        match k {
            // The method tables keep `I.m` resolutions under names beginning so (see
            // `caller` in `prelude.lua`).
            Value::String(s) if s.as_bytes().starts_with(RESERVED_PREFIX) => {
                return Err(type_load(
                    owner,
                    format!(
                        "'{field}' has a member name beginning with \"\\0dynacast.\", which the binding reserves"
                    ),
                ))
            }
            Value::String(s) => out.push((s.to_str()?.to_owned(), v)),
            other => {
                return Err(type_load(
                    owner,
                    format!(
                        "'{field}' names its members with strings, got the key {}",
                        describe_key(&other)
                    ),
                ))
            }
        }
    }
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
    if !(0..=MAX_ARITY).contains(&n) {
        return Err(type_load(
            owner,
            format!("'{member}' has an arity out of range ({n}; 0 to {MAX_ARITY})"),
        ));
    }
    usize::try_from(n)
        .map_err(|_| type_load(owner, format!("'{member}' has an arity out of range ({n})")))
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
    if spec.raw_get::<Value>("params")? != Value::Nil {
        return Err(type_load(
            name,
            "'params' makes a generic interface: define it with dynacast.generic_interface".into(),
        ));
    }
    Ok(members_of(lua, rt, name, &spec, rt.interface(name))?
        .define()?
        .as_type())
}

/// `dynacast.generic_interface(name, spec)`: `spec.params` lists one variance per type
/// parameter (`"out"`, `"in"` or `"invariant"`); the rest is an interface spec.
pub(crate) fn generic_interface(
    lua: &Lua,
    rt: &Runtime<LuaHost>,
    name: &str,
    spec: Table,
) -> Result<GenericInterface<LuaHost>> {
    let mut variances = Vec::new();
    for v in list(name, &spec, "params")? {
        variances.push(match &v {
            Value::String(s) if s.as_bytes().as_ref() == b"out" => Variance::Covariant,
            Value::String(s) if s.as_bytes().as_ref() == b"in" => Variance::Contravariant,
            Value::String(s) if s.as_bytes().as_ref() == b"invariant" => Variance::Invariant,
            other => {
                return Err(type_load(
                    name,
                    format!(
                        "'params' lists variances (\"out\", \"in\" or \"invariant\"), got {}",
                        match other {
                            Value::String(s) => format!("'{}'", s.to_string_lossy()),
                            v => format!("a {}", v.type_name()),
                        }
                    ),
                ))
            }
        });
    }
    let builder = rt.generic_interface(name, &variances);
    members_of(lua, rt, name, &spec, builder)?.define_generic()
}

/// The members of an interface spec, added to `b`.
fn members_of(
    lua: &Lua,
    rt: &Runtime<LuaHost>,
    name: &str,
    spec: &Table,
    mut b: InterfaceBuilder<LuaHost>,
) -> Result<InterfaceBuilder<LuaHost>> {
    let spec = spec.clone();
    check_keys(name, &spec, INTERFACE_KEYS)?;
    let bases = type_list(name, &spec, "bases")?;
    for base in &bases {
        b = b.base(base.clone());
    }
    for (member, value) in members(name, &spec, "methods")? {
        b = match value {
            Value::Integer(n) => b.abstract_method(&member, abstract_arity(name, &member, n)?),
            Value::Function(f) => {
                let n = arity(name, &member, &f, true)?;
                let key = member_key(name, "methods", &member);
                b.default_method_body(&member, n, lua_body_for(lua, key, f)?)
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
    for (member, value) in members(name, &spec, "helpers")? {
        let f = function(name, &member, value)?;
        let n = arity(name, &member, &f, true)?;
        let key = member_key(name, "helpers", &member);
        b = b.helper_body(&member, n, lua_body_for(lua, key, f)?);
    }
    for (member, value) in members(name, &spec, "statics")? {
        let f = function(name, &member, value)?;
        let n = arity(name, &member, &f, false)?;
        let key = member_key(name, "statics", &member);
        b = b.static_method_body(&member, n, static_body_for(lua, key, f)?);
    }
    for (key, value) in members(name, &spec, "overrides")? {
        let f = function(name, &key, value)?;
        let (base, method) = override_target(name, rt, &bases, &key)?;
        let body = lua_body_for(lua, member_key(name, "overrides", &key), f)?;
        b = b.override_base_body(base, &method, body);
    }
    for key in list(name, &spec, "reabstract")? {
        let Value::String(key) = key else {
            return Err(type_load(
                name,
                format!("'reabstract' lists method names, got a {}", key.type_name()),
            ));
        };
        let (base, method) = override_target(name, rt, &bases, &key.to_str()?)?;
        b = b.reabstract(base, &method);
    }
    if flag(name, &spec, "implementation")? {
        b = b.dynamic_castable_implementation();
    }
    // A reload redefines what it re-runs.
    if flag(name, &spec, "redefine")? || binding(lua)?.reload.reloading() {
        b = b.redefine();
    }
    Ok(b)
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
    check_keys(name, &spec, CLASS_KEYS)?;
    let mut b = rt.class(name);
    let base: Option<ClassRef<LuaHost>> = match spec.raw_get::<Value>("base")? {
        Value::Nil => None,
        v => {
            let expr = type_expr(name, &v)?;
            let now = current(rt, &expr).and_then(|t| t.as_class().cloned());
            b = b.base(expr);
            now
        }
    };
    let implements = type_list(name, &spec, "implements")?;
    for iface in &implements {
        b = b.implement(iface.clone());
    }
    let own = lua.create_table()?;
    for (member, value) in members(name, &spec, "methods")? {
        if let Value::Function(f) = &value {
            own.raw_set(member.as_str(), f)?;
        }
        b = match value {
            Value::Integer(n) => b.abstract_method(&member, abstract_arity(name, &member, n)?),
            Value::Function(f) => {
                let key = member_key(name, "methods", &member);
                // A name the base class already has overrides its slot; a new name is a
                // new virtual method.
                if base
                    .as_ref()
                    .is_some_and(|c| c.virtual_method(&member).is_ok())
                {
                    b.override_method_body(&member, lua_body_for(lua, key, f)?)
                } else {
                    let n = arity(name, &member, &f, true)?;
                    b.virtual_method_body(&member, n, lua_body_for(lua, key, f)?)
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
    for (key, value) in members(name, &spec, "maps")? {
        let (iface, iface_method) = key.rsplit_once('.').ok_or_else(|| {
            type_load(
                name,
                format!("'maps' keys are \"Interface.method\", got '{key}'"),
            )
        })?;
        let Value::String(class_method) = value else {
            return Err(type_load(
                name,
                format!(
                    "'maps' maps '{key}' to a class method name, got a {}",
                    value.type_name()
                ),
            ));
        };
        // An interface the spec implements, by its name (an instantiated generic's name
        // included), else a defined type of that name.
        let target = implements
            .iter()
            .filter_map(|e| current(rt, e))
            .find(|t| t.name() == iface)
            .map_or_else(|| TypeExpr::Named(Arc::from(iface)), TypeExpr::Type);
        b = b.map(target, iface_method, &class_method.to_str()?);
    }
    let statics = lua.create_table()?;
    for (member, value) in members(name, &spec, "statics")? {
        if own.raw_get::<Value>(member.as_str())? != Value::Nil {
            return Err(type_load(
                name,
                format!("'{member}' is both a method and a static"),
            ));
        }
        statics.raw_set(member.as_str(), function(name, &member, value)?)?;
    }
    let metamethods = lua.create_table()?;
    for (key, value) in members(name, &spec, "metamethods")? {
        if !METAMETHODS.contains(&key.as_str()) {
            return Err(type_load(
                name,
                format!(
                    "'metamethods' has the unknown key '{key}' (known: {})",
                    METAMETHODS.join(", ")
                ),
            ));
        }
        metamethods.raw_set(key.as_str(), function(name, &key, value)?)?;
    }
    let init = match spec.raw_get::<Value>("init")? {
        Value::Nil => None,
        v => Some(function(name, "init", v)?),
    };
    let mut hook_changed = false;
    match spec.raw_get::<Value>("hook")? {
        Value::Nil => {}
        Value::Table(hook) => {
            let (hook, changed) = hook_for(lua, name, hook)?;
            hook_changed = changed;
            b = b.shared_hook(hook);
        }
        other => {
            return Err(type_load(
                name,
                format!("'hook' must be a table, got a {}", other.type_name()),
            ))
        }
    }
    let is_abstract = flag(name, &spec, "abstract")?;
    if is_abstract {
        b = b.abstract_class();
    }
    let reloading = binding(lua)?.reload.reloading();
    if flag(name, &spec, "redefine")? || reloading {
        b = b.redefine();
    }
    // A reload's class takes over the live objects of the class it replaces (an abstract
    // one has none, and cannot have any).
    let replaced = match rt.lookup(name) {
        Some(TypeRef::Class(old)) if reloading && !is_abstract && !old.is_abstract() => Some(old),
        _ => None,
    };
    if let Some(old) = &replaced {
        b = b.take_over(old);
    }
    let class = b.define()?;
    match &replaced {
        Some(old) if *old != class => reload::take_over_objects(lua, old, &class)?,
        Some(_) if hook_changed => reload::flush_class(lua, &class)?,
        _ => {}
    }
    // The Lua side's view of the class: its Lua methods (for calls that stay in Lua), its
    // metamethods and its initializer, each inherited from the base class's.
    let bind = binding(lua)?;
    let this = type_userdata(&bind, lua, &class.as_type())?;
    let base = match class.base() {
        Some(c) => Value::UserData(type_userdata(&bind, lua, &c.as_type())?),
        None => Value::Nil,
    };
    let register: Function = bind.prelude.get("register_class")?;
    register.call::<()>((this, base, own, metamethods, init, statics))?;
    Ok(class.as_type())
}
