#!/usr/bin/python3
"""A corpus of hostile frames, as a tenant VM could send them: one hex line each, the same
every run (seeded).

  hostile_frames.py SRC_MAC

Stacked and foreign VLAN tags (802.1Q, 802.1ad, 0x9100, priority tags, three tags, a tag
cut short), bad Ethernet sources and reserved destinations, truncated and inconsistent
IPv4/IPv6/TCP/UDP/ICMP/ARP headers, IPv6 extension-header chains (too long, cut short),
fragments, jumbo frames and random bytes. The well-formed ones are broadcasts in the VM's own
segment, so that where they may go is known; every frame ends in a marker ("HOSTILE" and its
number) where it has room for one.
"""
import random
import struct
import sys

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, ICMPv6EchoRequest, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, Raw)
from scapy.layers.l2 import Dot1AD

BCAST = "ff:ff:ff:ff:ff:ff"


def main():
    src = sys.argv[1]
    rng = random.Random(9)
    frames = []

    def add(f):
        frames.append(bytes(f))

    def mark():
        return Raw(b"HOSTILE%04d" % len(frames))

    ip = IP(src="10.44.0.1", dst="10.44.0.255")
    udp = UDP(sport=4000, dport=9)
    eth = Ether(dst=BCAST, src=src)
    # Well-formed, for reference: forwarded within the VM's segment.
    add(eth / ip / udp / mark())
    add(eth / IPv6(src="fd44::1", dst="ff02::1") / UDP(sport=4000, dport=9) / mark())
    # Tags a tenant may not choose: every VID of every TPID, stacked, three deep, cut short.
    for tpid in (0x8100, 0x88A8, 0x9100):
        for vid in (0, 100, 200, 4095):
            add(Ether(dst=BCAST, src=src, type=tpid) / struct.pack("!HH", vid, 0x0800) / ip /
                udp / mark())
    add(eth / Dot1AD(vlan=100) / Dot1Q(vlan=200) / ip / udp / mark())
    add(eth / Dot1Q(vlan=0) / Dot1Q(vlan=200) / ip / udp / mark())
    add(eth / Dot1Q(vlan=100) / Dot1Q(vlan=200) / Dot1Q(vlan=300) / ip / udp / mark())
    add(bytes(eth)[:12] + b"\x81\x00\x00")  # ends inside the tag
    # Ethernet sources and destinations that are never forwarded.
    add(Ether(dst=BCAST, src="01:00:5e:00:00:01") / ip / udp / mark())
    add(Ether(dst=BCAST, src="00:00:00:00:00:00") / ip / udp / mark())
    add(Ether(dst="01:80:c2:00:00:00", src=src) / ip / udp / mark())
    add(Ether(dst="01:80:c2:00:00:02", src=src, type=0x8809) / mark())
    # Short and inconsistent headers.
    # (Shorter than an Ethernet header: the kernel refuses to send it, so no VM on a TAP
    # port can; the unit tests cover eth_truncated.)
    add(bytes(eth)[:12] + b"\x08\x00")
    good = bytes(eth / ip / udp / mark())
    add(good[:14 + 12])  # IPv4 cut short
    add(good[:14] + bytes([0x44]) + good[15:])  # IHL 4
    add(good[:14] + bytes([0x55]) + good[15:])  # version 5
    add(eth / IP(src="10.44.0.1", dst="10.44.0.255", len=1400) / udp / mark())  # beyond frame
    add(eth / IP(src="10.44.0.1", dst="10.44.0.255", len=10) / udp / mark())  # below header
    add(eth / IP(src="10.44.0.1", dst="10.44.0.255", options=b"\x01" * 8) / udp / mark())
    add(eth / ip / TCP(sport=1, dport=2, dataofs=3) / mark())
    add(eth / IP(src="10.44.0.1", dst="10.44.0.255", proto=6) / (b"\x00" * 10))
    add(eth / ip / UDP(sport=1, dport=2, len=4) / mark())
    add(eth / ip / UDP(sport=1, dport=2, len=900) / mark())
    add(eth / IP(src="10.44.0.1", dst="10.44.0.255", proto=1) / b"\x08\x00\x00")
    add(eth / IP(src="10.44.0.1", dst="10.44.0.255", flags="MF") / udp / mark())
    add(eth / IP(src="10.44.0.1", dst="10.44.0.255", frag=100) / mark())
    add(eth / ARP(op=1, psrc="10.44.0.1", pdst="10.44.0.2", hwsrc=src) / mark())
    add(bytes(eth)[:12] + b"\x08\x06" + b"\x00\x01\x08\x00\x40\x40\x00\x01" + b"\x00" * 20)
    v6 = IPv6(src="fd44::1", dst="ff02::1")
    add(bytes(eth / v6)[:14 + 30])
    add(eth / IPv6(src="fd44::1", dst="ff02::1", plen=1200) / UDP(sport=1, dport=2) / mark())
    chain = v6
    for _ in range(10):
        chain = chain / IPv6ExtHdrDestOpt()
    add(eth / chain / UDP(sport=1, dport=2) / mark())
    add(bytes(eth / v6 / IPv6ExtHdrHopByHop(len=20) / mark()))
    add(eth / v6 / IPv6ExtHdrFragment(offset=10, m=1) / mark())
    add(eth / v6 / IPv6ExtHdrFragment(offset=0, m=1) / UDP(sport=1, dport=2) / mark())
    add(eth / v6 / ICMPv6EchoRequest(id=1) / mark())
    add(eth / IPv6(src="fd44::1", dst="ff02::1", nh=6) / (b"\x00" * 12))
    # Longer than the port's MTU (1500).
    add(eth / ip / udp / (b"J" * 8900) / mark())
    add(Ether(dst=BCAST, src=src, type=0x88B5) / (b"j" * 2000) / mark())
    # Random bytes: random length, random everything (the source is ours: a flood of random
    # sources is another test's business).
    for _ in range(40):
        n = rng.randint(1, 1514)
        body = bytes(rng.getrandbits(8) for _ in range(n))
        frames.append(body[:6] + bytes.fromhex(src.replace(":", "")) + body[12:] if n > 12 else body)
    for f in frames:
        print(f.hex())
    return 0


if __name__ == "__main__":
    sys.exit(main())
