#!/usr/bin/env bash
# A reload loop under traffic (issue #10): a host switch with a firewall gets 100 reloads in
# about 10 s, alternating two files that both allow web -> db ping and TCP 5432 but differ in
# other rules, a segment and descriptions. Meanwhile a ping stream (10 ms) and one TCP
# connection (a line every 50 ms) run from web to db. Nothing that both files allow is lost,
# the TCP connection opened before the loop carries every line (its firewall connection is
# kept), and the learned MACs stay (no flooding of unknown unicast afterwards).
source "$(dirname "$0")/lib.sh"

conf() {  # conf A|B
  local extra_rule extra_seg desc
  if [[ $1 == A ]]; then
    extra_rule="    - {id: web-db-ssh, from: web, to: db, service: [tcp/22], action: accept}"
    extra_seg="  - {name: lab, vlan: 300, description: lab A}"
    desc="core A"
  else
    extra_rule="    - {id: web-db-dns, from: web, to: db, service: [udp/53], action: accept, log: true}"
    extra_seg="  - {name: dmz, vlan: 400}"
    desc="core B"
  fi
  cat <<YAML
# program: vswitch
engine: {name: rloop, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100, description: $desc}
$extra_seg
ports:
  - {name: web1, type: af_packet, iface: rlweb, mode: access, segment: core}
  - {name: db1, type: af_packet, iface: rldb, mode: access, segment: core}
firewall:
  conntrack: {size: 4096}
  zones:
    - {name: web, ports: [web1]}
    - {name: db, ports: [db1]}
  rules:
$extra_rule
    - {id: web-db, from: web, to: db, service: [tcp/5432], action: accept}
    - {id: web-db-ping, from: web, to: db, service: [icmp/echo-request], action: accept}
YAML
}
conf A >"$WORK/a.yaml"
conf B >"$WORK/b.yaml"
cp "$WORK/a.yaml" "$WORK/host.yaml"
netns_host rl-web rlweb 10.5.0.1/24
netns_host rl-db rldb 10.5.0.2/24
start_appliance sw vswitch "$WORK/host.yaml" --state-dir "$WORK/state" || exit 1
P=vnf-rloop
pid=$(cat "$WORK/sw.pid")

check "ping web -> db before the loop" ns_ping rl-web 10.5.0.2
check "ping db -> web refused (no rule) before the loop" bash -c "! ip netns exec rl-db ping -c 1 -W 1 10.5.0.1 >/dev/null"
macs0=$(tel_get $P /vnf/macs,core 'r["count"]')
flood0=$(tel_get $P /vnf/segments 'r["core"]["flooded"]')

# The TCP connection, opened before the loop: 240 lines, one every 50 ms (12 s).
ip netns exec rl-db timeout 30 nc -l -p 5432 >"$WORK/tcp.rx" &
srv=$!
sleep 0.3
(for i in $(seq 1 240); do echo "line $i"; sleep 0.05; done) |
  ip netns exec rl-web timeout 30 nc -q 2 10.5.0.2 5432 &
cli=$!
sleep 0.5
ip netns exec rl-web ping -i 0.01 -c 1100 -W 1 10.5.0.2 >"$WORK/stream.log" 2>&1 &
stream=$!
sleep 0.2

# 100 reloads paced 100 ms apart (10 s), each waited for (its audit line), alternating the
# files. How long they took is printed, not asserted (speed is bench/'s business).
start=$(date +%s%N)
applied=0
for n in $(seq 2 101); do
  slot=$((start + (n - 2) * 100000000))
  now=$(date +%s%N)
  ((now < slot)) && sleep "$(awk "BEGIN {print ($slot - $now) / 1e9}")"
  if ((n % 2)); then cp "$WORK/a.yaml" "$WORK/host.yaml"; else cp "$WORK/b.yaml" "$WORK/host.yaml"; fi
  kill -HUP "$pid"
  for _ in $(seq 1 400); do
    grep -q "audit: config applied .*generation=$n via=SIGHUP" "$WORK/sw.log" && { applied=$((applied + 1)); break; }
    sleep 0.005
  done
done
ms=$((($(date +%s%N) - start) / 1000000))
echo "100 reloads in $ms ms (paced 100 ms apart)"
check "100 reloads applied, one after the other ($applied)" test "$applied" -eq 100
gen=$(generation $P)
check "generation 101 ($gen)" test "$gen" = 101
rejected=$(grep -c "reload rejected" "$WORK/sw.log")
check "none rejected ($rejected)" test "$rejected" -eq 0

wait $stream
summary=$(grep -E "packets transmitted" "$WORK/stream.log")
echo "ping stream web -> db (10 ms): $summary"
sent=$(grep -oE "^[0-9]+ packets transmitted" <<<"$summary" | grep -oE "^[0-9]+")
got=$(grep -oE "[0-9]+ received" <<<"$summary" | grep -oE "^[0-9]+")
check "stream: 1100 pings sent (${sent:-0})" test "${sent:-0}" -eq 1100
check "stream: not one lost (${got:-?} received)" test "${got:-x}" = "${sent:-0}"
wait $cli
wait $srv
lines=$(wc -l <"$WORK/tcp.rx")
check "TCP connection opened before the loop carried all 240 lines ($lines)" test "$lines" -eq 240
check "TCP: the lines arrived intact and in order" \
  bash -c "diff -q <(seq 1 240 | sed 's/^/line /') '$WORK/tcp.rx' >/dev/null"
fwdrops=$(tel_get $P /vnf/drops 'sum(v for k, v in r.items() if k.startswith("fw_") and k != "fw_policy_drop")')
check "no firewall drop but the refused ping (invalid, spoofed...: $fwdrops)" test "${fwdrops:-1}" -eq 0
macs1=$(tel_get $P /vnf/macs,core 'r["count"]')
flood1=$(tel_get $P /vnf/segments 'r["core"]["flooded"]')
check "MACs kept: $macs0 before, $macs1 after" test "$macs1" -eq "$macs0" -a "$macs0" -ge 2
# Forgotten MACs would flood the ping stream's frames: hundreds in the loop's 10 s. What floods
# anyway is the namespaces' own broadcast and multicast (ARP, IPv6 neighbour and router
# discovery): 5 to 10 frames in this window, measured, so 10 was too tight a bound.
check "no flooding from forgotten MACs ($flood0 -> $flood1 flooded frames)" \
  test $((flood1 - flood0)) -lt 50
show_drops $P

stop_appliance sw
check "SIGTERM: clean exit" test $? -eq 0
