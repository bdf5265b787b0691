-- monster.lua as first saved. The host (examples/lua_live_reload.rs) runs it with
-- dynacast.reload after every save; monster_v2.lua to monster_v4.lua are the edits.
IDamageable = dynacast.interface("IDamageable", {
  methods = {
    take_damage = 1,
    describe = function(self) return string.format("%s [%d hp]", self.name, self.hp) end, -- edit
  },
})
ISpeaker = dynacast.interface("ISpeaker", { methods = { speak = 0 } })
ICalm = dynacast.interface("ICalm", {
  bases = { ISpeaker }, implementation = true,
  overrides = { speak = function(self) return self.name .. " hums quietly" end },
})
IAngry = dynacast.interface("IAngry", {
  bases = { ISpeaker }, implementation = true,
  overrides = { speak = function(self) return self.name .. " howls" end },
})

Monster = dynacast.class("Monster", {
  implements = { IDamageable },
  init = function(self, name, hp) self.name, self.hp = name, hp end,
  methods = {
    take_damage = function(self, n)
      self.hp = self.hp - n // 2 -- edit: armour halves the damage
      return self.hp
    end,
  },
})

-- A spirit speaks through whatever its hook answers.
Spirit = dynacast.class("Spirit", {
  init = function(self, name) self.name = name end,
  hook = {
    is_interface_implemented = function(self, iface) return iface == ISpeaker end,
    get_interface_implementation = function(self, iface)
      hook_calls = hook_calls + 1
      return IAngry -- edit: spirits are angry now
    end,
  },
})
