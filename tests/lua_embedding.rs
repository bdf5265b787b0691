//! The embedder's side of the Lua binding: objects round-trip between Rust and Lua, Rust
//! calls into Lua-defined methods with the `Lua` handle as the engine's context, and a value
//! a Lua body raised is visible to Rust.
#![cfg(feature = "lua")]

#[path = "common/lua.rs"]
mod common_lua;
use common_lua::lua_with;

use dynacast::lua::{
    install, lua_to_object, object_to_lua, LuaError, LuaHost, LuaPayload, LuaType,
};
use dynacast::{Error, Runtime};
use mlua::{Lua, Table, Value};

fn lua() -> (Lua, Runtime<LuaHost>) {
    lua_with(
        r#"
        IEcho = dynacast.interface("IEcho", {
            methods = {
                this = function(self) return self end,
                add = function(self, n) return self.base + n end,
                fail = function(self) error(self.err) end,
            },
        })
        Echo = dynacast.class("Echo", { implements = { IEcho } })
        "#,
    )
}

#[test]
fn an_object_made_in_rust_is_the_same_object_in_lua() {
    let (lua, rt) = lua();
    let class = rt.lookup("Echo").unwrap().as_class().unwrap().clone();
    let state = lua.create_table().unwrap();
    state.set("base", 40).unwrap();
    let obj = rt
        .new_object(&class, LuaPayload::new(&lua, state).unwrap())
        .unwrap();
    let iface = rt.lookup("IEcho").unwrap().as_interface().unwrap().clone();

    // From Rust, with the Lua handle as the engine's context.
    let mut cx = lua.clone();
    let sum = obj
        .call(&iface.method("add").unwrap(), &[Value::Integer(2)], &mut cx)
        .unwrap();
    assert_eq!(sum, Value::Integer(42));
    let this = obj
        .call(&iface.method("this").unwrap(), &[], &mut cx)
        .unwrap();
    let ud = object_to_lua(&lua, &obj).unwrap();
    assert_eq!(
        this,
        Value::Table(ud.clone()),
        "`self` in Lua is the object's userdata"
    );

    // From Lua, the same userdata; and back in Rust, the same engine object.
    lua.globals().set("obj", &ud).unwrap();
    let same: bool = lua
        .load("return rawequal(IEcho:method('this')(obj), obj)")
        .eval()
        .unwrap();
    assert!(same);
    let back: Table = lua.load("return IEcho:method('this')(obj)").eval().unwrap();
    assert!(dynacast::Object::ptr_eq(
        &lua_to_object(&lua, &Value::Table(back)).unwrap(),
        &obj
    ));
}

#[test]
fn a_value_raised_in_lua_reaches_rust_as_a_host_error() {
    let (lua, _rt) = lua();
    let err_table: Table = lua.load("return { code = 7 }").eval().unwrap();
    let ud: Table = lua.load("return Echo:new()").eval().unwrap();
    let obj = lua_to_object(&lua, &Value::Table(ud.clone())).unwrap();
    obj.payload()
        .fields(&lua)
        .unwrap()
        .set("err", &err_table)
        .unwrap();
    let ty: mlua::AnyUserData = lua.load("return IEcho").eval().unwrap();
    let fail = ty
        .borrow::<LuaType>()
        .unwrap()
        .0
        .as_interface()
        .unwrap()
        .method("fail")
        .unwrap();

    let err = obj.call(&fail, &[], &mut lua.clone()).unwrap_err();
    assert_eq!(err.kind(), "Host");
    let Error::Host(LuaError::Raised(raised)) = &err else {
        panic!("expected a raised value, got {err:?}");
    };
    assert_eq!(raised.value(&lua).unwrap(), Value::Table(err_table));
    assert!(raised.text().starts_with("table: "), "{}", raised.text());
    assert_eq!(err.to_string(), raised.text());
}

#[test]
fn objects_collected_by_lua_keep_their_fields_while_rust_holds_them() {
    let (lua, _rt) = lua();
    let ud: Table = lua
        .load("local o = Echo:new { base = 5 }; return o")
        .eval()
        .unwrap();
    let obj = lua_to_object(&lua, &Value::Table(ud.clone())).unwrap();
    drop(ud);
    lua.gc_collect().unwrap();
    lua.gc_collect().unwrap();
    let again = object_to_lua(&lua, &obj).unwrap();
    lua.globals().set("again", &again).unwrap();
    let base: i64 = lua.load("return again.base").eval().unwrap();
    assert_eq!(base, 5);
}

