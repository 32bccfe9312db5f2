#!/usr/bin/python3
"""Writes benchmark traffic as a pcap file, deterministically (same options, same bytes).

Frames are built with struct, not scapy: a 100 k-frame file takes a second, not minutes.
Every frame is a valid Ethernet/IPv4/UDP frame (checksums right) so that parsers and
firewalls see real traffic.

  genpcap.py OUT.pcap --macs 1000 --size 64            known-unicast to 1000 MACs
  genpcap.py OUT.pcap --macs 1000 --size imix          7:4:1 of 64, 570, 1518 bytes
  genpcap.py OUT.pcap --macs 1000 --broadcast 0.1      10 % broadcast
  genpcap.py OUT.pcap --macs 1000 --vlan 100           tagged input (trunk ingress)
  genpcap.py OUT.pcap --flows 10000 --both-directions  UDP flows, each also in reverse
                                                       (firewall scenarios: established state)
  genpcap.py OUT.pcap --routed PREFIXES.txt --dst-mac 02:00:00:00:00:01 [--frames N]
                                                       to the router's MAC, destinations drawn
                                                       from the prefixes (IPv4 or IPv6)
Sizes are on-the-wire frame sizes including the 4-byte FCS, as benchmarks quote them.
"""
import argparse
import struct
import sys

IMIX = [64] * 7 + [570] * 4 + [1518]


def dst_mac(i):
    """The i-th destination MAC: 02:00:00:xx:xx:xx (locally administered unicast)."""
    return bytes([0x02, 0x00, 0x00, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])


SRC_MAC = bytes([0x02, 0xAA, 0x00, 0x00, 0x00, 0x01])


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(dst, size, vlan, flow, reverse=False):
    """One frame of `size` bytes on the wire (size - 4 in the file: no FCS). Flow `flow` is
    10.0.x.y:sport -> 10.128.x.y:9 (UDP); reverse=True is its reply direction."""
    l2 = dst + SRC_MAC + (struct.pack("!HH", 0x8100, vlan) if vlan else b"") + b"\x08\x00"
    ip_len = size - 4 - len(l2)
    udp_len = ip_len - 20
    src_ip = struct.pack("!I", 0x0A000000 | ((flow >> 8) & 0xFFFF))  # 10.0.x.y
    dst_ip = struct.pack("!I", 0x0A800000 | (flow & 0xFFFF))        # 10.128.x.y
    sport, dport = 1024 + (flow % 60000), 9
    if reverse:
        src_ip, dst_ip, sport, dport = dst_ip, src_ip, dport, sport
    hdr = struct.pack("!BBHHHBBH", 0x45, 0, ip_len, flow & 0xFFFF, 0, 64, 17, 0) + src_ip + dst_ip
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + bytes(udp_len - 8)
    return l2 + hdr + udp


def routed(a):
    """Frames to a router: destinations at random inside random prefixes of the file."""
    import ipaddress
    import random
    rng = random.Random(1)
    nets = [ipaddress.ip_network(line.split()[0]) for line in open(a.routed) if line.strip()]
    dmac = bytes(int(x, 16) for x in a.dst_mac.split(":"))
    n = a.frames or 4096
    size = int(a.size)
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            net = nets[rng.randrange(len(nets))]
            host = net.network_address + rng.randrange(1, max(2, net.num_addresses))
            if net.version == 4:
                src = bytes([10, 0, 0, 2])
                l2 = dmac + SRC_MAC + b"\x08\x00"
                ip_len = size - 4 - len(l2)
                hdr = struct.pack("!BBHHHBBH", 0x45, 0, ip_len, i & 0xFFFF, 0, 64, 17, 0) + src + host.packed
                hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
                l4 = struct.pack("!HHHH", 1024 + i % 60000, 9, ip_len - 20, 0) + bytes(ip_len - 28)
                fr = l2 + hdr + l4
            else:
                src = ipaddress.ip_address("2001:db8::2").packed
                l2 = dmac + SRC_MAC + b"\x86\xdd"
                plen = max(8, size - 4 - len(l2) - 40)
                hdr = struct.pack("!IHBB", 0x60000000, plen, 17, 64) + src + host.packed
                l4 = struct.pack("!HHHH", 1024 + i % 60000, 9, plen, 0) + bytes(plen - 8)
                fr = l2 + hdr + l4
            f.write(struct.pack("<IIII", 0, i, len(fr), len(fr)))
            f.write(fr)
    print(f"{a.out}: {n} frames to {a.dst_mac}, destinations in {len(nets)} prefixes")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--macs", type=int, default=1000, help="distinct destination MACs")
    ap.add_argument("--frames", type=int, default=0, help="frames in the file (default: max(macs, 1024))")
    ap.add_argument("--size", default="64", help="frame size in bytes incl. FCS, or 'imix'")
    ap.add_argument("--broadcast", type=float, default=0.0, help="share of broadcast frames")
    ap.add_argument("--vlan", type=int, default=0, help="802.1Q tag on every frame (0: untagged)")
    ap.add_argument("--flows", type=int, default=0,
                    help="UDP flows to one destination MAC (instead of one flow per MAC)")
    ap.add_argument("--both-directions", action="store_true", help="each flow's frame followed by its reply")
    ap.add_argument("--routed", help="file of prefixes (one per line): frames to a router")
    ap.add_argument("--dst-mac", default="02:00:00:00:00:01", help="with --routed: the router's MAC")
    a = ap.parse_args()
    if a.routed:
        routed(a)
        return
    if a.flows:
        sizes = IMIX if a.size == "imix" else [int(a.size)]
        with open(a.out, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            n = 0
            for i in range(a.flows):
                for rev in ([False, True] if a.both_directions else [False]):
                    fr = frame(dst_mac(1), sizes[n % len(sizes)], a.vlan, i, rev)
                    f.write(struct.pack("<IIII", 0, n, len(fr), len(fr)))
                    f.write(fr)
                    n += 1
        print(f"{a.out}: {n} frames, {a.flows} UDP flows{' in both directions' if a.both_directions else ''}, size {a.size}")
        return
    n = a.frames or max(a.macs, 1024)
    sizes = IMIX if a.size == "imix" else [int(a.size)]
    if min(sizes) < 64 or max(sizes) > 1518:
        sys.exit("sizes are 64..1518")
    bcast_every = round(1 / a.broadcast) if a.broadcast > 0 else 0
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            dst = b"\xff" * 6 if bcast_every and i % bcast_every == bcast_every - 1 else dst_mac(i % a.macs)
            fr = frame(dst, sizes[i % len(sizes)], a.vlan, i)
            f.write(struct.pack("<IIII", 0, i, len(fr), len(fr)))
            f.write(fr)
    print(f"{a.out}: {n} frames, {a.macs} MACs, size {a.size}, broadcast {a.broadcast:.0%}, vlan {a.vlan or 'none'}")


if __name__ == "__main__":
    main()
