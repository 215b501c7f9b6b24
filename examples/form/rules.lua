-- rules.lua (examples/form): a plain HTML form post → identify + "Form Submitted".
--
-- Any <form method="post" action="https://YOUR-HOST/form"> works; form.html here is one. The
-- browser sends the fields as application/x-www-form-urlencoded, which the rule reads as req.form.
--
-- Try it from this folder (fixtures/ holds submissions and what each must emit):
--
--   encharge-lua test rules.lua
--
-- Run it, and open form.html in a browser (it posts to http://127.0.0.1:8080/form):
--
--   export ENCHARGE_WRITE_KEY=...
--   encharge-lua serve rules.lua --port 8080 --set thanks_url=https://www.example.com/thanks
--
-- Or post from the shell: curl -i http://127.0.0.1:8080/form -d email=ada@example.com -d name=Ada
--
-- A form on the open internet takes whatever anyone posts, so keep double opt-in on in Encharge
-- for whom it subscribes; the hidden `website` field below turns away the simplest bots. serve
-- listens on 127.0.0.1: put it behind your HTTPS reverse proxy, which also sets X-Forwarded-For.

-- Where the browser goes after a submission; without it the rule answers a short thank-you page.
local THANKS_URL = encharge.settings.thanks_url

-- A page for the person who submitted the form. It never repeats what they typed (no HTML
-- injection to worry about).
local function page(status, text)
  return {
    status = status,
    headers = { ["content-type"] = "text/html; charset=utf-8" },
    body = "<!doctype html><title>" .. text .. "</title><p>" .. text .. "</p>\n",
  }
end

-- A field as typed, without surrounding blanks; an empty field is nil (the key is left out).
local function field(form, name)
  local value = form[name]
  if type(value) == "table" then value = value[1] end   -- a field sent twice: the first
  if value == nil then return nil end
  value = string.match(value, "^%s*(.-)%s*$")
  if value == "" then return nil end
  return value
end

-- "Ada King Lovelace" → "Ada", "King Lovelace"; one word is a first name.
local function split_name(name)
  if not name then return nil, nil end
  local first, last = string.match(name, "^(%S+)%s+(.+)$")
  if first then return first, last end
  return name, nil
end

-- The visitor's address, as your reverse proxy reports it (the first of X-Forwarded-For). Without
-- a proxy that sets it, this header is whatever the client sent: leave it out.
local function client_ip(req)
  local forwarded = req.headers["x-forwarded-for"]
  return forwarded and string.match(forwarded, "^%s*([^,%s]+)")
end

routes = {}

routes["POST /form"] = function(req)
  local form = req.form
  if not form then
    return page(415, "This address takes a form post (application/x-www-form-urlencoded).")
  end
  -- Bots fill every field; people never see this one (form.html hides it).
  if field(form, "website") then
    encharge.skip("the hidden website field is filled in: a bot")
    return page(200, "Thank you!")
  end

  local email = field(form, "email")
  -- encharge-lua validates the address too; this catches a mistyped one early, so the person
  -- gets a page asking to fix it rather than an error.
  if not (email and string.match(email, "^[^@%s]+@[^@%s]+%.[^@%s]+$")) then
    return page(400, "Please go back and enter your email address.")
  end

  local first, last = split_name(field(form, "name"))
  encharge.identify{
    email = email,
    firstName = first,
    lastName = last,
    company = field(form, "company"),
    tags = field(form, "newsletter") and "newsletter" or nil,   -- a checkbox sends "on" when ticked
    ip = client_ip(req),                                        -- fills in country and timezone
  }
  encharge.track("Form Submitted", { email = email }, {
    form = field(form, "form") or "contact",                    -- a hidden field naming the form
    page = field(form, "page") or req.headers.referer,          -- where the form was
    message = field(form, "message"),
    newsletter = field(form, "newsletter") ~= nil,
  })

  if THANKS_URL then
    return { status = 303, headers = { location = THANKS_URL } }  -- the browser then GETs it
  end
  return page(200, "Thank you! We will be in touch.")
end
