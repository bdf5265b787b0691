//! The Lua binding's ratio run: each path is timed against a baseline measured in the same
//! interleaved rounds, so machine load cancels out of the ratio.
//!
//! `cargo bench --features lua --bench lua` prints, per path and baseline, `NS <name>
//! <median ns per operation>`, and per path `RATIO lua_<path> <median of the per-round
//! ratios path / baseline>` with its target. Each operation is timed in a Lua loop (loop
//! overhead included on both sides), except the `from_rust` pair, timed in a Rust loop.
//! BENCHMARKS.md ("Lua binding") explains each path.

use std::hint::black_box;
use std::time::Instant;

use dynacast::lua::{install, lua_to_object, LuaHost};
use dynacast::{MethodRef, Object, Runtime};
use mlua::{Function, Lua, UserData, UserDataMethods, Value};

const ROUNDS: usize = 21;
const ITERS: u64 = 200_000;

const SETUP: &str = r#"
IGreet = dynacast.interface("IGreet", { methods = { hello = 0 } })
IGreetImpl = dynacast.interface("IGreetImpl", {
    bases = { IGreet }, implementation = true,
    overrides = { hello = function(self) return 1 end },
})
Proxy_hook = {
    is_interface_implemented = function(self, iface) return iface == IGreet end,
    get_interface_implementation = function(self, iface)
        if iface == IGreet then return IGreetImpl end
    end,
}
Proxy = dynacast.class("Proxy", { hook = Proxy_hook })
Static = dynacast.class("Static", {
    implements = { IGreet }, methods = { hello = function(self) return 1 end },
})
proxy, static = Proxy:new(), Static:new { x = 1 }
IGreet.hello(proxy) -- resolve once: every measured dispatch is a cache hit
local plain_mt = { __index = { hello = function(self) return 1 end } }
plain = setmetatable({ x = 1 }, plain_mt)
local function lua_fn() return 1 end
local function plain_hello(o) return o:hello() end

loops = {
  -- baselines
  plain_method = function(n) local o = plain; for _ = 1, n do o:hello() end end,
  userdata_method = function(n) local u = userdata; for _ = 1, n do u:m() end end,
  round_trip = function(n) local f, g = rust_calls, lua_fn; for _ = 1, n do f(g) end end,
  table_read = function(n) local o, x = plain; for _ = 1, n do x = o.x end return x end,
  table_write = function(n) local o = plain; for i = 1, n do o.x = i end end,
  setmetatable = function(n) local mt, s = plain_mt, setmetatable; for _ = 1, n do s({ x = 1 }, mt) end end,
  -- floors (reported, no target): what a path cannot go below in plain Lua
  two_calls = function(n) local o, m = plain, plain_hello; for _ = 1, n do m(o) end end,
  -- a hook cast as plain Lua would make it: a function that calls the hook function
  hook_floor = function(n)
    local o, I, hook = proxy, IGreet, Proxy_hook
    local function is(obj, t) if hook.is_interface_implemented(obj, t, false) then return true end return false end
    for _ = 1, n do is(o, I) end
  end,
  -- paths
  method_call = function(n) local o = static; for _ = 1, n do o:hello() end end,
  interface_call = function(n) local o, m = static, IGreet.hello; for _ = 1, n do m(o) end end,
  hook_dispatch = function(n) local o, m = proxy, IGreet.hello; for _ = 1, n do m(o) end end,
  field_read = function(n) local o, x = static; for _ = 1, n do x = o.x end return x end,
  field_write = function(n) local o = static; for i = 1, n do o.x = i end end,
  new_object = function(n) local C = Static; for _ = 1, n do C:new({ x = 1 }) end end,
  metadata_cast = function(n) local o, I = static, IGreet; for _ = 1, n do o:is(I) end end,
  hook_cast = function(n) local o, I = proxy, IGreet; for _ = 1, n do o:is(I) end end,
}
"#;

/// (path, floor): the same path against the least plain Lua could do for it, reported
/// (`FLOOR` lines) to show how much of a ratio is the binding's own.
const FLOORS: &[(&str, &str)] = &[
    ("interface_call", "two_calls"),
    ("hook_dispatch", "two_calls"),
    ("hook_cast", "hook_floor"),
];

