-- wrk: read a page of the request list (optionally filtered by LABPLAN_QUERY).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("LABPLAN_TOKEN")
wrk.path = "/api/v1/requests?per_page=50" .. (os.getenv("LABPLAN_QUERY") or "")

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; other = 0 end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); b = b + t:get("other") end
  io.write(string.format("RESULT rps=%.1f p50_ms=%.1f p99_ms=%.1f ok=%d other=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    o, b, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
