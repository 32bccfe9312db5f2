#!/usr/bin/env bash
# Per-VM limits through the real vswitch with af_packet ports (docs/limits.md), measured with
# iperf3 TCP between network namespaces, default bursts:
#   - vm1 policed at 50 Mbit/s both ways: goodput within +-10 % of the limit in each direction;
#   - while vm1 is limited, the unlimited neighbour vm3 runs far above 50 Mbit/s;
#   - vm1's tx shaped at 50 Mbit/s: goodput within +-10 %;
#   - a class on vm3 (tcp 5300-5310, 20 Mbit/s) holds while vm3's other traffic is not limited;
#   - vnfctl show limits reports the configured rates, the measured rate and the red packets,
#     and the drops carry the reason limit_rx;
#   - a reload that changes vm1's limit leaves vm3's meter state (its counters carry on) and
#     vm1's new rate holds.
# Goodput is compared with the limit, which counts Ethernet frames: TCP over a 1500-byte MTU
# carries ~95.6 % of that as data.
source "$(dirname "$0")/lib.sh"

if ! command -v iperf3 >/dev/null; then
  fail "iperf3 is not installed (scripts/setup.sh installs it)"
  exit 1
fi

write_cfg() {  # write_cfg VM1_LIMIT
  cat >"$WORK/host.yaml" <<YAML
# program: vswitch
engine: {name: lim1, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: vm1, type: af_packet, iface: lmvm1, mode: access, segment: core, limit: $1}
  - {name: vm2, type: af_packet, iface: lmvm2, mode: access, segment: core}
  - name: vm3
    type: af_packet
    iface: lmvm3
    mode: access
    segment: core
    limit:
      classes:
        - {name: bulk, match: {proto: tcp, ports: 5300-5310}, rx: {rate: 20Mbit}}
YAML
}
write_cfg "{rx: {rate: 50Mbit}, tx: {rate: 50Mbit}}"

netns_host lm-vm1 lmvm1 10.9.7.11/24
netns_host lm-vm2 lmvm2 10.9.7.12/24
netns_host lm-vm3 lmvm3 10.9.7.13/24

start_appliance sw vswitch "$WORK/host.yaml" || exit 1
P=vnf-lim1
check "vm1 reaches vm2" ns_ping lm-vm1 10.9.7.12
check "vm3 reaches vm2" ns_ping lm-vm3 10.9.7.12

# iperf3 CLIENT_NS PORT [ARGS...]: TCP to vm2 for 7 s (the first second, slow start and the
# initial burst, left out); prints the receiver's goodput in Mbit/s.
iperf() {
  local ns=$1 port=$2
  shift 2
  ip netns exec lm-vm2 timeout 30 iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
  for _ in $(seq 1 50); do  # listening (5 s at most): a client too early is refused, measures 0
    [[ -n "$(ip netns exec lm-vm2 ss -Hltn "sport = :$port")" ]] && break
    sleep 0.1
  done
  ip netns exec "$ns" timeout 30 iperf3 -c 10.9.7.12 -p "$port" -t 7 -O 1 -J "$@" \
    >"$WORK/iperf_${ns}_${port}.json" 2>&1
  "$PY" -c "import json; d = json.load(open('$WORK/iperf_${ns}_${port}.json'));
print(round(d['end']['sum_received']['bits_per_second'] / 1e6, 2))" 2>/dev/null || echo 0
}
# within MEASURED LIMIT PERCENT
within() { "$PY" -c "import sys; m, l, p = map(float, sys.argv[1:]); sys.exit(0 if abs(m - l) <= l * p / 100 else 1)" "$@"; }
above() { "$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$@"; }

# 1. Policed both ways; the neighbour at the same time.
iperf lm-vm3 5202 >"$WORK/n.out" &
npid=$!
up=$(iperf lm-vm1 5201)
wait $npid
neighbour=$(cat "$WORK/n.out")
echo "NOTE: vm1 -> vm2 through a 50 Mbit/s policer: $up Mbit/s; at the same time vm3 -> vm2 (unlimited): $neighbour Mbit/s"
check "policed from the VM: $up Mbit/s within 10 % of 50" within "$up" 50 10
check "the unlimited neighbour is unaffected: $neighbour Mbit/s > 100" above "$neighbour" 100
down=$(iperf lm-vm1 5201 -R)
echo "NOTE: vm2 -> vm1 through a 50 Mbit/s policer: $down Mbit/s"
check "policed toward the VM: $down Mbit/s within 10 % of 50" within "$down" 50 10

