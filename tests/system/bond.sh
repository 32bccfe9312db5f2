#!/usr/bin/env bash
# Bond ports through the real vswitch (docs/bonding.md), af_packet members on veths into an
# upstream namespace:
#   1. active-backup into a Linux bridge: a ping every 10 ms keeps flowing when the active
#      member's link goes down (the lost interval is printed); telemetry and vnfctl show the
#      failover; the primary comes back after up_delay_ms (revert: always), and the RARP sent
#      out of it moves the VM's MAC in the bridge at once, with no traffic from the VM.
#   2. balance-xor into an Open vSwitch static bond: l34 spreads 16 UDP flows over both
#      members; l2 keeps one MAC pair on one member.
#   3. 802.3ad against an Open vSwitch bond with lacp=active (userspace datapath, an
#      independent LACP implementation): the aggregate forms, both members carry traffic, the
#      partner shows in telemetry, a member's link loss keeps traffic flowing, and the member
#      rejoins the aggregate.
source "$(dirname "$0")/lib.sh"
source "$TOP/scripts/lib/ovs.sh"

if ! ovs_available; then
  fail "Open vSwitch is not installed (scripts/setup.sh installs openvswitch-switch): the 802.3ad and balance-xor partner is missing"
  exit 1
fi
OVS_DIRS=()
stop_ovs() {
  local d
  for d in "${OVS_DIRS[@]}"; do ovs_stop "$d"; done
}
trap 'stop_ovs; finish' EXIT

write_cfg() {  # write_cfg NAME BOND_SETTINGS ("key: value, ..." beside the members) [MEMBERS]
  local members=${3:-"{name: upa, type: af_packet, iface: bdA}, {name: upb, type: af_packet, iface: bdB}"}
  cat >"$WORK/$1.yaml" <<YAML
# program: vswitch
engine: {name: $1, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: vm1, type: af_packet, iface: bdvm1, mode: access, segment: core}
  - name: uplink
    type: bond
    mode: access
    segment: core
    bond: {members: [$members], $2}
YAML
}

# The upstream namespace: ua, ub, uc are the peers of the members bdA, bdB, bdC. A cable pulled
# is the upstream end set down: our end loses its carrier, as with a real cable.
cable() { ip netns exec bd-up ip link set "$1" "$2"; }  # cable ua|ub up|down

# flow_ping SECONDS DOWN_AFTER MEMBER: pings every 10 ms from vm1 while MEMBER's cable is pulled
# DOWN_AFTER seconds in; prints "sent received".
flow_ping() {
  local secs=$1 after=$2 member=$3 n
  n=$((secs * 100))
  ip netns exec bd-vm1 ping -n -q -i 0.01 -c "$n" -W 1 10.9.9.1 >"$WORK/ping.out" 2>&1 &
  local pid=$!
  sleep "$after"
  cable "$member" down
  wait "$pid"
  ping_counts "$WORK/ping.out"
}

# bond_field BOND EXPR: EXPR on /vnf/bonds' entry for BOND, as `b`.
bond_field() { tel_get "$P" "/vnf/bonds,$1" "(lambda b: $2)(r['$1'])"; }
# member_field BOND MEMBER EXPR
member_field() { tel_get "$P" "/vnf/bond_members,$1" "(lambda m: $3)(r['$1/$2'])"; }
is() { [[ "$1" == "$2" ]]; }
active_is() { [[ "$(bond_field uplink "b['active']")" == "$1" ]]; }
bond_link_is() { [[ "$(tel_get "$P" /vnf/ports,uplink "r['uplink']['link']")" == "$1" ]]; }
fdb_is() { [[ "$(bridge_port_of "$1")" == "$2" ]]; }
bridge_port_of() {  # bridge_port_of MAC: the bridge port that learned MAC in bd-up
  ip netns exec bd-up bridge fdb show br br0 | awk -v m="$1" 'tolower($1) == tolower(m) && !/permanent/ {print $3; exit}'
}

