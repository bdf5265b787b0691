//! The functions behind the `dynacast` Lua table, and `install`.

use std::rc::Rc;

use mlua::{FromLuaMulti, Function, IntoLua, Lua, MultiValue, Table, UserDataRef, Value, Variadic};

use super::callback::{body_id, LuaHook};
use super::define;
use super::error::{bad_argument, error_metatable, error_value, foreign_state, LuaError};
use super::handles::{
    binding, claim_runtime, class_to_lua, object_table, publish_identity, rescue, sweep,
    type_to_lua, Binding, LuaGeneric, LuaMethod, LuaPayload, LuaType, GENERIC_CALL, METHOD_CALL,
    METHOD_INDEX, TYPE_CALL, TYPE_INDEX,
};
use super::reload;
use super::LuaHost;
use crate::by_name::NamedMethod;
use crate::error::Error;
use crate::object::Object;
use crate::runtime::Runtime;
use crate::types::{CastTarget, TypeRef};

type Result<T> = std::result::Result<T, Error<LuaError>>;
type MethodArg = UserDataRef<LuaMethod>;

const PRELUDE: &str = include_str!("prelude.lua");
/// The prelude's `wrap`, which turns a status function into one that raises.
const WRAP: &str = "dynacast.wrap";

/// A Lua function calling `f`, for an embedder's own Rust callbacks that call the engine:
/// its failures are raised exactly as the binding's own functions raise them (a value a
/// Lua body raised, unchanged; anything else as a `dynacast.Error` table with the position
/// of the calling script line).
///
/// ```
/// use dynacast::lua::{create_function, install, LuaHost};
/// use dynacast::{Error, Runtime};
///
/// let lua = mlua::Lua::new();
/// install(&lua, &Runtime::<LuaHost>::new())?;
/// let f = create_function(&lua, |_, n: i64| {
///     if n < 0 {
///         return Err(Error::TypeLoad { type_name: "T".into(), message: "negative".into() });
///     }
///     Ok(n * 2)
/// })?;
/// lua.globals().set("double", f)?;
/// lua.load(r#"
///     assert(double(21) == 42)
///     local ok, e = pcall(double, -1)
///     assert(not ok and getmetatable(e) == dynacast.Error and e.kind == "TypeLoad")
/// "#).exec()?;
/// # Ok::<(), mlua::Error>(())
/// ```
pub fn create_function<A, R, F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    A: FromLuaMulti,
    R: IntoLua,
    F: Fn(&Lua, A) -> Result<R> + 'static,
{
    let wrap: Function = lua.named_registry_value(WRAP)?;
    wrap.call(status_fn(lua, f)?)
}

/// A Lua function answering `true, result` or `false, error` (the prelude raises it).
/// A fixed pair, pushed straight onto the Lua stack: no result list is allocated. Arguments
/// that do not convert to `A` fail with a `BadArgument` error.
fn status_fn<A, R, F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    A: FromLuaMulti,
    R: IntoLua,
    F: Fn(&Lua, A) -> Result<R> + 'static,
{
    lua.create_function(move |lua, args: MultiValue| {
        let result = A::from_lua_multi(args, lua)
            .map_err(|e| Error::from(bad_argument(argument_message(&e))))
            .and_then(|args| f(lua, args))
            .and_then(|r| Ok(r.into_lua(lua)?));
        match result {
            Ok(r) => Ok((true, r)),
            Err(e) => Ok((false, error_value(lua, e)?)),
        }
    })
}

/// [`status_fn`] for a function of two values (the casts, which every hook cast goes
/// through): taken straight from the Lua stack, no argument list is made, and the
/// conversion cannot fail (a missing value is nil, an extra one is dropped).
fn status_fn_of_two<R, F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    R: IntoLua,
    F: Fn(&Lua, (Value, Value)) -> Result<R> + 'static,
{
    lua.create_function(move |lua, args: (Value, Value)| {
        match f(lua, args).and_then(|r| Ok(r.into_lua(lua)?)) {
            Ok(r) => Ok((true, r)),
            Err(e) => Ok((false, error_value(lua, e)?)),
        }
    })
}

/// mlua's conversion error, without its Rust-side wrapping.
fn argument_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::BadArgument { pos, cause, .. } => format!("argument #{pos}: {cause}"),
        other => other.to_string(),
    }
}

