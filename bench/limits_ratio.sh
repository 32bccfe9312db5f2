#!/usr/bin/env bash
# Achieved/configured rate through a limited VM port (docs/limits.md), for docs/performance.md
# "Limits": iperf3 TCP (one stream) and UDP (offered at twice the limit) at 10 Mbit/s,
# 100 Mbit/s and 1 Gbit/s, policed and shaped, default bursts. Two VMs (network namespaces) on
# the real vswitch with af_packet ports; vm1's port carries the limit toward it (tx), which is
# where a shaper sits, so every cell measures vm2 -> vm1.
#
#   bench/limits_ratio.sh [SECONDS]          default 8 s per cell (the first second left out)
#
# Prints a markdown table. The limit counts Ethernet frames; iperf3 reports goodput, so the
# table shows both the goodput ratio and the frame-rate ratio (goodput scaled by frame/payload
# size: 1514/1448 for TCP, 1512/1470 for UDP with iperf3's default 1470-byte datagrams).
# "sent/limit" is what the limiter itself let through toward the VM over the same window (the
# tx meter's green bytes, from /vnf/limits), and "VM socket drops" the datagrams the VM's
# kernel received but dropped for a full socket buffer (UdpRcvbufErrors): when goodput falls
# short while sent/limit does not, the loss is in the receiving VM, not in the limit.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$top/build}
PY=/usr/bin/python3
SECS=${1:-8}
source "$top/scripts/lib/netns.sh"
[[ -x "$BUILD/vswitch/vswitch" ]] || "$top/scripts/setup.sh" >&2
command -v iperf3 >/dev/null || { echo "iperf3 is missing (scripts/setup.sh installs it)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/vnf-limits-ratio.XXXXXX)
SW_PID=
cleanup() {
  [[ -n "$SW_PID" ]] && kill -TERM "$SW_PID" 2>/dev/null && wait "$SW_PID" 2>/dev/null
  netns_cleanup
  rm -rf "$WORK"
}
trap cleanup EXIT

netns_host lr-vm1 lrvm1 10.9.8.11/24
netns_host lr-vm2 lrvm2 10.9.8.12/24

start() {  # start TX_LIMIT
  cat >"$WORK/host.yaml" <<YAML
engine: {name: limratio, lcores: [0, 1], memory_mb: 512, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: vm1, type: af_packet, iface: lrvm1, mode: access, segment: core, limit: {tx: $1}}
  - {name: vm2, type: af_packet, iface: lrvm2, mode: access, segment: core}
YAML
  "$BUILD/vswitch/vswitch" -c "$WORK/host.yaml" >"$WORK/sw.log" 2>&1 &
  SW_PID=$!
  for _ in $(seq 1 100); do
    grep -q "running:" "$WORK/sw.log" && break
    sleep 0.1
  done
  ip netns exec lr-vm2 ping -c 3 -i 0.2 -W 1 10.9.8.11 >/dev/null 2>&1
}
stop() {
  kill -TERM "$SW_PID" 2>/dev/null
  wait "$SW_PID" 2>/dev/null
  SW_PID=
}

# sent_bytes: the bytes vm1's tx meter let through so far (green: passed or shaped out), and
# the time of the reading, "BYTES SECONDS".
sent_bytes() {
  echo /vnf/limits | "$PY" /usr/bin/dpdk-telemetry.py -f vnf-limratio 2>/dev/null | tail -1 |
    "$PY" -c "import json, sys, time; r = list(json.load(sys.stdin).values())[0]
print(sum(x['green_bytes'] for x in r.values() if isinstance(x, dict) and x['port'] == 'vm1'
          and x['dir'] == 'tx' and not x['class']), time.monotonic())"
}
rcvbuf_errors() {
  ip netns exec lr-vm1 nstat -az UdpRcvbufErrors 2>/dev/null | awk '$1 == "UdpRcvbufErrors" {print $2}'
}

# measure PROTO RATE_BPS: vm2 -> vm1, "GOODPUT SENT DROPS": the receiver's goodput and what the
# limiter sent in bit/s over the measured seconds, and the VM's socket-buffer drops.
measure() {
  local proto=$1 rate=$2 args=()
  [[ $proto == udp ]] && args=(-u -l 1470 -b $((rate * 2)))
  ip netns exec lr-vm1 timeout 60 iperf3 -s -1 -p 5201 -J >"$WORK/s.json" 2>/dev/null &
  local spid=$!
  for _ in $(seq 1 50); do
    [[ -n "$(ip netns exec lr-vm1 ss -Hltn "sport = :5201")" ]] && break
    sleep 0.1
  done
  local drops0
  drops0=$(rcvbuf_errors)
  ip netns exec lr-vm2 timeout 60 iperf3 -c 10.9.8.11 -p 5201 -t "$SECS" -O 1 -J "${args[@]}" \
    >"$WORK/r.json" 2>/dev/null &
  local cpid=$!
  sleep 1.5  # the omitted second and the connection set-up
  local s0 s1
  s0=$(sent_bytes)
  sleep $((SECS - 1))
  s1=$(sent_bytes)
  wait "$cpid" "$spid"
  "$PY" - "$WORK/r.json" "$WORK/s.json" "$proto" "$s0" "$s1" "$drops0" "$(rcvbuf_errors)" <<'PY'
import json, sys
if sys.argv[3] == "tcp":
    goodput = int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"])
else:  # what the receiving iperf3 counted (its intervals after the omitted first second)
    iv = [i["sum"] for i in json.load(open(sys.argv[2]))["intervals"] if not i["sum"]["omitted"]]
    goodput = int(sum(i["bytes"] for i in iv) * 8 / sum(i["seconds"] for i in iv))
(b0, t0), (b1, t1) = (map(float, a.split()) for a in sys.argv[4:6])
print(goodput, int((b1 - b0) * 8 / (t1 - t0)), int(sys.argv[7] or 0) - int(sys.argv[6] or 0))
PY
}

echo "| limit | mode | proto | goodput | goodput/limit | frames/limit | sent/limit | VM socket drops |"
echo "|---|---|---|---|---|---|---|---|"
for rate in 10000000 100000000 1000000000; do
  for mode in police shape; do
    if [[ $mode == shape ]]; then start "{rate: $rate, mode: shape}"; else start "{rate: $rate}"; fi
    for proto in tcp udp; do
      read -r bps sent drops < <(measure "$proto" "$rate")
      "$PY" - "$rate" "$mode" "$proto" "${bps:-0}" "${sent:-0}" "${drops:-0}" <<'PY'
import sys
rate, mode, proto = int(sys.argv[1]), sys.argv[2], sys.argv[3]
bps, sent, drops = (int(a) for a in sys.argv[4:7])
frame = 1514 / 1448 if proto == "tcp" else 1512 / 1470
name = f"{rate / 1e9:g} Gbit/s" if rate >= 1e9 else f"{rate / 1e6:g} Mbit/s"
print(f"| {name} | {mode} | {proto.upper()} | {bps / 1e6:.1f} Mbit/s | {bps / rate:.3f} | "
      f"{bps * frame / rate:.3f} | {sent / rate:.3f} | {drops} |")
PY
    done
    stop
  done
done
