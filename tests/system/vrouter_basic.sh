#!/usr/bin/env bash
# The vrouter appliance between three subnets, with real hosts (network namespaces):
#   - hosts in different subnets ping each other through it, IPv4 and IPv6, and ping its
#     addresses;
#   - traceroute (UDP, IPv4 and IPv6) shows the router as the first hop and the host second;
#   - iperf3 (TCP) across it, throughput printed;
#   - a host behind a VLAN interface (802.1Q from scapy: this kernel has no VLAN subinterfaces)
#     gets tagged ARP and echo replies;
#   - a host outside every subnet of the router, behind an on-link route (`interface: lan4`,
#     no `via`), is resolved and answers pings through the router, and a reload keeps it;
#   - telemetry shows neighbours, routes and interface counters;
#   - a bad reload is refused with file:line:column, a good one adds a route; SIGTERM is clean.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/router.yaml" <<YAML
# program: vrouter
engine: {name: rtbasic, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 50}
ports:
  - {name: p1, type: af_packet, iface: rtb1}
  - {name: p2, type: af_packet, iface: rtb2}
  - {name: p3, type: af_packet, iface: rtb3}
  - {name: p4, type: af_packet, iface: rtb4}
interfaces:
  - {name: lan1, port: p1, ipv4: [10.61.1.1/24], ipv6: ["2001:db8:61:1::1/64"]}
  - {name: lan2, port: p2, ipv4: [10.61.2.1/24], ipv6: ["2001:db8:61:2::1/64"]}
  - {name: vlan300, port: p3, vlan: 300, ipv4: [10.61.3.1/24]}
  - {name: lan4, port: p4, ipv4: [10.61.4.1/24]}
neighbors: {probe_interval: 500ms}
routes:
  # on-link, outside lan4's subnet: the router resolves each destination itself
  - {prefix: 192.0.2.0/24, interface: lan4}
YAML

netns_host rtb-h1 rtb1 10.61.1.2/24 2001:db8:61:1::2/64
netns_host rtb-h2 rtb2 10.61.2.2/24 2001:db8:61:2::2/64
netns_host rtb-h3 rtb3
# h4 sits outside every subnet of the router: 192.0.2.10/24, its way back on-link to 10.61.4.1.
netns_host rtb-h4 rtb4 192.0.2.10/24
ip netns exec rtb-h4 ip route add default via 10.61.4.1 dev eth0 onlink
for n in 1 2; do
  ip netns exec "rtb-h$n" ip route add default via "10.61.$n.1"
  ip netns exec "rtb-h$n" ip -6 route add default via "2001:db8:61:$n::1"
done

start_appliance rt vrouter "$WORK/router.yaml" || exit 1
P=vnf-rtbasic

check "ping the router's own address (h1 -> 10.61.1.1)" ns_ping rtb-h1 10.61.1.1
check "ping the router's other interface (h1 -> 10.61.2.1)" ns_ping rtb-h1 10.61.2.1
check "ping across subnets, IPv4 (h1 -> h2)" ns_ping rtb-h1 10.61.2.2
check "ping across subnets, IPv4 (h2 -> h1)" ns_ping rtb-h2 10.61.1.2
check "ping the router, IPv6 (h1 -> 2001:db8:61:1::1)" ns_ping rtb-h1 2001:db8:61:1::1
check "ping across subnets, IPv6 (h1 -> h2)" ns_ping rtb-h1 2001:db8:61:2::2
check "ping across subnets, IPv6 (h2 -> h1)" ns_ping rtb-h2 2001:db8:61:1::2
check "on-link route outside the interface's subnets: h1 -> 192.0.2.10 (h4 on lan4)" \
  ns_ping rtb-h1 192.0.2.10
check "on-link route outside the interface's subnets: h4 -> h1" ns_ping rtb-h4 10.61.1.2
rt_ll=$(tel_get $P /vnf/interfaces 'r["lan2"]["link_local"]')
check "ping the router's link-local address from h2 ($rt_ll)" ns_ping rtb-h2 "$rt_ll%eth0"

