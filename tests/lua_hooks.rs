//! A Lua class carrying the dynamic-castable hook (issue 6, point 2): the hook's functions
//! are counted from Lua, and the counts are exact.
#![cfg(feature = "lua")]

#[path = "common/lua.rs"]
mod common_lua;
use common_lua::{lua_with, run};

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

#[test]
fn a_cast_a_lua_hook_decides_answers_alike_from_lua_and_through_the_engine() {
    // `obj:is(T)` and `obj:cast(T)` call a hook written in Lua from the prelude; the
    // `dynacast.is` / `dynacast.cast` functions go through the engine. Same answers, same
    // errors, one hook call per attempt either way.
    let (lua, _rt) = greeter();
    run(
        &lua,
        r##"
        local o = DynamicCastable:new()
        local function both(f)
            hook.is_interface_implemented = f
            local before = calls.is_interface_implemented
            local a, b = o:is(IGreet), dynacast.is(o, IGreet)
            return a, b, calls.is_interface_implemented - before
        end
        local function count(f) return function(...) calls.is_interface_implemented = calls.is_interface_implemented + 1; return f(...) end end
        -- Any true value is yes, nil and false are no: always a boolean.
        assert(select("#", both(count(function() return 1 end))) == 3)
        local a, b, n = both(count(function() return {} end))
        assert(a == true and b == true and n == 2, tostring(a))
        a, b, n = both(count(function() end))
        assert(a == false and b == false and n == 2)
        -- No function: no; a cast fails with the engine's error and the caller's line.
        a, b, n = both(nil)
        assert(a == false and b == false and n == 0)
        local ok, e = pcall(function() return o:cast(IGreet) end) -- line 19
        assert(not ok and getmetatable(e) == dynacast.Error and e.kind == "InvalidCast", tostring(e))
        assert(e.message == "Unable to cast object of type 'DynamicCastable' to type 'IGreet'.", e.message)
        assert(e.where == "script:19", e.where)
        local ok2, e2 = pcall(function() return dynacast.cast(o, IGreet) end) -- line 23
        assert(not ok2 and e2.kind == e.kind and e2.message == e.message and e2.where == "script:23")
        -- A hook that says no to a cast: the same error.
        hook.is_interface_implemented = function(self, iface, throw) assert(throw == true) return false end
        ok, e = pcall(function() return o:cast(IGreet) end) -- line 27
        assert(not ok and e.kind == "InvalidCast" and e.where == "script:27", tostring(e))
        -- Something that is no function: the engine's error, from both.
        hook.is_interface_implemented = 42
        ok, e = pcall(o.is, o, IGreet)
        ok2, e2 = pcall(dynacast.is, o, IGreet)
        assert(not ok and not ok2 and getmetatable(e) == dynacast.Error, tostring(e))
        assert(e.kind == e2.kind and e.message == e2.message, e.message .. " / " .. e2.message)
        ok, e = pcall(o.cast, o, IGreet)
        assert(not ok and e.kind == e2.kind and e.message == e2.message)
        -- A raised value reaches the caller unchanged, from both.
        local raised = {}
        hook.is_interface_implemented = function() error(raised) end
        for _, f in ipairs({ o.is, o.cast, dynacast.is, dynacast.cast }) do
            ok, e = pcall(f, o, IGreet)
            assert(not ok and rawequal(e, raised))
        end
        -- Yes again: a cast returns the object.
        hook.is_interface_implemented = function() return true end
        assert(rawequal(o:cast(IGreet), o) and rawequal(dynacast.cast(o, IGreet), o))
        "##,
    );
}

