#!/usr/bin/env bash
# The event shipper against a real rsyslog receiver (Debian's rsyslogd, run privately on
# loopback with its own config, work directory and pid file), over TCP (RFC 6587 octet
# counting), TLS (RFC 5425, a CA and server certificate made here by certtool) and UDP
# (RFC 5426, imudp):
#   - records arrive framed and parsed: rsyslog's MSG is our JSON record, each one once; over
#     UDP rsyslog parses the RFC 5424 header (version 1, APP-NAME, PROCID, MSGID the kind,
#     no STRUCTURED-DATA);
#   - `vnfctl show shipper` (table and --json) agrees with /vnf/shipper: collectors, state,
#     sent, spooled, lost and the lost sequence ranges;
#   - a bond_failover record (an active-backup bond's primary member loses its link) and a
#     rollback record (an apply --confirm that is not confirmed) arrive with their fields;
#   - the receivers are stopped for 20 s while events are produced (SIGHUP reloads, a
#     rejected file, link flaps of an af_packet port); after their restart every record
#     arrives exactly once, in order (sequence numbers), the same as the local JSON-lines file;
#   - restarted with a small spool, the numbering continues and the loss past the spool bound
#     is counted (/vnf/shipper) and announced by a shipper_loss event naming the lost range;
#   - fw_log records of a vswitch's firewall: rules with log: true, a few TCP connections
#     accepted and a ping dropped between two namespaces; each arrives once, with rule,
#     action, zones, addresses and ports (not the rate limit: the dataplane tests have it);
#   - killed with SIGKILL and restarted, the appliance numbers above what it had reserved
#     (no sequence number serves twice) and announces the range the crash may have lost.
source "$(dirname "$0")/lib.sh"

command -v rsyslogd >/dev/null || { skip "rsyslogd is not installed"; exit 0; }
command -v certtool >/dev/null || { skip "certtool (gnutls-bin) is not installed"; exit 0; }

TPORT=16514   # TCP receiver
SPORT=16515   # TLS receiver
UPORT=16516   # UDP receiver
for p in $TPORT $SPORT; do
  if ss -ltnH "( sport = :$p )" | grep -q .; then skip "port $p is in use on this host"; exit 0; fi
done
if ss -lunH "( sport = :$UPORT )" | grep -q .; then skip "udp port $UPORT is in use on this host"; exit 0; fi
P=vnf-ship1

# ---- the TLS material
cat >"$WORK/ca.tmpl" <<'T'
cn = "vnf test CA"
ca
cert_signing_key
expiration_days = 2
T
cat >"$WORK/srv.tmpl" <<'T'
cn = "localhost"
ip_address = "127.0.0.1"
tls_www_server
encryption_key
signing_key
expiration_days = 2
T
certtool --generate-privkey --outfile "$WORK/ca.key" >/dev/null 2>&1
certtool --generate-self-signed --load-privkey "$WORK/ca.key" --template "$WORK/ca.tmpl" \
  --outfile "$WORK/ca.pem" >/dev/null 2>&1
certtool --generate-privkey --outfile "$WORK/srv.key" >/dev/null 2>&1
certtool --generate-certificate --load-privkey "$WORK/srv.key" --load-ca-certificate "$WORK/ca.pem" \
  --load-ca-privkey "$WORK/ca.key" --template "$WORK/srv.tmpl" --outfile "$WORK/srv.pem" >/dev/null 2>&1
check "certtool made a CA and a server certificate" test -s "$WORK/ca.pem" -a -s "$WORK/srv.pem"

