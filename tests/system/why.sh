#!/usr/bin/env bash
# vnfctl why against a running host switch (router: and firewall: sections, namespaces as
# VMs in two segments): the answer names every stage (segment, MAC lookup, route and next
# hop, firewall rule or policy, egress port), agrees with what real traffic does, parses as
# JSON, changes nothing (no MAC learned, no connection, no drop counted), and refuses a bad
# description with one clear line.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/host.yaml" <<YAML
# program: vswitch
engine: {name: syswhy, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 50}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
ports:
  - {name: c1, type: af_packet, iface: s9c1, mode: access, segment: core}
  - {name: c2, type: af_packet, iface: s9c2, mode: access, segment: core}
  - {name: i1, type: af_packet, iface: s9i1, mode: access, segment: info}
router:
  interfaces:
    - {name: gw-core, segment: core, ipv4: [10.91.0.1/24]}
    - {name: gw-info, segment: info, ipv4: [10.92.0.1/24]}
firewall:
  conntrack: {size: 4096}
  zones:
    - {name: core, segments: [core], networks: [10.91.0.0/24]}
    - {name: info, segments: [info], networks: [10.92.0.0/24]}
  rules:
    - {id: core-info-ping, from: core, to: info, service: [icmp/echo-request], action: accept, cross_segment: true}
    - {id: core-info-web, from: core, to: info, service: [tcp/8080], action: accept, cross_segment: true}
YAML
netns_host s9-c1 s9c1 10.91.0.10/24
netns_host s9-c2 s9c2 10.91.0.11/24
netns_host s9-i1 s9i1 10.92.0.20/24
ip netns exec s9-c1 ip route add default via 10.91.0.1
ip netns exec s9-i1 ip route add default via 10.92.0.1
start_appliance sw vswitch "$WORK/host.yaml" || exit 1
P=vnf-syswhy

# Real traffic first: MACs learned, neighbours resolved.
check "ping core -> info through the gateway" ns_ping s9-c1 10.92.0.20
check "ping inside core" ns_ping s9-c1 10.91.0.11

# ---- a routed, allowed packet: every stage named
vc -i syswhy why port=c1 dst_mac=gw src=10.91.0.10 dst=10.92.0.20 proto=icmp
check "why ping core -> info: forwarded to i1, stage by stage" expect 0 \
  '^verdict +forward to i1$' \
  '^  ingress +segment core \(VLAN 100\)$' \
  '^  l2 +source .* learned on c1; destination .* is the router.s \(gw-core\)$' \
  '^  route +routed from gw-core out of gw-info to 10\.92\.0\.20 \(neighbour ..:..:..:..:..:..\)' \
  '^  firewall +zone core -> info: new connection, rule core-info-ping: accept, connection would be created$' \
  '^  egress +out of i1$'
vc -i syswhy why port=c1 dst_mac=gw src=10.91.0.10 dst=10.92.0.20 proto=icmp --json
check "why --json: verdict, egress, rule, zones, next hop as fields" json \
  'r["verdict"] == "forward" and r["egress"] == ["i1"] and r["rule"] == "core-info-ping" and r["zone_src"] == "core" and r["zone_dst"] == "info" and r["next_hop"] == "10.92.0.20" and r["route_out"] == "gw-info" and set(r["stages"]) == {"parse", "ingress", "l2", "route", "firewall", "egress"}'

# ---- inside the segment: switched, judged intra-zone
vc -i syswhy why port=c2 src=10.91.0.11 dst=10.91.0.10 proto=tcp dport=22 \
  dst_mac="$(ip netns exec s9-c1 cat /sys/class/net/eth0/address)" --json
check "why core -> core: switched to c1, the MAC known" json \
  'r["verdict"] == "forward" and r["egress"] == ["c1"] and "learned on c1" in r["l2_dst"] and r["firewall"] == "policy"'

