//! What Lua holds: objects, types and method handles as userdata, and the per-Lua-state
//! binding state.
//!
//! Identity: an engine object (or type) is always the *same* Lua userdata while Lua can
//! still see it, so `rawequal`, `==` and table keys work on objects and types. Two
//! weak-valued tables map an object's payload id (a type's uid) to its userdata; when Lua
//! drops every reference, the entry goes, and the next hand-over makes a new userdata.
//!
//! # What an object is in Lua (and why the GC sees cycles)
//!
//! An object is a plain Lua table: its own entries are its fields (`obj.x` is a table
//! read), and its metatable is its class's, whose `__index` is the class's method table
//! (see `prelude.lua`). The engine object sits in a small userdata kept in an ephemeron
//! table (weak keys) keyed by the object's table, so nothing in Rust roots the fields:
//! `a.other = b; b.other = a` is garbage as soon as Lua drops `a` and `b`. Rust keeps an
//! object's table alive only while it holds the object and Lua does not:
//! - an object made in Rust ([`LuaPayload::new`]) keeps its table in the Lua registry (a
//!   *pin* in the payload) until it is first handed to Lua;
//! - the class metatable has a `__gc` finalizer: when Lua drops an object that Rust still
//!   holds ([`Object::handle_count`] above one), the finalizer resurrects the table (the
//!   same table: references to it inside fields stay valid) into a *pins* table;
//! - once per GC cycle a sweep releases the pins whose object Rust no longer holds.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use mlua::{
    ffi, AnyUserData, Function, Lua, LuaString, RegistryKey, Table, UserData, UserDataFields,
    UserDataMethods, Value, WeakLua,
};

use super::error::{bad_argument, foreign_state};
use super::reload::ReloadState;
use super::LuaHost;
use crate::class::{ClassMethodRef, ClassRef};
use crate::interface::{GenericInterface, MethodRef};
use crate::object::Object;
use crate::types::TypeRef;

/// Named registry entries holding the prelude's metamethods (see `prelude.lua`).
pub(crate) const TYPE_INDEX: &str = "dynacast.type_index";
pub(crate) const TYPE_CALL: &str = "dynacast.type_call";
pub(crate) const METHOD_INDEX: &str = "dynacast.method_index";
pub(crate) const METHOD_CALL: &str = "dynacast.method_call";
pub(crate) const GENERIC_CALL: &str = "dynacast.generic_call";
/// The registry key (this static's address, a light userdata: no string to intern on each
/// read) of the identity table (payload id → object table), for raw reads that need no
/// binding look-up (see `callback::call_raw`); kept equal to `by_id`.
pub(crate) static IDENTITY: u8 = 0;

/// [`IDENTITY`] as the pointer Lua's `lua_rawgetp` and `lua_rawsetp` take.
pub(crate) fn identity_key() -> *const std::ffi::c_void {
    std::ptr::addr_of!(IDENTITY).cast()
}