netns_host bd-vm1 bdvm1 10.9.9.11/24
VM1_MAC=$(ip netns exec bd-vm1 cat /sys/class/net/eth0/address)
uplink_ns bd-up bdA:ua bdB:ub bdC:uc

# ---- 1. active-backup into a Linux bridge
# br0 is also the upstream host (10.9.9.1), with a MAC of its own: a Linux bridge without one
# takes the lowest MAC of its ports and changes it when a port with a lower one joins (uc does,
# below, with a random MAC), sending no gratuitous ARP. vm1 then keeps the old MAC in its ARP
# cache for 15-45 s, and the bridge passes frames to it up to its IP stack only when it is the
# receiving port's own MAC: every ping through upa or upc is lost. A real upstream host's MAC
# does not change when its switch gets a port.
ip netns exec bd-up sh -c 'ip link add br0 address 02:bd:00:00:00:01 type bridge; ip link set ua master br0
  ip link set ub master br0; ip link set br0 up; ip addr add 10.9.9.1/24 dev br0
  ethtool -K br0 tx off' >/dev/null 2>&1
write_cfg bdab "mode: active-backup, primary: upa, revert: always, up_delay_ms: 1000"
start_appliance ab vswitch "$WORK/bdab.yaml" || exit 1
P=vnf-bdab
check "active-backup: vm1 reaches the upstream host through the bond" ns_ping bd-vm1 10.9.9.1
check "active-backup: upa (the primary) is active" is "$(bond_field uplink "b['active']")" upa

# A frame that reached the backup member (upb) while it was not active, such as the broadcasts
# the bridge floods to every port, is not delivered when upb takes over: by then it is stale
# (its source MAC may have moved, an ARP answered). One sent out of ub alone, from a MAC nobody
# uses, must not be learned behind the bond after the failover.
STALE_MAC=02:5a:1e:00:00:01
ip netns exec bd-up "$PY" -c "
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('ub', 0))
s.send(bytes.fromhex('ffffffffffff' + '${STALE_MAC//:/}' + '88b5') + bytes(46))"
mac_learned() {  # mac_learned MAC: the port the vswitch learned MAC on (segment core), or nothing
  tel_get "$P" /vnf/macs,core "' '.join(e.split()[1] for e in r['entries'] if e.split()[0].lower() == '$1')"
}
read -r sent got < <(flow_ping 3 1 ua)
lost=$((sent - got))
echo "NOTE: active-backup failover: $lost of $sent pings (10 ms apart) lost: about $((lost * 10)) ms without traffic"
check "active-backup: the flow keeps going after the active member's link went down ($got of $sent answered)" \
  test "$got" -gt 0 -a "$lost" -lt 50
check "active-backup: upb took over" is "$(bond_field uplink "b['active']")" upb
check "active-backup: a frame that reached upb while it was the backup was not delivered after the failover" \
  is "$(mac_learned "$STALE_MAC")" ""
check "active-backup: one failover recorded, upa -> upb, reason the link" \
  is "$(bond_field uplink "(b['failovers'], b['last_from'], b['last_to'], b['last_reason'])")" \
  "(1, 'upa', 'upb', 'upa link down')"
check "active-backup: the failover time is RFC 3339 with the zone" \
  "$PY" -c "import re,sys; sys.exit(0 if re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d', sys.argv[1]) else 1)" \
  "$(bond_field uplink "b['last_failover']")"
check "active-backup: the failover is in the log with both members and the reason" \
  grep -qE "bond 'uplink': failover at .*: active member upa -> upb \(upa link down\)" "$WORK/ab.log"
check "active-backup: upa's link is down in telemetry" is "$(member_field uplink upa "m['link']")" down
vc -i bdab show bonds
check "vnfctl show bonds: mode, active member, failover" \
  expect 0 "bond uplink: active-backup, link up, active upb \(primary upa, revert always\)" \
  "failovers: 1, last: .*upa -> upb \(upa link down\)" "^upa +af_packet +bdA +down +no" \
  "^upb +af_packet +bdB +up +yes"
