#!/usr/bin/python3
"""Raw frames on an interface, exactly as they are on the wire, for the system tests.

  wire.py send IFACE HEX [HEX...]          send each frame (hex bytes) once
  wire.py sniff IFACE SECONDS [--count N]  print every frame received, one hex line each,
                                           until SECONDS pass (or N frames arrived)

The kernel takes the outer VLAN tag off every frame it receives and reports it beside the
frame (PACKET_AUXDATA: TCI and TPID); `sniff` puts it back with the TPID the kernel reported,
so an 802.1ad tag reads as 88a8, not as the 8100 that a naive capture would show. Only
frames the interface received are printed (not what this host sent).
"""
import errno
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6


def send(iface, frames):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    failed = 0
    for i, f in enumerate(frames):
        try:
            s.send(bytes.fromhex(f))
        except OSError as e:
            print(f"frame {i} ({len(f) // 2} bytes): {e.strerror}", file=sys.stderr)
            failed += 1
    s.close()
    return 1 if failed else 0


def sniff(iface, seconds, count):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((iface, 0))
    deadline = time.time() + seconds
    got = 0
    while time.time() < deadline and (count == 0 or got < count):
        r, _, _ = select.select([s], [], [], max(0.0, deadline - time.time()))
        if not r:
            break
        try:
            data, anc, _, addr = s.recvmsg(65536, socket.CMSG_SPACE(32))
        except OSError as e:  # the interface went down under us (ENETDOWN): wait it out
            if e.errno not in (errno.ENETDOWN, errno.ENXIO):
                raise
            time.sleep(0.05)
            continue
        if addr[2] == PACKET_OUTGOING:
            continue
        for level, kind, cdata in anc:
            if level != SOL_PACKET or kind != PACKET_AUXDATA or len(cdata) < 20:
                continue
            status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", cdata[:20])
            if status & TP_STATUS_VLAN_VALID:
                if not status & TP_STATUS_VLAN_TPID_VALID:
                    tpid = 0x8100
                data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
        print(data.hex(), flush=True)
        got += 1
    s.close()


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "send":
        return send(sys.argv[2], sys.argv[3:])
    if len(sys.argv) >= 4 and sys.argv[1] == "sniff":
        count = int(sys.argv[5]) if len(sys.argv) >= 6 and sys.argv[4] == "--count" else 0
        sniff(sys.argv[2], float(sys.argv[3]), count)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
