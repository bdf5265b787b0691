//! The Lua script shown in README.md ("Embedding in Lua (mlua)") runs and prints what its
//! comments say.
#![cfg(feature = "lua")]

use dynacast::lua::{install, LuaHost};
use dynacast::Runtime;
use mlua::{Lua, Variadic};

/// The script inside `lua.load(r#"..."#)` of the README's Lua section.
fn readme_script() -> String {
    let readme = include_str!("../README.md");
    let section = &readme[readme
        .find("## Embedding in Lua (mlua)")
        .expect("the README has the Lua section")..];
    let start = section.find("lua.load(r#\"").expect("a lua.load call") + "lua.load(r#\"".len();
    let len = section[start..]
        .find("\"#)")
        .expect("the end of the script");
    section[start..start + len].to_owned()
}

#[test]
fn the_readme_script_runs() {
    let lua = Lua::new();
    let rt = Runtime::<LuaHost>::new();
    install(&lua, &rt).unwrap();
    let lines = lua.create_table().unwrap();
    let sink = lines.clone();
    let print = lua
        .create_function(move |_, args: Variadic<String>| sink.raw_push(args.join("\t")))
        .unwrap();
    lua.globals().set("print", print).unwrap();
    lua.load(readme_script()).exec().unwrap();
    let printed: Vec<String> = lines
        .sequence_values::<String>()
        .collect::<mlua::Result<_>>()
        .unwrap();
    assert_eq!(
        printed,
        [
            "Hello from g",
            "HELLO FROM G\tGreeter g",
            "EntryPointNotFound\tEntry point not found: type 'Greeter' has no implementation of 'IGreet.goodbye' in implementation interface 'IGreetImpl'.",
        ]
    );
}

#[test]
fn the_readme_parity_snippet_runs() {
    let readme = include_str!("../README.md");
    let section = &readme[readme
        .find("## Embedding in Lua (mlua)")
        .expect("the README has the Lua section")..];
    let start = section.find("```lua\n").expect("a lua snippet") + "```lua\n".len();
    let len = section[start..]
        .find("```")
        .expect("the end of the snippet");
    let lua = Lua::new();
    install(&lua, &Runtime::<LuaHost>::new()).unwrap();
    lua.load(&section[start..start + len]).exec().unwrap();
}
