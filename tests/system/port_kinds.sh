#!/usr/bin/env bash
# Every port kind that exists without a NIC, each with a real peer:
#   tap       - the TAP interface moved into a namespace, pinging a VM on an af_packet port
#   pcap      - frames read from a pcap file, written to pcap files, read back with tshark
#   null      - a sink
#   memif     - dpdk-testpmd as the memif client, sending
#   vhost     - dpdk-testpmd with virtio-user as the "VM", sending over vhost-user
source "$(dirname "$0")/lib.sh"

# --- pcap in, pcap out (untagged access + tagged trunk), and the tap port
"$PY" - "$WORK/in.pcap" <<'PYEOF'
import sys
from scapy.all import Ether, IP, UDP, wrpcap
frames = [Ether(src="02:00:00:00:00:0a", dst="ff:ff:ff:ff:ff:ff") / IP(src="10.7.0.1", dst="10.7.0.255") /
          UDP(sport=1000 + i, dport=9) / (b"x" * 18) for i in range(50)]
wrpcap(sys.argv[1], frames)
PYEOF
cat >"$WORK/kinds.yaml" <<YAML
# program: vswitch
engine: {name: kinds, lcores: [0, 1], memory_mb: 256, idle_sleep_us: 100}
segments: [{name: core, vlan: 100}]
ports:
  - {name: pin, type: pcap, rx_pcap: $WORK/in.pcap, mode: access, segment: core}
  - {name: pout, type: pcap, tx_pcap: $WORK/out.pcap, mode: access, segment: core}
  - {name: ptrunk, type: pcap, tx_pcap: $WORK/trunk.pcap, mode: trunk, segments: [core]}
  - {name: tap1, type: tap, iface: pktap1, mode: access, segment: core}
  - {name: vm1, type: af_packet, iface: pkvm1, mode: access, segment: core}
  - {name: sink, type: null, devargs: "no-rx=1", mode: access, segment: core}
  - {name: mem1, type: memif, socket: $WORK/memif.sock, role: server, id: 0, mode: access, segment: core}
  - {name: vh1, type: vhost, socket: $WORK/vh1.sock, mode: access, segment: core}
YAML
netns_host pk-vm1 pkvm1 10.8.0.1/24
wait_rx() {  # wait_rx PORT N: until the port has received more than N frames (15 s at most)
  for _ in $(seq 1 60); do
    local n
    n=$(tel_get $P "/vnf/ports,$1" "r['$1']['rx_packets']")
    ((${n:-0} > $2)) && return 0
    sleep 0.25
  done
  return 1
}
start_appliance kinds vswitch "$WORK/kinds.yaml" || exit 1
P=vnf-kinds

# tap: the PMD created pktap1 in the root namespace; move it into a "VM".
ip netns add pk-tap && NETNS_CREATED+=(pk-tap)
ip link set pktap1 netns pk-tap
ip netns exec pk-tap ip link set pktap1 up
ip netns exec pk-tap ip addr add 10.8.0.2/24 dev pktap1
ip netns exec pk-tap ethtool -K pktap1 tx off >/dev/null 2>&1
check "tap: a namespace on a TAP port pings a VM on an af_packet port" ns_ping pk-tap 10.8.0.1

# memif: testpmd as the client, sending 64 B frames to an unknown unicast MAC. (testpmd
# needs --stats-period when stdin is not a terminal, or it exits at once.)
timeout 10 dpdk-testpmd -l 0,1 --no-huge -m 256 --no-shconf --file-prefix "vnf-pk-memif-$$" --no-pci \
  --vdev "net_memif0,role=client,socket=$WORK/memif.sock,id=0,socket-abstract=no" -- --forward-mode=txonly \
  --eth-peer=0,02:00:00:00:00:99 --txpkts=64 --total-num-mbufs=4096 --stats-period=1 -a \
  >"$WORK/testpmd-memif.log" 2>&1 &
tp=$!
wait_rx mem1 1000
kill -INT $tp 2>/dev/null
wait $tp 2>/dev/null
mem_rx=$(tel_get $P /vnf/ports,mem1 'r["mem1"]["rx_packets"]')
sink_tx=$(tel_get $P /vnf/ports,sink 'r["sink"]["tx_packets"]')
check "memif: frames from testpmd received ($mem_rx)" test "${mem_rx:-0}" -gt 1000
check "memif: and flooded within the segment to the null sink ($sink_tx)" test "${sink_tx:-0}" -gt 1000

# vhost-user: testpmd's virtio-user is the VM's virtio-net.
before=$(tel_get $P /vnf/ports,vh1 'r["vh1"]["rx_packets"]')
timeout 10 dpdk-testpmd -l 0,1 -m 256 --in-memory --single-file-segments --no-pci \
  --vdev "net_virtio_user0,path=$WORK/vh1.sock" -- --forward-mode=txonly \
  --eth-peer=0,02:00:00:00:00:98 --txpkts=64 --total-num-mbufs=4096 --stats-period=1 -a \
  >"$WORK/testpmd-vhost.log" 2>&1 &
tp=$!
wait_rx vh1 $((before + 1000))
kill -INT $tp 2>/dev/null
wait $tp 2>/dev/null
vh_rx=$(tel_get $P /vnf/ports,vh1 'r["vh1"]["rx_packets"]')
check "vhost: frames from a virtio-user VM received ($before -> $vh_rx)" test "${vh_rx:-0}" -gt $((before + 1000))

pin_rx=$(tel_get $P /vnf/ports,pin 'r["pin"]["rx_packets"]')
check "pcap: all 50 frames of the input file read ($pin_rx)" test "$pin_rx" -eq 50

stop_appliance kinds
check "stops cleanly with every kind of port" test $? -eq 0
# The pcap PMD writes its files as it transmits and closes them at stop.
n_out=$(tshark -r "$WORK/out.pcap" -Y "!vlan && udp.dstport == 9 && eth.src == 02:00:00:00:00:0a" 2>/dev/null | wc -l)
n_tr=$(tshark -r "$WORK/trunk.pcap" -Y "vlan.id == 100 && udp.dstport == 9 && eth.src == 02:00:00:00:00:0a" 2>/dev/null | wc -l)
n_untagged=$(tshark -r "$WORK/trunk.pcap" -Y "!vlan" 2>/dev/null | wc -l)
check "pcap: the access port's file has the 50 frames, untagged ($n_out)" test "$n_out" -eq 50
check "pcap: the trunk port's file has them tagged VLAN 100 ($n_tr)" test "$n_tr" -eq 50
check "pcap: nothing untagged on the trunk port ($n_untagged)" test "$n_untagged" -eq 0
