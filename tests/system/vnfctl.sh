#!/usr/bin/env bash
# vnfctl against live appliances: a host vswitch with firewall: and router: sections, a
# vfirewall and a vrouter, on af_packet ports into network namespaces that send real traffic
# (so that MAC tables, connections, neighbours, rule hits and drops have something in them).
# Every subcommand runs against the appliance it belongs to, and every check looks at what
# it printed, not only at its exit status:
#   show info/ports/switchports/segments/macs SEG/drops [--all]/config/interfaces/routes/
#   neighbors/rules/zones/conns [FILTER]/shipper (only its error here without engine.events;
#   the table: tests/system/shipper.sh), raw CMD, reload (applied; rejected with
#   file:line:column, the running config unchanged), check PROGRAM FILE (valid, invalid);
# and the error paths: no such instance, an instance that is not running, a command the
# appliance does not have, bad arguments, an answer larger than the receive buffer, a garbled
# answer. Errors are one line on stderr and a non-zero status; never a Python traceback.
source "$(dirname "$0")/lib.sh"

OUT=""
RC=0

# ---------------------------------------------------------------- the host vswitch
sw_yaml() {  # sw_yaml EXTRA_SEGMENT_LINE C1_SEGMENT
  cat <<YAML
# program: vswitch
engine: {name: vcsw, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
$1
ports:
  - {name: c1, type: af_packet, iface: vcc1, mode: access, segment: $2}
  - {name: i1, type: af_packet, iface: vci1, mode: access, segment: info, mac_limit: 64}
  - {name: up, type: null, devargs: "no-rx=1", mode: trunk, segments: [core, info], native: info}
router:
  interfaces:
    - {name: gw-core, segment: core, ipv4: [10.71.0.1/24]}
    - {name: gw-info, segment: info, ipv4: [10.72.0.1/24]}
  routes:
    - {prefix: 10.99.0.0/16, via: 10.72.0.20, cross_segment: true}
firewall:
  conntrack: {size: 4096}
  zones:
    - {name: core, segments: [core]}
    - {name: info, segments: [info]}
  rules:
    - {id: core-info, from: core, to: info, service: [icmp/echo-request], action: accept, cross_segment: true}
YAML
}
sw_yaml "" core >"$WORK/host.yaml"
netns_host vc-c1 vcc1 10.71.0.10/24
netns_host vc-i1 vci1 10.72.0.20/24
ip netns exec vc-c1 ip route add default via 10.71.0.1
ip netns exec vc-i1 ip route add default via 10.72.0.1
start_appliance sw vswitch "$WORK/host.yaml" || exit 1

check "traffic: core pings info through the gateway and the firewall" ns_ping vc-c1 10.72.0.20
c1_mac=$(ip netns exec vc-c1 cat /sys/class/net/eth0/address)
# One frame with a broadcast source MAC: the switch drops it as bad_src_mac.
ip netns exec vc-c1 "$PY" -c '
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
s.send(b"\xff" * 6 + b"\xff" * 6 + b"\x88\xb5" + b"\x00" * 46)'
sleep 0.5

vc -i vcsw show info
check "show info: program, instance, generation" \
  expect 0 '^program: vswitch$' '^instance: vcsw$' '^config_generation: 1$' '^pid: [0-9]+$'
vc -i vcsw show
check "show (no what): the same as show info" expect 0 '^program: vswitch$'
vc -i vcsw show ports
check "show ports: every port with its type and link" \
  expect 0 '^name +type +link +rx_packets' '^c1 +af_packet +up +[1-9]' '^i1 +af_packet ' '^up +null '
vc -i vcsw show switchports
check "show switchports: access ports, the trunk with its VLANs and native VLAN" \
  expect 0 '^c1 +access +100 ' '^i1 +access +200 .* 64$' '^up +trunk +100,200 +200 +0x8100 +no '
vc -i vcsw show segments
check "show segments: VLAN, ports and traffic per segment" \
  expect 0 '^core +100 +c1,up +[1-9][0-9]* +[1-9]' '^info +200 +i1,up '
vc -i vcsw show macs core
check "show macs core: the VM's MAC, learned on c1 ($c1_mac)" \
  expect 0 '^segment core \(vlan 100\): [1-9][0-9]* MACs$' "^$c1_mac +c1 +dynamic +[0-9]+$"
vc -i vcsw show macs nowhere
check "show macs of a segment that does not exist: one-line error naming the segments" \
  expect_error 1 "no segment 'nowhere' \(segments: core, info\)"
vc -i vcsw show drops
check "show drops: the bad source MAC is counted, zero reasons are left out" \
  expect 0 '^reason +packets$' '^bad_src_mac +[1-9]'
check "show drops: no zero counter listed" lacks '^eth_truncated '
vc -i vcsw --all show drops
n_all=$(grep -cE '^[a-z0-9_]+ +[0-9]+$' <<<"$OUT")
n_reasons=$(tel_get vnf-vcsw /vnf/drops 'len(r)')
check "show drops --all: a row per reason ($n_all rows, $n_reasons reasons)" \
  test "$n_all" -eq "${n_reasons:-0}" -a "$n_all" -gt 50
check "show drops --all: zero counters too" expect 0 '^eth_truncated +0$' '^bad_src_mac +[1-9]'
vc -i vcsw show config
check "show config: the running generation and the start-up apply record" \
  expect 0 '^running generation 1 \(1 apply attempts since start\)$' \
  '^1 +[0-9T:+-]+ +applied +1 +[0-9a-f]{16} +start '
vc -i vcsw show interfaces
check "show interfaces (router section): the gateway interfaces with their addresses" \
  expect 0 '^gw-core +100 +core +[0-9a-f:]{17} +1500 +10\.71\.0\.1/24 ' '^gw-info +200 +info '
vc -i vcsw show routes
check "show routes (router section): the static route" expect 0 '10\.99\.0\.0/16.*10\.72\.0\.20'
vc -i vcsw show neighbors
check "show neighbors (router section): the host it forwarded to" expect 0 '10\.72\.0\.20'
vc -i vcsw show rules
check "show rules (firewall section): the rule and its hits" \
  expect 0 '^position +id +action +hits' '^1 +core-info +accept +[1-9]'
vc -i vcsw show zones
check "show zones (firewall section)" expect 0 '^core +[0-9]+ +[1-9]' '^info +[0-9]+ +[0-9]+'
ns_ping vc-c1 10.72.0.20 # a fresh connection for the listing
vc -i vcsw show conns
check "show conns: the ICMP connection core -> info" \
  expect 0 '^[1-9][0-9]* connections$' '10\.71\.0\.10.*10\.72\.0\.20.*zones core->info'
vc -i vcsw show conns proto=icmp,zone=core
check "show conns FILTER (proto=icmp,zone=core): matches" \
  expect 0 '^[1-9][0-9]* connections$' '10\.71\.0\.10'
vc -i vcsw show conns proto=tcp
check "show conns FILTER (proto=tcp): nothing matches" expect 0 '^0 connections$'
vc -i vcsw show conns zone=nowhere
check "show conns with an unknown zone: refused, one line" \
  expect_error 1 "/vnf/fw/conns: the appliance refused the parameter 'zone=nowhere'"
vc -i vcsw show conns colour=red
check "show conns with an unknown filter key: usage error" \
  expect_error 2 "unknown filter key 'colour'"
vc -i vcsw raw /vnf/mac_stats
check "raw /vnf/mac_stats: the JSON answer" expect 0 '^  "learned": [1-9]' '^  "capacity": [0-9]+'
vc -i vcsw raw /
check "raw /: the list of commands" expect 0 '"/vnf/segments"' '"/vnf/fw/rules"' '"/vnf/routes"'
vc -i vcsw raw /vnf/nothing
check "raw of an unknown command: one-line error" \
  expect_error 1 "appliance 'vcsw' has no telemetry command /vnf/nothing"
vc -i vcsw raw /vnf/macs,nowhere
check "raw with a parameter the appliance refuses: one-line error" \
  expect_error 1 "/vnf/macs: the appliance refused the parameter 'nowhere'"

# reload, applied: a new segment.
sw_yaml "  - {name: dmz, vlan: 300}" core >"$WORK/host.yaml"
vc -i vcsw reload
check "reload (valid edit): applied, generation 2, the change named" \
  expect 0 '^applied: generation 2 hash [0-9a-f]{16}: .*dmz'
vc -i vcsw show segments
check "after the reload: the new segment is there" expect 0 '^dmz +300 '
# reload, rejected: a port in a segment that does not exist.
sw_yaml "  - {name: dmz, vlan: 300}" nowhere >"$WORK/host.yaml"
bad_line=$(grep -n 'segment: nowhere' "$WORK/host.yaml" | cut -d: -f1)
vc -i vcsw reload
check "reload (bad edit): rejected with file:line:column, non-zero" \
  expect 1 "^rejected: generation 2 hash [0-9a-f]{16}: .*host\.yaml:$bad_line:[0-9]+: .*nowhere"
vc -i vcsw show info
check "after the rejected reload: still generation 2" expect 0 '^config_generation: 2$'
vc -i vcsw show segments
check "after the rejected reload: the running segments unchanged" \
  expect 0 '^dmz +300 ' '^core +100 +c1,up '
vc -i vcsw show config
check "show config: three attempts, the last one rejected" \
  expect 0 '^running generation 2 \(3 apply attempts since start\)$' \
  '^2 +[0-9T:+-]+ +applied +2 .* SIGHUP ' '^3 +[0-9T:+-]+ +rejected +2 .* SIGHUP .*nowhere'
vc check vswitch "$WORK/host.yaml"
check "check vswitch (invalid file): status 2, file:line:column" \
  expect 2 "host\.yaml:$bad_line:[0-9]+: .*unknown segment 'nowhere'"
sw_yaml "" core >"$WORK/host.yaml"
vc check vswitch "$WORK/host.yaml"
check "check vswitch (valid file): status 0, OK" expect 0 'host\.yaml: OK \(2 segments, 3 ports'

# ---------------------------------------------------------------- the vfirewall
fw_yaml() {  # fw_yaml EXTRA_RULE_LINE
  cat <<YAML
# program: vfirewall
engine: {name: vcfw, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
ports:
  - {name: a, type: af_packet, iface: vcfa}
  - {name: b, type: af_packet, iface: vcfb}
wires: [[a, b]]
zones:
  - {name: za, ports: [a]}
  - {name: zb, ports: [b], conn_limit: 100}
rules:
  - {id: a-ping, from: za, to: zb, service: [icmp/echo-request], action: accept}
$1
YAML
}
fw_yaml "" >"$WORK/fw.yaml"
netns_host vc-fa vcfa 10.73.0.1/24
netns_host vc-fb vcfb 10.73.0.2/24
start_appliance fw vfirewall "$WORK/fw.yaml" || exit 1
check "traffic: A pings B through the firewall" ns_ping vc-fa 10.73.0.2

vc -i vcfw show info
check "vfirewall show info" expect 0 '^program: vfirewall$' '^instance: vcfw$'
vc -i vcfw show ports
check "vfirewall show ports" expect 0 '^a +af_packet +up +[1-9]' '^b +af_packet +up +[1-9]'
vc -i vcfw show rules
check "vfirewall show rules: hits of the ping rule" expect 0 '^1 +a-ping +accept +[1-9]'
vc -i vcfw show zones
check "vfirewall show zones: created connections, the limit" \
  expect 0 '^za +[0-9]+ +[1-9][0-9]* +[1-9][0-9]* +default_share ' \
  '^zb +[0-9]+ +[0-9]+ +100 +configured '
vc -i vcfw show conns zone=za
check "vfirewall show conns zone=za" expect 0 '^[1-9][0-9]* connections$' '10\.73\.0\.1.*10\.73\.0\.2'
vc -i vcfw show drops
check "vfirewall show drops: a table (possibly empty)" expect 0 '^(reason +packets|\(none\))$'
vc -i vcfw show config
check "vfirewall show config" expect 0 '^running generation 1 ' ' applied +1 .* start '
vc -i vcfw show switchports
check "vfirewall show switchports: not a switch, one-line error" \
  expect_error 1 "has no telemetry command /vnf/switchports \(a vswitch command\)"
vc -i vcfw show routes
check "vfirewall show routes: not a router, one-line error" \
  expect_error 1 "has no telemetry command /vnf/routes \(a vrouter command"
vc -i vcfw show shipper
check "vfirewall show shipper without engine.events: one-line error naming the key" \
  expect_error 1 "has no telemetry command /vnf/shipper \(an appliance with engine.events"
fw_yaml "  - {id: b-ping, from: zb, to: za, service: [icmp/echo-request], action: accept}" >"$WORK/fw.yaml"
vc -i vcfw reload
check "vfirewall reload (valid): applied, generation 2" expect 0 '^applied: generation 2 '
vc -i vcfw show rules
check "vfirewall: the new rule is listed" expect 0 '^2 +b-ping +accept '
fw_yaml "  - {id: b-ping, from: zb, to: nowhere, action: accept}" >"$WORK/fw.yaml"
bad_line=$(grep -n 'to: nowhere' "$WORK/fw.yaml" | cut -d: -f1)
vc -i vcfw reload
check "vfirewall reload (unknown zone): rejected with file:line:column" \
  expect 1 "^rejected: generation 2 hash [0-9a-f]{16}: .*fw\.yaml:$bad_line:[0-9]+: .*nowhere"
vc -i vcfw show rules
check "vfirewall: after the rejected reload the rules are unchanged" \
  expect 0 '^1 +a-ping ' '^2 +b-ping +accept '
vc check vfirewall "$WORK/fw.yaml"
check "check vfirewall (invalid): status 2, file:line:column" expect 2 "fw\.yaml:$bad_line:[0-9]+: "
fw_yaml "" >"$WORK/fw.yaml"
vc check vfirewall "$WORK/fw.yaml"
check "check vfirewall (valid): status 0, OK" expect 0 'fw\.yaml: OK \(2 zones, 1 rules'
# 150 more zones (one per segment): more than one telemetry answer holds (16 kB); show zones
# follows the pages (50 a page) and lists all 152.
{
  fw_yaml "" | awk '{ print } /^zones:$/ { for (i = 1; i <= 150; i++) printf "  - {name: zs%d, segments: [s%d]}\n", i, i }'
  echo "segments:"
  for i in $(seq 1 150); do echo "  - {name: s$i, vlan: $((1000 + i))}"; done
} >"$WORK/fw.yaml"
vc -i vcfw reload
check "vfirewall reload (150 more zones): applied, generation 3" expect 0 '^applied: generation 3 '
vc -i vcfw show zones
check "vfirewall show zones: zones of the first and the last page" \
  expect 0 '^zs1 +0 +0 +[1-9]' '^zs150 +0 +0 +[1-9]' '^zb +[0-9]+ +[0-9]+ +100 +configured '
check "vfirewall show zones: all 152 zones over 4 pages" \
  test "$(grep -cE '^z[a-z0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ ' <<<"$OUT")" -eq 152

# ---------------------------------------------------------------- the vrouter
rt_yaml() {  # rt_yaml EXTRA_ROUTE_LINE
  cat <<YAML
# program: vrouter
engine: {name: vcrt, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
ports:
  - {name: p1, type: af_packet, iface: vcr1}
  - {name: p2, type: af_packet, iface: vcr2}
interfaces:
  - {name: lan1, port: p1, ipv4: [10.74.1.1/24]}
  - {name: lan2, port: p2, ipv4: [10.74.2.1/24]}
routes:
  - {prefix: 10.98.0.0/16, via: 10.74.2.20}
$1
route_files: [routes.txt]
neighbors: {probe_interval: 500ms}
YAML
}
rt_yaml "" >"$WORK/rt.yaml"
printf '10.97.0.0/16 via 10.74.2.20 distance 5\n198.18.0.0/15 blackhole\n' >"$WORK/routes.txt"
netns_host vc-r1 vcr1 10.74.1.10/24
netns_host vc-r2 vcr2 10.74.2.20/24
ip netns exec vc-r1 ip route add default via 10.74.1.1
ip netns exec vc-r2 ip route add default via 10.74.2.1
start_appliance rt vrouter "$WORK/rt.yaml" || exit 1
check "traffic: a host pings the other subnet through the router" ns_ping vc-r1 10.74.2.20

vc -i vcrt show info
check "vrouter show info" expect 0 '^program: vrouter$' '^instance: vcrt$'
vc -i vcrt show interfaces
check "vrouter show interfaces: ports, addresses, traffic" \
  expect 0 '^lan1 +p1 +0 +lan1 +[0-9a-f:]{17} +1500 +10\.74\.1\.1/24 +up +[1-9]' '^lan2 +p2 '
vc -i vcrt show routes
check "vrouter show routes: from the file and from route_files" \
  expect 0 '10\.98\.0\.0/16.*10\.74\.2\.20' '10\.97\.0\.0/16.*10\.74\.2\.20' '198\.18\.0\.0/15.*blackhole'
vc -i vcrt show neighbors
check "vrouter show neighbors: the resolved host" expect 0 '10\.74\.2\.20'
vc -i vcrt show drops --all
check "vrouter show drops --all: the router's reasons" expect 0 '^no_route +[0-9]+$'
vc -i vcrt show rules
check "vrouter show rules: not a firewall, one-line error" \
  expect_error 1 "has no telemetry command /vnf/fw/rules \(a vfirewall command"
vc -i vcrt show macs core
check "vrouter show macs: not a switch, one-line error" \
  expect_error 1 "has no telemetry command /vnf/segments \(a vswitch command\)"
rt_yaml "  - {prefix: 10.96.0.0/16, via: 10.74.1.10}" >"$WORK/rt.yaml"
vc -i vcrt reload
check "vrouter reload (new route): applied, generation 2" expect 0 '^applied: generation 2 '
vc -i vcrt show routes
check "vrouter: the new route is there" expect 0 '10\.96\.0\.0/16.*10\.74\.1\.10'
printf '10.97.0.0/16 via 10.74.2.20 distance 5\n10.95.0.0/16 via 10.9.9.9\n' >"$WORK/routes.txt"
vc -i vcrt reload
check "vrouter reload (bad route file line): rejected with routes.txt:2:column" \
  expect 1 '^rejected: generation 2 hash [0-9a-f]{16}: .*routes\.txt:2:[0-9]+: .*10\.9\.9\.9'
vc -i vcrt show routes
check "vrouter: after the rejected reload the routes are unchanged" \
  expect 0 '10\.96\.0\.0/16' '198\.18\.0\.0/15.*blackhole'
check "vrouter: and the rejected route is not there" lacks '10\.95\.0\.0'
vc check vrouter "$WORK/rt.yaml"
check "check vrouter (bad route file): status 2, file:line:column" expect 2 'routes\.txt:2:[0-9]+: '
printf '10.97.0.0/16 via 10.74.2.20 distance 5\n' >"$WORK/routes.txt"
vc check vrouter "$WORK/rt.yaml"
check "check vrouter (valid): status 0, OK" expect 0 'rt\.yaml: OK \(2 interfaces, '

# ---------------------------------------------------------------- errors
vc -i vcnone show info
check "no such instance: one-line error, non-zero" \
  expect_error 1 "no appliance 'vcnone': /var/run/dpdk/vnf-vcnone/dpdk_telemetry.v2 does not exist"
vc -p vnf-vcnone show ports
check "no such prefix: one-line error, non-zero" expect_error 1 "no appliance with prefix 'vnf-vcnone'"
vc -i ../vcsw show info
check "an instance name that is no name: usage error" expect_error 2 "-i '../vcsw': a name of"
vc -i vcsw show bogus
check "show of an unknown table: usage error" expect_error 2 '^vnfctl: show bogus\? \(one of: info, '
vc -i vcsw show macs
check "show macs without a segment: usage error" expect_error 2 'usage: vnfctl show macs SEGMENT'
vc -i vcsw show drops core
check "show drops with a stray argument: usage error" expect_error 2 'show drops takes no argument'
vc -i vcsw raw
check "raw without a command: usage error" expect_error 2 'usage: vnfctl raw /COMMAND'
vc -i vcsw raw vnf/info
check "raw of a command without the leading /: usage error" expect_error 2 'usage: vnfctl raw /COMMAND'
vc check vswitch
check "check without a file: usage error" expect_error 2 'usage: vnfctl check PROGRAM FILE'
vc check vbridge "$WORK/host.yaml"
check "check of an unknown program: one-line error" expect_error 2 "unknown program 'vbridge'"
vc check vswitch "$WORK/missing.yaml"
check "check of a missing file: one-line error" expect_error 1 'missing\.yaml: no such file'
vc -i vcsw frobnicate
check "unknown subcommand: argparse usage, status 2" expect 2 'invalid choice'

# A socket nobody listens on (an appliance that died without cleaning up).
mkdir -p /var/run/dpdk/vnf-vcstale
"$PY" -c "
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind('/var/run/dpdk/vnf-vcstale/dpdk_telemetry.v2')"
vc -i vcstale show info
check "a left-over socket, nobody answers: 'not running', one line" \
  expect_error 1 "appliance 'vcstale' is not running"
rm -rf /var/run/dpdk/vnf-vcstale

# A telemetry server that sends more than it announced, and one that sends garbage.
mkdir -p /var/run/dpdk/vnf-vcfake
cat >"$WORK/fake_telemetry.py" <<'PYEOF'
import json, os, socket, sys
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
srv.bind(path)
srv.listen(4)
while True:
    c, _ = srv.accept()
    c.send(json.dumps({"version": "fake", "pid": os.getpid(), "max_output_len": 256}).encode())
    while True:
        cmd = c.recv(1024).decode()
        if not cmd:
            break
        name = cmd.split(",")[0]
        if name == "/vnf/big":
            c.send(json.dumps({name: {"k%d" % i: "x" * 40 for i in range(40)}}).encode())
        elif name == "/vnf/garbled":
            c.send(b'{"/vnf/garbled": [1, 2')
        elif name == "/":
            c.send(json.dumps({"/": ["/", "/vnf/big", "/vnf/garbled"]}).encode())
        else:
            c.send(json.dumps({name: None}).encode())
    c.close()
PYEOF
"$PY" "$WORK/fake_telemetry.py" /var/run/dpdk/vnf-vcfake/dpdk_telemetry.v2 &
fake=$!
for _ in $(seq 1 50); do [[ -S /var/run/dpdk/vnf-vcfake/dpdk_telemetry.v2 ]] && break; sleep 0.1; done
vc -i vcfake raw /vnf/big
check "an answer larger than the receive buffer: one-line error" \
  expect_error 1 'larger than the receive buffer \(256 bytes'
vc -i vcfake raw /vnf/garbled
check "a garbled answer: one-line error" expect_error 1 '/vnf/garbled: garbled answer'
vc -i vcfake show segments
check "a command the (fake) appliance lacks: one-line error" \
  expect_error 1 "has no telemetry command /vnf/segments"
kill "$fake" 2>/dev/null
wait "$fake" 2>/dev/null
rm -rf /var/run/dpdk/vnf-vcfake

# More segments than one telemetry answer holds (16 kB): every one is listed, none lost.
{
  echo "# program: vswitch"
  echo "engine: {name: vcmany, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100, hugepages: false}"
  echo "segments:"
  for v in $(seq 1001 1300); do echo "  - {name: seg$v, vlan: $v}"; done
  echo "ports: [{name: sink, type: null, mode: trunk, segments: [seg1001, seg1300]}]"
} >"$WORK/many.yaml"
start_appliance many vswitch "$WORK/many.yaml" || exit 1
vc -i vcmany show segments
check "show segments: all 300 segments of a 300-segment switch (paged)" \
  test "$(grep -cE '^seg1[0-9]{3} +1[0-9]{3} ' <<<"$OUT")" -eq 300
stop_appliance many

# An appliance that has stopped.
stop_appliance rt
vc -i vcrt show info
check "a stopped appliance: one-line error, non-zero" \
  expect_error 1 "no appliance 'vcrt'|appliance 'vcrt' is not running"

check "no vnfctl call printed a Python traceback ($CALLS calls)" \
  bash -c "! grep -q -e Traceback -e 'internal error' '$WORK/vnfctl.log'"
stop_appliance fw
check "vfirewall stops cleanly" test $? -eq 0
stop_appliance sw
check "vswitch stops cleanly" test $? -eq 0
