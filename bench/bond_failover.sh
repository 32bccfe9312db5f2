#!/usr/bin/env bash
# bond-failover: the traffic interruption (ms) when a bond member's link fails, through the
# real vswitch (docs/bonding.md), for an active-backup bond and for an 802.3ad bond; the
# median of ROUNDS failovers (default 10) each. Target: under 100 ms.
#
#   flock /tmp/vnf-system.lock bash bench/bond_failover.sh [ROUNDS]
#
# The topology is tests/system/bond.sh's, under its own names (bf-*): a VM namespace bf-vm1 on
# an af_packet port, and a bond "uplink" of two af_packet members on veths bfA/bfB whose peers
# ua/ub sit in the upstream namespace bf-up:
#   - active-backup (primary upa, revert always, up_delay_ms 300) into a Linux bridge;
#   - 802.3ad (hash l34) against Open vSwitch (userspace datapath, lacp=active,
#     bond_mode=balance-tcp, lacp-time=fast), an independent LACP implementation.
# A cable pulled is the upstream end set down: our end loses its carrier.
#
# One failover: the VM pings the upstream host every 2 ms for ~1.5 s; ~0.5 s in, the cable of a
# member is pulled. Interruption = pings lost x 2 ms. Active-backup: the active member is
# pulled, then restored, and the next round waits until the bond has reverted to the primary.
# 802.3ad: ua and ub alternately; after the cable is back the next round waits until both
# members are selected and distributing again. Each sample also notes the longest run of
# consecutive lost pings and, for 802.3ad, what the pulled member carried just before (req: the
# VM's echo requests left through it, rep: the replies came in through it; the log line has
# the packet counts of both members over ~0.2 s before the pull).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$TOP/build}
PY=/usr/bin/python3
ROUNDS=${1:-10}
INTERVAL_MS=2
PROBE_S=1.5
PULL_AFTER_S=0.5
CMDLINE="bash bench/$(basename "$0")${1:+ $*}"
source "$TOP/scripts/lib/netns.sh"
source "$TOP/scripts/lib/ovs.sh"

[[ $EUID -eq 0 ]] || { echo "bond-failover: needs root (namespaces, 2 ms ping)" >&2; exit 1; }
[[ -x "$BUILD/vswitch/vswitch" ]] || { echo "bond-failover: $BUILD/vswitch/vswitch missing (ninja -C build)" >&2; exit 1; }
ovs_available || { echo "bond-failover: Open vSwitch is not installed (scripts/setup.sh installs openvswitch-switch)" >&2; exit 1; }
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [ROUNDS]" >&2; exit 2; }

WORK=$(mktemp -d /tmp/vnf-bond-failover.XXXXXX)
SW_PID=
OVS_DIR=
KEEP_WORK=0
cleanup() {
  if [[ -n "$SW_PID" ]] && kill -0 "$SW_PID" 2>/dev/null; then
    kill -TERM "$SW_PID" 2>/dev/null
    wait "$SW_PID" 2>/dev/null
  fi
  [[ -n "$OVS_DIR" ]] && ovs_stop "$OVS_DIR"
  netns_cleanup
  if ((KEEP_WORK)); then echo "logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bond-failover: $*" >&2; KEEP_WORK=1; exit 1; }
log() { echo "# $*" >&2; }

# ---- telemetry
P=
tel_get() {  # tel_get COMMAND PYTHON_EXPR (on the answer, as r)
  echo "$1" | "$PY" /usr/bin/dpdk-telemetry.py -f "$P" 2>/dev/null | tail -1 |
    "$PY" -c "import json,sys; d=json.load(sys.stdin); r=list(d.values())[0]; print($2)" 2>/dev/null
}
bond_field() { tel_get /vnf/bonds,uplink "(lambda b: $1)(r['uplink'])"; }
member_field() { tel_get /vnf/bond_members,uplink "(lambda m: $2)(r['uplink/$1'])"; }
members() {  # one line: upa_tx upa_rx upb_tx upb_rx
  tel_get /vnf/bond_members,uplink \
    "' '.join(str(r['uplink/'+m][k]) for m in ('upa', 'upb') for k in ('tx_packets', 'rx_packets'))"
}
active_is() { [[ "$(bond_field "b['active']")" == "$1" ]]; }
both_selected() {
  [[ "$(tel_get /vnf/bond_members,uplink "all(r['uplink/'+m].get('lacp_selected') == 'selected' and 'distributing' in r['uplink/'+m].get('actor_state', '') for m in ('upa', 'upb'))")" == True ]]
}
probe_ok() { ip netns exec bf-vm1 ping -n -q -c 3 -i 0.1 -W 1 10.9.6.1 >/dev/null 2>&1; }

# ---- topology
cable() { ip netns exec bf-up ip link set "$1" "$2"; }  # cable ua|ub up|down

