//! Errors cross the boundary as values a script can handle (issue 6, point 3): the engine's
//! errors reach `pcall` as `dynacast.Error` tables with `kind` and `message`; a value raised
//! by a Lua hook or body reaches the caller unchanged.
#![cfg(feature = "lua")]

#[path = "common/lua.rs"]
mod common_lua;
use common_lua::lua_with;

use dynacast::lua::{install, LuaHost};
use dynacast::Runtime;
use mlua::Lua;

/// scenario S6 in Lua: one object whose hook is switched between modes by the global
/// `mode`. `outcome(method)` calls it on the object and returns `kind, message` of the error.
fn switched() -> (Lua, Runtime<LuaHost>) {
    lua_with(
        r#"
        ITest = dynacast.interface("ITest", { methods = { get_number = 0, call_missing = 0, pass_this = 0 } })
        IOther = dynacast.interface("IOther", { methods = { other = 0 } })
        IUnmarked = dynacast.interface("IUnmarked", {
            bases = { ITest }, overrides = { get_number = function(self) return 1 end },
        })
        IUnrelated = dynacast.interface("IUnrelated", { implementation = true })
        IEmpty = dynacast.interface("IEmpty", { bases = { ITest }, implementation = true })
        IPartial = dynacast.interface("IPartial", {
            bases = { ITest },
            implementation = true,
            overrides = { call_missing = function(self) return ITest:method("get_number")(self) end },
        })
        IPassOther = dynacast.interface("IPassOther", {
            bases = { ITest },
            implementation = true,
            overrides = { pass_this = function(self) return IOther:method("other")(self) end },
        })
        IWithDefault = dynacast.interface("IWithDefault", {
            bases = { ITest }, overrides = { get_number = function(self) return 1 end },
        })
        IReabstract = dynacast.interface("IReabstract", {
            bases = { IWithDefault }, reabstract = { "get_number" }, implementation = true,
        })
        ILeft = dynacast.interface("ILeft", {
            bases = { ITest }, overrides = { get_number = function(self) return 2 end },
        })
        IRight = dynacast.interface("IRight", {
            bases = { ITest }, overrides = { get_number = function(self) return 3 end },
        })
        IDiamond = dynacast.interface("IDiamond", { bases = { ILeft, IRight }, implementation = true })
        IGood = dynacast.interface("IGood", {
            bases = { ITest }, implementation = true,
            overrides = { get_number = function(self) return 42 end },
        })
        thrown = setmetatable({ reason = "hook says no" }, { __tostring = function() return "thrown" end })
        mode = nil
        answers = {
            class = function() return Switched end,
            unmarked = function() return IUnmarked end,
            unrelated = function() return IUnrelated end,
            empty = function() return IEmpty end,
            partial = function() return IPartial end,
            pass_other = function(iface) if iface == ITest then return IPassOther end end,
            throws = function() error(thrown) end,
            reabstracted = function() return IReabstract end,
            diamond = function() return IDiamond end,
            none = function() return nil end,
            good = function() return IGood end,
            not_a_type = function() return "IGood" end,
        }
        Switched = dynacast.class("Switched", {
            hook = {
                is_interface_implemented = function(self, iface, throw)
                    if throw then error("REQUESTED=" .. iface.name, 0) end
                    return false
                end,
                get_interface_implementation = function(self, iface) return answers[mode](iface) end,
            },
        })
        obj = Switched:new()
        function outcome(method)
            local ok, e = pcall(ITest:method(method), obj)
            if ok then return "ok", tostring(e) end
            assert(getmetatable(e) == dynacast.Error, "not a dynacast error: " .. tostring(e))
            assert(tostring(e) == e.where .. ": " .. e.kind .. ": " .. e.message, tostring(e))
            assert(e.where:match(":63$"), "the position of the pcall line: " .. e.where)
            return e.kind, e.message
        end
        "#,
    )
}

fn outcome(lua: &Lua, mode: &str, method: &str) -> (String, String) {
    lua.globals().set("mode", mode).unwrap();
    lua.load(format!("return outcome('{method}')"))
        .eval()
        .unwrap()
}