# ---- rsyslog receivers: the MSG of every message, one per line (over UDP with the RFC 5424
# header fields rsyslog parsed before it)
rsyslog_conf() {  # rsyslog_conf NAME PORT tcp|tls|udp
  local d="$WORK/rs-$1"
  mkdir -p "$d/work"
  {
    echo "global(workDirectory=\"$d/work\" maxMessageSize=\"64k\""
    if [[ $3 == udp ]]; then
      echo ")"
      echo "module(load=\"imudp\")"
      echo "template(name=\"msgonly\" type=\"string\" string=\"%protocol-version% %app-name% %procid% %msgid% %structured-data% %msg%\\n\")"
      echo "ruleset(name=\"in\") { action(type=\"omfile\" file=\"$d/out.log\" template=\"msgonly\" flushOnTXEnd=\"on\") }"
      echo "input(type=\"imudp\" address=\"127.0.0.1\" port=\"$2\" ruleset=\"in\")"
      return
    fi
    if [[ $3 == tls ]]; then
      echo "  defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"$WORK/ca.pem\""
      echo "  defaultNetstreamDriverCertFile=\"$WORK/srv.pem\" defaultNetstreamDriverKeyFile=\"$WORK/srv.key\""
      echo ")"
      echo "module(load=\"imtcp\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")"
    else
      echo ")"
      echo "module(load=\"imtcp\")"
    fi
    echo "template(name=\"msgonly\" type=\"string\" string=\"%msgid% %msg%\\n\")"
    echo "ruleset(name=\"in\") { action(type=\"omfile\" file=\"$d/out.log\" template=\"msgonly\" flushOnTXEnd=\"on\") }"
    echo "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"$2\" ruleset=\"in\")"
  } >"$d/rsyslog.conf"
}
rsyslog_start() {  # rsyslog_start NAME PORT [udp]
  local d="$WORK/rs-$1" ssopt=-ltnH
  [[ ${3:-} == udp ]] && ssopt=-lunH
  rsyslogd -n -f "$d/rsyslog.conf" -i "$d/pid" >>"$d/rsyslogd.log" 2>&1 &
  echo $! >"$d/launch.pid"
  for _ in $(seq 1 50); do
    ss $ssopt "( sport = :$2 )" | grep -q . && return 0
    sleep 0.1
  done
  echo "--- rsyslogd $1 did not listen on $2"; cat "$d/rsyslogd.log"
  return 1
}
rsyslog_stop() {  # rsyslog_stop NAME: by the PID we started
  local pid
  pid=$(cat "$WORK/rs-$1/launch.pid")
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
RS=()
cleanup_rsyslog() {
  local n
  for n in "${RS[@]}"; do
    [[ -f "$WORK/rs-$n/launch.pid" ]] && kill -TERM "$(cat "$WORK/rs-$n/launch.pid")" 2>/dev/null
  done
  finish
}
trap cleanup_rsyslog EXIT

rsyslog_conf tcp $TPORT tcp
rsyslog_conf tls $SPORT tls
rsyslog_conf udp $UPORT udp
RS=(tcp tls udp)
rsyslog_start tcp $TPORT || exit 1
rsyslog_start tls $SPORT || exit 1
rsyslog_start udp $UPORT udp || exit 1

# ---- the appliance: a vswitch with two af_packet ports on veth pairs we can flap, and an
# active-backup bond of two more (its primary's link lost: a failover)
veth_pair shp1 shp1p
veth_pair shp2 shp2p
veth_pair shb1 shb1p
veth_pair shb2 shb2p
write_cfg() {  # write_cfg SPOOL_BYTES
  cat >"$WORK/sw.yaml" <<YAML
# program: vswitch
engine:
  name: ship1
  lcores: [0, 1]
  memory_mb: 256
  idle_sleep_us: 100
  management: {address: 127.0.0.1}
  events:
    file: $WORK/events.jsonl
    spool_bytes: $1
    collectors:
      - {transport: tcp, address: 127.0.0.1, port: $TPORT}
      - {transport: tls, address: 127.0.0.1, port: $SPORT, ca: $WORK/ca.pem}
      - {transport: udp, address: 127.0.0.1, port: $UPORT}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: p1, type: af_packet, iface: shp1, mode: access, segment: core}
  - {name: p2, type: af_packet, iface: shp2, mode: access, segment: core}
  - name: uplink
    type: bond
    mode: access
    segment: core
    bond:
      members: [{name: upa, type: af_packet, iface: shb1}, {name: upb, type: af_packet, iface: shb2}]
      mode: active-backup
      primary: upa
      revert: always
YAML
}
write_cfg 1048576
ARGS=(--state-dir "$WORK/state" --control-socket none)
start_appliance sw vswitch "$WORK/sw.yaml" "${ARGS[@]}" || exit 1