vc -i bdab show bonds uplink --json
check "vnfctl show bonds --json: the members with their link" \
  json "r[0]['name'] == 'uplink' and [m['link'] for m in r[0]['members']] == ['down', 'up']"
vc -i bdab show bonds nosuch
check "vnfctl show bonds NAME: an unknown bond says so" expect 0 "no bond 'nosuch'"

# The VM's MAC sits on ub in the bridge now (the pings went that way). Revert: upa back after
# its up_delay; the RARP out of upa moves the MAC with no frame from the VM.
check "active-backup: the bridge learned vm1's MAC on ub during the flow" is "$(bridge_port_of "$VM1_MAC")" ub
cable ua up
sleep 0.1
check "active-backup: 100 ms after upa's link came back, upb is still active (up_delay_ms 1000)" \
  is "$(bond_field uplink "b['active']")" upb
check "active-backup: revert always: upa active again after its up delay" \
  wait_for 5 active_is upa
check "active-backup: the RARP out of upa moved vm1's MAC to ua in the bridge at once" \
  wait_for 1 fdb_is "$VM1_MAC" ua
check "active-backup: announcements counted" test "$(bond_field uplink "b['announced']")" -ge 1
check "active-backup: vm1 reaches upstream through upa again" ns_ping bd-vm1 10.9.9.1
check "active-backup: the revert is a second failover, reason the up delay" \
  is "$(bond_field uplink "(b['failovers'], b['last_to'], b['last_reason'])")" \
  "(2, 'upa', 'upa link up for 1000 ms')"
cable ua down
cable ub down
check "active-backup: with both members down the bond's link is down" \
  wait_for 2 bond_link_is down
cable ua up
cable ub up
check "active-backup: and up again with them" \
  wait_for 3 bond_link_is up
check "active-backup: upa active again" wait_for 3 active_is upa
check "active-backup: the RARP out of upa, the first member back, taught the bridge vm1's MAC again" \
  wait_for 1 fdb_is "$VM1_MAC" ua
check "active-backup: vm1 reaches upstream again once the members are back" ns_ping bd-vm1 10.9.9.1

# Members added and removed by reload while a flow runs through the active member.
ip netns exec bd-up ip link set uc master br0
A="{name: upa, type: af_packet, iface: bdA}"
B="{name: upb, type: af_packet, iface: bdB}"
C="{name: upc, type: af_packet, iface: bdC}"
AB_SET="mode: active-backup, primary: upa, revert: always, up_delay_ms: 1000"
f0=$(bond_field uplink "b['failovers']")
ip netns exec bd-vm1 ping -n -q -i 0.01 -c 300 -W 1 10.9.9.1 >"$WORK/ping.out" 2>&1 &
ppid=$!
sleep 0.7
write_cfg bdab "$AB_SET" "$A, $B, $C"
vc -i bdab reload
check "reload: a third member added" expect 0 "bond uplink: members added: upc"
members_are() { [[ "$(bond_field uplink "b['members']")" == "$1" ]]; }
check "reload: the bond has upa, upb, upc" members_are upa,upb,upc
check "reload: upc's link is up" wait_for 2 eval '[[ "$(member_field uplink upc "m[\"link\"]")" == up ]]'
write_cfg bdab "$AB_SET" "$A, $C"
vc -i bdab reload
check "reload: a backup member removed" expect 0 "bond uplink: members removed: upb"
check "reload: the bond has upa, upc" members_are upa,upc
wait "$ppid"
read -r sent got < <(ping_counts "$WORK/ping.out")
echo "NOTE: members added and removed by reload during a flow: $((sent - got)) of $sent pings lost"
check "reload: the flow through the active member was not disturbed ($got of $sent answered)" \
  test "$sent" -gt 0 -a $((sent - got)) -le 2
