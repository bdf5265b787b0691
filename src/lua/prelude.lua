-- dynacast's Lua side. The Rust functions in `raw.api` answer `true, results...` or
-- `false, error`; the wrappers below raise the error with `error(e, 0)`, so that a value a
-- Lua body or hook raised reaches the caller's pcall unchanged, and every other failure
-- arrives as a `dynacast.Error` table. Objects, classes and types are built here too.
local raw = ...
local error, getmetatable, load, next, pcall, rawget, rawset, select, setmetatable, type =
  error, getmetatable, load, next, pcall, rawget, rawset, select, setmetatable, type
local format = string.format

local function finish(ok, ...)
  if ok then
    return ...
  end
  error((...), 0)
end

local function wrap(f)
  return function(...)
    return finish(f(...))
  end
end

local api = {}
for name, f in next, raw.api do
  api[name] = wrap(f)
end
api.Error = raw.error_mt

-- Objects are plain tables: their entries are their fields. The engine object is a hidden
-- handle found through `handles` (weak keys: an ephemeron table, so Lua's GC sees through
-- it and objects that refer to each other are collected).
local by_id = setmetatable({}, { __mode = "v" })
local handles = setmetatable({}, { __mode = "k" })
local pins = {}
-- `objects.methods_of`: object -> its class's method table (see `I.m` below), weak keys, set
-- when the object gets its handle. Read through `objects`: the binding rebuilds it with
-- `handles` (Lua never shrinks a table until it rehashes).
-- A value that is no object reads as `NONE` (see `I.m` below).
local caller_keys = {} -- the private keys of `I.m`s (strings) -> their `first`
local NONE = setmetatable({}, { __index = caller_keys })
local objects = { methods_of = setmetatable({}, { __mode = "k", __index = function() return NONE end }) }

local rescue, sweep = raw.rescue, raw.sweep
local function finalize(obj)
  pcall(rescue, obj)
end
-- Once per GC cycle, the pins of objects that Rust let go of are released.
local compact_methods_of -- (below)
local function sentinel()
  setmetatable({}, {
    __gc = function()
      pcall(compact_methods_of)
      pcall(sweep)
      sentinel()
    end,
  })
end
sentinel()

-- The methods every object has, reached only through names that are neither a field of
-- the object nor a method of its class.
local object_methods = { is = api.is, cast = api.cast, call = api.call, class = api.class_of }

-- Casts the class metadata answers (rule B1) are the same for every object of the class,
-- for good: they are kept per class and answered in Lua. A cast the metadata does not
-- answer on a class with a hook asks the hook on every attempt (rules B2-B3): a hook
-- written in Lua is called from here, straight (its kept answer is the hook's holder
-- table, whose [1] is the hook table, which a reload may replace); any other hook through
-- the engine. Only types (not type names, which a redefinition can move) are keys.
local static_answer = wrap(raw.static_answer)
local cast_failed = raw.cast_failed
local ENGINE = {} -- kept answer: "ask the engine (and so the hook), every time"
local answers = setmetatable({}, { __mode = "k" }) -- class metatable -> { [type] = answer }
-- The kept answer of `obj`'s class for `t`, found or made; nil for what no answer is kept
-- for (a value that is no object, a type given by name).
local function known_answer(obj, t)
  local mt = getmetatable(obj)
  if mt == nil or type(t) ~= "userdata" then
    return nil
  end
  local known = answers[mt]
  if known == nil then
    known = setmetatable({}, { __mode = "k" })
    answers[mt] = known
  end
  local a = known[t]
  if a == nil then
    a = static_answer(obj, t)
    if a == nil then
      a = ENGINE
    end
    known[t] = a
  end
  return a
end
-- The engine's answers, raised like `wrap`'s but without its variadic frames.
local raw_is, raw_cast = raw.api.is, raw.api.cast
local function engine_is(obj, t)
  local ok, answer = raw_is(obj, t)
  if ok then
    return answer
  end
  error(answer, 0)
end
local function engine_cast(obj, t)
  local ok, answer = raw_cast(obj, t)
  if ok then
    return answer
  end
  error(answer, 0)
