#!/usr/bin/env bash
# A router interface on a bond (docs/bonding.md): the vrouter's lan2 sits on an active-backup
# bond of two af_packet members into an upstream Linux bridge. Traffic routed through the bond
# keeps flowing when the active member's cable is pulled, and the router announces its
# interface (gratuitous ARP) out of the new member: the bridge knows the router's MAC on the new
# member's port at once, with no routed traffic running.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/router.yaml" <<YAML
engine: {name: rtbond, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 50}
ports:
  - {name: p1, type: af_packet, iface: rbo1}
  - name: up
    type: bond
    bond:
      mode: active-backup
      primary: upa
      members:
        - {name: upa, type: af_packet, iface: rboA}
        - {name: upb, type: af_packet, iface: rboB}
interfaces:
  - {name: lan1, port: p1, ipv4: [10.62.1.1/24]}
  - {name: lan2, port: up, ipv4: [10.62.2.1/24]}
YAML

netns_host rbo-h1 rbo1 10.62.1.2/24
ip netns exec rbo-h1 ip route add default via 10.62.1.1
# The upstream: a bridge in rbo-up with the members' peers and the host address 10.62.2.2.
uplink_ns rbo-up rboA:ua rboB:ub
ip netns exec rbo-up sh -c 'ip link add br0 type bridge
  ip link set ua master br0; ip link set ub master br0; ip link set br0 up
  ip addr add 10.62.2.2/24 dev br0; ip route add default via 10.62.2.1
  ethtool -K br0 tx off' >/dev/null 2>&1

start_appliance rt vrouter "$WORK/router.yaml" || exit 1
P=vnf-rtbond
RT_MAC=$(tel_get $P /vnf/interfaces 'r["lan2"]["mac"]')
bridge_port_of() {
  ip netns exec rbo-up bridge fdb show br br0 | awk -v m="$1" 'tolower($1) == tolower(m) && !/permanent/ {print $3; exit}'
}
fdb_is() { [[ "$(bridge_port_of "$1")" == "$2" ]]; }
active_is() { [[ "$(tel_get $P /vnf/bonds,up 'r["up"]["active"]')" == "$1" ]]; }

check "routed through the bond: h1 -> upstream host 10.62.2.2" ns_ping rbo-h1 10.62.2.2
check "the router's interface MAC is on ua in the bridge (upa active)" fdb_is "$RT_MAC" ua

ip netns exec rbo-h1 ping -n -q -i 0.01 -c 300 -W 1 10.62.2.2 >"$WORK/ping.out" 2>&1 &
ppid=$!
sleep 1
ip netns exec rbo-up ip link set ua down
wait "$ppid"
read -r sent got < <(ping_counts "$WORK/ping.out")
echo "NOTE: routed flow through an active-backup bond, active member's cable pulled: $((sent - got)) of $sent pings (10 ms apart) lost"
check "routed traffic keeps flowing after the failover ($got of $sent answered)" \
  test "$got" -gt 0 -a $((sent - got)) -lt 50
check "upb is active" active_is upb

# Back to upa (revert), with no routed traffic: the gratuitous ARP moves the router's MAC.
ip netns exec rbo-up ip link set ua up
check "revert: upa active again" wait_for 3 active_is upa
check "the router's gratuitous ARP out of upa put its MAC on ua in the bridge at once" \
  wait_for 1 fdb_is "$RT_MAC" ua
check "the router counted its announcements" \
  test "$(tel_get $P /vnf/router 'r["announcements_sent"]')" -ge 2
check "routed again through upa" ns_ping rbo-h1 10.62.2.2