netns_host bf-vm1 bfvm1 10.9.6.11/24
uplink_ns bf-up bfA:ua bfB:ub

start_vswitch() {  # start_vswitch ENGINE BOND_SETTINGS
  cat >"$WORK/$1.yaml" <<YAML
# program: vswitch
engine: {name: $1, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: vm1, type: af_packet, iface: bfvm1, mode: access, segment: core}
  - name: uplink
    type: bond
    mode: access
    segment: core
    bond: {members: [{name: upa, type: af_packet, iface: bfA}, {name: upb, type: af_packet, iface: bfB}], $2}
YAML
  "$BUILD/vswitch/vswitch" -c "$WORK/$1.yaml" >"$WORK/$1.log" 2>&1 &
  SW_PID=$!
  P=vnf-$1
  local _
  for _ in $(seq 1 100); do
    grep -q "running:" "$WORK/$1.log" 2>/dev/null && return 0
    kill -0 "$SW_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -20 "$WORK/$1.log" >&2
  die "the vswitch ($1) did not start"
}
stop_vswitch() {
  kill -TERM "$SW_PID" 2>/dev/null
  wait "$SW_PID" 2>/dev/null
  SW_PID=
}

# failover CABLE|-: one measurement (-: none pulled, the baseline); prints "LOST_MS LONGEST_RUN_MS SENT RECEIVED ELAPSED_MS
# CARRIED GAP_MS" (CARRIED: req/rep/req+rep/none, what the pulled member carried before the
# pull; GAP_MS: the longest time between two replies, by ping's -D timestamps).
failover() {
  local cable_if=$1 count before after
  count=$("$PY" -c "print(round($PROBE_S * 1000 / $INTERVAL_MS))")
  ip netns exec bf-vm1 ping -n -D -i "0.00$INTERVAL_MS" -c "$count" -W 1 10.9.6.1 >"$WORK/ping.out" 2>&1 &
  local pid=$! t0=$EPOCHREALTIME
  sleep 0.05
  before=$(members)
  after=$(members)  # the counters over the time until the pull (telemetry takes ~0.1 s a call)
  sleep "$("$PY" -c "print(max(0.0, $PULL_AFTER_S - ($EPOCHREALTIME - $t0)))")"
  [[ $cable_if == - ]] || cable "$cable_if" down
  wait "$pid"
  "$PY" - "$WORK/ping.out" "$INTERVAL_MS" "$cable_if" "$before" "$after" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
iv = int(sys.argv[2])
m = re.search(r'(\d+) packets transmitted, (\d+) received.*time (\d+)ms', text)
sent, got, elapsed = (int(x) for x in m.groups()) if m else (0, 0, 0)
replies = sorted({int(s): float(t) for t, s in re.findall(r'\[([\d.]+)\] \d+ bytes from .*icmp_seq=(\d+) ttl', text)}.items())
seqs = [s for s, _ in replies]
ts = [t for _, t in replies]
gap = max((b - a for a, b in zip(ts, ts[1:])), default=0) * 1000
run, prev = 0, 0
for s in seqs + [sent + 1]:
    run = max(run, s - prev - 1)
    prev = s
b = [int(x) for x in sys.argv[4].split()] if sys.argv[4] else [0] * 4
a = [int(x) for x in sys.argv[5].split()] if sys.argv[5] else [0] * 4
i = 2 if sys.argv[3] == 'ub' else 0
tx, rx = a[i] - b[i], a[i + 1] - b[i + 1]
carried = '+'.join(w for w, n in (('req', tx), ('rep', rx)) if n > 20) or 'none'
o = 2 - i
carried += f'[tx{tx},rx{rx};other:tx{a[o] - b[o]},rx{a[o + 1] - b[o + 1]}]'
print((sent - got) * iv, run * iv, sent, got, elapsed, carried, round(gap))
PYEOF
}

declare -A SAMPLES NOTES
record() {  # record MODE RESULT_LINE ROUND CABLE
  local lost run sent got el carried gap
  read -r lost run sent got el carried gap <<<"$2"
  SAMPLES[$1]+="$lost "
  log "$1 round $3: cable $4 pulled: $((sent - got)) of $sent pings lost = $lost ms" \
    "(longest run $run ms; longest time between replies $gap ms;" \
    "$sent pings in $el ms; pulled member carried: $carried)"
  if ((run != lost)); then NOTES[$1]+="round $3: $lost ms lost in all, longest run $run ms; "; fi
  if [[ $1 == 802.3ad ]]; then NOTES[$1-carried]+="${carried%%\[*} "; fi
}

