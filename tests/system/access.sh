#!/usr/bin/env bash
# Who may do what with vnfctl (issue 10, part 5): a live vfirewall and three users that are
# not root, run through runuser:
#   vnftest_read  (in vnf-read)  shows and reads the history; apply, reload, confirm and
#                                rollback are refused with the permission message and change
#                                nothing (the generation stays);
#   vnftest_none  (in neither)   can do neither;
#   vnftest_admin (in vnf-admin) applies a file of its own although it cannot write the
#                                appliance's config file; the audit (show config --json and
#                                the appliance's log) names it by name and uid; its apply
#                                --confirm 2 left unconfirmed is undone, and the automatic
#                                rollback names it; confirm and rollback are audited too.
# Also: nothing of the appliance listens on a network port. Users and groups this test
# creates are removed at the end (only those).
source "$(dirname "$0")/lib.sh"

OUT=""
RC=0
USERS=(vnftest_read vnftest_admin vnftest_none)
MADE_GROUPS=()
MADE_USERS=()
ADMIN_DIR=""
COPY_DIR=""

cleanup_accounts() {
  local u g
  for u in "${MADE_USERS[@]}"; do userdel "$u" 2>/dev/null; done
  for g in "${MADE_GROUPS[@]}"; do groupdel "$g" 2>/dev/null; done
  [[ -n "$ADMIN_DIR" ]] && rm -rf "$ADMIN_DIR"
  [[ -n "$COPY_DIR" ]] && rm -rf "$COPY_DIR"
}
trap 'cleanup_accounts; finish' EXIT

for g in vnf-admin vnf-read; do
  if ! getent group "$g" >/dev/null; then
    groupadd --system "$g" && MADE_GROUPS+=("$g")
  fi
done
for u in "${USERS[@]}"; do
  if getent passwd "$u" >/dev/null; then
    echo "user $u exists already (a previous run?): used as it is"
  else
    useradd --no-create-home --shell /usr/sbin/nologin "$u" && MADE_USERS+=("$u")
  fi
done
usermod -a -G vnf-read vnftest_read
usermod -a -G vnf-admin vnftest_admin
ADMIN_UID=$(id -u vnftest_admin)

# vnfctl must be readable by the users; the checkout may not be (then a copy is used).
VNFCTL_AS=$VNFCTL
if ! runuser -u vnftest_none -- test -r "$VNFCTL"; then
  COPY_DIR=$(mktemp -d /tmp/vnfctl-access.XXXXXX)
  VNFCTL_AS=$COPY_DIR/vnfctl
  cp "$VNFCTL" "$VNFCTL_AS"
  chmod -R a+rX "$COPY_DIR"
fi

# as USER ARGS...: vnfctl run as USER; like vc.
as() {
  local user=$1
  shift
  CALLS=$((CALLS + 1))
  OUT=$(cd / && timeout 30 runuser -u "$user" -- "$PY" "$VNFCTL_AS" "$@" 2>&1)
  RC=$?
  printf '### (%s) vnfctl %s (status %d)\n%s\n' "$user" "$*" "$RC" "$OUT" >>"$WORK/vnfctl.log"
}

gen() { generation vnf-acfw; }

