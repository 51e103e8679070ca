-- wrk script: POST signed messages to the hub's api channel, as a provider would.
-- Every request is a new message (a fresh id) from one of $OMNIHUB_BENCH_CUSTOMERS
-- customers, signed with $OMNIHUB_BENCH_SECRET (HMAC-SHA256 over "<timestamp>.<body>").
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "hmac_sha256.lua")

local secret = os.getenv("OMNIHUB_BENCH_SECRET") or "benchmark-secret-0123456789"
local customers = tonumber(os.getenv("OMNIHUB_BENCH_CUSTOMERS") or "1000")
local text = "Hi, I ordered a blue kettle last week and it has not arrived yet. "
  .. "The tracking page has said 'in transit' for five days. Can you check where it is?"
math.randomseed(os.time() + math.floor(os.clock() * 1e6) + tonumber(tostring({}):match("0x(%x+)"), 16) % 1e6)
local run = string.format("%08x", math.random(0, 0x7fffffff))
local n = 0

request = function()
  n = n + 1
  local body = string.format(
    '{"id":"bench-%s-%d","from":"email:customer%d@bench.example.com","name":"Customer %d","text":"%s (%d)"}',
    run, n, n % customers, n % customers, text, n)
  local ts = tostring(os.time())
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Omnihub-Timestamp"] = ts,
    ["X-Omnihub-Signature"] = "sha256=" .. hmac_sha256_hex(secret, ts .. "." .. body),
  }
  return wrk.format("POST", nil, headers, body)
end

done = function(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, s, summary.requests / s,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
end
