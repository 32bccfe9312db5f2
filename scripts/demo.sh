#!/usr/bin/env bash
# The suite's main job, on this machine: a virtualization host's switch keeping two network
# segments apart. Builds everything (scripts/setup.sh), creates four "VMs" (network
# namespaces) on two segments and an upstream host on an 802.1Q trunk, starts vswitch with
# rules/demo/host.yaml, shows what gets through and what does not, prints the switch's own
# statistics, asks why a packet cannot cross segments (vnfctl why), measures a VM's bandwidth
# limit with iperf3, adds a fifth VM's port
# by reload and takes it away again (vnfctl apply, rollback) while two VMs keep talking, then
# tears everything down.
#
#   scripts/demo.sh          run the demo and clean up
#   scripts/demo.sh --keep   leave it running to explore (then: scripts/demo.sh --down)
#   scripts/demo.sh --down   stop a kept demo and remove its namespaces
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export BUILD_DIR=${BUILD_DIR:-$top/build}
PY=/usr/bin/python3
state=/run/vnf-demo
keep=0
case "${1:-}" in
  --keep) keep=1 ;;
  --down) ;;
  "") ;;
  *) echo "usage: $0 [--keep|--down]"; exit 2 ;;
esac

source scripts/lib/netns.sh
NS=(demo-vm1 demo-vm2 demo-vm3 demo-vm4 demo-up demo-vm5)
LINKS=(dvm1 dvm2 dvm3 dvm4 dup0 dvm5)

down() {
  if [[ -f $state/vswitch.pid ]]; then
    local pid
    pid=$(cat $state/vswitch.pid)
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  local x
  for x in "${LINKS[@]}"; do ip link del "$x" 2>/dev/null || true; done
  for x in "${NS[@]}"; do ip netns del "$x" 2>/dev/null || true; done
  rm -rf $state
}

if [[ "${1:-}" == "--down" ]]; then
  down
  echo "demo stopped and removed"
  exit 0
fi

say() { printf '\n\033[1m%s\033[0m\n' "$*" 2>/dev/null || printf '\n%s\n' "$*"; }
[[ -t 1 ]] || say() { printf '\n== %s\n' "$*"; }

scripts/setup.sh || exit 1
down  # a previous --keep run, if any
mkdir -p $state

say "1. Topology: four VMs on two segments, one upstream host on a trunk"
cat <<'TXT'
   demo-vm1 10.9.0.11 ─┐                          ┌─ segment core (VLAN 100)
   demo-vm2 10.9.0.12 ─┤                          │
   demo-vm3 10.9.0.21 ─┼── vswitch (DPDK) ── trunk ── demo-up (upstream L3 switch)
   demo-vm4 10.9.0.22 ─┘                          └─ segment info (VLAN 200)
   vm1, vm2: core    vm3, vm4: info    All four share one IP subnet: only the VLAN
   separation keeps a core VM from reaching an info VM.
TXT
netns_host demo-vm1 dvm1 10.9.0.11/24
netns_host demo-vm2 dvm2 10.9.0.12/24
netns_host demo-vm3 dvm3 10.9.0.21/24
netns_host demo-vm4 dvm4 10.9.0.22/24
netns_host demo-up dup0

say "2. Starting vswitch with rules/demo/host.yaml"
# A copy: vnfctl apply and rollback (step 6) write the running config file.
cp rules/demo/host.yaml $state/host.yaml
"$BUILD_DIR/vswitch/vswitch" -c $state/host.yaml --pid-file $state/vswitch.pid \
  --state-dir $state/versions >$state/vswitch.log 2>&1 &
for _ in $(seq 1 100); do grep -q "running:" $state/vswitch.log 2>/dev/null && break; sleep 0.1; done
if ! grep -q "running:" $state/vswitch.log; then
  echo "vswitch did not start:"; tail -20 $state/vswitch.log; down; exit 1
fi
grep -E "port '|audit:|running:" $state/vswitch.log | sed 's/^/   /'

say "3. Pings between the VMs (✓ answered, ✗ no answer)"
names=(vm1 vm2 vm3 vm4)
ips=(10.9.0.11 10.9.0.12 10.9.0.21 10.9.0.22)
segs=(core core info info)
printf '   %-12s' "from \\ to"
for j in 0 1 2 3; do printf '%-12s' "${names[$j]}/${segs[$j]}"; done
echo
bad=0
for i in 0 1 2 3; do
  printf '   %-12s' "${names[$i]}/${segs[$i]}"
  for j in 0 1 2 3; do
    if ((i == j)); then printf '%-12s' "-"; continue; fi
    if ns_ping "demo-${names[$i]}" "${ips[$j]}"; then r="✓"; ok=1; else r="✗"; ok=0; fi
    same=$([[ ${segs[$i]} == "${segs[$j]}" ]] && echo 1 || echo 0)
    ((ok != same)) && bad=1
    printf '%s%11s' "$r" ""  # the marks are one column wide but several bytes long
  done
  echo