end
-- A cast a Lua hook decides, as the engine makes it (`LuaHook`): the hook table's
-- function read anew (through its metatable too), called with (object, type, throw); a
-- missing function answers no; what is no function gets the engine's error. A value the
-- hook raises reaches the caller unchanged, its frames intact. No engine crossing, so no
-- hook nesting count: a hook that asks itself without end fails with Lua's own "stack
-- overflow" error. The function last found to be one is kept in the holder's [2], so the
-- casts in a loop (see `class_object_method`) check it with a comparison, not `type`.
-- The hook's answer (true or false), or nil when its entry is no function.
local function ask_hook(holder, obj, t, throw)
  local f = holder[1].is_interface_implemented
  if type(f) == "function" then
    holder[2] = f
    if f(obj, t, throw) then
      return true
    end
    return false
  elseif f == nil then
    return false
  end
  return nil
end
-- The engine's error for a cast the hook said no to (rule B4).
local function raise_cast_failed(obj, t)
  local _, e = cast_failed(obj, t)
  error(e, 0)
end
local function hook_is(holder, obj, t)
  local a = ask_hook(holder, obj, t, false)
  if a == nil then
    return engine_is(obj, t)
  end
  return a
end
local function hook_cast(holder, obj, t)
  local a = ask_hook(holder, obj, t, true)
  if a then
    return obj
  elseif a == nil then
    return engine_cast(obj, t)
  end
  raise_cast_failed(obj, t)
end
-- `obj:is(T)`, `obj:cast(T)` given a kept answer `a` (nil: none is kept).
local function answer_is(a, obj, t)
  if a == true or a == false then
    return a
  elseif a == nil or a == ENGINE then
    return engine_is(obj, t)
  end
  return hook_is(a, obj, t)
end
local function answer_cast(a, obj, t)
  if a == true then
    return obj
  elseif a == false or a == nil or a == ENGINE then
    return engine_cast(obj, t)
  end
  return hook_cast(a, obj, t)
end
object_methods.is = function(obj, t)
  return answer_is(known_answer(obj, t), obj, t)
end
object_methods.cast = function(obj, t)
  return answer_cast(known_answer(obj, t), obj, t)
end

-- `obj:is(T)` and `obj:cast(T)` as found on the objects of one class: the kept answers of
-- that class, reached without `getmetatable` (an object of another class, or a value that
-- is no object, takes the general path above).
local function class_object_method(key, methods, mt)
  local generic = object_methods[key]
  if key ~= "is" and key ~= "cast" then
    return generic
  end
  local known = answers[mt]
  if known == nil then
    known = setmetatable({}, { __mode = "k" })
    answers[mt] = known
  end
  -- The kept answers inline, a Lua hook's call too (see `hook_is`).
  if key == "is" then
    return function(obj, t)
      if objects.methods_of[obj] == methods then
        local a = known[t]
        if a == true or a == false then
          return a
        elseif a == ENGINE then
          return engine_is(obj, t)
        elseif a ~= nil then
          local f = a[1].is_interface_implemented
          if f == a[2] and f ~= nil then
            if f(obj, t, false) then
              return true
            end
            return false
          end
          return hook_is(a, obj, t)
        end
      end
      return generic(obj, t)
    end
  end
  return function(obj, t)
    if objects.methods_of[obj] == methods then
      local a = known[t]
      if a == true then
        return obj
      elseif a ~= nil and a ~= false and a ~= ENGINE then
        local f = a[1].is_interface_implemented
        if f == a[2] and f ~= nil then
          if f(obj, t, true) then
            return obj
          end
          raise_cast_failed(obj, t)
        end
        return hook_cast(a, obj, t)
      elseif a ~= nil then
        return engine_cast(obj, t)
      end
    end
    return generic(obj, t)
  end
end

-- Classes defined in Lua: their own Lua methods, inherited down the base chain, so that
-- `obj:m()` finds the most derived override without leaving Lua (class virtual methods
-- resolve statically: class dispatch has no hook).
-- Strong keys: a class's type userdata must stay the same (it is what these are keyed by)
-- for as long as the state lives; the engine keeps every class that long anyway.
local defs = {} -- class type -> { name = function }
local inits = {} -- class type -> init function
local metas = {} -- class type -> { __tostring = f, ... }
local class_mts = setmetatable({}, { __mode = "k" }) -- class type -> object metatable

local statics = {} -- class type -> { name = function }, a subclass's own and its bases'
local apply_metamethods -- (below)
local members -- type -> its members a script read (see `type_index`)
local function register_class(class, base, own, metamethods, init, own_statics)
  local d, m, st = {}, {}, {}
  if base ~= nil then
    for k, v in next, defs[base] or {} do
      d[k] = v
    end
    for k, v in next, statics[base] or {} do
      st[k] = v
    end
    for k, v in next, metas[base] or {} do
      m[k] = v
    end
    if init == nil then
      init = inits[base]
    end
  end
  for k, v in next, own do
    d[k] = v
  end
  for k, v in next, metamethods do
    m[k] = v
  end
  for k, v in next, own_statics do
    st[k] = v
  end
  if defs[class] ~= nil then
    -- A reload re-ran an unchanged class (the same engine class): its methods are the same
    -- code, and what only the Lua side has (its initializer, statics, metamethods) is
    -- taken from the re-run.
    apply_metamethods(class, metas[class], m)
    d = defs[class]
    members[class] = nil -- (its statics may have changed)
  end
  defs[class], metas[class], inits[class], statics[class] = d, m, init, st
