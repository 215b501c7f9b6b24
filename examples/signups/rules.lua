-- rules.lua (examples/signups): turn sign-up records into Encharge events. From this folder:
--
--   encharge-lua test rules.lua                          # each record in fixtures/ and what it must emit
--   encharge-lua run rules.lua signups.jsonl --dry-run   # or signups.csv --set default_plan=starter
--
-- on_record(r, ctx) is called once per input record: `r` is the decoded record (a JSON object, or a
-- CSV row keyed by the header), `ctx.source` says where it came from ("signups.jsonl:7"). Every event
-- the rule emits is validated by encharge-lua at the line that emits it, so a bad email fails only
-- that record (it goes to the dead-letter file with the message) and the run carries on.
--
-- The same rule handles JSON lines and CSV: CSV cells are always strings and empty cells are absent,
-- so numbers and booleans are read with a little tolerance below.

-- Settings come from `--set key=value` (always strings) or `--settings file.json`.
local DEFAULT_PLAN = encharge.settings.default_plan or "free"
local TRIAL_DAYS = tonumber(encharge.settings.trial_days) or 14

-- "true"/"1"/"yes" in a CSV cell, or a JSON boolean.
local function truthy(v)
  return v == true or v == "true" or v == "1" or v == "yes"
end

-- created_at may be epoch seconds, epoch milliseconds or an ISO 8601 string; from CSV the numbers
-- arrive as strings, so turn them back into numbers first. encharge.iso8601 tells seconds from
-- milliseconds by magnitude and returns "2020-10-27T07:58:19Z" (or "...T07:58:19.522Z").
local function signup_date(v)
  if v == nil then return nil end
  return encharge.iso8601(tonumber(v) or v)
end

function on_record(r, ctx)
  -- Encharge needs an email or a userId to know who the person is.
  if not (r.email or r.id) then return encharge.skip("no email or id") end

  -- Whom the events are about; the same table is used for both events below.
  local who = { email = r.email, userId = r.id and tostring(r.id) }

  -- Create or update the person. Every key other than email/userId becomes a custom field;
  -- a tags list is sent as one "a, b" string, and ip fills in country and timezone.
  encharge.identify{
    email = who.email,
    userId = who.userId,
    firstName = r.first_name,
    lastName = r.last_name,
    tags = r.tags,
    ip = r.ip,
  }

  if truthy(r.deleted) then
    -- log lines go to stderr, prefixed with the record's source (ctx.source) by encharge-lua.
    log.info("account deleted: " .. (who.userId or who.email))
    encharge.track("Account Deleted", who, { plan = r.plan or DEFAULT_PLAN, deletedAt = signup_date(r.deleted_at) })
    return
  end

  encharge.track("Registered user", who, {
    plan = r.plan or DEFAULT_PLAN,
    trial = { startDate = signup_date(r.created_at), length = TRIAL_DAYS },
  })
end
