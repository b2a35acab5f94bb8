-- wrk script for tapwire's benchmark (bench/run.sh).
-- BODY_BYTES > 0: POST with a body of that many bytes (Content-Type: application/json).
-- done() prints one line "WRKJSON {...}" with counts and HdrHistogram percentiles (µs).
local body_bytes = tonumber(os.getenv("BODY_BYTES") or "0") or 0
if body_bytes > 0 then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/octet-stream"
  -- deterministic, non-repeating-looking payload of exactly body_bytes bytes
  local chunk = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
  wrk.body = string.sub(string.rep(chunk, math.ceil(body_bytes / #chunk)), 1, body_bytes)
end

function done(summary, latency, requests)
  local e = summary.errors
  local p = function(q) return latency:percentile(q) end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_min_us":%d,"lat_mean_us":%.1f,"lat_max_us":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    p(50), p(90), p(99), p(99.9)))
end