done
((bad)) && echo "   UNEXPECTED: the matrix above is not what the segments allow" || \
  echo "   as configured: inside a segment yes, across segments never"

say "4. The trunk: what the upstream host reaches on each VLAN"
ip netns exec demo-up tshark -q -i eth0 -w $state/trunk.pcapng >/dev/null 2>&1 &
tspid=$!
sleep 1.5
vlan_ok() {  # vlan_ok VID SRC DST
  if ip link add vnfvlanprobe0 type veth peer name vnfvlanprobe1 2>/dev/null &&
     ip link add link vnfvlanprobe0 name vnfvlanprobe0.5 type vlan id 5 2>/dev/null; then
    ip link del vnfvlanprobe0 2>/dev/null
    ip netns exec demo-up ip link show "eth0.$1" >/dev/null 2>&1 || {
      ip netns exec demo-up ip link add link eth0 name "eth0.$1" type vlan id "$1"
      ip netns exec demo-up ip link set "eth0.$1" up
      ip netns exec demo-up ip addr add "$2/24" dev "eth0.$1"
    }
    ns_ping demo-up "$3" -I "eth0.$1"
  else
    ip link del vnfvlanprobe0 2>/dev/null
    ip netns exec demo-up $PY tests/system/vlan_peer.py --iface eth0 --vlan "$1" --src "$2" --dst "$3" >/dev/null 2>&1
  fi
}
if ! ip link add vnfvlanprobe0 type veth peer name vnfvlanprobe1 2>/dev/null ||
   ! ip link add link vnfvlanprobe0 name vnfvlanprobe0.5 type vlan id 5 2>/dev/null; then
  echo "   (this kernel has no 802.1Q support: the upstream host talks 802.1Q from user space"
  echo "    with scapy, tests/system/vlan_peer.py, instead of VLAN subinterfaces)"
fi
ip link del vnfvlanprobe0 2>/dev/null
for v in 100 200; do
  src=10.9.0.$((v == 100 ? 100 : 200))
  printf '   VLAN %s:' "$v"
  for j in 0 1 2 3; do
    if vlan_ok "$v" "$src" "${ips[$j]}"; then printf '  %s ✓' "${names[$j]}"; else printf '  %s ✗' "${names[$j]}"; fi
  done
  echo
done
sleep 0.5
kill -INT $tspid 2>/dev/null; wait $tspid 2>/dev/null
echo "   tshark on the upstream side of the trunk: the VMs' answers, each under its segment's tag"
for v in 100 200; do
  tshark -r $state/trunk.pcapng -Y "vlan.id == $v && (arp.opcode == 2 || icmp.type == 0)" \
    -T fields -E separator=' ' -e vlan.id -e eth.src -e _ws.col.Info 2>/dev/null | head -4 |
    sed 's/^/     vlan /'
done

say "5. The switch's own view (scripts/vnfctl)"
echo "   \$ scripts/vnfctl -i demo show ports"
scripts/vnfctl -i demo show ports | sed 's/^/   /'
echo "   \$ scripts/vnfctl -i demo show segments"
scripts/vnfctl -i demo show segments | sed 's/^/   /'
for s in core info; do
  echo "   \$ scripts/vnfctl -i demo show macs $s"
  scripts/vnfctl -i demo show macs $s | sed 's/^/   /'
done
echo "   \$ scripts/vnfctl -i demo show drops"
scripts/vnfctl -i demo show drops | sed 's/^/   /'
echo "   (untagged_not_allowed: the upstream host's kernel sends its own untagged IPv6"
echo "    neighbour discovery on the trunk, which carries no native segment: dropped, counted)"
vm3_mac=$(ip netns exec demo-vm3 cat /sys/class/net/eth0/address)
echo "   Why does vm1 not reach vm3, though it knows vm3's MAC? Ask the switch (nothing is sent):"
echo "   \$ scripts/vnfctl -i demo why port=vm1 src=10.9.0.11 dst=10.9.0.21 proto=icmp dst_mac=$vm3_mac"
scripts/vnfctl -i demo why port=vm1 src=10.9.0.11 dst=10.9.0.21 proto=icmp dst_mac="$vm3_mac" |
  sed 's/^/   /'