# traceroute: the router answers TTL 1 with time exceeded, the host answers with port
# unreachable; both hops must be named.
tr4=$(ip netns exec rtb-h1 traceroute -n -q 1 -w 2 -m 5 10.61.2.2 2>&1)
echo "$tr4" | sed 's/^/      /'
check "traceroute IPv4: hop 1 is the router (10.61.1.1)" grep -qE '^ *1 +10\.61\.1\.1 ' <<<"$tr4"
check "traceroute IPv4: hop 2 is h2 (10.61.2.2)" grep -qE '^ *2 +10\.61\.2\.2 ' <<<"$tr4"
tr6=$(ip netns exec rtb-h1 traceroute -6 -n -q 1 -w 2 -m 5 2001:db8:61:2::2 2>&1)
echo "$tr6" | sed 's/^/      /'
check "traceroute IPv6: hop 1 is the router (2001:db8:61:1::1)" grep -qE '^ *1 +2001:db8:61:1::1 ' <<<"$tr6"
check "traceroute IPv6: hop 2 is h2 (2001:db8:61:2::2)" grep -qE '^ *2 +2001:db8:61:2::2 ' <<<"$tr6"

# iperf3 across the router, both families.
ip netns exec rtb-h2 timeout 30 iperf3 -s -1 -p 5201 >"$WORK/iperf_s.log" 2>&1 &
srv=$!
sleep 0.5
if ip netns exec rtb-h1 timeout 20 iperf3 -c 10.61.2.2 -p 5201 -t 3 -J >"$WORK/iperf.json" 2>&1; then
  bps=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(d["end"]["sum_received"]["bits_per_second"]))' "$WORK/iperf.json")
  echo "NOTE: iperf3 TCP h1 -> h2 through vrouter (IPv4): $((bps / 1000000)) Mbit/s (af_packet ports, shared cores; not a benchmark)"
  check "iperf3 IPv4 across the router moved data" test "$bps" -gt 0
else
  fail "iperf3 IPv4 across the router"
  tail -5 "$WORK/iperf.json"
fi
wait "$srv"
ip netns exec rtb-h2 timeout 30 iperf3 -s -1 -p 5202 >"$WORK/iperf6_s.log" 2>&1 &
srv=$!
sleep 0.5
if ip netns exec rtb-h1 timeout 20 iperf3 -6 -c 2001:db8:61:2::2 -p 5202 -t 3 -J >"$WORK/iperf6.json" 2>&1; then
  bps=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(d["end"]["sum_received"]["bits_per_second"]))' "$WORK/iperf6.json")
  echo "NOTE: iperf3 TCP h1 -> h2 through vrouter (IPv6): $((bps / 1000000)) Mbit/s"
  check "iperf3 IPv6 across the router moved data" test "$bps" -gt 0
else
  fail "iperf3 IPv6 across the router"
  tail -5 "$WORK/iperf6.json"
fi
wait "$srv"

# A host on VLAN 300 of port p3, speaking 802.1Q from user space.
check "VLAN interface: tagged ARP and echo replies for 10.61.3.1 on VLAN 300" \
  vlan_probe rtb-h3 eth0 300 10.61.3.2 10.61.3.1
check_not "VLAN interface: nothing on VLAN 301" vlan_probe rtb-h3 eth0 301 10.61.3.2 10.61.3.1

# Telemetry.
nb=$(tel $P /vnf/neighbors)
check "telemetry: h1 and h2 are reachable neighbours" \
  bash -c "grep -q '10.61.1.2 .* dev lan1 ' <<<'$nb' && grep -q '10.61.2.2 .* dev lan2 ' <<<'$nb' && grep -q '2001:db8:61:2::2 ' <<<'$nb'"
