#!/usr/bin/env bash
# 802.3ad against a second, independent LACP partner: the Linux kernel's bonding driver
# (mode 802.3ad, lacp_rate fast) in the upstream namespace. Kernels built without bonding
# (CONFIG_BONDING unset, as on this project's CI machines) cannot be that partner: the test then
# says so and skips; tests/system/bond.sh runs the same checks against Open vSwitch's LACP.
source "$(dirname "$0")/lib.sh"

if ! ip link add vnfbondprobe0 type bond mode 802.3ad 2>/dev/null; then
  skip "802.3ad against the Linux bonding driver: this kernel has no bonding (CONFIG_BONDING unset); Open vSwitch is the LACP partner in tests/system/bond.sh"
  exit 0
fi
ip link del vnfbondprobe0 2>/dev/null

cat >"$WORK/host.yaml" <<YAML
# program: vswitch
engine: {name: bdlnx, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: vm1, type: af_packet, iface: blvm1, mode: access, segment: core}
  - name: uplink
    type: bond
    mode: access
    segment: core
    bond: {mode: 802.3ad, hash: l34, members: [{name: upa, type: af_packet, iface: blA}, {name: upb, type: af_packet, iface: blB}]}
YAML
netns_host bl-vm1 blvm1 10.9.5.11/24
uplink_ns bl-up blA:ua blB:ub
ip netns exec bl-up sh -c 'ip link set ua down; ip link set ub down
  ip link add bond0 type bond mode 802.3ad lacp_rate fast xmit_hash_policy layer3+4 miimon 100
  ip link set ua master bond0; ip link set ub master bond0; ip link set bond0 up
  ip addr add 10.9.5.1/24 dev bond0' >/dev/null 2>&1

start_appliance lnx vswitch "$WORK/host.yaml" || exit 1
P=vnf-bdlnx
selected() {
  [[ "$(tel_get "$P" /vnf/bond_members,uplink "sum(1 for m in r.values() if m.get('lacp_selected') == 'selected' and 'distributing' in m.get('actor_state', ''))")" == 2 ]]
}
check "802.3ad with the Linux bonding driver: both members selected and distributing" wait_for 15 selected
check "the kernel sees one aggregator with both ports" \
  test "$(ip netns exec bl-up grep -c 'Aggregator ID' /proc/net/bonding/bond0)" -ge 2
check "vm1 reaches the host behind the Linux bond" ns_ping bl-vm1 10.9.5.1
ip netns exec bl-up ip link set ua down
check "traffic keeps flowing with one member's cable pulled" ns_ping bl-vm1 10.9.5.1
