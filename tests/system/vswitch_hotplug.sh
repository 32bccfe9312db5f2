#!/usr/bin/env bash
# VM ports come and go by reload (issue #10), without a restart and without disturbing the
# other ports: two VMs (vm1, vm2: af_packet) exchange a ping every 20 ms for the whole test,
# while
#   - a third VM's tap port is added by reload, reaches vm1 and vm2, and is removed again
#     (its interface disappears, what was learned behind it is flushed);
#   - a vhost-user port is added, driven by a virtio-user "VM" (dpdk-testpmd answering ARP and
#     ICMP echo), reaches vm1, and is removed while that VM is still connected;
#   - a port added again starts its counters at zero;
#   - a reload that adds a port and then fails to compile adds nothing;
# and the ping stream loses nothing.
source "$(dirname "$0")/lib.sh"

base() {
  cat <<YAML
# program: vswitch
engine: {name: hotplug, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
ports:
  - {name: vm1, type: af_packet, iface: hpvm1, mode: access, segment: core}
  - {name: vm2, type: af_packet, iface: hpvm2, mode: access, segment: core}
YAML
}
TAP3="  - {name: vm3, type: tap, iface: hpvm3, mode: access, segment: core}"
VH4="  - {name: vh4, type: vhost, socket: $WORK/vh4.sock, mode: access, segment: core}"
base >"$WORK/host.yaml"

netns_host hp-vm1 hpvm1 10.7.0.1/24
netns_host hp-vm2 hpvm2 10.7.0.2/24
start_appliance sw vswitch "$WORK/host.yaml" --state-dir "$WORK/state" || exit 1
P=vnf-hotplug

# reload_with TEXT: the file becomes TEXT, vnfctl reload; $RC and $OUT as vc sets them.
reload_with() {
  printf '%s\n' "$1" >"$WORK/host.yaml"
  vc -i hotplug reload
}
port_field() {  # port_field PORT FIELD: from /vnf/ports ("none" when the port is absent)
  tel_get $P /vnf/ports "r.get('$1', {}).get('$2', 'none')"
}

check "vm1 -> vm2 before the stream" ns_ping hp-vm1 10.7.0.2
# The stream: 20 ms apart, running through every reload below (a few seconds on an idle
# host, up to about 40 s on a busy one).
ip netns exec hp-vm1 ping -i 0.02 -c 2000 -W 1 10.7.0.2 >"$WORK/stream.log" 2>&1 &
stream=$!
stream_t0=$(date +%s%N)
sleep 1

# --- a tap port added by reload
reload_with "$(base; echo "$TAP3")"
check "tap added: reload applied" expect 0 "^applied: generation 2 .*ports added: vm3"
check "tap added: /vnf/ports lists vm3" test "$(port_field vm3 type)" = tap
check "tap added: the interface exists" bash -c "ip link show hpvm3 >/dev/null"
ip netns add hp-vm3 && NETNS_CREATED+=(hp-vm3)
ip link set hpvm3 netns hp-vm3
ip netns exec hp-vm3 ip link set hpvm3 up
ip netns exec hp-vm3 ip addr add 10.7.0.3/24 dev hpvm3
ip netns exec hp-vm3 ethtool -K hpvm3 tx off >/dev/null 2>&1
check "tap added: vm3 reaches vm1" ns_ping hp-vm3 10.7.0.1
check "tap added: vm3 reaches vm2" ns_ping hp-vm3 10.7.0.2
vm3_mac=$(ip netns exec hp-vm3 cat /sys/class/net/hpvm3/address)
# Moving the tap into the namespace takes it down in ours first: that link-down event (which
# flushes what was learned on the port) may reach the control thread after the pings above on
# a loaded host. The MAC must be (re)learned from vm3's next frames.
for _ in 1 2 3 4 5; do
  on_vm3=$(tel_get $P /vnf/macs,core "sum(1 for e in r['entries'] if e.split()[1] == 'vm3')")
  ((${on_vm3:-0} >= 1)) && break
  ns_ping hp-vm3 10.7.0.1 >/dev/null
done
check "tap added: vm3's MAC learned on port vm3 ($on_vm3)" test "${on_vm3:-0}" -ge 1
rx3=$(port_field vm3 rx_packets)

# --- removed again
reload_with "$(base)"
check "tap removed: reload applied" expect 0 "^applied: generation 3 .*ports removed: vm3"
check "tap removed: /vnf/ports no longer lists vm3" test "$(port_field vm3 type)" = none
check_not "tap removed: its interface is gone" bash -c "ip netns exec hp-vm3 ip link show hpvm3 >/dev/null 2>&1"
left=$(tel_get $P /vnf/macs,core "sum(1 for e in r['entries'] if e.split()[0] == '$vm3_mac')")
check "tap removed: vm3's MAC flushed ($left left)" test "${left:-1}" -eq 0
check "tap removed: vm1 -> vm2 still" ns_ping hp-vm1 10.7.0.2

# --- added again: the port id comes back with fresh counters
ip netns del hp-vm3
reload_with "$(base; echo "$TAP3")"
check "tap added again: reload applied" expect 0 "^applied: generation 4 .*ports added: vm3"
rx3b=$(port_field vm3 rx_packets)
check "tap added again: its counters start from zero (before: $rx3, now: $rx3b)" \
  test "${rx3b:-1}" -lt "${rx3:-0}"
# --- its device changed (another MAC): removed, then added
reload_with "$(base; echo "${TAP3%\}}, mac: '02:00:00:07:00:33'}")"
check "tap device changed: reload applied, named as such" expect 0 "devices changed: vm3"
lacks "ports added" && pass "tap device changed: not reported as a new port" || fail "tap device changed: not reported as a new port"
check "tap device changed: the interface has the new MAC" \
  bash -c "ip link show hpvm3 | grep -q 02:00:00:07:00:33"
