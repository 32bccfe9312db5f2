#!/usr/bin/env bash
# The event shipper against a real rsyslog receiver (Debian's rsyslogd, run privately on
# loopback with its own config, work directory and pid file), over TCP (RFC 6587 octet
# counting) and TLS (RFC 5425, a CA and server certificate made here by certtool):
#   - records arrive framed and parsed: rsyslog's MSG is our JSON record, each one once;
#   - the receivers are stopped for 20 s while events are produced (SIGHUP reloads, a
#     rejected file, link flaps of an af_packet port); after their restart every record
#     arrives exactly once, in order (sequence numbers), the same as the local JSON-lines file;
#   - restarted with a small spool, the numbering continues and the loss past the spool bound
#     is counted (/vnf/shipper) and announced by a shipper_loss event naming the lost range.
source "$(dirname "$0")/lib.sh"

command -v rsyslogd >/dev/null || { skip "rsyslogd is not installed"; exit 0; }
command -v certtool >/dev/null || { skip "certtool (gnutls-bin) is not installed"; exit 0; }

TPORT=16514   # TCP receiver
SPORT=16515   # TLS receiver
for p in $TPORT $SPORT; do
  if ss -ltnH "( sport = :$p )" | grep -q .; then skip "port $p is in use on this host"; exit 0; fi
done
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

# ---- rsyslog receivers: the MSG of every message, one per line
rsyslog_conf() {  # rsyslog_conf NAME PORT tcp|tls
  local d="$WORK/rs-$1"
  mkdir -p "$d/work"
  {
    echo "global(workDirectory=\"$d/work\" maxMessageSize=\"64k\""
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
rsyslog_start() {  # rsyslog_start NAME PORT
  local d="$WORK/rs-$1"
  rsyslogd -n -f "$d/rsyslog.conf" -i "$d/pid" >>"$d/rsyslogd.log" 2>&1 &
  echo $! >"$d/launch.pid"
  for _ in $(seq 1 50); do
    ss -ltnH "( sport = :$2 )" | grep -q . && return 0
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
RS=(tcp tls)
rsyslog_start tcp $TPORT || exit 1
rsyslog_start tls $SPORT || exit 1

# ---- the appliance: a vswitch with two af_packet ports on a veth pair we can flap
veth_pair shp1 shp1p
veth_pair shp2 shp2p
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
segments:
  - {name: core, vlan: 100}
ports:
  - {name: p1, type: af_packet, iface: shp1, mode: access, segment: core}
  - {name: p2, type: af_packet, iface: shp2, mode: access, segment: core}
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
check "/vnf/shipper: both collectors connected" \
  test "$(tel_ship 'sum(1 for c in r["collectors"].values() if c["state"] == "connected")')" = 2

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
check "/vnf/shipper: disconnected, records spooled" \
  test "$(tel_ship 'all(c["state"] == "disconnected" and c["spooled_records"] > 0 for c in r["collectors"].values())')" = True
rsyslog_start tcp $TPORT || exit 1
rsyslog_start tls $SPORT || exit 1
n=$(seqs "$WORK/events.jsonl" | wc -l)
check "tcp: all $n records after the restart" wait_records "$WORK/rs-tcp/out.log" "$n"
check "tls: all $n records after the restart" wait_records "$WORK/rs-tls/out.log" "$n"
check "tcp: exactly once, in order" same_as_file "$WORK/rs-tcp/out.log"
check "tls: exactly once, in order" same_as_file "$WORK/rs-tls/out.log"
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
check "tcp: every record but the announced range arrived once, in order" \
  "$PY" "$WORK/loss.py" "$WORK/rs-tcp/out.log" "$WORK/events.jsonl" "$first" tcp
check "tls: a shipper_loss record for the tls collector arrives" \
  wait_for 20 grep -q '^shipper_loss .*"collector": "tls ' "$WORK/rs-tls/out.log"
check "tls: every record but the announced range arrived once, in order" \
  "$PY" "$WORK/loss.py" "$WORK/rs-tls/out.log" "$WORK/events.jsonl" "$first" tls
stop_appliance sw
check "stops cleanly" test $? -eq 0
check "the local file: one sequence without a gap across both runs" in_order "$WORK/events.jsonl"
