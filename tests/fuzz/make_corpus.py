#!/usr/bin/python3
"""Writes the seed corpora and dictionaries of the fuzz targets (tests/fuzz/corpus/<target>/,
tests/fuzz/dict/<target>.dict). The output is committed; run this again after adding seeds
or when the rules/ files or the config keys change:

    tests/fuzz/make_corpus.py

Frames are built byte by byte here (no scapy): Ethernet with 0, 1, 2 and 3 tags (802.1Q,
802.1ad, 0x9100, priority tags), ARP, IPv4 (options, fragments), IPv6 (every extension
header kind, fragments), TCP, UDP, ICMP, ICMPv6, and each one cut short at several points.
Config seeds: every rules/ YAML file plus small variants; route-file seeds: the lines of
rules/vrouter/*.txt and variants.
"""
import hashlib
import os
import re
import shutil
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ = os.path.join(TOP, "tests", "fuzz")
CORPUS = os.path.join(FUZZ, "corpus")
DICT = os.path.join(FUZZ, "dict")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


SRC = mac("02:00:00:00:00:01")
DST = mac("02:00:00:00:00:02")
BCAST = b"\xff" * 6


def eth(tags=(), etype=0x0800, dst=DST, src=SRC):
    h = dst + src
    for tpid, tci in tags:
        h += struct.pack("!HH", tpid, tci)
    return h + struct.pack("!H", etype)


def ip4(proto, payload, src="10.0.0.1", dst="10.0.0.2", ttl=64, options=b"", frag=0):
    ihl = 5 + len(options) // 4
    a = bytes(map(int, src.split(".")))
    b = bytes(map(int, dst.split(".")))
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), 1, frag, ttl, proto,
                    0, a, b) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ip6_addr(n):
    return bytes.fromhex("20010db8000000000000000000000000")[:15] + bytes([n])


def ip6(nh, payload, hlim=64):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, hlim, ip6_addr(1),
                       ip6_addr(2)) + payload


def ext(nh, units=0):  # hop-by-hop / dest opts / routing style
    return bytes([nh, units]) + b"\x01" + bytes([8 * (units + 1) - 4]) + b"\0" * (8 * (units + 1) - 4)


def frag6(nh, offset=0, more=False):
    return struct.pack("!BBHI", nh, 0, (offset << 3) | int(more), 0x1234)


def ah(nh):
    return bytes([nh, 4]) + b"\0\0" + b"\0" * 20  # (4 + 2) * 4 = 24 bytes


def udp(sport=1000, dport=53, data=b"hello"):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def tcp(sport=40000, dport=80, flags=0x02, doff=5, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, doff << 4, flags, 65535, 0, 0) + \
        b"\0" * (doff * 4 - 20) + data


def icmp(t=8, code=0, ident=7, seq=1):
    return struct.pack("!BBHHH", t, code, 0, ident, seq) + b"ping"


def arp(op=1):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + SRC + bytes([10, 0, 0, 1]) + \
        b"\0" * 6 + bytes([10, 0, 0, 2])


