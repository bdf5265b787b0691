//! The Rust stack guard of calls that cross Rust (issue 14, point 6): measured in bytes from
//! the outermost crossing on a thread, refused with a clean `StackLimit` error past the
//! thread's budget, instead of a stack overflow that aborts the process.
#![cfg(feature = "lua")]

#[path = "common/lua.rs"]
mod common_lua;
use common_lua::{lua, run};

use dynacast::lua::{create_function, lua_to_object, set_stack_budget, DEFAULT_STACK_BUDGET};
use mlua::Lua;

/// A state where `from_rust(o, n)` nests `n` crossings of Rust (each level a Lua body run
/// by the engine, calling an embedder's Rust function that calls the engine again), and
/// `nest(n)` answers `true, n` or `false, kind, message` for the first failure.
fn nesting_state() -> Lua {
    let (lua, rt) = lua();
    run(
        &lua,
        r#"
        IDeep = dynacast.interface("IDeep", { methods = {
            rust = function(self, n) if n == 0 then return 0 end return 1 + from_rust(self, n - 1) end,
        } })
        "#,
    );
    let iface = rt.lookup("IDeep").unwrap().as_interface().cloned().unwrap();
    let rust = iface.method("rust").unwrap();
    let from_rust = create_function(&lua, move |lua, (obj, n): (mlua::Value, i64)| {
        lua_to_object(lua, &obj)?.call(&rust, &[mlua::Value::Integer(n)], &mut lua.clone())
    })
    .unwrap();
    lua.globals().set("from_rust", from_rust).unwrap();
    run(
        &lua,
        r#"
        local o = dynacast.class("Deep", { implements = { IDeep } }):new()
        function nest(n)
            local ok, e = pcall(from_rust, o, n)
            if ok then return true, tostring(e), "" end
            if getmetatable(e) == dynacast.Error then return false, e.kind, e.message end
            return false, "raised", tostring(e)
        end
        "#,
    );
    lua
}

/// `(reached, kind, message)`; `kind` is the depth reached when `reached`.
fn nest(lua: &Lua, n: i64) -> (bool, String, String) {
    lua.globals()
        .get::<mlua::Function>("nest")
        .unwrap()
        .call(n)
        .unwrap()
}

#[test]
fn the_default_budget_is_one_mebibyte_and_settable_per_thread() {
    std::thread::spawn(|| {
        assert_eq!(set_stack_budget(4096), DEFAULT_STACK_BUDGET);
        assert_eq!(set_stack_budget(DEFAULT_STACK_BUDGET), 4096);
    })
    .join()
    .unwrap();
    // Another thread's setting is not this one's.
    assert_eq!(set_stack_budget(DEFAULT_STACK_BUDGET), DEFAULT_STACK_BUDGET);
}

/// On a 2 MiB thread (a Rust thread's default), deep nesting ends in a clean error in
/// every build: `StackLimit` in a debug build (about 16 KiB a crossing), Lua's own "C stack
/// overflow" in an optimized one (whose crossings fit 190 levels in the budget); shallow
/// nesting is untouched. Without the guard, a debug build aborts here.
#[test]
fn deep_nesting_on_a_two_mebibyte_thread_is_a_clean_error() {
    let t = std::thread::Builder::new().stack_size(2 << 20);
    let (shallow, deep) = t
        .spawn(|| {
            let lua = nesting_state();
            let shallow = nest(&lua, 40);
            let deep = nest(&lua, 400);
            // The state is usable after the refusal.
            (shallow, deep, nest(&lua, 40))
        })
        .unwrap()
        .join()
        .map(|(shallow, deep, again)| {
            assert_eq!(shallow, again);
            (shallow, deep)
        })
        .unwrap();
    assert_eq!(shallow, (true, "40".to_owned(), String::new()));
    let (ok, kind, message) = deep;
    assert!(!ok);
    if cfg!(debug_assertions) {
        assert_eq!(kind, "StackLimit");
        assert!(
            message.starts_with("calls that cross Rust nest too deep: they take ")
                && message.ends_with(
                    " bytes of Rust stack, past this thread's budget of 1048576 (dynacast::lua::set_stack_budget)"
                ),
            "{message}"
        );
    } else {
        assert_eq!(
            (kind.as_str(), message.as_str()),
            ("raised", "C stack overflow")
        );
    }
}

/// A small budget refuses in every build, at a depth set by the bytes, not by levels.
#[test]
fn a_small_budget_refuses_nested_crossings_past_it() {
    let (at_64k, at_256k) = std::thread::spawn(|| {
        let lua = nesting_state();
        let deepest = |budget: usize| {
            set_stack_budget(budget);
            (1..=200)
                .take_while(|&n| nest(&lua, n).0)
                .last()
                .unwrap_or(0)
        };
        let r = (deepest(64 << 10), deepest(256 << 10));
        let (ok, kind, _) = nest(&lua, 200);
        assert!(!ok);
        assert_eq!(kind, "StackLimit");
        r
    })
    .join()
    .unwrap();
    eprintln!("deepest nest: {at_64k} within 64 KiB, {at_256k} within 256 KiB");
    assert!((1..200).contains(&at_64k), "{at_64k}");
    // Four times the bytes, about four times the depth.
    assert!(
        at_256k >= 3 * at_64k && at_256k <= 5 * at_64k + 4,
        "{at_64k} {at_256k}"
    );
}
