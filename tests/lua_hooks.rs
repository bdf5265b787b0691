//! A Lua class carrying the dynamic-castable hook (issue 6, point 2): the hook's functions
//! are counted from Lua, and the counts are exact.
#![cfg(feature = "lua")]

#[path = "common/lua.rs"]
mod common_lua;
use common_lua::lua_with;

use dynacast::lua::LuaHost;
use dynacast::Runtime;
use mlua::Lua;

/// A Lua state with the greeter fixtures: `IGreet { hello, goodbye }`, `IGreetImpl`
/// (marked, gives `hello` only), a class `DynamicCastable` whose hook maps `IGreet` to
/// `IGreetImpl` and counts its calls in the global `calls`.
fn greeter() -> (Lua, Runtime<LuaHost>) {
    lua_with(
        r#"
        calls = { is_interface_implemented = 0, get_interface_implementation = 0 }
        asked = {}
        IGreet = dynacast.interface("IGreet", { methods = { hello = 0, goodbye = 0 } })
        IGreetImpl = dynacast.interface("IGreetImpl", {
            bases = { IGreet },
            implementation = true,
            overrides = { hello = function(self) return "Hello World from " .. self:class().name end },
        })
        map = { [IGreet] = IGreetImpl }
        hook = {
            is_interface_implemented = function(self, iface, throw)
                calls.is_interface_implemented = calls.is_interface_implemented + 1
                return map[iface] ~= nil
            end,
            get_interface_implementation = function(self, iface)
                calls.get_interface_implementation = calls.get_interface_implementation + 1
                asked[#asked + 1] = iface.name
                return map[iface]
            end,
        }
        DynamicCastable = dynacast.class("DynamicCastable", { hook = hook })
        hello, goodbye = IGreet:method("hello"), IGreet:method("goodbye")
        function counts()
            return calls.is_interface_implemented, calls.get_interface_implementation
        end
        "#,
    )
}

fn counts(lua: &Lua, script: &str) -> (i64, i64) {
    lua.load(script).exec().unwrap();
    lua.load("return counts()").eval().unwrap()
}

#[test]
fn every_cast_asks_is_interface_implemented() {
    let (lua, _rt) = greeter();
    assert_eq!(
        counts(&lua, "local o = DynamicCastable:new(); o:cast(IGreet)"),
        (1, 0)
    );
    assert_eq!(
        counts(&lua, "local o = DynamicCastable:new(); assert(o:is(IGreet)); assert(o:is(IGreet)); o:cast(IGreet)"),
        (4, 0)
    );
    // A cast to a class never asks the hook; nor does a cast the metadata answers.
    assert_eq!(
        counts(
            &lua,
            r#"
            local IStatic = dynacast.interface("IStatic")
            local Sub = dynacast.class("Sub", { base = DynamicCastable, implements = { IStatic } })
            local o = Sub:new()
            assert(o:is(DynamicCastable) and o:is(dynacast.lookup("object")) and o:is(IStatic))
            o:cast(Sub); o:cast(IStatic)
            "#
        ),
        (4, 0)
    );
}

#[test]
fn the_hook_is_told_whether_to_throw() {
    let (lua, _rt) = greeter();
    let throws: Vec<bool> = lua
        .load(
            r#"
            local seen = {}
            hook.is_interface_implemented = function(self, iface, throw)
                seen[#seen + 1] = throw
                return true
            end
            local o = DynamicCastable:new()
            o:is(IGreet); o:cast(IGreet); o:is(IGreet)
            return seen
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(throws, [false, true, false]);
}

#[test]
fn get_interface_implementation_is_cached_per_class_and_method() {
    let (lua, _rt) = greeter();
    let (greeting, cached): (String, i64) = lua
        .load("return hello(DynamicCastable:new()), DynamicCastable.cached_resolutions")
        .eval()
        .unwrap();
    assert_eq!(greeting, "Hello World from DynamicCastable");
    assert_eq!(cached, 1);
    assert_eq!(counts(&lua, ""), (0, 1));
    // Every later call of `hello`, on any instance, is served from the class's cache.
    assert_eq!(
        counts(&lua, "local a, b = DynamicCastable:new(), DynamicCastable:new(); hello(a); hello(b); hello(a)"),
        (0, 1)
    );
    // `goodbye` is another method: asked again, and its failure is not cached.
    assert_eq!(
        counts(&lua, "assert(not pcall(goodbye, DynamicCastable:new()))"),
        (0, 2)
    );
    assert_eq!(
        counts(&lua, "assert(not pcall(goodbye, DynamicCastable:new()))"),
        (0, 3)
    );
    let asked: Vec<String> = lua.load("return asked").eval().unwrap();
    assert_eq!(asked, ["IGreet", "IGreet", "IGreet"]);
    let cached: i64 = lua
        .load("return DynamicCastable.cached_resolutions")
        .eval()
        .unwrap();
    assert_eq!(cached, 1);
}

#[test]
fn the_greeter_scenario_counts_exactly() {
    // scenario S7: a second instance's hello does not ask get_interface_implementation
    // again, while every cast asks is_interface_implemented again.
    let (lua, _rt) = greeter();
    assert_eq!(
        counts(&lua, "local a = DynamicCastable:new(); a:cast(IGreet); assert(hello(a) == 'Hello World from DynamicCastable')"),
        (1, 1)
    );
    assert_eq!(
        counts(
            &lua,
            "local b = DynamicCastable:new(); b:cast(IGreet); hello(b)"
        ),
        (2, 1)
    );
    let (kind, message): (String, String) = lua
        .load("local ok, e = pcall(goodbye, DynamicCastable:new()); return e.kind, e.message")
        .eval()
        .unwrap();
    assert_eq!(kind, "EntryPointNotFound");
    assert_eq!(
        message,
        "Entry point not found: type 'DynamicCastable' has no implementation of 'IGreet.goodbye' in implementation interface 'IGreetImpl'."
    );
    assert_eq!(counts(&lua, ""), (2, 2));
}

#[test]
fn each_lua_class_has_its_own_cache_and_subclasses_inherit_the_hook() {
    let (lua, _rt) = greeter();
    let (g1, g2, c1, c2): (String, String, i64, i64) = lua
        .load(
            r#"
            local Sub = dynacast.class("Sub", { base = DynamicCastable })
            local g1 = hello(DynamicCastable:new())
            local g2 = hello(Sub:new())
            hello(Sub:new())
            return g1, g2, DynamicCastable.cached_resolutions, Sub.cached_resolutions
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(g1, "Hello World from DynamicCastable");
    assert_eq!(g2, "Hello World from Sub");
    assert_eq!((c1, c2), (1, 1));
    assert_eq!(counts(&lua, ""), (0, 2), "one resolution per class");
}

#[test]
fn the_hook_is_asked_about_the_declaring_interface_and_metadata_wins() {
    let (lua, _rt) = greeter();
    let (direct, derived, asked): (i64, String, Vec<String>) = lua
        .load(
            r#"
            local IDirect = dynacast.interface("IDirect", { methods = { value = 0 } })
            local IDerivedGreet = dynacast.interface("IDerivedGreet", { bases = { IGreet } })
            map[IDirect] = IGreetImpl  -- would be InvalidOperation, but C1 never asks
            local C = dynacast.class("Direct", {
                base = DynamicCastable,
                implements = { IDirect },
                methods = { value = function(self) return -1 end },
            })
            local o = C:new()
            -- `hello` reached through the derived interface is declared by IGreet (C2).
            local derived = IDerivedGreet:method("hello")(o)
            return IDirect:method("value")(o), derived, asked
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(direct, -1);
    assert_eq!(derived, "Hello World from Direct");
    assert_eq!(asked, ["IGreet"]);
    assert_eq!(counts(&lua, ""), (0, 1));
}

#[test]
fn implementation_bodies_dispatch_on_this_again() {
    // rule C5: a body calling another method of the requested interface goes through the
    // hook path again (and picks up the cache), with `self` the original object.
    let (lua, _rt) = greeter();
    let (out, same): (String, bool) = lua
        .load(
            r#"
            local IPair = dynacast.interface("IPair", { methods = { first = 0, both = 0, me = 0 } })
            local IPairImpl = dynacast.interface("IPairImpl", {
                bases = { IPair },
                implementation = true,
                overrides = {
                    first = function(self) return "one" end,
                    both = function(self) return IPair:method("first")(self) .. "+two" end,
                    me = function(self) return self end,
                },
            })
            map[IPair] = IPairImpl
            local o = DynamicCastable:new()
            local out = IPair:method("both")(o)
            return out, rawequal(IPair:method("me")(o), o)
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(out, "one+two");
    assert!(same);
    assert_eq!(
        counts(&lua, ""),
        (0, 3),
        "both, first, me: one resolution each"
    );
}

#[test]
fn a_hook_table_may_take_its_functions_from_its_metatable() {
    let (lua, _rt) = greeter();
    let (cast, hello, counted): (bool, String, i64) = lua
        .load(
            r#"
            -- A hook written as an object of a plain Lua class: its functions are inherited.
            local HookClass = { __index = hook }
            local Proxy = dynacast.class("InheritedHook", { hook = setmetatable({}, HookClass) })
            local p = Proxy:new()
            local before = calls.is_interface_implemented
            return p:is(IGreet), IGreet.hello(p), calls.is_interface_implemented - before
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(
        (cast, hello.as_str(), counted),
        (true, "Hello World from InheritedHook", 1)
    );
}