routes=$(tel $P /vnf/routes)
check "telemetry: connected routes listed as active" grep -q '10.61.2.0/24 dev lan2 distance 0 connected active' <<<"$routes"
check "vnfctl show routes lists the connected subnets" \
  bash -c "'$TOP/scripts/vnfctl' -p $P show routes | grep -q '^10.61.2.0/24 dev lan2 distance 0 connected active'"
check "vnfctl show interfaces lists lan1" \
  bash -c "'$TOP/scripts/vnfctl' -p $P show interfaces | grep -q '^lan1 '"
routed=$(tel_get $P /vnf/interfaces 'r["lan2"]["routed_out_packets"]')
check "telemetry: packets routed out of lan2 ($routed)" test "${routed:-0}" -gt 100
show_drops $P

# vnfctl why on the router appliance: the frame is addressed to the interface where it enters.
vc -i rtbasic why port=p1 src=10.61.1.2 dst=10.61.2.2 proto=udp dport=9 --json
check "why h1 -> h2: routed from lan1 out of lan2, to h2's MAC, out of p2" json \
  'r["verdict"] == "forward" and r["egress"] == ["p2"] and r["route_out"] == "lan2" and r["next_hop"] == "10.61.2.2" and "routed from lan1 out of lan2" in r["stages"]["route"]'
vc -i rtbasic why port=p1 src=10.61.1.2 dst=10.61.1.1 proto=icmp --json
check "why h1 -> the router: answered out of p1" json \
  'r["verdict"] == "answer" and r["egress"] == ["p1"]'
vc -i rtbasic why port=p1 src=10.61.1.2 dst=198.51.100.1 proto=udp dport=9 --json
check "why to no route: no_route, ICMP error out of p1" json \
  'r["verdict"] == "drop" and r["reason"] == "no_route" and r["icmp_error_out"] == "p1"'
vc -i rtbasic why port=p3 dst_mac=02:00:00:00:00:99 src=10.61.3.2 dst=10.61.1.2 proto=icmp --json
check "why untagged on p3 (only VLAN 300 there): no_interface" json \
  'r["verdict"] == "drop" and r["reason"] == "no_interface"'

# Reloads: a broken one is refused with its position, a good one adds a route.
cp "$WORK/router.yaml" "$WORK/router.good"
printf '  - {prefix: 10.99.0.0/16, via: 10.77.0.1}\n' >>"$WORK/router.yaml"
kill -HUP "$(cat "$WORK/rt.pid")"
wait_for 10 grep -q "reload rejected" "$WORK/rt.log"
check "bad reload: rejected with file:line:column (next hop on no interface)" \
  grep -qE "reload rejected, running config unchanged: .*router.yaml:17:33: routes\[1\].via: next hop 10.77.0.1 is on no interface" "$WORK/rt.log"
gen=$(generation $P)
check "bad reload: still config generation 1 ($gen)" test "$gen" = 1
cp "$WORK/router.good" "$WORK/router.yaml"
printf '  - {prefix: 10.99.0.0/16, via: 10.61.2.2}\n' >>"$WORK/router.yaml"
ip netns exec rtb-h2 ip addr add 10.99.0.9/32 dev lo
kill -HUP "$(cat "$WORK/rt.pid")"
wait_for 10 generation_is $P 2
gen=$(generation $P)
check "good reload: config generation 2 ($gen)" test "$gen" = 2
nb=$(tel $P /vnf/neighbors)
check "good reload: the on-link neighbour outside lan4's subnet is kept (192.0.2.10)" \
  grep -q '192.0.2.10 .* dev lan4 ' <<<"$nb"
check "good reload: the new route works (h1 -> 10.99.0.9 via h2)" ns_ping rtb-h1 10.99.0.9
check "good reload: traffic on existing routes continues (h1 -> h2)" ns_ping rtb-h1 10.61.2.2

stop_appliance rt
rc=$?
check "SIGTERM: clean exit (status $rc)" test "$rc" -eq 0
check "SIGTERM: no hugepage files left for $P" bash -c "! ls /dev/hugepages/ 2>/dev/null | grep -q '^$P'"
