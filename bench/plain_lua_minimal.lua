-- The minimal plain-Lua baseline of scripts/bench: the least work that produces the same events.
--
--   lua5.4 bench/plain_lua_minimal.lua [rule.lua] < data.jsonl > events.jsonl
--
-- Per line: cjson.decode, the rule's on_record (bench/reference_rule.lua, unchanged) building its
-- tables, and cjson.encode of {name, user, properties} for each event it emits. No validation
-- emulation, no copy of the user table, no tags join, no error handling beyond what Lua does: this
-- is what a hand-written script that trusts its rule and its input would do. (The fuller harness,
-- bench/plain_lua_harness.lua, emulates the light checks encharge-lua makes and is the second row.)
--
-- Known differences from encharge-lua, none of which removes work from this side: lua-cjson decodes
-- every number as a float and JSON null as cjson.null; output keys are not sorted; `tags` stays a
-- list (encharge-lua joins it into "a, b").

local cjson = require "cjson"
local decode, encode = cjson.decode, cjson.encode
local write = io.write

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local rule_path = arg and arg[1] or (here .. "/reference_rule.lua")

local SKIP = {}
local floor, os_date = math.floor, os.date

encharge = {
  settings = {},
  identify = function(user) write(encode({ name = "identify", user = user }), "\n") end,
  track = function(name, user, properties)
    write(encode({ name = name, user = user, properties = properties }), "\n")
  end,
  event = function(e) write(encode(e), "\n") end,
  skip = function() return SKIP end,
  -- The data's created_at is epoch seconds.
  iso8601 = function(t) return os_date("!%Y-%m-%dT%H:%M:%SZ", floor(t)) end,
}

dofile(rule_path)
local on_record = on_record

io.stdout:setvbuf("full", 1 << 16)
for line in io.lines() do
  on_record(decode(line), {})
end
io.stdout:flush()
