#!/usr/bin/env bash
# Config versions and the apply workflow against live appliances (a vfirewall and a vrouter
# on af_packet ports into network namespaces), every step through scripts/vnfctl:
#   validate (good; bad: file:line:column, status 2), diff (names what a file adds), apply
#   (applied; history shows the versions), apply --confirm 3 without confirm (the previous
#   version comes back by itself within ~5 s: generation advanced, the config file equal to
#   the previous version byte for byte), apply --confirm 5 + confirm (stays), rollback
#   (byte for byte), a rejected file (changes nothing, names file:line:column), --json
#   (parsed), the last N (6) versions kept, and a state directory others can write refused.
source "$(dirname "$0")/lib.sh"

OUT=""
RC=0

# gen NAME: the running config generation.
gen() { generation "vnf-$1"; }

# workflow NAME CFG V1 V2 V3 BAD BAD_LINE DIFF_REGEX: the whole workflow against the running
# appliance NAME whose config file is CFG and holds V1; V2 and V3 are valid edits (V2 adds
# what DIFF_REGEX names), BAD is refused at BAD_LINE.
workflow() {
  local name=$1 cfg=$2 v1=$3 v2=$4 v3=$5 bad=$6 bad_line=$7 added=$8
  local base g state=$WORK/state-$1

  check "$name: start-up version kept byte for byte in the state directory (mode 750)" \
    bash -c "cmp -s '$v1' '$state/v00000001.yaml' && test \"\$(stat -c %a '$state')\" = 750"

  vc validate "$v2"
  check "$name: validate (good file): status 0, OK" expect 0 ": OK \("
  vc validate "$bad"
  check "$name: validate (bad file): status 2, file:line:column" \
    expect 2 "$(basename "$bad"):$bad_line:[0-9]+: "

  vc -i "$name" history
  check "$name: history: one version, the current one" expect 0 '^\* +1 +1 +.* start +[0-9a-f]{16} +[0-9]+$'
  vc -i "$name" diff "$v2"
  check "$name: diff names what the file adds" expect 0 "$added"
  vc -i "$name" diff "$v1"
  check "$name: diff against the same config: no differences" expect 0 '^no differences$'
  vc -i "$name" --json diff "$v2"
  check "$name: diff --json parses and names the addition" \
    json 'any(c["change"] == "added" for c in r["changes"])'

  vc -i "$name" apply "$v2"
  check "$name: apply: applied, generation 2" expect 0 '^applied: generation 2 '
  check "$name: apply: the config file holds the applied bytes" cmp -s "$v2" "$cfg"
  vc -i "$name" --json history
  check "$name: history --json: 2 versions, the second current, hashes and sizes" \
    json 'len(r["versions"]) == 2 and r["current"] == 2 and r["versions"][1]["current"] == 1 and r["versions"][1]["bytes"] > 0 and len(r["versions"][1]["hash"]) == 16'

  # apply on trial, never confirmed: the appliance goes back to version 2 by itself.
  vc -i "$name" apply "$v3" --confirm 3
  check "$name: apply --confirm 3: applied on trial, generation 3" \
    expect 0 '^applied: generation 3 ' 'confirm.* within 3 s'
  vc -i "$name" history
  check "$name: history: on trial, version 2 comes back" expect 0 '^on trial: version 3; version 2 comes back'
  g=0
  for _ in $(seq 1 60); do
    g=$(gen "$name")
    [[ "$g" == 4 ]] && break
    sleep 0.1
  done
  check "$name: no confirm: automatic rollback within 6 s (generation $g)" test "$g" = 4
  check "$name: ... the config file is the previous version byte for byte" cmp -s "$v2" "$cfg"
  check "$name: ... an event line and an audit record say 'automatic rollback'" \
    bash -c "grep -q 'automatic rollback: no .vnfctl confirm. within 3 s; restoring config version 2' '$WORK/$name.log' &&
             grep -q 'audit: config applied .*generation=4 via=automatic rollback' '$WORK/$name.log'"
  vc -i "$name" show config
  check "$name: show config: the automatic rollback applied" expect 0 ' applied +4 .*automatic rollback'

  # apply on trial, confirmed: it stays.
  vc -i "$name" apply "$v3" --confirm 5
  check "$name: apply --confirm 5: applied, generation 5" expect 0 '^applied: generation 5 '
  vc -i "$name" confirm
  check "$name: confirm: version 5 stays" expect 0 '^confirmed: version 5 stays$'
  sleep 6
  check "$name: confirmed: still generation 5 after the 5 s" test "$(gen "$name")" = 5
  check "$name: confirmed: the config file still holds the new version" cmp -s "$v3" "$cfg"
  vc -i "$name" confirm
  check "$name: confirm with nothing on trial: an error" expect 1 'nothing to confirm'

  # rollback: the previous version, then the start-up version, byte for byte.
  vc -i "$name" rollback
  check "$name: rollback: to the previous version (4), applied" \
    expect 0 '^rollback to version 4$' '^applied: generation 6 '
  check "$name: rollback: the config file is version 4 byte for byte" cmp -s "$v2" "$cfg"
  vc -i "$name" rollback 1
  check "$name: rollback 1: applied" expect 0 '^rollback to version 1$' '^applied: generation 7 '
  check "$name: rollback 1: the config file is the start-up file byte for byte" cmp -s "$v1" "$cfg"
  check "$name: rollback 1: ... and so is the newest kept version" cmp -s "$v1" "$state/v00000007.yaml"
  vc -i "$name" rollback 99
  check "$name: rollback 99: refused, one line" expect 1 '^vnfctl: rollback: no version 99 \(kept: 2 to 7\)$'

  # A rejected file changes nothing: generation, config file, versions.
  cp "$cfg" "$WORK/before.yaml"
  vc -i "$name" apply "$bad" --confirm 3
  check "$name: apply (bad file): rejected, status 1, names file:line:column" \
    expect 1 "^rejected: generation 7 hash [0-9a-f]{16}: .*$(basename "$bad"):$bad_line:[0-9]+: "
  check "$name: rejected: still generation 7" test "$(gen "$name")" = 7
  check "$name: rejected: the config file is unchanged byte for byte" cmp -s "$WORK/before.yaml" "$cfg"
  sleep 3.5
  check "$name: rejected: no confirm timer ran (still generation 7)" test "$(gen "$name")" = 7
  vc -i "$name" --json history
  check "$name: history: the last 6 versions kept (2-7), 7 current" \
    json '[v["version"] for v in r["versions"]] == [2, 3, 4, 5, 6, 7] and r["current"] == 7 and r["confirm_rollback_to"] == 0'
  check "$name: the state directory holds exactly those (6 x 2 files)" \
    test "$(ls "$state" | grep -c '^v0000000[2-7]\.\(yaml\|meta\)$')" = 12 -a "$(ls -A "$state" | wc -l)" = 12

  vc -i "$name" --json show info
  check "$name: show info --json" json "r['instance'] == '$name' and r['config_generation'] == 7"
  vc -i "$name" --json show config
  check "$name: show config --json" json 'r["generation"] == 7'
}

