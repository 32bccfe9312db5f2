#!/usr/bin/env bash
# Frames on af_packet ports arrive and leave whole and as sent (issue #9):
#   - an 802.1ad (0x88a8) outer tag, which the kernel takes off and DPDK's af_packet driver
#     put back as 0x8100, keeps its TPID: an S-tagged trunk accepts S-tagged frames and sends
#     them, and the firewall forwards an S-tagged frame without turning it into a C-tag;
#   - jumbo frames (mtu 9000) cross the switch whole; to a 1500-byte port they are dropped
#     as egress_too_long, not cut;
#   - a frame longer than the port's ring slots (the interface's MTU raised behind the
#     appliance's back) is dropped as frame_too_long, IP or not, never forwarded cut;
#   - the interfaces leave promiscuous mode even when the appliance is killed (SIGKILL).
source "$(dirname "$0")/lib.sh"

WIRE="$PY $TOP/tests/system/wire.py"
frame() {  # frame SCAPY_EXPR: the frame's bytes in hex
  "$PY" -c "from scapy.all import *
from scapy.layers.l2 import Dot1AD
print(bytes($1).hex())"
}
# sniff_for NS SECONDS OUTFILE: captures what eth0 in NS receives, in the background.
sniff_for() {
  ip netns exec "$1" $WIRE sniff eth0 "$2" >"$3" 2>>"$WORK/wire.log" &
  SNIFF_PID=$!
  sleep 0.5
}

cat >"$WORK/sw.yaml" <<YAML
# program: vswitch
engine: {name: afp, lcores: [0, 1], memory_mb: 512, idle_sleep_us: 100}
segments:
  - {name: core, vlan: 100}
  - {name: jumbo, vlan: 300}
ports:
  - {name: acc, type: af_packet, iface: afpacc, mode: access, segment: core}
  - {name: trk, type: af_packet, iface: afptrk, mode: trunk, segments: [core], tpid: 0x88a8}
  - {name: j1, type: af_packet, iface: afpj1, mtu: 9000, mode: access, segment: jumbo}
  - {name: j2, type: af_packet, iface: afpj2, mtu: 9000, mode: access, segment: jumbo}
  - {name: sm, type: af_packet, iface: afpsm, mode: access, segment: jumbo}
mac:
  static: [{segment: jumbo, mac: "02:00:00:00:30:02", port: j2}]
YAML
netns_host afp-acc afpacc
netns_host afp-trk afptrk
netns_host afp-j1 afpj1 10.30.0.1/24
netns_host afp-j2 afpj2 10.30.0.2/24
ip netns exec afp-j2 ip link set eth0 address 02:00:00:00:30:02
netns_host afp-sm afpsm 10.30.0.3/24
ip netns exec afp-j1 ip link set eth0 mtu 9000
ip netns exec afp-j2 ip link set eth0 mtu 9000

start_appliance sw vswitch "$WORK/sw.yaml" || exit 1
P=vnf-afp
drops() { tel_get $P /vnf/drops "r.get('$1', 0)"; }

# --- 802.1ad on an af_packet trunk
stag=$(frame "Ether(dst='ff:ff:ff:ff:ff:ff', src='02:00:00:00:0a:01')/Dot1AD(vlan=100)/IP(src='10.1.0.1', dst='10.1.0.255')/UDP(sport=1000, dport=9)/Raw(b'S-tagged')")
untagged=$(frame "Ether(dst='ff:ff:ff:ff:ff:ff', src='02:00:00:00:0a:01')/IP(src='10.1.0.1', dst='10.1.0.255')/UDP(sport=1000, dport=9)/Raw(b'S-tagged')")
sniff_for afp-acc 2 "$WORK/acc.rx"
ip netns exec afp-trk $WIRE send eth0 "$stag" "$stag" "$stag"
wait $SNIFF_PID
check "802.1ad: S-tagged frames from the upstream enter core (3 of 3, untagged on the access port)" \
  test "$(grep -c "^$untagged\$" "$WORK/acc.rx")" -eq 3
check "802.1ad: none dropped as unexpected_tpid" test "$(drops unexpected_tpid)" -eq 0

from_vm=$(frame "Ether(dst='ff:ff:ff:ff:ff:ff', src='02:00:00:00:0b:01')/IP(src='10.1.0.2', dst='10.1.0.255')/UDP(sport=1001, dport=9)/Raw(b'from the VM')")
want_s=$(frame "Ether(dst='ff:ff:ff:ff:ff:ff', src='02:00:00:00:0b:01')/Dot1AD(vlan=100)/IP(src='10.1.0.2', dst='10.1.0.255')/UDP(sport=1001, dport=9)/Raw(b'from the VM')")
sniff_for afp-trk 2 "$WORK/trk.rx"
ip netns exec afp-acc $WIRE send eth0 "$from_vm"
wait $SNIFF_PID
check "802.1ad: core leaves the trunk S-tagged (TPID 0x88a8, VID 100)" grep -q "^$want_s\$" "$WORK/trk.rx"

