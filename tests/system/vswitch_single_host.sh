#!/usr/bin/env bash
# One host: four VMs (network namespaces) on two segments and a trunk to an upstream host,
# through the real vswitch binary with af_packet ports.
#   - ping inside a segment works, across segments never (all VMs share one IP subnet, so
#     only the VLAN separation stands between them);
#   - on the trunk, VLAN 100 reaches exactly the core VMs and VLAN 200 the info VMs, and
#     tshark sees the right tags on the wire;
#   - TCP (nc) works through the switch;
#   - a bad config on reload is refused with file:line:column and traffic continues;
#     a good reload that moves a VM between segments takes effect;
#   - SIGTERM stops it cleanly, leaving no hugepage files.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/host.yaml" <<YAML
# program: vswitch
engine: {name: sys1, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
ports:
  - {name: vm1, type: af_packet, iface: s1vm1, mode: access, segment: core}
  - {name: vm2, type: af_packet, iface: s1vm2, mode: access, segment: core}
  - {name: vm3, type: af_packet, iface: s1vm3, mode: access, segment: info}
  - {name: vm4, type: af_packet, iface: s1vm4, mode: access, segment: info}
  - {name: uplink, type: af_packet, iface: s1up, mode: trunk, segments: [core, info]}
YAML

netns_host s1-vm1 s1vm1 10.9.0.11/24
netns_host s1-vm2 s1vm2 10.9.0.12/24
netns_host s1-vm3 s1vm3 10.9.0.21/24
netns_host s1-vm4 s1vm4 10.9.0.22/24
netns_host s1-up s1up

start_appliance sw vswitch "$WORK/host.yaml" || exit 1
P=vnf-sys1

check "ping within core (vm1 -> vm2)" ns_ping s1-vm1 10.9.0.12
check "ping within info (vm3 -> vm4)" ns_ping s1-vm3 10.9.0.22
check_not "no ping across segments (vm1 -> vm3)" ns_ping s1-vm1 10.9.0.21
check_not "no ping across segments (vm2 -> vm4)" ns_ping s1-vm2 10.9.0.22
check_not "no ping across segments (vm4 -> vm1)" ns_ping s1-vm4 10.9.0.11

# TCP through the switch: 64 kB over nc, checked byte for byte.
head -c 65536 /dev/urandom >"$WORK/blob"
ip netns exec s1-vm2 timeout 10 nc -l -p 5001 >"$WORK/blob.rx" &
ncpid=$!
sleep 0.3
ip netns exec s1-vm1 timeout 10 nc -q 1 10.9.0.12 5001 <"$WORK/blob"
wait $ncpid
check "TCP (nc, 64 kB) within core arrives intact" cmp -s "$WORK/blob" "$WORK/blob.rx"

# The trunk side, with tshark recording what the upstream host receives.
ip netns exec s1-up tshark -q -i eth0 -w "$WORK/trunk.pcapng" >/dev/null 2>"$WORK/tshark.log" &
tspid=$!
wait_for 15 grep -q "Capturing on" "$WORK/tshark.log"  # tshark loads its dissectors first
sleep 0.3
if kernel_has_vlan; then
  netns_vlan s1-up 100 10.9.0.100/24
  netns_vlan s1-up 200 10.9.0.200/24
  up100() { ns_ping s1-up "$1" -I eth0.100; }
  up200() { ns_ping s1-up "$1" -I eth0.200; }
  echo "trunk peer: Linux VLAN subinterfaces eth0.100 and eth0.200"
else
  echo "NOTE: this kernel has no 802.1Q support (CONFIG_VLAN_8021Q unset): the upstream host"
  echo "      speaks 802.1Q from user space (tests/system/vlan_peer.py, scapy) instead of"
  echo "      through VLAN subinterfaces."
  up100() { vlan_probe s1-up eth0 100 10.9.0.100 "$1"; }
  up200() { vlan_probe s1-up eth0 200 10.9.0.200 "$1"; }
fi
check "trunk VLAN 100 reaches vm1" up100 10.9.0.11
check "trunk VLAN 100 reaches vm2" up100 10.9.0.12
check_not "trunk VLAN 100 does not reach vm3" up100 10.9.0.21
check_not "trunk VLAN 100 does not reach vm4" up100 10.9.0.22
check "trunk VLAN 200 reaches vm3" up200 10.9.0.21
check "trunk VLAN 200 reaches vm4" up200 10.9.0.22
check_not "trunk VLAN 200 does not reach vm1" up200 10.9.0.11
sleep 1
kill -INT $tspid 2>/dev/null
wait $tspid 2>/dev/null
count() { tshark -r "$WORK/trunk.pcapng" -Y "$1" 2>/dev/null | wc -l; }
n100=$(count "vlan.id == 100 && icmp.type == 0 && ip.src == 10.9.0.11")
n200=$(count "vlan.id == 200 && icmp.type == 0 && ip.src == 10.9.0.21")
nwrong=$(count "(vlan.id == 200 && (ip.src == 10.9.0.11 || ip.src == 10.9.0.12 || arp.src.proto_ipv4 == 10.9.0.11)) || (vlan.id == 100 && (ip.src == 10.9.0.21 || ip.src == 10.9.0.22 || arp.src.proto_ipv4 == 10.9.0.21))")
nuntagged=$(count "!vlan && (ip.src == 10.9.0.11 || ip.src == 10.9.0.21 || arp)")
check "tshark: vm1's echo replies on the trunk carry VLAN 100 ($n100 seen)" test "$n100" -ge 1
check "tshark: vm3's echo replies on the trunk carry VLAN 200 ($n200 seen)" test "$n200" -ge 1
check "tshark: no VM frame on the trunk under the other segment's VLAN ($nwrong seen)" test "$nwrong" -eq 0
check "tshark: no untagged VM frame on a trunk without native VLAN ($nuntagged seen)" test "$nuntagged" -eq 0

# Telemetry: the MAC table and segment counters.
macs_core=$(tel_get $P /vnf/macs,core 'r["count"]')
check "telemetry: core segment has learned MACs ($macs_core)" test "${macs_core:-0}" -ge 2
vm1_mac=$(ip netns exec s1-vm1 cat /sys/class/net/eth0/address)
check "telemetry: vm1's MAC is listed on port vm1" \
  bash -c "echo '/vnf/macs,core' | $PY /usr/bin/dpdk-telemetry.py -f $P 2>/dev/null | grep -q '$vm1_mac vm1 dynamic'"
crossed=$(tel_get $P /vnf/macs,info "sum(1 for e in r['entries'] if e.split()[1] in ('vm1','vm2'))")
check "telemetry: no core VM's MAC learned in info ($crossed)" test "$crossed" -eq 0

# A broken file on reload: refused, running config kept, traffic unaffected.
cp "$WORK/host.yaml" "$WORK/host.good"
printf '  - {name: vm5, type: af_packet, iface: s1vm5, mode: access, segment: nowhere}\n' >>"$WORK/host.yaml"
kill -HUP "$(cat "$WORK/sw.pid")"
wait_for 10 grep -q "reload rejected" "$WORK/sw.log"
check "bad reload: rejected with file:line:column" \
  grep -qE "reload rejected, running config unchanged: .*host.yaml:12:71: ports\[5\].segment: unknown segment .nowhere." "$WORK/sw.log"
check "bad reload: audit record says rejected" grep -q "audit: config rejected" "$WORK/sw.log"
gen=$(generation $P)
check "bad reload: still config generation 1 ($gen)" test "$gen" = 1
check "bad reload: traffic continues (vm1 -> vm2)" ns_ping s1-vm1 10.9.0.12
check_not "bad reload: segments still apart (vm1 -> vm3)" ns_ping s1-vm1 10.9.0.21

# A good reload moving vm2 from core to info.
sed 's/iface: s1vm2, mode: access, segment: core/iface: s1vm2, mode: access, segment: info/' \
  "$WORK/host.good" >"$WORK/host.yaml"
kill -HUP "$(cat "$WORK/sw.pid")"
wait_for 10 generation_is $P 2
gen=$(generation $P)
check "good reload: config generation 2 ($gen)" test "$gen" = 2
check "good reload: audit names the change" grep -q "port vm2: access core -> access info" "$WORK/sw.log"
check_not "good reload: vm2 left core (vm1 -> vm2 fails)" ns_ping s1-vm1 10.9.0.12
check "good reload: vm2 joined info (vm3 -> vm2)" ns_ping s1-vm3 10.9.0.12

drops=$(tel_get $P /vnf/drops 'sum(r.values())')
show_drops $P

stop_appliance sw
rc=$?
check "SIGTERM: clean exit (status $rc)" test "$rc" -eq 0
check "SIGTERM: no hugepage files left for $P" bash -c "! ls /dev/hugepages/ 2>/dev/null | grep -q '^$P'"
check "SIGTERM: host interfaces no longer promiscuous" bash -c "! ip link show s1vm1 | grep -q PROMISC"
