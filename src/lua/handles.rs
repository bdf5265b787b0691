//! What Lua holds: objects, types and method handles as userdata, and the per-Lua-state
//! binding state.
//!
//! Identity: an engine object (or type) is always the *same* Lua userdata while Lua can
//! still see it, so `rawequal`, `==` and table keys work on objects and types. Two
//! weak-valued tables map an object's payload id (a type's uid) to its userdata; when Lua
//! drops every reference, the entry goes, and the next hand-over makes a new userdata.

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use mlua::{AnyUserData, Function, Lua, Table, UserData, UserDataFields, UserDataMethods, Value};

use super::LuaHost;
use crate::class::{ClassMethodRef, ClassRef};
use crate::interface::MethodRef;
use crate::object::Object;
use crate::types::TypeRef;

/// Named registry entries holding the prelude's metamethods (see `prelude.lua`).
pub(crate) const OBJECT_INDEX: &str = "dynacast.object_index";
pub(crate) const OBJECT_NEWINDEX: &str = "dynacast.object_newindex";
pub(crate) const TYPE_INDEX: &str = "dynacast.type_index";
pub(crate) const METHOD_INDEX: &str = "dynacast.method_index";
pub(crate) const METHOD_CALL: &str = "dynacast.method_call";

/// The binding's state in one Lua state (its app data).
pub(crate) struct Binding {
    /// The original `pcall`, kept so that a script replacing the global cannot break calls.
    pub(crate) pcall: Function,
    /// payload id → object userdata, weak values.
    objects: Table,
    /// type uid → type userdata, weak values.
    types: Table,
    pub(crate) error_mt: Table,
    /// The hook's field names, made once (a Lua string made per call costs a hash and an
    /// intern-table look-up on the cast path).
    pub(crate) is_implemented_key: mlua::String,
    pub(crate) get_implementation_key: mlua::String,
}

impl Binding {
    pub(crate) fn new(lua: &Lua, error_mt: Table) -> mlua::Result<Self> {
        let weak_values = lua.create_table()?;
        weak_values.raw_set("__mode", "v")?;
        let objects = lua.create_table()?;
        objects.set_metatable(Some(weak_values.clone()))?;
        let types = lua.create_table()?;
        types.set_metatable(Some(weak_values))?;
        Ok(Binding {
            pcall: lua.globals().get("pcall")?,
            objects,
            types,
            error_mt,
            is_implemented_key: lua.create_string("is_interface_implemented")?,
            get_implementation_key: lua.create_string("get_interface_implementation")?,
        })
    }
}

/// The binding state of `lua`, or an error when dynacast is not installed there.
///
/// It lives in the app data behind an `Rc`, and callers get their own `Rc`: no borrow of
/// mlua's app-data container is held while Lua code runs, so a script's callbacks may set
/// app data of their own (mlua panics on that during a borrow).
pub(crate) fn binding(lua: &Lua) -> mlua::Result<Rc<Binding>> {
    match lua.app_data_ref::<Rc<Binding>>() {
        Some(b) => Ok(Rc::clone(&b)),
        None => Err(mlua::Error::runtime(
            "dynacast is not installed in this Lua state (dynacast::lua::install)",
        )),
    }
}

static NEXT_PAYLOAD_ID: AtomicU64 = AtomicU64::new(1);

/// What every object of [`LuaHost`] carries: a table of fields (what `obj.x` reads and
/// `obj.x = v` writes in Lua) and a unique id that finds the object's Lua userdata again.
///
/// The table is held from Rust, so it stays alive as long as the object does. A table that
/// refers back to its own object keeps both alive until the Lua state closes.
pub struct LuaPayload {
    id: i64,
    state: Table,
}

impl LuaPayload {
    /// A payload with `state` as the object's fields.
    pub fn new(state: Table) -> Self {
        // Relaxed: only uniqueness matters. i64 is what Lua keys are; 2^63 ids never run out.
        let id = NEXT_PAYLOAD_ID.fetch_add(1, Ordering::Relaxed) as i64;
        LuaPayload { id, state }
    }

    /// The object's fields.
    pub fn state(&self) -> &Table {
        &self.state
    }
}

