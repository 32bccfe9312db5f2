#!/usr/bin/env bash
# Packet traces from a running vswitch (vnfctl trace), read back with tshark:
#   - a tcpdump filter, compiled by libpcap and run as eBPF in the workers, captures exactly
#     the matching packets, at rx and tx, one pcapng interface per port and point;
#   - drops are captured with their reason as the packet comment;
#   - a packet count ends the trace by itself; --live streams pcapng into `tshark -r -`;
#   - rotation by size keeps every file near its limit, retention keeps the newest N;
#   - traffic far above what the capture can take: forwarding goes on, the excess is counted;
#   - bad requests are refused with a reason and nothing changes;
#   - dpdk-dumpcap (DPDK's pdump, a secondary process) captures from the appliance;
#   - the verdict point of a vswitch with a firewall: each new connection's first packet,
#     with the deciding rule (or zone-pair policy) and action as the comment.
source "$(dirname "$0")/lib.sh"

for tool in tshark dpdk-dumpcap; do
  if ! command -v $tool >/dev/null; then
    fail "$tool is missing (scripts/setup.sh installs it)"
    finish
  fi
done

cat >"$WORK/host.yaml" <<YAML
# program: vswitch
engine:
  name: tr1
  lcores: [0, 1]
  memory_mb: 256
  idle_sleep_us: 100
  secondary_processes: true
  events: {file: $WORK/events.jsonl}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
ports:
  - {name: vm1, type: af_packet, iface: trvm1, mode: access, segment: core}
  - {name: vm2, type: af_packet, iface: trvm2, mode: access, segment: core}
  - {name: vm3, type: af_packet, iface: trvm3, mode: access, segment: info}
YAML

netns_host tr-vm1 trvm1 10.9.5.11/24
netns_host tr-vm2 trvm2 10.9.5.12/24
netns_host tr-vm3 trvm3 10.9.5.21/24

start_appliance sw vswitch "$WORK/host.yaml" --state-dir "$WORK/state" || exit 1
P=vnf-tr1
TR=$WORK/state/traces
ns_ping tr-vm1 10.9.5.12 >/dev/null  # ARP and learning done before the first trace

# frames FILE [DISPLAY-FILTER]: how many frames tshark reads in FILE.
frames() { tshark -r "$1" ${2:+-Y "$2"} 2>/dev/null | wc -l; }
# fields FILE FIELD...: one line per frame.
fields() {
  local f=$1
  shift
  local args=()
  for x in "$@"; do args+=(-e "$x"); done
  tshark -r "$f" -T fields -E separator=' ' "${args[@]}" 2>/dev/null
}

# ---- 1. A filter: exactly the matching packets, at rx and tx
vc -i tr1 trace start --name icmp1 icmp and host 10.9.5.12
check "trace start answers with the file it writes" expect 0 "trace icmp1 started: $TR/icmp1.pcapng"
ip netns exec tr-vm1 ping -c 3 -i 0.2 -W 1 10.9.5.12 >/dev/null
ip netns exec tr-vm3 ping -c 2 -i 0.2 -W 1 10.9.5.22 >/dev/null  # no such host: ARP only
ip netns exec tr-vm1 ping -c 2 -i 0.2 -W 1 10.9.5.13 >/dev/null  # no such host
sleep 0.3
vc -i tr1 trace stop --json
check "trace stop reports the trace ended with 12 packets written" \
  json "r['state'] == 'stopped' and r['written'] == 12 and r['end_reason'].startswith('stopped by')"
F=$TR/icmp1.pcapng
check "tshark reads the file: 12 frames (3 echoes x request/reply x rx/tx)" [ "$(frames "$F")" = 12 ]
check "every frame is ICMP to or from 10.9.5.12" [ "$(frames "$F" "icmp && ip.addr == 10.9.5.12")" = 12 ]
check "requests: 3 received on vm1, 3 sent on vm2" \
  [ "$(fields "$F" frame.interface_name icmp.type | sort | uniq -c | tr -s ' ' | sed 's/^ //' | tr '\n' ';')" \
    = "3 vm1/rx 8;3 vm1/tx 0;3 vm2/rx 0;3 vm2/tx 8;" ]
