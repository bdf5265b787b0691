-- dynacast's Lua side. The Rust functions in `raw.api` answer `true, results...` or
-- `false, error`; the wrappers below raise the error with `error(e, 0)`, so that a value a
-- Lua body or hook raised reaches the caller's pcall unchanged, and the engine's errors
-- arrive as `dynacast.Error` tables. The metamethods of objects, types and method handles
-- are built here too.
local raw = ...
local error, pairs = error, pairs

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

-- Objects: the methods below, then the object's own fields.
local object_methods = { is = api.is, cast = api.cast, call = api.call, class = api.class_of }
local state_of = raw.state_of
local function object_index(obj, key)
  local m = object_methods[key]
  if m ~= nil then
    return m
  end
  return state_of(obj)[key]
end
local function object_newindex(obj, key, value)
  state_of(obj)[key] = value
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
  object_index = object_index,
  object_newindex = object_newindex,
  type_index = type_index,
  method_index = raw.method_field,
  method_call = method_call,
}
