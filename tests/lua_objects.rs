//! The second-generation Lua binding, as a script sees it: idiomatic objects (point 1),
//! errors with kinds and positions (point 4), strict definitions (point 6), depth and
//! yield (point 7) and reflection (point 8).
#![cfg(feature = "lua")]

#[path = "common/lua.rs"]
mod common_lua;
use common_lua::{lua, run};

use dynacast::lua::{create_function, install, lua_to_object, LuaHost};
use dynacast::Runtime;
use mlua::{Lua, LuaOptions, StdLib};

#[test]
fn objects_call_their_methods_like_lua_objects() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        local IShape = dynacast.interface("IShape", {
            methods = { area = 0, describe = function(self) return "shape of area " .. self:area() end },
        })
        local Animal = dynacast.class("Animal", {
            implements = { IShape },
            methods = {
                speak = function(self) return "..." end,
                name_of = function(self) return self.name end,
                area = function(self) return 1 end,
            },
            init = function(self, name) self.name = name end,
        })
        local Dog = dynacast.class("Dog", {
            base = Animal,
            methods = { speak = function(self) return "woof, not " .. Animal.speak(self) end },
        })
        local d = Dog("rex")
        -- The most derived override; a super call through the base class; the inherited init.
        assert(d:speak() == "woof, not ...", d:speak())
        assert(d:name_of() == "rex" and d.name == "rex")
        -- An interface method with a default body, found by name among the class's
        -- interfaces, and the same through the interface.
        assert(d:describe() == "shape of area 1", d:describe())
        assert(IShape.describe(d) == "shape of area 1" and IShape.area(d) == 1)
        -- Fields a game would use are not shadowed, not even by the object's own methods.
        d.class, d.type, d.is = "warrior", "hero", 3
        assert(d.class == "warrior" and d.type == "hero" and d.is == 3)
        local e = Dog("fido")
        assert(e:class() == Dog and e:is(IShape) and rawequal(e:cast(IShape), e))
        -- tostring shows identity; pairs walks the fields only.
        assert(tostring(e):match("^Dog: 0x%x+$") and tostring(e) ~= tostring(d))
        local keys = {}
        for k, v in pairs(e) do keys[#keys + 1] = k .. "=" .. tostring(v) end
        assert(#keys == 1 and keys[1] == "name=fido", table.concat(keys, ","))
        -- Reading an absent field is nil, as on a table.
        assert(e.missing == nil and e.missing == nil)
        "#,
    );
}

#[test]
fn a_name_two_interfaces_give_is_an_error_naming_both() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        local A = dynacast.interface("IA", { methods = { go = function(self) return "a" end } })
        local B = dynacast.interface("IB", { methods = { go = function(self) return "b" end } })
        local C = dynacast.class("Both", { implements = { A, B } })
        local o = C:new()
        local ok, e = pcall(function() return o:go() end)
        assert(not ok and getmetatable(e) == dynacast.Error and e.kind == "AmbiguousName", tostring(e))
        assert(e.message == "class 'Both' implements 'go' of both 'IA' and 'IB'; call IA.go(obj) or IB.go(obj)", e.message)
        assert(A.go(o) == "a" and B.go(o) == "b")
        "#,
    );
}

#[test]
fn class_specs_declare_metamethods() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        closed = {}
        local V = dynacast.class("Vec", {
            init = function(self, x) self.x = x end,
            metamethods = {
                __tostring = function(self) return "Vec(" .. self.x .. ")" end,
                __eq = function(a, b) return a.x == b.x end,
                __lt = function(a, b) return a.x < b.x end,
                __le = function(a, b) return a.x <= b.x end,
                __len = function(self) return self.x end,
                __concat = function(a, b) return tostring(a) .. "|" .. tostring(b) end,
                __call = function(self, y) return self.x + y end,
                __close = function(self) closed[#closed + 1] = self.x end,
            },
        })
        local Sub = dynacast.class("SubVec", { base = V })
        local a, b, c = V(1), V(2), Sub(1)
        assert(tostring(a) == "Vec(1)" and tostring(c) == "Vec(1)", "inherited")
        assert(a == c and a ~= b and a < b and a <= c and #b == 2)
        assert(a .. b == "Vec(1)|Vec(2)" and a(41) == 42)
        do local scoped <close> = V(7) end
        assert(closed[1] == 7)
        "#,
    );
}