# ---------------------------------------------------------------- the vfirewall
fw_yaml() {  # fw_yaml EXTRA_RULE_LINE
  cat <<YAML
# program: vfirewall
engine: {name: cvfw, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
ports:
  - {name: a, type: af_packet, iface: cvfa}
  - {name: b, type: af_packet, iface: cvfb}
wires: [[a, b]]
zones:
  - {name: za, ports: [a]}
  - {name: zb, ports: [b]}
rules:
  - {id: a-ping, from: za, to: zb, service: [icmp/echo-request], action: accept}
$1
YAML
}
# The start-up file: odd bytes an editor might leave (trailing blanks, a tab, CRLF, no final
# newline) that a rollback must bring back exactly.
{ fw_yaml "" | sed 's/^rules:$/rules:   /'; printf '# a tab\there, CRLF\r\n# no final newline'; } >"$WORK/fw-v1.yaml"
fw_yaml "  - {id: b-ping, from: zb, to: za, service: [icmp/echo-request], action: accept}" >"$WORK/fw-v2.yaml"
fw_yaml "  - {id: b-ping, from: zb, to: za, service: [icmp/echo-request], action: drop}" >"$WORK/fw-v3.yaml"
fw_yaml "  - {id: b-ping, from: zb, to: nowhere, action: accept}" >"$WORK/fw-bad.yaml"
fw_bad_line=$(grep -n 'to: nowhere' "$WORK/fw-bad.yaml" | cut -d: -f1)
cp "$WORK/fw-v1.yaml" "$WORK/fw.yaml"
netns_host cv-fa cvfa 10.76.0.1/24
netns_host cv-fb cvfb 10.76.0.2/24

# A state directory that others can write is refused at start-up.
mkdir -m 777 "$WORK/open-state" && chmod 777 "$WORK/open-state"
timeout 20 "$BUILD/vfirewall/vfirewall" -c "$WORK/fw.yaml" --state-dir "$WORK/open-state" \
  >"$WORK/open-state.log" 2>&1
rc=$?
check "a world-writable --state-dir: start-up refused (status $rc), the log says why" \
  bash -c "test $rc = 1 && grep -q 'writable by other users' '$WORK/open-state.log'"

start_appliance cvfw vfirewall "$WORK/fw.yaml" --state-dir "$WORK/state-cvfw" --keep-versions 6 ||
  exit 1
check "vfirewall: A pings B" ns_ping cv-fa 10.76.0.2
workflow cvfw "$WORK/fw.yaml" "$WORK/fw-v1.yaml" "$WORK/fw-v2.yaml" "$WORK/fw-v3.yaml" \
  "$WORK/fw-bad.yaml" "$fw_bad_line" '^\+ rules\[b-ping\]$'
check "vfirewall: after the workflow A still pings B" ns_ping cv-fa 10.76.0.2
vc -i cvfw --json show rules
check "vfirewall: show rules --json" json 'r[0]["id"] == "a-ping"'

# ---------------------------------------------------------------- the vrouter
rt_yaml() {  # rt_yaml EXTRA_ROUTE_LINE
  cat <<YAML
# program: vrouter
engine: {name: cvrt, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
ports:
  - {name: p1, type: af_packet, iface: cvr1}
  - {name: p2, type: af_packet, iface: cvr2}
interfaces:
  - {name: lan1, port: p1, ipv4: [10.77.1.1/24]}
  - {name: lan2, port: p2, ipv4: [10.77.2.1/24]}
routes:
  - {prefix: 10.98.0.0/16, via: 10.77.2.20}
$1
YAML
}
rt_yaml "" >"$WORK/rt-v1.yaml"
rt_yaml "  - {prefix: 10.96.0.0/16, via: 10.77.1.10}" >"$WORK/rt-v2.yaml"
rt_yaml "  - {prefix: 10.96.0.0/16, via: 10.77.2.20}" >"$WORK/rt-v3.yaml"
rt_yaml "  - {prefix: 10.96.0.0/16, via: 10.77.3.3}" >"$WORK/rt-bad.yaml"
rt_bad_line=$(grep -n '10.77.3.3' "$WORK/rt-bad.yaml" | cut -d: -f1)
cp "$WORK/rt-v1.yaml" "$WORK/rt.yaml"
netns_host cv-r1 cvr1 10.77.1.10/24
netns_host cv-r2 cvr2 10.77.2.20/24
start_appliance cvrt vrouter "$WORK/rt.yaml" --state-dir "$WORK/state-cvrt" --keep-versions 6 ||
  exit 1
workflow cvrt "$WORK/rt.yaml" "$WORK/rt-v1.yaml" "$WORK/rt-v2.yaml" "$WORK/rt-v3.yaml" \
  "$WORK/rt-bad.yaml" "$rt_bad_line" '^\+ routes\[10\.96\.0\.0/16\]$'
vc -i cvrt --json show routes
check "vrouter: show routes --json" json 'any("10.98.0.0/16" in e for e in r)'
vc -i cvrt apply "$WORK/rt-v2.yaml"
check "vrouter: apply the second file again" expect 0 '^applied: generation 8 '
vc -i cvrt diff "$WORK/rt-v3.yaml"
check "vrouter: diff names a changed next hop" \
  expect 0 '^~ routes\[10\.96\.0\.0/16\]\.via: "10\.77\.1\.10" -> "10\.77\.2\.20"$'

# ---------------------------------------------------------------- a vswitch, relative path
# Started with a relative -c path: apply still finds the config file (the absolute path in
# /vnf/history), errors name the user's file, and the confirm timer works the same.
sw_yaml() {  # sw_yaml EXTRA_SEGMENT_LINE
  cat <<YAML
# program: vswitch
engine: {name: cvsw, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
$1
ports:
  - {name: up, type: null, devargs: "no-rx=1", mode: trunk, segments: [core]}
YAML
}
sw_yaml "" >"$WORK/sw.yaml"
cp "$WORK/sw.yaml" "$WORK/sw-v1.yaml"
sw_yaml "  - {name: info, vlan: 200}" >"$WORK/sw-v2.yaml"
sw_yaml "  - {name: info, vlan: 5000}" >"$WORK/sw-bad.yaml"
sw_bad_line=$(grep -n 'vlan: 5000' "$WORK/sw-bad.yaml" | cut -d: -f1)
cd "$WORK" || exit 1
start_appliance cvsw vswitch sw.yaml --state-dir "$WORK/state-cvsw" || exit 1
vc -i cvsw --json history
check "vswitch: history --json: the config path made absolute, one version" \
  json "r['config_path'] == '$WORK/sw.yaml' and len(r['versions']) == 1"
vc -i cvsw diff "$WORK/sw-v2.yaml"
check "vswitch: diff names the added segment" expect 0 '^\+ segments\[info\]$'
vc -i cvsw apply "$WORK/sw-bad.yaml"
check "vswitch: apply (bad file): rejected, names sw-bad.yaml:$sw_bad_line:column" \
  expect 1 "^rejected: generation 1 hash [0-9a-f]{16}: $WORK/sw-bad\.yaml:$sw_bad_line:[0-9]+: "
check "vswitch: rejected: the config file is unchanged" cmp -s "$WORK/sw-v1.yaml" "$WORK/sw.yaml"
vc -i cvsw apply "$WORK/sw-v2.yaml" --confirm 2
check "vswitch: apply --confirm 2: applied, generation 2" expect 0 '^applied: generation 2 '
g=0
for _ in $(seq 1 50); do
  g=$(gen cvsw)
  [[ "$g" == 3 ]] && break
  sleep 0.1
done
check "vswitch: no confirm: automatic rollback (generation $g)" test "$g" = 3
check "vswitch: ... the config file is the start-up file byte for byte" \
  cmp -s "$WORK/sw-v1.yaml" "$WORK/sw.yaml"
cd "$TOP" || exit 1
