-- wrk: file a test request per call, and count the 2xx answers so that the rows in
-- the database can be checked against them.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("LABPLAN_TOKEN")
wrk.body = '{"company":"C0001","test_type":"EMC-R10","samples":2,"ready_date":"2027-03-01",' ..
           '"due_date":"2027-05-28","priority":2}'

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