/// A type argument: a type handle or the name of a defined type.
fn target(rt: &Runtime<LuaHost>, v: &Value) -> Result<TypeRef<LuaHost>> {
    match v {
        Value::UserData(ud) if ud.is::<LuaType>() => Ok(ud.borrow::<LuaType>()?.0.clone()),
        Value::String(s) => {
            let name = s.to_string_lossy();
            rt.lookup(&name).ok_or_else(|| Error::TypeLoad {
                type_name: name.as_str().into(),
                message: format!("unknown type '{name}'"),
            })
        }
        other => Err(bad_argument(format!(
            "expected a type or a type name, got a {}",
            other.type_name()
        ))
        .into()),
    }
}

fn call_method(lua: &Lua, obj: &Object<LuaHost>, m: &LuaMethod, args: &[Value]) -> Result<Value> {
    let mut cx = lua.clone();
    match m {
        LuaMethod::Interface(m) => obj.call(m, args, &mut cx),
        LuaMethod::Class(m) => obj.call_virtual(m, args, &mut cx),
    }
}

/// The engine object behind a script's value.
fn object(lua: &Lua, value: &Value) -> Result<Object<LuaHost>> {
    Ok(binding(lua)?.object_of(lua, value)?)
}

fn api_table(lua: &Lua, rt: &Runtime<LuaHost>) -> mlua::Result<Table> {
    let api = lua.create_table()?;
    let r = rt.clone();
    api.raw_set(
        "interface",
        status_fn(lua, move |lua, (name, spec): (String, Option<Table>)| {
            Ok(type_to_lua(lua, &define::interface(lua, &r, &name, spec)?)?)
        })?,
    )?;
    let r = rt.clone();
    api.raw_set(
        "class",
        status_fn(lua, move |lua, (name, spec): (String, Option<Table>)| {
            Ok(type_to_lua(lua, &define::class(lua, &r, &name, spec)?)?)
        })?,
    )?;
    let r = rt.clone();
    api.raw_set(
        "generic_interface",
        status_fn(lua, move |lua, (name, spec): (String, Table)| {
            let def = define::generic_interface(lua, &r, &name, spec)?;
            Ok(lua.create_userdata(LuaGeneric(def))?)
        })?,
    )?;
    let r = rt.clone();
    api.raw_set(
        "instantiate",
        status_fn(
            lua,
            move |lua, (def, args): (UserDataRef<LuaGeneric>, Variadic<Value>)| {
                let args = args
                    .iter()
                    .map(|a| target(&r, a))
                    .collect::<Result<Vec<_>>>()?;
                Ok(type_to_lua(lua, &def.0.instantiate(&args)?.as_type())?)
            },
        )?,
    )?;
    let r = rt.clone();
    api.raw_set(
        "new",
        status_fn(lua, move |lua, (class, state): (Value, Option<Table>)| {
            let class = match target(&r, &class)? {
                TypeRef::Class(c) => c,
                TypeRef::Interface(i) => {
                    return Err(bad_argument(format!(
                        "dynacast.new needs a class; '{}' is an interface",
                        i.name()
                    ))
                    .into())
                }
            };
            let fields = match state {
                Some(s) => s,
                None => lua.create_table()?,
            };
            let obj = r.new_object(&class, LuaPayload::unattached())?;
            Ok(object_table(&*binding(lua)?, lua, &obj, Some(fields))?)
        })?,
    )?;
    let r = rt.clone();
    api.raw_set(
        "lookup",
        status_fn(lua, move |lua, name: String| match r.lookup(&name) {
            Some(t) => Ok(Value::UserData(type_to_lua(lua, &t)?)),
            None => Ok(Value::Nil),
        })?,
    )?;
    let r = rt.clone();
    api.raw_set(
        "is",
        status_fn_of_two(lua, move |lua, (obj, t)| {
            object(lua, &obj)?.is_instance_of(&target(&r, &t)?, &mut lua.clone())
        })?,
    )?;
    let r = rt.clone();
    api.raw_set(
        "cast",
        status_fn_of_two(lua, move |lua, (value, t)| {
            object(lua, &value)?.cast(&target(&r, &t)?, &mut lua.clone())?;
            Ok(value)
        })?,
    )?;
    api.raw_set(
        "call",
        status_fn(
            lua,
            |lua, (obj, m, args): (Value, MethodArg, Variadic<Value>)| {
                call_method(lua, &object(lua, &obj)?, &m, &args)
            },
        )?,
    )?;
    api.raw_set(
        "invoke",
        status_fn(lua, |lua, (m, args): (MethodArg, Variadic<Value>)| {
            if let LuaMethod::Interface(sm) = &*m {
                if sm.is_static() {
                    return sm.call_static(&args, &mut lua.clone());
                }
            }
            let Some((this, args)) = args.split_first() else {
                return Err(bad_argument(
                    "a method handle is called with the object first, got no value",
                )
                .into());
            };
            call_method(lua, &object(lua, this)?, &m, args)
        })?,
    )?;
    api.raw_set(
        "class_of",
        status_fn(lua, |lua, obj: Value| {
            Ok(class_to_lua(lua, &object(lua, &obj)?.current_class())?)
        })?,
    )?;
    api.raw_set(
        "method",
        status_fn(lua, |lua, (t, name): (UserDataRef<LuaType>, String)| {
            let m = match &t.0 {
                TypeRef::Interface(i) => LuaMethod::Interface(i.method(&name)?),
                TypeRef::Class(c) => LuaMethod::Class(c.virtual_method(&name)?),
            };
            Ok(lua.create_userdata(m)?)
        })?,
    )?;
    let r = rt.clone();
    api.raw_set(
        "flush",
        status_fn(lua, move |lua, class: Option<Value>| {
            match class {
                None => {
                    r.flush()?;
                    let forget_all: Function = binding(lua)?.prelude.get("forget_all")?;
                    forget_all.call::<()>(())?;
                }
                Some(v) => match target(&r, &v)? {
                    TypeRef::Class(c) => reload::flush_class(lua, &c)?,
                    TypeRef::Interface(i) => {
                        return Err(bad_argument(format!(
                            "dynacast.flush takes a class; '{}' is an interface",
                            i.name()
                        ))
                        .into())
                    }
                },
            }
            Ok(Value::Nil)
        })?,
    )?;
    // Reflection.
    api.raw_set(
        "methods",
        status_fn(lua, |lua, t: UserDataRef<LuaType>| {
            let names: Vec<String> = match &t.0 {
                TypeRef::Interface(i) => i.methods().iter().map(|m| m.name().to_owned()).collect(),
                TypeRef::Class(c) => c.method_names(),
            };
            Ok(lua.create_sequence_from(names)?)
        })?,
    )?;
    api.raw_set(
        "interfaces",
        status_fn(lua, |lua, t: UserDataRef<LuaType>| {
            let list = match &t.0 {
                TypeRef::Interface(i) => i.all_bases().to_vec(),
                TypeRef::Class(c) => c.interfaces(),
            };
            let out = lua.create_table_with_capacity(list.len(), 0)?;
            for i in &list {
                out.raw_push(type_to_lua(lua, &i.as_type())?)?;
            }
            Ok(out)
        })?,
    )?;
    api.raw_set(
        "base",
        status_fn(lua, |lua, t: UserDataRef<LuaType>| match &t.0 {
            TypeRef::Class(c) => match c.base() {
                Some(b) => Ok(Value::UserData(class_to_lua(lua, b)?)),
                None => Ok(Value::Nil),
            },
            TypeRef::Interface(_) => Ok(Value::Nil),
        })?,
    )?;
    let r = rt.clone();
    api.raw_set(
        "assignable_to",
        status_fn(lua, move |_, (t, other): (UserDataRef<LuaType>, Value)| {
            Ok(t.0.is_assignable_to(&target(&r, &other)?))
        })?,
    )?;
    Ok(api)
}