#[test]
fn hook_dispatch_through_an_interface_field_counts_like_rust() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        local calls = { is = 0, get = 0 }
        local IGreet = dynacast.interface("IGreet", { methods = { hello = 0 } })
        local Impl = dynacast.interface("IGreetImpl", {
            bases = { IGreet }, implementation = true,
            overrides = { hello = function(self) return "hi " .. self.who end },
        })
        local Proxy = dynacast.class("Proxy", { hook = {
            is_interface_implemented = function(self, i) calls.is = calls.is + 1; return i == IGreet end,
            get_interface_implementation = function(self, i) calls.get = calls.get + 1; return Impl end,
        } })
        local p, q = Proxy:new { who = "p" }, Proxy:new { who = "q" }
        assert(IGreet.hello(p) == "hi p" and IGreet.hello(q) == "hi q" and IGreet.hello(p) == "hi p")
        assert(calls.get == 1 and calls.is == 0, calls.get .. " " .. calls.is)
        -- Every cast asks the hook (rule B2-B3).
        p:cast(IGreet); p:cast(IGreet); assert(p:is(IGreet))
        assert(calls.is == 3, calls.is)
        -- The proxy's class implements nothing in metadata: obj:hello() is not found.
        assert(p.hello == nil)
        "#,
    );
}

#[test]
fn binding_errors_are_dynacast_errors_with_a_kind_and_the_calling_line() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        local I = dynacast.interface("I", { methods = { m = function(self) return 1 end } })
        local function check(f, kind, message, line)
            local ok, e = pcall(f)
            assert(not ok and getmetatable(e) == dynacast.Error, tostring(e))
            assert(e.kind == kind and e.message == message, e.kind .. ": " .. e.message)
            assert(e.where == "script:" .. line, e.where)
            assert(tostring(e) == e.where .. ": " .. kind .. ": " .. message)
        end
        -- (Not tail calls: a tail call leaves no frame of its own to point at.)
        check(function() local v = dynacast.new(42) return v end, "BadArgument", "expected a type or a type name, got a integer", 11)
        check(function() local v = I.m(42) return v end, "BadArgument", "expected a dynacast object, got a integer", 12)
        check(function() local v = dynacast.class(nil) return v end, "BadArgument", "error converting Lua nil to String (expected string or number)", 13)
        check(function() local v = I:method("nope") return v end, "MissingMember", "Member 'nope' not found on type 'I'.", 14)
        local o = dynacast.class("Plain", {}):new()
        check(function() local v = o.is(42, I) return v end, "BadArgument", "expected a dynacast object, got a integer", 16)
        check(function() local v = o.cast(o, I) return v end, "InvalidCast", "Unable to cast object of type 'Plain' to type 'I'.", 17)
        -- `I.m` on what is no object: nil, a plain table, a string; then on an object, once
        -- resolved, a non-object still reaches the engine's check.
        check(function() local v = I.m(nil) return v end, "BadArgument", "expected a dynacast object, got a nil", 20)
        check(function() local v = I.m({}) return v end, "BadArgument", "expected a dynacast object, got a table", 21)
        check(function() local v = I.m("s") return v end, "BadArgument", "expected a dynacast object, got a string", 22)
        local C = dynacast.class("C", { implements = { I } })
        local _, c = C:new(), C:new()
        assert(I.m(c) == 1)
        check(function() local v = I.m(nil) return v end, "BadArgument", "expected a dynacast object, got a nil", 26)
        "#,
    );
}

#[test]
fn errors_raised_in_methods_keep_their_position_and_frames() {
    // The debug library, for `debug.traceback` (not among mlua's safe libraries).
    // SAFETY: the test's scripts use `debug` only to read tracebacks.
    let lua =
        unsafe { Lua::unsafe_new_with(StdLib::ALL_SAFE | StdLib::DEBUG, LuaOptions::default()) };
    install(&lua, &Runtime::<LuaHost>::new()).unwrap();
    run(
        &lua,
        r#"
        local C = dynacast.class("Checked", { methods = {
            need = function(self, x) if x == nil then error("x is required", 2) end return x end,
            deep = function(self) local t = nil; return t.field end,
        } })
        local o = C:new()
        local ok, e = pcall(function()
            local v = o:need() -- line 8: error(msg, 2) points here
            return v
        end)
        assert(not ok and e == "script:8: x is required", e)
        local ok2, tb = xpcall(function() return o:deep() end, debug.traceback)
        assert(not ok2 and tb:find("script:4: attempt to index a nil value", 1, true), tb)
        assert(tb:find("in method 'deep'", 1, true) or tb:find("in function <script:4>", 1, true), tb)
        "#,
    );
}

