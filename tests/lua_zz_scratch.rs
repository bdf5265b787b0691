#![cfg(feature = "lua")]
use dynacast::lua::{install, LuaHost};
use dynacast::Runtime;
#[test]
fn scratch() {
    let lua = mlua::Lua::new();
    let rt = Runtime::<LuaHost>::new();
    install(&lua, &rt).unwrap();
    let s: String = lua.load(r#"
        Node = dynacast.class("Node", {})
        local out = {}
        local function round()
            for i = 1, 100000 do
                local a, b = Node:new {}, Node:new {}
                a.other = b; b.other = a
            end
        end
        collectgarbage(); collectgarbage()
        out[#out+1] = collectgarbage("count")
        for r = 1, 6 do
            round()
            collectgarbage(); collectgarbage()
            out[#out+1] = collectgarbage("count")
        end
        return table.concat(out, " ")
    "#).eval().unwrap();
    println!("ROUNDS {s}");
}
