#!/usr/bin/env bash
# The Prometheus endpoint (/metrics) of a host vswitch with an embedded firewall and a limit,
# bound to a second loopback address (engine.management):
#   - scraped with curl and parsed by prometheus_client's text-format parser, at rest, it
#     agrees with telemetry read just before and after: per port, per segment, per rule, per
#     drop reason (every one), per limit colour; every sample names the appliance;
#   - Content-Type is the text format 0.0.4; other paths are 404, POST 405;
#   - nothing answers on 127.0.0.1 (the endpoint listens on 127.0.0.2 only);
#   - a reload that changes engine.management is refused with file:line:column;
#   - after SIGTERM the port is closed;
#   - a standalone vfirewall on ::1 (IPv6): its rule hits and port counters agree as well;
#   - a vrouter: its interface counters and the routing table size agree.
source "$(dirname "$0")/lib.sh"

MADDR=127.0.0.2
MPORT=19464
URL="http://$MADDR:$MPORT"

write_cfg() {  # write_cfg METRICS_PORT
  cat >"$WORK/host.yaml" <<YAML
# program: vswitch
engine:
  name: met1
  lcores: [0, 1]
  memory_mb: 256
  idle_sleep_us: 100
  management: {address: $MADDR, metrics_port: $1}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: vm1, type: af_packet, iface: mtvm1, mode: access, segment: core, limit: {rx: {rate: 50Mbit}}}
  - {name: vm2, type: af_packet, iface: mtvm2, mode: access, segment: core}
firewall:
  conntrack: {size: 4096}
  zones:
    - {name: a, ports: [vm1]}
    - {name: b, ports: [vm2]}
  rules:
    - {id: a-b-ping, from: a, to: b, service: [icmp/echo-request], action: accept}
    - {id: b-a-db, from: b, to: a, service: [tcp/5432], action: accept}
YAML
}
write_cfg $MPORT

if ss -ltnH "( sport = :$MPORT )" | grep -q .; then
  skip "port $MPORT is in use on this host"
  exit 0
fi
netns_host mt-vm1 mtvm1 10.9.8.1/24
netns_host mt-vm2 mtvm2 10.9.8.2/24
start_appliance sw vswitch "$WORK/host.yaml" || exit 1
P=vnf-met1

check "the log names the endpoint" grep -q "metrics: $URL/metrics" "$WORK/sw.log"
check "listening on $MADDR:$MPORT only" \
  test "$(ss -ltnH "( sport = :$MPORT )" | awk '{print $4}')" = "$MADDR:$MPORT"

check "ping vm1 -> vm2 (rule a-b-ping)" ns_ping mt-vm1 10.9.8.2
check_not "ping vm2 -> vm1 refused (fw_policy_drop)" ns_ping mt-vm2 10.9.8.1
for _ in 1 2 3; do ip netns exec mt-vm1 ping -n -q -c 1 -W 1 10.9.8.2 >/dev/null 2>&1; done
sleep 1  # the counters at rest: nothing in flight

# Telemetry, the scrape, telemetry again; retried while something still moved.
# Without what changes by itself: the seconds since a rule's last hit, the measured rates.
volatile='import json,sys
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in ("last_hit_s_ago", "measured_bps", "measured_pps")}
    return x