# seqs FILE: the sequence numbers of the records in FILE (rsyslog output or JSON lines), in order.
seqs() { sed -nE 's/.*\{"seq": ([0-9]+),.*/\1/p' "$1"; }
# wait_records FILE N: until FILE holds N records (20 s at most).
wait_records() {
  for _ in $(seq 1 200); do
    (($(seqs "$1" | wc -l) >= $2)) && return 0
    sleep 0.1
  done
  return 1
}
# same_as_file OUT: OUT holds exactly the records of the local file, in order, each once.
same_as_file() {
  if ! diff <(seqs "$WORK/events.jsonl") <(seqs "$1") >"$WORK/seqdiff" 2>&1; then
    echo "      sequence numbers differ from the local file:"; head -10 "$WORK/seqdiff" | sed 's/^/        /'
    return 1
  fi
}
in_order() {  # consecutive, increasing by one
  seqs "$1" | awk 'NR > 1 && $1 != prev + 1 { print "gap after " prev ": " $1; bad = 1 } { prev = $1 } END { exit bad }'
}
hup() { kill -HUP "$(cat "$WORK/sw.pid.launch")"; }
tel_ship() { tel_get $P /vnf/shipper "$1"; }

# 1. records arrive framed and parsed
hup
sleep 0.5
ip link set shp1p down; sleep 0.5; ip link set shp1p up
sleep 1
n=$(seqs "$WORK/events.jsonl" | wc -l)
check "the local file has records (start, reload, link flaps): $n" test "$n" -ge 4
check "rsyslog (tcp) got them all" wait_records "$WORK/rs-tcp/out.log" "$n"
check "rsyslog (tls) got them all" wait_records "$WORK/rs-tls/out.log" "$n"
check "tcp: each once, in order, as in the local file" same_as_file "$WORK/rs-tcp/out.log"
check "tls: each once, in order, as in the local file" same_as_file "$WORK/rs-tls/out.log"
cat >"$WORK/parse.py" <<'PY'
import json, re, sys
kinds = set()
for line in open(sys.argv[1]):
    msgid, msg = line.rstrip("\n").split(" ", 1)
    r = json.loads(msg)
    assert r["kind"] == msgid, (msgid, r)
    assert r["appliance"] == "ship1" and r["program"] == "vswitch", r
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", r["time"]), r
    assert r["severity"] in ("notice", "warning", "info", "error"), r
    kinds.add(r["kind"])
for k in sys.argv[2:]:
    assert k in kinds, f"no {k} record in {sorted(kinds)}"
PY
check "tcp: MSGID is the kind, MSG parses as the JSON record (config_applied, link)" \
  "$PY" "$WORK/parse.py" "$WORK/rs-tcp/out.log" config_applied link
check "tls: the same" "$PY" "$WORK/parse.py" "$WORK/rs-tls/out.log" config_applied link
check "link records name the port and the state" \
  grep -qE '"kind": "link".*"port": "p1", "state": "down"' "$WORK/events.jsonl"
check "/vnf/shipper: the three collectors connected" \
  test "$(tel_ship 'sum(1 for c in r["collectors"].values() if c["state"] == "connected")')" = 3

# record KIND FILE: the JSON of the records of KIND in an rsyslog output FILE, one per line.
records_of() { sed -nE "s/^$1 (\{.*\})\$/\1/p" "$2"; }
# fields FILE PYTHON: PYTHON (asserts) on the list `recs` of the JSON records in FILE.
fields() {
  "$PY" -c "import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
$2" "$1"
}

# The bond's primary loses its link: one failover to the backup, and back once it returns.
ip link set shb1p down
failovers() { (($(records_of bond_failover "$WORK/rs-tcp/out.log" | wc -l) >= $1)); }
check "tcp: a bond_failover record arrives when the active member's link goes down" \
  wait_for 15 failovers 1
