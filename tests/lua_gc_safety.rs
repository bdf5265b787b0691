//! Point 2 (the GC sees everything) and point 5 (safety) of the second-generation binding:
//! cycles through fields are collected, an object Rust holds keeps its fields, nothing
//! leaks when a state closes, and objects, types and runtimes of another Lua state are
//! refused with an error, never a panic.
#![cfg(feature = "lua")]

#[path = "common/lua.rs"]
mod common_lua;
use common_lua::lua_with;

use dynacast::lua::{
    install, lua_to_object, object_to_lua, type_to_lua, BindingError, LuaHost, LuaMethod,
    LuaPayload,
};
use dynacast::{Object, Runtime};
use mlua::{Lua, Table, Value};

fn lua() -> (Lua, Runtime<LuaHost>) {
    lua_with(r#"Node = dynacast.class("Node", {})"#)
}

fn binding_kind(e: &mlua::Error) -> &'static str {
    e.downcast_ref::<BindingError>()
        .map_or("not a BindingError", |b| b.kind)
}

#[test]
fn cycles_through_fields_are_collected() {
    let (lua, _rt) = lua();
    // Rounds of 100,000 pairs: memory must come back to within 1 MB of the baseline after
    // two collections each time (the old binding kept every pair's fields from Rust, +45 MB
    // per round). The binding's identity tables are rebuilt after a burst, else they would
    // keep the burst's hash capacity (about 9 MB here).
    let growth: f64 = lua
        .load(
            r#"
            local function round()
                for i = 1, 100000 do
                    local a, b = Node:new {}, Node:new {}
                    a.other = b; b.other = a
                    a.self = a
                end
            end
            collectgarbage(); collectgarbage()
            local base = collectgarbage("count")
            local worst = 0
            for r = 1, 3 do
                round()
                collectgarbage(); collectgarbage()
                worst = math.max(worst, collectgarbage("count") - base)
            end
            return worst
            "#,
        )
        .eval()
        .unwrap();
    assert!(
        growth < 1000.0,
        "{growth} KiB still held after two collections"
    );
}

#[test]
fn an_object_held_from_rust_keeps_its_fields_through_collections() {
    let (lua, rt) = lua();
    // Made in Lua, held by Rust only; a cycle through its fields on top.
    let ud: Table = lua
        .load("local o = Node:new { hp = 7 }; o.me = o; return o")
        .eval()
        .unwrap();
    let obj = lua_to_object(&lua, &Value::Table(ud.clone())).unwrap();
    drop(ud);
    for _ in 0..3 {
        lua.gc_collect().unwrap();
    }
    assert_eq!(
        obj.payload()
            .fields(&lua)
            .unwrap()
            .get::<i64>("hp")
            .unwrap(),
        7
    );
    lua.globals()
        .set("o", object_to_lua(&lua, &obj).unwrap())
        .unwrap();
    lua.load("collectgarbage(); collectgarbage(); assert(o.hp == 7 and rawequal(o.me, o))")
        .exec()
        .unwrap();

    // Made in Rust, never handed to Lua, then handed over, dropped by Lua, collected.
    let class = rt.lookup("Node").unwrap().as_class().unwrap().clone();
    let fields = lua.create_table().unwrap();
    fields.set("name", "rusty").unwrap();
    let made = rt
        .new_object(&class, LuaPayload::new(&lua, fields).unwrap())
        .unwrap();
    lua.gc_collect().unwrap();
    lua.globals()
        .set("m", object_to_lua(&lua, &made).unwrap())
        .unwrap();
    lua.load("m.level = 3; m = nil; collectgarbage(); collectgarbage()")
        .exec()
        .unwrap();
    let f = made.payload().fields(&lua).unwrap();
    assert_eq!(f.get::<String>("name").unwrap(), "rusty");
    assert_eq!(f.get::<i64>("level").unwrap(), 3);
}

#[test]
fn a_dropped_rust_handle_lets_lua_collect_the_object() {
    let (lua, _rt) = lua();
    let ud: Table = lua
        .load("return Node:new { big = string.rep('x', 1 << 20) }")
        .eval()
        .unwrap();
    let obj = lua_to_object(&lua, &Value::Table(ud.clone())).unwrap();
    drop(ud);
    lua.gc_collect().unwrap();
    lua.gc_collect().unwrap();
    let held = lua.used_memory();
    // The rescued fields were pinned for Rust; the last handle takes the pin with it.
    drop(obj);
    lua.load("local t = {} collectgarbage(); collectgarbage()")
        .exec()
        .unwrap();
    lua.gc_collect().unwrap();
    assert!(
        lua.used_memory() + (1 << 20) <= held,
        "the 1 MiB field was not freed"
    );
}

#[test]
fn closing_a_state_releases_every_object_it_held() {
    let (lua, rt) = lua();
    let class = rt.lookup("Node").unwrap().as_class().unwrap().clone();
    let kept = rt
        .new_object(
            &class,
            LuaPayload::new(&lua, lua.create_table().unwrap()).unwrap(),
        )
        .unwrap();
    lua.globals()
        .set("kept", object_to_lua(&lua, &kept).unwrap())
        .unwrap();
    lua.load("local a = Node:new {}; a.k = kept; kept.a = a; kept.me = kept")
        .exec()
        .unwrap();
    assert_eq!(kept.handle_count(), 2, "Rust's handle and the userdata's");
    drop(lua);
    assert_eq!(kept.handle_count(), 1, "the userdata went with the state");
}

