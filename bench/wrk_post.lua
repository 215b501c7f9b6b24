-- wrk script of the "serve" and "scale" stages of scripts/bench:
--   wrk -c 64 -d 30s --latency -s bench/wrk_post.lua http://127.0.0.1:PORT/ -- bench/webhook.json [INSTANCE]
-- POSTs the webhook body with Content-Type: application/json, replacing the customer number in its
-- email ("customer-00000000@") with one unique per request (thread number and a counter), so the
-- events of different requests belong to different people and spread over the delivery lanes.
-- INSTANCE (0-9, default 0) tells apart the wrk processes that load several replicas at once.
-- wrk itself counts answers >= 400 ("Non-2xx or 3xx responses"); done() adds a machine-readable
-- summary line (BENCH-WRK ...) that scripts/bench parses.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

local prefix, suffix, instance

function init(args)
  instance = tonumber(args[2] or "0")
  local path = args[1] or "bench/webhook.json"
  local f = assert(io.open(path, "rb"), "cannot open " .. path)
  local body = f:read("*a")
  f:close()
  local s, e = body:find("customer-00000000@", 1, true)
  assert(s, path .. " has no customer-00000000@ placeholder email")
  prefix, suffix = body:sub(1, s - 1), body:sub(e + 1)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = prefix .. string.format("customer-%02d-%08d@", 10 * instance + thread_no, counter) .. suffix
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH-WRK requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
