-- rules.lua (examples/stripe): turn Stripe webhook events into Encharge events.
--
--   customer.created               → identify
--   checkout.session.completed     → identify + "Started subscription" (or "Completed checkout"
--                                    for a one-off payment)
--   invoice.paid                   → identify + "Paid invoice"
--   customer.subscription.deleted  → "Cancelled subscription"
--
-- Try it from this folder (fixtures/ holds a signed request for each event and what it must emit):
--
--   encharge-lua test rules.lua
--
-- Run it (the write key is in Encharge under Settings → Integrations → API keys; the signing
-- secret is the endpoint's "Signing secret", whsec_...):
--
--   export ENCHARGE_WRITE_KEY=...
--   encharge-lua serve rules.lua --port 8080 --set stripe_secret=whsec_...
--
-- `--set` puts the secret on the command line, where `ps` shows it; in production keep it in a
-- JSON file instead and pass `--settings /etc/encharge/stripe.json` ({"stripe_secret": "whsec_..."}).
--
-- Point Stripe at it: Dashboard → Developers → Webhooks → Add endpoint (or "Add destination"),
-- URL https://YOUR-HOST/stripe, the four events above, then reveal the endpoint's signing secret.
-- serve listens on 127.0.0.1: put it behind your HTTPS reverse proxy or a tunnel. For local
-- development the Stripe CLI is the tunnel:
--
--   stripe listen --forward-to localhost:8080/stripe     # prints the whsec_ secret to use
--   stripe trigger invoice.paid
--
-- Or, with no Stripe account at all, sign and post the bundled samples yourself:
--
--   ./send-sample.sh http://127.0.0.1:8080/stripe whsec_test      # invoice.paid.json
--   ./send-sample.sh http://127.0.0.1:8080/stripe whsec_test checkout.session.completed.json
--
-- (customer.created.json and customer.subscription.deleted.json are samples too.)
--
-- What Stripe sees: 202 {"accepted": 2} once both events are stored on disk (Stripe then stops
-- retrying); 200 for event types this rule ignores (so Stripe does not retry them either); 401 when
-- the signature does not check out; 500 if the rule fails (the request is kept in the spool, and
-- `encharge-lua replay --spool encharge-spool.sqlite --rules rules.lua --set stripe_secret=...`
-- runs it again once the rule is fixed).
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

-- Whom the events are about. The Stripe customer id (cus_...) is the one key every event here
-- carries (a subscription event has no email), so it is the person's userId, and the email joins
-- it wherever Stripe sends one. If your app already sends its own user ids to Encharge, key on
-- those instead (Checkout's client_reference_id, or metadata you set on the customer).
local function person(customer_id, email)
  return { userId = customer_id, email = email }
end

-- Each handler gets the Stripe event (req.json) and emits events; its return value is the response.
local handlers = {}

-- A customer was created (by Checkout, the Dashboard or your app).
-- https://docs.stripe.com/api/customers/object
handlers["customer.created"] = function(event)
  local customer = event.data.object
  local first, last = split_name(customer.name)
  local who = person(customer.id, customer.email)
  encharge.identify{
    userId = who.userId, email = who.email, firstName = first, lastName = last,
    phone = customer.phone,
    country = customer.address and customer.address.country,
    stripeCustomerId = customer.id,
  }
end

-- A Checkout payment page was completed: a new subscription, or a one-off payment.
-- https://docs.stripe.com/api/checkout/sessions/object
handlers["checkout.session.completed"] = function(event)
  local session = event.data.object
  local details = session.customer_details or {}
  local email = details.email or session.customer_email
  if not (session.customer or email) then
    encharge.skip("checkout session " .. session.id .. " has neither a customer nor an email")
    return { status = 200, body = { skipped = "no customer or email" } }
  end
  local who = person(session.customer, email)
  local first, last = split_name(details.name)
  encharge.identify{
    userId = who.userId, email = who.email, firstName = first, lastName = last,
    country = details.address and details.address.country,
    -- client_reference_id is what your app passed when it created the session: usually its user id.
    appUserId = session.client_reference_id,
    stripeCustomerId = session.customer,
  }
  local properties = {
    amount = major_units(session.amount_total, session.currency),
    currency = session.currency and string.upper(session.currency),
    plan = session.metadata and session.metadata.plan,   -- metadata your app set on the session
    checkoutSessionId = session.id,
    stripeEventId = event.id,
  }
  if session.mode == "subscription" then
    properties.subscriptionId = session.subscription
    properties.startedAt = encharge.iso8601(event.created)
    encharge.track("Started subscription", who, properties)
  else
    properties.mode = session.mode                       -- payment or setup
    properties.paymentStatus = session.payment_status    -- paid, unpaid or no_payment_required
    properties.completedAt = encharge.iso8601(event.created)
    encharge.track("Completed checkout", who, properties)
  end
end

-- An invoice was paid: a subscription started or renewed, or a one-off invoice settled.
-- https://docs.stripe.com/api/invoices/object
handlers["invoice.paid"] = function(event)
  local invoice = event.data.object
  local who = person(invoice.customer, invoice.customer_email)
  local first, last = split_name(invoice.customer_name)
  -- Every key other than email/userId becomes a custom field on the person.
  encharge.identify{ userId = who.userId, email = who.email, firstName = first, lastName = last }
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

-- A subscription ended: cancelled at once, at the end of its period, or after failed payments.
-- https://docs.stripe.com/api/subscriptions/object
handlers["customer.subscription.deleted"] = function(event)
  local subscription = event.data.object
  local item = subscription.items and subscription.items.data and subscription.items.data[1]
  local price = item and item.price or {}
  local recurring = price.recurring or {}
  local cancellation = subscription.cancellation_details or {}
  encharge.track("Cancelled subscription", person(subscription.customer), {
    subscriptionId = subscription.id,
    plan = price.nickname or price.lookup_key or price.id,
    amount = major_units(price.unit_amount, price.currency),
    currency = price.currency and string.upper(price.currency),
    interval = recurring.interval,                        -- day, week, month or year
    reason = cancellation.reason,                         -- cancellation_requested, payment_failed, ...
    feedback = cancellation.feedback,                     -- too_expensive, missing_features, ...
    startedAt = encharge.iso8601(subscription.start_date),
    cancelledAt = encharge.iso8601(subscription.canceled_at or event.created),
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