/// What `obj.key` finds on an object of `class` when the class defines no Lua method of
/// that name: the class's virtual method `key`, else the one method `key` among the
/// interfaces the class implements in its metadata, else nothing.
fn resolve(lua: &Lua, (class, key): (UserDataRef<LuaType>, Value)) -> mlua::Result<Value> {
    let (TypeRef::Class(c), Value::String(key)) = (&class.0, key) else {
        return Ok(Value::Nil);
    };
    let key = key.to_str()?;
    let method = match c.find_method(&key) {
        Ok(NamedMethod::Class(m)) => LuaMethod::Class(m),
        Ok(NamedMethod::Interface(m)) => LuaMethod::Interface(m),
        Err(Error::AmbiguousName { first, second, .. }) => {
            return Err(mlua::Error::external(super::error::BindingError {
                kind: "AmbiguousName",
                message: format!(
                    "class '{}' implements '{key}' of both '{first}' and '{second}'; call {first}.{key}(obj) or {second}.{key}(obj)",
                    c.name(),
                ),
            }));
        }
        Err(_) => return Ok(Value::Nil),
    };
    Ok(Value::UserData(lua.create_userdata(method)?))
}

/// Fields of a type handle (`t.name`, …): plain functions, they cannot fail.
fn type_field(lua: &Lua, (t, key): (UserDataRef<LuaType>, String)) -> mlua::Result<Value> {
    Ok(match (key.as_str(), &t.0) {
        ("name", t) => Value::String(lua.create_string(t.name())?),
        ("is_interface", t) => Value::Boolean(t.as_interface().is_some()),
        ("is_implementation", TypeRef::Interface(i)) => {
            Value::Boolean(i.is_dynamic_castable_implementation())
        }
        ("cached_resolutions", TypeRef::Class(c)) => {
            Value::Integer(i64::try_from(c.cached_resolutions()).unwrap_or(i64::MAX))
        }
        _ => Value::Nil,
    })
}

