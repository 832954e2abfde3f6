-- wrk script for benchmarks/submit_throughput.py: POST /jobs with a distinct test per request
-- (a few orgs and builds, as CI traffic looks), and a JSON summary line at the end.
local counter = 0
local orgs = {"acme", "globex", "initech", "umbrella"}

request = function()
  counter = counter + 1
  local body = string.format(
    '{"org_id":"%s","app_version_id":"build-%d","test_path":"tests/flow-%d.spec.js",' ..
    '"target":"emulator","priority":%d}',
    orgs[counter % 4 + 1], counter % 3, counter, counter % 5 + 1)
  return wrk.format("POST", "/jobs", {["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"errors_status":%d,"errors_connect":%d,' ..
    '"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"p50_us":%d,"p99_us":%d,' ..
    '"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
