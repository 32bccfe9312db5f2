#!/usr/bin/env bash
# Backup routes with real hosts: a client behind vrouter reaches a server address that two
# upstream gateways (network namespaces) both serve. The default route goes via gateway 1
# (distance 1), with gateway 2 as the backup (distance 10); the router probes both every
# 200 ms and gives up on one after 3 unanswered probes.
#   - the primary carries the traffic while it answers;
#   - its namespace link goes down in the middle of a ping stream: the backup takes over
#     (telemetry, log, traffic via gateway 2), and the loss is measured and printed;
#   - the link comes back: the primary takes over again, loss measured and printed;
#   - IPv6 follows the same routes.
# Loss and detection time are reported, not asserted: they depend on the probe settings and
# on the machine. What is asserted is how the failure is found: by the link going down
# (rtnetlink), at once, not by 3 unanswered probes.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/router.yaml" <<YAML
# program: vrouter
engine: {name: rtfail, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 50}
ports:
  - {name: lan, type: af_packet, iface: rtf-lan}
  - {name: wan1, type: af_packet, iface: rtf-g1}
  - {name: wan2, type: af_packet, iface: rtf-g2}
interfaces:
  - {name: lan, port: lan, ipv4: [10.62.1.1/24], ipv6: ["2001:db8:62:1::1/64"]}
  - {name: wan1, port: wan1, ipv4: [10.62.11.1/24], ipv6: ["2001:db8:62:11::1/64"]}
  - {name: wan2, port: wan2, ipv4: [10.62.12.1/24], ipv6: ["2001:db8:62:12::1/64"]}
routes:
  - {prefix: 0.0.0.0/0, via: 10.62.11.2}
  - {prefix: 0.0.0.0/0, via: 10.62.12.2, distance: 10}
  - {prefix: "::/0", via: "2001:db8:62:11::2"}
  - {prefix: "::/0", via: "2001:db8:62:12::2", distance: 10}
neighbors: {probe_interval: 200ms, probe_misses: 3}
icmp: {rate: 1000, burst: 200}
YAML

netns_host rtf-h1 rtf-lan 10.62.1.2/24 2001:db8:62:1::2/64
netns_host rtf-g1 rtf-g1 10.62.11.2/24 2001:db8:62:11::2/64
netns_host rtf-g2 rtf-g2 10.62.12.2/24 2001:db8:62:12::2/64
ip netns exec rtf-h1 ip route add default via 10.62.1.1
ip netns exec rtf-h1 ip -6 route add default via 2001:db8:62:1::1
for g in 1 2; do
  # Both gateways serve the same "remote" address (an anycast server upstream) and route
  # back to the client's subnet through the router.
  ip netns exec "rtf-g$g" ip addr add 10.62.100.1/32 dev lo
  ip netns exec "rtf-g$g" ip -6 addr add 2001:db8:62:100::1/128 dev lo
  ip netns exec "rtf-g$g" ip route add 10.62.1.0/24 via "10.62.1$g.1"
  ip netns exec "rtf-g$g" ip -6 route add 2001:db8:62:1::/64 via "2001:db8:62:1$g::1"
done

start_appliance rt vrouter "$WORK/router.yaml" || exit 1
P=vnf-rtfail

route_state() {  # route_state NEXTHOP: active | backup | down
  tel $P /vnf/routes | "$PY" -c '
import json, sys
r = list(json.load(sys.stdin).values())[0]
for e in r["entries"]:
    f = e.split()
    if f[2] == sys.argv[1] and f[0] in ("0.0.0.0/0", "::/0"):
        print(f[-1]); break' "$1"
}
rx_on() {  # rx_on NS: packets received on the namespace's eth0
  ip netns exec "$1" cat /sys/class/net/eth0/statistics/rx_packets
}
wait_state() {  # wait_state NEXTHOP STATE: until telemetry shows it (10 s at most)
  for _ in $(seq 1 100); do
    [[ "$(route_state "$1")" == "$2" ]] && return 0
    sleep 0.1
  done
  return 1
}
# ping_stream NAME COUNT: COUNT echo requests 20 ms apart to the server, in the background.
ping_stream() {
  ip netns exec rtf-h1 ping -n -i 0.02 -W 1 -c "$2" 10.62.100.1 >"$WORK/$1.ping" 2>&1 &
  echo $! >"$WORK/$1.pid"
}
ping_wait() {  # ping_wait NAME: waits for the stream; sets SENT and GOT
  wait "$(cat "$WORK/$1.pid")"
  read -r SENT GOT < <(sed -nE 's/^([0-9]+) packets transmitted, ([0-9]+) received.*/\1 \2/p' "$WORK/$1.ping")
  SENT=${SENT:-0}
  GOT=${GOT:-0}
}
neighbor_reachable() {  # neighbor_reachable ADDR: until the cache says reachable (10 s at most)
  for _ in $(seq 1 100); do
    tel $P /vnf/neighbors | grep -q "\"$1 [0-9a-f:]* dev [a-z0-9]* reachable" && return 0
    sleep 0.1
  done
  return 1
}