json.dump(strip(json.load(sys.stdin)), sys.stdout, sort_keys=True)'
snapshot() {  # snapshot DIR
  local d=$1 c
  mkdir -p "$d"
  for c in /vnf/ports /vnf/drops /vnf/fw/rules /vnf/segments /vnf/limits; do
    tel $P "$c" | "$PY" -c "$volatile" >"$d/$(echo "${c#/vnf/}" | tr / _).json"
  done
}
for attempt in 1 2 3 4 5; do
  snapshot "$WORK/before"
  curl -sS -D "$WORK/headers" -o "$WORK/metrics.txt" "$URL/metrics"
  crc=$?
  snapshot "$WORK/after"
  diff -rq "$WORK/before" "$WORK/after" >/dev/null && break
  echo "NOTE: telemetry moved during the scrape (attempt $attempt): again"
  sleep 1
done
check "curl GET /metrics succeeds" test "$crc" -eq 0
check "telemetry at rest around the scrape" diff -rq "$WORK/before" "$WORK/after"
check "HTTP 200" grep -qE '^HTTP/1\.[01] 200' "$WORK/headers"
check "Content-Type: text/plain; version=0.0.4" \
  grep -qiE '^Content-Type: text/plain; version=0\.0\.4' "$WORK/headers"

# The comparison, one line per check: "ok|what" or "bad|what".
cat >"$WORK/compare.py" <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families

work = sys.argv[1]
def tel(name):
    with open(f"{work}/before/{name}.json") as f:
        return list(json.load(f).values())[0]

samples = {}
appliances = set()
families = {}
for fam in text_string_to_metric_families(open(f"{work}/metrics.txt").read()):
    families[fam.name] = fam.type
    for s in fam.samples:
        labels = dict(s.labels)
        appliances.add(labels.pop("appliance", None))
        samples[(s.name, frozenset(labels.items()))] = s.value

def out(ok, what):
    print(("ok|" if ok else "bad|") + what)

def metric(name, **labels):
    return samples.get((name, frozenset(labels.items())))

def same(what, name, want, **labels):
    got = metric(name, **labels)
    out(got is not None and got == want, f"{what}: {name}{labels} = {got}, telemetry {want}")

out(appliances == {"met1"}, f"every sample has appliance=\"met1\" ({appliances})")
out(families.get("vnf_port_rx_packets") == "counter", "vnf_port_rx_packets_total is a counter")
info = [dict(k[1]) for k in samples if k[0] == "vnf_info"]
out(len(info) == 1 and info[0].get("program") == "vswitch" and bool(info[0].get("version")),
    f"vnf_info{{program=\"vswitch\",version}} ({info})")

ports = {k: v for k, v in tel("ports").items() if isinstance(v, dict)}
out(set(p["name"] for p in ports.values()) == {"vm1", "vm2"}, "telemetry lists vm1 and vm2")
for p in ports.values():
    for key in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "tx_dropped", "rx_dropped"):
        same(f"port {p['name']}", f"vnf_port_{key}_total", p[key], port=p["name"])
out(ports["vm1"]["rx_packets"] >= 5, f"vm1 received the pings ({ports['vm1']['rx_packets']})")

drops = tel("drops")
bad = [r for r, v in drops.items() if metric("vnf_drops_total", reason=r) != v]
out(not bad and len(drops) > 40, f"all {len(drops)} drop reasons agree (differ: {bad})")
same("drop reason", "vnf_drops_total", drops["fw_policy_drop"], reason="fw_policy_drop")
out(drops["fw_policy_drop"] >= 1, f"fw_policy_drop counted ({drops['fw_policy_drop']})")

rules = {v["id"]: v for v in tel("fw_rules").values() if isinstance(v, dict)}
for rid, r in rules.items():
    for key in ("hits", "packets", "bytes"):
        same(f"rule {rid}", f"vnf_fw_rule_{key}_total", r[key], rule=rid)
out(rules["a-b-ping"]["hits"] >= 1, f"rule a-b-ping hit ({rules['a-b-ping']['hits']})")
out(metric("vnf_fw_rule_hits_total", rule="b-a-db") == 0, "rule b-a-db: no hits, a sample of 0")

seg = tel("segments")["core"]
for key, name in (("rx_packets", "rx_packets"), ("rx_bytes", "rx_bytes"),
                  ("flooded", "flooded_packets"), ("dropped", "dropped_packets")):
    same("segment core", f"vnf_segment_{name}_total", seg[key], segment="core", vlan="100")
out(seg["rx_packets"] >= 5, f"segment core counted packets ({seg['rx_packets']})")

lim = [v for v in tel("limits").values() if isinstance(v, dict) and v["port"] == "vm1"]
out(len(lim) == 1, "telemetry: one limit row for vm1")
for colour in ("green", "yellow", "red"):
    for unit in ("packets", "bytes"):
        same(f"limit vm1 rx {colour}", f"vnf_limit_{unit}_total", lim[0][f"{colour}_{unit}"],
             port="vm1", segment="", **{"class": ""}, dir="rx", colour=colour)
out(lim[0]["green_packets"] >= 5, f"the limit metered green packets ({lim[0]['green_packets']})")
PY
"$PY" "$WORK/compare.py" "$WORK" >"$WORK/compare.out" 2>&1 || echo "compare.py: $(tail -3 "$WORK/compare.out")"
while IFS='|' read -r verdict what; do
  if [[ $verdict == ok ]]; then pass "metrics: $what"; else fail "metrics: $what"; fi
