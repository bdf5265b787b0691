//! Live reload from Lua: `dynacast.reload(chunk)` re-runs a module so that the objects
//! already alive follow its edits (see the binding docs, "Live reload").
//!
//! Lua makes new closures on every run, and the core counts bodies the same only when they
//! are one `Body`. So the binding remembers, per member of each type it defined (keyed by
//! the type's name, the spec section and the member's name), the Lua function it made a
//! body of, and that body. Inside a reload, a function that is *the same code* as the one
//! remembered there gets the remembered body back, so an unchanged definition is the
//! registered type again (the core's "same definition, same type"). The same code: the
//! same bytecode (`string.dump` with its debug information, so a function that moved to
//! other lines is new: its errors would name other lines) and, upvalue by upvalue,
//! raw-equal values, except two functions, which are compared the same way (so local
//! helper functions of a re-run module are no change). Any other fresh value an upvalue
//! holds (a module's local table, say) makes the function new.
//!
//! A hook is remembered per class name too: inside a reload a class reuses its hook
//! (the same `Arc`, so an unchanged class is the registered one), now reading the new
//! hook table; when `get_interface_implementation` changed (as code), the class is flushed
//! (the core's cache and the Lua side's mirrors) so the next call asks the new hook.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mlua::{ffi, Function, Lua, MultiValue, RegistryKey, Table, Value};

use super::callback::{known_lua_body, lua_static_body, LuaHook};
use super::handles::{binding, class_metatable, forget_resolutions, type_userdata, Binding};
use super::LuaHost;
use crate::class::ClassRef;
use crate::host::{Body, StaticBody};

/// A body the binding made of a Lua function, and that function.
enum Code {
    Body(Body<LuaHost>),
    Static(StaticBody<LuaHost>),
}

struct Remembered {
    function: RegistryKey,
    code: Code,
}

/// A class's hook, and the `get_interface_implementation` its table had when last defined.
struct RememberedHook {
    hook: Arc<LuaHook>,
    get_implementation: Option<RegistryKey>,
}

/// What the binding remembers for reloads (one per Lua state, in the [`Binding`]).
#[derive(Default)]
pub(crate) struct ReloadState {
    /// How many `dynacast.reload` calls are running (a reload may run another).
    depth: std::cell::Cell<usize>,
    /// `"<type>\0<section>\0<member>"` → the function and its body. One entry per member
    /// name ever defined: a re-run replaces entries, it never adds to them.
    code: std::cell::RefCell<HashMap<String, Remembered>>,
    /// class name → its hook.
    hooks: std::cell::RefCell<HashMap<String, RememberedHook>>,
}

impl ReloadState {
    /// Whether a `dynacast.reload` is running.
    pub(crate) fn reloading(&self) -> bool {
        self.depth.get() > 0
    }

    pub(crate) fn begin(&self) {
        self.depth.set(self.depth.get().saturating_add(1));
    }

    pub(crate) fn end(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }
}

/// The key of a member in [`ReloadState::code`].
pub(crate) fn member_key(type_name: &str, section: &str, member: &str) -> String {
    format!("{type_name}\0{section}\0{member}")
}

/// The remembered code under `key` when a reload runs and `f` is the same code as its
/// function; `None` otherwise.
fn reusable(lua: &Lua, b: &Binding, key: &str, f: &Function) -> mlua::Result<Option<Code>> {
    if !b.reload.reloading() {
        return Ok(None);
    }
    // Cloned out: no borrow is held while Lua runs (an allocation may run a finalizer).
    let found = match b.reload.code.borrow().get(key) {
        Some(r) => Some((
            lua.registry_value::<Function>(&r.function)?,
            match &r.code {
                Code::Body(body) => Code::Body(body.clone()),
                Code::Static(body) => Code::Static(body.clone()),
            },
        )),
        None => None,
    };
    match found {
        Some((old, code)) if same_code(lua, &old, f)? => Ok(Some(code)),
        _ => Ok(None),
    }
}

fn remember(lua: &Lua, b: &Binding, key: String, f: Function, code: Code) -> mlua::Result<()> {
    let function = lua.create_registry_value(f)?;
    // The replaced entry is dropped after the borrow ends (its registry key and body).
    let replaced = b
        .reload
        .code
        .borrow_mut()
        .insert(key, Remembered { function, code });
    drop(replaced);
    Ok(())
}

/// The body of instance member `key` written as `f`: the remembered one when a reload runs
/// and `f` is the same code, else a new body (remembered for the next reload).
pub(crate) fn lua_body_for(lua: &Lua, key: String, f: Function) -> mlua::Result<Body<LuaHost>> {
    let b = binding(lua)?;
    if let Some(Code::Body(body)) = reusable(lua, &b, &key, &f)? {
        return Ok(body);
    }
    let body = known_lua_body(lua, f.clone())?;
    remember(lua, &b, key, f, Code::Body(body.clone()))?;
    Ok(body)
}

/// [`lua_body_for`] for a static member.
pub(crate) fn static_body_for(
    lua: &Lua,
    key: String,
    f: Function,
) -> mlua::Result<StaticBody<LuaHost>> {
    let b = binding(lua)?;
    if let Some(Code::Static(body)) = reusable(lua, &b, &key, &f)? {
        return Ok(body);
    }
    let body = lua_static_body(lua, f.clone())?;
    remember(lua, &b, key, f, Code::Static(body.clone()))?;
    Ok(body)
}

