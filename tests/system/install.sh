#!/usr/bin/env bash
# meson install, as an operator runs it, into a temporary DESTDIR (the build's own prefix,
# sysconfdir and localstatedir, /usr/local, /etc and /var by default):
#   - the programs, vnfctl, vnf-hugepages, the systemd units, the tmpfiles.d snippet, the
#     default configs (/etc/vnf/PROGRAM.yaml), hugepages.conf, the logrotate snippet, the
#     state and log directories are there, the units carry the real install paths;
#   - systemd-analyze verify passes on every unit with the installed binaries resolved (in a
#     private mount namespace the DESTDIR's prefix is bind-mounted over the real one, so the
#     units are verified unchanged), and fails on a unit whose binary is missing;
#   - each installed default config passes the installed program's --check (and vnfctl
#     validate, which finds the programs beside itself);
#   - systemd-tmpfiles creates the directories with their modes, vnf-hugepages succeeds
#     without lowering anything, logrotate rotates a log (copytruncate);
#   - the unit's own ExecStart line (read from the installed vnf-vswitch@.service, %i
#     substituted, install paths moved into the DESTDIR) starts the installed vswitch; after
#     an edit of its file the unit's own ExecReload line applies it (status 0, the new
#     segment is running); a refused file makes ExecReload fail and changes nothing;
#   - an upgrade (meson install again) keeps edited config files, the state and the logs;
#   - with a running systemd (/run/systemd/system), the same unit under systemctl: start,
#     systemctl reload applies a file, fails on a refused one, a SIGKILLed appliance is
#     started again (Restart=on-failure); otherwise a SKIP line.
source "$(dirname "$0")/lib.sh"

OUT=""
RC=0
NAME=vnfinstall  # the instance: vnf-vswitch@vnfinstall
DEST=$WORK/dest

# ---------------------------------------------------------------- where meson installs
if [[ ! -f $BUILD/build.ninja ]]; then
  fail "no build in $BUILD (run scripts/setup.sh)"
  exit 1