done <"$WORK/compare.out"
check "the parser produced the comparisons" test "$(grep -c '^ok|\|^bad|' "$WORK/compare.out")" -ge 30

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "GET /other is 404" test "$(code "$URL/other")" = 404
check "GET / is 404" test "$(code "$URL/")" = 404
check "POST /metrics is 405" test "$(code -X POST "$URL/metrics")" = 405
curl -s -o /dev/null --max-time 3 "http://127.0.0.1:$MPORT/metrics"
rc=$?
check "nothing answers on 127.0.0.1:$MPORT (curl: connection refused, status $rc)" test "$rc" -eq 7

# engine.management is fixed at start-up.
write_cfg $((MPORT + 1))
line=$(grep -n 'management:' "$WORK/host.yaml" | cut -d: -f1)
vc -i met1 reload
check "a reload that moves the endpoint is refused at host.yaml:$line" \
  expect 1 "host\.yaml:$line:[0-9]+: .*engine\.management changed"
check "the endpoint still answers after the refused reload" test "$(code "$URL/metrics")" = 200

stop_appliance sw
check "stops cleanly" test $? -eq 0
check "the port is closed after stop" test -z "$(ss -ltnH "( sport = :$MPORT )")"

# ---- A vrouter between two subnets.
RPORT=$((MPORT + 3))
cat >"$WORK/router.yaml" <<YAML
# program: vrouter
engine:
  name: met3
  lcores: [0, 1]
  memory_mb: 256
  idle_sleep_us: 100
  management: {address: $MADDR, metrics_port: $RPORT}
ports:
  - {name: p1, type: af_packet, iface: mtr1}
  - {name: p2, type: af_packet, iface: mtr2}
interfaces:
  - {name: lan1, port: p1, ipv4: [10.9.11.1/24]}
  - {name: lan2, port: p2, ipv4: [10.9.12.1/24]}
YAML
netns_host mt-r1 mtr1 10.9.11.2/24
netns_host mt-r2 mtr2 10.9.12.2/24
ip netns exec mt-r1 ip route add default via 10.9.11.1
ip netns exec mt-r2 ip route add default via 10.9.12.1
start_appliance rt vrouter "$WORK/router.yaml" || exit 1
check "vrouter: ping across subnets (h1 -> h2)" ns_ping mt-r1 10.9.12.2
# At rest: neighbour probes and ARP refreshes come and go, so telemetry is read before and
# after the scrape until they agree.
for attempt in 1 2 3 4 5 6 7 8; do
  sleep 1
  tel vnf-met3 /vnf/interfaces >"$WORK/rt_ifaces.json"
  tel vnf-met3 /vnf/router >"$WORK/rt_router.json"
  curl -sS -o "$WORK/rt_metrics.txt" "http://$MADDR:$RPORT/metrics"
  crc=$?
  tel vnf-met3 /vnf/interfaces >"$WORK/rt_ifaces_after.json"
  cmp -s "$WORK/rt_ifaces.json" "$WORK/rt_ifaces_after.json" && break
  echo "NOTE: vrouter telemetry moved during the scrape (attempt $attempt): again"
done
check "vrouter: curl GET /metrics succeeds" test "$crc" -eq 0
check "vrouter: telemetry at rest around the scrape" cmp -s "$WORK/rt_ifaces.json" "$WORK/rt_ifaces_after.json"
"$PY" - "$WORK" >"$WORK/rt_compare.out" 2>&1 <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
work = sys.argv[1]
samples = {}
for fam in text_string_to_metric_families(open(f"{work}/rt_metrics.txt").read()):
    for s in fam.samples:
        samples[(s.name, frozenset(s.labels.items()))] = s.value
def metric(name, **labels):
    return samples.get((name, frozenset(dict(labels, appliance="met3").items())))
ifaces = list(json.load(open(f"{work}/rt_ifaces.json")).values())[0]
router = list(json.load(open(f"{work}/rt_router.json")).values())[0]
for name in ("lan1", "lan2"):
    i = ifaces[name]
    for key in ("rx_packets", "routed_out_packets"):
        want = i[key]
        got = metric(f"vnf_router_interface_{key}_total", interface=name, segment=i["segment"])
        print(("ok|" if want >= 1 and got == want else "bad|") + f"interface {name} {key}: metrics {got}, telemetry {want}")
got = metric("vnf_router_prefixes", family="ipv4")
print(("ok|" if got == router["ipv4_prefixes"] else "bad|") + f"ipv4 prefixes: metrics {got}, telemetry {router['ipv4_prefixes']}")
PY
while IFS='|' read -r verdict what; do
  if [[ $verdict == ok ]]; then pass "vrouter metrics: $what"; else fail "vrouter metrics: $what"; fi