/// The field of the prelude's `objects` holding the object → method table map.
const METHODS_OF: &str = "methods_of";

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
    /// payload id → object table, weak values.
    by_id: RefCell<Table>,
    /// object table → its handle userdata ([`LuaObject`]), weak keys (ephemeron).
    handles: RefCell<Table>,
    /// The prelude's `objects` table, whose `methods_of` field is the table object table →
    /// its class's method table (weak keys), what `I.m` reads (see `prelude.lua`). Reached
    /// through this holder, so that [`Binding::compact`] can replace it.
    objects: Table,
    /// class uid → the metatable of its objects (made by the prelude's `class_mt`).
    pub(crate) class_mts: RefCell<HashMap<u64, Table>>,
    /// The address of a class's *light* metatable → the class, and that metatable (kept
    /// here so that the address stays its own). Objects made by a script get it: they have
    /// no engine object until Rust first needs one ([`Binding::object_of`]).
    pub(crate) lights: RefCell<HashMap<usize, (ClassRef<LuaHost>, Table)>>,
    /// Objects entered in `by_id` since it was last rebuilt (see [`Binding::compact`]).
    entered: Cell<usize>,
    /// `handles` was rebuilt while finalizers were pending: rebuild it once more.
    rebuild_handles: Cell<bool>,
    /// payload id → object table, for objects Lua dropped while Rust holds them.
    pins: Table,
    /// type uid → type userdata, weak values.
    types: Table,
    /// body id → the Lua function of a body written in Lua (see `callback::body_id`). Weak
    /// values: the body holds its function (in the registry), so an entry lives as long as
    /// its body, and reloads that make new bodies do not grow the table.
    pub(crate) bodies: Table,
    /// What live reload remembers (see `reload.rs`).
    pub(crate) reload: ReloadState,
    /// The prelude's functions the binding calls (see `prelude.lua`).
    pub(crate) prelude: Table,
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
        prelude: Table,
    ) -> mlua::Result<Self> {
        let weak_values = lua.create_table()?;
        weak_values.raw_set("__mode", "v")?;
        let types = lua.create_table()?;
        types.set_metatable(Some(weak_values.clone()))?;
        Ok(Binding {
            runtime_id,
            lua: lua.weak(),
            by_id: RefCell::new(prelude.get("by_id")?),
            handles: RefCell::new(prelude.get("handles")?),
            objects: prelude.get("objects")?,
            class_mts: RefCell::new(HashMap::new()),
            lights: RefCell::new(HashMap::new()),
            entered: Cell::new(0),
            rebuild_handles: Cell::new(false),
            pins: prelude.get("pins")?,
            types,
            bodies: {
                let bodies = lua.create_table()?;
                bodies.set_metatable(Some(weak_values.clone()))?;
                bodies
            },
            reload: ReloadState::default(),
            prelude,
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

    /// The table of object `id`, if Lua (or a pin) still has it.
    fn find(&self, id: i64) -> mlua::Result<Option<Table>> {
        if let Value::Table(t) = self.by_id.borrow().raw_get::<Value>(id)? {
            return Ok(Some(t));
        }
        if let Value::Table(t) = self.pins.raw_get::<Value>(id)? {
            self.enter(id, &t)?;
            return Ok(Some(t));
        }
        Ok(None)
    }

    fn enter(&self, id: i64, table: &Table) -> mlua::Result<()> {
        self.entered.set(self.entered.get().saturating_add(1));
        let by_id = self.by_id.borrow().clone();
        by_id.raw_set(id, table)
    }

    /// Rebuilds `by_id` and `handles` from their live entries once the objects entered
    /// since the last rebuild outnumber the live ones by far: Lua never shrinks a table
    /// until it rehashes, so after a burst of objects they would keep the burst's size.
    /// Linear in the live objects, and run at most once per that many new objects.
    ///
    /// It runs in the GC's finalizer phase, when the objects being finalized are still keys
    /// of `handles` (a finalizer about to run must find its handle): the copy keeps them, so
    /// `handles` is rebuilt once more at the next cycle's end, when they are gone.
    fn compact(&self, lua: &Lua) -> mlua::Result<()> {
        const SLACK: usize = 4096;
        if self.rebuild_handles.replace(false) {
            let handles = rebuilt(lua, &self.handles.borrow().clone())?;
            swap_in(&self.handles, handles);
            self.rebuild_methods_of(lua)?;
        }
        if self.entered.get() < SLACK {
            return Ok(());
        }
        let old_ids = self.by_id.borrow().clone();
        let live = old_ids.pairs::<Value, Value>().count();
        if self.entered.get() < 2 * live + SLACK {
            return Ok(());
        }
        let by_id = rebuilt(lua, &old_ids)?;
        let handles = rebuilt(lua, &self.handles.borrow().clone())?;
        swap_in(&self.by_id, by_id);
        publish_identity(lua, &self.by_id.borrow().clone())?;
        swap_in(&self.handles, handles);
        self.rebuild_methods_of(lua)?;
        self.entered.set(live);
        self.rebuild_handles.set(true);
        Ok(())
    }

    /// `objects.methods_of`, keyed like `handles` and rebuilt with it.
    fn methods_of(&self) -> mlua::Result<Table> {
        self.objects.raw_get(METHODS_OF)
    }

    fn rebuild_methods_of(&self, lua: &Lua) -> mlua::Result<()> {
        let copy = rebuilt(lua, &self.methods_of()?)?;
        self.objects.raw_set(METHODS_OF, copy)
    }

    /// The engine object behind `value`, a dynacast object of this state. An object a
    /// script made (a table with its class's light metatable) gets its engine object here,
    /// the first time Rust needs it.
    pub(crate) fn object_of(&self, lua: &Lua, value: &Value) -> mlua::Result<Object<LuaHost>> {
        let not_an_object = || {
            bad_argument(format!(
                "expected a dynacast object, got a {}",
                value.type_name()
            ))
        };
        let Value::Table(t) = value else {
            return Err(not_an_object());
        };
        // No Lua code (no finalizer) runs during a raw read: the borrow is not re-entered.
        let handle = self.handles.borrow().raw_get::<Value>(t)?;
        if let Value::UserData(ud) = handle {
            return Ok(ud.borrow::<LuaObject>()?.0.clone());
        }
        let class = t.metatable().and_then(|mt| {
            let lights = self.lights.borrow();
            lights
                .get(&(mt.to_pointer() as usize))
                .map(|(c, _)| c.clone())
        });
        match class {
            Some(class) => self.materialize(lua, t, &class),
            None => Err(not_an_object()),
        }
    }

    /// Gives `table`, an object a script made, its engine object.
    fn materialize(
        &self,
        lua: &Lua,
        table: &Table,
        class: &ClassRef<LuaHost>,
    ) -> mlua::Result<Object<LuaHost>> {
        let obj = Object::new(class, LuaPayload::unattached()).map_err(mlua::Error::external)?;
        register(self, lua, &obj, table)?;
        Ok(obj)
    }
}

/// Makes `by_id` the identity table raw reads find (under [`IDENTITY`]).
pub(crate) fn publish_identity(lua: &Lua, by_id: &Table) -> mlua::Result<()> {
    // SAFETY: `exec_raw` runs the closure in a protected call with `by_id` (a table of this
    // state: the binding's, made in `lua`) on top of its stack; `lua_rawsetp` pops it into
    // the registry, a raw set (no metamethod, no Lua code) whose allocation failure is
    // caught by that protected call and returned as an error.
    unsafe {
        lua.exec_raw::<()>(by_id, |state| {
            ffi::lua_rawsetp(state, ffi::LUA_REGISTRYINDEX, identity_key());
        })
    }
}

/// Replaces the table in `cell` by `copy`, an equivalent copy. Borrows of these cells are
/// never held across Lua code, so the cell is free; were it not, keeping the old table is
/// as correct (only bigger), and nothing panics.
fn swap_in(cell: &RefCell<Table>, copy: Table) {
    if let Ok(mut t) = cell.try_borrow_mut() {
        *t = copy;
    }
}

/// A copy of `table` (its live entries, its metatable), sized for what it holds.
fn rebuilt(lua: &Lua, table: &Table) -> mlua::Result<Table> {
    // Streamed, not collected: every value Rust holds takes a slot of mlua's reference
    // stack, which keeps its high-water size.
    let copy = lua.create_table_with_capacity(0, table.pairs::<Value, Value>().count())?;
    copy.set_metatable(table.metatable())?;
    for pair in table.pairs::<Value, Value>() {
        let (k, v) = pair?;
        copy.raw_set(k, v)?;
    }
    Ok(copy)
}

/// The binding state of `lua`, or an error when dynacast is not installed there.
///
/// It lives in the app data behind an `Rc`, and callers get their own `Rc`: no borrow of
/// mlua's app-data container is held while Lua code runs, so a script's callbacks may set
/// app data of their own (mlua panics on that during a borrow).
pub(crate) fn binding(lua: &Lua) -> mlua::Result<Rc<Binding>> {
    // Finalizers run while the state closes, inside the drop of mlua's `Lua`: then
    // `app_data_ref` would take a new strong reference to a state being dropped. Nothing of
    // the binding runs then (an object Rust holds is not rescued: its state is going).
    if lua.weak().try_upgrade().is_none() {
        return Err(foreign_state("the Lua state is closing"));
    }
    match lua.app_data_ref::<Rc<Binding>>() {
        Some(b) => Ok(Rc::clone(&b)),
        None => Err(mlua::Error::runtime(
            "dynacast is not installed in this Lua state (dynacast::lua::install)",
        )),
    }
}

static NEXT_PAYLOAD_ID: AtomicU64 = AtomicU64::new(1);

/// What every object of [`LuaHost`] carries: a unique id that finds the object's Lua table
/// again, the Lua state the object belongs to, and (only until the object is first handed
/// to Lua) its fields. See the [binding docs](super) for how an object lives and dies.
pub struct LuaPayload {
    id: i64,
    /// The state the object belongs to (set at the first hand-over, or by [`Self::new`]).
    lua: RefCell<Option<WeakLua>>,
    /// The fields of an object made in Rust, until its first hand-over.
    pin: RefCell<Option<RegistryKey>>,
}

impl LuaPayload {
    /// A payload for an object made in Rust, with `fields` as its fields (what `obj.x`
    /// reads and `obj.x = v` writes in Lua). `fields` must belong to `lua` and have no
    /// metatable: handed to Lua, it becomes the object itself.
    pub fn new(lua: &Lua, fields: Table) -> mlua::Result<Self> {
        if *fields.weak_lua() != lua.weak() {
            return Err(foreign_state(
                "the fields table belongs to another Lua state",
            ));
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

    /// The object's fields (in Lua, the object's own table), read through `lua`, the state
    /// the object belongs to. An error (never a panic) for another state, or after that
    /// state closed.
    pub fn fields(&self, lua: &Lua) -> mlua::Result<Table> {
        self.check_state(lua)?;
        let b = binding(lua)?;
        if let Some(t) = b.find(self.id)? {
            return Ok(t);
        }
        match &*self.pin.borrow() {
            Some(key) => lua.registry_value(key),
            None => Err(foreign_state("the object has no fields in this Lua state")),
        }
    }

    /// The object's id: the key of its table in the binding's identity table.
    pub(crate) fn id(&self) -> i64 {
        self.id
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

/// The hidden handle of an object: a userdata holding the engine object, found from the
/// object's table through an ephemeron table. Scripts never see it.
pub struct LuaObject(pub Object<LuaHost>);

/// A type (class or interface) as Lua userdata. See the [module docs](super) for its fields.
pub struct LuaType(pub TypeRef<LuaHost>);

/// A generic interface definition as Lua userdata: `G(T, ...)` (or
/// `dynacast.instantiate(G, T, ...)`) is the interface instantiated with those type
/// arguments (types or type names); field `name`.
pub struct LuaGeneric(pub GenericInterface<LuaHost>);

/// A method handle as Lua userdata: callable (`m(obj, ...)`, or `m(...)` for a static
/// member), with fields `name`, `arity` and `interface`.
pub enum LuaMethod {
    /// A method of an interface.
    Interface(MethodRef<LuaHost>),
    /// A virtual method of a class.
    Class(ClassMethodRef<LuaHost>),
}

/// The Lua table of `obj`: the same table every time while Lua holds it (or Rust holds the
/// object). An error for an object of another Lua state or runtime.
pub fn object_to_lua(lua: &Lua, obj: &Object<LuaHost>) -> mlua::Result<Table> {
    let b = binding(lua)?;
    object_table(&b, lua, obj, None)
}

/// The engine object behind `value` (an object table of `lua`'s binding); a `BadArgument`
/// error for anything else.
pub fn lua_to_object(lua: &Lua, value: &Value) -> mlua::Result<Object<LuaHost>> {
    binding(lua)?.object_of(lua, value)
}

/// The table of `obj`; a new one is `fields` (a new object made in Lua), else the pinned
/// fields of an object made in Rust.
pub(crate) fn object_table(
    b: &Binding,
    lua: &Lua,
    obj: &Object<LuaHost>,
    fields: Option<Table>,
) -> mlua::Result<Table> {
    let payload = obj.payload();
    let id = payload.id;
    if let Some(t) = b.find(id)? {
        return Ok(t);
    }
    b.check_type(&obj.class().as_type())?;
    // (An object made in Rust before its class was taken over gets its current class's.)
    payload.check_state(lua)?;
    // Taken out first: no borrow is held while the arms below may run the GC.
    let pinned = payload.pin.borrow_mut().take();
    let table = match (fields, pinned) {
        (Some(f), _) => f,
        (None, Some(key)) => lua.registry_value(&key)?,
        (None, None) => lua.create_table()?,
    };
    if table.metatable().is_some() {
        return Err(bad_argument(
            "the fields of a new object must be a table without a metatable",
        ));
    }
    register(b, lua, obj, &table)?;
    Ok(table)
}

/// Makes `table` the Lua side of `obj`, a new object: its handle, its class metatable, its
/// identity entry.
fn register(b: &Binding, lua: &Lua, obj: &Object<LuaHost>, table: &Table) -> mlua::Result<()> {
    let mt = class_metatable(b, lua, &obj.current_class())?;
    attach(b, lua, obj, table, &mt)?;
    *obj.payload().lua.borrow_mut() = Some(b.lua.clone());
    b.enter(obj.payload().id, table)
}

/// Gives `table` a new handle of `obj` and then the class metatable. The order matters:
/// Lua runs finalizers newest first, so the table's runs before its handle's is gone.
fn attach(
    b: &Binding,
    lua: &Lua,
    obj: &Object<LuaHost>,
    table: &Table,
    mt: &Table,
) -> mlua::Result<()> {
    let handle = lua.create_userdata(LuaObject(obj.clone()))?;
    // Clone the table reference out: a raw set may run the GC, whose sweep may replace it.
    let handles = b.handles.borrow().clone();
    handles.raw_set(table, handle)?;
    b.methods_of()?
        .raw_set(table, mt.raw_get::<Value>("__index")?)?;
    table.set_metatable(Some(mt.clone()))
}

/// The metatable of `class`'s objects (made by the prelude on first use, then cached), and
/// the class's light metatable (see [`Binding::object_of`]) noted.
pub(crate) fn class_metatable(
    b: &Binding,
    lua: &Lua,
    class: &ClassRef<LuaHost>,
) -> mlua::Result<Table> {
    if let Some(mt) = b.class_mts.borrow().get(&class.uid()) {
        return Ok(mt.clone());
    }
    let class_mt: Function = b.prelude.get("class_mt")?;
    let ud = type_userdata(b, lua, &class.as_type())?;
    let (mt, light): (Table, Option<Table>) = class_mt.call((ud, !class.is_abstract()))?;
    if let Some(light) = light {
        let key = light.to_pointer() as usize;
        b.lights.borrow_mut().insert(key, (class.clone(), light));
    }
    b.class_mts.borrow_mut().insert(class.uid(), mt.clone());
    Ok(mt)
}

/// Clears what the Lua side mirrors of the engine's resolutions for `class` (its method
/// table's entries beyond the class's own Lua methods: see `mirrors` in `prelude.lua`), so
/// that the next call asks the engine again. For a reload that flushes the engine's caches.
pub(crate) fn forget_resolutions(lua: &Lua, class: &ClassRef<LuaHost>) -> mlua::Result<()> {
    let b = binding(lua)?;
    let forget: Function = b.prelude.get("forget_resolutions")?;
    forget.call(type_userdata(&b, lua, &class.as_type())?)
}

/// The class metatable's finalizer: Lua dropped `table`; when Rust still holds the object,
/// the table is resurrected (pinned, with a new handle and its finalizer armed again).
pub(crate) fn rescue(lua: &Lua, table: Table) -> mlua::Result<()> {
    let b = binding(lua)?;
    let Value::UserData(handle) = b.handles.borrow().raw_get::<Value>(&table)? else {
        return Ok(());
    };
    let Ok(obj) = handle.borrow::<LuaObject>().map(|h| h.0.clone()) else {
        return Ok(());
    };
    // The handle's clone and `obj` above are ours; any other is Rust's.
    if obj.handle_count() <= 2 {
        return Ok(());
    }
    let Some(mt) = table.metatable() else {
        return Ok(());
    };
    attach(&b, lua, &obj, &table, &mt)?;
    b.pins.raw_set(obj.payload().id, &table)?;
    b.by_id.borrow().clone().raw_set(obj.payload().id, &table)?;
    Ok(())
}

/// Once per GC cycle: releases the pins of objects that Rust no longer holds, and rebuilds
/// the identity tables when most of their entries died (Lua never shrinks a table until it
/// rehashes, so after a burst of objects they would keep the burst's size).
pub(crate) fn sweep(lua: &Lua, (): ()) -> mlua::Result<()> {
    let b = binding(lua)?;
    b.compact(lua)?;
    let mut released = Vec::new();
    let handles = b.handles.borrow().clone();
    for pair in b.pins.pairs::<i64, Table>() {
        let (id, table) = pair?;
        if let Value::UserData(handle) = handles.raw_get::<Value>(&table)? {
            // Only the handle's own clone left: Rust let go.
            if handle
                .borrow::<LuaObject>()
                .map_or(true, |h| h.0.handle_count() <= 1)
            {
                released.push(id);
            }
        }
    }
    for id in released {
        b.pins.raw_set(id, Value::Nil)?;
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
        fields.add_meta_field("__name", "dynacast.Handle");
    }
}

impl UserData for LuaType {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field_with("__index", |lua| named(lua, TYPE_INDEX));
        fields.add_meta_field_with("__call", |lua| named(lua, TYPE_CALL));
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

impl UserData for LuaGeneric {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field_with("__call", |lua| named(lua, GENERIC_CALL));
        fields.add_meta_field("__name", "dynacast.Generic");
        fields.add_field_method_get("name", |_, this| Ok(this.0.name().to_owned()));
        fields.add_field_method_get("arity", |_, this| Ok(this.0.arity()));
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method("__tostring", |_, this, ()| {
            Ok(format!("generic interface {}", this.0.name()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Runtime;

    #[test]
    fn forgetting_a_class_resolutions_leaves_its_own_methods() {
        let lua = Lua::new();
        let rt = Runtime::<LuaHost>::new();
        super::super::install(&lua, &rt).unwrap();
        let count = r#"
            local n = 0
            for k in next, getmetatable(o).__index do n = n + 1 end
            return n
        "#;
        lua.load(
            r#"
            I = dynacast.interface("I", { methods = { m = function(self) return 1 end } })
            C = dynacast.class("C", { implements = { I }, methods = { own = function(self) return 2 end } })
            o = C:new()
            assert(I.m(o) == 1 and o:m() == 1 and o.absent == nil)
            "#,
        )
        .exec()
        .unwrap();
        // `own`, `m` (resolved by name) and `I.m`'s resolution.
        assert_eq!(lua.load(count).eval::<i64>().unwrap(), 3);
        let class = rt.lookup("C").unwrap().as_class().unwrap().clone();
        forget_resolutions(&lua, &class).unwrap();
        assert_eq!(lua.load(count).eval::<i64>().unwrap(), 1);
        lua.load("assert(I.m(o) == 1 and o:m() == 1 and o:own() == 2)")
            .exec()
            .unwrap();
        assert_eq!(lua.load(count).eval::<i64>().unwrap(), 3);
    }
}
