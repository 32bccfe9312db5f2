# A private Open vSwitch on its userspace datapath (datapath_type=netdev): its own database,
# sockets and logs in a directory of ours, its daemons inside a network namespace of ours. The
# independent bond/LACP partner of the bond tests and of bench/bond_failover.sh. Needs
# openvswitch-switch (scripts/setup.sh installs it); no kernel module.
#
#   ovs_start NS DIR      start ovsdb-server and ovs-vswitchd in NS
#   ovs_vsctl DIR ARGS    ovs-vsctl against that database
#   ovs_appctl DIR ARGS   ovs-appctl against that ovs-vswitchd
#   ovs_stop DIR          stop both (by the PIDs they wrote), idempotent

OVS_VSWITCHD=/usr/lib/openvswitch-switch/ovs-vswitchd  # the plain build (not the -dpdk one)
[[ -x $OVS_VSWITCHD ]] || OVS_VSWITCHD=/usr/sbin/ovs-vswitchd

ovs_available() {
  [[ -x $OVS_VSWITCHD ]] && command -v ovsdb-server >/dev/null && command -v ovs-vsctl >/dev/null &&
    [[ -r /usr/share/openvswitch/vswitch.ovsschema ]]
}

_ovs_env() { echo "OVS_RUNDIR=$1 OVS_LOGDIR=$1 OVS_DBDIR=$1 OVS_SYSCONFDIR=$1"; }

ovs_start() {
  local ns=$1 d=$2
  rm -rf "$d"
  mkdir -p "$d"
  env $(_ovs_env "$d") ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema ||
    return 1
  ip netns exec "$ns" env $(_ovs_env "$d") ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" \
    --pidfile="$d/ovsdb.pid" --detach --log-file="$d/ovsdb.log" >/dev/null 2>&1 || return 1
  ovs_vsctl "$d" --no-wait init || return 1
  ip netns exec "$ns" env $(_ovs_env "$d") "$OVS_VSWITCHD" "unix:$d/db.sock" \
    --pidfile="$d/vswitchd.pid" --detach --log-file="$d/vswitchd.log" >/dev/null 2>&1
}

ovs_vsctl() {
  local d=$1
  shift
  env $(_ovs_env "$d") ovs-vsctl --timeout=10 --db="unix:$d/db.sock" "$@"
}

ovs_appctl() {
  local d=$1
  shift
  env $(_ovs_env "$d") ovs-appctl --timeout=10 -t "$d/ovs-vswitchd.$(cat "$d/vswitchd.pid").ctl" "$@"
}

ovs_stop() {
  local d=$1 f pid
  for f in vswitchd ovsdb; do
    [[ -f "$d/$f.pid" ]] || continue
    pid=$(cat "$d/$f.pid")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$d/$f.pid"
  done
}