done <"$WORK/rt_compare.out"
check "vrouter: the parser produced the comparisons" test "$(grep -c '^ok|\|^bad|' "$WORK/rt_compare.out")" -eq 5
stop_appliance rt
check "vrouter: stops cleanly" test $? -eq 0

# ---- A standalone vfirewall, its endpoint on the IPv6 loopback address.
if ! ip -6 addr show dev lo | grep -q 'inet6 ::1/'; then
  skip "vfirewall on ::1: this host has no IPv6 loopback address"
  exit 0
fi
FPORT=$((MPORT + 2))
cat >"$WORK/fw.yaml" <<YAML
# program: vfirewall
engine:
  name: met2
  lcores: [0, 1]
  memory_mb: 256
  idle_sleep_us: 100
  management: {address: "::1", metrics_port: $FPORT}
ports:
  - {name: a, type: af_packet, iface: mtfa0}
  - {name: b, type: af_packet, iface: mtfb0}
wires: [[a, b]]
zones:
  - {name: za, ports: [a]}
  - {name: zb, ports: [b]}
rules:
  - {id: a-ping, from: za, to: zb, service: [icmp/echo-request], action: accept}
YAML
netns_host mt-fa mtfa0 10.9.9.1/24
netns_host mt-fb mtfb0 10.9.9.2/24
start_appliance fw vfirewall "$WORK/fw.yaml" || exit 1
check "vfirewall: ping A -> B (rule a-ping)" ns_ping mt-fa 10.9.9.2
sleep 1
tel vnf-met2 /vnf/fw/rules >"$WORK/fw_rules.json"
tel vnf-met2 /vnf/ports >"$WORK/fw_ports.json"
curl -sS -g -o "$WORK/fw_metrics.txt" "http://[::1]:$FPORT/metrics"
check "vfirewall: curl GET http://[::1]:$FPORT/metrics succeeds" test $? -eq 0
# The namespaces' kernels send IPv6 router solicitations and MLD reports when they like: a
# counter may move between the two reads, so the scrape must lie between telemetry before and
# after it.
tel vnf-met2 /vnf/ports >"$WORK/fw_ports_after.json"
"$PY" - "$WORK" >"$WORK/fw_compare.out" 2>&1 <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
work = sys.argv[1]
samples = {}
for fam in text_string_to_metric_families(open(f"{work}/fw_metrics.txt").read()):
    for s in fam.samples:
        samples[(s.name, frozenset(s.labels.items()))] = s.value
def metric(name, **labels):
    return samples.get((name, frozenset(dict(labels, appliance="met2").items())))
rules = {v["id"]: v for v in list(json.load(open(f"{work}/fw_rules.json")).values())[0].values()
         if isinstance(v, dict)}
def port_table(name):
    return {v["name"]: v for v in list(json.load(open(f"{work}/{name}")).values())[0].values()
            if isinstance(v, dict)}
ports, ports_after = port_table("fw_ports.json"), port_table("fw_ports_after.json")
hits, got = rules["a-ping"]["hits"], metric("vnf_fw_rule_hits_total", rule="a-ping")
print(("ok|" if hits >= 1 and got == hits else "bad|") + f"rule a-ping hits: metrics {got}, telemetry {hits}")
for p in ("a", "b"):
    lo, hi = ports[p]["rx_packets"], ports_after[p]["rx_packets"]
    got = metric("vnf_port_rx_packets_total", port=p)
    print(("ok|" if lo >= 1 and got is not None and lo <= got <= hi else "bad|") +
          f"port {p} rx packets: metrics {got}, telemetry {lo} before the scrape, {hi} after")
info = metric("vnf_info", program="vfirewall", version=next(
    (dict(k[1])["version"] for k in samples if k[0] == "vnf_info"), ""))
print(("ok|" if info == 1 else "bad|") + "vnf_info{program=\"vfirewall\"} = 1")
PY
while IFS='|' read -r verdict what; do
  if [[ $verdict == ok ]]; then pass "vfirewall metrics: $what"; else fail "vfirewall metrics: $what"; fi
done <"$WORK/fw_compare.out"
check "vfirewall: the parser produced the comparisons" test "$(grep -c '^ok|\|^bad|' "$WORK/fw_compare.out")" -eq 4
curl -s -o /dev/null --max-time 3 "http://127.0.0.1:$FPORT/metrics"
check "vfirewall: nothing answers on 127.0.0.1:$FPORT" test $? -eq 7
stop_appliance fw
check "vfirewall: stops cleanly" test $? -eq 0
