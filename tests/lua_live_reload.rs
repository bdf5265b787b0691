//! Live reload from Lua (issue 14, point 6): `dynacast.reload` re-runs a module; unchanged
//! definitions are the registered types, an edited class takes over the live objects
//! (their tables, so their fields, kept), an edited hook answer flushes the class, an
//! edited interface default method is a new interface that the taken-over objects
//! implement. Hook counts are exact, memory over 1,000 reloads is flat.
#![cfg(feature = "lua")]

#[path = "common/lua.rs"]
mod common_lua;
use common_lua::{lua, run};

use dynacast::lua::{lua_to_object, LuaHost};
use dynacast::{ClassRef, Runtime};
use mlua::Lua;

/// The module every test edits: `monster(version)` is its text (as an editor saves it).
/// `load_module(text)` runs it as `dynacast.reload` does, always as the chunk `=monster`
/// (the chunk name is part of a function's code).
fn state() -> (Lua, Runtime<LuaHost>) {
    let (lua, rt) = lua();
    run(
        &lua,
        r#"
        function reload(text)
            return dynacast.reload(assert(load(text, "=monster")))
        end
        asked = 0
        "#,
    );
    (lua, rt)
}

/// A module with an interface (a default method), a class with a local helper (an
/// upvalue that is a function) and a hooked class; `damage`, `describe` and `answer` are
/// the edits.
fn monster(damage: &str, describe: &str, answer: &str) -> String {
    format!(
        r#"
        IDamageable = dynacast.interface("IDamageable", {{ methods = {{
            take_damage = 1,
            describe = function(self) return {describe} end,
        }} }})
        local function clamp(x) if x < 0 then return 0 end return x end
        Monster = dynacast.class("Monster", {{
            implements = {{ IDamageable }},
            init = function(self, hp) self.hp = hp end,
            methods = {{ take_damage = function(self, n) self.hp = clamp(self.hp - {damage}) return self.hp end }},
        }})
        IGreet = dynacast.interface("IGreet", {{ methods = {{ hello = 0 }} }})
        IEnglish = dynacast.interface("IEnglish", {{ bases = {{ IGreet }}, implementation = true,
            overrides = {{ hello = function(self) return "hello " .. self.name end }} }})
        IFrench = dynacast.interface("IFrench", {{ bases = {{ IGreet }}, implementation = true,
            overrides = {{ hello = function(self) return "bonjour " .. self.name end }} }})
        Greeter = dynacast.class("Greeter", {{ hook = {{
            is_interface_implemented = function(self, iface) return true end,
            get_interface_implementation = function(self, iface)
                asked = asked + 1
                return {answer}
            end,
        }} }})
        "#
    )
}

