-- The plain-Lua baseline of scripts/bench: the reference rule run by Debian's lua5.4 + lua-cjson.
--
--   lua5.4 bench/plain_lua_harness.lua [rule.lua] < data.jsonl > events.jsonl
--
-- Reads JSON lines on stdin, cjson.decode()s each, calls the rule's on_record(r, ctx) in a protected
-- call, and writes every emitted event as one cjson.encode()d line on stdout. It defines a minimal
-- `encharge` (identify/track/event/skip/iso8601/settings), `log` and `json` first, then dofile()s the
-- rule (bench/reference_rule.lua by default) unchanged, so both sides of the benchmark run the same
-- rule. The host work is deliberately the light work encharge-lua must also do per event: build
-- {name, user, properties}, copy the user table, join a tags list with ", ", check that the name is a
-- string and that the user carries an email (with an "@") or a userId.
--
-- Known differences from encharge-lua, none of which changes the amount of work:
-- - lua-cjson decodes every number as a float, so tostring(r.id) gives "100003.0" here;
-- - JSON null decodes to cjson.null (a truthy lightuserdata), not nil: the benchmark data only puts
--   nulls in fields the rule does not test;
-- - output keys are not sorted, and failures go to stderr (counted) instead of a dead-letter file.

local cjson = require "cjson"
local decode, encode = cjson.decode, cjson.encode
local concat, type, pairs, pcall, error = table.concat, type, pairs, pcall, error
local floor, fmt, os_date = math.floor, string.format, os.date

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local rule_path = arg and arg[1] or (here .. "/reference_rule.lua")

-- Events emitted by the current record, already encoded.
local out, nout = {}, 0
local SKIP = setmetatable({}, { __tostring = function() return "encharge.skip" end })

local function emit(name, user, properties, options)
  if type(name) ~= "string" or name == "" then error("event name must be a non-empty string", 3) end
  if type(user) ~= "table" then error("event user must be a table", 3) end
  local u = {}
  for k, v in pairs(user) do
    if k == "tags" and type(v) == "table" then v = concat(v, ", ") end
    u[k] = v
  end
  local email = u.email
  if email == nil and u.userId == nil then error("event user needs an email or a userId", 3) end
  if email ~= nil and (type(email) ~= "string" or not email:find("@", 1, true)) then
    error("invalid email: " .. tostring(email), 3)
  end
  local ev = { name = name, user = u, properties = properties }
  if options and options.sourceIp then ev.sourceIp = options.sourceIp end
  nout = nout + 1
  out[nout] = encode(ev)
end

local function iso8601(t)
  if type(t) == "string" then
    if t:match("^%d%d%d%d%-%d%d%-%d%dT") then return t end
    t = tonumber(t) or error("not a date: " .. t, 2)
  end
  if type(t) ~= "number" then error("not a date: " .. tostring(t), 2) end
  if t >= 1e11 or t <= -1e11 then                   -- epoch milliseconds
    local s = floor(t / 1000)
    local ms = floor(t - s * 1000)
    if ms ~= 0 then return os_date("!%Y-%m-%dT%H:%M:%S", s) .. fmt(".%03dZ", ms) end
    t = s
  end
  return os_date("!%Y-%m-%dT%H:%M:%SZ", floor(t))
end

encharge = {
  settings = {},
  identify = function(user) emit("identify", user, nil, nil) end,
  track = function(name, user, properties, options) emit(name, user, properties, options) end,
  event = function(e) emit(e.name, e.user, e.properties, e) end,
  skip = function(reason) return SKIP end,
  iso8601 = iso8601,
}
json = { decode = decode, encode = encode, null = cjson.null }
local function logger(level)
  return function(...)
    local parts = { ... }
    for i = 1, select("#", ...) do parts[i] = tostring(parts[i]) end
    io.stderr:write(level, ": ", concat(parts, " "), "\n")
  end
end
log = { debug = function() end, info = logger("info"), warn = logger("warn"), error = logger("error") }

dofile(rule_path)
local on_record = on_record
if type(on_record) ~= "function" then error(rule_path .. " defines no on_record(r, ctx)") end

local stdout = io.stdout
stdout:setvbuf("full", 1 << 16)
local traceback = debug.traceback
local records, events, skipped, failed = 0, 0, 0, 0
local lineno = 0
for line in io.lines() do
  lineno = lineno + 1
  if line ~= "" then
    records = records + 1
    nout = 0
    local ok, res = pcall(decode, line)
    if ok then
      ok, res = xpcall(on_record, traceback, res, { source = "stdin:" .. lineno })
    end
    if not ok then
      failed = failed + 1
      io.stderr:write("stdin:", lineno, ": ", tostring(res), "\n")
    elseif res == SKIP then
      skipped = skipped + 1
    else
      for i = 1, nout do stdout:write(out[i], "\n") end
      events = events + nout
    end
    for i = 1, nout do out[i] = nil end
  end
end
stdout:flush()
io.stderr:write(fmt("plain lua: %d records, %d events, %d skipped, %d failed\n",
                    records, events, skipped, failed))
os.exit(failed == 0 and 0 or 1)
