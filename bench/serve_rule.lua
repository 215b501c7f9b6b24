-- The rule of the "serve" stage of scripts/bench: `encharge-lua serve bench/serve_rule.lua` under
-- wrk, which POSTs bench/webhook.json (a Stripe invoice.paid event, about 1.3 KB) with a different
-- customer email per request (bench/wrk_post.lua).
--
-- Per request: identify the paying customer, then track "Paid invoice" with the amount and the line
-- items: 2 events, committed to the spool before the default 202 answer.

function on_webhook(req)
  local evt = req.json
  if not (evt and evt.type == "invoice.paid") then return 204 end
  local inv = evt.data.object

  local first, last = (inv.customer_name or ""):match("^(%S+)%s*(.*)$")
  encharge.identify{
    email = inv.customer_email,
    userId = inv.customer,
    firstName = first,
    lastName = last ~= "" and last or nil,
  }

  local items = {}
  for i, line in ipairs(inv.lines.data) do
    items[i] = { name = line.price and line.price.nickname or line.description,
                 quantity = line.quantity, amount = line.amount / 100 }
  end
  encharge.track("Paid invoice", { email = inv.customer_email, userId = inv.customer }, {
    invoice = inv.number,
    amount = inv.amount_paid / 100,
    currency = inv.currency and inv.currency:upper(),
    billingReason = inv.billing_reason,
    subscription = inv.subscription,
    paidAt = encharge.iso8601(inv.created),
    items = json.array(items),
  })
end
