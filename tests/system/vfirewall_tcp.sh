#!/usr/bin/env bash
# vfirewall between two hosts (network namespaces), bump-in-the-wire on af_packet ports:
#   - TCP (nc) from zone A to zone B is allowed by a rule, and data flows both ways;
#   - B may not open connections to A (no rule: default deny), even to a listening port;
#   - a reject rule answers B at once with a TCP reset (nc: connection refused);
#   - ping6 from A to B is allowed by a rule (ICMPv6 echo), B -> A is not; IPv4 ping has no
#     rule at all;
#   - telemetry shows rule hits and the connection table; a reload that removes the TCP rule
#     closes the open connection.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/fw.yaml" <<YAML
# program: vfirewall
engine: {name: fwsys1, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
ports:
  - {name: a, type: af_packet, iface: fwta0}
  - {name: b, type: af_packet, iface: fwtb0}
wires: [[a, b]]
zones:
  - {name: za, ports: [a]}
  - {name: zb, ports: [b]}
rules:
  - {id: a-to-b-tcp, from: za, to: zb, service: [tcp/5001], action: accept}
  - {id: a-ping6, from: za, to: zb, service: [icmp6/echo-request], action: accept}
  - {id: b-to-a-reject, from: zb, to: za, service: [tcp/5002], action: reject}
YAML

netns_host fwta fwta0 10.77.0.1/24 fd00:77::1/64
netns_host fwtb fwtb0 10.77.0.2/24 fd00:77::2/64

start_appliance fw vfirewall "$WORK/fw.yaml" || exit 1
P=vnf-fwsys1

# TCP A -> B, both directions of data: A sends 64 kB, B answers with 64 kB of its own.
head -c 65536 /dev/urandom >"$WORK/blob_a"
head -c 65536 /dev/urandom >"$WORK/blob_b"
ip netns exec fwtb timeout 15 nc -l -p 5001 <"$WORK/blob_b" >"$WORK/rx_b" &
srv=$!
sleep 0.5
ip netns exec fwta timeout 15 nc -q 2 10.77.0.2 5001 <"$WORK/blob_a" >"$WORK/rx_a"
wait $srv
check "TCP A -> B allowed: 64 kB arrive intact at B" cmp -s "$WORK/blob_a" "$WORK/rx_b"
check "TCP A -> B: B's 64 kB reply arrives intact at A (replies flow)" cmp -s "$WORK/blob_b" "$WORK/rx_a"

# B -> A refused, although A listens: no rule, default deny between zones.
ip netns exec fwta timeout 10 nc -l -p 5001 >/dev/null &
lst=$!
sleep 0.5
check_not "TCP B -> A refused (A listens on 5001)" ip netns exec fwtb timeout 5 nc -z -w 2 10.77.0.1 5001
kill $lst 2>/dev/null
wait $lst 2>/dev/null
drops=$(tel_get $P /vnf/drops 'r["fw_policy_drop"]')
check "B -> A SYNs counted as fw_policy_drop ($drops)" test "${drops:-0}" -ge 1

# A reject rule: B gets a reset from the firewall (A listens, so only the firewall refuses).
ip netns exec fwta timeout 10 nc -l -p 5002 >/dev/null &
lst=$!
sleep 0.5
out=$(ip netns exec fwtb timeout 5 nc -v -w 3 10.77.0.1 5002 </dev/null 2>&1)
check "TCP B -> A:5002 rejected with a reset ('$out')" grep -qi "refused" <<<"$out"
kill $lst 2>/dev/null
wait $lst 2>/dev/null
sent=$(tel_get $P /vnf/fw/stats 'r["rejects_sent"]')
check "telemetry: rejects_sent ($sent)" test "${sent:-0}" -ge 1

# ICMPv6: ping6 A -> B by rule; nothing B -> A; IPv4 ping has no rule.
check "ping6 A -> B allowed by rule a-ping6" ns_ping fwta fd00:77::2
check_not "ping6 B -> A refused" ns_ping fwtb fd00:77::1
check_not "ping (IPv4) A -> B has no rule" ns_ping fwta 10.77.0.2

hits=$(tel_get $P /vnf/fw/rules 'r["a_to_b_tcp"]["hits"]')
check "telemetry: rule a-to-b-tcp hits ($hits)" test "${hits:-0}" -ge 1
hits6=$(tel_get $P /vnf/fw/rules 'r["a_ping6"]["hits"]')
check "telemetry: rule a-ping6 hits ($hits6)" test "${hits6:-0}" -ge 1
check "vnfctl show rules lists the rules in order" \
  bash -c "$TOP/scripts/vnfctl -i fwsys1 show rules | awk 'NR==2 && \$2==\"a-to-b-tcp\"' | grep -q ."

# An open connection, then a reload that removes its rule: the connection is closed.
mkfifo "$WORK/pipe"
ip netns exec fwtb timeout 30 nc -l -p 5001 >"$WORK/rx_live" &
srv=$!
sleep 0.5
(ip netns exec fwta timeout 30 nc 10.77.0.2 5001 <"$WORK/pipe" >/dev/null) &
cli=$!
exec 7>"$WORK/pipe"
echo "before reload" >&7
sleep 1
conns=$(tel_get $P /vnf/fw/conns,proto=tcp,dport=5001 'r["count"]')
check "telemetry: the open connection is listed ($conns)" test "${conns:-0}" -ge 1
sed -i '/a-to-b-tcp/d' "$WORK/fw.yaml"
kill -HUP "$(cat "$WORK/fw.pid")"
wait_for 10 generation_is $P 2
gen=$(generation $P)
check "reload applied (generation $gen)" test "$gen" = 2
echo "after reload" >&7
sleep 1
exec 7>&-
check "before the reload, data flowed" grep -q "before reload" "$WORK/rx_live"
check_not "after the reload, the connection is closed (nothing arrives)" grep -q "after reload" "$WORK/rx_live"
closed=$(tel_get $P /vnf/fw/stats 'r["recheck_closed"]')
check "telemetry: recheck_closed ($closed)" test "${closed:-0}" -ge 1
kill $srv $cli 2>/dev/null
wait $srv $cli 2>/dev/null

stop_appliance fw
rc=$?
check "SIGTERM: clean exit (status $rc)" test "$rc" -eq 0
