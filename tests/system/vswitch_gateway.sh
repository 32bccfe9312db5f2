#!/usr/bin/env bash
# The host switch as its segments' gateway (router: section) with the firewall (firewall:
# section), the real vswitch binary, namespaces as VMs in two segments:
#   ping, ping6, traceroute and traceroute6 cross from core to info through the anycast
#   gateway; iperf3 moves data across; the firewall (zones = segments) lets core open what
#   its rules allow and keeps info from opening anything towards core.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/host.yaml" <<YAML
# program: vswitch
engine: {name: sysgw, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 50}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
ports:
  - {name: c1, type: af_packet, iface: s5c1, mode: access, segment: core}
  - {name: i1, type: af_packet, iface: s5i1, mode: access, segment: info}
router:
  interfaces:
    - {name: gw-core, segment: core, ipv4: [10.61.0.1/24], ipv6: ["2001:db8:61::1/64"]}
    - {name: gw-info, segment: info, ipv4: [10.62.0.1/24], ipv6: ["2001:db8:62::1/64"]}
firewall:
  conntrack: {size: 4096}
  zones:
    - {name: core, segments: [core]}
    - {name: info, segments: [info]}
  services:
    - {name: ping, protocol: icmp, types: [echo-request]}
    - {name: ping6, protocol: icmp6, types: [echo-request]}
    - {name: traceroute, protocol: udp, ports: ["33434-33534"]}
    - {name: iperf, protocol: tcp, ports: [5201]}
  rules:
    - {id: core-info, from: core, to: info, service: [ping, ping6, traceroute, iperf], action: accept, cross_segment: true}
YAML
netns_host s5-c1 s5c1 10.61.0.10/24 2001:db8:61::10/64
netns_host s5-i1 s5i1 10.62.0.20/24 2001:db8:62::20/64
ip netns exec s5-c1 ip route add default via 10.61.0.1
ip netns exec s5-c1 ip -6 route add default via 2001:db8:61::1
ip netns exec s5-i1 ip route add default via 10.62.0.1
ip netns exec s5-i1 ip -6 route add default via 2001:db8:62::1
start_appliance sw vswitch "$WORK/host.yaml" || exit 1
P=vnf-sysgw

check "ping the core gateway (10.61.0.1)" ns_ping s5-c1 10.61.0.1
check "ping core -> info through the gateway" ns_ping s5-c1 10.62.0.20
check "ping6 core -> info through the gateway" ns_ping s5-c1 2001:db8:62::20
ip netns exec s5-c1 traceroute -n -q 1 -w 1 -m 4 10.62.0.20 >"$WORK/tr4" 2>&1
check "traceroute: first hop is the core gateway" grep -qE "^ *1 +10\.61\.0\.1 " "$WORK/tr4"
check "traceroute: second hop is the destination" grep -qE "^ *2 +10\.62\.0\.20 " "$WORK/tr4"
ip netns exec s5-c1 traceroute -6 -n -q 1 -w 1 -m 4 2001:db8:62::20 >"$WORK/tr6" 2>&1
check "traceroute6: the gateway, then the destination" \
  bash -c "grep -qE '^ *1 +2001:db8:61::1 ' '$WORK/tr6' && grep -qE '^ *2 +2001:db8:62::20 ' '$WORK/tr6'"
cat "$WORK/tr4" "$WORK/tr6" | sed 's/^/    /'

ip netns exec s5-i1 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
sleep 0.5
if ip netns exec s5-c1 timeout 20 iperf3 -c 10.62.0.20 -p 5201 -t 2 -J >"$WORK/iperf.json" 2>&1; then
  bps=$("$PY" -c "import json; print(int(json.load(open('$WORK/iperf.json'))['end']['sum_received']['bits_per_second']))")
  echo "iperf3 core -> info, routed and firewalled by the host switch: $((bps / 1000000)) Mbit/s"
  check "iperf3 core -> info moved data" test "$bps" -gt 0
else
  fail "iperf3 core -> info"
fi

check_not "ping info -> core: no rule lets info open anything towards core" ns_ping s5-i1 10.61.0.10
check_not "ping6 info -> core: likewise" ns_ping s5-i1 2001:db8:61::10
drops=$(tel_get $P /vnf/drops 'r["fw_policy_drop"]')
check "the refused crossings are fw_policy_drop drops ($drops)" test "${drops:-0}" -ge 1
routed=$(tel_get $P /vnf/interfaces "sum(v.get('routed_out_packets', 0) for v in r.values() if isinstance(v, dict))")
check "telemetry: the gateway interfaces routed packets ($routed)" test "${routed:-0}" -gt 10

stop_appliance sw
check "stops cleanly" test $? -eq 0
