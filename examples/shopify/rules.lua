-- rules.lua (examples/shopify): turn Shopify orders into Encharge events.
--
-- Try it from this folder (fixtures/ holds signed orders and what each must emit):
--
--   encharge-lua test rules.lua
--
-- Run it (the write key is in Encharge under Settings → Integrations → API keys):
--
--   export ENCHARGE_WRITE_KEY=...
--   encharge-lua serve rules.lua --port 8080 --set shopify_secret=...
--
-- (`--settings secrets.json` with {"shopify_secret": "..."} keeps the secret out of `ps`.)
--
-- Point Shopify at it, either way:
--   * from the store admin: Settings → Notifications → Webhooks → Create webhook; Event "Order
--     creation", Format JSON, URL https://YOUR-HOST/shopify. The page then shows the key the
--     webhooks are signed with: that is shopify_secret. "Send test" posts a sample order.
--   * from an app: subscribe to the `orders/create` topic (shopify.app.toml or the Admin API) with
--     that URL; the secret is the app's client secret.
-- serve listens on 127.0.0.1: put it behind your HTTPS reverse proxy or a tunnel (Shopify only
-- delivers to https:// URLs).
--
-- Try it without Shopify: sign and post the bundled sample yourself:
--
--   ./send-sample.sh http://127.0.0.1:8080/shopify my-secret
--
-- Shopify retries a delivery that gets no 2xx within 5 seconds (several times over 4 hours); each
-- retry carries the same X-Shopify-Webhook-Id, which serve remembers for a day (--dedup-window) and
-- answers 200 {"duplicate": true} without running the rule again.

local SECRET = encharge.settings.shopify_secret

-- Shopify sends money as decimal strings ("134.44"); Encharge gets numbers.
local function money(text)
  return text and tonumber(text)
end

-- Shopify tags are already one comma-separated string ("returning, newsletter"), the format
-- Encharge wants; an empty string means none.
local function tags(text)
  if text == nil or text == "" then return nil end
  return text
end

-- [{ code = "SUMMER10", ... }, ...] → "SUMMER10, ..."; none → nil (the key is left out).
local function discount_codes(list)
  local codes = {}
  for _, discount in ipairs(list or {}) do codes[#codes + 1] = discount.code end
  if #codes == 0 then return nil end
  return table.concat(codes, ", ")
end

-- One customer placed an order (the webhook topic `orders/create`).
-- https://shopify.dev/docs/api/admin-rest/latest/resources/order
local function order_created(order, shop)
  local customer = order.customer or {}
  local email = order.email or order.contact_email or customer.email
  if not email then
    -- A POS order without an email: nobody to send email to.
    encharge.skip("order " .. order.name .. " has no email")
    return { status = 200, body = { skipped = "no email" } }
  end
  local who = { email = email }

  local consent = customer.email_marketing_consent
  encharge.identify{
    email = who.email,
    firstName = customer.first_name,
    lastName = customer.last_name,
    phone = customer.phone,
    tags = tags(customer.tags),
    -- Ids are 64-bit integers; encharge-lua keeps them exact, tostring makes them text fields.
    shopifyCustomerId = customer.id and tostring(customer.id),
    emailMarketing = consent and consent.state,          -- subscribed, not_subscribed, ...
  }

  -- One entry per line of the order, for emails that list what was bought.
  local line_items, products, items = {}, {}, 0
  for _, line in ipairs(order.line_items or {}) do
    line_items[#line_items + 1] = {
      title = line.title,
      variant = line.variant_title,                      -- "39 / Blue"; left out for a product without variants
      sku = line.sku,
      quantity = line.quantity,
      price = money(line.price),                         -- per unit
      productId = line.product_id and tostring(line.product_id),
    }
    products[#products + 1] = line.title
    items = items + (line.quantity or 0)
  end
  encharge.track("Placed order", who, {
    orderId = tostring(order.id),
    orderName = order.name,                              -- "#1042", what the customer sees
    total = money(order.total_price),
    subtotal = money(order.subtotal_price),
    discounts = money(order.total_discounts),
    currency = order.currency,
    items = items,
    lineItems = json.array(line_items),                  -- [] rather than {} when there are none
    products = json.array(products),
    discountCodes = discount_codes(order.discount_codes),
    financialStatus = order.financial_status,
    shop = shop,
    orderedAt = encharge.iso8601(order.created_at),      -- "2024-06-20T11:42:17-04:00" → UTC
  })
end

function on_webhook(req)
  -- 401 unless X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body.
  webhook.verify("shopify", req, SECRET)

  local topic = req.headers["x-shopify-topic"]
  if topic ~= "orders/create" then
    -- Subscribed to more topics than this rule maps: acknowledge, so Shopify does not retry.
    return { status = 200, body = { ignored = topic } }
  end
  if not req.json then
    return { status = 400, body = { error = "expected the order as JSON (choose Format: JSON)" } }
  end
  return order_created(req.json, req.headers["x-shopify-shop-domain"])   -- nil → 202 {"accepted": n}
end