ip link set shb1p up
check "tcp: a second one when the primary is back (revert: always)" wait_for 15 failovers 2
records_of bond_failover "$WORK/rs-tcp/out.log" >"$WORK/bond.json"
check "bond_failover records: bond, from, to, reason; upa -> upb (upa's link), then back" \
  fields "$WORK/bond.json" '
assert len(recs) == 2, recs
a, b = recs
assert a["severity"] == "warning", a
assert (a["bond"], a["from"], a["to"]) == ("uplink", "upa", "upb"), a
assert "upa" in a["reason"] and "down" in a["reason"], a
assert (b["bond"], b["from"], b["to"]) == ("uplink", "upb", "upa"), b
assert b["reason"], b
assert a["seq"] < b["seq"], recs'

# An apply on trial that nobody confirms: the appliance rolls back by itself.
cp "$WORK/sw.yaml" "$WORK/sw.orig"
sed 's/^  - {name: core, vlan: 100}$/&\n  - {name: info, vlan: 200}/' "$WORK/sw.orig" >"$WORK/sw.trial"
vc -p $P apply "$WORK/sw.trial" --confirm 2
check "vnfctl apply --confirm 2: applied on trial; the hint names the appliance as given (-p)" \
  expect 0 '^applied: ' "^on trial: 'vnfctl -p $P confirm' within 2 s"
rolled() { records_of rollback "$WORK/rs-tcp/out.log" | grep -q .; }
check "tcp: a rollback record arrives when the trial is not confirmed" wait_for 15 rolled
check "the config file holds the restored version again" cmp -s "$WORK/sw.yaml" "$WORK/sw.orig"
records_of config_applied "$WORK/rs-tcp/out.log" >"$WORK/applied.json"
records_of rollback "$WORK/rs-tcp/out.log" >"$WORK/rollback.json"
check "rollback record: the fields of config_applied, via automatic rollback, the start's hash back" \
  fields "$WORK/rollback.json" '
applied = [json.loads(l) for l in open(sys.argv[1].replace("rollback", "applied"))]
assert len(recs) == 1, recs
r = recs[0]
keys = ["generation", "attempt", "file", "hash", "via", "uid", "user", "pid", "changes"]
assert [k for k in r if k in keys] == keys, r
assert r["severity"] == "notice" and r["via"] == "automatic rollback", r
start = [a for a in applied if a["via"] == "start"][-1]
trial = applied[-1]
assert trial["hash"] != start["hash"], (trial, start)
assert r["hash"] == start["hash"] and r["file"] == start["file"], (r, start)
assert r["generation"] == trial["generation"] + 1 and r["attempt"] == trial["attempt"] + 1, (r, trial)
assert r["changes"], r'

# UDP: rsyslog parsed each datagram as RFC 5424; every record arrived, each once, in order
# (loopback: nothing is lost while the receiver runs).
n=$(seqs "$WORK/events.jsonl" | wc -l)
check "rsyslog (udp) got all $n records" wait_records "$WORK/rs-udp/out.log" "$n"
check "udp: each once, in order, as in the local file" same_as_file "$WORK/rs-udp/out.log"
cat >"$WORK/parse_udp.py" <<'PY'
import json, sys
kinds = set()
for line in open(sys.argv[1]):
    ver, app, procid, msgid, sd, msg = line.rstrip("\n").split(" ", 5)
    assert (ver, app, procid, sd) == ("1", "vswitch", sys.argv[2], "-"), line
    r = json.loads(msg)
    assert r["kind"] == msgid and isinstance(r["seq"], int), (msgid, r)
    kinds.add(r["kind"])
for k in sys.argv[3:]:
    assert k in kinds, f"no {k} record in {sorted(kinds)}"
PY
check "udp: RFC 5424 version 1, APP-NAME, PROCID, MSGID the kind, no SD; MSG the JSON record" \
  "$PY" "$WORK/parse_udp.py" "$WORK/rs-udp/out.log" "$(cat "$WORK/sw.pid.launch")" \
  config_applied link bond_failover rollback

