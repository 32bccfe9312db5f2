#!/usr/bin/env bash
# The firewall inside the host vswitch: two VMs of different systems on one segment, east-
# west traffic filtered by the firewall: section of the switch's own file.
#   web -> db:5432 (nc) works and replies flow; db -> web:22 is refused; ping web -> db works
#   by rule, db -> web does not; the rule's hit counter shows in telemetry.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/host.yaml" <<YAML
# program: vswitch
engine: {name: sysfw, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: web1, type: af_packet, iface: s4web, mode: access, segment: core}
  - {name: db1, type: af_packet, iface: s4db, mode: access, segment: core}
firewall:
  conntrack: {size: 4096}
  zones:
    - {name: web, ports: [web1]}
    - {name: db, ports: [db1]}
  rules:
    - {id: web-db, from: web, to: db, service: [tcp/5432], action: accept}
    - {id: web-db-ping, from: web, to: db, service: [icmp/echo-request], action: accept}
YAML
netns_host s4-web s4web 10.6.0.1/24
netns_host s4-db s4db 10.6.0.2/24
start_appliance sw vswitch "$WORK/host.yaml" || exit 1
P=vnf-sysfw

check "ping web -> db (allowed by rule web-db-ping)" ns_ping s4-web 10.6.0.2
check_not "ping db -> web (no rule: default deny between zones)" ns_ping s4-db 10.6.0.1

echo "hello from web" >"$WORK/msg"
ip netns exec s4-db timeout 8 nc -l -p 5432 >"$WORK/got" &
srv=$!
sleep 0.3
ip netns exec s4-web timeout 5 nc -q 1 10.6.0.2 5432 <"$WORK/msg"
wait $srv
check "TCP web -> db:5432 delivers the data (and its replies flow back)" cmp -s "$WORK/msg" "$WORK/got"

ip netns exec s4-web timeout 6 nc -l -p 22 >"$WORK/got22" &
srv=$!
sleep 0.3
check_not "TCP db -> web:22 cannot connect" ip netns exec s4-db timeout 3 nc -z -w 2 10.6.0.1 22
kill $srv 2>/dev/null
wait $srv 2>/dev/null

hits=$(tel_get $P /vnf/fw/rules "sum(v['hits'] for k, v in r.items() if isinstance(v, dict) and v.get('id') == 'web-db')")
check "telemetry: rule web-db counted its connection ($hits)" test "${hits:-0}" -ge 1
drops=$(tel_get $P /vnf/drops 'r["fw_policy_drop"]')
check "telemetry: the refused attempts are fw_policy_drop drops ($drops)" test "${drops:-0}" -ge 1

stop_appliance sw
check "stops cleanly" test $? -eq 0
