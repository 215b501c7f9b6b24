-- The reference rule of scripts/bench (DESIGN.md §5): the mapping bars are measured on this file.
--
-- It runs unchanged under encharge-lua (`encharge-lua run bench/reference_rule.lua data.jsonl
-- --dry-run`) and under Debian's plain lua5.4 + lua-cjson (bench/plain_lua_harness.lua provides a
-- minimal `encharge` table), so both sides execute the identical rule. Keep it to the API that both
-- provide: on_record, encharge.identify/track/skip/iso8601.
--
-- Per record: skip when there is neither email nor id; otherwise identify the person, then send
-- "Registered user" (plan, score, 14-day trial starting at created_at) or "Account Deleted".

function on_record(r, ctx)
  local email, id = r.email, r.id
  if not (email or id) then return encharge.skip("no email or id") end

  local userId = id and tostring(id)
  local company = r.company

  encharge.identify{
    email = email,
    userId = userId,
    firstName = r.first_name,
    lastName = r.last_name,
    tags = r.tags,                                  -- a list; sent as "a, b"
    company = company and company.name,
    companySize = company and company.size,
    ip = r.ip,
  }

  local who = { email = email, userId = userId }
  if r.deleted then
    encharge.track("Account Deleted", who, { plan = r.plan })
  else
    encharge.track("Registered user", who, {
      plan = r.plan,
      score = r.score,
      trial = { startDate = encharge.iso8601(r.created_at), length = 14 },
    })
  end
end
