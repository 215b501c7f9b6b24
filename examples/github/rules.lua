-- rules.lua (examples/github): turn GitHub stars into Encharge events.
--
-- Try it from this folder (fixtures/ holds signed deliveries and what each must emit):
--
--   encharge-lua test rules.lua
--
-- Run it (the write key is in Encharge under Settings → Integrations → API keys; the secret is any
-- long random string you also give GitHub, e.g. `openssl rand -hex 32`):
--
--   export ENCHARGE_WRITE_KEY=...
--   encharge-lua serve rules.lua --port 8080 --set github_secret=...
--
-- (`--settings secrets.json` with {"github_secret": "..."} keeps the secret out of `ps`.)
--
-- Point GitHub at it: the repository's (or organisation's) Settings → Webhooks → Add webhook;
-- Payload URL https://YOUR-HOST/github, Content type application/json, Secret the same string,
-- "Let me select individual events" → Stars. GitHub sends a `ping` right away; this rule answers
-- it 200, and the webhook's "Recent Deliveries" tab shows each request and our response. serve
-- listens on 127.0.0.1: put it behind your HTTPS reverse proxy or a tunnel.
--
-- Try it without GitHub: sign and post the bundled sample yourself:
--
--   ./send-sample.sh http://127.0.0.1:8080/github my-secret
--
-- GitHub names the event in the X-GitHub-Event header (star, ping, issues, ...) and its id in
-- X-GitHub-Delivery; serve remembers that id for a day (--dedup-window) and answers a redelivery
-- 200 {"duplicate": true} without running the rule again. GitHub does not retry failed deliveries
-- by itself; "Redeliver" in the UI sends the same delivery again.

local SECRET = encharge.settings.github_secret

-- This rule only tracks (no encharge.identify): a track event attaches to a person who already
-- exists in Encharge with that email or userId, so stars from people Encharge does not know yet
-- add no one. To create them, emit encharge.identify(person(payload.sender)) before the track.
--
-- Whom the events are about. Webhook payloads rarely carry an email; then the person is keyed by
-- the GitHub account id. (If your app's user ids could collide with GitHub's, prefix it:
-- "github:" .. sender.id.) githubLogin and githubUrl become custom fields on the person.
local function person(sender)
  local who = { githubLogin = sender.login, githubUrl = sender.html_url }
  if sender.email then
    who.email = sender.email
  else
    who.userId = tostring(sender.id)
  end
  return who
end

-- One function per X-GitHub-Event; each gets the decoded payload and returns the response.
local handlers = {}

-- GitHub's "hello" when the webhook is created or its settings change.
handlers.ping = function(payload)
  return { status = 200, body = { pong = true, hook_id = payload.hook_id } }
end

-- Someone starred (action "created") or unstarred ("deleted") a repository.
-- https://docs.github.com/en/webhooks/webhook-events-and-payloads#star
handlers.star = function(payload)
  local repo = payload.repository
  local name = payload.action == "deleted" and "Unstarred repository" or "Starred repository"
  encharge.track(name, person(payload.sender), {
    repository = repo.full_name,
    repositoryUrl = repo.html_url,
    stars = repo.stargazers_count,                 -- the count after this star
    starredAt = encharge.iso8601(payload.starred_at),  -- null for "deleted": the key is left out
  })
end

function on_webhook(req)
  -- 401 unless X-Hub-Signature-256 is "sha256=" + the hex HMAC-SHA256 of the raw body.
  webhook.verify("github", req, SECRET)

  -- With Content type "application/json" the payload is req.json; with GitHub's default,
  -- "application/x-www-form-urlencoded", it is the JSON text in the form field `payload`.
  local payload = req.json
  if not payload and req.form and req.form.payload then payload = json.decode(req.form.payload) end
  if not payload then
    return { status = 400, body = { error = "expected a GitHub webhook payload" } }
  end

  local event = req.headers["x-github-event"]
  local handler = handlers[event]
  if not handler then
    -- Subscribed to more than this rule maps: acknowledge, so the delivery shows as a success.
    return { status = 200, body = { ignored = event } }
  end
  return handler(payload)   -- nil → 202 {"accepted": n}
end
