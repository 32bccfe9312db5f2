# Shared by the system tests: result counting, starting and stopping appliances, telemetry.
# Each check prints one line, "PASS: ...", "FAIL: ..." or "SKIP: ... (reason)"; the script
# ends with a "system/<name>: N passed, N failed, N skipped" line that scripts/test.sh sums.

set -uo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD_DIR:-$TOP/build}
PY=/usr/bin/python3   # Debian's python (scapy lives there), whatever python3 is first in PATH
source "$TOP/scripts/lib/netns.sh"

T_PASS=0
T_FAIL=0
T_SKIP=0
T_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/vnf-$T_NAME.XXXXXX")
APPLIANCE_PIDS=()

pass() { echo "PASS: $*"; T_PASS=$((T_PASS + 1)); }
fail() { echo "FAIL: $*"; T_FAIL=$((T_FAIL + 1)); }
skip() { echo "SKIP: $*"; T_SKIP=$((T_SKIP + 1)); }
check() {  # check "description" command...
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
check_not() {
  local what=$1
  shift
  if "$@"; then fail "$what"; else pass "$what"; fi
}

# start_appliance NAME PROGRAM CONFIG [args...]: starts it in the background, waits until its
# telemetry answers. The PID goes to $WORK/NAME.pid, output to $WORK/NAME.log.
start_appliance() {
  local name=$1 prog=$2 cfg=$3
  shift 3
  "$BUILD/$prog/$prog" -c "$cfg" --pid-file "$WORK/$name.pid" "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  APPLIANCE_PIDS+=("$pid")
  echo "$pid" >"$WORK/$name.pid.launch"
  for _ in $(seq 1 100); do
    if grep -q "running:" "$WORK/$name.log" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "--- $name did not start:"
      tail -20 "$WORK/$name.log"
      return 1
    fi
    sleep 0.1
  done
  echo "--- $name did not report running within 10 s"
  tail -20 "$WORK/$name.log"
  return 1
}

# stop_appliance NAME: SIGTERM, then wait; returns the exit code.
stop_appliance() {
  local pid
  pid=$(cat "$WORK/$1.pid.launch")
  kill -TERM "$pid" 2>/dev/null || return 1
  local rc=0
  wait "$pid" || rc=$?
  return $rc
}

# tel PREFIX COMMAND: one telemetry answer (JSON) on stdout.
tel() {
  echo "$2" | "$PY" /usr/bin/dpdk-telemetry.py -f "$1" 2>/dev/null | tail -1
}

# tel_get PREFIX COMMAND PYTHON_EXPR: evaluates EXPR on the answer bound to `r`.
tel_get() {
  tel "$1" "$2" | "$PY" -c "import json,sys; d=json.load(sys.stdin); r=list(d.values())[0]; print($3)"
}

# generation PREFIX: the appliance's running config generation.
generation() { tel_get "$1" /vnf/config 'r["generation"]'; }
# generation_is PREFIX N: the appliance runs config generation N. A SIGHUP is applied by the
# control thread a little later: wait for it (wait_for 10 generation_is ...), never sleep.
generation_is() { [[ "$(generation "$1" 2>/dev/null)" == "$2" ]]; }

# show_drops PREFIX: the appliance's non-zero drop counters, by reason (for the log).
show_drops() {
  echo "drops by reason: $(tel_get "$1" /vnf/drops '{k: v for k, v in r.items() if v}')"
}

# ---- vnfctl as the operator runs it (tests/system/vnfctl.sh, config_versions.sh)
VNFCTL="$TOP/scripts/vnfctl"
CALLS=0

# vc ARGS...: runs vnfctl; its output (stdout and stderr) in $OUT, its status in $RC.
vc() {
  CALLS=$((CALLS + 1))
  OUT=$(BUILD_DIR=$BUILD timeout 30 "$PY" "$VNFCTL" "$@" 2>&1)
  RC=$?
  printf '### vnfctl %s (status %d)\n%s\n' "$*" "$RC" "$OUT" >>"$WORK/vnfctl.log"
}

# expect STATUS REGEX...: the last vnfctl exited with STATUS and printed a line matching
# each (extended) REGEX, and no Python traceback. On a mismatch the output is shown.
expect() {
  local want=$1 re
  shift
  if ((RC != want)); then
    echo "      status $RC, expected $want; output:"
    head -20 <<<"$OUT" | sed 's/^/        /'
    return 1
  fi
  for re in "$@"; do
    if ! grep -qE -- "$re" <<<"$OUT"; then
      echo "      no line matches /$re/; output:"
      head -20 <<<"$OUT" | sed 's/^/        /'
      return 1
    fi
  done
  ! grep -q Traceback <<<"$OUT"
}

# expect_error STATUS REGEX: failed with STATUS, with exactly one line "vnfctl: ..." that
# matches REGEX.
expect_error() {
  local lines
  lines=$(grep -c . <<<"$OUT")
  if ((lines != 1)) || [[ "$OUT" != vnfctl:* ]]; then
    echo "      expected one line 'vnfctl: ...', got $lines lines:"
    head -20 <<<"$OUT" | sed 's/^/        /'
    return 1
  fi
  expect "$@"
}

# json EXPR: the last output parses as JSON and EXPR (on it, as `r`) is true.
json() {
  if ! "$PY" -c "import json, sys; r = json.loads(sys.stdin.read()); sys.exit(0 if ($1) else 1)" \
    <<<"$OUT"; then
    echo "      JSON check ($1) failed on: $(head -c 300 <<<"$OUT")"
    return 1
  fi
}

# lacks REGEX: the last output has no line matching REGEX.
lacks() {
  if grep -qE -- "$1" <<<"$OUT"; then
    echo "      unexpected /$1/ in: $(grep -E -- "$1" <<<"$OUT" | head -2)"
    return 1
  fi
}

finish() {
  local pid
  for pid in "${APPLIANCE_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  netns_cleanup
  if ((T_FAIL)) && [[ -d "$WORK" ]]; then
    for f in "$WORK"/*.log; do
      [[ -f "$f" ]] || continue
      echo "--- $(basename "$f") (last 30 lines)"
      tail -30 "$f"
    done
  fi
  rm -rf "$WORK"
  echo "system/$T_NAME: $T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
}
trap finish EXIT

# The kernel of some hosts (this project's CI machines among them) is built without 802.1Q
# (CONFIG_VLAN_8021Q): no VLAN subinterfaces and no VLAN-filtering bridges. Tests then talk
# 802.1Q from user space with scapy instead, and say so.
kernel_has_vlan() {
  ip link add vnfvlanprobe0 type veth peer name vnfvlanprobe1 2>/dev/null || return 1
  local ok=1
  ip link add link vnfvlanprobe0 name vnfvlanprobe0.5 type vlan id 5 2>/dev/null && ok=0
  ip link del vnfvlanprobe0 2>/dev/null
  return $ok
}

# vlan_probe NS IFACE VID SRC_IP DST_IP: ARP + ICMP echo over an 802.1Q tag from scapy in NS;
# succeeds when DST answers with replies tagged VID.
vlan_probe() {
  ip netns exec "$1" "$PY" "$TOP/tests/system/vlan_peer.py" --iface "$2" --vlan "$3" \
    --src "$4" --dst "$5" >>"$WORK/vlan_probe.log" 2>&1
}