#[test]
fn a_lua_hooks_error_keeps_its_frames() {
    // SAFETY: the script uses `debug` only to read a traceback.
    let lua = unsafe {
        Lua::unsafe_new_with(
            mlua::StdLib::ALL_SAFE | mlua::StdLib::DEBUG,
            mlua::LuaOptions::default(),
        )
    };
    dynacast::lua::install(&lua, &Runtime::<LuaHost>::new()).unwrap();
    run(
        &lua,
        r#"
        local I = dynacast.interface("I")
        local P = dynacast.class("P", { hook = {
            is_interface_implemented = function(self, iface)
                local t = nil
                return t.field -- line 6
            end,
        } })
        local p = P:new()
        for _, f in ipairs({ p.is, p.cast }) do
            local ok, tb = xpcall(f, debug.traceback, p, I)
            assert(not ok and tb:find("script:6: attempt to index a nil value", 1, true), tb)
            assert(tb:find("\n%s*script:6: in "), tb)
        end
        "#,
    );
}

#[test]
fn a_lua_hook_that_asks_itself_without_end_fails_cleanly() {
    // No engine crossing, so no hook nesting count (`max_hook_depth`): Lua's own stack
    // limit stops it, with Lua's error; the class's casts work afterwards.
    let (lua, _rt) = greeter();
    run(
        &lua,
        r#"
        local o = DynamicCastable:new()
        local depth, forever = 0, true
        hook.is_interface_implemented = function(self, iface)
            depth = depth + 1
            if forever then return self:is(iface) end
            return true
        end
        local ok, e = pcall(o.is, o, IGreet)
        assert(not ok and type(e) == "string" and e:find("stack overflow", 1, true), tostring(e))
        assert(depth > 1000, depth)
        forever, depth = false, 0
        assert(o:is(IGreet) == true and depth == 1)
        "#,
    );
}

#[test]
fn a_rust_hook_on_a_class_used_from_lua_runs_on_every_cast() {
    use dynacast::{DynamicCastable, Error, InterfaceRef, Object, TypeRef};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Counted(Arc<AtomicUsize>);
    impl DynamicCastable<LuaHost> for Counted {
        fn is_interface_implemented(
            &self,
            _: &Object<LuaHost>,
            iface: &InterfaceRef<LuaHost>,
            _: bool,
            _: &mut Lua,
        ) -> Result<bool, Error<dynacast::lua::LuaError>> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(iface.name() == "IGreet")
        }
        fn get_interface_implementation(
            &self,
            _: &Object<LuaHost>,
            _: &InterfaceRef<LuaHost>,
            _: &mut Lua,
        ) -> Result<Option<TypeRef<LuaHost>>, Error<dynacast::lua::LuaError>> {
            Ok(None)
        }
    }
    let (lua, rt) = greeter();
    let seen = Arc::new(AtomicUsize::new(0));
    rt.class("RustHooked")
        .hook(Counted(seen.clone()))
        .define()
        .unwrap();
    run(
        &lua,
        r#"
        local o = dynacast.lookup("RustHooked"):new()
        local I2 = dynacast.interface("IOther")
        assert(o:is(IGreet) and o:is(IGreet) and not o:is(I2))
        assert(rawequal(o:cast(IGreet), o))
        local ok, e = pcall(o.cast, o, I2)
        assert(not ok and e.kind == "InvalidCast", tostring(e))
        "#,
    );
    assert_eq!(seen.load(Ordering::Relaxed), 5);
}

#[test]
fn a_lua_hook_asked_by_obj_is_may_yield_and_one_asked_through_the_engine_may_not() {
    let (lua, _rt) = greeter();
    run(
        &lua,
        r#"
        hook.is_interface_implemented = function(self, iface, throw)
            local answer = coroutine.yield("asking")
            return answer
        end
        local o = DynamicCastable:new()
        for _, f in ipairs({ o.is, o.cast }) do
            local co = coroutine.wrap(function() return f(o, IGreet) end)
            assert(co() == "asking")
            assert(co(true) ~= false)
        end
        local co = coroutine.create(function() return o:is(IGreet) end)
        assert(select(2, coroutine.resume(co)) == "asking")
        local ok, answer = coroutine.resume(co, false)
        assert(ok and answer == false)
        -- Through the engine (a Rust frame in between), the hook cannot yield.
        local ok2, e = coroutine.resume(coroutine.create(function() return dynacast.is(o, IGreet) end))
        assert(not ok2 and tostring(e):find("yield across", 1, true), tostring(e))
        "#,
    );
}