dirs=$(fields "$F" frame.interface_name frame.packet_flags_direction | sort -u | tr '\n' ';')
echo "      direction flags per interface: $dirs"
check "pcapng direction flags: rx inbound, tx outbound" \
  [ "$dirs" = "vm1/rx 0x00000001;vm1/tx 0x00000002;vm2/rx 0x00000001;vm2/tx 0x00000002;" ]
vc -i tr1 trace status --json
check "trace status: stopped, filter, JIT, counters" \
  json "r['state'] == 'stopped' and r['filter'] == 'icmp and host 10.9.5.12' and r['jit'] == 1 and r['matched'] == 12 and r['not_captured'] == 0 and r['seen'] > r['matched']"

# ---- 2. Drops, with the reason as the packet comment
vc -i tr1 trace start --name drops --point drop ether src 02:00:00:de:ad:01 or ether src 03:00:00:de:ad:02
check "trace start at the drop point" expect 0 "started"
ip netns exec tr-vm1 "$PY" - <<'PY'
from scapy.all import Ether, Dot1Q, IP, ICMP, sendp
tagged = Ether(src="02:00:00:de:ad:01", dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=200) / IP(dst="10.9.5.21") / ICMP()
bad_src = Ether(src="03:00:00:de:ad:02", dst="ff:ff:ff:ff:ff:ff") / IP(dst="10.9.5.12") / ICMP()
sendp([tagged] * 3 + [bad_src] * 2, iface="eth0", verbose=False)
PY
sleep 0.3
vc -i tr1 trace stop
F=$TR/drops.pcapng
check "tshark: 3 frames with comment 'drop: tagged_on_access'" \
  [ "$(frames "$F" 'frame.comment == "drop: tagged_on_access"')" = 3 ]
check "tshark: 2 frames with comment 'drop: bad_src_mac'" \
  [ "$(frames "$F" 'frame.comment == "drop: bad_src_mac"')" = 2 ]
check "drops are on interface vm1/drop, and nothing else is in the file" \
  [ "$(fields "$F" frame.interface_name | sort | uniq -c | tr -s ' ')" = " 5 vm1/drop" ]

# ---- 3. A packet count ends the trace; --live into tshark -r -
vc -i tr1 trace start --name counted --count 4 --point rx icmp
ip netns exec tr-vm1 ping -c 6 -i 0.2 -W 1 10.9.5.12 >/dev/null
sleep 0.3
vc -i tr1 trace status --json
check "--count 4: the trace ended by itself after 4 packets" \
  json "r['state'] == 'stopped' and r['end_reason'] == 'packet count reached' and r['written'] == 4"
check "... and tshark reads exactly 4" [ "$(frames "$TR/counted.pcapng")" = 4 ]

# Pings go on until the pipeline ends, however long vnfctl takes to start the trace.
(sleep 1; for _ in $(seq 1 50); do
  [ -e "$WORK/live.done" ] && break
  ip netns exec tr-vm1 ping -c 1 -W 1 10.9.5.12 >/dev/null
  sleep 0.2
done) &
pinger=$!
BUILD_DIR=$BUILD timeout 20 "$PY" "$VNFCTL" -i tr1 trace start --live --count 6 --name live icmp \
  | timeout 20 tshark -r - -T fields -e frame.interface_name -e icmp.type >"$WORK/live.txt" 2>"$WORK/live.err"
touch "$WORK/live.done"
wait $pinger
check "--live | tshark -r -: 6 ICMP frames arrive" [ "$(wc -l <"$WORK/live.txt")" = 6 ]
vc -i tr1 trace status --json
check "the live trace ended on its count, and its pipe is gone" \
  json "r['end_reason'] == 'packet count reached'" && [ ! -e "$TR/live.pipe" ]

