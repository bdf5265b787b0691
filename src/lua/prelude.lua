-- dynacast's Lua side. The Rust functions in `raw.api` answer `true, results...` or
-- `false, error`; the wrappers below raise the error with `error(e, 0)`, so that a value a
-- Lua body or hook raised reaches the caller's pcall unchanged, and every other failure
-- arrives as a `dynacast.Error` table. The metamethods of objects, types and method
-- handles are built here too.
local raw = ...
local error, next, pairs, pcall, setmetatable = error, next, pairs, pcall, setmetatable

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
for name, f in pairs(raw.api) do
  api[name] = wrap(f)
end
api.Error = raw.error_mt

-- Objects. Fields live here, keyed by the object's userdata with weak keys (an ephemeron
-- table): Lua's GC sees through them, so objects that refer to each other are collected.
-- Each userdata has an anchor whose finalizer hands the fields to Rust when Rust still
-- holds the object (`raw.rescue`), so they survive until the next hand-over.
local fields = setmetatable({}, { __mode = "k" })
local anchors = setmetatable({}, { __mode = "k" })
local rescue = raw.rescue
local anchor_mt = {
  __gc = function(anchor)
    local obj = anchor[1]
    pcall(rescue, obj, fields[obj])
  end,
}
local function attach(obj, f)
  fields[obj] = f
  anchors[obj] = setmetatable({ obj }, anchor_mt)
end

-- An object's own fields come first: no field name is shadowed. The methods below are
-- reached through names no field of the object has.
local object_methods = { is = api.is, cast = api.cast, call = api.call, class = api.class_of }
local function object_index(obj, key)
  local v = fields[obj][key]
  if v ~= nil then
    return v
  end
  return object_methods[key]
end
local function object_newindex(obj, key, value)
  fields[obj][key] = value
end
local function object_pairs(obj)
  return next, fields[obj], nil
end

-- Types: the methods below, then read-only fields.
local type_methods = { method = api.method, new = api.new }
local type_field = raw.type_field
local function type_index(t, key)
  local m = type_methods[key]
  if m ~= nil then
    return m
  end
  return type_field(t, key)
end

local invoke = api.invoke
local function method_call(m, ...)
  return invoke(m, ...)
end

return {
  api = api,
  wrap = wrap,
  fields = fields,
  attach = attach,
  object_index = object_index,
  object_newindex = object_newindex,
  object_pairs = object_pairs,
  type_index = type_index,
  method_index = raw.method_field,
  method_call = method_call,
}