/// Installs dynacast in `lua`: the global table `dynacast` (also returned), whose types and
/// objects belong to `rt`. One runtime per Lua state, and one Lua state per runtime for the
/// runtime's whole life: installing twice in a state, or a runtime already installed in
/// another state, is a `ForeignState` error.
pub fn install(lua: &Lua, rt: &Runtime<LuaHost>) -> mlua::Result<Table> {
    if lua.app_data_ref::<Rc<Binding>>().is_some() {
        return Err(foreign_state(
            "dynacast is already installed in this Lua state",
        ));
    }
    if !claim_runtime(rt.id()) {
        return Err(foreign_state(
            "this dynacast runtime is already installed in a Lua state; a runtime serves one Lua state",
        ));
    }
    let error_mt = error_metatable(lua)?;

    let raw = lua.create_table()?;
    raw.raw_set("api", api_table(lua, rt)?)?;
    raw.raw_set("error_mt", &error_mt)?;
    raw.raw_set("rescue", lua.create_function(rescue)?)?;
    raw.raw_set("sweep", lua.create_function(sweep)?)?;
    raw.raw_set(
        "resolve",
        status_fn(lua, |lua, args| Ok(resolve(lua, args)?))?,
    )?;
    raw.raw_set("type_field", lua.create_function(type_field)?)?;
    raw.raw_set(
        "static_answer",
        status_fn(lua, |lua, (obj, t): (Value, UserDataRef<LuaType>)| {
            let b = binding(lua)?;
            let class = b.object_of(lua, &obj)?.current_class();
            // The metadata's answer holds for every object of the class, for good; without
            // a hook it is also the final answer. Otherwise the hook decides, every time:
            // a hook written in Lua, asked about an interface of this runtime, is called
            // by the prelude (its holder table is the answer); any other through the
            // engine (nil), which also refuses a type of another runtime.
            Ok(if class.as_type().is_assignable_to(&t.0) {
                Value::Boolean(true)
            } else if !class.has_hook() {
                Value::Boolean(false)
            } else if t.0.as_interface().is_some() && t.0.runtime_id() == b.runtime_id {
                match class.hook_as::<LuaHook>() {
                    Some(hook) => Value::Table(hook.holder(lua)?),
                    None => Value::Nil,
                }
            } else {
                Value::Nil
            })
        })?,
    )?;
    raw.raw_set(
        "cast_failed",
        status_fn(lua, |lua, (obj, t): (Value, UserDataRef<LuaType>)| {
            // The engine's error for a cast its hook answered no to (rule B4), for the
            // casts the prelude makes with a Lua hook.
            let obj = binding(lua)?.object_of(lua, &obj)?;
            Err::<Value, _>(obj.invalid_cast(t.0.view()))
        })?,
    )?;
    raw.raw_set(
        "resolve_call",
        status_fn(lua, |lua, (m, obj): (MethodArg, Value)| {
            let LuaMethod::Interface(m) = &*m else {
                return Ok(Value::Nil);
            };
            let b = binding(lua)?;
            let body = b.object_of(lua, &obj)?.resolve(m, &mut lua.clone())?;
            Ok(b.bodies.raw_get::<Value>(body_id(&body))?)
        })?,
    )?;
    raw.raw_set(
        "lua_callable_arity",
        lua.create_function(|_, m: Value| {
            // The arity of an interface's instance method handle (the calls a script may
            // run from Lua once the engine has resolved them); false for anything else.
            Ok(match &m {
                Value::UserData(ud) => match ud.borrow::<LuaMethod>().as_deref() {
                    Ok(LuaMethod::Interface(m)) if !m.is_static() => {
                        Value::Integer(i64::try_from(m.arity()).unwrap_or(i64::MAX))
                    }
                    _ => Value::Boolean(false),
                },
                _ => Value::Boolean(false),
            })
        })?,
    )?;
    raw.raw_set(
        "method_field",
        lua.create_function(|lua, (m, key): (UserDataRef<LuaMethod>, String)| {
            Ok(match (key.as_str(), &*m) {
                ("name", LuaMethod::Interface(m)) => Value::String(lua.create_string(m.name())?),
                ("name", LuaMethod::Class(m)) => Value::String(lua.create_string(m.name())?),
                ("arity", LuaMethod::Interface(m)) => Value::Integer(m.arity() as i64),
                ("arity", LuaMethod::Class(m)) => Value::Integer(m.arity() as i64),
                ("is_static", LuaMethod::Interface(m)) => Value::Boolean(m.is_static()),
                ("is_static", LuaMethod::Class(_)) => Value::Boolean(false),
                ("interface", LuaMethod::Interface(m)) => {
                    Value::UserData(type_to_lua(lua, &m.interface().as_type())?)
                }
                ("class", LuaMethod::Class(m)) => Value::UserData(class_to_lua(lua, m.class())?),
                _ => Value::Nil,
            })
        })?,
    )?;
    raw.raw_set(
        "metatable",
        lua.create_function(|_, t: Table| Ok(t.metatable()))?,
    )?;
    raw.raw_set(
        "set_metatable",
        lua.create_function(|_, (t, mt): (Table, Table)| t.set_metatable(Some(mt)))?,
    )?;
    raw.raw_set(
        "begin_reload",
        lua.create_function(|lua, ()| {
            binding(lua)?.reload.begin();
            Ok(())
        })?,
    )?;
    raw.raw_set(
        "end_reload",
        lua.create_function(|lua, ()| {
            binding(lua)?.reload.end();
            Ok(())
        })?,
    )?;
    raw.raw_set(
        "reload_error",
        lua.create_function(|lua, (message, got): (Option<String>, Option<String>)| {
            let message = match (message, got) {
                (Some(m), _) => format!("dynacast.reload could not load the file: {m}"),
                (None, got) => format!(
                    "dynacast.reload takes a function or the path of a Lua file, got a {}",
                    got.as_deref().unwrap_or("nil")
                ),
            };
            error_value(lua, bad_argument(message).into())
        })?,
    )?;
    let built: Table = lua.load(PRELUDE).set_name("=dynacast").call(raw)?;
    publish_identity(lua, &built.get("by_id")?)?;
    lua.set_app_data(Rc::new(Binding::new(
        lua,
        rt.id(),
        error_mt,
        built.clone(),
    )?));
    for (field, key) in [
        ("wrap", WRAP),
        ("type_call", TYPE_CALL),
        ("type_index", TYPE_INDEX),
        ("method_index", METHOD_INDEX),
        ("method_call", METHOD_CALL),
    ] {
        lua.set_named_registry_value(key, built.get::<Function>(field)?)?;
    }
    let api: Table = built.get("api")?;
    lua.set_named_registry_value(GENERIC_CALL, api.get::<Function>("instantiate")?)?;
    lua.globals().set("dynacast", &api)?;
    Ok(api)
}