check "reload: no failover for members that were not active" \
  is "$(bond_field uplink "b['failovers']")" "$f0"
write_cfg bdab "mode: active-backup, primary: upc, revert: always" "$C"
vc -i bdab reload
check "reload: the active member removed" expect 0 "bond uplink: members removed: upa; primary upa -> upc"
check "reload: upc took over, reason the reload" \
  is "$(bond_field uplink "(b['active'], b['last_reason'])")" "('upc', 'upa removed by reload')"
check "reload: vm1 reaches upstream through upc" ns_ping bd-vm1 10.9.9.1
check "reload: upc is the only member left" members_are upc
stop_appliance ab
ip netns exec bd-up sh -c 'ip link del br0'

# ---- 2 and 3: Open vSwitch as the partner (arp_ignore keeps the upstream namespace's kernel
# from answering ARP on the bond members itself).
ovs_start bd-up "$WORK/ovs" || { fail "Open vSwitch did not start: $(tail -3 "$WORK/ovs/vswitchd.log")"; exit 1; }
OVS_DIRS+=("$WORK/ovs")
O="$WORK/ovs"
ovs_vsctl "$O" add-br br0 -- set bridge br0 datapath_type=netdev
ip netns exec bd-up sh -c 'ip link set br0 up; ip addr add 10.9.9.1/24 dev br0; ethtool -K br0 tx off' >/dev/null 2>&1
# 10.9.9.1 now has Open vSwitch's bridge MAC: the VM forgets the Linux bridge's.
ip netns exec bd-vm1 ip neigh flush all

# udp_flows N: N UDP datagrams from vm1 to 10.9.9.1, one per destination port (16 flows).
udp_flows() {
  local p
  for p in $(seq 7001 $((7000 + $1))); do
    ip netns exec bd-vm1 "$PY" -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x' * 64, ('10.9.9.1', $p))"
  done
}
tx_of() { member_field uplink "$1" "m['tx_packets']"; }

# 2. balance-xor: a static bond upstream (lacp off).
ovs_vsctl "$O" add-bond br0 bond0 ua ub bond_mode=balance-slb lacp=off
in_bond_is() { [[ "$(member_field uplink "$1" "m['in_bond']")" == "$2" ]]; }
for hash in l34 l2; do
  write_cfg "bdx$hash" "mode: balance-xor, hash: $hash, down_delay_ms: 1000"
  [[ $hash == l34 ]] && cable ub down  # down before the appliance starts
  start_appliance "x$hash" vswitch "$WORK/bdx$hash.yaml" || exit 1
  P=vnf-bdx$hash
  if [[ $hash == l34 ]]; then
    check "balance-xor: a member whose link is down at start-up is not in the bond" in_bond_is upb 0
    check "balance-xor: vm1 reaches the upstream host over upa alone" ns_ping bd-vm1 10.9.9.1
    cable ub up
    check "balance-xor: upb joins once its link is up" wait_for 3 in_bond_is upb 1
    cable ub down
    sleep 0.1
    check "balance-xor: 100 ms into a link loss upb is still in (down_delay_ms 1000)" in_bond_is upb 1
    check "balance-xor: ... and out after its down delay" wait_for 4 in_bond_is upb 0
    cable ub up
    check "balance-xor: upb back in" wait_for 3 in_bond_is upb 1
  fi
  check "balance-xor $hash: vm1 reaches the upstream host" ns_ping bd-vm1 10.9.9.1
  a0=$(tx_of upa)
  b0=$(tx_of upb)
  udp_flows 16
  a1=$(tx_of upa)
  b1=$(tx_of upb)
  echo "NOTE: balance-xor hash $hash: 16 UDP flows: upa sent $((a1 - a0)), upb $((b1 - b0))"
  if [[ $hash == l34 ]]; then
    check "balance-xor l34: the flows spread over both members" test $((a1 - a0)) -gt 0 -a $((b1 - b0)) -gt 0
  else
    check "balance-xor l2: one MAC pair stays on one member" test $((a1 - a0)) -eq 0 -o $((b1 - b0)) -eq 0
    check "balance-xor l2: ... and all 16 went out" test $((a1 - a0 + b1 - b0)) -ge 16
  fi
  stop_appliance "x$hash"