#[test]
fn installing_twice_or_calling_without_the_binding_fails_cleanly() {
    let (lua, rt) = lua();
    let err = install(&lua, &rt).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ForeignState: dynacast is already installed in this Lua state"
    );

    // A body run with a Lua state where dynacast is not installed: an error, not a panic.
    let class = rt.lookup("Echo").unwrap().as_class().unwrap().clone();
    let obj = rt
        .new_object(
            &class,
            LuaPayload::new(&lua, lua.create_table().unwrap()).unwrap(),
        )
        .unwrap();
    let iface = rt.lookup("IEcho").unwrap().as_interface().unwrap().clone();
    let mut other = Lua::new();
    let err = obj
        .call(&iface.method("this").unwrap(), &[], &mut other)
        .unwrap_err();
    assert_eq!(err.kind(), "Host");
    assert!(matches!(err, Error::Host(LuaError::Lua(_))), "{err:?}");
}

#[test]
fn objects_outliving_their_lua_state_drop_cleanly() {
    let (lua, _rt) = lua();
    let ud: Table = lua.load("return Echo:new { base = 1 }").eval().unwrap();
    let obj = lua_to_object(&lua, &Value::Table(ud.clone())).unwrap();
    drop(ud);
    drop(lua);
    assert_eq!(obj.class().name(), "Echo");
    drop(obj);
}

#[test]
fn bodies_and_hooks_may_set_app_data_while_they_run() {
    // The binding holds no borrow of mlua's app-data container while Lua code runs, so an
    // embedder's callback may set app data from inside a body or a hook.
    let (lua, _rt) = lua();
    struct Seen(i64);
    let remember = lua
        .create_function(|lua, n: i64| {
            lua.set_app_data(Seen(n));
            Ok(())
        })
        .unwrap();
    lua.globals().set("remember", remember).unwrap();
    lua.load(
        r#"
        local I
        I = dynacast.interface("IRemember", { methods = { go = function(self) remember(1) end } })
        local C = dynacast.class("Remembering", {
            implements = { I },
            hook = { is_interface_implemented = function() remember(2); return false end },
        })
        I:method("go")(C:new())
        assert(not C:new():is(dynacast.interface("IOther")))
        "#,
    )
    .exec()
    .unwrap();
    assert_eq!(lua.app_data_ref::<Seen>().unwrap().0, 2);
}

#[test]
fn a_body_run_from_rust_keeps_the_raised_table_and_its_traceback() {
    let (lua, rt) = lua();
    lua.load(
        r#"
        local function deeper(t)
            error(t)
        end
        IDeep = dynacast.interface("IDeep", { methods = {
            table = function(self) deeper(self.err) end,
            text = function(self) local x = nil; return x.field end,
        } })
        Deep = dynacast.class("Deep", { implements = { IDeep } })
        "#,
    )
    .set_name("=script")
    .exec()
    .unwrap();
    let obj = lua_to_object(
        &lua,
        &lua.load("return Deep:new { err = { code = 7 } }")
            .eval()
            .unwrap(),
    )
    .unwrap();
    let deep = rt.lookup("IDeep").unwrap().as_interface().unwrap().clone();
    let raised = |name: &str| {
        let m = deep.method(name).unwrap();
        match obj.call(&m, &[], &mut lua.clone()).unwrap_err() {
            Error::Host(LuaError::Raised(r)) => r,
            other => panic!("expected a raised value, got {other:?}"),
        }
    };

    // The table itself, and the frames it was raised in: `error`, `deeper`, the body.
    let r = raised("table");
    let err: Table = obj.payload().fields(&lua).unwrap().get("err").unwrap();
    assert_eq!(r.value(&lua).unwrap(), Value::Table(err));
    let traceback = r.traceback().unwrap();
    let frames: Vec<&str> = traceback.lines().take(4).map(str::trim).collect();
    assert_eq!(
        frames,
        [
            "stack traceback:",
            "[C]: in function 'error'",
            "script:3: in upvalue 'deeper'",
            "script:6: in function <script:6>",
        ],
        "{traceback}"
    );

    // A runtime error: its position, and the body's frame first.
    let r = raised("text");
    assert_eq!(
        r.text(),
        "script:7: attempt to index a nil value (local 'x')"
    );
    let traceback = r.traceback().unwrap();
    let frames: Vec<&str> = traceback.lines().take(2).map(str::trim).collect();
    assert_eq!(
        frames,
        ["stack traceback:", "script:7: in function <script:7>"],
        "{traceback}"
    );
}