/// (path, baseline, target ratio)
const PATHS: &[(&str, &str, f64)] = &[
    ("method_call", "plain_method", 1.5),
    ("interface_call", "plain_method", 2.0),
    ("hook_dispatch", "plain_method", 2.0),
    ("field_read", "table_read", 1.5),
    ("field_write", "table_write", 1.5),
    ("new_object", "setmetatable", 3.0),
    ("metadata_cast", "userdata_method", 1.2),
    ("hook_cast", "round_trip", 1.3),
    ("call_from_rust", "raw_call_from_rust", 1.3),
];

struct Noop;
impl UserData for Noop {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("m", |_, _, ()| Ok(1));
    }
}

struct Fixture {
    lua: Lua,
    loops: mlua::Table,
    static_obj: Object<LuaHost>,
    static_value: Value,
    hello: MethodRef<LuaHost>,
    raw_hello: Function,
}

impl Fixture {
    fn new() -> mlua::Result<Self> {
        let lua = Lua::new();
        let rt = Runtime::<LuaHost>::new();
        install(&lua, &rt)?;
        lua.globals().set("userdata", lua.create_userdata(Noop)?)?;
        lua.globals().set(
            "rust_calls",
            lua.create_function(|_, f: Function| f.call::<Value>(()))?,
        )?;
        lua.load(SETUP).exec()?;
        let static_value: Value = lua.globals().get("static")?;
        let static_obj = lua_to_object(&lua, &static_value)?;
        let greet = rt.lookup("IGreet").and_then(|t| t.as_interface().cloned());
        let hello = greet
            .ok_or_else(|| mlua::Error::runtime("IGreet"))?
            .method("hello")
            .map_err(mlua::Error::external)?;
        // The same Lua function the engine runs for `Static.hello`, called raw.
        let raw_hello: Function = lua.load("return Static.hello").eval()?;
        let loops = lua.globals().get("loops")?;
        Ok(Fixture {
            lua,
            loops,
            static_obj,
            static_value,
            hello,
            raw_hello,
        })
    }

    /// ns per operation of one timed run of `name`.
    fn time(&self, name: &str) -> mlua::Result<f64> {
        let start = Instant::now();
        match name {
            "call_from_rust" => {
                let mut cx = self.lua.clone();
                for _ in 0..ITERS {
                    black_box(
                        self.static_obj
                            .call(&self.hello, &[], &mut cx)
                            .map_err(mlua::Error::from)?,
                    );
                }
            }
            "raw_call_from_rust" => {
                for _ in 0..ITERS {
                    black_box(self.raw_hello.call::<Value>(&self.static_value)?);
                }
            }
            _ => {
                let f: Function = self.loops.get(name)?;
                f.call::<()>(ITERS)?;
            }
        }
        Ok(start.elapsed().as_nanos() as f64 / ITERS as f64)
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> mlua::Result<()> {
    let f = Fixture::new()?;
    // `cargo bench --features lua --bench lua -- <part>` runs only the paths naming `<part>`.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let paths: Vec<_> = PATHS
        .iter()
        .filter(|(p, _, _)| only.as_deref().is_none_or(|o| p.contains(o)))
        .collect();
    let floors: Vec<_> = FLOORS
        .iter()
        .filter(|(p, _)| paths.iter().any(|(q, _, _)| q == p))
        .collect();
    let mut names: Vec<&str> = Vec::new();
    let pairs = paths.iter().map(|(p, b, _)| (*p, *b));
    for (path, base) in pairs.chain(floors.iter().map(|(p, f)| (*p, *f))) {
        for n in [base, path] {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    // Warm-up round, then interleaved rounds: each round times every name once.
    for n in &names {
        f.time(n)?;
    }
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..ROUNDS {
        for (i, n) in names.iter().enumerate() {
            ns[i].push(f.time(n)?);
        }
        f.lua.gc_collect()?;
    }
    let index = |n: &str| names.iter().position(|m| *m == n).unwrap_or(0);
    for (i, n) in names.iter().enumerate() {
        println!("NS {n} {:.1}", median(&mut ns[i].clone()));
    }
    let ratio = |path: &str, base: &str| {
        let (p, b) = (&ns[index(path)], &ns[index(base)]);
        let mut ratios: Vec<f64> = p.iter().zip(b).map(|(p, b)| p / b).collect();
        median(&mut ratios)
    };
    for (path, floor) in &floors {
        println!("FLOOR lua_{path} {:.2} x {floor}", ratio(path, floor));
    }
    for (path, base, target) in &paths {
        let r = ratio(path, base);
        let verdict = if r <= *target { "ok" } else { "MISSED" };
        println!("RATIO lua_{path} {r:.2} (target <= {target} x {base}) {verdict}");
    }
    Ok(())
}
