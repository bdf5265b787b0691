//! What Lua holds: objects, types and method handles as userdata, and the per-Lua-state
//! binding state.
//!
//! Identity: an engine object (or type) is always the *same* Lua userdata while Lua can
//! still see it, so `rawequal`, `==` and table keys work on objects and types. Two
//! weak-valued tables map an object's payload id (a type's uid) to its userdata; when Lua
//! drops every reference, the entry goes, and the next hand-over makes a new userdata.
//!
//! # Where an object's fields live (why the GC sees cycles)
//!
//! An object's fields are a plain Lua table kept in an ephemeron table (weak keys) keyed by
//! the object's userdata, so nothing in Rust roots them: `a.other = b; b.other = a` is
//! garbage as soon as Lua drops `a` and `b`. Rust keeps the fields alive only while it
//! holds the object and Lua does not:
//! - an object made in Rust ([`LuaPayload::new`]) keeps its fields in the Lua registry (a
//!   *pin*) until it is first handed to Lua, where they move into the ephemeron table;
//! - every userdata has an *anchor* (a small table with a `__gc` finalizer, also in an
//!   ephemeron table). When Lua drops the userdata while Rust still holds the object
//!   ([`Object::handle_count`] above one), the finalizer pins the fields again, and the
//!   next hand-over moves them into the new userdata. The pin goes with the last handle.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use mlua::{
    AnyUserData, Function, Lua, LuaString, RegistryKey, Table, UserData, UserDataFields,
    UserDataMethods, Value, WeakLua,
};

use super::error::foreign_state;
use super::LuaHost;
use crate::class::{ClassMethodRef, ClassRef};
use crate::interface::MethodRef;
use crate::object::Object;
use crate::types::TypeRef;

/// Named registry entries holding the prelude's metamethods (see `prelude.lua`).
pub(crate) const OBJECT_INDEX: &str = "dynacast.object_index";
pub(crate) const OBJECT_NEWINDEX: &str = "dynacast.object_newindex";
pub(crate) const OBJECT_PAIRS: &str = "dynacast.object_pairs";
pub(crate) const TYPE_INDEX: &str = "dynacast.type_index";
pub(crate) const METHOD_INDEX: &str = "dynacast.method_index";
pub(crate) const METHOD_CALL: &str = "dynacast.method_call";

/// Runtimes installed in some Lua state, by [`Runtime::id`](crate::Runtime::id). A runtime's
/// types hold registry keys of the state it was installed in, so it serves that state only,
/// for its whole life (one `u64` per runtime ever installed stays here).
static INSTALLED: Mutex<Option<HashSet<u64>>> = Mutex::new(None);

/// Marks `runtime_id` installed; false when it already was (in any state).
pub(crate) fn claim_runtime(runtime_id: u64) -> bool {
    // A poisoned lock only means another thread panicked while inserting: the set is fine.
    let mut set = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    set.get_or_insert_with(HashSet::new).insert(runtime_id)
}

/// The binding's state in one Lua state (its app data).
pub(crate) struct Binding {
    /// The runtime installed in this state.
    pub(crate) runtime_id: u64,
    /// This state, weakly: values of other states are refused by comparing with it.
    pub(crate) lua: WeakLua,
    /// The original `pcall`, kept so that a script replacing the global cannot break calls.
    pub(crate) pcall: Function,
    /// payload id → object userdata, weak values.
    objects: Table,
    /// type uid → type userdata, weak values.
    types: Table,
    /// object userdata → fields table, weak keys (ephemeron).
    pub(crate) fields: Table,
    /// `attach(ud, fields)`: registers a new userdata's fields and anchor (prelude).
    attach: Function,
    pub(crate) error_mt: Table,
    /// The hook's field names, made once (a Lua string made per call costs a hash and an
    /// intern-table look-up on the cast path).
    pub(crate) is_implemented_key: LuaString,
    pub(crate) get_implementation_key: LuaString,
}

impl Binding {
    pub(crate) fn new(
        lua: &Lua,
        runtime_id: u64,
        error_mt: Table,
        fields: Table,
        attach: Function,
    ) -> mlua::Result<Self> {
        let weak_values = lua.create_table()?;
        weak_values.raw_set("__mode", "v")?;
        let objects = lua.create_table()?;
        objects.set_metatable(Some(weak_values.clone()))?;
        let types = lua.create_table()?;
        types.set_metatable(Some(weak_values))?;
        Ok(Binding {
            runtime_id,
            lua: lua.weak(),
            pcall: lua.globals().get("pcall")?,
            objects,
            types,
            fields,
            attach,
            error_mt,
            is_implemented_key: lua.create_string("is_interface_implemented")?,
            get_implementation_key: lua.create_string("get_interface_implementation")?,
        })
    }

