#!/usr/bin/env bash
# A tenant VM (a TAP port, as a VM's virtio-net has) sends a corpus of hostile frames
# (tests/system/hostile_frames.py: foreign and stacked tags, 802.1ad, bad sources, truncated
# and inconsistent headers, extension-header chains, fragments, jumbo, random bytes) into a
# host switch with two segments, a trunk and a firewall:
#   - nothing reaches the other segment, on its access port or on the trunk;
#   - every frame is either forwarded within the VM's own segment or dropped, and every drop
#     is counted under a named reason (none as no_verdict; the TAP driver's own refusal of a
#     frame longer than its buffer is its rx error counter);
#   - forwarding goes on: the VM still reaches its neighbour afterwards, and the switch stops
#     cleanly.
source "$(dirname "$0")/lib.sh"

WIRE="$PY $TOP/tests/system/wire.py"
VM1_MAC=02:00:00:00:44:01

cat >"$WORK/host.yaml" <<YAML
# program: vswitch
engine: {name: malf, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
ports:
  - {name: vm1, type: tap, iface: malvm1, mac: "02:00:00:00:44:ff", mode: access, segment: core}
  - {name: vm2, type: af_packet, iface: malvm2, mode: access, segment: core}
  - {name: vm3, type: af_packet, iface: malvm3, mode: access, segment: info}
  - {name: up, type: af_packet, iface: malup, mode: trunk, segments: [core, info]}
firewall:
  zones:
    - {name: zcore, segments: [core]}
    - {name: zinfo, segments: [info]}
  rules:
    - {id: core-to-info, from: zcore, to: zinfo, action: drop}
YAML
netns_host mal-vm2 malvm2 10.44.0.2/24
netns_host mal-vm3 malvm3 10.44.0.3/24
netns_host mal-up malup
start_appliance sw vswitch "$WORK/host.yaml" || exit 1
P=vnf-malf

# The hostile VM: the TAP interface the switch created, moved into a namespace of its own. Its
# MTU is raised so that it can send the jumbo frames of the corpus at the 1500-byte port.
# IPv6 off and its address only around the pings: while the corpus runs, every frame vm1
# sends is one of the corpus.
ip netns add mal-vm1 && NETNS_CREATED+=(mal-vm1)
ip link set malvm1 netns mal-vm1
ip netns exec mal-vm1 sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec mal-vm1 ip link set malvm1 address $VM1_MAC
ip netns exec mal-vm1 ip link set malvm1 mtu 9000 up
ip netns exec mal-vm1 ethtool -K malvm1 tx off >/dev/null 2>&1
ip netns exec mal-vm1 ip addr add 10.44.0.1/24 dev malvm1
check "before: vm1 reaches vm2 (core)" ns_ping mal-vm1 10.44.0.2
ip netns exec mal-vm1 ip addr flush dev malvm1
ip netns exec mal-vm1 ip neigh flush dev malvm1

"$PY" "$TOP/tests/system/hostile_frames.py" $VM1_MAC >"$WORK/corpus.hex"
# counters NAME: /vnf/drops and /vnf/ports as one consistent reading. The namespaces' kernels
# send frames of their own now and then (router solicitations, MLD), which the switch may
# drop between the two reads; a reading counts only when the drops did not move across it.
counters() {
  for _ in $(seq 1 20); do
    tel $P /vnf/drops >"$WORK/drops.$1"
    tel $P /vnf/ports >"$WORK/ports.$1"
    tel $P /vnf/drops >"$WORK/drops.$1.check"
    cmp -s "$WORK/drops.$1" "$WORK/drops.$1.check" && return 0
    sleep 0.1
  done
  return 1
}
counters before
sniffers=()
for ns in mal-vm2 mal-vm3 mal-up; do
  ip netns exec $ns $WIRE sniff eth0 6 >"$WORK/$ns.rx" 2>>"$WORK/wire.log" &
  sniffers+=($!)
done
sleep 0.5
check "the VM's kernel takes every frame of the corpus" \
  ip netns exec mal-vm1 $WIRE send malvm1 $(cat "$WORK/corpus.hex")
wait "${sniffers[@]}"
counters after

# The accounting, frame by frame (python: the frames are bytes).
"$PY" - "$WORK" "$VM1_MAC" >"$WORK/account.txt" <<'PYEOF'
import json, sys
work, vm1_mac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", ""))
frames = lambda name: [bytes.fromhex(l) for l in open(f"{work}/{name}").read().split()]
answer = lambda name: list(json.loads(open(f"{work}/{name}").read().splitlines()[-1]).values())[0]
corpus, vm2, vm3, trunk = frames("corpus.hex"), frames("mal-vm2.rx"), frames("mal-vm3.rx"), frames("mal-up.rx")
# Frames of the corpus: from vm1's MAC or carrying the marker (the sniffers also see what the
# other namespaces' kernels send in their own segments).
ours = lambda f: f[6:12] == vm1_mac or b"HOSTILE" in f

def tag(f):
    return int.from_bytes(f[12:14], "big"), int.from_bytes(f[14:16], "big") & 0xFFF

def untag(f):  # without a priority tag (VID 0), which the switch pops or rewrites
    return f[:12] + f[16:] if len(f) >= 18 and tag(f) == (0x8100, 0) else f

ours_trunk = [f for f in trunk if ours(f)]
bad_trunk = [f.hex()[:48] for f in ours_trunk if tag(f) != (0x8100, 100)]
trunk_inner = {f[:12] + f[16:] for f in ours_trunk if tag(f) == (0x8100, 100)}
vm2_set = set(vm2)
forwarded = sum(1 for f in corpus if untag(f) in vm2_set or untag(f) in trunk_inner)
d0, d1 = answer("drops.before"), answer("drops.after")
delta = {k: d1[k] - d0.get(k, 0) for k in d1 if d1[k] != d0.get(k, 0)}
p0, p1 = answer("ports.before"), answer("ports.after")
port = lambda name, key: p1[name][key] - p0[name][key]
print(f"corpus={len(corpus)}")
print(f"vm1_rx={port('vm1', 'rx_packets')}")
print(f"vm1_driver_errors={port('vm1', 'dev_ierrors')}")
print(f"vm1_dropped={port('vm1', 'rx_dropped')}")
print(f"port_drops={sum(port(n, 'rx_dropped') + port(n, 'tx_dropped') for n in p1)}")
print(f"vm3_from_vm1={sum(1 for f in vm3 if ours(f))}")
print(f"trunk_from_vm1={len(ours_trunk)}")
print(f"trunk_not_core={len(bad_trunk)}")
print(f"forwarded={forwarded}")
print(f"reasons_total={sum(delta.values())}")
print(f"reasons_count={len(delta)}")
print(f"no_verdict={delta.get('no_verdict', 0)}")
print(f"reasons {json.dumps(delta, sort_keys=True)}")
for f in bad_trunk[:5]:
    print(f"on the trunk outside core: {f}")
PYEOF
acct() { sed -n "s/^$1=//p" "$WORK/account.txt"; }
sed 's/^/NOTE: /' "$WORK/account.txt"
sent=$(acct corpus)
dropped=$(acct vm1_dropped)
# The TAP driver itself drops a frame longer than its buffer (the 8953-byte one): counted in
# its rx errors (dev_ierrors), never seen cut.
check "all $sent frames reached the switch: $(acct vm1_rx), and $(acct vm1_driver_errors) refused by the TAP driver as too long" \
  test "$(($(acct vm1_rx) + $(acct vm1_driver_errors)))" -eq "$sent" -a "$(acct vm1_driver_errors)" -le 1
dropped=$((dropped + $(acct vm1_driver_errors)))
check "nothing of vm1's reached info's access port" test "$(acct vm3_from_vm1)" -eq 0
check "everything of vm1's on the trunk is tagged core (0x8100, VID 100): $(acct trunk_from_vm1) frames" \
  test "$(acct trunk_not_core)" -eq 0
check "every frame was forwarded within core or dropped: $(acct forwarded) + $dropped = $sent" \
  test "$(($(acct forwarded) + dropped))" -eq "$sent"
check "every drop is counted under a named reason ($(acct reasons_total) by reason, $(acct port_drops) by port)" \
  test "$(acct reasons_total)" -eq "$(acct port_drops)"
check "no drop without a reason (no_verdict)" test "$(acct no_verdict)" -eq 0
check "the drops name at least 20 different reasons ($(acct reasons_count))" test "$(acct reasons_count)" -ge 20

ip netns exec mal-vm1 ip addr add 10.44.0.1/24 dev malvm1
check "after: vm1 still reaches vm2" ns_ping mal-vm1 10.44.0.2
check_not "after: vm1 still cannot reach vm3 (info)" ns_ping mal-vm1 10.44.0.3
check "the switch stops cleanly" stop_appliance sw
