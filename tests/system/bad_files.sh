#!/usr/bin/env bash
# A careless operator points a running vfirewall at bad files (issue #9, part 3). For each,
# `vnfctl reload` must answer "rejected" quickly with a reason, and the running appliance must
# not notice: same generation, traffic flowing, memory not grown, SIGTERM still obeyed.
#   - address groups nested 30 levels deep (two members each: 2^30 expanded before; --check
#     aborted with bad_alloc and a SIGHUP reload got the appliance OOM-killed);
#   - 12 levels of groups of 4 shared members (4^12 paths): resolved once each, applied at once;
#   - 40 rules between two groups of 1216 separate addresses (59 M ACL entries): refused
#     before anything is built;
#   - a YAML alias bomb (a billion laughs);
#   - the config path replaced by a FIFO with no writer (blocked the control thread: learning
#     stopped and SIGTERM was ignored), a symlink to /dev/zero (memory grew without bound),
#     and a directory;
#   - a file over the size cap, a second YAML document, a duration that overflows.
source "$(dirname "$0")/lib.sh"

good() {
  cat <<YAML
# program: vfirewall
engine: {name: fwbad, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
ports:
  - {name: a, type: af_packet, iface: fwbda0}
  - {name: b, type: af_packet, iface: fwbdb0}
wires: [[a, b]]
zones:
  - {name: za, ports: [a]}
  - {name: zb, ports: [b]}
rules:
  - {id: a-ping, from: za, to: zb, service: [icmp/echo-request], action: accept}
YAML
}

CFG="$WORK/fw.yaml"
good >"$CFG"
netns_host fwbda fwbda0 10.78.0.1/24
netns_host fwbdb fwbdb0 10.78.0.2/24
start_appliance fw vfirewall "$CFG" || exit 1
PID=$(cat "$WORK/fw.pid.launch")
# reload [TIMEOUT]: vnfctl reload (lib.sh's vc); the answer in $out, the status in $rc.
reload() {
  vc -i fwbad reload --timeout "${1:-15}"
  out=$OUT
  rc=$RC
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }

check "ping A -> B through the firewall before any bad file" ns_ping fwbda 10.78.0.2
RSS0=$(rss_kb)

GEN=1
grep_gen() { vc -i fwbad show info && grep -q "^config_generation: $GEN$" <<<"$OUT"; }
# try_bad WHAT PATTERN: the config path now holds something bad; a reload must be rejected
# within 5 s with PATTERN in its detail, and nothing else may change.
try_bad() {
  local what=$1 pattern=$2 out rc start end
  start=$(date +%s%N)
  reload
  end=$(date +%s%N)
  local ms=$(((end - start) / 1000000))
  echo "  $what: rc $rc in $ms ms: $out"
  check "$what: reload rejected (rc 1) in under 5 s (${ms} ms)" test "$rc" -eq 1 -a "$ms" -lt 5000
  check "$what: the reason names it" grep -qE "$pattern" <<<"$out"
  check "$what: the appliance is alive" kill -0 "$PID"
  check "$what: still generation $GEN" grep_gen
  check "$what: ping A -> B still passes" ns_ping fwbda 10.78.0.2
}

# 1. 30 levels of two-member groups.
{
  good | sed '/^rules:/,$d'
  echo "addresses:"
  echo "  - {name: g0a, prefixes: [10.1.0.0/24]}"
  echo "  - {name: g0b, prefixes: [10.2.0.0/24]}"
  for i in $(seq 1 30); do
    echo "  - {name: g${i}a, members: [g$((i - 1))a, g$((i - 1))b]}"
    echo "  - {name: g${i}b, members: [g$((i - 1))b, g$((i - 1))a]}"
  done
  echo "rules:"
  echo "  - {id: a-ping, from: za, to: zb, source: [g30a], service: [icmp/echo-request], action: accept}"
} >"$WORK/nested.yaml"
cp "$WORK/nested.yaml" "$CFG"
try_bad "groups nested 30 deep" 'fw\.yaml:[0-9]+:[0-9]+:.*(nest|deep)'

# 2. Within the depth limit, past the expansion limit: 4 distinct ranges per level, 12 levels.
{
  good | sed '/^rules:/,$d'
  echo "addresses:"
  for j in 0 1 2 3; do echo "  - {name: l0x$j, prefixes: [10.$j.0.0/24]}"; done
  for i in $(seq 1 12); do
    for j in 0 1 2 3; do
      echo "  - {name: l${i}x$j, members: [l$((i - 1))x0, l$((i - 1))x1, l$((i - 1))x2, l$((i - 1))x3]}"
    done
  done
  echo "rules:"
  echo "  - {id: a-ping, from: za, to: zb, source: [l12x0], destination: [l12x1], service: [icmp/echo-request], action: accept}"
} >"$CFG"
# (merged ranges do not grow: the same 4 prefixes at every level. So this one loads: the
# memoised resolver makes it cheap. A check that it is applied quickly follows below.)
reload
check "12 levels of 4 shared members: applied at once, resolved once each ($out)" \
  grep -q '^applied: generation 2 ' <<<"$out"
good >"$CFG"
reload
check "back to the good file: generation 3 ($out)" grep -q '^applied: generation 3 ' <<<"$out"
GEN=3
# Distinct addresses that multiply: 40 rules from one 1216-address group to another compile
# to 59 M ACL entries (the limit is 262144); counted and refused before anything is built.
{
  good | sed '/^rules:/,$d'
  echo "addresses:"
  "$PY" - <<'PY'
n = 0
def host():  # every other address: nothing merges
    global n
    n += 2
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}/32"
print("  - {name: w0a, prefixes: [" + ", ".join(host() for _ in range(600)) + "]}")
print("  - {name: w0b, prefixes: [" + ", ".join(host() for _ in range(600)) + "]}")
for i in range(1, 9):
    print(f"  - {{name: w{i}a, members: [w{i-1}a, w{i-1}b], prefixes: [{host()}]}}")
    print(f"  - {{name: w{i}b, members: [w{i-1}b, w{i-1}a], prefixes: [{host()}]}}")
PY
  echo "rules:"
  for r in $(seq 1 40); do
    echo "  - {id: r$r, from: za, to: zb, source: [w8a], destination: [w8b], service: [tcp/$((1000 + r))], action: accept}"
  done
} >"$CFG"
start=$(date +%s%N)
reload
ms=$((($(date +%s%N) - start) / 1000000))
echo "  40 rules over 1200-address groups: rc $rc in $ms ms: $out"
check "a rule set that compiles to too many ACL entries: rejected (${ms} ms)" \
  grep -qE '^rejected: .*(ACL entries|ranges)' <<<"$out"
