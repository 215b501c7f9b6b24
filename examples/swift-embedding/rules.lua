-- examples/swift-embedding/rules.lua: the rule the Swift embedding example loads.
--
--   swift run encharge-embedding-example --endpoint http://127.0.0.1:8089/v1/
--   encharge-lua run examples/swift-embedding/rules.lua in.jsonl --dry-run --set app=my-app
--   encharge-lua test examples/swift-embedding/rules.lua      (runs fixtures/signup.json)
--
-- One sign-up record becomes an identify and a "Signed up" event. `encharge.settings.app` is set
-- by the embedding app (RuleOptions.settings), as `--set app=...` sets it on the command line.

function on_record(r, ctx)
  if not r.email then return encharge.skip("no email") end
  encharge.identify{ email = r.email, firstName = r.first_name, plan = r.plan }
  encharge.track("Signed up", { email = r.email }, { plan = r.plan, app = encharge.settings.app })
  log.info("mapped sign-up of " .. r.email)
end
