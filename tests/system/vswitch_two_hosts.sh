#!/usr/bin/env bash
# Two hosts: two vswitch instances whose uplink trunks meet in a Linux bridge (the upstream
# switch). VMs of one segment on different hosts reach each other (ping, iperf3); VMs of
# different segments never do, in either direction.
source "$(dirname "$0")/lib.sh"

host_yaml() {  # host_yaml NAME TAG
  cat <<YAML
# program: vswitch
engine: {name: $1, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 50}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
ports:
  - {name: vm1, type: af_packet, iface: s2${2}v1, mode: access, segment: core}
  - {name: vm2, type: af_packet, iface: s2${2}v2, mode: access, segment: info}
  - {name: uplink, type: af_packet, iface: s2${2}tr, mode: trunk, segments: [core, info]}
YAML
}
host_yaml sys2a a >"$WORK/a.yaml"
host_yaml sys2b b >"$WORK/b.yaml"

netns_host s2a-vm1 s2av1 10.9.0.11/24
netns_host s2a-vm2 s2av2 10.9.0.21/24
netns_host s2b-vm1 s2bv1 10.9.0.12/24
netns_host s2b-vm2 s2bv2 10.9.0.22/24
veth_pair s2atr s2abr
veth_pair s2btr s2bbr
if upstream_bridge s2br; then
  for p in s2abr s2bbr; do
    ip link set "$p" master s2br
    bridge vlan del dev "$p" vid 1
    bridge vlan add dev "$p" vid 100
    bridge vlan add dev "$p" vid 200
  done
  echo "upstream switch: Linux bridge with vlan_filtering, VLANs 100 and 200 on both trunks"
else
  for p in s2abr s2bbr; do ip link set "$p" master s2br; done
  echo "NOTE: this kernel has no VLAN-filtering bridge (CONFIG_VLAN_8021Q unset): the upstream"
  echo "      switch is a plain Linux bridge that forwards tagged frames as they are, so"
  echo "      segment separation below rests on the two vswitch instances alone."
fi

start_appliance a vswitch "$WORK/a.yaml" || exit 1
start_appliance b vswitch "$WORK/b.yaml" || exit 1

check "core across hosts: a/vm1 -> b/vm1" ns_ping s2a-vm1 10.9.0.12
check "info across hosts: a/vm2 -> b/vm2" ns_ping s2a-vm2 10.9.0.22
check "core across hosts: b/vm1 -> a/vm1" ns_ping s2b-vm1 10.9.0.11
check_not "never across segments: a/vm1 -> b/vm2" ns_ping s2a-vm1 10.9.0.22
check_not "never across segments: a/vm2 -> b/vm1" ns_ping s2a-vm2 10.9.0.12
check_not "never across segments: b/vm1 -> a/vm2" ns_ping s2b-vm1 10.9.0.21
check_not "never across segments: b/vm2 -> a/vm1" ns_ping s2b-vm2 10.9.0.11

# iperf3 across the two switches, in core (2 s; the figure is reported, not judged).
ip netns exec s2b-vm1 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
sleep 0.5
if ip netns exec s2a-vm1 timeout 20 iperf3 -c 10.9.0.12 -p 5201 -t 2 -J >"$WORK/iperf.json" 2>&1; then
  bps=$("$PY" -c "import json; print(int(json.load(open('$WORK/iperf.json'))['end']['sum_received']['bits_per_second']))")
  echo "iperf3 a/vm1 -> b/vm1 across two vswitch instances: $((bps / 1000000)) Mbit/s"
  check "iperf3 across hosts in core moved data" test "$bps" -gt 0
else
  fail "iperf3 across hosts in core"
  tail -5 "$WORK/iperf.json"
fi

# Each host learned the other host's core VM behind its uplink, in core only.
bmac=$(ip netns exec s2b-vm1 cat /sys/class/net/eth0/address)
# An empty or garbled MAC would make the "did not learn" check below pass or fail for nothing.
is_mac() { [[ "$1" =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]]; }
check "b/vm1's MAC read ($bmac)" is_mac "$bmac"
check "host a learned b/vm1 on its uplink in core" \
  bash -c "echo /vnf/macs,core | $PY /usr/bin/dpdk-telemetry.py -f vnf-sys2a 2>/dev/null | grep -q '\"$bmac uplink'"
check_not "host a did not learn b/vm1 in info" \
  bash -c "echo /vnf/macs,info | $PY /usr/bin/dpdk-telemetry.py -f vnf-sys2a 2>/dev/null | grep -q '\"$bmac '"
echo "      info on host a: $(echo /vnf/macs,info | $PY /usr/bin/dpdk-telemetry.py -f vnf-sys2a 2>/dev/null | tail -1 | head -c 600)"
echo "      b/vm1 $bmac; b/vm2 $(ip netns exec s2b-vm2 cat /sys/class/net/eth0/address); a/vm2 $(ip netns exec s2a-vm2 cat /sys/class/net/eth0/address)"

stop_appliance a
check "host a stops cleanly" test $? -eq 0
stop_appliance b
check "host b stops cleanly" test $? -eq 0
