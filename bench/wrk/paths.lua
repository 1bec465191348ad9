-- GET a list of request paths round-robin with one Accept header; print figures for Python.
--
--   wrk -t2 -c16 -d5s --timeout 120s -s bench/wrk/paths.lua http://127.0.0.1:PORT \
--       -- PATHS ACCEPT THREADS [TAG]
--
-- PATHS: a file with one URL-encoded request path per line (lines may be many KB long).
-- ACCEPT: the Accept header of every request.
-- THREADS: wrk's -t, so that each thread starts at its own offset in the list.
-- TAG: when given, every request gets TAG .. "<thread>-<n>" appended, so no two requests are
--      alike (bench/http_suite.py passes an encoded SPARQL comment, or a query parameter).
-- done() prints "wrk-figure NAME VALUE" lines that bench/http_suite.py parses: requests,
-- duration (us), bytes, errors by kind, non-2xx answers, latency p50 / p99 / max (us).

-- main state: the threads, so done() can read each one's count of non-2xx answers
local threads = {}

function setup(thread)
   -- setup runs in the main state before each thread's init: the id becomes a global there
   thread:set("id", #threads)
   table.insert(threads, thread)
end

-- thread state
local paths = {}
local formatted = {}
local headers
local tag
local next_index = 1
local sent = 0
non2xx = 0  -- global, read by done() through thread:get

function init(args)
   -- file:lines() reads whole lines whatever their length (no fixed buffer)
   local file = assert(io.open(args[1], "rb"))
   for line in file:lines() do
      if line ~= "" then
         paths[#paths + 1] = line
      end
   end
   file:close()
   assert(#paths > 0, "no request paths in " .. args[1])
   headers = {Accept = args[2]}
   tag = args[4]
   if tag == "" then
      tag = nil
   end
   local count = tonumber(args[3]) or 1
   id = id or 0  -- set by setup(); 0 if wrk ever ran init without it
   next_index = math.floor(id * #paths / count) % #paths + 1
   if not tag then
      -- the same requests over and over: format each once
      for i, path in ipairs(paths) do
         formatted[i] = wrk.format("GET", path, headers)
      end
   end
end

-- wrk calls thread 0's request() once before the run to check it, without sending it
function request()
   local i = next_index
   next_index = i % #paths + 1
   if not tag then
      return formatted[i]
   end
   sent = sent + 1
   return wrk.format("GET", paths[i] .. tag .. id .. "-" .. sent, headers)
end

function response(status, _headers, _body)
   -- wrk itself counts only status > 399 as an error; a 1xx or 3xx answer is not one served
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
end

local function figure(name, value)
   io.write(string.format("wrk-figure %s %.0f\n", name, value))
end

function done(summary, latency, requests)
   local non2xx_total = 0
   for _, thread in ipairs(threads) do
      non2xx_total = non2xx_total + (thread:get("non2xx") or 0)
   end
   figure("requests", summary.requests)
   figure("duration_us", summary.duration)
   figure("bytes", summary.bytes)
   figure("errors_connect", summary.errors.connect)
   figure("errors_read", summary.errors.read)
   figure("errors_write", summary.errors.write)
   figure("errors_status", summary.errors.status)
   figure("errors_timeout", summary.errors.timeout)
   figure("non2xx", non2xx_total)
   figure("latency_p50_us", latency:percentile(50))
   figure("latency_p99_us", latency:percentile(99))
   figure("latency_max_us", latency.max)
end