#[test]
fn bodies_resolved_by_the_engine_keep_their_position_and_frames() {
    // SAFETY: the test's scripts use `debug` only to read tracebacks.
    let lua =
        unsafe { Lua::unsafe_new_with(StdLib::ALL_SAFE | StdLib::DEBUG, LuaOptions::default()) };
    install(&lua, &Runtime::<LuaHost>::new()).unwrap();
    run(
        &lua,
        r#"
        local I = dynacast.interface("INeed", { methods = {
            need = function(self, x) if x == nil then error("x is required", 2) end return x end,
            deep = function(self) local t = nil; return t.field end,
        } })
        local Impl = dynacast.interface("INeedImpl", { bases = { I }, implementation = true, overrides = {
            need = function(self, x) if x == nil then error("proxy needs x", 2) end return x end,
        } })
        local C = dynacast.class("Needy", { implements = { I } })
        local P = dynacast.class("NeedyProxy", { hook = {
            get_interface_implementation = function(self, iface) return Impl end,
        } })
        local o, p = C:new(), P:new()
        -- The first call on each class resolves in the engine (for p: through the hook);
        -- the second is the published resolution, kept in Lua. Both keep the position.
        for round = 1, 2 do
            local ok, e = pcall(function()
                local v = I.need(o) -- line 18
                return v
            end)
            assert(not ok and e == "script:18: x is required", round .. ": " .. tostring(e))
            ok, e = pcall(function()
                local v = I.need(p) -- line 23
                return v
            end)
            assert(not ok and e == "script:23: proxy needs x", round .. ": " .. tostring(e))
        end
        local D = dynacast.class("Deep2", { implements = { I } })
        local ok2, tb = xpcall(function() return I.deep(D:new()) end, debug.traceback)
        assert(not ok2 and tb:find("script:4: attempt to index a nil value", 1, true), tb)
        assert(tb:find("in function <script:4>", 1, true), tb)
        assert(not tb:find("dynacast", 1, true), tb)
        "#,
    );
}

#[test]
fn engine_errors_convert_for_embedders_callbacks() {
    let err: dynacast::Error<dynacast::lua::LuaError> = dynacast::Error::MissingMember {
        type_name: "T".into(),
        member: "m".into(),
    };
    let as_mlua: mlua::Error = err.into();
    assert_eq!(as_mlua.to_string(), "Member 'm' not found on type 'T'.");
}

#[test]
fn definitions_are_strict() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        local I = dynacast.interface("I", {})
        local J = dynacast.interface("J", {})
        local function refused(f, message)
            local ok, e = pcall(f)
            assert(not ok and e.kind == "TypeLoad", tostring(e))
            assert(e.message == message, e.message)
        end
        refused(function() dynacast.class("A", { implement = { I } }) end,
            "Could not load type 'A': unknown key 'implement' in the spec (known keys: base, implements, methods, abstract, hook, redefine, metamethods, init, maps, statics)")
        refused(function() dynacast.class("B", { implements = { I, nil, J } }) end,
            "Could not load type 'B': 'implements' has a hole: entry 2 is nil")
        refused(function() dynacast.class("C", { abstract = "false" }) end,
            "Could not load type 'C': 'abstract' must be a boolean, got a string")
        refused(function() dynacast.interface("D", { methods = { [1] = 0 } }) end,
            "Could not load type 'D': 'methods' names its members with strings, got the key [1]")
        refused(function() dynacast.interface("E", { methods = { m = -1 } }) end,
            "Could not load type 'E': 'm' has an arity out of range (-1; 0 to 200)")
        refused(function() dynacast.interface("F", { methods = { m = 1000 } }) end,
            "Could not load type 'F': 'm' has an arity out of range (1000; 0 to 200)")
        refused(function() dynacast.interface("G", { implementation = 1 }) end,
            "Could not load type 'G': 'implementation' must be a boolean, got a integer")
        refused(function() dynacast.class("H", { metamethods = { __gc = function() end } }) end,
            "Could not load type 'H': 'metamethods' has the unknown key '__gc' (known: __tostring, __eq, __lt, __le, __len, __concat, __call, __close, __unm, __add, __sub, __mul, __div, __mod, __idiv, __pow)")
        "#,
    );
}