vc -i lim1 show limits --json
check "show limits: vm1 rx at 50 Mbit/s with red packets" json \
  "any(x['port'] == 'vm1' and x['dir'] == 'rx' and x['rate_bps'] == 50000000 and x['red_packets'] > 0 and x['green_packets'] > 1000 for x in r)"
check "show limits: vm1 tx and the class of vm3 listed" json \
  "any(x['port'] == 'vm1' and x['dir'] == 'tx' for x in r) and any(x['port'] == 'vm3' and x['class'] == 'bulk' and x['rate_bps'] == 20000000 for x in r)"
check "drops carry the reason limit_rx" test "$(tel_get $P /vnf/drops "r['limit_rx']")" -gt 0
vc -i lim1 show limits
check "show limits (text) shows the rates" expect 0 "^vm1 +rx +police +50Mbit" "^vm3/bulk +rx +police +20Mbit"
vc -i lim1 show limits vm3 --json
check "show limits vm3: only vm3's rows" json "len(r) == 1 and r[0]['port'] == 'vm3'"

# 2. A class: 5300-5310 at 20 Mbit/s, other ports of the same VM free, at the same time.
iperf lm-vm3 5202 >"$WORK/o.out" &
opid=$!
bulk=$(iperf lm-vm3 5301)
wait $opid
other=$(cat "$WORK/o.out")
echo "NOTE: vm3 -> vm2:5301 (class bulk, 20 Mbit/s): $bulk Mbit/s; vm3 -> vm2:5202 at the same time: $other Mbit/s"
check "the class holds: $bulk Mbit/s within 10 % of 20" within "$bulk" 20 10
check "the VM's other traffic is not limited: $other Mbit/s > 60" above "$other" 60

# 3. Shaped toward the VM, and a reload that changes only vm1's limit.
green_before=$(tel_get $P /vnf/limits "[x for x in r.values() if isinstance(x, dict) and x['class'] == 'bulk'][0]['green_packets']")
vm1_before=$(tel_get $P /vnf/limits "[x for x in r.values() if isinstance(x, dict) and x['port'] == 'vm1' and x['dir'] == 'rx'][0]['green_packets']")
write_cfg "{rx: {rate: 20Mbit}, tx: {rate: 50Mbit, mode: shape}}"
kill -HUP "$(cat "$WORK/sw.pid")"
for _ in $(seq 1 100); do  # its audit line, as reload_loop.sh waits (10 s at most)
  grep -q "audit: config applied .*generation=2 via=SIGHUP" "$WORK/sw.log" && break
  sleep 0.1
done
check "reload applied (vm1 rx now 20 Mbit/s)" test "$(tel_get $P /vnf/limits "[x for x in r.values() if isinstance(x, dict) and x['port'] == 'vm1' and x['dir'] == 'rx'][0]['rate_bps']")" = 20000000
green_after=$(tel_get $P /vnf/limits "[x for x in r.values() if isinstance(x, dict) and x['class'] == 'bulk'][0]['green_packets']")
echo "NOTE: vm3's class meter: $green_before green packets before the reload, $green_after after"
check "vm3's meter state survives the reload ($green_after >= $green_before > 0)" \
  test "$green_before" -gt 0 -a "$green_after" -ge "$green_before"
vm1_after=$(tel_get $P /vnf/limits "[x for x in r.values() if isinstance(x, dict) and x['port'] == 'vm1' and x['dir'] == 'rx'][0]['green_packets']")
check "vm1's changed meter starts afresh ($vm1_after < $vm1_before)" test "$vm1_after" -lt "$vm1_before"
shaped=$(iperf lm-vm1 5201 -R)
retr=$("$PY" -c "import json; print(json.load(open('$WORK/iperf_lm-vm1_5201.json'))['end']['sum_sent'].get('retransmits', -1))" 2>/dev/null)
echo "NOTE: vm2 -> vm1 through a 50 Mbit/s shaper: $shaped Mbit/s, $retr retransmissions"
check "shaped toward the VM: $shaped Mbit/s within 10 % of 50" within "$shaped" 50 10
up20=$(iperf lm-vm1 5201)
echo "NOTE: vm1 -> vm2 after the reload (20 Mbit/s): $up20 Mbit/s"
check "the new limit holds: $up20 Mbit/s within 10 % of 20" within "$up20" 20 10
vc -i lim1 show limits --json
check "show limits: the shaper's queue is reported" json \
  "any(x['port'] == 'vm1' and x['dir'] == 'tx' and x['mode'] == 'shape' and x['queue_limit'] == 1024 and 'queue_depth' in x for x in r)"
show_drops $P
