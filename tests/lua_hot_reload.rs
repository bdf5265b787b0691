//! Hot reload (issue 6, point 4). Each `dynacast.class` defines a new engine class;
//! `redefine = true` takes the name over. A changed hook answer takes effect for casts at
//! once (never cached) and for dispatch on classes defined after the change.
#![cfg(feature = "lua")]

#[path = "common/lua.rs"]
mod common_lua;
use common_lua::lua_with;

use dynacast::lua::LuaHost;
use dynacast::Runtime;
use mlua::Lua;

fn fixtures() -> (Lua, Runtime<LuaHost>) {
    lua_with(
        r#"
        IGreet = dynacast.interface("IGreet", { methods = { hello = 0 } })
        IEnglish = dynacast.interface("IEnglish", {
            bases = { IGreet }, implementation = true,
            overrides = { hello = function(self) return "hello" end },
        })
        IFrench = dynacast.interface("IFrench", {
            bases = { IGreet }, implementation = true,
            overrides = { hello = function(self) return "bonjour" end },
        })
        hello = IGreet:method("hello")
        current = IEnglish
        castable = true
        resolutions = 0
        hook = {
            is_interface_implemented = function(self, iface) return castable end,
            get_interface_implementation = function(self, iface)
                resolutions = resolutions + 1
                return current
            end,
        }
        function define_greeter(version)
            return dynacast.class("Greeter", {
                redefine = true,
                hook = hook,
                methods = { version = function(self) return version end },
            })
        end
        "#,
    )
}

#[test]
fn redefining_a_class_makes_a_new_engine_class_and_old_objects_keep_theirs() {
    let (lua, rt) = fixtures();
    let results: Vec<String> = lua
        .load(
            r#"
            local V1 = define_greeter("v1")
            local old = V1:new()
            local V2 = define_greeter("v2")
            local new = dynacast.new("Greeter")
            return {
                tostring(V1 ~= V2),
                tostring(rawequal(dynacast.lookup("Greeter"), V2)),
                tostring(old:class() == V1),
                tostring(new:class() == V2),
                V1:method("version")(old),
                V2:method("version")(new),
                tostring(old:is(V2)),
            }
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(
        results,
        ["true", "true", "true", "true", "v1", "v2", "false"]
    );
    assert_eq!(
        rt.lookup("Greeter").unwrap().as_class().unwrap().name(),
        "Greeter"
    );
}

#[test]
fn a_changed_hook_answer_takes_effect_at_once_for_casts() {
    let (lua, _rt) = fixtures();
    let answers: Vec<bool> = lua
        .load(
            r#"
            local Greeter = define_greeter("v1")
            local o = Greeter:new()
            local a = o:is(IGreet)
            castable = false
            local b = o:is(IGreet)
            hook.is_interface_implemented = function() return true end  -- a new function
            local c = o:is(IGreet)
            return { a, b, c }
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(answers, [true, false, true]);
}

#[test]
fn a_changed_dispatch_answer_takes_effect_on_classes_defined_after_the_change() {
    let (lua, _rt) = fixtures();
    let results: Vec<String> = lua
        .load(
            r#"
            local V1 = define_greeter("v1")
            local old = V1:new()
            local out = { hello(old) }                   -- resolves IEnglish, cached for V1
            current = IFrench
            out[#out + 1] = hello(old)                   -- V1's cache still answers
            out[#out + 1] = hello(V1:new())              -- for every V1 object
            local V2 = define_greeter("v2")              -- hot reload
            out[#out + 1] = hello(V2:new())              -- the new class asks again
            out[#out + 1] = hello(old)                   -- old objects keep the old class
            out[#out + 1] = tostring(resolutions)
            return out
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(
        results,
        ["hello", "hello", "hello", "bonjour", "hello", "2"]
    );
}

#[test]
fn redefining_without_the_flag_is_a_type_load_error() {
    let (lua, _rt) = fixtures();
    let (kind, message): (String, String) = lua
        .load(
            r#"
            dynacast.class("Once")
            -- A different definition (the same one would return the registered class).
            local ok, e = pcall(dynacast.class, "Once", { methods = { f = function(self) return 1 end } })
            return e.kind, e.message
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(kind, "TypeLoad");
    assert_eq!(
        message,
        "Could not load type 'Once': a type named 'Once' is already defined"
    );
}

#[test]
fn interfaces_can_be_redefined_too() {
    let (lua, _rt) = fixtures();
    let (old, new): (String, String) = lua
        .load(
            r#"
            local I1 = dynacast.interface("IV", { methods = { v = function(self) return "one" end } })
            local C1 = dynacast.class("C1", { implements = { I1 } })
            local I2 = dynacast.interface("IV", { redefine = true, methods = { v = function(self) return "two" end } })
            local C2 = dynacast.class("C2", { implements = { "IV" } })
            assert(not C2:new():is(I1) and not C1:new():is(I2))
            return I1:method("v")(C1:new()), I2:method("v")(C2:new())
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!((old.as_str(), new.as_str()), ("one", "two"));
}