def frames():
    Q, AD, LEG = 0x8100, 0x88A8, 0x9100
    f = {}
    f["ipv4_udp"] = eth() + ip4(17, udp())
    f["ipv4_tcp_syn"] = eth() + ip4(6, tcp())
    f["ipv4_tcp_opts"] = eth() + ip4(6, tcp(doff=8, data=b"GET / HTTP/1.0\r\n"))
    f["ipv4_icmp_echo"] = eth() + ip4(1, icmp())
    f["ipv4_options"] = eth() + ip4(17, udp(), options=b"\x94\x04\x00\x00")
    f["ipv4_first_frag"] = eth() + ip4(17, udp(data=b"x" * 40), frag=0x2000)
    f["ipv4_later_frag"] = eth() + ip4(17, b"y" * 40, frag=0x0005)
    f["ipv4_gre"] = eth() + ip4(47, b"\0\0\x08\0" + b"z" * 20)
    f["ipv4_bad_version"] = eth() + b"\x65" + ip4(17, udp())[1:]
    f["ipv4_bad_ihl"] = eth() + b"\x44" + ip4(17, udp())[1:]
    f["ipv4_udp_bad_len"] = eth() + ip4(17, struct.pack("!HHHH", 1, 2, 4, 0) + b"abcd")
    f["ipv4_tcp_bad_doff"] = eth() + ip4(6, tcp()[:12] + b"\x30" + tcp()[13:])
    f["dot1q_ipv4_udp"] = eth([(Q, 100)]) + ip4(17, udp())
    f["dot1q_pcp_ipv4_tcp"] = eth([(Q, (5 << 13) | 200)]) + ip4(6, tcp())
    f["priority_tag_ipv4"] = eth([(Q, 3 << 13)]) + ip4(17, udp())
    f["dot1q_vid4095"] = eth([(Q, 4095)]) + ip4(17, udp())
    f["qinq_88a8_8100_ipv4"] = eth([(AD, 300), (Q, 100)]) + ip4(17, udp())
    f["qinq_9100_8100_ipv6"] = eth([(LEG, 10), (Q, 20)], 0x86DD) + ip6(17, udp())
    f["qinq_8100_8100_arp"] = eth([(Q, 100), (Q, 5)], 0x0806, dst=BCAST) + arp()
    f["three_tags"] = eth([(AD, 1), (Q, 2), (Q, 3)]) + ip4(17, udp())
    f["dot1q_88a8_on_8100"] = eth([(AD, 100)]) + ip4(17, udp())
    f["arp_request"] = eth([], 0x0806, dst=BCAST) + arp()
    f["arp_reply_tagged"] = eth([(Q, 100)], 0x0806) + arp(2)
    f["arp_odd_sizes"] = eth([], 0x0806, dst=BCAST) + struct.pack("!HHBBH", 1, 0x0800, 255, 255, 1) + b"\0" * 40
    f["ipv6_udp"] = eth([], 0x86DD) + ip6(17, udp())
    f["ipv6_tcp"] = eth([], 0x86DD) + ip6(6, tcp())
    f["ipv6_icmp6_echo"] = eth([], 0x86DD) + ip6(58, icmp(128))
    f["ipv6_icmp6_ns"] = eth([], 0x86DD, dst=mac("33:33:ff:00:00:02")) + ip6(58, struct.pack("!BBHI", 135, 0, 0, 0) + ip6_addr(2), 255)
    f["ipv6_hbh_udp"] = eth([], 0x86DD) + ip6(0, ext(17) + udp())
    f["ipv6_ext_chain"] = eth([], 0x86DD) + ip6(0, ext(60) + ext(43) + ext(44, 1) + frag6(17, 0, True) + udp())
    f["ipv6_dstopts_routing_tcp"] = eth([], 0x86DD) + ip6(60, ext(43) + ext(6, 2) + tcp())
    f["ipv6_ah_udp"] = eth([], 0x86DD) + ip6(51, ah(17) + udp())
    f["ipv6_first_frag"] = eth([], 0x86DD) + ip6(44, frag6(17, 0, True) + udp(data=b"q" * 32))
    f["ipv6_later_frag"] = eth([], 0x86DD) + ip6(44, frag6(17, 3) + b"r" * 32)
    f["ipv6_mobility_shim6"] = eth([], 0x86DD) + ip6(135, ext(140) + ext(139) + ext(59))
    f["ipv6_nine_ext"] = eth([], 0x86DD) + ip6(0, b"".join(ext(60) for _ in range(9)) + udp())
    f["ipv6_no_next"] = eth([], 0x86DD) + ip6(59, b"")
    f["ipv6_bad_version"] = eth([], 0x86DD) + b"\x40" + ip6(17, udp())[1:]
    f["dot1q_ipv6_tcp"] = eth([(Q, 100)], 0x86DD) + ip6(6, tcp())
    f["lldp_link_local"] = eth([], 0x88CC, dst=mac("01:80:c2:00:00:0e")) + b"\x02\x07\x04" + SRC + b"\0" * 20
    f["bcast_src_mac"] = eth(src=BCAST) + ip4(17, udp())
    f["zero_src_mac"] = eth(src=b"\0" * 6) + ip4(17, udp())
    f["unknown_ethertype"] = eth([], 0x1234) + b"\0" * 46
    f["runt"] = eth()[:13]
    # payload length 65535: l3_len (16 bits) would wrap if a chain longer than 64 KB arrived
    f["ipv6_payload_65535_chained"] = eth([], 0x86DD) + struct.pack(
        "!IHBB16s16s", 0x60000000, 65535, 17, 64, ip6_addr(1), ip6_addr(2)) + udp()
    out = {}
    for name, b in f.items():
        out[name] = b
        # Truncated variants: inside the tags, inside L3, inside L4.
        for cut in sorted({13, 15, 17, 20, 30, 40, 50, 60, len(b) - 1}):
            if 0 < cut < len(b):
                out[f"{name}_cut{cut}"] = b[:cut]
    return out