fn v1() -> String {
    monster("n", r#""hp " .. self.hp"#, "IEnglish")
}

fn class(rt: &Runtime<LuaHost>, name: &str) -> ClassRef<LuaHost> {
    rt.lookup(name).unwrap().as_class().unwrap().clone()
}

fn eval<T: mlua::FromLuaMulti>(lua: &Lua, script: &str) -> T {
    match lua.load(script).set_name("=script").eval() {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn re_running_an_unchanged_module_is_a_no_op() {
    let (lua, rt) = state();
    lua.globals().set("V1", v1()).unwrap();
    // The first run is a plain one: what it defined is remembered all the same.
    run(&lua, r#"assert(load(V1, "=monster"))()"#);
    let monster = class(&rt, "Monster");
    let results: Vec<String> = eval(
        &lua,
        r#"
        local o = Monster(10)
        local I1, M1, G1 = IDamageable, Monster, Greeter
        local out = { IDamageable.describe(o), tostring(o:take_damage(3)) }
        reload(V1)
        reload(V1)
        out[#out + 1] = tostring(rawequal(IDamageable, I1) and rawequal(Monster, M1) and rawequal(Greeter, G1))
        out[#out + 1] = tostring(o:is(IDamageable) and o:class() == Monster and getmetatable(o) == getmetatable(Monster(1)))
        out[#out + 1] = IDamageable.describe(o)
        out[#out + 1] = tostring(IDamageable.take_damage(o, 20))
        return out
        "#,
    );
    assert_eq!(results, ["hp 10", "7", "true", "true", "hp 7", "0"]);
    let now = class(&rt, "Monster");
    assert_eq!(now, monster);
    assert_eq!(now.successor(), None);
}

#[test]
fn an_edited_method_body_reaches_live_objects_with_their_fields() {
    let (lua, rt) = state();
    lua.globals().set("V1", v1()).unwrap();
    lua.globals()
        .set("V2", monster("2 * n", r#""hp " .. self.hp"#, "IEnglish"))
        .unwrap();
    run(&lua, "reload(V1)");
    let v1_class = class(&rt, "Monster");
    let results: Vec<String> = eval(
        &lua,
        r#"
        light = Monster(10)                       -- never left Lua: no engine object yet
        full = Monster(10)
        full.name = "kept"
        assert(IDamageable.take_damage(full, 1) == 9 and full:take_damage(1) == 8)
        local I1, M1 = IDamageable, Monster
        reload(V2)
        local out = {
            tostring(rawequal(IDamageable, I1)),  -- the interface did not change
            tostring(Monster ~= M1),              -- the class did: a new class
            tostring(light.hp), tostring(full.hp), full.name,
            tostring(light:take_damage(1)),       -- obj:m()
            tostring(IDamageable.take_damage(full, 1)), -- I.m(obj)
            tostring(full:take_damage(1)),
            tostring(light:is(IDamageable) and full:is(Monster) and full:cast(IDamageable) == full),
            tostring(light:class() == Monster and full:class() == Monster),
            tostring(getmetatable(light) == getmetatable(Monster(1)) and getmetatable(full) == getmetatable(light)),
            tostring(M1(5):take_damage(1)),       -- a kept handle of the old class makes new objects
            tostring(full:is(M1)),
        }
        return out
        "#,
    );
    assert_eq!(
        results,
        ["true", "true", "10", "8", "kept", "8", "6", "4", "true", "true", "true", "3", "false"]
    );
    let v2_class = class(&rt, "Monster");
    assert_ne!(v2_class, v1_class);
    assert_eq!(v1_class.successor(), Some(v2_class.clone()));
    for name in ["light", "full"] {
        let obj = lua_to_object(&lua, &lua.globals().get(name).unwrap()).unwrap();
        assert_eq!(obj.current_class(), v2_class);
    }
}

#[test]
fn an_edited_hook_answer_reaches_live_objects_once_per_class() {
    let (lua, rt) = state();
    lua.globals().set("V1", v1()).unwrap();
    lua.globals()
        .set("V2", monster("n", r#""hp " .. self.hp"#, "IFrench"))
        .unwrap();
    run(&lua, "reload(V1)");
    let greeter = class(&rt, "Greeter");
    let results: Vec<String> = eval(
        &lua,
        r#"
        local a, b = Greeter:new({ name = "a" }), Greeter:new({ name = "b" })
        local G1 = Greeter
        local out = { IGreet.hello(a), IGreet.hello(b), IGreet.hello(a), tostring(asked) }
        reload(V2)                                -- the hook's answer changed: a flush
        out[#out + 1] = tostring(rawequal(Greeter, G1))
        out[#out + 1] = IGreet.hello(a)
        out[#out + 1] = IGreet.hello(b)
        out[#out + 1] = IGreet:method("hello")(a)
        out[#out + 1] = tostring(asked)
        reload(V2)                                -- unchanged: no flush
        out[#out + 1] = IGreet.hello(b)
        out[#out + 1] = tostring(asked)
        dynacast.flush(Greeter)                   -- an explicit flush asks again, once
        out[#out + 1] = IGreet.hello(a) .. IGreet.hello(b)
        out[#out + 1] = tostring(asked)
        dynacast.flush()                          -- so does a flush of the runtime
        out[#out + 1] = IGreet.hello(a) .. IGreet.hello(b)
        out[#out + 1] = tostring(asked)
        return out
        "#,
    );
    assert_eq!(
        results,
        [
            "hello a",
            "hello b",
            "hello a",
            "1",
            "true",
            "bonjour a",
            "bonjour b",
            "bonjour a",
            "2",
            "bonjour b",
            "2",
            "bonjour abonjour b",
            "3",
            "bonjour abonjour b",
            "4"
        ]
    );
    // The same class throughout; the engine resolved IGreet.hello once per flush.
    assert_eq!(class(&rt, "Greeter"), greeter);
    assert_eq!(greeter.cached_resolutions(), 1);
}

#[test]
fn an_edited_interface_default_method_reaches_live_objects() {
    let (lua, rt) = state();
    lua.globals().set("V1", v1()).unwrap();
    lua.globals()
        .set("V2", monster("n", r#""HP: " .. self.hp"#, "IEnglish"))
        .unwrap();
    run(&lua, "reload(V1)");
    let v1_iface = rt.lookup("IDamageable").unwrap();
    let results: Vec<String> = eval(
        &lua,
        r#"
        local o = Monster(10)
        local I1 = IDamageable
        local out = { o:describe(), IDamageable.describe(o) }
        reload(V2)
        out[#out + 1] = tostring(rawequal(IDamageable, I1))
        out[#out + 1] = tostring(rawequal(dynacast.lookup("IDamageable"), IDamageable))
        out[#out + 1] = o:describe()
        out[#out + 1] = IDamageable.describe(o)
        out[#out + 1] = tostring(o:is(IDamageable) and o:is("IDamageable") and o:cast(IDamageable) == o)
        -- The old interface is a type of its own that the new class does not implement.
        out[#out + 1] = tostring(o:is(I1))
        local ok, e = pcall(I1.describe, o)
        out[#out + 1] = e.kind .. ": " .. e.message
        return out
        "#,
    );
    assert_eq!(
        results,
        [
            "hp 10",
            "hp 10",
            "false",
            "true",
            "HP: 10",
            "HP: 10",
            "true",
            "false",
            "InvalidCast: Unable to cast object of type 'Monster' to type 'IDamageable'."
        ]
    );
    assert_ne!(rt.lookup("IDamageable").unwrap(), v1_iface);
}

#[test]
fn a_failed_reload_raises_and_ends_the_reload() {
    let (lua, _rt) = state();
    let results: Vec<String> = eval(
        &lua,
        r#"
        local out = {}
        local ok, e = pcall(dynacast.reload, function() error({ code = 7 }) end)
        out[#out + 1] = tostring(e.code)
        ok, e = pcall(dynacast.reload, 42)
        out[#out + 1] = e.kind .. ": " .. e.message
        ok, e = pcall(dynacast.reload, "/nonexistent/monster.lua")
        out[#out + 1] = e.kind
        -- Not reloading any more: a second definition of a class is refused again.
        dynacast.class("Once", { methods = { f = function(self) return 1 end } })
        ok, e = pcall(dynacast.class, "Once", { methods = { f = function(self) return 2 end } })
        out[#out + 1] = e.kind
        out[#out + 1] = tostring(select(2, dynacast.reload(function(x) return x, x + 1 end, 1)))
        ok, e = pcall(dynacast.flush, dynacast.interface("IX"))
        out[#out + 1] = e.kind .. ": " .. e.message
        return out
        "#,
    );
    assert_eq!(
        results,
        [
            "7",
            "BadArgument: dynacast.reload takes a function or the path of a Lua file, got a number",
            "BadArgument",
            "TypeLoad",
            "2",
            "BadArgument: dynacast.flush takes a class; 'IX' is an interface"
        ]
    );
}

/// 1,000 reloads, each an edit of the class (a new class that takes over the live objects:
/// ten of them, one held by Rust) and of the hook's answer, with calls between: after full
/// collections the Lua heap is where it was after the first 100 reloads, and so is the
/// number of class versions alive does not grow (counted by their functions in a weak
/// table, once mlua released the values of dropped registry keys): the first (whose engine
/// objects were made with it), the newest, and the few the engine frees at a later
/// takeover (its grace period).
#[test]
fn memory_over_a_thousand_reloads_with_live_objects_is_flat() {
    let (lua, rt) = state();
    run(
        &lua,
        r#"
        versions = setmetatable({}, { __mode = "k" })  -- each version's take_damage
        objects = {}
        function cycle(i)
            local text = string.format([[
                IHp = dynacast.interface("IHp", { methods = { hp = 0 } })
                Mob = dynacast.class("Mob", {
                    implements = { IHp },
                    methods = {
                        hp = function(self) return self.hp end,
                        take_damage = function(self, n) self.hp = self.hp - n * %d return self.hp end,
                    },
                    hook = {
                        is_interface_implemented = function() return false end,
                        get_interface_implementation = function() return %s end,
                    },
                })
                versions[Mob.take_damage] = true
            ]], i, i % 2 == 0 and "nil" or "false")
            reload(text)
            if #objects == 0 then
                for k = 1, 10 do objects[k] = Mob:new({ hp = 1000000 }) end
                for k = 1, 5 do assert(IHp.hp(objects[k]) == 1000000) end  -- engine objects
            end
            for k = 1, 10 do
                local o = objects[k]
                o:take_damage(1)
                assert(IHp.hp(o) == o.hp and o:is(IHp) and o:class() == Mob)
            end
        end
        function full_collect()
            collectgarbage("collect")
            collectgarbage("collect")
            return collectgarbage("count")
        end
        function alive_versions()
            local n = 0
            for _ in next, versions do n = n + 1 end
            return n
        end
        "#,
    );
    let held = {
        run(&lua, "cycle(0)");
        lua_to_object(&lua, &lua.load("objects[10]").eval().unwrap()).unwrap()
    };
    let cycle: mlua::Function = lua.globals().get("cycle").unwrap();
    let full_collect: mlua::Function = lua.globals().get("full_collect").unwrap();
    for i in 1..100 {
        cycle.call::<()>(i).unwrap();
    }
    // mlua releases the values of dropped registry keys lazily; counted, they are released.
    lua.expire_registry_values();
    let warm_kib: f64 = full_collect.call(()).unwrap();
    let warm_alive: i64 = eval(&lua, "return alive_versions()");
    for i in 100..1100 {
        cycle.call::<()>(i).unwrap();
    }
    lua.expire_registry_values();
    let end_kib: f64 = full_collect.call(()).unwrap();
    let alive: i64 = eval(&lua, "return alive_versions()");
    eprintln!(
        "Lua heap after 100 reloads {warm_kib:.1} KiB, after 1,100 {end_kib:.1} KiB; \
         class versions alive {warm_alive}, then {alive}"
    );
    assert!(end_kib - warm_kib < 4.0, "{warm_kib} KiB -> {end_kib} KiB");
    assert!(
        alive <= warm_alive && alive <= 8,
        "{warm_alive} -> {alive} versions alive"
    );
    assert_eq!(held.current_class(), class(&rt, "Mob"));
    let hp: i64 = eval(&lua, "return objects[10].hp");
    assert!(hp < 1_000_000 - 1100);
}

/// `dynacast.reload(path)`: the editor's call, on a file saved twice; a subclass re-run
/// with its base follows too; an object made in Rust before the takeover and handed over
/// after it gets the new class's metatable.
#[test]
fn reloading_a_file_moves_subclasses_and_objects_made_in_rust() {
    let (lua, rt) = state();
    let dir = std::env::temp_dir().join(format!("dynacast-live-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pets.lua");
    let pets = |sound: &str| {
        format!(
            r#"
            Pet = dynacast.class("Pet", {{ methods = {{ sound = function(self) return "{sound}" end }} }})
            Dog = dynacast.class("Dog", {{ base = Pet, methods = {{ fetch = function(self) return self:sound() .. "!" end }} }})
            "#
        )
    };
    std::fs::write(&path, pets("...")).unwrap();
    lua.globals()
        .set("PATH", path.to_string_lossy().into_owned())
        .unwrap();
    run(
        &lua,
        "dynacast.reload(PATH); rex = Dog:new({ name = 'rex' })",
    );
    let old_dog = class(&rt, "Dog");
    let fields = lua.create_table().unwrap();
    fields.raw_set("name", "fido").unwrap();
    let fido = rt
        .new_object(
            &old_dog,
            dynacast::lua::LuaPayload::new(&lua, fields).unwrap(),
        )
        .unwrap();
    std::fs::write(&path, pets("woof")).unwrap();
    let results: Vec<String> = eval(
        &lua,
        r#"
        local D1 = Dog
        dynacast.reload(PATH)
        return { tostring(Dog ~= D1), rex:fetch(), rex.name, tostring(rex:class() == Dog) }
        "#,
    );
    assert_eq!(results, ["true", "woof!", "rex", "true"]);
    let table = dynacast::lua::object_to_lua(&lua, &fido).unwrap();
    lua.globals().set("fido", table).unwrap();
    let fido_results: Vec<String> = eval(
        &lua,
        "return { fido:fetch(), fido.name, tostring(getmetatable(fido) == getmetatable(rex)) }",
    );
    assert_eq!(fido_results, ["woof!", "fido", "true"]);
    assert_eq!(old_dog.successor(), Some(class(&rt, "Dog")));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What only the Lua side has (initializer, metamethods, statics) is taken from a re-run
/// of an otherwise unchanged class: the same engine class, nothing taken over.
#[test]
fn an_unchanged_class_takes_its_initializer_metamethods_and_statics_from_the_re_run() {
    let (lua, rt) = state();
    let text = |greeting: &str| {
        format!(
            r#"
            Box = dynacast.class("Box", {{
                init = function(self, v) self.v = "{greeting}" .. v end,
                methods = {{ get = function(self) return self.v end }},
                metamethods = {{ __tostring = function(self) return "{greeting}box" end }},
                statics = {{ kind = function() return "{greeting}kind" end }},
            }})
            "#
        )
    };
    lua.globals().set("A", text("a:")).unwrap();
    lua.globals().set("B", text("b:")).unwrap();
    run(&lua, "reload(A); old = Box(1)");
    let first = class(&rt, "Box");
    let results: Vec<String> = eval(
        &lua,
        r#"
        local B1 = Box
        assert(Box.kind() == "a:kind")
        reload(B)
        local new = Box(2)
        return { tostring(rawequal(Box, B1)), old:get(), new:get(), tostring(old), tostring(new), Box.kind() }
        "#,
    );
    assert_eq!(results, ["true", "a:1", "b:2", "b:box", "b:box", "b:kind"]);
    assert_eq!(class(&rt, "Box"), first);
}

#[test]
fn a_runtime_without_live_reload_refuses_a_flush_from_lua() {
    let lua = Lua::new();
    let rt = Runtime::<LuaHost>::new();
    dynacast::lua::install(&lua, &rt).unwrap();
    run(
        &lua,
        r#"
        local ok, e = pcall(dynacast.flush)
        assert(not ok and e.kind == "InvalidOperation", tostring(e))
        assert(e.message:find("live reload is not enabled", 1, true), e.message)
        "#,
    );
}

/// A reload that edits a hook's cast answer: `obj:is` and `obj:cast` (which call a Lua
/// hook from Lua, reading the class's hook table anew) follow it at the next cast, one
/// hook call per cast.
#[test]
fn an_edited_cast_answer_reaches_live_objects_at_the_next_cast() {
    let (lua, _rt) = state();
    let module = |answer: &str| {
        format!(
            r#"
            IGreet = dynacast.interface("IGreet", {{ methods = {{ hello = 0 }} }})
            Proxy = dynacast.class("Proxy", {{ hook = {{
                is_interface_implemented = function(self, iface, throw)
                    asked = asked + 1
                    return {answer}
                end,
            }} }})
            "#
        )
    };
    lua.globals().set("V1", module("true")).unwrap();
    lua.globals().set("V2", module("false")).unwrap();
    run(&lua, "reload(V1)");
    let (answers, asked): (Vec<bool>, i64) = eval(
        &lua,
        r#"
        local p = Proxy:new()
        local function casts() return p:is(IGreet), (pcall(p.cast, p, IGreet)) end
        local out = { casts() }
        reload(V2)
        local a, b = casts()
        out[3], out[4] = a, b
        reload(V1)
        a, b = casts()
        out[5], out[6] = a, b
        return out, asked
        "#,
    );
    assert_eq!(answers, [true, true, false, false, true, true]);
    assert_eq!(asked, 6);
}
