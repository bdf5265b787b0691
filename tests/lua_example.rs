//! `examples/lua_greeter.lua`, the script of `cargo run --features lua --example
//! lua_greeter`, run under the test suite with `print` captured: its exact output.
#![cfg(feature = "lua")]

use dynacast::lua::{install, LuaHost};
use dynacast::Runtime;
use mlua::{Lua, Variadic};

#[test]
fn the_lua_greeter_prints_exactly_this() {
    let lua = Lua::new();
    let rt = Runtime::<LuaHost>::new();
    install(&lua, &rt).unwrap();
    let lines = lua.create_table().unwrap();
    let sink = lines.clone();
    let print = lua
        .create_function(move |_, args: Variadic<String>| sink.raw_push(args.join("\t")))
        .unwrap();
    lua.globals().set("print", print).unwrap();

    let ok: bool = lua
        .load(include_str!("../examples/lua_greeter.lua"))
        .set_name("@examples/lua_greeter.lua")
        .eval()
        .unwrap();
    assert!(ok, "the script's own count checks failed");
    let printed: Vec<String> = lines
        .sequence_values::<String>()
        .collect::<mlua::Result<_>>()
        .unwrap();
    assert_eq!(
        printed,
        [
            "Hello World from DynamicCastable",
            "  [first instance: cast + hello] is_interface_implemented calls: 1, get_interface_implementation calls: 1",
            "Hello World from DynamicCastable",
            "  [second instance: cast + hello] is_interface_implemented calls: 2, get_interface_implementation calls: 1",
            "goodbye failed: EntryPointNotFound (Entry point not found: type 'DynamicCastable' has no implementation of 'IGreet.goodbye' in implementation interface 'IGreetImpl'.)",
            "  [after goodbye (failures are not cached)] is_interface_implemented calls: 2, get_interface_implementation calls: 2",
        ]
    );
}