ROUTE_LINES = [
    "# PREFIX (via GATEWAY)... [dev INTERFACE] [distance N] [cross_segment] | PREFIX blackhole",
    "100.64.10.0/24 via 10.0.0.2",
    "100.64.11.0/24 via 10.0.0.3 via 10.0.0.4",
    "100.64.11.0/24 via 10.0.0.5 distance 10",
    "100.64.12.0/25 dev out1 cross_segment",
    "100.64.13.0/24 via 10.2.0.2 cross_segment",
    "198.18.0.0/15 blackhole",
    "198.19.0.0/16 blackhole distance 200",
    "2001:db8:200::/48 via 2001:db8::3",
    "2001:db8:201::/48 via fe80::1 dev v6only",
    "::/0 via 2001:db8::9 distance 250",
    "0.0.0.0/0 via 10.0.0.254",
    "10.250.0.0/16 via 10.1.0.2 cross_segment\t# a comment",
    "  \t",
    # errors, one of each kind
    "100.64.20.0/24 via 10.0.0.2 via 10.0.0.2",
    "100.64.21.0/33 via 10.0.0.2",
    "100.64.22.0/24 via 2001:db8::2",
    "100.64.23.0/24 distance 0 via 10.0.0.2",
    "100.64.24.0/24 via 10.9.9.9",
    "100.64.25.0/24 dev nowhere",
    "100.64.26.0/24 via",
    "100.64.27.1/24 via 10.0.0.2",
    "100.64.28.0/24 distance 4294967296 via 10.0.0.2",
    "2001:db8:202::/129 blackhole",
    "100.64.29.0/24 via 10.1.0.2",
    "100.64.30.0/24 blackhole via 10.0.0.2",
    "100.64.0.0/24 via 10.0.0.2",
    "100.64.31.0/24 dev out2",
    "100.64.32.0/24 frobnicate",
]


def route_files():
    bulk = open(os.path.join(TOP, "rules/vrouter/bulk-routes.txt")).read()
    out = {"bulk_routes": bulk,
           "bulk_routes_cross": "".join(l + (" cross_segment" if l and not l.startswith("#") else "") + "\n"
                                        for l in bulk.splitlines())}
    good = ROUTE_LINES[:14]
    out["all_good"] = "\n".join(good) + "\n"
    out["crlf"] = "\r\n".join(good) + "\r\n"
    out["no_newline"] = good[1]
    out["empty"] = ""
    for i, l in enumerate(ROUTE_LINES):
        out[f"line{i:02d}"] = l + "\n"
    out["many"] = "".join(f"100.{80 + i // 256}.{i % 256}.0/24 via 10.0.0.{2 + i % 200}\n"
                          for i in range(300))
    return out


VSWITCH_VARIANTS = {
    "min_access_trunk": """engine: {name: t}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
ports:
  - {name: vm1, type: ring, mode: access, segment: core}
  - {name: up, type: ring, mode: trunk, segments: [core, info], native: info}
""",
    "qinq_tpid_static": """engine: {name: t, lcores: [0, 1], memory_mb: 128, idle_sleep_us: 10}
segments:
  - {name: tenant, vlan: 10, description: a tunnel}
  - {name: transit, vlan: 4094}
ports:
  - {name: cust, type: null, mode: access, segment: tenant, qinq: true, mac_limit: 4}
  - {name: up, type: af_packet, iface: eth9, mode: trunk, tpid: 0x88a8, qinq: true, segments: [tenant, transit]}
  - {name: mon, type: pcap, tx_pcap: /tmp/x.pcap, mode: trunk, segments: [transit]}
mac:
  aging: 5m
  table_size: 4096
  static:
    - {segment: tenant, mac: "02:00:00:00:00:10", port: cust}
""",
    "firewall_router": """engine: {name: t}
segments:
  - {name: a, vlan: 1}
  - {name: b, vlan: 2}
ports:
  - {name: p1, type: ring, mode: access, segment: a}
  - {name: p2, type: ring, mode: access, segment: b}
router:
  interfaces:
    - {name: ga, segment: a, ipv4: [10.1.0.1/24], ipv6: ["2001:db8:1::1/64"], mtu: 9000}
    - {name: gb, segment: b, ipv4: [10.2.0.1/24]}
  routes:
    - {prefix: 0.0.0.0/0, via: 10.2.0.254}
  neighbors: {probe_interval: 250ms, probe_misses: 2, max_entries: 1024}
  icmp: {rate: 10, burst: 5}
firewall:
  conntrack: {size: 4096, recheck_established: false}
  options: {non_ip: drop, fragments: accept}
  zones:
    - {name: za, segments: [a]}
    - {name: zb, segments: [b], conn_limit: 100}
  addresses:
    - {name: web, prefixes: [10.2.0.10-10.2.0.20, "2001:db8:2::/64"]}
  services:
    - {name: http, protocol: tcp, ports: [80, "8080-8090"]}
  rules:
    - {id: r1, from: za, to: zb, destination: [web], service: [http, icmp/echo-request], action: accept, cross_segment: true, log: true}
  policies:
    - {from: zb, to: za, action: reject}
""",
    "anchors": """engine: &e {name: t}
segments: &s
  - {name: core, vlan: 100}
ports:
  - &p {name: vm1, type: ring, mode: access, segment: core}
  - {<<: *p, name: vm2}
""",
    "errors": """engine: {name: "bad name!"}
segments: [{name: core, vlan: 4095}, {name: core, vlan: 0}]
ports:
  - {name: vm1, type: wat, mode: access, segment: nowhere}
""",
}

