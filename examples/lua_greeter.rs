//! The greeter of `examples/greeter.rs`, written in Lua (`examples/lua_greeter.lua`): an
//! embedder wires dynacast into mlua and runs the script, which prints
//! `Hello World from DynamicCastable` and handles `EntryPointNotFound` with `pcall`.
//!
//! Run: `cargo run --release --features lua --example lua_greeter`. Exits non-zero if the
//! script fails or a hook call count is off.

use std::process::ExitCode;

use dynacast::lua::{install, LuaHost};
use dynacast::Runtime;

const SCRIPT: &str = include_str!("lua_greeter.lua");

fn run() -> mlua::Result<bool> {
    let lua = mlua::Lua::new();
    let rt = Runtime::<LuaHost>::new();
    install(&lua, &rt)?;
    lua.load(SCRIPT)
        .set_name("@examples/lua_greeter.lua")
        .eval()
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
