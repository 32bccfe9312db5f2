#!/usr/bin/python3
"""An 802.1Q host in user space, for kernels without VLAN subinterfaces.

Sends an ARP request for --dst tagged with --vlan from --src, then an ICMP echo request to
the MAC that answered; exits 0 only if both replies arrive carrying the same VLAN tag.
Uses scapy (Debian's python3-scapy) on a packet socket, so the frames on the wire are
exactly what a VLAN subinterface would send.
"""
import argparse
import sys

from scapy.all import ARP, ICMP, IP, Dot1Q, Ether, conf, get_if_hwaddr, srp1

conf.verb = 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--vlan", type=int, required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--timeout", type=float, default=1.5)
    a = ap.parse_args()
    mac = get_if_hwaddr(a.iface)
    arp = srp1(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=a.vlan) /
               ARP(op=1, hwsrc=mac, psrc=a.src, pdst=a.dst),
               iface=a.iface, timeout=a.timeout)
    if arp is None or ARP not in arp:
        print(f"vlan {a.vlan}: no ARP reply from {a.dst}")
        return 1
    if Dot1Q not in arp or arp[Dot1Q].vlan != a.vlan:
        print(f"vlan {a.vlan}: ARP reply from {a.dst} arrived untagged or on another VLAN")
        return 1
    echo = srp1(Ether(src=mac, dst=arp[ARP].hwsrc) / Dot1Q(vlan=a.vlan) /
                IP(src=a.src, dst=a.dst) / ICMP(id=4242, seq=1),
                iface=a.iface, timeout=a.timeout)
    if echo is None or ICMP not in echo or echo[ICMP].type != 0:
        print(f"vlan {a.vlan}: no echo reply from {a.dst}")
        return 1
    if Dot1Q not in echo or echo[Dot1Q].vlan != a.vlan:
        print(f"vlan {a.vlan}: echo reply from {a.dst} not tagged {a.vlan}")
        return 1
    print(f"vlan {a.vlan}: {a.dst} is at {arp[ARP].hwsrc}, answers echo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