# ---- a refused crossing: why and reality agree on the reason
vc -i syswhy why port=i1 dst_mac=gw src=10.92.0.20 dst=10.91.0.10 proto=icmp
check "why ping info -> core: dropped by the zone pair's policy" expect 0 \
  '^verdict +dropped: fw_policy_drop' '^  firewall +zone info -> core: new connection, policy zone info -> core: drop'
before=$(tel_get $P /vnf/drops 'r["fw_policy_drop"]')
check_not "the real ping info -> core is dropped" ns_ping s9-i1 10.91.0.10
after=$(tel_get $P /vnf/drops 'r["fw_policy_drop"]')
check "... and counted as fw_policy_drop ($before -> $after), as why said" test "$after" -gt "$before"

vc -i syswhy why port=c1 dst_mac=gw src=10.91.0.10 dst=10.92.0.20 proto=tcp dport=8081 --json
check "why core -> info tcp/8081: no rule, policy drop" json \
  'r["verdict"] == "drop" and r["reason"] == "fw_policy_drop" and r["firewall"] == "policy"'
check_not "the real connection to 8081 fails" \
  ip netns exec s9-c1 timeout 3 nc -z -w 2 10.92.0.20 8081
vc -i syswhy why port=c1 dst_mac=gw src=10.91.0.10 dst=10.99.0.1 proto=udp dport=53 --json
check "why to an address without a route: no_route, ICMP error back out of c1" json \
  'r["verdict"] == "drop" and r["reason"] == "no_route" and r["icmp_error_out"] == "c1"'

# ---- a probe changes nothing
drops0=$(tel_get $P /vnf/drops 'sum(r.values())')
conns0=$(tel_get $P /vnf/fw/stats 'r["connections"]')
vc -i syswhy why port=c1 src_mac=02:aa:bb:cc:dd:ee dst_mac=gw src=10.91.0.10 dst=10.92.0.20 proto=tcp dport=8080
check "why with a new source MAC: would be learned, connection would be created" expect 0 \
  '^  l2 +source 02:aa:bb:cc:dd:ee not in the table: would be learned' \
  'connection would be created'
vc -i syswhy why port=c1 dst_mac=gw src=10.91.0.10 dst=10.92.0.20 proto=tcp dport=8081
sleep 0.3
vc -i syswhy show macs core
check "... and nothing was learned" lacks '02:aa:bb:cc:dd:ee'
check "... no connection was opened ($conns0)" test "$(tel_get $P /vnf/fw/stats 'r["connections"]')" = "$conns0"
check "... no drop was counted ($drops0)" test "$(tel_get $P /vnf/drops 'sum(r.values())')" = "$drops0"

# ---- bad descriptions: one line each, nothing run
vc -i syswhy why port=nope src=10.91.0.10 dst=10.92.0.20
check "why port=nope: one line naming the port" expect_error 1 "^vnfctl: why: port: no port 'nope'$"
vc -i syswhy why port=c1 src=10.91.0.10
check "why without dst: one line naming dst" expect_error 1 '^vnfctl: why: dst: required'
vc -i syswhy why port=c1 src=10.91.0.10 dst=10.92.0.20 proto=tcp
check "why tcp without dport: one line naming dport" expect_error 1 '^vnfctl: why: dport: required'
vc -i syswhy why port=c1 src=10.91.0.10 dst=10.92.0.20 colour=red
check "why with an unknown parameter: one line naming it and the known ones" expect_error 1 '^vnfctl: why: colour: unknown parameter \(known: port .* op\)$'
vc -i syswhy why
check "why without a description: usage, status 2" expect_error 2 '^vnfctl: usage: vnfctl -i INSTANCE why port=P'
vc -i syswhy why port=c1 hello
check "why with a word that is not KEY=VALUE: status 2" expect_error 2 "'hello' is not KEY=VALUE"

check "the appliance still forwards (ping core -> info)" ns_ping s9-c1 10.92.0.20
stop_appliance sw
check "stops cleanly" test $? -eq 0