echo
echo "   vm4's port is limited to 20 Mbit/s each way (rules/demo/host.yaml, docs/limits.md):"
echo "   iperf3 TCP from vm3 to vm4 for 3 s, through the shaper toward vm4"
ip netns exec demo-vm4 timeout 20 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
srv=$!
sleep 0.4
rate=$(ip netns exec demo-vm3 timeout 20 iperf3 -c 10.9.0.22 -p 5201 -t 3 -J 2>/dev/null |
  /usr/bin/python3 -c "import json, sys; print(round(json.load(sys.stdin)['end']['sum_received']['bits_per_second'] / 1e6, 1))" 2>/dev/null)
wait $srv 2>/dev/null
echo "   vm3 -> vm4: ${rate:-?} Mbit/s of TCP data (the limit counts whole Ethernet frames)"
echo "   \$ scripts/vnfctl -i demo show limits"
scripts/vnfctl -i demo show limits | sed 's/^/   /'

say "6. A VM starts and stops: its port comes and goes by reload, nobody else notices"
echo "   (vm1 pings vm2 every 20 ms throughout)"
ip netns exec demo-vm1 ping -i 0.02 -c 100000 -W 1 10.9.0.12 >$state/stream.log 2>&1 &
stream=$!
$PY - $state/host.yaml $state/host-vm5.yaml <<'PYEOF'
import sys
text = open(sys.argv[1]).read()
vm5 = "  - {name: vm5, type: tap, iface: dvm5, mode: access, segment: core}\n"
open(sys.argv[2], "w").write(text.replace("\nmac:", "\n" + vm5 + "\nmac:", 1))
PYEOF
echo "   \$ scripts/vnfctl -i demo diff host-vm5.yaml"
scripts/vnfctl -i demo diff $state/host-vm5.yaml | sed 's/^/   /'
echo "   \$ scripts/vnfctl -i demo apply host-vm5.yaml"
scripts/vnfctl -i demo apply $state/host-vm5.yaml | sed "s|$state/||g; s/^/   /"
if ip link show dvm5 >/dev/null 2>&1; then
  ip netns add demo-vm5
  ip link set dvm5 netns demo-vm5
  ip netns exec demo-vm5 ip link set dvm5 up
  ip netns exec demo-vm5 ip addr add 10.9.0.13/24 dev dvm5
  ip netns exec demo-vm5 ethtool -K dvm5 tx off >/dev/null 2>&1
  r1=$(ns_ping demo-vm5 10.9.0.11 && echo "✓" || echo "✗")
  r3=$(ns_ping demo-vm5 10.9.0.21 && echo "✓" || echo "✗")
  echo "   the new VM vm5 (10.9.0.13, TAP dvm5, segment core): vm1 $r1  vm3 $r3"
  [[ $r1 == "✓" && $r3 == "✗" ]] || bad=1
else
  echo "   UNEXPECTED: the TAP interface dvm5 did not appear"
  bad=1
fi
echo "   \$ scripts/vnfctl -i demo history"
scripts/vnfctl -i demo history | sed "s|$state/||g; s/^/   /"
echo "   \$ scripts/vnfctl -i demo rollback        # back to the previous version, byte for byte"
scripts/vnfctl -i demo rollback | sed "s|$state/||g; s/^/   /"
ip netns exec demo-vm5 ip link show dvm5 >/dev/null 2>&1 && bad=1 ||
  echo "   vm5's port is gone (its TAP interface with it), its MACs flushed"
ip netns del demo-vm5 2>/dev/null
sleep 0.3
kill -INT $stream 2>/dev/null; wait $stream 2>/dev/null
echo "   vm1 -> vm2 meanwhile: $(grep -E 'packets transmitted' $state/stream.log)"
grep -qE ' 0% packet loss' $state/stream.log || bad=1

if ((keep)); then
  say "Left running. Try:"
  cat <<TXT
   ip netns exec demo-vm1 ping 10.9.0.12          # same segment: answers
   ip netns exec demo-vm1 ping 10.9.0.21          # other segment: silence
   scripts/vnfctl -i demo show segments
   edit $state/host.yaml, then: scripts/vnfctl -i demo reload
   log: $state/vswitch.log
   stop and clean up: scripts/demo.sh --down
TXT
  exit 0
fi

say "7. Stopping and cleaning up"
down
echo "   vswitch stopped (SIGTERM), namespaces and veths removed"
exit $bad