fi
# prefix bindir sbindir sysconfdir localstatedir datadir unitdir tmpfilesdir, absolute
read -r prefix bindir sbindir sysconfdir localstatedir datadir unitdir tmpfilesdir < <(
  meson introspect --buildoptions "$BUILD" | "$PY" -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
p = o["prefix"]
d = lambda k: os.path.join(p, o[k])
print(p, d("bindir"), d("sbindir"), d("sysconfdir"), d("localstatedir"), d("datadir"),
      os.path.join(p, o.get("systemdunitdir") or "lib/systemd/system"),
      os.path.join(p, o.get("tmpfilesdir") or "lib/tmpfiles.d"))')
statedir=$localstatedir/lib/vnf
logdir=$localstatedir/log/vnf
defaults=$datadir/vnf/defaults
echo "install paths: prefix $prefix, config $sysconfdir/vnf, state $statedir, logs $logdir, units $unitdir"
if [[ $sysconfdir != /etc || $localstatedir != /var ]]; then
  echo "NOTE: this build dir installs config to $sysconfdir and state to $localstatedir (configured" \
    "before the project defaulted to /etc and /var: meson configure $BUILD -Dsysconfdir=/etc -Dlocalstatedir=/var)"
fi

# map_paths: stdin to stdout with every path the install owns (under the prefix, sysconfdir or
# localstatedir) moved into the DESTDIR; other paths (/run/vnf, /dev/hugepages) stay.
map_paths() {
  "$PY" -c '
import re, sys
dest, roots = sys.argv[1], sorted(set(sys.argv[2:]), key=len, reverse=True)
pat = re.compile(r"(?<![\w/.])(" + "|".join(map(re.escape, roots)) + r")(?=/|\s|$)")
sys.stdout.write(pat.sub(lambda m: dest + m.group(1), sys.stdin.read()))' \
    "$DEST" "$prefix" "$sysconfdir" "$localstatedir"
}

# unit_cmd UNIT KEY: the unit's KEY= line (ExecStart, ExecReload) for instance $NAME, paths
# in the DESTDIR, one word a line.
unit_cmd() {
  grep -m1 "^$2=" "$DEST$unitdir/$1" | cut -d= -f2- | sed "s/%i/$NAME/g" | map_paths | tr ' ' '\n' |
    grep .
}

# ivc ARGS...: the installed vnfctl (no BUILD_DIR: it must find the installed programs).
ivc() {
  OUT=$(env -u BUILD_DIR timeout 70 "$PY" "$DEST$bindir/vnfctl" "$@" 2>&1)
  RC=$?
  printf '### installed vnfctl %s (status %d)\n%s\n' "$*" "$RC" "$OUT" >>"$WORK/vnfctl.log"
}

# all_exist TEST FILE...: every FILE passes `test TEST`; names the ones that do not.
all_exist() {
  local t=$1 f bad=0
  shift
  for f; do
    if ! test "$t" "$f"; then
      echo "      missing (test $t): $f"
      bad=1
    fi
  done
  return $bad
}

# mode_is MODE DIR
mode_is() {
  local m
  m=$(stat -c %a "$2" 2>/dev/null)
  [[ $m == "$1" ]] || { echo "      $2: mode ${m:-missing}, expected $1"; return 1; }
}

# ---------------------------------------------------------------- meson install
# meson install rewrites the build dir's install log, which `ninja uninstall` reads: keep the
# one of the last real install.
install_log=$BUILD/meson-logs/install-log.txt
[[ -f $install_log ]] && cp -p "$install_log" "$WORK/install-log.saved"
restore_install_log() {
  if [[ -f $WORK/install-log.saved ]]; then cp -p "$WORK/install-log.saved" "$install_log"; else rm -f "$install_log"; fi
}
meson install -C "$BUILD" --no-rebuild --destdir "$DEST" >"$WORK/install.log" 2>&1
rc=$?
if ((rc != 0)); then
  fail "meson install --destdir: status $rc"
  restore_install_log
  exit 1
fi
pass "meson install -C build --destdir DEST"
(cd "$DEST" && find . -printf '%M %p\n' | sort -k2) >"$WORK/installed-files.log"

programs=(vswitch vfirewall vrouter)
check "programs, vnfctl and vnf-hugepages installed executable" all_exist -x \
  "$DEST$bindir/vswitch" "$DEST$bindir/vfirewall" "$DEST$bindir/vrouter" "$DEST$bindir/vnfctl" \
  "$DEST$sbindir/vnf-hugepages"
check "systemd units: vnf-vswitch@, vnf-vfirewall@, vnf-vrouter@, vnf-hugepages" all_exist -f \
  "$DEST$unitdir/vnf-vswitch@.service" "$DEST$unitdir/vnf-vfirewall@.service" \
  "$DEST$unitdir/vnf-vrouter@.service" "$DEST$unitdir/vnf-hugepages.service"
check "default configs in $sysconfdir/vnf, hugepages.conf, logrotate and tmpfiles.d snippets" \
  all_exist -f "$DEST$sysconfdir/vnf/vswitch.yaml" "$DEST$sysconfdir/vnf/vfirewall.yaml" \
  "$DEST$sysconfdir/vnf/vrouter.yaml" "$DEST$sysconfdir/vnf/hugepages.conf" \
  "$DEST$sysconfdir/logrotate.d/vnf" "$DEST$tmpfilesdir/vnf.conf"
check "state and log directories $statedir, $logdir (mode 750)" \
  eval 'mode_is 750 "$DEST$statedir" && mode_is 750 "$DEST$logdir"'
defaults_shipped() {
  local p
  for p in "${programs[@]}"; do cmp "$TOP/rules/default/$p.yaml" "$DEST$defaults/$p.yaml" || return 1; done
}
check "shipped defaults in $defaults equal the source files (rules/default)" defaults_shipped

# The units name the real install paths (configure_file), nothing left to substitute.
units_ok() {
  local p u
  for p in "${programs[@]}"; do
    u=$DEST$unitdir/vnf-$p@.service
    grep -qx "ExecStart=$bindir/$p -c $sysconfdir/vnf/%i.yaml .*--state-dir $statedir/%i .*" "$u" &&
      grep -qx "ExecReload=$bindir/vnfctl .*-i %i reload" "$u" &&
      grep -qx "Restart=on-failure" "$u" && grep -qx "Wants=vnf-hugepages.service" "$u" &&
      grep -qx "After=vnf-hugepages.service network.target" "$u" ||
      { echo "      $u:"; grep -E '^(Exec|Restart|Wants|After)' "$u" | sed 's/^/        /'; return 1; }
  done
  u=$DEST$unitdir/vnf-hugepages.service
  grep -qx "ExecStart=$sbindir/vnf-hugepages" "$u" &&
    grep -qx "EnvironmentFile=-$sysconfdir/vnf/hugepages.conf" "$u" || return 1
  ! grep -n '@[A-Z_]*@' "$DEST$unitdir"/vnf-*.service "$DEST$tmpfilesdir/vnf.conf" \
    "$DEST$sysconfdir/logrotate.d/vnf"
}
check "units: ExecStart $bindir/PROGRAM -c $sysconfdir/vnf/%i.yaml, ExecReload vnfctl reload, Restart=on-failure, after vnf-hugepages" units_ok

# ---------------------------------------------------------------- systemd-analyze verify
# verify_units UNIT_PATH...: systemd-analyze verify with the DESTDIR's prefix over the real
# one (a private mount namespace), so ExecStart binaries and Wants= units resolve where
# systemd will find them; output in $OUT (systemd-analyze says nothing when all is well).
# Without a mount namespace: verify in place and accept only "Command P is not executable"
# for a P that the DESTDIR has.
VERIFY_MODE=""
verify_units() {
  local u args=()
  for u; do
    if [[ $u == "$prefix"/* ]]; then args+=("$u"); else args+=("$DEST$u"); fi
  done
  if unshare -m --propagation private true 2>/dev/null && [[ -d $prefix ]]; then
    VERIFY_MODE="$DEST$prefix bind-mounted over $prefix"
    OUT=$(unshare -m --propagation private bash -c 'mount --bind "$1" "$2" && cd / && shift 2 &&
      SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$@"' verify "$DEST$prefix" "$prefix" "${args[@]}" 2>&1)
    RC=$?
  else
    VERIFY_MODE="in place (no mount namespace): missing commands looked up in the DESTDIR"
    args=()
    for u; do args+=("$DEST$u"); done
    OUT=$(cd / && SYSTEMD_LOG_COLOR=0 systemd-analyze verify "${args[@]}" 2>&1)
    local line cmd rest=""
    while IFS= read -r line; do
      [[ -z $line ]] && continue
      cmd=$(sed -nE 's/.*Command (\/[^ ]+) is not executable: No such file or directory$/\1/p' <<<"$line")
      if [[ -n $cmd && -x $DEST$cmd ]]; then continue; fi
      rest+="$line"$'\n'
    done <<<"$OUT"
    OUT=$rest
    RC=0
    [[ -n $OUT ]] && RC=1
  fi
  printf '### systemd-analyze verify %s (%s): status %d\n%s\n' "$*" "$VERIFY_MODE" "$RC" "$OUT" \
    >>"$WORK/verify.log"
}

if ! command -v systemd-analyze >/dev/null; then
  fail "systemd-analyze is missing (Debian package systemd; scripts/setup.sh installs it)"
else
  for p in "${programs[@]}"; do
    verify_units "$unitdir/vnf-$p@$NAME.service"
    check "systemd-analyze verify vnf-$p@$NAME.service: clean ($VERIFY_MODE)" \
      eval '((RC == 0)) && [[ -z $OUT ]] || { sed "s/^/      /" <<<"$OUT"; false; }'
  done
  verify_units "$unitdir/vnf-hugepages.service"
  check "systemd-analyze verify vnf-hugepages.service: clean" \
    eval '((RC == 0)) && [[ -z $OUT ]] || { sed "s/^/      /" <<<"$OUT"; false; }'
  # The same verify must see a broken unit: ExecStart naming a binary that is not installed.
  sed "s#^ExecStart=$bindir/vswitch #ExecStart=$bindir/vswitch-not-installed #" \
    "$DEST$unitdir/vnf-vswitch@.service" >"$DEST$unitdir/vnf-broken@.service"
  verify_units "$unitdir/vnf-broken@$NAME.service"
  rm -f "$DEST$unitdir/vnf-broken@.service"
  check "systemd-analyze verify fails on a unit whose ExecStart binary is not installed" \
    eval '((RC != 0)) && grep -q "vswitch-not-installed is not executable" <<<"$OUT" ||
      { echo "      status $RC: $OUT"; false; }'
fi

# ---------------------------------------------------------------- the default configs
for p in "${programs[@]}"; do
  out=$("$DEST$bindir/$p" --check -c "$DEST$sysconfdir/vnf/$p.yaml" 2>&1)
  rc=$?
  check "installed $p --check -c $sysconfdir/vnf/$p.yaml: valid ($out)" test "$rc" -eq 0
  ivc validate "$DEST$sysconfdir/vnf/$p.yaml"
  check "installed vnfctl validate $p.yaml: runs the installed $p, status 0" expect 0 ": OK \("
done

# ---------------------------------------------------------------- tmpfiles, hugepages
if command -v systemd-tmpfiles >/dev/null; then
  out=$(systemd-tmpfiles --root="$DEST" --create "$DEST$tmpfilesdir/vnf.conf" 2>&1)
  rc=$?
  check "systemd-tmpfiles --create vnf.conf: /run/vnf 755, $statedir and $logdir 750 ($out)" \
    eval '((rc == 0)) && mode_is 755 "$DEST/run/vnf" && mode_is 750 "$DEST$statedir" &&
      mode_is 750 "$DEST$logdir"'
else
  fail "systemd-tmpfiles is missing (Debian package systemd)"
fi

pages_before=$(cat /proc/sys/vm/nr_hugepages)
out=$(VNF_HUGEPAGES=1 "$DEST$sbindir/vnf-hugepages" 2>&1)
rc=$?
check "vnf-hugepages (1 page wanted): status 0, hugetlbfs mounted, reservation not lowered ($out)" \
  eval '((rc == 0)) && [[ $(cat /proc/sys/vm/nr_hugepages) -ge $pages_before ]] &&
    grep -q " hugetlbfs " /proc/mounts'
out=$(VNF_HUGEPAGE_SIZE_KB=3 "$DEST$sbindir/vnf-hugepages" 2>&1)
rc=$?
check "vnf-hugepages with a page size the kernel lacks: status 1, says why ($out)" \
  eval '((rc == 1)) && grep -q "no 3 kB hugepages" <<<"$out"'

# ---------------------------------------------------------------- the unit's own command lines
# The instance's file: the installed default, named after the instance, logging in the
# DESTDIR.
cfg=$DEST$sysconfdir/vnf/$NAME.yaml
sed -e "s/^  name: vswitch$/  name: $NAME/" \
  -e "s#log_file: /var/log/vnf/vswitch.log#log_file: $DEST$logdir/$NAME.log#" \
  "$DEST$sysconfdir/vnf/vswitch.yaml" >"$cfg"
mapfile -t start_cmd < <(unit_cmd vnf-vswitch@.service ExecStart)
mapfile -t reload_cmd < <(unit_cmd vnf-vswitch@.service ExecReload)
echo "ExecStart:  ${start_cmd[*]}"
echo "ExecReload: ${reload_cmd[*]}"

# start_unit_cmd: ExecStart in the background, until its log says running.
start_unit_cmd() {
  env -u BUILD_DIR "${start_cmd[@]}" >>"$WORK/$NAME.log" 2>&1 &
  APP_PID=$!
  APPLIANCE_PIDS+=("$APP_PID")
  for _ in $(seq 1 150); do
    grep -q "running:" "$WORK/$NAME.log" && return 0
    kill -0 "$APP_PID" 2>/dev/null || { echo "      exited:"; tail -5 "$WORK/$NAME.log"; return 1; }
    sleep 0.1
  done
  echo "      not running within 15 s"
  return 1
}
# reload_unit_cmd: ExecReload as systemd would run it (output in $OUT, status in $RC).
reload_unit_cmd() {
  OUT=$(env -u BUILD_DIR timeout 90 "${reload_cmd[@]}" 2>&1)
  RC=$?
  printf '### ExecReload (status %d)\n%s\n' "$RC" "$OUT" >>"$WORK/vnfctl.log"
}

# The files of the instance at the three steps: the default, one more segment with vm1 moved
# there, and one that names a segment nobody declared.
cp "$cfg" "$WORK/v1.yaml"
sed -e "s/^  - {name: core, vlan: 100, description: core business network}$/&\n  - {name: info, vlan: 200}/" \
  -e "s/mode: access, segment: core}/mode: access, segment: info}/" "$WORK/v1.yaml" >"$WORK/v2.yaml"
sed -e "s/mode: access, segment: info}/mode: access, segment: nowhere}/" "$WORK/v2.yaml" >"$WORK/bad.yaml"
bad_line=$(grep -n "segment: nowhere" "$WORK/bad.yaml" | cut -d: -f1)

if check "the unit's ExecStart starts the installed vswitch (instance $NAME, installed default config)" \
  start_unit_cmd; then
  ivc -i "$NAME" show info
  check "installed vnfctl -i $NAME show info: vswitch, generation 1, pid of ExecStart" \
    expect 0 '^program: vswitch$' "^instance: $NAME$" '^config_generation: 1$' "^pid: $APP_PID$"
  ivc -i "$NAME" show segments
  check "running: the default segment core with both ports" expect 0 '^core +100 +uplink,vm1 '
  check "running: no segment info yet" lacks '^info '

  cp "$WORK/v2.yaml" "$cfg"
  reload_unit_cmd
  check "the unit's ExecReload after an edit: status 0, applied, generation 2" \
    expect 0 '^applied: generation 2 hash [0-9a-f]+: .*'
  ivc -i "$NAME" show segments
  check "the edited file is running: segment info (VLAN 200) with vm1, core keeps the uplink" \
    expect 0 '^info +200 +vm1 ' '^core +100 +uplink '

  cp "$WORK/bad.yaml" "$cfg"
  reload_unit_cmd
  check "ExecReload of a refused file: status 1 (systemctl reload fails), names file:line" \
    expect 1 "^rejected: .*$NAME\.yaml:$bad_line:[0-9]+: .*nowhere"
  ivc -i "$NAME" show segments
  check "after the refused file the running config is unchanged" \
    expect 0 '^info +200 +vm1 ' '^core +100 +uplink '
  ivc -i "$NAME" raw /vnf/config
  check "after the refused file: still generation 2" json 'r["generation"] == 2'
  cp "$WORK/v2.yaml" "$cfg"

  check "state: versions 1 and 2 kept in $statedir/$NAME, byte for byte" \
    eval 'cmp -s "$WORK/v1.yaml" "$DEST$statedir/$NAME/v00000001.yaml" &&
      cmp -s "$WORK/v2.yaml" "$DEST$statedir/$NAME/v00000002.yaml" && mode_is 750 "$DEST$statedir/$NAME"'
  check "log: $logdir/$NAME.log has the audit records of the apply and the rejection" \
    eval 'grep -q "audit: config applied .*generation=2" "$DEST$logdir/$NAME.log" &&
      grep -q "audit: config rejected" "$DEST$logdir/$NAME.log"'
  kill -TERM "$APP_PID"
  wait "$APP_PID"
  rc=$?
  check "SIGTERM (systemd's stop): exit status 0, control socket gone" \
    eval '((rc == 0)) && [[ ! -e /run/vnf/$NAME.sock ]]'
fi

# ---------------------------------------------------------------- log retention
if command -v logrotate >/dev/null && [[ -s $DEST$logdir/$NAME.log ]]; then
  map_paths <"$DEST$sysconfdir/logrotate.d/vnf" >"$WORK/logrotate.conf"
  cp "$DEST$logdir/$NAME.log" "$WORK/log-before"
  out=$(logrotate -f -s "$WORK/logrotate.state" "$WORK/logrotate.conf" 2>&1)
  rc=$?
  check "logrotate with the installed snippet: $NAME.log rotated to $NAME.log.1, emptied in place ($out)" \
    eval '((rc == 0)) && cmp -s "$WORK/log-before" "$DEST$logdir/$NAME.log.1" &&
      [[ -f $DEST$logdir/$NAME.log && ! -s $DEST$logdir/$NAME.log ]]'
  check "logrotate snippet: retention 90 rotations, 90 days, compressed" \
    eval 'grep -qE "^ +rotate 90$" "$WORK/logrotate.conf" && grep -qE "^ +maxage 90$" "$WORK/logrotate.conf" &&
      grep -qE "^ +compress$" "$WORK/logrotate.conf"'
else
  skip "logrotate: not installed, or no log written above (scripts/setup.sh installs logrotate)"
fi

# ---------------------------------------------------------------- upgrade
echo "# edited on site" >>"$DEST$sysconfdir/vnf/vswitch.yaml"
sed -i 's/^VNF_HUGEPAGES=.*/VNF_HUGEPAGES=1024/' "$DEST$sysconfdir/vnf/hugepages.conf"
sed -i 's/rotate 90/rotate 365/' "$DEST$sysconfdir/logrotate.d/vnf"
for f in "$sysconfdir/vnf/vswitch.yaml" "$sysconfdir/vnf/hugepages.conf" "$sysconfdir/logrotate.d/vnf" \
  "$cfg" "$statedir/$NAME/v00000002.yaml"; do
  [[ $f == "$DEST"* ]] || f=$DEST$f
  cp "$f" "$WORK/before-$(basename "$f")"
done
rm -f "$DEST$defaults/vswitch.yaml"
meson install -C "$BUILD" --no-rebuild --destdir "$DEST" >"$WORK/install2.log" 2>&1
rc=$?
check "upgrade: meson install again into the same DESTDIR (status $rc)" test "$rc" -eq 0
restore_install_log
kept() {
  local f
  for f in "$sysconfdir/vnf/vswitch.yaml" "$sysconfdir/vnf/hugepages.conf" "$sysconfdir/logrotate.d/vnf" \
    "$cfg" "$statedir/$NAME/v00000002.yaml"; do
    [[ $f == "$DEST"* ]] || f=$DEST$f
    cmp -s "$WORK/before-$(basename "$f")" "$f" || { echo "      changed by the upgrade: $f"; return 1; }
  done
}
check "upgrade keeps edited config files (vswitch.yaml, hugepages.conf, logrotate), the instance's file and its state" kept
check "upgrade: the shipped default is back in $defaults, the edited one untouched beside it" \
  cmp -s "$TOP/rules/default/vswitch.yaml" "$DEST$defaults/vswitch.yaml"

# ---------------------------------------------------------------- under a running systemd
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
  # Runtime units (/run/systemd/system, gone at reboot) that are the installed ones with their
  # paths in the DESTDIR, under names of their own so that they never meet a real install.
  unit=vnf-installtest-vswitch@$NAME.service
  map_paths <"$DEST$unitdir/vnf-vswitch@.service" |
    sed 's/vnf-hugepages\.service/vnf-installtest-hugepages.service/g' \
      >/run/systemd/system/vnf-installtest-vswitch@.service
  map_paths <"$DEST$unitdir/vnf-hugepages.service" >/run/systemd/system/vnf-installtest-hugepages.service
  cleanup_systemd() {
    systemctl stop "$unit" vnf-installtest-hugepages.service 2>/dev/null
    rm -f /run/systemd/system/vnf-installtest-vswitch@.service \
      /run/systemd/system/vnf-installtest-hugepages.service
    systemctl daemon-reload
  }
  systemctl daemon-reload
  # The hugepage unit runs for real: ask for no more than the host has.
  sed -i "s/^VNF_HUGEPAGES=.*/VNF_HUGEPAGES=$(cat /proc/sys/vm/nr_hugepages)/" \
    "$DEST$sysconfdir/vnf/hugepages.conf"
  cp "$WORK/v1.yaml" "$cfg"
  rm -rf "${DEST:?}$statedir/$NAME"
  if check "systemctl start $unit: active" \
    eval 'systemctl start "$unit" && sleep 3 && systemctl is-active --quiet "$unit"'; then
    for _ in $(seq 1 150); do [[ -S /run/vnf/$NAME.sock ]] && break; sleep 0.1; done
    ivc -i "$NAME" show segments
    check "systemd: the default config runs" expect 0 '^core +100 +uplink,vm1 '
    cp "$WORK/v2.yaml" "$cfg"
    out=$(systemctl reload "$unit" 2>&1)
    rc=$?
    ivc -i "$NAME" show segments
    check "systemctl reload applies the edited file (status $rc)" \
      eval '((rc == 0))' && check "systemd: segment info with vm1 running" expect 0 '^info +200 +vm1 '
    cp "$WORK/bad.yaml" "$cfg"
    out=$(systemctl reload "$unit" 2>&1)
    rc=$?
    ivc -i "$NAME" show segments
    check "systemctl reload of a refused file fails (status $rc), the running config stays" \
      eval '((rc != 0))' && check "systemd: still segment info with vm1" expect 0 '^info +200 +vm1 '
    cp "$WORK/v2.yaml" "$cfg"
    pid1=$(systemctl show -p MainPID --value "$unit")
    kill -KILL "$pid1"
    pid2=0
    for _ in $(seq 1 200); do
      pid2=$(systemctl show -p MainPID --value "$unit")
      [[ $pid2 != 0 && $pid2 != "$pid1" ]] && systemctl is-active --quiet "$unit" && break
      pid2=0
      sleep 0.1
    done
    check "Restart=on-failure: killed with SIGKILL, systemd starts it again (pid $pid1 -> $pid2)" \
      test "$pid2" != 0
    systemctl stop "$unit"
  else
    systemctl status "$unit" --no-pager 2>&1 | tail -20 | sed 's/^/      /'
  fi
  cleanup_systemd
else
  skip "no running systemd: /run/systemd/system is absent, so systemctl start and systemctl reload of vnf-vswitch@$NAME were not run; the unit's own ExecStart and ExecReload lines were run above and systemd-analyze verified the units"
fi