done
ovs_vsctl "$O" del-port br0 bond0

# 3. 802.3ad against Open vSwitch's LACP.
ovs_vsctl "$O" add-bond br0 bond0 ua ub bond_mode=balance-tcp lacp=active \
  other_config:lacp-time=fast
write_cfg bdlacp "mode: 802.3ad, hash: l34"
start_appliance lacp vswitch "$WORK/bdlacp.yaml" || exit 1
P=vnf-bdlacp
both_selected() {
  [[ "$(member_field uplink upa "m.get('lacp_selected')")" == selected &&
    "$(member_field uplink upb "m.get('lacp_selected')")" == selected &&
    "$(member_field uplink upa "'distributing' in m.get('actor_state', '')")" == True &&
    "$(member_field uplink upb "'distributing' in m.get('actor_state', '')")" == True ]]
}
check "802.3ad: the aggregate forms with Open vSwitch (both members selected, distributing)" \
  wait_for 15 both_selected
ovs_sysid=$(ovs_appctl "$O" lacp/show bond0 | awk '/sys_id:/ {print $2; exit}')
check "802.3ad: the partner in telemetry is Open vSwitch's system id ($ovs_sysid)" \
  is "$(member_field uplink upa "m['partner_system'].lower()")" "$ovs_sysid"
check "802.3ad: the partner's state says collecting and distributing" \
  is "$(member_field uplink upb "'collecting distributing' in m['partner_state']")" True
# OVS learns our collecting/distributing bits from our next LACPDU: it may lag our own view.
ovs_sees_us() {
  test "$(ovs_appctl "$O" lacp/show bond0 | grep -c 'partner state: activity.*collecting distributing')" -eq 2
}
check "802.3ad: Open vSwitch sees us as its partner on both members" wait_for 10 ovs_sees_us
check "802.3ad: vm1 reaches the upstream host" ns_ping bd-vm1 10.9.9.1
a0=$(tx_of upa)
b0=$(tx_of upb)
udp_flows 16
a1=$(tx_of upa)
b1=$(tx_of upb)
echo "NOTE: 802.3ad hash l34: 16 UDP flows: upa sent $((a1 - a0)), upb $((b1 - b0))"
check "802.3ad: both members carry traffic" test $((a1 - a0)) -gt 0 -a $((b1 - b0)) -gt 0
vc -i bdlacp show bonds
check "vnfctl show bonds: the LACP partner per member" \
  expect 0 "bond uplink: 802.3ad, link up, hash l34" "^upa .* selected +$ovs_sysid key [0-9]+ port [0-9]+ +activity"
for m in ua ub; do
  read -r sent got < <(flow_ping 3 1 "$m")
  lost=$((sent - got))
  echo "NOTE: 802.3ad: cable $m pulled: $lost of $sent pings (10 ms apart) lost: about $((lost * 10)) ms"
  check "802.3ad: traffic keeps flowing with $m's cable pulled ($got of $sent answered)" \
    test "$got" -gt 0 -a "$lost" -lt 50
  mem=upa
  [[ $m == ub ]] && mem=upb
  check "802.3ad: $mem left the bond" is "$(member_field uplink $mem "m['in_bond']")" 0
  cable "$m" up
  check "802.3ad: $mem rejoined the aggregate after its cable came back" wait_for 15 both_selected
done
check "802.3ad: two member losses counted" test "$(bond_field uplink "b['failovers']")" -eq 2
stop_appliance lacp