# baseline MODE: the same probe with no cable pulled (loss and stalls without a failover).
baseline() {
  local lost run sent got el carried gap
  read -r lost run sent got el carried gap <<<"$(failover -)"
  log "$1 baseline (no cable pulled): $((sent - got)) of $sent pings lost; longest time between" \
    "replies $gap ms; $sent pings in $el ms"
  NOTES[$1-base]="$((sent - got)) lost, longest time between replies $gap ms"
}

START=$SECONDS

# ---- active-backup into a Linux bridge
ip netns exec bf-up sh -c 'ip link add br0 type bridge; ip link set ua master br0
  ip link set ub master br0; ip link set br0 up; ip addr add 10.9.6.1/24 dev br0
  ethtool -K br0 tx off' >/dev/null 2>&1
start_vswitch bfab "mode: active-backup, primary: upa, revert: always, up_delay_ms: 300"
wait_for 5 probe_ok || die "active-backup: vm1 does not reach the upstream host"
baseline active-backup
for r in $(seq 1 "$ROUNDS"); do
  act=$(bond_field "b['active']")
  [[ $act == upa || $act == upb ]] || die "active-backup: no active member ($act)"
  c=ua
  [[ $act == upb ]] && c=ub
  res=$(failover "$c")
  record active-backup "$res" "$r" "$c"
  cable "$c" up
  wait_for 5 active_is upa || die "active-backup: did not revert to upa after round $r"
  wait_for 5 probe_ok || die "active-backup: no traffic after round $r"
  sleep 0.3
done
stop_vswitch
ip netns exec bf-up ip link del br0

# ---- 802.3ad against Open vSwitch's LACP
OVS_DIR=$WORK/ovs
ovs_start bf-up "$OVS_DIR" || die "Open vSwitch did not start: $(tail -3 "$OVS_DIR/vswitchd.log" 2>/dev/null)"
ovs_vsctl "$OVS_DIR" add-br br0 -- set bridge br0 datapath_type=netdev || die "ovs-vsctl add-br failed"
ip netns exec bf-up sh -c 'ip link set br0 up; ip addr add 10.9.6.1/24 dev br0; ethtool -K br0 tx off' >/dev/null 2>&1
ovs_vsctl "$OVS_DIR" add-bond br0 bond0 ua ub bond_mode=balance-tcp lacp=active \
  other_config:lacp-time=fast || die "ovs-vsctl add-bond failed"
ip netns exec bf-vm1 ip neigh flush all  # 10.9.6.1 is OVS's br0 now, with another MAC
start_vswitch bflacp "mode: 802.3ad, hash: l34"
wait_for 20 both_selected || die "802.3ad: the aggregate did not form with Open vSwitch"
wait_for 5 probe_ok || die "802.3ad: vm1 does not reach the upstream host"
baseline 802.3ad
for r in $(seq 1 "$ROUNDS"); do
  c=ua
  ((r % 2 == 0)) && c=ub
  res=$(failover "$c")
  record 802.3ad "$res" "$r" "$c"
  cable "$c" up
  wait_for 30 both_selected || die "802.3ad: the member did not rejoin after round $r"
  wait_for 5 probe_ok || die "802.3ad: no traffic after round $r"
  sleep 0.3
done
stop_vswitch
ELAPSED=$((SECONDS - START))

# ---- the table
echo
echo "## bond-failover: traffic interruption when a member link fails"
echo
echo "Target: under 100 ms (median). A ping every $INTERVAL_MS ms from the VM for ${PROBE_S} s;" \
  "the member's cable pulled ${PULL_AFTER_S} s in; interruption = pings lost x $INTERVAL_MS ms;" \
  "$ROUNDS failovers per mode."
echo
"$PY" - "$INTERVAL_MS" "active-backup=${SAMPLES[active-backup]}" "802.3ad=${SAMPLES[802.3ad]}" <<'PYEOF'
import statistics, sys
print('| mode | median ms | min | max | samples (ms) | under 100 ms |')
print('|---|---:|---:|---:|---|---|')
for arg in sys.argv[2:]:
    mode, vals = arg.split('=', 1)
    v = [int(x) for x in vals.split()]
    med = statistics.median(v)
    print(f'| {mode} | {med:g} | {min(v)} | {max(v)} | {", ".join(map(str, v))} | {"yes" if med < 100 else "NO"} |')
PYEOF
echo
for m in active-backup 802.3ad; do
  [[ -n "${NOTES[$m]:-}" ]] && echo "- $m: ${NOTES[$m]%; }"
done
echo "- baseline, the same probe with no cable pulled: active-backup ${NOTES[active-backup-base]}," \
  "802.3ad ${NOTES[802.3ad-base]}"
echo "- 802.3ad, cables pulled: ua, ub alternately; what the pulled member carried just before" \
  "(req = the VM's requests out, rep = replies in): ${NOTES[802.3ad-carried]% }"
echo
echo "Command: $CMDLINE (under flock /tmp/vnf-system.lock), $ELAPSED s, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r)"