/// The hook of class `class_name` reading `table`, and whether its dispatch answer changed
/// (so the class must be flushed if the definition turns out to be the registered class).
/// Inside a reload the class's remembered hook is reused; otherwise a new one is made.
pub(crate) fn hook_for(
    lua: &Lua,
    class_name: &str,
    table: Table,
) -> mlua::Result<(Arc<LuaHook>, bool)> {
    let b = binding(lua)?;
    let get_implementation = table.get::<Value>(&b.get_implementation_key)?;
    let remembered = match b.reload.hooks.borrow().get(class_name) {
        Some(r) if b.reload.reloading() => Some((
            r.hook.clone(),
            match &r.get_implementation {
                Some(key) => lua.registry_value::<Value>(key)?,
                None => Value::Nil,
            },
        )),
        _ => None,
    };
    let (hook, changed) = match remembered {
        Some((hook, old)) => {
            let changed = match (&old, &get_implementation) {
                (Value::Function(a), Value::Function(b)) => !same_code(lua, a, b)?,
                (a, b) => a != b,
            };
            hook.read(lua, table)?;
            (hook, changed)
        }
        None => (Arc::new(LuaHook::new(lua, table)?), false),
    };
    let get_implementation = match get_implementation {
        Value::Nil => None,
        v => Some(lua.create_registry_value(v)?),
    };
    let replaced = b.reload.hooks.borrow_mut().insert(
        class_name.to_owned(),
        RememberedHook {
            hook: hook.clone(),
            get_implementation,
        },
    );
    drop(replaced);
    Ok((hook, changed))
}

/// Whether `a` and `b` are the same code (see the module docs). Functions reached through
/// upvalues are compared from a work list, not by recursion, each pair once.
pub(crate) fn same_code(lua: &Lua, a: &Function, b: &Function) -> mlua::Result<bool> {
    let mut pending = vec![(a.clone(), b.clone())];
    let mut seen = HashSet::new();
    while let Some((a, b)) = pending.pop() {
        if a == b || !seen.insert((a.to_pointer() as usize, b.to_pointer() as usize)) {
            continue;
        }
        if a.info().what == "C" || b.info().what == "C" || a.dump(false) != b.dump(false) {
            return Ok(false);
        }
        let (ups_a, ups_b) = (upvalues(lua, &a)?, upvalues(lua, &b)?);
        if ups_a.len() != ups_b.len() {
            return Ok(false);
        }
        for (x, y) in ups_a.into_iter().zip(ups_b) {
            match (x, y) {
                (Value::Function(x), Value::Function(y)) => pending.push((x, y)),
                (x, y) if x == y => {}
                _ => return Ok(false),
            }
        }
    }
    Ok(true)
}

/// The values of `f`'s upvalues, in order.
fn upvalues(lua: &Lua, f: &Function) -> mlua::Result<MultiValue> {
    // SAFETY: `exec_raw` runs the closure in a protected call with `f` (a function of this
    // state) at index 1. A Lua function has at most 255 upvalues: `lua_checkstack` grants
    // room for all of them first (if it cannot, the closure leaves only a `false`, which
    // the conversion below refuses). `lua_getupvalue` pushes one value per upvalue and
    // NULL (pushing nothing) past the last; it runs no Lua code. `lua_remove` then drops
    // `f`, so the stack holds exactly the upvalues, which `exec_raw` returns.
    let (ok, values): (bool, MultiValue) = unsafe {
        lua.exec_raw(f, |state| {
            if ffi::lua_checkstack(state, 260) == 0 {
                ffi::lua_settop(state, 0);
                ffi::lua_pushboolean(state, 0);
                return;
            }
            let mut n = 1;
            while !ffi::lua_getupvalue(state, 1, n).is_null() {
                n += 1;
            }
            ffi::lua_pushboolean(state, 1);
            ffi::lua_replace(state, 1);
        })?
    };
    if ok {
        Ok(values)
    } else {
        Err(mlua::Error::StackError)
    }
}

/// After a reload defined `new` to take over `old`: the Lua objects of `old` get `new`'s
/// metatables (their tables, so their fields, are kept), and the Lua side forgets `old`
/// (its mirrored resolutions, its metatables): a handle to `old` a script kept makes
/// objects of `new`.
pub(crate) fn take_over_objects(
    lua: &Lua,
    old: &ClassRef<LuaHost>,
    new: &ClassRef<LuaHost>,
) -> mlua::Result<()> {
    let b = binding(lua)?;
    forget_resolutions(lua, old)?;
    // Made first, so that `new`'s light metatable is known to Rust (objects that get it
    // are given engine objects of `new`).
    class_metatable(&b, lua, new)?;
    let take_over: Function = b.prelude.get("take_over_objects")?;
    let old_ud = type_userdata(&b, lua, &old.as_type())?;
    let new_ud = type_userdata(&b, lua, &new.as_type())?;
    take_over.call::<()>((old_ud, new_ud))?;
    let removed_mt = b.class_mts.borrow_mut().remove(&old.uid());
    let removed_lights: Vec<_> = {
        let mut lights = b.lights.borrow_mut();
        let keys: Vec<usize> = lights
            .iter()
            .filter(|(_, (c, _))| c == old)
            .map(|(k, _)| *k)
            .collect();
        keys.into_iter().filter_map(|k| lights.remove(&k)).collect()
    };
    // Dropped once the borrows ended.
    drop((removed_mt, removed_lights));
    Ok(())
}

/// A class whose dispatch answer changed: the core's cache and the Lua side's mirrors.
pub(crate) fn flush_class(lua: &Lua, class: &ClassRef<LuaHost>) -> mlua::Result<()> {
    class.flush()?;
    forget_resolutions(lua, class)
}