end

local resolve = wrap(raw.resolve)
-- Objects a script makes get their class's *light* metatable: the same metamethods and
-- method table, but no finalizer, and no engine object until Rust first needs one (a call
-- through the engine, a cast the class's kept answers do not give, a hook, a hand-over to
-- Rust: the binding then gives the table its engine object and the full metatable). So
-- making an object, and dropping it, never leaves Lua. Both metatables are protected
-- (`__metatable`): `getmetatable(obj)` is the full one, for every object of the class.
local lights = {} -- class type -> its light metatable (instantiable classes)
-- What each class's method table mirrors of the engine: everything beyond the class's own
-- Lua methods (names the engine resolved, the `I.m` resolutions it published) and the
-- names it remembers as missing. The one place that holds them: `forget_resolutions`.
local mirrors = setmetatable({}, { __mode = "k" }) -- class type -> { methods, misses }
local function class_mt(class, instantiable)
  local mt = class_mts[class]
  if mt ~= nil then
    return mt, lights[class]
  end
  local methods, misses = {}, {}
  for k, v in next, defs[class] or {} do
    methods[k] = v
  end
  -- A name the class does not define in Lua: asked of the engine once (a virtual method
  -- with a Rust body, or the one interface method of that name), then kept. Missing string
  -- keys are remembered too, so reading an absent field stays in Lua.
  setmetatable(methods, {
    __index = function(_, key)
      if misses[key] then
        return nil
      end
      local first = caller_keys[key]
      if first ~= nil then
        return first
      end
      local found = resolve(class, key)
      if found == nil then
        found = class_object_method(key, methods, mt)
      end
      if found ~= nil then
        rawset(methods, key, found)
      elseif type(key) == "string" then
        misses[key] = true
      end
      return found
    end,
  })
  mirrors[class] = { methods = methods, misses = misses }
  local name = class.name
  mt = {
    __index = methods,
    __name = name,
    __tostring = function(obj)
      return format("%s: %p", name, obj)
    end,
  }
  for k, v in next, metas[class] or {} do
    mt[k] = v
  end
  mt.__metatable = mt
  if instantiable then
    local light = {}
    for k, v in next, mt do
      light[k] = v
    end
    lights[class] = light
  end
  mt.__gc = finalize
  class_mts[class] = mt
  return mt, lights[class]
end

-- Gives the metatables of `class` (made or not yet) the metamethods `new` instead of `old`.
function apply_metamethods(class, old, new)
  local name = class.name
  for _, mt in next, { class_mts[class], lights[class] } do
    for k in next, old or {} do
      mt[k] = nil
    end
    mt.__tostring = function(obj)
      return format("%s: %p", name, obj)
    end
    for k, v in next, new do
      mt[k] = v
    end
  end
end

-- Clears what `class`'s method table mirrors of the engine (see `mirrors`), for a reload
-- that flushes the engine's caches: the next call asks the engine again.
local function forget_resolutions(class)
  local m = mirrors[class]
  if m == nil then
    return
  end
  local own, methods = defs[class] or {}, m.methods
  for k, v in next, methods do
    if own[k] ~= v then
      rawset(methods, k, nil) -- (clearing a field while traversing is allowed)
    end
  end
  for k in next, m.misses do
    m.misses[k] = nil
  end
end

-- After a flush of the whole runtime: every class's mirrors.
local function forget_all()
  for class in next, mirrors do
    forget_resolutions(class)
  end
end

-- Classes a reload replaced: old class -> the newest version (weak keys: a script that
-- drops the old handle lets the old class go). Consulted only where the old class's own
-- entries are missing, so a kept handle `Old(...)`, `Old:new()`, `Old.m` follow the new.
local retired = setmetatable({}, { __mode = "k" })
local raw_metatable, set_metatable = raw.metatable, raw.set_metatable