# vnfctl show shipper: the table and --json agree with /vnf/shipper.
cat >"$WORK/show_shipper.py" <<'PY'
import json, re, sys
table = open(sys.argv[1]).read().splitlines()
tel = list(json.load(open(sys.argv[2])).values())[0]
want_state = sys.argv[3:]  # per collector, in order: connected / disconnected
head = next(i for i, l in enumerate(table) if l.startswith("transport "))
assert re.match(rf"records: last seq {tel['last_seq']}, {tel['queued']} queued", table[0]), table[0]
assert table[1].startswith(f"file {tel['file']}: {tel['file_written']} written"), table[1]
cols = re.findall(r"\S+ *", table[head])
starts = [table[head].index(c) for c in cols]
rows = []
for line in table[head + 1:]:
    cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
    rows.append(dict(zip([c.strip() for c in cols], cells)))
colls = list(tel["collectors"].values())
assert len(rows) == len(colls) == len(want_state), (rows, colls)
for r, c, st in zip(rows, colls, want_state):
    assert f'{r["transport"]} {r["target"]}' == c["collector"] == f'{c["transport"]} {c["target"]}', (r, c)
    assert r["state"] == c["state"] == st, (r, c, st)
    for k in ("connects", "sent", "lost"):
        assert r[k] == str(c[k]), (k, r, c)
    assert r["lost_seqs"] == (c["lost_ranges"] or "-"), (r, c)
    if c["transport"] == "udp":
        assert r["spooled"] == "-", r
    else:
        assert r["spooled"] == f'{c["spooled_records"]} ({c["spooled_bytes"]} B of {c["spool_limit"]})', (r, c)
    # A reconnection attempt between the two reads may renew the error's time, not its text.
    assert r["last_error"].startswith(c["last_error"] or "-"), (r, c)
    if c["last_error"]:
        t = re.fullmatch(r".* \((\S+)\)", r["last_error"]).group(1)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", t), r
        assert t <= c["last_error_time"], (r, c)
PY
# show_shipper STATE...: `vnfctl show shipper` and /vnf/shipper (read right after) agree.
show_shipper() {
  vc -p $P show shipper
  expect 0 '^transport +target +state ' || return 1
  printf '%s\n' "$OUT" >"$WORK/show.txt"
  tel $P /vnf/shipper >"$WORK/show.json"
  "$PY" "$WORK/show_shipper.py" "$WORK/show.txt" "$WORK/show.json" "$@"
}
check "vnfctl show shipper: a row per collector, its state and counts as /vnf/shipper has them" \
  show_shipper connected connected connected
check "vnfctl show shipper: the three collectors, connected, nothing lost" \
  expect 0 "^tcp +127\.0\.0\.1:$TPORT +connected +1 +$n +0 \(0 B of 1048576\) +0 +- " \
  "^tls +127\.0\.0\.1:$SPORT +connected +1 +$n " "^udp +127\.0\.0\.1:$UPORT +connected +1 +$n +- +0 +- "
vc -p $P show shipper --json
check "vnfctl show shipper --json: /vnf/shipper's answer" \
  json "r['last_seq'] == $(seqs "$WORK/events.jsonl" | tail -1) and [c['sent'] for c in r['collectors'].values()] == [$n, $n, $n] and r['file'] == '$WORK/events.jsonl'"

# 2. the receivers are down for 20 s while events are produced
rsyslog_stop tcp
rsyslog_stop tls
cp "$WORK/sw.yaml" "$WORK/sw.good"
end=$((SECONDS + 20))
i=0
while ((SECONDS < end)); do
  i=$((i + 1))
  case $((i % 3)) in
    0) hup ;;
    1) ip link set shp2p down; sleep 0.3; ip link set shp2p up ;;
    2) echo "engine: {name: [" >"$WORK/sw.yaml"; hup; sleep 0.3; cp "$WORK/sw.good" "$WORK/sw.yaml" ;;
  esac
  sleep 1
done
check "config_rejected records were produced" grep -q '"kind": "config_rejected"' "$WORK/events.jsonl"
check "/vnf/shipper: tcp and tls disconnected, records spooled" \
  test "$(tel_ship 'all(c["state"] == "disconnected" and c["spooled_records"] > 0 for c in r["collectors"].values() if c["transport"] != "udp")')" = True