VFIREWALL_VARIANTS = {
    "min": """engine: {name: f}
ports:
  - {name: a, type: ring}
  - {name: b, type: ring}
wires: [[a, b]]
zones:
  - {name: in, ports: [a]}
  - {name: out, ports: [b]}
rules:
  - {id: r, from: in, to: out, action: accept}
""",
    "everything": """engine: {name: f, lcores: [0, 1]}
ports:
  - {name: a, type: af_packet, iface: x1}
  - {name: b, type: af_packet, iface: x2}
  - {name: c, type: null}
  - {name: d, type: null}
wires: [[a, b], [c, d]]
segments:
  - {name: s1, vlan: 10}
zones:
  - {name: z1, ports: [a], segments: [s1], conn_limit: 10, timeouts: {tcp_established: 1h, udp_replied: 30s, icmp: 10s}}
  - {name: z2, ports: [b], networks: [n2], intra_zone: drop, intra_zone_log: true, window_check: true}
  - {name: z3, ports: [c, d]}
addresses:
  - {name: n2, prefixes: [192.168.0.0/16, "fd00::/8", 10.0.0.1-10.0.0.9]}
  - {name: grp, members: [n2]}
services:
  - {name: s, protocol: udp, ports: [53, "1000-2000"]}
  - {name: i6, protocol: icmp6, types: [echo-request, 1]}
  - {name: g, members: [s, i6]}
rules:
  - {id: a1, from: [z1, z3], to: z2, source: [grp], service: [g, tcp/22], action: reject, log: true, comment: x}
  - {id: a2, from: any, to: any, action: drop}
policies:
  - {from: z2, to: z1, action: accept, log: true}
conntrack: {size: 1024, expectations: 64, recheck_established: true, log_rate: 5}
ftp: {ports: [21, 2121]}
options: {non_ip: accept, ndp: accept, fragments: drop}
""",
}

VROUTER_VARIANTS = {
    "min": """engine: {name: r}
ports:
  - {name: p1, type: ring}
interfaces:
  - {name: lan, port: p1, ipv4: [10.0.0.1/24]}
""",
    "vlans_policy_neigh": """engine: {name: r}
ports:
  - {name: t, type: null}
  - {name: w, type: null}
interfaces:
  - {name: a, port: t, vlan: 10, segment: sa, ipv4: [10.1.0.1/24, 10.11.0.1/24], ipv6: ["2001:db8:1::1/64"]}
  - {name: b, port: t, vlan: 20, segment: sb, ipv4: [10.2.0.1/24], mac: "02:00:00:00:00:99"}
  - {name: up, port: w, ipv4: [192.0.2.2/30], mtu: 1400}
segment_policy:
  apart: [[sa, sb]]
routes:
  - {prefix: 0.0.0.0/0, via: 192.0.2.1}
  - {prefix: 0.0.0.0/0, via: 192.0.2.1, distance: 20}
  - {prefix: 10.50.0.0/16, via: [10.1.0.5, 10.1.0.6], cross_segment: true}
  - {prefix: 10.60.0.0/16, interface: b, cross_segment: true}
  - {prefix: "2001:db8:9::/48", via: "fe80::1", interface: a, cross_segment: true}
  - {prefix: 10.70.0.0/16, blackhole: true}
neighbors:
  probe_interval: 1s
  probe_misses: 5
  reachable_time: 30s
  aging: 10m
  max_entries: 256
  hold_packets: 2
  hold_total: 64
  static:
    - {interface: up, ip: 192.0.2.1, mac: "02:00:5e:00:01:01"}
icmp: {rate: 0, burst: 1}
fib: {ipv4_max_routes: 1000, ipv4_tbl8_groups: 64, ipv6_max_routes: 100, ipv6_tbl8_groups: 64}
""",
}