#[test]
fn bodies_run_from_rust_survive_identity_rebuilds_errors_and_nesting() {
    // Stress for the raw protected call (`callback::call_raw`): tens of thousands of calls
    // from Rust on objects that come and go (so the identity table is rebuilt under it),
    // half of them raising, some nesting a call from Rust inside the body.
    let (lua, rt) = lua_with(
        r#"
        IStress = dynacast.interface("IStress", { methods = {
            echo = function(self, n) return self.id * 1000 + n end,
            fail = function(self, n) error({ id = self.id, n = n }) end,
            nest = function(self, n) return again(self, n) + 1 end,
        } })
        Stress = dynacast.class("Stress", { implements = { IStress } })
        "#,
    );
    let stress = rt
        .lookup("IStress")
        .unwrap()
        .as_interface()
        .unwrap()
        .clone();
    let (echo, fail, nest) = (
        stress.method("echo").unwrap(),
        stress.method("fail").unwrap(),
        stress.method("nest").unwrap(),
    );
    let again = {
        let echo = echo.clone();
        lua.create_function(move |lua, (o, n): (Value, i64)| {
            let obj = lua_to_object(lua, &o)?;
            obj.call(&echo, &[Value::Integer(n)], &mut lua.clone())
                .map_err(mlua::Error::from)
        })
        .unwrap()
    };
    lua.globals().set("again", again).unwrap();
    let make: mlua::Function = lua
        .load("return function(i) return Stress:new { id = i } end")
        .eval()
        .unwrap();
    let mut kept = Vec::new();
    for i in 0..30_000i64 {
        let table: Table = make.call(i).unwrap();
        let obj = lua_to_object(&lua, &Value::Table(table)).unwrap();
        let cx = &mut lua.clone();
        assert_eq!(
            obj.call(&echo, &[Value::Integer(7)], cx).unwrap(),
            Value::Integer(i * 1000 + 7)
        );
        match obj.call(&fail, &[Value::Integer(i)], cx).unwrap_err() {
            Error::Host(LuaError::Raised(r)) => {
                let t: Table = r.value(&lua).unwrap().as_table().unwrap().clone();
                assert_eq!(t.get::<i64>("id").unwrap(), i);
                assert!(r.traceback().unwrap().starts_with("stack traceback:"));
            }
            other => panic!("{other:?}"),
        }
        if i % 10 == 0 {
            assert_eq!(
                obj.call(&nest, &[Value::Integer(1)], cx).unwrap(),
                Value::Integer(i * 1000 + 2)
            );
        }
        // Keep one in a hundred in Rust only; Lua drops every table.
        if i % 100 == 0 {
            kept.push((i, obj));
        }
        if i % 5_000 == 0 {
            lua.gc_collect().unwrap();
        }
    }
    lua.gc_collect().unwrap();
    lua.gc_collect().unwrap();
    for (i, obj) in &kept {
        assert_eq!(
            obj.call(&echo, &[Value::Integer(1)], &mut lua.clone())
                .unwrap(),
            Value::Integer(i * 1000 + 1)
        );
    }
}

// A Lua body called from Rust returns what Lua returned, typed as mlua types it: nil,
// booleans, integers (also at their limits), floats (an integral float stays a float),
// and values that live in Lua (strings, tables, functions), which take the other path.
#[test]
fn a_lua_body_called_from_rust_returns_each_type_as_mlua_types_it() {
    let (lua, rt) = lua_with(
        r#"
        IAnswer = dynacast.interface("IAnswer", {
            methods = { answer = function(self, i) return self.answers[i] end },
        })
        Answerer = dynacast.class("Answerer", { implements = { IAnswer } })
        answerer = Answerer:new()
        answerer.answers = {
            [1] = nil, [2] = true, [3] = false, [4] = 42, [5] = math.maxinteger,
            [6] = math.mininteger, [7] = 2.5, [8] = 3.0, [9] = -0.0, [10] = "forty-two",
            [11] = { 42 }, [12] = print,
        }
        "#,
    );
    let obj = lua_to_object(&lua, &lua.globals().get::<Value>("answerer").unwrap()).unwrap();
    let answer = rt
        .lookup("IAnswer")
        .unwrap()
        .as_interface()
        .unwrap()
        .method("answer")
        .unwrap();
    let mut cx = lua.clone();
    let mut call = |i: i64| obj.call(&answer, &[Value::Integer(i)], &mut cx).unwrap();
    assert_eq!(call(1), Value::Nil);
    assert_eq!(call(2), Value::Boolean(true));
    assert_eq!(call(3), Value::Boolean(false));
    assert_eq!(call(4), Value::Integer(42));
    assert_eq!(call(5), Value::Integer(i64::MAX));
    assert_eq!(call(6), Value::Integer(i64::MIN));
    assert_eq!(call(7), Value::Number(2.5));
    assert!(matches!(call(8), Value::Number(n) if n == 3.0));
    assert!(matches!(call(9), Value::Number(n) if n == 0.0 && n.is_sign_negative()));
    assert!(matches!(call(10), Value::String(s) if s == "forty-two"));
    let table = call(11);
    assert_eq!(table.as_table().unwrap().get::<i64>(1).unwrap(), 42);
    assert!(matches!(call(12), Value::Function(_)));
}