check "vnfctl show shipper: tcp and tls disconnected, spooling, the last error with its time" \
  show_shipper disconnected disconnected connected
check "vnfctl show shipper: the error says why" \
  expect 0 "^tcp +127\.0\.0\.1:$TPORT +disconnected +.*(refused|closed).* \([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[+-][0-9]{2}:[0-9]{2}\)$"
rsyslog_start tcp $TPORT || exit 1
rsyslog_start tls $SPORT || exit 1
n=$(seqs "$WORK/events.jsonl" | wc -l)
check "tcp: all $n records after the restart" wait_records "$WORK/rs-tcp/out.log" "$n"
check "tls: all $n records after the restart" wait_records "$WORK/rs-tls/out.log" "$n"
check "tcp: exactly once, in order" same_as_file "$WORK/rs-tcp/out.log"
check "tls: exactly once, in order" same_as_file "$WORK/rs-tls/out.log"
check "udp: every record, once, in order (its receiver stayed up)" same_as_file "$WORK/rs-udp/out.log"
check "the sequence has no gap" in_order "$WORK/events.jsonl"
check "/vnf/shipper: nothing lost, the spools empty" \
  test "$(tel_ship 'all(c["lost"] == 0 and c["spooled_records"] == 0 for c in r["collectors"].values())')" = True
stop_appliance sw
check "stops cleanly" test $? -eq 0
last=$(seqs "$WORK/events.jsonl" | tail -1)

# 3. a small spool: the loss is counted and announced
write_cfg 3000
start_appliance sw vswitch "$WORK/sw.yaml" "${ARGS[@]}" || exit 1
sleep 0.5
first=$((last + 1))
check "the numbering continues across the restart (the next record is seq $first)" \
  grep -qE "^\\{\"seq\": $first, " "$WORK/events.jsonl"
rsyslog_stop tcp
rsyslog_stop tls
for i in $(seq 1 8); do hup; sleep 0.3; ip link set shp1p down; sleep 0.3; ip link set shp1p up; sleep 0.3; done
sleep 1
lost=$(tel_ship 'list(r["collectors"].values())[0]["lost"]')
check "/vnf/shipper counts records lost past the spool bound ($lost)" test "${lost:-0}" -gt 0
rsyslog_start tcp $TPORT || exit 1
rsyslog_start tls $SPORT || exit 1
announced() { grep -q '^shipper_loss .*"collector": "tcp [^"]*", "lost": '"$lost"',' "$WORK/rs-tcp/out.log"; }
check "tcp: a shipper_loss record arrives after the reconnection, naming $lost lost" wait_for 20 announced
cat >"$WORK/loss.py" <<'PY'
import json, sys
recs = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1])]
local = [json.loads(l)["seq"] for l in open(sys.argv[2])]
start = int(sys.argv[3])
loss = [r for r in recs if r["kind"] == "shipper_loss" and r["collector"].startswith(sys.argv[4])]
assert len(loss) == 1, loss
l = loss[0]
lost = set(range(l["first_seq"], l["last_seq"] + 1))
assert len(lost) == l["lost"], l
got = [r["seq"] for r in recs if r["seq"] >= start]
want = [s for s in local if s >= start and s not in lost]
assert got == want, (got, want)
PY
# The loss record of one collector goes to every collector, so records written after the one
# just awaited (the tls collector's loss record, say) may still be on their way: let them come,
# then a second more for a duplicate to show, before the one check that prints the difference.
loss_settled() {
  wait_for 10 "$PY" "$WORK/loss.py" "$WORK/rs-$1/out.log" "$WORK/events.jsonl" "$first" "$1" 2>/dev/null
  sleep 1
}
loss_settled tcp
check "tcp: every record but the announced range arrived once, in order" \
  "$PY" "$WORK/loss.py" "$WORK/rs-tcp/out.log" "$WORK/events.jsonl" "$first" tcp