    /// Refuses a type of a runtime other than this state's.
    pub(crate) fn check_type(&self, ty: &TypeRef<LuaHost>) -> mlua::Result<()> {
        if ty.runtime_id() == self.runtime_id {
            Ok(())
        } else {
            Err(foreign_state(format!(
                "type '{}' belongs to a dynacast runtime installed in another Lua state",
                ty.name()
            )))
        }
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

/// What every object of [`LuaHost`] carries: a unique id that finds the object's Lua
/// userdata again, the Lua state the object belongs to, and (only while Rust alone holds
/// the object) a pin of its fields. See the [module docs](self) for where fields live.
pub struct LuaPayload {
    id: i64,
    /// The state whose ephemeron table holds the fields (set at the first hand-over).
    lua: RefCell<Option<WeakLua>>,
    /// The fields, while no userdata of the object exists.
    pin: RefCell<Option<RegistryKey>>,
}

impl LuaPayload {
    /// A payload for an object made in Rust, with `fields` as its fields (what `obj.x`
    /// reads and `obj.x = v` writes in Lua). `fields` must belong to `lua`.
    pub fn new(lua: &Lua, fields: Table) -> mlua::Result<Self> {
        if *fields.weak_lua() != lua.weak() {
            return Err(foreign_state("the fields table belongs to another Lua state"));
        }
        let payload = LuaPayload::unattached();
        *payload.lua.borrow_mut() = Some(lua.weak());
        *payload.pin.borrow_mut() = Some(lua.create_registry_value(fields)?);
        Ok(payload)
    }

    /// A payload whose fields the first hand-over supplies.
    pub(crate) fn unattached() -> Self {
        // Relaxed: only uniqueness matters. i64 is what Lua keys are; 2^63 ids never run out.
        let id = NEXT_PAYLOAD_ID.fetch_add(1, Ordering::Relaxed) as i64;
        LuaPayload {
            id,
            lua: RefCell::new(None),
            pin: RefCell::new(None),
        }
    }

    /// The object's fields, read through `lua`, the state the object belongs to. An error
    /// (never a panic) for another state, or after that state closed.
    pub fn fields(&self, lua: &Lua) -> mlua::Result<Table> {
        self.check_state(lua)?;
        let b = binding(lua)?;
        if let Value::UserData(ud) = b.objects.raw_get::<Value>(self.id)? {
            return b.fields.raw_get(ud);
        }
        match &*self.pin.borrow() {
            Some(key) => lua.registry_value(key),
            None => Err(foreign_state("the object has no fields in this Lua state")),
        }
    }

    /// Refuses `lua` when the object belongs to another state.
    fn check_state(&self, lua: &Lua) -> mlua::Result<()> {
        match &*self.lua.borrow() {
            Some(own) if *own != lua.weak() => Err(foreign_state(
                "the object belongs to another Lua state (or one that was closed)",
            )),
            _ => Ok(()),
        }
    }
}

/// An engine object as Lua userdata. Lua sees its fields and its class's methods.
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

/// The Lua userdata of `obj`: the same userdata every time while Lua holds it. An error for
/// an object of another Lua state or runtime.
pub fn object_to_lua(lua: &Lua, obj: &Object<LuaHost>) -> mlua::Result<AnyUserData> {
    let b = binding(lua)?;
    object_userdata(&b, lua, obj, None)
}

/// The userdata of `obj`; a new one gets `fields` (a new object made in Lua), else the
/// pinned fields.
pub(crate) fn object_userdata(
    b: &Binding,
    lua: &Lua,
    obj: &Object<LuaHost>,
    fields: Option<Table>,
) -> mlua::Result<AnyUserData> {
    let payload = obj.payload();
    let id = payload.id;
    if let Value::UserData(ud) = b.objects.raw_get::<Value>(id)? {
        return Ok(ud);
    }
    b.check_type(&obj.class().as_type())?;
    payload.check_state(lua)?;
    let fields = match (fields, payload.pin.borrow_mut().take()) {
        (Some(f), _) => f,
        (None, Some(key)) => lua.registry_value(&key)?,
        (None, None) => lua.create_table()?,
    };
    let ud = lua.create_userdata(LuaObject(obj.clone()))?;
    b.attach.call::<()>((&ud, fields))?;
    *payload.lua.borrow_mut() = Some(b.lua.clone());
    b.objects.raw_set(id, &ud)?;
    Ok(ud)
}

/// The anchor's finalizer: Lua dropped the userdata `ud`; when Rust still holds the
/// object, pin `fields` until the next hand-over (or the last Rust handle goes).
pub(crate) fn rescue(lua: &Lua, (ud, fields): (AnyUserData, Option<Table>)) -> mlua::Result<()> {
    let (Ok(obj), Some(fields)) = (ud.borrow::<LuaObject>(), fields) else {
        return Ok(());
    };
    // One handle is the userdata's own.
    if obj.0.handle_count() > 1 {
        *obj.0.payload().pin.borrow_mut() = Some(lua.create_registry_value(fields)?);
    }
    Ok(())
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
    b.check_type(ty)?;
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
        fields.add_meta_field_with("__pairs", |lua| named(lua, OBJECT_PAIRS));
        fields.add_meta_field("__name", "dynacast.Object");
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method("__tostring", |_, this, ()| {
            Ok(format!("{}: {:p}", this.0.class().name(), this as *const Self))
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