/// An engine object as Lua userdata. Lua sees its fields (the payload's table) and the
/// methods `is`, `cast`, `call` and `class`.
pub struct LuaObject(pub Object<LuaHost>);

/// A type (class or interface) as Lua userdata: fields `name`, `is_interface`,
/// `is_implementation`, `cached_resolutions`; methods `method(name)` and `new(state)`.
pub struct LuaType(pub TypeRef<LuaHost>);

/// A method handle as Lua userdata: callable (`m(obj, ...)`, or `m(...)` for a static
/// member), with fields `name`, `arity` and `interface`.
pub enum LuaMethod {
    /// A method of an interface.
    Interface(MethodRef<LuaHost>),
    /// A virtual method of a class.
    Class(ClassMethodRef<LuaHost>),
}

/// The Lua userdata of `obj`: the same userdata every time while Lua holds it.
pub fn object_to_lua(lua: &Lua, obj: &Object<LuaHost>) -> mlua::Result<AnyUserData> {
    let b = binding(lua)?;
    object_userdata(&b, lua, obj)
}

pub(crate) fn object_userdata(
    b: &Binding,
    lua: &Lua,
    obj: &Object<LuaHost>,
) -> mlua::Result<AnyUserData> {
    let id = obj.payload().id;
    if let Value::UserData(ud) = b.objects.raw_get::<Value>(id)? {
        return Ok(ud);
    }
    let ud = lua.create_userdata(LuaObject(obj.clone()))?;
    b.objects.raw_set(id, &ud)?;
    Ok(ud)
}

/// The Lua userdata of `ty`: the same userdata every time while Lua holds it.
pub fn type_to_lua(lua: &Lua, ty: &TypeRef<LuaHost>) -> mlua::Result<AnyUserData> {
    let b = binding(lua)?;
    type_userdata(&b, lua, ty)
}

pub(crate) fn type_userdata(
    b: &Binding,
    lua: &Lua,
    ty: &TypeRef<LuaHost>,
) -> mlua::Result<AnyUserData> {
    // uids count up from 1 and never come near i64::MAX.
    let uid = ty.uid() as i64;
    if let Value::UserData(ud) = b.types.raw_get::<Value>(uid)? {
        return Ok(ud);
    }
    let ud = lua.create_userdata(LuaType(ty.clone()))?;
    b.types.raw_set(uid, &ud)?;
    Ok(ud)
}

/// A class as its Lua userdata.
pub fn class_to_lua(lua: &Lua, class: &ClassRef<LuaHost>) -> mlua::Result<AnyUserData> {
    type_to_lua(lua, &class.as_type())
}

fn named(lua: &Lua, key: &str) -> mlua::Result<Function> {
    lua.named_registry_value(key)
}

impl UserData for LuaObject {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field_with("__index", |lua| named(lua, OBJECT_INDEX));
        fields.add_meta_field_with("__newindex", |lua| named(lua, OBJECT_NEWINDEX));
        fields.add_meta_field("__name", "dynacast.Object");
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method("__tostring", |_, this, ()| {
            Ok(format!("{} object", this.0.class().name()))
        });
    }
}

impl UserData for LuaType {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field_with("__index", |lua| named(lua, TYPE_INDEX));
        fields.add_meta_field("__name", "dynacast.Type");
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method("__tostring", |_, this, ()| {
            let kind = match &this.0 {
                TypeRef::Class(_) => "class",
                TypeRef::Interface(_) => "interface",
            };
            Ok(format!("{kind} {}", this.0.name()))
        });
    }
}

impl UserData for LuaMethod {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field_with("__index", |lua| named(lua, METHOD_INDEX));
        fields.add_meta_field_with("__call", |lua| named(lua, METHOD_CALL));
        fields.add_meta_field("__name", "dynacast.Method");
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method("__tostring", |_, this, ()| {
            Ok(match this {
                LuaMethod::Interface(m) => format!("method {}.{}", m.interface().name(), m.name()),
                LuaMethod::Class(m) => format!("method {}.{}", m.class().name(), m.name()),
            })
        });
    }
}