fw_yaml() {  # fw_yaml EXTRA_RULE_LINE
  cat <<YAML
# program: vfirewall
engine: {name: acfw, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
ports:
  - {name: a, type: null, devargs: "no-rx=1"}
  - {name: b, type: null, devargs: "no-rx=1"}
wires: [[a, b]]
zones:
  - {name: za, ports: [a]}
  - {name: zb, ports: [b]}
rules:
  - {id: a-ping, from: za, to: zb, service: [icmp/echo-request], action: accept}
$1
YAML
}
# The running config: root's, in root's private test directory.
fw_yaml "" >"$WORK/fw.yaml"
cp "$WORK/fw.yaml" "$WORK/fw-v1.yaml"
chmod 640 "$WORK/fw.yaml"
# The admin's own files, in a directory the admin owns.
ADMIN_DIR=$(mktemp -d /tmp/vnf-access-admin.XXXXXX)
chmod 755 "$ADMIN_DIR"
fw_yaml "  - {id: b-ping, from: zb, to: za, service: [icmp/echo-request], action: accept}" \
  >"$ADMIN_DIR/v2.yaml"
fw_yaml "  - {id: b-ping, from: zb, to: za, service: [icmp/echo-request], action: drop}" \
  >"$ADMIN_DIR/v3.yaml"
fw_yaml "  - {id: b-ping, from: zb, to: nowhere, action: accept}" >"$ADMIN_DIR/bad.yaml"
chown -R vnftest_admin "$ADMIN_DIR"
chmod 644 "$ADMIN_DIR"/*.yaml

start_appliance acfw vfirewall "$WORK/fw.yaml" --no-huge --state-dir "$WORK/state" || exit 1
SOCK=/run/vnf/acfw.sock
LOG=$WORK/acfw.log

check "the control socket $SOCK exists (a unix socket)" test -S "$SOCK"
pid=$(cat "$WORK/acfw.pid.launch")
check "nothing of the appliance listens on a network port (ss -ltnup)" \
  bash -c "! ss -H -ltnup | grep -q 'pid=$pid,'"

# ---------------------------------------------------------------- the read-only user
g0=$(gen)
as vnftest_read -i acfw show info
check "read user: show info" expect 0 '^instance: acfw$'
as vnftest_read -i acfw history
check "read user: history" expect 0 '^\* +1 +1 +.* start '
as vnftest_read -i acfw show config
check "read user: show config" expect 0 '^running generation 1 '
as vnftest_read -i acfw diff "$ADMIN_DIR/v2.yaml"
check "read user: diff" expect 0 '^\+ rules\[b-ping\]$'
as vnftest_read -i acfw why port=a src=10.0.0.1 dst=10.0.0.2 proto=icmp
check "read user: why (ping a -> b: rule a-ping, out of b)" expect 0 '^verdict +forward to b$' \
  '^  firewall +zone za -> zb: new connection, rule a-ping: accept'
deny_read="permission denied: user 'vnftest_read' \(uid [0-9]+\) is in vnf-read but not in vnf-admin"
as vnftest_read -i acfw apply "$ADMIN_DIR/v2.yaml"
check "read user: apply refused with the permission message" expect_error 1 "$deny_read"
as vnftest_read -i acfw reload
check "read user: reload refused" expect_error 1 "$deny_read"
as vnftest_read -i acfw confirm
check "read user: confirm refused" expect_error 1 "$deny_read"
as vnftest_read -i acfw rollback
check "read user: rollback refused" expect_error 1 "$deny_read"
as vnftest_read -i acfw raw /vnf/confirm
check "read user: raw /vnf/confirm not relayed" expect_error 1 "not available"
check "read user: nothing changed (generation $g0, the config file)" \
  bash -c "test '$(gen)' = '$g0' && cmp -s '$WORK/fw.yaml' '$WORK/fw-v1.yaml'"
check "the appliance logs the refusals" \
  grep -qE "control socket: refused 'apply .*uid [0-9]+ \(vnftest_read\)" "$LOG"

# ---------------------------------------------------------------- the user in neither group
deny_none="permission denied: user 'vnftest_none' \(uid [0-9]+\) is in neither vnf-admin nor vnf-read"
as vnftest_none -i acfw show info
check "none user: show refused" expect_error 1 "$deny_none"
as vnftest_none -i acfw history
check "none user: history refused" expect_error 1 "$deny_none"
as vnftest_none -i acfw why port=a src=10.0.0.1 dst=10.0.0.2
check "none user: why refused" expect_error 1 "$deny_none"
as vnftest_none -i acfw reload
check "none user: reload refused" expect_error 1 "$deny_none"
check "none user: generation unchanged" test "$(gen)" = "$g0"

# ---------------------------------------------------------------- the admin (not root)
check "admin: cannot write the appliance's config file itself" \
  bash -c "! runuser -u vnftest_admin -- test -w '$WORK/fw.yaml'"
as vnftest_admin -i acfw apply "$ADMIN_DIR/v2.yaml"
check "admin: apply its own file: applied, generation 2" expect 0 '^applied: generation 2 '
check "admin: the config file now holds the admin's bytes" cmp -s "$ADMIN_DIR/v2.yaml" "$WORK/fw.yaml"
check "admin: the config file is still root's" test "$(stat -c %U "$WORK/fw.yaml")" = root
as vnftest_admin -i acfw --json show config
check "admin: /vnf/config names the admin (user, uid, via apply)" \
  json "[a for a in r.values() if isinstance(a, dict)][-1]['user'] == 'vnftest_admin' and [a for a in r.values() if isinstance(a, dict)][-1]['uid'] == $ADMIN_UID and [a for a in r.values() if isinstance(a, dict)][-1]['via'] == 'apply'"
check "admin: the log's audit line names uid and user" \
  grep -qE "audit: config applied .* generation=2 via=apply uid=$ADMIN_UID user=vnftest_admin " "$LOG"
as vnftest_admin -i acfw history
check "admin: history shows version 2 with the admin's uid" expect 0 "^\* +2 +2 +.* $ADMIN_UID +apply "

as vnftest_admin -i acfw apply "$ADMIN_DIR/bad.yaml"
check "admin: a bad file is rejected, named file:line:column" \
  expect 1 "^rejected: generation 2 .*bad.yaml:[0-9]+:[0-9]+"
check "admin: after the rejected file the config file holds version 2 again" \
  cmp -s "$ADMIN_DIR/v2.yaml" "$WORK/fw.yaml"

# apply on trial, never confirmed: undone by the appliance, which names who applied.
as vnftest_admin -i acfw apply "$ADMIN_DIR/v3.yaml" --confirm 2
check "admin: apply --confirm 2: applied on trial, generation 3" \
  expect 0 '^applied: generation 3 ' '^on trial: '
for _ in $(seq 1 50); do
  [[ "$(gen)" == 4 ]] && break
  sleep 0.2
done
check "automatic rollback: generation 4, the config file holds version 2 again" \
  bash -c "test \"\$(echo $(gen))\" = 4 && cmp -s '$ADMIN_DIR/v2.yaml' '$WORK/fw.yaml'"
check "automatic rollback: the log names the admin's apply it undid" \
  grep -qE "automatic rollback: .* applied by uid $ADMIN_UID \(vnftest_admin\) pid [0-9]+ via apply" "$LOG"
as vnftest_read -i acfw --json show config
check "automatic rollback: an audit record (via automatic rollback)" \
  json "[a for a in r.values() if isinstance(a, dict)][-1]['via'] == 'automatic rollback'"

# confirm and rollback by the admin: audited with its name.
as vnftest_admin -i acfw apply "$ADMIN_DIR/v3.yaml" --confirm 60
check "admin: apply --confirm 60" expect 0 '^applied: generation 5 '
as vnftest_admin -i acfw confirm
check "admin: confirm" expect 0 '^confirmed: version [0-9]+ stays$'
check "admin: the confirm is an audit line naming the admin" \
  grep -qE "audit: config version [0-9]+ confirmed .* uid=$ADMIN_UID user=vnftest_admin " "$LOG"
as vnftest_admin -i acfw rollback
check "admin: rollback: applied, generation 6" expect 0 '^rollback to version ' '^applied: generation 6 '
check "admin: the rollback's audit line names the admin" \
  grep -qE "audit: config applied .* generation=6 via=rollback uid=$ADMIN_UID user=vnftest_admin " "$LOG"
as vnftest_admin -i acfw reload
check "admin: reload" expect 0 '^applied: generation 7 '

# root without the control socket still works (telemetry + SIGHUP).
vc -p vnf-acfw show info
check "root with -p (the telemetry socket): show info" expect 0 '^instance: acfw$'

stop_appliance acfw
check "the control socket is removed at stop" test ! -e "$SOCK"