range=$(sed -nE 's/^shipper_loss .*"collector": "tcp [^"]*", "lost": [0-9]+, "first_seq": ([0-9]+), "last_seq": ([0-9]+).*/\1-\2/p' "$WORK/rs-tcp/out.log")
check "/vnf/shipper: tcp's lost_ranges is the announced range ($range)" \
  test "$(tel_ship 'list(r["collectors"].values())[0]["lost_ranges"]')" = "$range"
check "vnfctl show shipper: the lost count and range of tcp, as /vnf/shipper has them" \
  show_shipper connected connected connected
check "vnfctl show shipper: tcp lost $lost, seq $range" expect 0 "^tcp +127\.0\.0\.1:$TPORT +connected +2 +[0-9]+ +0 \(0 B of 3000\) +$lost +$range "
check "tls: a shipper_loss record for the tls collector arrives" \
  wait_for 20 grep -q '^shipper_loss .*"collector": "tls ' "$WORK/rs-tls/out.log"
loss_settled tls
check "tls: every record but the announced range arrived once, in order" \
  "$PY" "$WORK/loss.py" "$WORK/rs-tls/out.log" "$WORK/events.jsonl" "$first" tls
stop_appliance sw
check "stops cleanly" test $? -eq 0
check "the local file: one sequence without a gap across both runs" in_order "$WORK/events.jsonl"

# 4. fw_log records through rsyslog: a vswitch with a firewall between two namespaces, its
# records to the tcp receiver (restarted with an empty output file). Rules with log: true: TCP
# web -> db:5432 accepted, ping db -> web dropped. Each connection is one record, once; the
# rate limit is not exercised (a handful of connections stays far below any rate).
rsyslog_stop tcp
mv "$WORK/rs-tcp/out.log" "$WORK/rs-tcp/out-ship1.log"
rsyslog_start tcp $TPORT || exit 1
netns_host shf-web shfweb 10.66.0.1/24
netns_host shf-db shfdb 10.66.0.2/24
cat >"$WORK/fw.yaml" <<YAML
# program: vswitch
engine:
  name: ship2
  lcores: [0, 1]
  memory_mb: 256
  idle_sleep_us: 100
  management: {address: 127.0.0.1}
  events:
    file: $WORK/fw-events.jsonl
    collectors:
      - {transport: tcp, address: 127.0.0.1, port: $TPORT}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: web1, type: af_packet, iface: shfweb, mode: access, segment: core}
  - {name: db1, type: af_packet, iface: shfdb, mode: access, segment: core}
firewall:
  conntrack: {size: 4096}
  zones:
    - {name: web, ports: [web1]}
    - {name: db, ports: [db1]}
  rules:
    - {id: web-db-pg, from: web, to: db, service: [tcp/5432], action: accept, log: true}
    - {id: db-web-ping, from: db, to: web, service: [icmp/echo-request], action: drop, log: true}
YAML
start_appliance fw vswitch "$WORK/fw.yaml" --state-dir "$WORK/state2" --control-socket none ||
  exit 1
ip netns exec shf-db timeout 30 nc -lk -p 5432 >/dev/null 2>&1 &
listener=$!
listening() { ip netns exec shf-db ss -ltnH "( sport = :5432 )" | grep -q .; }
wait_for 5 listening
ok=0
for _ in 1 2 3; do
  ip netns exec shf-web nc -z -w 3 10.66.0.2 5432 && ok=$((ok + 1))
done
check "three TCP connections web -> db:5432 through the firewall ($ok)" test "$ok" = 3
check_not "ping db -> web is dropped" ip netns exec shf-db ping -n -q -c 1 -W 1 10.66.0.1
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null
fw_records() { (($(records_of fw_log "$WORK/rs-tcp/out.log" | wc -l) >= 4)); }
check "tcp: fw_log records arrive for the connections and the drop" wait_for 20 fw_records
sleep 1  # a duplicate would arrive by now
records_of fw_log "$WORK/rs-tcp/out.log" >"$WORK/fw.json"
check "fw_log records: rule, action, zones, addresses and ports; each connection once" \
  fields "$WORK/fw.json" '