# --- jumbo frames
check "jumbo: 8000-byte ping (DF) between two mtu 9000 ports" ns_ping afp-j1 10.30.0.2 -s 8000 -M do
ip netns exec afp-j1 ping -n -q -c 3 -i 0.2 -W 1 -s 8000 10.30.0.3 >/dev/null 2>&1
big_ping() { ip netns exec afp-j1 ping -n -q -c 1 -W 1 -s 8000 10.30.0.3 >/dev/null 2>&1; }
check_not "jumbo: an 8000-byte ping to a 1500 port gets no answer" big_ping
check "jumbo: what the 1500 port cannot carry is counted as egress_too_long" \
  test "$(drops egress_too_long)" -ge 3
check "jumbo: small pings to the 1500 port still work" ns_ping afp-j1 10.30.0.3

# --- a frame longer than the ring slots: the interface's MTU raised behind the switch's back
ip link set afpacc mtu 4000
ip netns exec afp-acc ip link set eth0 mtu 4000
big_raw=$(frame "Ether(dst='ff:ff:ff:ff:ff:ff', src='02:00:00:00:0a:02', type=0x88b5)/Raw(b'r' * 3000)")
big_ip=$(frame "Ether(dst='ff:ff:ff:ff:ff:ff', src='02:00:00:00:0a:02')/IP(src='10.1.0.9', dst='10.1.0.255')/UDP(sport=7, dport=9)/Raw(b'i' * 3000)")
before=$(drops frame_too_long)
sniff_for afp-trk 2 "$WORK/trk-big.rx"
ip netns exec afp-acc $WIRE send eth0 "$big_raw" "$big_ip"
wait $SNIFF_PID
check "cut frames: nothing of a 3000-byte frame leaves the trunk" \
  test "$(awk 'length($0) > 2 * 1600' "$WORK/trk-big.rx" | wc -l)$(grep -c 7272727272 "$WORK/trk-big.rx")" = "00"
check "cut frames: both counted as frame_too_long" test "$(($(drops frame_too_long) - before))" -eq 2
check "cut frames: none misread as ipv4_bad_total_length" test "$(drops ipv4_bad_total_length)" -eq 0
ip link set afpacc mtu 1500
ip netns exec afp-acc ip link set eth0 mtu 1500

# --- a link going down is seen at once, and nothing is held for it
link_of() { tel_get $P "/vnf/ports,$1" "r['$1']['link']"; }
check "link: j2 is up" test "$(link_of j2)" = up
ip netns exec afp-j2 ip link set eth0 down
sleep 0.2
check "link: j2's peer going down is seen within 200 ms" test "$(link_of j2)" = down
held=$(frame "Ether(dst='02:00:00:00:30:02', src='02:00:00:00:30:01')/IP(src='10.30.0.1', dst='10.30.0.2')/UDP(sport=7, dport=9)/Raw(b'held-while-down')")
before=$(drops link_down)
ip netns exec afp-j1 $WIRE send eth0 $(for _ in $(seq 1 20); do echo "$held"; done)
sleep 0.2
check "link: 20 frames to the down port dropped as link_down" test "$(($(drops link_down) - before))" -eq 20
sniff_for afp-j2 2 "$WORK/j2-back.rx"
ip netns exec afp-j2 ip link set eth0 up
wait $SNIFF_PID
check_not "link: none of them arrives when the link comes back" grep -q "$(printf held-while-down | od -An -tx1 | tr -d " \n")" "$WORK/j2-back.rx"
check "link: j2 is up again" test "$(link_of j2)" = up
check "link: traffic flows again" ns_ping afp-j1 10.30.0.2
show_drops $P

# --- promiscuous mode, and what a SIGKILL leaves behind
promiscuity() { ip -d link show "$1" | grep -o 'promiscuity [0-9]*' | awk '{print $2}'; }
check "promiscuous while running (afpacc promiscuity >= 1)" test "$(promiscuity afpacc)" -ge 1
check "the MTU of afpj1 was set to the port's 9000" test "$(cat /sys/class/net/afpj1/mtu)" -eq 9000
pid=$(cat "$WORK/sw.pid.launch")
kill -KILL "$pid"
wait "$pid" 2>/dev/null
check "after SIGKILL: no interface left promiscuous" \
  test "$(promiscuity afpacc)$(promiscuity afptrk)$(promiscuity afpj1)" = "000"

# --- the firewall in transit: an S-tag stays an S-tag
cat >"$WORK/fw.yaml" <<YAML
# program: vfirewall
engine: {name: afpfw, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
ports:
  - {name: a, type: af_packet, iface: afpfa}
  - {name: b, type: af_packet, iface: afpfb}
wires: [[a, b]]
zones:
  - {name: za, ports: [a]}
  - {name: zb, ports: [b]}
rules:
  - {id: a-to-b, from: za, to: zb, service: [udp/9], action: accept}
YAML
netns_host afp-fa afpfa
netns_host afp-fb afpfb
start_appliance fw vfirewall "$WORK/fw.yaml" || exit 1
sniff_for afp-fb 2 "$WORK/fb.rx"
ip netns exec afp-fa $WIRE send eth0 "$stag"
wait $SNIFF_PID
check "firewall: an S-tagged frame crosses with its 0x88a8 tag unchanged" grep -q "^$stag\$" "$WORK/fb.rx"
check "firewall: stops cleanly" stop_appliance fw
