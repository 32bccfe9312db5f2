#!/usr/bin/env bash
# The forwarding cost of a running trace (vnfctl trace, docs/tracing.md), in cycles per
# packet of the vswitch's path, measured in process by stage_bench on the real stages and the
# real capture code (rx and tx points, filter JIT-compiled as the appliance compiles it):
#   none      no trace
#   nomatch   a trace whose filter matches nothing ('udp dst port 7', no such frame)
#   match1    the same filter, 1 % of the frames sent to UDP port 7 (copied at rx and tx)
# Interleaved, ROUNDS rounds (default 3); each figure is a round's best-chunk total, and the
# table shows the median of the rounds and the cost over "none".
#   bench/capture_cost.sh [ROUNDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
exe=${BUILD_DIR:-$top/build}/bench/stage_bench
rounds=${1:-3}
[[ -x $exe ]] || { echo "capture_cost: $exe not built (ninja -C build)" >&2; exit 1; }
out=$(mktemp -d /tmp/vnf-capture-cost.XXXXXX)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$rounds"); do
  "$exe" --macs 1000 --bursts 200000 | tail -1 >"$out/none.$r"
  "$exe" --macs 1000 --bursts 200000 --capture 'udp dst port 7' | tail -1 >"$out/nomatch.$r"
  "$exe" --macs 1000 --bursts 200000 --capture 'udp dst port 7' --match-every 100 \
    | tail -1 >"$out/match1.$r"
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
res = {c: [json.load(open(f"{d}/{c}.{r}")) for r in range(1, rounds + 1)]
       for c in ("none", "nomatch", "match1")}
med = {c: statistics.median(x["total"] for x in v) for c, v in res.items()}
print(f"vswitch path, 1000 MACs, cycles/packet (median of {rounds} interleaved rounds):")
print("| trace | cycles/packet | capture_rx | over no trace | copied |")
print("|---|---:|---:|---:|---:|")
label = {"none": "none", "nomatch": "filter matching nothing",
         "match1": "filter matching 1 %"}
for c in ("none", "nomatch", "match1"):
    cap = statistics.median(x.get("capture_rx", 0) for x in res[c])
    copied = statistics.median(x.get("captured", 0) for x in res[c])
    print(f"| {label[c]} | {med[c]:.1f} | {cap:.1f} | {med[c] - med['none']:+.1f} | {copied:.0f} |")
print(json.dumps({c: round(v, 1) for c, v in med.items()}))
PY
