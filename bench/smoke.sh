#!/usr/bin/env bash
# The bench harness, proven in seconds (run by scripts/test.sh): one short built-in run of
# l2-vlan (ours and the testpmd ceiling) and of the stage microbenchmark, then the smoke variant
# of one firewall and the router scenarios, each through its own program, config generator and
# traffic, and police-64b with its meter's counts. Asserts that packets flowed, unharmed, and
# the result file is complete and well formed: never a speed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d /tmp/vnf-bench-smoke.XXXXXX)
pass=0
fail=0
check() {
  local what=$1
  shift
  if "$@"; then echo "PASS: $what"; pass=$((pass + 1)); else echo "FAIL: $what"; fail=$((fail + 1)); fi
}

"$top/bench/run.sh" l2-vlan --smoke --out-dir "$out" >"$out/run.log" 2>&1
rc=$?
check "bench/run.sh l2-vlan --smoke exits 0 (status $rc)" test "$rc" -eq 0
json=$(ls "$out"/l2-vlan-smoke-*.json 2>/dev/null | head -1)
check "a result file bench/results/l2-vlan-smoke-<timestamp>.json was written" test -n "$json"
if [[ -n "$json" ]]; then
  check "the result is complete and packets flowed" /usr/bin/python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
required = ["scenario", "timestamp", "cpu_model", "dpdk_version", "packet_size", "flows", "cores",
            "mpps", "cycles_per_packet", "ceiling_mpps", "peer", "peer_mpps", "ratio_to_ceiling",
            "ratio_to_peer", "rounds_detail", "stage_cycles_per_packet"]
missing = [k for k in required if k not in r]
assert not missing, f"missing fields: {missing}"
ours = r["rounds_detail"]["ours"][0]
assert ours["tx_packets"] > 0 and ours["rx_packets"] > 0, "no packet went through our switch"
assert r["rounds_detail"]["ceiling"][0]["tx_packets"] > 0, "no packet went through testpmd"
# rx and tx are read one telemetry call apart: allow for the packets moving meanwhile
assert ours["tx_packets"] <= ours["rx_packets"] * 1.001 + 4096, "more packets out than in"
assert not ours.get("drops"), f"our switch dropped packets: {ours.get('drops')}"
stages = r["stage_cycles_per_packet"]
assert stages and all(stages[k] > 0 for k in ("parse", "vlan_ingress", "l2_lookup", "l2_egress")), stages
print(f"ours {r['mpps']} Mpps, ceiling {r['ceiling_mpps']} Mpps (reported, not judged)")
PY
fi
check "one Markdown row appended to results.md" grep -q "| l2-vlan/smoke |" "$out/results.md"

# Every function's scenario: its program forwarded every packet it received, and dropped none.
for sc in fw-1k-rules route-1k route6; do
  "$top/bench/run.sh" "$sc" --smoke --no-micro --out-dir "$out" >>"$out/run.log" 2>&1
  rc=$?
  check "bench/run.sh $sc --smoke exits 0 (status $rc)" test "$rc" -eq 0
  json=$(ls "$out"/"$sc"-smoke-*.json 2>/dev/null | head -1)
  check "$sc: the program forwarded the traffic, dropping nothing" /usr/bin/python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ours = r["rounds_detail"]["ours"][0]
assert ours["rx_packets"] > 0, "no packet reached the program"
assert ours["tx_packets"] >= ours["rx_packets"] * 0.99 - 4096, f"forwarded {ours['tx_packets']} of {ours['rx_packets']}"
assert not ours.get("drops"), f"dropped: {ours.get('drops')}"
print(f"{r['scenario']}: {r['program']} {r['mpps']} Mpps (reported, not judged)")
PY
done

# police-64b: the same forwarding with a meter on every packet (docs/limits.md). It must
# forward everything (100 Gbit/s: all green) and the meter must have seen the packets, or the
# scenario measures l2-vlan under another name.
"$top/bench/run.sh" police-64b --smoke --no-micro --out-dir "$out" >>"$out/run.log" 2>&1
rc=$?
check "bench/run.sh police-64b --smoke exits 0 (status $rc)" test "$rc" -eq 0
json=$(ls "$out"/police-64b-smoke-*.json 2>/dev/null | head -1)
check "police-64b: every packet forwarded green through in0's meter" /usr/bin/python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ours = r["rounds_detail"]["ours"][0]
assert ours["rx_packets"] > 0, "no packet reached the switch"
assert ours["tx_packets"] >= ours["rx_packets"] * 0.99 - 4096, f"forwarded {ours['tx_packets']} of {ours['rx_packets']}"
assert not ours.get("drops"), f"dropped: {ours.get('drops')}"
m = [x for x in ours.get("meters", []) if x["port"] == "in0" and x["dir"] == "rx" and not x["class"]]
assert len(m) == 1, f"no rx meter on in0 in /vnf/limits: {ours.get('meters')}"
m = m[0]
# the counts run from start-up, the window is part of it
assert m["green_packets"] >= ours["rx_packets"], f"metered {m['green_packets']} < {ours['rx_packets']} received"
assert m["red_packets"] == 0 and m["yellow_packets"] == 0, m
print(f"police-64b: {r['mpps']} Mpps, {m['green_packets']} packets green (reported, not judged)")
PY
if ((fail)); then tail -30 "$out/run.log"; fi
rm -rf "$out"
echo "bench/smoke: $pass passed, $fail failed, 0 skipped"