reload_with "$(base)"
check "tap removed again" expect 0 "ports removed: vm3"

# --- a reload whose second new port cannot be created adds neither (all or nothing): the
# kernel already has an interface named hpx0 (not a TAP), so that TAP cannot be made.
ip link add hpx0 type veth peer name hpx1
reload_with "$(base; echo "$TAP3"; echo "  - {name: vm5, type: tap, iface: hpx0, mode: access, segment: core}")"
check "failed reload: rejected, naming the port" expect 1 "rejected.*vm5"
echo "      $OUT"
check "failed reload: no port vm3 (added first, removed again)" test "$(port_field vm3 type)" = none
check_not "failed reload: no interface hpvm3 left behind" bash -c "ip link show hpvm3 >/dev/null 2>&1"
gen=$(generation $P)
check "failed reload: still generation 6 ($gen)" test "$gen" = 6
ip link del hpx0

# --- a vhost-user port, driven by a virtio-user VM
reload_with "$(base; echo "$VH4")"
check "vhost added: reload applied" expect 0 "ports added: vh4"
timeout 60 dpdk-testpmd -l 0,1 -m 256 --in-memory --single-file-segments --no-pci \
  --file-prefix "vnf-hp-vm4-$$" --vdev "net_virtio_user0,path=$WORK/vh4.sock,mac=02:00:00:07:00:04" \
  -- --forward-mode=icmpecho --total-num-mbufs=4096 --stats-period=1 -a \
  >"$WORK/testpmd-vhost.log" 2>&1 &
vm4=$!
up=none
for _ in $(seq 1 40); do
  up=$(port_field vh4 link)
  [[ $up == up ]] && break
  sleep 0.25
done
check "vhost added: the virtio-user VM connected (link $up)" test "$up" = up
check "vhost added: vm1 reaches the vhost VM (ICMP echo)" ns_ping hp-vm1 10.7.0.4
reload_with "$(base)"
check "vhost removed while its VM is connected: reload applied" expect 0 "ports removed: vh4"
check "vhost removed: /vnf/ports no longer lists vh4" test "$(port_field vh4 type)" = none
check "vhost removed: the virtio-user VM is still running" kill -0 $vm4
kill -INT $vm4 2>/dev/null
wait $vm4 2>/dev/null
check "vhost removed: vm1 -> vm2 still" ns_ping hp-vm1 10.7.0.2

# --- the stream: nothing lost through all of it
# The stream must have run through every reload: it is still running now. On an idle host
# the reloads take only a few seconds; let it reach 7 s so that the count below means
# something (ping sends about 40 a second here, not 50).
check "stream: still running after the last reload" kill -0 $stream
while (($(date +%s%N) - stream_t0 < 7000000000)); do sleep 0.2; done
kill -INT $stream 2>/dev/null
wait $stream 2>/dev/null
summary=$(grep -E "packets transmitted" "$WORK/stream.log")
echo "ping stream vm1 -> vm2 (20 ms): $summary"
sent=$(grep -oE "^[0-9]+ packets transmitted" <<<"$summary" | grep -oE "^[0-9]+")
got=$(grep -oE "[0-9]+ received" <<<"$summary" | grep -oE "^[0-9]+")
check "stream: more than 200 pings sent across the reloads (${sent:-0})" test "${sent:-0}" -gt 200
# The stream is stopped by a signal: the last request may still be on its way, and ping counts
# it as lost. Every other sequence number must have its reply.
missing=$(grep -E "bytes from" "$WORK/stream.log" | grep -oE "icmp_seq=[0-9]+" | cut -d= -f2 |
  sort -u | comm -13 - <(seq 1 "${sent:-0}" | sort) | sort -n | grep -vx "${sent:-0}" |
  tr '\n' ' ')
check "stream: not one lost (${sent:-?} sent, ${got:-?} received; unanswered before the last: ${missing:-none})" \
  test -n "$sent" -a -n "$got" -a -z "$missing"

grep -E "\[(error|critical)\]" "$WORK/sw.log" | sed 's/^/      log: /'
stop_appliance sw
check "SIGTERM: clean exit after ports came and went" test $? -eq 0
