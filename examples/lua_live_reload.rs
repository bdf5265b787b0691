//! Live reload from Lua: an editor saves `monster.lua` four times (the scripts in
//! `examples/lua_live_reload/`), and after each save the host re-runs it with
//! `dynacast.reload`. The monsters and the spirit already in the scene follow each edit —
//! a method body, a hook's answer, an interface's default method — with their fields intact,
//! and an unchanged re-run changes nothing.
//!
//! Run: `cargo run --release --features lua --example lua_live_reload`. Its output is
//! deterministic (CI diffs it line for line); it exits non-zero if a check fails.

use std::process::ExitCode;

use dynacast::lua::{install, lua_to_object, LuaHost};
use dynacast::Runtime;

/// The saves of `monster.lua`, in order, each with what its edit was.
const SAVES: [(&str, &str); 4] = [
    ("v1", include_str!("lua_live_reload/monster_v1.lua")),
    (
        "v2 (take_damage edited)",
        include_str!("lua_live_reload/monster_v2.lua"),
    ),
    (
        "v3 (hook answer edited)",
        include_str!("lua_live_reload/monster_v3.lua"),
    ),
    (
        "v4 (describe edited)",
        include_str!("lua_live_reload/monster_v4.lua"),
    ),
];

/// The game's side: the scene, made once, and what it prints after each save.
const SCENE: &str = r#"
hook_calls = 0
function save(text)
  -- Every save is the same file: the chunk name is part of a function's code.
  dynacast.reload(assert(load(text, "@monster.lua")))
end
function spawn()
  scene = { Monster("goblin", 10), Monster("troll", 30) }
  scene[1].loot = "gold"
  spirit = Spirit("wisp")
end
function frame(label)
  for _, m in ipairs(scene) do
    local before = IDamageable.describe(m)
    print(string.format("%s: %s hit for 4 -> hp %d", label, before, m:take_damage(4)))
  end
  print(string.format("%s: %s (hook asked %d times)", label, ISpeaker.speak(spirit), hook_calls))
end
"#;

fn run() -> Result<(), String> {
    let lua = mlua::Lua::new();
    let rt = Runtime::<LuaHost>::with_live_reload();
    install(&lua, &rt).map_err(|e| e.to_string())?;
    let err = |e: mlua::Error| e.to_string();
    lua.load(SCENE).set_name("=scene").exec().map_err(err)?;
    let save: mlua::Function = lua.globals().get("save").map_err(err)?;
    let frame: mlua::Function = lua.globals().get("frame").map_err(err)?;
    let mut first_class = None;
    for (i, (label, text)) in SAVES.iter().enumerate() {
        save.call::<()>(*text).map_err(err)?;
        if i == 0 {
            lua.load("spawn()").exec().map_err(err)?;
            let goblin = lua.load("scene[1]").eval().map_err(err)?;
            first_class = Some(lua_to_object(&lua, &goblin).map_err(err)?);
        }
        frame.call::<()>(*label).map_err(err)?;
    }
    // An unchanged save: the same types, nothing flushed, nothing taken over.
    let before = rt.lookup("Monster");
    let (_, last) = SAVES[SAVES.len() - 1];
    save.call::<()>(last).map_err(err)?;
    if rt.lookup("Monster") != before {
        return Err("an unchanged save redefined Monster".into());
    }
    frame.call::<()>("v4 saved again").map_err(err)?;
    let loot: String = lua.load("scene[1].loot").eval().map_err(err)?;
    println!("the goblin still carries its {loot}");
    // The goblin's engine object was made with v1's class; it now follows the newest.
    let goblin = first_class.ok_or("no goblin")?;
    let newest = rt.lookup("Monster").and_then(|t| t.as_class().cloned());
    if Some(goblin.current_class()) != newest || goblin.class().successor() != newest {
        return Err("the goblin does not follow the newest Monster".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