#[test]
fn calls_that_stay_in_lua_recurse_deep_and_yield() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        local Counter = dynacast.class("Counter", { methods = {
            down = function(self, n) if n == 0 then return 0 end return 1 + self:down(n - 1) end,
            step = function(self) self.n = (self.n or 0) + 1; coroutine.yield(self.n); return "done" end,
        } })
        local c = Counter:new()
        assert(c:down(10000) == 10000)
        local co = coroutine.wrap(function() return c:step() end)
        assert(co() == 1 and co() == "done")
        "#,
    );
}

#[test]
fn a_hook_cannot_yield_a_body_called_from_lua_can() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        local I = dynacast.interface("IYield", { methods = {
            step = function(self) coroutine.yield(1) return 2 end,
        } })
        local C = dynacast.class("Yielding", { implements = { I } })
        local o = C:new()
        -- The first call resolves in the engine, then runs the Lua body from Lua: it may yield.
        local co = coroutine.wrap(function() return I.step(o) end)
        assert(co() == 1 and co() == 2)
        -- Resolved and published now: the call stays in Lua and may yield.
        local co2 = coroutine.wrap(function() return I.step(o) end)
        assert(co2() == 1 and co2() == 2)
        -- So may a handle from T:method(), which calls a Lua body from Lua too.
        local co3 = coroutine.wrap(function() return I:method("step")(o) end)
        assert(co3() == 1 and co3() == 2)
        -- And so may dynacast.call and obj:call (the handle's call).
        local co5 = coroutine.wrap(function() return dynacast.call(o, I:method("step")) end)
        assert(co5() == 1 and co5() == 2)
        local ok, e
        -- The hook runs inside the engine's resolution: it cannot yield.
        local IImpl = dynacast.interface("IYieldImpl", { bases = { I }, implementation = true,
            overrides = { step = function(self) return 3 end } })
        local P = dynacast.class("YieldingProxy", { hook = {
            get_interface_implementation = function(self, iface) coroutine.yield(0) return IImpl end,
        } })
        local co4 = coroutine.create(function() return I.step(P:new()) end)
        ok, e = coroutine.resume(co4)
        assert(not ok and tostring(e):find("attempt to yield across a C-call boundary", 1, true), tostring(e))
        -- A hook that does not yield: the resolution runs in the engine, then the body it
        -- chose runs from Lua, so it may yield, on the first call and the cached ones.
        local IImpl2 = dynacast.interface("IYieldImpl2", { bases = { I }, implementation = true,
            overrides = { step = function(self) coroutine.yield(4) return 5 end } })
        local P2 = dynacast.class("YieldingProxy2", { hook = {
            get_interface_implementation = function(self, iface) return IImpl2 end,
        } })
        local p2 = P2:new()
        for _ = 1, 2 do
            local co6 = coroutine.wrap(function() return I.step(p2) end)
            assert(co6() == 4 and co6() == 5)
        end
        "#,
    );
}