# ---- 4. Rotation by size, retention by count
vc -i tr1 trace start --name rot --rotate-size 16k --keep-files 3 --point rx,tx icmp
ip netns exec tr-vm1 ping -c 120 -i 0.01 -s 400 -W 1 10.9.5.12 >/dev/null
sleep 0.3
vc -i tr1 trace stop --json
check "rotation: the trace wrote 480 packets (120 echoes x 2 x rx/tx)" json "r['written'] == 480"
mapfile -t rot < <(ls "$TR" | grep '^rot-' | sort)
echo "      files kept: ${rot[*]}"
check "retention: 3 files kept" [ "${#rot[@]}" = 3 ]
last=${rot[2]:-none}
seq_last=$((10#$(sed -E 's/rot-0*([0-9]+)\.pcapng/\1/' <<<"$last")))
check "... the newest: rot-00003 or later, numbered in order" \
  [ "$seq_last" -ge 3 -a "${rot[0]}" = "$(printf 'rot-%05d.pcapng' $((seq_last - 2)))" ]
ok=1
for f in "${rot[@]}"; do
  size=$(stat -c %s "$TR/$f")
  # A file is closed at the first packet that takes it to 16 KiB: at most one packet more.
  ((size <= 16384 + 600)) || { echo "      $f: $size bytes"; ok=0; }
  n=$(frames "$TR/$f")
  ((n > 0)) || { echo "      $f: tshark reads no frame"; ok=0; }
done
check "every kept file is at most 16 KiB plus one packet, and tshark reads each" [ $ok = 1 ]

# ---- 5. Far above what the capture can take: forwarding goes on, the excess is counted.
# A live trace whose reader reads nothing: the pipe fills, the writer waits, the 64-packet
# rings fill, and everything after that is counted as not captured.
BUILD_DIR=$BUILD timeout 60 "$PY" "$VNFCTL" -i tr1 trace start --live --ring 64 --name stall \
  | sleep 25 &
stall=$!
sleep 1
ip netns exec tr-vm1 ping -c 3000 -i 0.001 -s 1000 -W 1 10.9.5.12 >"$WORK/flood.txt"
loss=$(grep -oE '[0-9.]+% packet loss' "$WORK/flood.txt" | cut -d% -f1)
echo "      3000 pings at 1 ms with the capture stalled: $loss% lost"
check "forwarding unaffected: at most 1% of 3000 pings lost" \
  "$PY" -c "import sys; sys.exit(0 if float('${loss:-100}') <= 1.0 else 1)"
vc -i tr1 trace status --json
check "the packets the capture could not take are counted (ring full)" \
  json "r['state'] == 'running' and r['ring_full'] > 1000 and r['not_captured'] == r['ring_full'] + r['pool_empty']"
t0=$(date +%s%N)
vc -i tr1 trace stop
t1=$(date +%s%N)
check "trace stop ends the stalled trace at once (under 3 s: $(((t1 - t0) / 1000000)) ms)" \
  [ $(((t1 - t0) / 1000000)) -lt 3000 ]
kill "$stall" 2>/dev/null
wait "$stall" 2>/dev/null
check "ping still works after the stalled trace" ns_ping tr-vm1 10.9.5.12

# ---- 6. Refusals: clear reasons, nothing started
vc -i tr1 trace start --name bad1 'icmp and and'
check "a filter libpcap rejects is refused with libpcap's reason" \
  expect 1 "vnfctl: trace start: filter 'icmp and and': .*syntax error"
vc -i tr1 trace start --port nosuch icmp
check "an unknown port is refused" expect 1 "no port 'nosuch'"
vc -i tr1 trace start --name ../escape icmp
check "a name with a slash is refused (traces stay in their directory)" expect 1 "name: '../escape'"
vc -i tr1 trace start --name icmp1 icmp
check "an existing trace file is not overwritten" expect 1 "icmp1.pcapng exists"
vc -i tr1 trace start --keep-files 2 icmp
check "retention without rotation is refused" expect 1 "need rotation"
vc -i tr1 trace stop
check "trace stop with no trace running says so" expect 1 "no trace is running"
vc -i tr1 trace status --json
check "after the refusals the last trace is still the stalled one, stopped" \
  json "r['name'] == 'stall' and r['state'] == 'stopped'"

vc -i tr1 trace start --ring 65536 icmp
check "a ring whose copies would take more than 64 MiB is refused with the figures" \
  expect 1 "MiB, more than the 64 MiB a trace may take"

# ---- 7. A trace never fills the file system of the state directory: a 260 MiB tmpfs over
# the trace directory leaves 4 MiB above the 256 MiB a trace must leave free.
mkdir -p "$TR"
mount -t tmpfs -o size=260m vnf-trace-test "$TR"
trap 'umount "$TR" 2>/dev/null; finish' EXIT
vc -i tr1 trace start --name fill
ip netns exec tr-vm1 ping -c 1500 -i 0.002 -s 1400 -W 1 10.9.5.12 >/dev/null
sleep 1.5
vc -i tr1 trace status --json
check "the trace ended by itself when the file system got near full" \
  json "r['state'] == 'stopped' and 'MiB free' in r['end_reason']"
used=$(df --output=used -B1M "$TR" | tail -1 | tr -d ' ')
# Free space is checked every second: at most a second's worth past the 4 MiB.
check "... having written little past what the reserve allows (${used} MiB used of 260)" [ "$used" -le 12 ]
vc -i tr1 trace start --name fill2
check "a trace is refused while the file system is that full" expect 1 "MiB free \(a trace leaves 256 MiB\)"
check "forwarding went on" ns_ping tr-vm1 10.9.5.12
umount "$TR"
trap finish EXIT

# ---- 8. dpdk-dumpcap attaches to the appliance (DPDK's pdump framework)
# The pings start once dumpcap says it captures (a secondary process takes a while to attach;
# its output unbuffered so the line shows as it is printed), not after a guessed delay.
timeout 30 stdbuf -oL dpdk-dumpcap --file-prefix=$P -i net_af_packet_vm1 -f icmp -c 4 \
  -w "$WORK/dumpcap.pcapng" >"$WORK/dumpcap.log" 2>&1 &
dumpcap=$!
wait_for 20 grep -q "Capturing on" "$WORK/dumpcap.log"
sleep 0.3
ip netns exec tr-vm1 ping -c 5 -i 0.2 -W 1 10.9.5.12 >/dev/null
wait $dumpcap
rc=$?
n_dump=$(frames "$WORK/dumpcap.pcapng" icmp)
check "dpdk-dumpcap -i net_af_packet_vm1 -f icmp -c 4 captures from the running vswitch (status $rc)" \
  [ "$n_dump" = 4 ]
[ "$n_dump" = 4 ] || tail -5 "$WORK/dumpcap.log" | sed 's/^/      /'  # check's status is 0 either way
check "the vswitch still forwards after dpdk-dumpcap detached" ns_ping tr-vm1 10.9.5.12

vc -i tr1 trace start --point verdict icmp
check "the verdict point is refused where there is no firewall" expect 1 "no firewall"

check "SIGTERM stops the vswitch cleanly" stop_appliance sw

# ---- 9. The verdict point: a vswitch whose firewall separates vm1 (zone a) from vm2 (zone b).
cat >"$WORK/fw.yaml" <<YAML
# program: vswitch
engine: {name: tr2, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: vm1, type: af_packet, iface: trvm1, mode: access, segment: core}
  - {name: vm2, type: af_packet, iface: trvm2, mode: access, segment: core}
firewall:
  conntrack: {size: 4096}
  zones:
    - {name: a, ports: [vm1]}
    - {name: b, ports: [vm2]}
  rules:
    - {id: a-b-ping, from: a, to: b, service: [icmp/echo-request], action: accept}
    - {id: no-ssh, from: a, to: b, service: [tcp/22], action: drop}
YAML
start_appliance fw vswitch "$WORK/fw.yaml" --state-dir "$WORK/state2" || exit 1
# ARP, learning and a first connection before the trace. vm1 still knows vm2's MAC from the
# first switch: its ping would reach this one as unknown unicast, and the firewall confines a
# flood to the first zone whose segment and addresses fit (zone a, vm1's own), so nothing
# would pass until vm2 spoke. A fresh ARP makes vm2 answer, and the switch learn it.
ip -n tr-vm1 neigh flush all
ip -n tr-vm2 neigh flush all
check "vm1 reaches vm2 through the firewall (rule a-b-ping)" ns_ping tr-vm1 10.9.5.12
vc -i tr2 trace start --name verdicts --point verdict,drop icmp or tcp port 22
check "trace start at the verdict and drop points" expect 0 "started"
ip netns exec tr-vm1 ping -c 3 -i 0.2 -W 1 10.9.5.12 >/dev/null  # one new connection
ip netns exec tr-vm1 timeout 3 nc -z -w 1 10.9.5.12 22                  # refused by no-ssh
ip netns exec tr-vm2 ping -c 2 -i 0.2 -W 1 10.9.5.11 >/dev/null         # default deny b -> a
sleep 0.3
vc -i tr2 trace stop
F=$WORK/state2/traces/verdicts.pcapng
check "tshark: the accepted ping is one verdict on vm1/verdict, named by its rule" \
  [ "$(frames "$F" 'frame.comment == "verdict: accept rule=a-b-ping from=a to=b" && frame.interface_name == "vm1/verdict" && icmp.type == 8')" = 1 ]
ssh_v=$(frames "$F" 'frame.comment == "verdict: drop rule=no-ssh from=a to=b" && tcp.flags.syn == 1 && tcp.dstport == 22')
ssh_d=$(frames "$F" 'frame.comment == "drop: fw_rule_drop" && tcp.dstport == 22')
check "every SYN to port 22 is a drop verdict of rule no-ssh and a fw_rule_drop drop ($ssh_v, $ssh_d)" \
  [ "$ssh_v" -ge 1 -a "$ssh_v" = "$ssh_d" ]
check "the pings b -> a: 2 drop verdicts of the zone-pair policy, received on vm2" \
  [ "$(frames "$F" 'frame.comment == "verdict: drop policy from=b to=a" && frame.interface_name == "vm2/verdict"')" = 2 ]
n_verdicts=$(frames "$F" 'frame.interface_name contains "verdict"')
check "nothing else is a verdict (the echo replies belong to the accepted connection)" \
  [ "$n_verdicts" = $((3 + ssh_v)) ]
if [ "$n_verdicts" != $((3 + ssh_v)) ]; then
  # What the trace holds, for whoever reads a failure (a full run once saw no verdict and no
  # drop of vm1's traffic here, 10 frames in all, and could not be reproduced).
  fields "$F" frame.interface_name frame.comment ip.src ip.dst icmp.type icmp.ident tcp.flags |
    sed 's/^/      /'
  tel vnf-tr2 /vnf/drops | sed 's/^/      drops: /'
fi
check "SIGTERM stops the firewalling vswitch cleanly" stop_appliance fw

# Every trace start and end is an event record (docs/operations.md "Events").
check "event records: trace_started and trace_ended for icmp1, with who, filter and counts" \
  "$PY" - "$WORK/events.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
seqs = [r["seq"] for r in recs]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "sequence numbers not increasing"
st = [r for r in recs if r["kind"] == "trace_started" and r["name"] == "icmp1"]
en = [r for r in recs if r["kind"] == "trace_ended" and r["name"] == "icmp1"]
assert len(st) == 1 and len(en) == 1, (st, en)
assert st[0]["filter"] == "icmp and host 10.9.5.12", st[0]
assert en[0]["written"] == 12 and en[0]["seq"] > st[0]["seq"], en[0]
n_start = sum(r["kind"] == "trace_started" for r in recs)
n_end = sum(r["kind"] == "trace_ended" for r in recs)
assert n_start == n_end, (n_start, n_end)
PY
finish