import re
local = [r for r in map(json.loads, open(sys.argv[1].replace("fw.json", "fw-events.jsonl")))
         if r["kind"] == "fw_log"]
assert recs == local, ("the receiver and the local file differ", recs, local)
assert len({r["seq"] for r in recs}) == len(recs), recs
ours = [r for r in recs if r["src"].startswith("10.66.") and r["dst"].startswith("10.66.")]
tcp = [r for r in ours if r["proto"] == "tcp"]
icmp = [r for r in ours if r["proto"] == "icmp"]
assert len(tcp) == 3, tcp
for r in tcp:
    assert (r["rule"], r["action"], r["from_zone"], r["to_zone"]) == ("web-db-pg", "accept", "web", "db"), r
    assert (r["src"], r["dst"], r["dport"]) == ("10.66.0.1", "10.66.0.2", 5432), r
    assert 1024 <= r["sport"] <= 65535 and r["severity"] == "info", r
    assert r["appliance"] == "ship2" and r["program"] == "vswitch", r
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", r["packet_time"]), r
assert len({r["sport"] for r in tcp}) == 3, ("one record per connection", tcp)
assert len(icmp) == 1, icmp
r = icmp[0]
assert (r["rule"], r["action"], r["from_zone"], r["to_zone"]) == ("db-web-ping", "drop", "db", "web"), r
assert (r["src"], r["dst"], r["severity"]) == ("10.66.0.2", "10.66.0.1", "notice"), r
assert "sport" not in r and "dport" not in r, r'
stop_appliance fw
check "the firewall appliance stops cleanly" test $? -eq 0

# 5. A crash never makes a sequence number serve twice: records numbered, kill -9, restart.
start_appliance fw vswitch "$WORK/fw.yaml" --state-dir "$WORK/state2" --control-socket none ||
  exit 1
sleep 0.5
applied() { grep -c '"kind": "config_applied"' "$WORK/fw-events.jsonl"; }
applied0=$(applied)
kill -HUP "$(cat "$WORK/fw.pid.launch")"
# The reload's record is written by the control thread: wait for it, or it may land after
# `before` is read and look like a number the crash lost.
wait_for 10 eval '(($(applied) > applied0))'
sleep 0.5
before=$(seqs "$WORK/fw-events.jsonl" | tail -1)
reserved=$(awk '{print $2}' "$WORK/state2/events/events.seq")
check "events.seq has numbers reserved past the last record written ($before < $reserved)" \
  test "${reserved:-0}" -gt "${before:-0}"
pid=$(cat "$WORK/fw.pid.launch")
kill -KILL "$pid"
wait "$pid" 2>/dev/null
start_appliance fw vswitch "$WORK/fw.yaml" --state-dir "$WORK/state2" --control-socket none ||
  exit 1
crash_loss() { grep -q '"collector": "previous run (not stopped cleanly)"' "$WORK/fw-events.jsonl"; }
check "after kill -9 the next run announces the range the crash may have lost" wait_for 10 crash_loss
check "... numbering above the reservation, no number used twice, the range ending at $reserved" \
  fields "$WORK/fw-events.jsonl" "
seqs = [r['seq'] for r in recs]
assert seqs == sorted(set(seqs)), 'a sequence number used twice or out of order'
loss = [r for r in recs if r['kind'] == 'shipper_loss' and r['collector'].startswith('previous run')]
assert len(loss) == 1, loss
l = loss[0]
assert l['last_seq'] == $reserved and l['first_seq'] <= $before + 1, l
assert l['lost'] == l['last_seq'] - l['first_seq'] + 1, l
after = [s for s in seqs if s > $before]
assert after and after[0] == $reserved + 1, after
"
tcp_crash_loss() { grep -q '^shipper_loss .*"collector": "previous run (not stopped cleanly)"' "$WORK/rs-tcp/out.log"; }
check "tcp: the receiver gets that shipper_loss record too" wait_for 20 tcp_crash_loss
stop_appliance fw
check "the restarted firewall appliance stops cleanly" test $? -eq 0
