-- usersgraph-bench's wrk script: the same for every system it loads.
--
-- REQUESTS names a file written by the bench, one request a line:
--   METHOD <tab> PATH <tab> X-API-Key <tab> BODY   (BODY empty for a GET)
-- SEQUENCE, when set, names a file of 1-based line numbers of REQUESTS,
-- separated by white space: the order requests are sent in (for a mix with a
-- popularity); without it, the lines in file order. Each thread starts at its
-- own offset of the sequence (WRK_THREADS, set by the bench, says how many
-- threads there are) and cycles through it.
--
-- Counts answers with a status other than 200 and 200 answers whose body
-- carries "errors" (a GraphQL error), and prints one RESULT line at the end,
-- times in microseconds, which the bench parses.

local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

local reqs, seq, pos = {}, {}, 1
non200, gqlerr = 0, 0

function init(args)
  local f = assert(io.open(os.getenv("REQUESTS"), "rb"))
  for line in f:lines() do
    local method, path, key, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]*)\t(.*)$")
    if method then
      local headers = { ["X-API-Key"] = key, ["Accept"] = "application/json" }
      if body == "" then
        body = nil
      else
        headers["Content-Type"] = "application/json"
      end
      reqs[#reqs + 1] = wrk.format(method, path, headers, body)
    end
  end
  f:close()
  assert(#reqs > 0, "no requests in " .. os.getenv("REQUESTS"))
  local sf = os.getenv("SEQUENCE")
  if sf and sf ~= "" then
    local s = assert(io.open(sf, "rb"))
    for n in s:read("*a"):gmatch("%d+") do
      local i = tonumber(n)
      assert(i >= 1 and i <= #reqs, "sequence entry " .. n .. " out of range")
      seq[#seq + 1] = i
    end
    s:close()
  else
    for i = 1, #reqs do seq[i] = i end
  end
  local n = tonumber(os.getenv("WRK_THREADS") or "1")
  pos = math.floor(#seq * (id or 0) / n) % #seq + 1
end

function request()
  local r = reqs[seq[pos]]
  pos = pos + 1
  if pos > #seq then pos = 1 end
  return r
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  elseif body:find('"errors"', 1, true) then
    gqlerr = gqlerr + 1
  end
end

function done(summary, latency, requests)
  local bad, ge = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non200")
    ge = ge + t:get("gqlerr")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f non200=%d gql_errors=%d socket_errors=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    bad, ge, e.connect + e.read + e.write + e.timeout))
end