-- A reload defined `new` to take over `old`'s objects: each Lua object of `old` gets
-- `new`'s metatable (full or light, as it had), its table (its fields) kept; the Lua side
-- then forgets `old`. Linear in the live objects, once per replaced class.
local function take_over_objects(old, new)
  local old_mt, old_light = class_mts[old], lights[old]
  local new_mt, new_light = class_mts[new], lights[new]
  if old_mt ~= nil and new_mt ~= nil then
    local old_methods, new_methods, moved = old_mt.__index, new_mt.__index, {}
    for obj, methods in next, objects.methods_of do
      if methods == old_methods then
        moved[#moved + 1] = obj
      end
    end
    for i = 1, #moved do
      local obj = moved[i]
      local light = old_light ~= nil and raw_metatable(obj) == old_light
      set_metatable(obj, light and new_light or new_mt)
      objects.methods_of[obj] = new_methods
    end
  end
  for k, v in next, retired do
    if v == old then
      retired[k] = new
    end
  end
  retired[old] = new
  defs[old], inits[old], metas[old], statics[old] = nil, nil, nil, nil
  class_mts[old], lights[old], mirrors[old], members[old] = nil, nil, nil, nil
end

-- `Class:new(fields)`, `dynacast.new(Class, fields)`: once the class has a light
-- metatable (after its first object), made in Lua; anything else (the first object, a
-- type name, fields that are no plain table) goes through the engine, which checks.
local engine_new = api.new
local created = 0 -- entries added to `objects.methods_of` since it was last rebuilt
local function new(class, fields)
  local light = lights[class]
  if light ~= nil then
    if fields == nil then
      fields = {}
    elseif type(fields) ~= "table" or getmetatable(fields) ~= nil then
      return engine_new(class, fields)
    end
    setmetatable(fields, light)
    objects.methods_of[fields] = light.__index
    created = created + 1
    return fields
  end
  local newest = retired[class]
  if newest ~= nil then
    return new(newest, fields)
  end
  return engine_new(class, fields)
end
api.new = new

-- Rebuilds `objects.methods_of` once the objects made since the last rebuild outnumber
-- the live ones by far (Lua keeps a table's size until it rehashes: after a burst of
-- objects it would keep the burst's). Run once per GC cycle (see `sentinel`).
local SLACK = 4096
function compact_methods_of()
  if created < SLACK then
    return
  end
  local old, live = objects.methods_of, 0
  for _ in next, old do
    live = live + 1
  end
  if created < 2 * live + SLACK then
    return
  end
  local copy = setmetatable({}, getmetatable(old))
  for k, v in next, old do
    copy[k] = v
  end
  objects.methods_of, created = copy, live
end

-- Types: a few read-only fields and methods, then their members: `I.m` is the method
-- handle of `I.m` (callable as `I.m(obj, ...)`, through `I`); `C.m` is the class's own
-- implementation when it is written in Lua (a non-virtual call: `Base.m(self)` is a super
-- call), else the virtual method's handle.
local type_methods = { method = api.method, new = new, methods = api.methods,
  interfaces = api.interfaces, base = api.base, assignable_to = api.assignable_to }
local type_field = raw.type_field
members = setmetatable({}, { __mode = "k" })
local method = api.method
local invoke = api.invoke
local resolve_call = wrap(raw.resolve_call)

-- `I.m` for an instance method of interface `I`: a function that mirrors, per class, what
-- the engine resolved and published (rule D1, like a `CallSite`). Each `I.m` has its own
-- key (a string beginning "\0dynacast.", a name definitions refuse); once the engine has resolved `I.m` for a class, the class's method table holds the
-- implementation under that key (the Lua function of a body written in Lua, else a call
-- through the engine), so a cached call is a table look-up and a Lua call, and never
-- leaves Lua. The first call per class goes to the engine, which resolves (the hook runs
-- at most once per class, exactly as from Rust) and publishes; failures are not kept.
-- `objects.methods_of` maps each object to its class's method table, and anything else to
-- `NONE` (a look-up that, unlike indexing, does not fail on a number or nil: those reach
-- the engine, which refuses them with a `BadArgument` error). A key not yet published
-- reads, on a method table as on `NONE`, as the `I.m`'s `first`, so the caller is one
-- look-up chain and one call. The caller has `I.m`'s parameters (its arity), so, like
-- `obj:m()`, it follows Lua's argument rules: a missing argument is nil, an extra one is
-- dropped. The body is called from Lua by tail calls, so it may yield, and
-- `error(msg, 2)` and tracebacks see the script's call as the body's caller.
local callers = {} -- arity -> the chunk making a caller of that arity
local function caller_chunk(arity)
  local chunk = callers[arity]
  if chunk == nil then
    local params = "obj"
    for i = 1, arity do
      params = params .. ", a" .. i
    end
    chunk = load(
      "local objects, key = ...\n"
        .. "return function(" .. params .. ")\n"
        .. "  return objects.methods_of[obj][key](" .. params .. ")\n"
        .. "end",
      "=dynacast"
    )
    callers[arity] = chunk
  end
  return chunk
end
local caller_count = 0
local function caller(handle, arity)
  -- A string key: hashed once when made, where a table key is hashed by address on each
  -- look-up (a division), about a tenth of a cached call. Reserved: no method is named so.
  caller_count = caller_count + 1
  local key = format("\0dynacast.%d", caller_count)
  local function through_engine(obj, ...)
    return invoke(handle, obj, ...)
  end
  -- The first call on an object of a class: the engine resolves and publishes.
  local function first(obj, ...)
    local f = resolve_call(handle, obj) or through_engine
    local methods = rawget(objects.methods_of, obj)
    if methods ~= nil then
      rawset(methods, key, f)
    end
    return f(obj, ...)
  end
  caller_keys[key] = first
  return caller_chunk(arity)(objects, key)
end
local function type_index(t, key)
  local m = type_methods[key]
  if m ~= nil then
    return m
  end
  local v = type_field(t, key)
  if v ~= nil then
    return v
  end
  local cache = members[t]
  if cache == nil then
    cache = {}
    members[t] = cache
  end
  v = cache[key]
  if v == nil then
    local own = retired[t] or t
    local d, st = defs[own], statics[own]
    v = (d and d[key]) or (st and st[key])
    if v == nil then
      v = method(t, key)
      if t.is_interface and not v.is_static then
        v = caller(v, v.arity)
      end
    end
    cache[key] = v
  end
  return v
end

local function type_call(t, ...)
  local newest = retired[t]
  if newest ~= nil then
    t = newest
  end
  local obj = new(t)
  local init = inits[t]
  if init ~= nil then
    init(obj, ...)
  end
  return obj
end

-- A method handle `m(obj, ...)`: for an instance method of an interface with the right
-- argument count, the engine resolves (and publishes: the hook runs as from Rust) and a body
-- written in Lua is then called from Lua, by a tail call: it may yield, keeps its frames,
-- and nests as deep as Lua calls do. Everything else (a wrong argument count, a static or
-- class method, a body written in Rust) is a call through the engine.
local arities = setmetatable({}, { __mode = "k" }) -- handle -> arity, or false
local lua_callable_arity = raw.lua_callable_arity
local function method_call(m, ...)
  local arity, obj = arities[m], ...
  -- (`obj` is only looked at: the call passes on exactly the arguments it was given.)
  if arity == nil then
    arity = lua_callable_arity(m)
    if type(m) == "userdata" then
      arities[m] = arity
    end
  end
  if arity and obj ~= nil and select("#", ...) == arity + 1 then
    local f = resolve_call(m, obj)
    if f then
      return f(...)
    end
  end
  return invoke(m, ...)
end

-- `dynacast.call(obj, m, ...)` and `obj:call(m, ...)` are the handle's call.
local function call(obj, m, ...)
  return method_call(m, obj, ...)
end
api.call, object_methods.call = call, call

-- `dynacast.reload(chunk, ...)`: runs `chunk` (a function, or the path of a Lua file) as a
-- reload: definitions that are the same code return the registered types, classes that
-- changed take over the live objects of the ones they replace (see the binding docs).
local begin_reload, end_reload, loadfile = raw.begin_reload, raw.end_reload, loadfile
local function finish_reload(ok, ...)
  end_reload()
  if ok then
    return ...
  end
  error((...), 0)
end
function api.reload(chunk, ...)
  if type(chunk) == "string" then
    local f, message = loadfile(chunk)
    if f == nil then
      error(raw.reload_error(message), 2)
    end
    chunk = f
  elseif type(chunk) ~= "function" then
    error(raw.reload_error(nil, type(chunk)), 2)
  end
  begin_reload()
  return finish_reload(pcall(chunk, ...))
end

return {
  api = api,
  wrap = wrap,
  by_id = by_id,
  handles = handles,
  objects = objects,
  pins = pins,
  class_mt = class_mt,
  forget_resolutions = forget_resolutions,
  take_over_objects = take_over_objects,
  forget_all = forget_all,
  register_class = register_class,
  type_index = type_index,
  type_call = type_call,
  method_index = raw.method_field,
  method_call = method_call,
}