#[test]
fn cached_interface_calls_nest_deep() {
    let (lua, _rt) = lua();
    let depth: i64 = lua
        .load(
            r#"
            IDeep = dynacast.interface("IDeep", { methods = {
                down = function(self, n) if n == 0 then return 0 end return 1 + IDeep.down(self, n - 1) end,
            } })
            local o = dynacast.class("Deep", { implements = { IDeep } }):new()
            IDeep.down(o, 0) -- the first call resolves through the engine
            return IDeep.down(o, 1000)
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(depth, 1000);
}

#[test]
fn calls_from_lua_nest_deep_crossings_of_rust_take_one_c_level_each() {
    // Each nested crossing of Rust uses about 16 KiB of Rust stack in a debug build: the
    // test thread's default 2 MiB is too little for 180 of them (see the binding docs).
    // The stack guard's budget follows (dynacast::lua::set_stack_budget).
    let deep = std::thread::Builder::new().stack_size(16 << 20);
    deep.spawn(|| {
        dynacast::lua::set_stack_budget(12 << 20);
        nest_deep_crossing_rust()
    })
    .unwrap()
    .join()
    .unwrap();
}

fn nest_deep_crossing_rust() {
    // A script's calls (a handle, dynacast.call) resolve in the engine and call their Lua
    // body from Lua: they nest like Lua calls and may yield. A body run from Rust (here an
    // embedder's function calling the engine) cannot yield, and each nested crossing of
    // Rust takes one of Lua's 200 C levels: 180 nest, 250 is a clean error.
    let (lua, rt) = lua();
    run(
        &lua,
        r#"
        IHandle = dynacast.interface("IHandle", { methods = {
            down = function(self, n) if n == 0 then return 0 end return 1 + down(self, n - 1) end,
            call = function(self, n) if n == 0 then return 0 end return 1 + dynacast.call(self, call, n - 1) end,
            rust = function(self, n) if n == 0 then return 0 end return 1 + from_rust(self, n - 1) end,
            step = function(self) coroutine.yield(1) return 2 end,
        } })
        down, call = IHandle:method("down"), IHandle:method("call")
        "#,
    );
    let iface = rt
        .lookup("IHandle")
        .unwrap()
        .as_interface()
        .cloned()
        .unwrap();
    let (rust, step) = (iface.method("rust").unwrap(), iface.method("step").unwrap());
    let from_rust = create_function(&lua, move |lua, (obj, n): (mlua::Value, i64)| {
        let m = if n < 0 { &step } else { &rust };
        let args = if n < 0 {
            vec![]
        } else {
            vec![mlua::Value::Integer(n)]
        };
        lua_to_object(lua, &obj)?.call(m, &args, &mut lua.clone())
    })
    .unwrap();
    lua.globals().set("from_rust", from_rust).unwrap();
    let (handle_depth, call_depth, through_rust, message): (i64, i64, i64, String) = lua
        .load(
            r#"
            local o = dynacast.class("Handled", { implements = { IHandle } }):new()
            local reached, last = 0, nil
            for _, n in ipairs({ 50, 90, 180, 250 }) do
                local ok, e = pcall(from_rust, o, n)
                if ok then reached = n else last = e end
            end
            -- A body run from Rust cannot yield.
            local co = coroutine.create(function() return from_rust(o, -1) end)
            local ok, e = coroutine.resume(co)
            assert(not ok and tostring(e):find("attempt to yield across a C-call boundary", 1, true), tostring(e))
            return down(o, 1000), dynacast.call(o, call, 1000), reached, tostring(last)
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!((handle_depth, call_depth, through_rust), (1000, 1000, 180));
    assert_eq!(message, "C stack overflow");
}

#[test]
fn types_reflect_their_members() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        local IBase = dynacast.interface("IBase", { methods = { a = 0 } })
        local IMore = dynacast.interface("IMore", { bases = { IBase }, methods = { b = 0, c = 1 } })
        local P = dynacast.class("P", { methods = { x = function(self) end } })
        local K = dynacast.class("K", { base = P, implements = { IMore },
            methods = { a = function(self) end, b = function(self) end, c = function(self, v) end } })
        local names = IMore:methods(); table.sort(names)
        assert(table.concat(names, ",") == "b,c", table.concat(names, ","))
        local ms = K:methods(); table.sort(ms)
        assert(table.concat(ms, ",") == "a,b,c,x", table.concat(ms, ","))
        assert(K:base() == P and P:base() ~= nil and IMore:base() == nil)
        local is = {}
        for _, i in ipairs(K:interfaces()) do is[#is + 1] = i.name end
        table.sort(is)
        assert(table.concat(is, ",") == "IBase,IMore", table.concat(is, ","))
        assert(K:assignable_to(P) and K:assignable_to(IBase) and not P:assignable_to(K))
        assert(IMore:assignable_to("IBase"))
        "#,
    );
}

#[test]
fn a_class_keeps_its_lua_side_when_scripts_drop_its_type() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        dynacast.class("Kept", {
            init = function(self, v) self.v = v end,
            methods = { get = function(self) return self.v end },
        })
        collectgarbage(); collectgarbage()
        local o = dynacast.lookup("Kept")(5)
        assert(o:get() == 5 and o.v == 5)
        "#,
    );
}
