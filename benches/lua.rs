//! Script-backed casts and dispatch through the Lua binding, per call.
//!
//! `cargo bench --features lua --bench lua`
//!
//! - `lua_cast/*`: a cast the metadata cannot answer, so the Lua hook's
//!   `is_interface_implemented` runs on every call (SPEC B3), from Rust and from a Lua loop.
//! - `lua_dispatch/*`: a call of an interface method whose implementation the Lua hook named
//!   once; every measured call is served by the class's dispatch cache and runs a Lua body.
//! - `lua_dispatch/static_from_lua`: a call the class's metadata serves (no hook).
//! - `lua_baseline/*`: the floors any binding pays: a Lua loop calling a plain Lua method, a
//!   Lua loop calling a no-op Rust function, and Rust calling a Lua function under `pcall`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use dynacast::lua::{install, LuaHost, LuaObject};
use dynacast::{InterfaceRef, MethodRef, Object, Runtime};
use mlua::{AnyUserData, Function, Lua};

const SETUP: &str = r#"
IGreet = dynacast.interface("IGreet", { methods = { hello = 0 } })
IGreetImpl = dynacast.interface("IGreetImpl", {
    bases = { IGreet }, implementation = true,
    overrides = { hello = function(self) return 1 end },
})
DynamicCastable = dynacast.class("DynamicCastable", {
    hook = {
        is_interface_implemented = function(self, iface) return iface == IGreet end,
        get_interface_implementation = function(self, iface)
            if iface == IGreet then return IGreetImpl end
        end,
    },
})
Static = dynacast.class("Static", {
    implements = { IGreet }, methods = { hello = function(self) return 1 end },
})
hooked, static = DynamicCastable:new(), Static:new()
hello = IGreet:method("hello")
plain = { hello = function(self) return 1 end }

-- Loops timed from Rust: each takes its iteration count.
function cast_loop(n) local o, I = hooked, IGreet; for _ = 1, n do o:is(I) end end
function dispatch_loop(n) local o, m = hooked, hello; for _ = 1, n do m(o) end end
function static_loop(n) local o, m = static, hello; for _ = 1, n do m(o) end end
function plain_loop(n) local o = plain; for _ = 1, n do o:hello() end end
function callback_loop(n) local f = rust_noop; for _ = 1, n do f(hooked) end end
"#;

struct Fixture {
    lua: Lua,
    _rt: Runtime<LuaHost>,
    hooked: Object<LuaHost>,
    greet: InterfaceRef<LuaHost>,
    hello: MethodRef<LuaHost>,
}

impl Fixture {
    fn new() -> Self {
        let lua = Lua::new();
        let rt = Runtime::<LuaHost>::new();
        install(&lua, &rt).expect("install");
        let noop = lua
            .create_function(|_, _: AnyUserData| Ok(1))
            .expect("rust_noop");
        lua.globals().set("rust_noop", noop).expect("rust_noop");
        lua.load(SETUP).exec().expect("setup script");
        let hooked: AnyUserData = lua.globals().get("hooked").expect("hooked");
        let hooked = hooked.borrow::<LuaObject>().expect("object").0.clone();
        let greet = rt.lookup("IGreet").expect("IGreet");
        let greet = greet.as_interface().expect("interface").clone();
        let hello = greet.method("hello").expect("hello");
        // Resolve once, so that every measured dispatch is a cache hit.
        hooked
            .call(&hello, &[], &mut lua.clone())
            .expect("warm-up call");
        Fixture {
            lua,
            _rt: rt,
            hooked,
            greet,
            hello,
        }
    }

    /// Times `iters` turns of a Lua loop function.
    fn lua_loop(&self, name: &str, iters: u64) -> Duration {
        let f: Function = self.lua.globals().get(name).expect("loop function");
        let start = Instant::now();
        f.call::<()>(iters).expect("loop");
        start.elapsed()
    }
}

fn configured() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

fn casts(c: &mut Criterion) {
    let f = Fixture::new();
    let mut cx = f.lua.clone();
    let mut g = c.benchmark_group("lua_cast");
    g.bench_function("hook_from_rust", |b| {
        b.iter(|| f.hooked.is_instance_of(black_box(&f.greet), &mut cx))
    });
    g.bench_function("hook_from_lua", |b| {
        b.iter_custom(|iters| f.lua_loop("cast_loop", iters))
    });
    g.finish();
}

fn dispatch(c: &mut Criterion) {
    let f = Fixture::new();
    let mut cx = f.lua.clone();
    let mut g = c.benchmark_group("lua_dispatch");
    g.bench_function("cached_from_rust", |b| {
        b.iter(|| f.hooked.call(black_box(&f.hello), &[], &mut cx))
    });
    g.bench_function("cached_from_lua", |b| {
        b.iter_custom(|iters| f.lua_loop("dispatch_loop", iters))
    });
    g.bench_function("static_from_lua", |b| {
        b.iter_custom(|iters| f.lua_loop("static_loop", iters))
    });
    g.finish();

    // The floors: one Lua -> Rust crossing, one Rust -> Lua call, and Lua alone.
    let mut g = c.benchmark_group("lua_baseline");
    g.bench_function("plain_lua_method", |b| {
        b.iter_custom(|iters| f.lua_loop("plain_loop", iters))
    });
    g.bench_function("rust_callback_from_lua", |b| {
        b.iter_custom(|iters| f.lua_loop("callback_loop", iters))
    });
    let pcall: Function = f.lua.globals().get("pcall").expect("pcall");
    let plain: mlua::Table = f.lua.globals().get("plain").expect("plain");
    let plain_hello: Function = plain.get("hello").expect("plain.hello");
    g.bench_function("lua_function_from_rust", |b| {
        b.iter(|| pcall.call::<(bool, mlua::Value)>((&plain_hello, &plain)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = configured();
    targets = casts, dispatch
}
criterion_main!(benches);
