-- The classic IDynamicInterfaceCastable greeter (scenarios S1–S7, scenario 7), written in Lua.
--
-- IGreet { hello, goodbye }; the implementation interface IGreetImpl gives only hello.
-- The class DynamicCastable carries a hook that maps IGreet to IGreetImpl. Every cast asks
-- the hook's is_interface_implemented again; the dispatch answer of
-- get_interface_implementation is cached for the whole class.

local calls = { is_interface_implemented = 0, get_interface_implementation = 0 }

local IGreet = dynacast.interface("IGreet", { methods = { hello = 0, goodbye = 0 } })

local IGreetImpl = dynacast.interface("IGreetImpl", {
  bases = { IGreet },
  implementation = true, -- [DynamicInterfaceCastableImplementation]
  overrides = {
    hello = function(self)
      print("Hello World from " .. self:class().name)
    end,
  },
})

local DynamicCastable = dynacast.class("DynamicCastable", {
  hook = {
    is_interface_implemented = function(self, iface, throw_if_not_implemented)
      calls.is_interface_implemented = calls.is_interface_implemented + 1
      return iface == IGreet
    end,
    get_interface_implementation = function(self, iface)
      calls.get_interface_implementation = calls.get_interface_implementation + 1
      if iface == IGreet then
        return IGreetImpl
      end
    end,
  },
})

local hello, goodbye = IGreet:method("hello"), IGreet:method("goodbye")
local ok = true
local function expect(what, is_calls, get_calls)
  print(string.format("  [%s] is_interface_implemented calls: %d, get_interface_implementation calls: %d",
    what, calls.is_interface_implemented, calls.get_interface_implementation))
  if calls.is_interface_implemented ~= is_calls or calls.get_interface_implementation ~= get_calls then
    print(string.format("  expected (%d, %d)", is_calls, get_calls))
    ok = false
  end
end

local first = DynamicCastable:new()
first:cast(IGreet)
hello(first)
expect("first instance: cast + hello", 1, 1)

local second = DynamicCastable:new()
second:cast(IGreet)
hello(second)
expect("second instance: cast + hello", 2, 1)

-- goodbye has no implementation: EntryPointNotFound, handled here in Lua.
local succeeded, err = pcall(goodbye, second)
if succeeded then
  print("goodbye unexpectedly succeeded")
  ok = false
elseif err.kind == "EntryPointNotFound" then
  print("goodbye failed: " .. err.kind .. " (" .. err.message .. ")")
else
  print("goodbye failed with an unexpected error: " .. tostring(err))
  ok = false
end
expect("after goodbye (failures are not cached)", 2, 2)

return ok
