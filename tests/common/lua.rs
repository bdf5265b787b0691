//! The Lua tests' shared set-up, included by each `tests/lua_*.rs` binary as
//! `#[path = "common/lua.rs"] mod common_lua;`.
// Each test binary uses some of these helpers, not all.
#![allow(dead_code)]

use dynacast::lua::{install, LuaHost};
use dynacast::Runtime;
use mlua::Lua;

/// A Lua state with dynacast installed, and its runtime.
pub fn lua() -> (Lua, Runtime<LuaHost>) {
    let lua = Lua::new();
    let rt = Runtime::<LuaHost>::with_live_reload();
    install(&lua, &rt).unwrap();
    (lua, rt)
}

/// [`lua`], then `setup` run in it (a chunk named as mlua names it, so that positions in
/// its errors are its own lines).
pub fn lua_with(setup: &str) -> (Lua, Runtime<LuaHost>) {
    let (lua, rt) = lua();
    lua.load(setup).exec().unwrap();
    (lua, rt)
}

/// Runs `script` as the chunk `script` (error positions read `script:<line>`); a failure
/// fails the test with the error's text.
pub fn run(lua: &Lua, script: &str) {
    if let Err(e) = lua.load(script).set_name("=script").exec() {
        panic!("{e}");
    }
}