check "gateway 1 answers the router's probes" neighbor_reachable 10.62.11.2
check "gateway 2 answers the router's probes" neighbor_reachable 10.62.12.2
check "primary next hop active (10.62.11.2)" wait_state 10.62.11.2 active
check "backup next hop standing by (10.62.12.2)" wait_state 10.62.12.2 backup
check "client reaches the server via the primary" ns_ping rtf-h1 10.62.100.1
# 20 echo requests: gateway 1 must see them all; gateway 2 sees only the router's probes
# (both of its next hops every 200 ms), far fewer than 20 in the time 20 pings take.
g1_before=$(rx_on rtf-g1)
g2_before=$(rx_on rtf-g2)
ip netns exec rtf-h1 ping -n -q -c 20 -i 0.02 -W 1 10.62.100.1 >/dev/null 2>&1
g1_delta=$(( $(rx_on rtf-g1) - g1_before ))
g2_delta=$(( $(rx_on rtf-g2) - g2_before ))
check "traffic goes via gateway 1 ($g1_delta packets), not gateway 2 ($g2_delta: probes only)" \
  test "$g1_delta" -ge 20 -a "$g2_delta" -lt 20
check "IPv6 via the primary" ns_ping rtf-h1 2001:db8:62:100::1

# Gateway 1's link goes down in the middle of a 6 s ping stream.
ip netns exec rtf-g1 sysctl -qw net.ipv6.conf.eth0.keep_addr_on_down=1
ping_stream down 300
sleep 1.5
t_down=$(date +%s%N)
ip netns exec rtf-g1 ip link set eth0 down
check "the backup takes over (10.62.12.2 active)" wait_state 10.62.12.2 active
t_switched=$(date +%s%N)
check "the primary is reported down" test "$(route_state 10.62.11.2)" = down
ping_wait down
sent=$SENT got=$GOT lost=$((SENT - GOT))
echo "NOTE: failover: $lost of $sent pings lost (20 ms apart: about $((lost * 20)) ms without service);" \
  "telemetry showed the backup active $(( (t_switched - t_down) / 1000000 )) ms after the link went down" \
  "(probes 200 ms x 3)"
check "pings flowed again after the failover ($got of $sent answered)" test "$got" -gt $((sent / 2))
check "client reaches the server via the backup" ns_ping rtf-h1 10.62.100.1
g2_before=$(rx_on rtf-g2)
ip netns exec rtf-h1 ping -n -q -c 20 -i 0.02 -W 1 10.62.100.1 >/dev/null 2>&1
g2_delta=$(( $(rx_on rtf-g2) - g2_before ))
check "traffic now goes via gateway 2 ($g2_delta packets for 20 pings)" test "$g2_delta" -ge 20
check "IPv6 via the backup" ns_ping rtf-h1 2001:db8:62:100::1
grep -E "(wan1|10.62.11.2).*(link|unanswered)" "$WORK/rt.log" | sed 's/^/NOTE: /'
check "log: the next hop fails with its link (rtnetlink), not after 3 probes" \
  grep -q "next hop 10.62.11.2 dev wan1: link down: unreachable" "$WORK/rt.log"
check "log: the backup route active" grep -q "route 0.0.0.0/0: distance 10 via 10.62.12.2 dev wan2 (now active)" "$WORK/rt.log"

# It comes back in the middle of another stream.
ping_stream up 300
sleep 1.5
t_up=$(date +%s%N)
ip netns exec rtf-g1 ip link set eth0 up
# Linux dropped gateway 1's return routes with its link; put them back (its IPv6 address was
# kept: keep_addr_on_down).
ip netns exec rtf-g1 ip route replace 10.62.1.0/24 via 10.62.11.1
ip netns exec rtf-g1 ip -6 route replace 2001:db8:62:1::/64 via 2001:db8:62:11::1
check "the primary takes over again (10.62.11.2 active)" wait_state 10.62.11.2 active
t_back=$(date +%s%N)
check "the backup is a backup again" wait_state 10.62.12.2 backup
ping_wait up
sent=$SENT got=$GOT lost=$((SENT - GOT))
echo "NOTE: fallback: $lost of $sent pings lost; the primary was active again" \
  "$(( (t_back - t_up) / 1000000 )) ms after its link came up"
check "pings flowed across the fallback ($got of $sent answered)" test "$got" -gt $((sent / 2))
check "client reaches the server via the primary again" ns_ping rtf-h1 10.62.100.1
g1_before=$(rx_on rtf-g1)
g2_before=$(rx_on rtf-g2)
ip netns exec rtf-h1 ping -n -q -c 20 -i 0.02 -W 1 10.62.100.1 >/dev/null 2>&1
g1_delta=$(( $(rx_on rtf-g1) - g1_before ))
g2_delta=$(( $(rx_on rtf-g2) - g2_before ))
check "traffic goes via gateway 1 again ($g1_delta packets; gateway 2: $g2_delta, probes only)" \
  test "$g1_delta" -ge 20 -a "$g2_delta" -lt 20
# Only the IPv4 route's state was awaited: give the IPv6 default route's fallback its time.
counts() { tel_get $P /vnf/router '"%d %d" % (r["failovers"], r["fallbacks"])'; }
wait_for 10 eval '[[ "$(counts)" == "2 2" ]]'
read -r fo fb < <(counts)
check "telemetry: failovers counted ($fo: IPv4 and IPv6 default routes)" test "$fo" -eq 2
check "telemetry: fallbacks counted ($fb)" test "$fb" -eq 2
show_drops $P

stop_appliance rt
rc=$?
check "SIGTERM: clean exit (status $rc)" test "$rc" -eq 0
