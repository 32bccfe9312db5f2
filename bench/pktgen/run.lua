-- bench/pktgen/run.lua: the traffic side of bench/run.sh --pktgen.
--
-- Port 0 sends into the appliance, port 1 receives what it forwards (two net_memif ports).
-- Everything is steered by environment variables that bench/lib/pktgen.py sets:
--   VNF_PG_MODE      rate | zero-loss
--   VNF_PG_TRAFFIC   range (size and flows set here) | pcap (the scenario's file, -s 0:FILE)
--   VNF_PG_SIZE      frame size in bytes (range traffic)
--   VNF_PG_FLOWS     destination MACs 02:00:00:00:00:00 upwards (range traffic)
--   VNF_PG_RATE      percent of the port's reported speed (rate mode; the starting point)
--   VNF_PG_WARMUP, VNF_PG_DURATION   seconds (rate mode)
--   VNF_PG_TRIAL, VNF_PG_ITERATIONS, VNF_PG_LOSS   zero-loss search: seconds per trial,
--                    binary-search steps, tolerated loss (fraction, 0 = none)
-- It prints "VNF_PG_* key=value ..." lines and always ends with pktgen.quit(), also on error
-- (otherwise pktgen waits for input forever).

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local mode = env("VNF_PG_MODE", "rate")
local traffic = env("VNF_PG_TRAFFIC", "range")
local size = tonumber(env("VNF_PG_SIZE", "64"))
local flows = tonumber(env("VNF_PG_FLOWS", "1000"))
local rate = tonumber(env("VNF_PG_RATE", "100"))
local warmup = tonumber(env("VNF_PG_WARMUP", "2"))
local duration = tonumber(env("VNF_PG_DURATION", "10"))
local trial = tonumber(env("VNF_PG_TRIAL", "3"))
local iterations = tonumber(env("VNF_PG_ITERATIONS", "8"))
local tolerated = tonumber(env("VNF_PG_LOSS", "0"))

local function mac(i)
  return string.format("02:00:00:%02x:%02x:%02x", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff)
end

local function setup()
  pktgen.screen("off")
  if traffic == "pcap" then
    pktgen.pcap("0", "on")
  else
    pktgen.set_proto("0", "udp")
    pktgen.range.pkt_size("0", "start", size)
    pktgen.range.pkt_size("0", "inc", 0)
    pktgen.range.pkt_size("0", "min", size)
    pktgen.range.pkt_size("0", "max", size)
    pktgen.range.dst_mac("0", "start", mac(0))
    pktgen.range.dst_mac("0", "inc", "00:00:00:00:00:01")
    pktgen.range.dst_mac("0", "min", mac(0))
    pktgen.range.dst_mac("0", "max", mac(flows - 1))
    pktgen.set_range("0", "on")
  end
end

local function totals()
  local s = pktgen.portStats("0-1", "port")
  return s[0].opackets, s[1].ipackets
end

-- One trial at `pct` percent: returns sent, received (after a drain), seconds sending.
local function run_at(pct, seconds)
  pktgen.set("0", "rate", pct)
  pktgen.clr()
  pktgen.delay(200)
  local t0 = os.clock()
  pktgen.start("0")
  pktgen.delay(math.floor(seconds * 1000))
  pktgen.stop("0")
  pktgen.delay(500) -- what is in flight arrives
  local tx, rx = totals()
  return tx, rx, seconds
end

local ok, err = pcall(function()
  setup()
  if mode == "zero-loss" then
    local lo, hi = 0.0, rate
    local best_tx, best_rx, best_s = 0, 0, trial
    for i = 1, iterations do
      local mid = (lo + hi) / 2
      local tx, rx, s = run_at(mid, trial)
      local loss = (tx > 0) and ((tx - rx) / tx) or 1
      print(string.format("VNF_PG_TRIAL rate=%.4f tx=%d rx=%d loss=%.6f", mid, tx, rx, loss))
      if tx > 0 and loss <= tolerated then
        lo, best_tx, best_rx, best_s = mid, tx, rx, s
      else
        hi = mid
      end
    end
    print(string.format("VNF_PG_RESULT mode=zero-loss rate=%.4f tx=%d rx=%d seconds=%.3f",
                        lo, best_tx, best_rx, best_s))
  else
    pktgen.set("0", "rate", rate)
    pktgen.clr()
    pktgen.start("0")
    pktgen.delay(math.floor(warmup * 1000))
    local tx0, rx0 = totals()
    pktgen.delay(math.floor(duration * 1000))
    local tx1, rx1 = totals()
    pktgen.stop("0")
    print(string.format("VNF_PG_RESULT mode=rate rate=%.4f tx=%d rx=%d seconds=%.3f",
                        rate, tx1 - tx0, rx1 - rx0, duration))
  end
end)
if not ok then print("VNF_PG_ERROR " .. tostring(err)) end
pktgen.quit()
