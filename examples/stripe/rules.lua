-- examples/stripe/rules.lua: turn Stripe webhook events into Encharge events.
--
-- Run it (the write key is in Encharge under Settings → Integrations → API keys; the signing
-- secret is the endpoint's "Signing secret", whsec_...):
--
--   export ENCHARGE_WRITE_KEY=...
--   encharge-lua serve examples/stripe/rules.lua --port 8080 --set stripe_secret=whsec_...
--
-- `--set` puts the secret on the command line, where `ps` shows it; in production keep it in a
-- JSON file instead and pass `--settings /etc/encharge/stripe.json` ({"stripe_secret": "whsec_..."}).
--
-- Point Stripe at it: Dashboard → Developers → Webhooks → Add endpoint (or "Add destination"),
-- URL https://YOUR-HOST/stripe, events `invoice.paid` and `checkout.session.completed`, then reveal
-- the endpoint's signing secret. serve listens on 127.0.0.1: put it behind your HTTPS reverse proxy
-- or a tunnel. For local development the Stripe CLI is the tunnel:
--
--   stripe listen --forward-to localhost:8080/stripe     # prints the whsec_ secret to use
--   stripe trigger invoice.paid
--
-- Or, with no Stripe account at all, sign and post the bundled samples yourself:
--
--   examples/stripe/send-sample.sh http://127.0.0.1:8080/stripe whsec_test
--   examples/stripe/send-sample.sh http://127.0.0.1:8080/stripe whsec_test examples/stripe/checkout.session.completed.json
--
-- What Stripe sees: 202 {"accepted": 2} once both events are stored on disk (Stripe then stops
-- retrying); 200 for event types this rule ignores (so Stripe does not retry them either); 401 when
-- the signature does not check out; 500 if the rule fails (the request is kept in the spool, and
-- `encharge-lua replay --spool encharge-spool.sqlite --rules examples/stripe/rules.lua
-- --set stripe_secret=...` runs it again once the rule is fixed).
--
-- Stripe retries a delivery that did not get a 2xx. It sends no delivery-id header; once
-- webhook.verify("stripe", ...) accepts a request, serve deduplicates on the event id in the body
-- (evt_...): a retry of an event that was stored is answered 200 {"duplicate": true} and its events
-- are dropped, and `replay --spool` drops a kept request whose event was stored since. The events
-- below also carry the event id (stripeEventId), to trace them back to Stripe.

local SECRET = encharge.settings.stripe_secret

-- Stripe amounts are integers in the currency's smallest unit: cents for USD, but yen for JPY
-- (a "zero-decimal" currency) and fils for KWD (three decimals). From Stripe's currency docs.
local ZERO_DECIMAL = {
  bif = true, clp = true, djf = true, gnf = true, jpy = true, kmf = true, krw = true, mga = true,
  pyg = true, rwf = true, ugx = true, vnd = true, vuv = true, xaf = true, xof = true, xpf = true,
}
local THREE_DECIMAL = { bhd = true, jod = true, kwd = true, omr = true, tnd = true }

-- 4900 usd → 49.0, 150000 jpy → 150000; nil stays nil.
local function major_units(amount, currency)
  if amount == nil then return nil end
  currency = string.lower(currency or "")
  if ZERO_DECIMAL[currency] then return amount end
  if THREE_DECIMAL[currency] then return amount / 1000 end
  return amount / 100
end

-- "Jenny Rosen" → "Jenny", "Rosen"; a single word is a first name.
local function split_name(name)
  if not name then return nil, nil end
  local first, last = string.match(name, "^%s*(%S+)%s+(.-)%s*$")
  if first then return first, last end
  return name, nil
end

-- Each handler gets the Stripe event (req.json) and emits events; its return value is the response.
local handlers = {}

-- An invoice was paid: a subscription renewed or a one-off invoice settled.
-- https://docs.stripe.com/api/invoices/object
handlers["invoice.paid"] = function(event)
  local invoice = event.data.object
  -- Invoices of customers without an email cannot be matched to a person in Encharge.
  if not invoice.customer_email then
    encharge.skip("invoice " .. invoice.id .. " has no customer_email")
    return { status = 200, body = { skipped = "no customer_email" } }
  end
  local who = { email = invoice.customer_email }
  local first, last = split_name(invoice.customer_name)
  -- Every key other than email/userId becomes a custom field on the person.
  encharge.identify{ email = who.email, firstName = first, lastName = last, stripeCustomerId = invoice.customer }
  local paid_at = invoice.status_transitions and invoice.status_transitions.paid_at
  encharge.track("Paid invoice", who, {
    amount = major_units(invoice.amount_paid, invoice.currency),
    currency = string.upper(invoice.currency),
    invoiceId = invoice.id,
    invoiceNumber = invoice.number,           -- JSON null reads as nil, so the key is left out
    billingReason = invoice.billing_reason,   -- subscription_create, subscription_cycle, manual, ...
    subscriptionId = invoice.subscription,
    invoiceUrl = invoice.hosted_invoice_url,
    paidAt = encharge.iso8601(paid_at or event.created),
    stripeEventId = event.id,
  })
end

-- A Checkout payment page was completed.
-- https://docs.stripe.com/api/checkout/sessions/object
handlers["checkout.session.completed"] = function(event)
  local session = event.data.object
  local details = session.customer_details or {}
  local email = details.email or session.customer_email
  -- client_reference_id is what your app passed when it created the session: usually its user id.
  local user_id = session.client_reference_id
  if not (email or user_id) then
    encharge.skip("checkout session " .. session.id .. " has neither an email nor a client_reference_id")
    return { status = 200, body = { skipped = "no email or client_reference_id" } }
  end
  local who = { email = email, userId = user_id }
  local first, last = split_name(details.name)
  encharge.identify{
    email = who.email, userId = who.userId, firstName = first, lastName = last,
    country = details.address and details.address.country,
    stripeCustomerId = session.customer,
  }
  encharge.track("Completed checkout", who, {
    amount = major_units(session.amount_total, session.currency),
    currency = session.currency and string.upper(session.currency),
    mode = session.mode,                       -- payment, subscription or setup
    paymentStatus = session.payment_status,    -- paid, unpaid or no_payment_required
    plan = session.metadata and session.metadata.plan,
    checkoutSessionId = session.id,
    completedAt = encharge.iso8601(event.created),
    stripeEventId = event.id,
  })
end

-- Called by `encharge-lua serve` once per request, whatever its path.
function on_webhook(req)
  -- Refuses (401) a request whose Stripe-Signature does not match the raw body, or whose timestamp
  -- is more than 300 s away from now (a replayed request). Raises, so nothing below runs.
  webhook.verify("stripe", req, SECRET)

  local event = req.json
  if not (event and event.object == "event") then
    return { status = 400, body = { error = "expected a Stripe event as JSON" } }
  end
  local handler = handlers[event.type]
  if not handler then
    -- Subscribed to more event types than this rule maps: acknowledge them, so Stripe stops sending.
    return { status = 200, body = { ignored = event.type } }
  end
  return handler(event)   -- nil → 202 {"accepted": n}
end