#[test]
fn objects_of_another_state_are_refused_not_a_panic() {
    let (lua, _rt) = self::lua();
    let ud: Table = lua.load("return Node:new { hp = 1 }").eval().unwrap();
    let obj: Object<LuaHost> = lua_to_object(&lua, &Value::Table(ud.clone())).unwrap();

    // A second state with its own runtime.
    let (lua2, _rt2) = self::lua();
    let err = object_to_lua(&lua2, &obj).unwrap_err();
    assert_eq!(binding_kind(&err), "ForeignState");
    assert_eq!(
        err.to_string(),
        "ForeignState: type 'Node' belongs to a dynacast runtime installed in another Lua state"
    );
    let err = type_to_lua(&lua2, &obj.class().as_type()).unwrap_err();
    assert_eq!(binding_kind(&err), "ForeignState");
    let err = obj.payload().fields(&lua2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ForeignState: the object belongs to another Lua state (or one that was closed)"
    );
    let table_of_lua2 = lua2.create_table().unwrap();
    let err = LuaPayload::new(&lua, table_of_lua2).err().unwrap();
    assert_eq!(
        err.to_string(),
        "ForeignState: the fields table belongs to another Lua state"
    );

    // A body of the first state, run from Rust with the second state as the context:
    // refused, never called in the wrong state.
    let (m, o): (mlua::AnyUserData, Table) = lua
        .load(
            r#"
            local IM = dynacast.interface("IM", { methods = { m = function(self) return 1 end } })
            local o = dynacast.class("WithM", { implements = { IM } }):new()
            assert(IM.m(o) == 1)
            return IM:method("m"), o
            "#,
        )
        .eval()
        .unwrap();
    let with_m = lua_to_object(&lua, &Value::Table(o)).unwrap();
    let m = match &*m.borrow::<LuaMethod>().unwrap() {
        LuaMethod::Interface(m) => m.clone(),
        LuaMethod::Class(_) => panic!("an interface method"),
    };
    assert_eq!(
        with_m.call(&m, &[], &mut lua.clone()).unwrap(),
        Value::Integer(1)
    );
    let err = with_m.call(&m, &[], &mut lua2.clone()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ForeignState: type 'WithM' belongs to a dynacast runtime installed in another Lua state"
    );

    // After the state closed: errors, not panics.
    drop(ud);
    drop(lua);
    let err = obj.payload().fields(&lua2).unwrap_err();
    assert_eq!(binding_kind(&err), "ForeignState");
}

#[test]
fn a_runtime_serves_one_lua_state() {
    let (_lua, rt) = lua();
    let other = Lua::new();
    let err = install(&other, &rt).unwrap_err();
    assert_eq!(binding_kind(&err), "ForeignState");
    assert_eq!(
        err.to_string(),
        "ForeignState: this dynacast runtime is already installed in a Lua state; a runtime serves one Lua state"
    );
    assert!(other
        .globals()
        .get::<Option<mlua::Table>>("dynacast")
        .unwrap()
        .is_none());
}

#[test]
fn objects_a_script_makes_get_their_engine_object_when_rust_first_needs_it() {
    let (lua, _rt) = lua();
    // After a class's first object, `Class:new` stays in Lua: the engine object is made
    // when Rust first needs it, and it is the same object (and table) from then on.
    let (o, first): (Table, Table) = lua
        .load(
            r#"
            local first = Node:new {}
            local o = Node:new { hp = 7 }
            o.me = o
            assert(getmetatable(o) == getmetatable(first), "one metatable per class")
            local ok, e = pcall(setmetatable, o, {})
            assert(not ok and e == "cannot change a protected metatable", tostring(e))
            assert(dynacast.is(o, Node) and o:class() == Node)
            return o, first
            "#,
        )
        .eval()
        .unwrap();
    let obj = lua_to_object(&lua, &Value::Table(o.clone())).unwrap();
    let again = lua_to_object(&lua, &Value::Table(o.clone())).unwrap();
    assert!(Object::ptr_eq(&obj, &again));
    let other = lua_to_object(&lua, &Value::Table(first)).unwrap();
    assert!(!Object::ptr_eq(&obj, &other));
    drop((o, again));
    for _ in 0..3 {
        lua.gc_collect().unwrap();
    }
    // Lua let go; Rust's handle kept the table, fields and cycle included.
    lua.globals()
        .set("o", object_to_lua(&lua, &obj).unwrap())
        .unwrap();
    lua.load("assert(o.hp == 7 and rawequal(o.me, o) and tostring(o):match('^Node: '))")
        .exec()
        .unwrap();

    // A hook sees the object the script made, itself.
    lua.load(
        r#"
        local IGreet = dynacast.interface("IGreet", { methods = { hello = 0 } })
        local seen = {}
        local Proxy = dynacast.class("Proxy", {
            hook = { is_interface_implemented = function(self) seen[#seen + 1] = self; return true end },
        })
        local _, p = Proxy:new {}, Proxy:new { tag = "p" }
        assert(p:is(IGreet) and p:is(IGreet))
        assert(#seen == 2 and rawequal(seen[1], p) and rawequal(seen[2], p))
        "#,
    )
    .exec()
    .unwrap();
}

#[test]
fn fields_that_are_no_plain_table_go_through_the_engine_checks() {
    let (lua, _rt) = lua();
    lua.load(
        r#"
        local _ = Node:new {}
        for _, bad in ipairs({ 5, "x", setmetatable({}, {}) }) do
            local ok, e = pcall(Node.new, Node, bad)
            assert(not ok and getmetatable(e) == dynacast.Error and e.kind == "BadArgument", tostring(e))
        end
        local A = dynacast.class("A", { abstract = true, methods = { m = 0 } })
        for _ = 1, 2 do
            local ok, e = pcall(A.new, A, {})
            assert(not ok and e.kind == "InvalidOperation", tostring(e))
        end
        "#,
    )
    .exec()
    .unwrap();
}