check "... and the appliance is alive, generation $GEN" grep_gen
check "... ping A -> B still passes" ns_ping fwbda 10.78.0.2
# 3. A billion laughs: 9 levels of 10 aliases.
{
  good
  echo "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"
  for i in $(seq 1 9); do
    p=$((i - 1))
    echo "x$i: &a$i [*a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p]"
  done
} >"$CFG"
try_bad "YAML alias bomb" 'fw\.yaml.*(alias|values)'

# 4. The path is a FIFO nobody writes to.
rm -f "$CFG"
mkfifo "$CFG"
try_bad "config path is a FIFO" 'fw\.yaml.*(regular file|FIFO|fifo)'

# 5. A symlink to /dev/zero, and one to a directory.
rm -f "$CFG"
ln -s /dev/zero "$CFG"
try_bad "config path -> /dev/zero" 'fw\.yaml.*(regular file|device)'
rm -f "$CFG"
ln -s "$WORK" "$CFG"
try_bad "config path -> a directory" 'fw\.yaml.*(regular file|directory)'

# 6. Over the size cap (33 MiB of comments after a good file).
rm -f "$CFG"
{
  good
  "$PY" -c "import sys; sys.stdout.write(('#' + 'x' * 1023 + '\n') * (33 * 1024))"
} >"$CFG"
try_bad "a 33 MiB file" 'fw\.yaml.*(MiB|too large|size)'

# 7. A second YAML document, and a duration that overflows.
{
  good
  echo "---"
  good
} >"$CFG"
try_bad "two YAML documents" 'fw\.yaml:[0-9]+:[0-9]+:.*document'
{
  good
  echo "conntrack: {timeouts: {tcp_established: 5124095576030432h}}"
} >"$CFG"
try_bad "a duration that overflows" 'fw\.yaml:[0-9]+:[0-9]+:.*(range|large|overflow)'

RSS1=$(rss_kb)
echo "  resident memory: ${RSS0} kB before the bad files, ${RSS1} kB after"
check "resident memory grew by less than 64 MiB (${RSS0} -> ${RSS1} kB)" \
  test $((RSS1 - RSS0)) -lt 65536

# The good file applies again, and SIGTERM ends the appliance at once.
good >"$CFG"
reload
check "the good file again: applied ($out)" grep -q '^applied: generation 4 ' <<<"$out"
start=$(date +%s%N)
stop_appliance fw
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
check "SIGTERM: exit 0 within 5 s (rc $rc, ${ms} ms)" test "$rc" -eq 0 -a "$ms" -lt 5000

finish