#[test]
fn every_engine_error_reaches_pcall_with_kind_and_message() {
    let (lua, _rt) = switched();
    let cases = [
        ("class", "get_number", "InvalidOperation", "Type 'Switched' returned by IDynamicInterfaceCastable is not an interface."),
        ("unmarked", "get_number", "InvalidOperation", "Type 'IUnmarked' returned by IDynamicInterfaceCastable does not have the attribute 'DynamicInterfaceCastableImplementationAttribute'."),
        ("unrelated", "get_number", "InvalidOperation", "Type 'IUnrelated' returned by IDynamicInterfaceCastable does not implement the requested interface 'ITest'."),
        ("empty", "get_number", "EntryPointNotFound", "Entry point not found: type 'Switched' has no implementation of 'ITest.get_number' in implementation interface 'IEmpty'."),
        ("partial", "call_missing", "EntryPointNotFound", "Entry point not found: type 'Switched' has no implementation of 'ITest.get_number' in implementation interface 'IPartial'."),
        ("pass_other", "pass_this", "InvalidCast", "Unable to cast object of type 'Switched' to type 'IOther'."),
        ("reabstracted", "get_number", "EntryPointNotFound", "Entry point not found: type 'Switched' has no implementation of 'ITest.get_number' in implementation interface 'IReabstract' (the most specific declaration, in 'IReabstract', is abstract)."),
        ("diamond", "get_number", "AmbiguousImplementation", "The call to 'ITest.get_number' on type 'Switched' is ambiguous: 'ILeft' and 'IRight' each give a most specific default in implementation interface 'IDiamond'."),
        ("none", "get_number", "InvalidCast", "Unable to cast object of type 'Switched' to type 'ITest'."),
    ];
    for (mode, method, kind, message) in cases {
        assert_eq!(
            outcome(&lua, mode, method),
            (kind.to_owned(), message.to_owned()),
            "mode {mode}"
        );
    }
    // Failures were not cached: the same object now resolves (and caches) for real. The
    // bodies that ran (call_missing, pass_this) were resolved, so they are cached too:
    // per method, which is why get_number was never served by them (rule D1).
    assert_eq!(
        outcome(&lua, "good", "get_number"),
        ("ok".into(), "42".into())
    );
    let cached: i64 = lua
        .load("return Switched.cached_resolutions")
        .eval()
        .unwrap();
    assert_eq!(cached, 3);
}

#[test]
fn a_value_raised_by_a_hook_reaches_the_caller_unchanged() {
    let (lua, _rt) = switched();
    lua.globals().set("mode", "throws").unwrap();
    let (same, reason): (bool, String) = lua
        .load(
            r#"
            local ok, e = pcall(ITest:method("get_number"), obj)
            assert(not ok)
            return rawequal(e, thrown), e.reason
            "#,
        )
        .eval()
        .unwrap();
    assert!(same, "the very table the hook raised");
    assert_eq!(reason, "hook says no");
    // is_interface_implemented with throw = true: its own error, as raised (error(msg, 0)).
    let (is, cast_error): (bool, String) = lua
        .load(
            "local ok, e = pcall(obj.cast, obj, IOther); assert(not ok); return obj:is(IOther), e",
        )
        .eval()
        .unwrap();
    assert!(!is);
    assert_eq!(cast_error, "REQUESTED=IOther");
}

#[test]
fn a_value_raised_by_a_body_crosses_nested_engine_calls_unchanged() {
    let lua = Lua::new();
    let rt = Runtime::<LuaHost>::new();
    install(&lua, &rt).unwrap();
    let (same, positioned, wrapped_kind): (bool, String, String) = lua
        .load(
            r#"
            local I
            I = dynacast.interface("I", {
                methods = {
                    inner = function(self) error(self.payload) end,
                    outer = function(self) return I:method("inner")(self) end,
                    text = function(self) error("plain text") end,
                    calls_missing = function(self) return I:method("abstract")(self) end,
                    abstract = 0,
                },
            })
            local C = dynacast.class("C", { implements = { I }, abstract = true })
            local D = dynacast.class("D", { base = C, implements = { I }, methods = { abstract = function(self) error({ kind = "mine" }) end } })
            local payload = { 1, 2, 3 }
            local d = D:new { payload = payload }
            local ok, e = pcall(I:method("outer"), d)
            assert(not ok)
            local ok2, e2 = pcall(I:method("text"), d)
            local ok3, e3 = pcall(I:method("calls_missing"), d)
            return rawequal(e, payload), e2, e3.kind
            "#,
        )
        .set_name("=script")
        .eval()
        .unwrap();
    assert!(same);
    // error("...") adds its position, as Lua always does; the binding adds nothing.
    assert_eq!(positioned, "script:7: plain text");
    assert_eq!(
        wrapped_kind, "mine",
        "a script's own {{ kind = ... }} table is not rewritten"
    );
}

#[test]
fn a_hook_answering_something_else_than_a_type_is_an_mlua_error() {
    let (lua, _rt) = switched();
    lua.globals().set("mode", "not_a_type").unwrap();
    let message: String = lua
        .load("local ok, e = pcall(ITest:method('get_number'), obj); assert(not ok); return tostring(e)")
        .eval()
        .unwrap();
    assert!(
        message.contains(
            "error converting Lua string to dynacast type (get_interface_implementation must return a type or nil)"
        ),
        "{message}"
    );
}

#[test]
fn engine_errors_from_nested_calls_keep_their_kind() {
    let (lua, _rt) = switched();
    // A dynacast error raised inside a body is, to the engine, a value the body raised:
    // it reaches the outer caller unchanged, still a dynacast.Error of the inner kind.
    lua.globals().set("mode", "partial").unwrap();
    let (same_table, kind): (bool, String) = lua
        .load(
            r#"
            local inner
            local wrapper = dynacast.interface("IWrap", {
                statics = {
                    go = function()
                        local ok, e = pcall(ITest:method("call_missing"), obj)
                        inner = e
                        error(e, 0)
                    end,
                },
            })
            local ok, e = pcall(wrapper:method("go"))
            return rawequal(e, inner), e.kind
            "#,
        )
        .eval()
        .unwrap();
    assert!(same_table);
    assert_eq!(kind, "EntryPointNotFound");
}