# Words the YAML loaders know besides the keys (values that select code paths).
VALUES = ["access", "trunk", "accept", "drop", "reject", "any", "tcp", "udp", "icmp", "icmp6",
          "echo-request", "echo-reply", "null", "ring", "af_packet", "tap", "pcap", "memif",
          "vhost", "pci", "bond", "server", "client", "true", "false", "yes", "no", "0x88a8",
          "0x8100", "0x9100", "300s", "5m", "1h", "2d", "500ms", "10.0.0.1/24",
          "2001:db8::1/64", "fe80::1", "02:00:00:00:00:01", "0.0.0.0/0", "::/0",
          "10.0.0.1-10.0.0.9", "tcp/443", "udp/53", "icmp/echo-request", "80-90",
          "50Mbit", "1.5Gbit", "500kbit", "64KB", "64KiB", "1MB", "police", "shape",
          "5300-5310", "<<", "&a", "*a", "!!str", "---", "...", "{", "}", "[", "]", ": ", "- ", "#", "\n"]


def keys_in(paths):
    keys = set()
    for p in paths:
        src = open(os.path.join(TOP, p)).read()
        for block in re.findall(r"allow_keys\(\s*(\{.*?\})\s*\)", src, re.S):
            keys.update(re.findall(r'"([a-z0-9_]+)"', block))
        for block in re.findall(r"k[A-Za-z]*Keys\s*=\s*\{(.*?)\};", src, re.S):
            keys.update(re.findall(r'"([a-z0-9_]+)"', block))
        keys.update(re.findall(r'(?:required|str_or|bool_or|uint_or|seconds_or|has)\("([a-z0-9_]+)"', src))
        keys.update(re.findall(r'\["([a-z0-9_]+)"\]', src))
    return keys


def dict_entry(s):
    out = ""
    for ch in s:
        if ch in '\\"':
            out += "\\" + ch
        elif 32 <= ord(ch) < 127:
            out += ch
        else:
            out += "\\x%02x" % ord(ch)
    return '"' + out + '"'


def write_dir(target, files):
    d = os.path.join(CORPUS, target)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    for name, data in files.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return len(files)


def yaml_files(program):
    out = {}
    for root, _, names in os.walk(os.path.join(TOP, "rules")):
        for n in sorted(names):
            if not n.endswith(".yaml"):
                continue
            p = os.path.join(root, n)
            text = open(p).read()
            if f"# program: {program}" in text:
                out["rules_" + os.path.relpath(p, os.path.join(TOP, "rules")).replace("/", "_")] = text
    return out


def main():
    counts = {}
    counts["parser_vlan"] = write_dir("parser_vlan", frames())
    common = ["common/engine_config.cpp"]
    for prog, variants, srcs in (
            ("vswitch", VSWITCH_VARIANTS, ["vswitch/config.cpp", "vswitch/limit_config.cpp",
                                           "vrouter/config.cpp",
                                           "vrouter/routes_config.cpp", "vfirewall/rules/config.cpp"]),
            ("vfirewall", VFIREWALL_VARIANTS, ["vfirewall/rules/config.cpp"]),
            ("vrouter", VROUTER_VARIANTS, ["vrouter/config.cpp", "vrouter/routes_config.cpp"])):
        files = yaml_files(prog)
        files.update({f"variant_{k}": v for k, v in variants.items()})
        counts[f"config_{prog}"] = write_dir(f"config_{prog}", files)
        os.makedirs(DICT, exist_ok=True)
        with open(os.path.join(DICT, f"config_{prog}.dict"), "w") as f:
            f.write(f"# libFuzzer dictionary for config_{prog}: YAML keys the loaders read, then "
                    f"values.\n# Written by tests/fuzz/make_corpus.py.\n")
            for k in sorted(keys_in(common + srcs)):
                f.write(dict_entry(k + ":") + "\n")
            for v in VALUES:
                f.write(dict_entry(v) + "\n")
    counts["route_file"] = write_dir("route_file", route_files())
    with open(os.path.join(DICT, "route_file.dict"), "w") as f:
        f.write("# libFuzzer dictionary for route_file. Written by tests/fuzz/make_corpus.py.\n")
        for w in ["via", "dev", "distance", "blackhole", "cross_segment", "#", "/", ":", "::",
                  "\t", "\r\n", "10.0.0.2", "10.1.0.2", "10.2.0.2", "2001:db8::2", "fe80::1",
                  "2001:db8:1::2", "in", "out1", "out2", "v6only", "/24", "/32", "/0", "/128"]:
            f.write(dict_entry(w) + "\n")
    for t, n in counts.items():
        print(f"{t}: {n} seeds")


if __name__ == "__main__":
    sys.exit(main())
