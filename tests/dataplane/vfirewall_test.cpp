// vfirewall on real DPDK ports (net_ring): frames in, frames out, byte by byte. Covers
// rules and zone pairs, replies only after requests, TCP windows, rejects, related ICMP
// errors, table and zone limits, reload with recheck, FTP expectations, expiry, VLANs.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include <rte_ring_elem.h>

#include "common/events.h"
#include "tests/common/frames.h"
#include "tests/dataplane/fw_harness.h"

using namespace testing_frames;
using dptest::expect_drop;
using dptest::expect_pass;
using dptest::FwHarness;
using dptest::Out;
using vnf::DropReason;

namespace {

const char* kBase = R"(engine: {name: fwdp}
ports:
  - {name: pa, type: ring}
  - {name: pb, type: ring}
  - {name: pc, type: ring}
  - {name: pd, type: ring}
wires: [[pa, pb], [pc, pd]]
zones:
  - {name: office, ports: [pa]}
  - {name: servers, ports: [pb]}
  - {name: lab, ports: [pc], conn_limit: 3}
  - {name: lab2, ports: [pd], window_check: false}
addresses:
  - {name: web, prefixes: [10.2.0.10-10.2.0.20, "2001:db8:2::/64"]}
services:
  - {name: http, protocol: tcp, ports: [80]}
rules:
  - {id: web, from: office, to: servers, destination: [web], service: [http], action: accept}
  - {id: no-81, from: office, to: servers, service: [tcp/81], action: drop}
  - {id: rej, from: office, to: servers, service: [tcp/82, udp/82], action: reject}
  - {id: dns, from: office, to: servers, service: [udp/53], action: accept, log: true}
  - {id: ping, from: office, to: servers, service: [icmp/echo-request, icmp6/echo-request], action: accept}
  - {id: ssh, from: office, to: servers, service: [tcp/22], action: accept}
  - {id: ftp, from: office, to: servers, service: [tcp/21], action: accept}
policies:
  - {from: lab, to: lab2, action: accept}
conntrack: {size: 256}
)";

const Mac A = mac("02:00:00:00:00:0a");  // office host, behind pa
const Mac B = mac("02:00:00:00:00:0b");  // server, behind pb
const uint32_t kA = ip4("10.1.0.5");
const uint32_t kB = ip4("10.2.0.15");
const auto kA6 = ip6("2001:db8:1::5");
const auto kB6 = ip6("2001:db8:2::15");

constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

Bytes tcp4(bool a_to_b, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
           const Bytes& payload = {}, uint32_t src = kA, uint32_t dst = kB) {
  const uint32_t s = a_to_b ? src : dst, d = a_to_b ? dst : src;
  return cat({eth(a_to_b ? B : A, a_to_b ? A : B, {}, 0x0800),
              ipv4(s, d, 6, tcp(sport, dport, flags, seq, ack, 5, payload))});
}

Bytes udp4(bool a_to_b, uint16_t sport, uint16_t dport, uint32_t src = kA, uint32_t dst = kB) {
  const uint32_t s = a_to_b ? src : dst, d = a_to_b ? dst : src;
  return cat({eth(a_to_b ? B : A, a_to_b ? A : B, {}, 0x0800),
              ipv4(s, d, 17, udp(sport, dport, Bytes(10, 0x55)))});
}

Bytes tcp6(bool a_to_b, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack) {
  return cat({eth(a_to_b ? B : A, a_to_b ? A : B, {}, 0x86DD),
              ipv6(a_to_b ? kA6 : kB6, a_to_b ? kB6 : kA6, 6, tcp(sport, dport, flags, seq, ack))});
}

Bytes icmp6_echo_frame(bool a_to_b, bool reply) {
  Bytes e = icmp6_echo(77, 1);
  if (reply) e[0] = 129;
  return cat({eth(a_to_b ? B : A, a_to_b ? A : B, {}, 0x86DD),
              ipv6(a_to_b ? kA6 : kB6, a_to_b ? kB6 : kA6, 58, e)});
}

// Opens a TCP connection office -> servers (SYN, SYN-ACK, ACK); client ISN 1000, server 5000.
void handshake(FwHarness& h, uint16_t sport, uint16_t dport, uint32_t dst = kB) {
  expect_pass(h, "pa", "pb", tcp4(true, sport, dport, SYN, 1000, 0, {}, kA, dst), "SYN");
  expect_pass(h, "pb", "pa", tcp4(false, dport, sport, SYN | ACK, 5000, 1001, {}, kA, dst),
              "SYN-ACK");
  expect_pass(h, "pa", "pb", tcp4(true, sport, dport, ACK, 1001, 5001, {}, kA, dst), "ACK");
}

// One's-complement sum for expected checksums (independent of the code under test).
uint16_t csum(const Bytes& b, size_t off, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < len; i += 2)
    sum += static_cast<uint32_t>(b[off + i] << 8 | b[off + i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(b[off + len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void put16(Bytes& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}

}  // namespace

TEST(Vfirewall, RulesAndZonePairsDecideNewConnections) {
  FwHarness h(kBase);
  expect_pass(h, "pa", "pb", tcp4(true, 40000, 80, SYN, 1, 0), "office->web:80 accepted by 'web'");
  expect_drop(h, "pa", tcp4(true, 40001, 80, SYN, 1, 0, {}, kA, ip4("10.2.0.30")),
              DropReason::kFwPolicyDrop, "office->10.2.0.30:80: not in 'web', default deny");
  expect_drop(h, "pa", tcp4(true, 40002, 81, SYN, 1, 0), DropReason::kFwRuleDrop,
              "office->servers:81 dropped by 'no-81'");
  expect_drop(h, "pa", tcp4(true, 40003, 8080, SYN, 1, 0), DropReason::kFwPolicyDrop,
              "office->servers:8080 no rule");
  expect_drop(h, "pb", tcp4(false, 80, 40004, SYN, 1, 0), DropReason::kFwPolicyDrop,
              "servers->office: no rule, default deny between zones");
  expect_pass(h, "pa", "pb", tcp6(true, 40005, 80, SYN, 1, 0), "IPv6 office->web:80");
  expect_drop(h, "pa",
              cat({eth(B, A, {}, 0x86DD), ipv6(kA6, ip6("2001:db8:3::1"), 6, tcp(1, 80, SYN))}),
              DropReason::kFwPolicyDrop, "IPv6 outside 'web'");
  // lab -> lab2: no rule, the explicit zone-pair policy accepts; lab2 -> lab: deny.
  expect_pass(h, "pc", "pd", udp4(true, 1000, 2000), "lab->lab2 by policy");
  expect_drop(h, "pd", udp4(true, 1001, 2001), DropReason::kFwPolicyDrop, "lab2->lab by default");
  // ARP passes (options.non_ip: accept).
  expect_pass(h, "pa", "pb", cat({eth(kBroadcast, A, {}, 0x0806), arp_request(A, kA, kB)}), "ARP");

  const auto web = h.fw().rule_stats("web");
  EXPECT_EQ(web.hits, 2u);  // one IPv4 and one IPv6 connection
  EXPECT_EQ(h.fw().rule_stats("no-81").hits, 1u);
  EXPECT_EQ(h.fw().active("office"), 2u);
  EXPECT_EQ(h.fw().active("lab"), 1u);
}

TEST(Vfirewall, RepliesOnlyAfterTheRequest) {
  FwHarness h(kBase);
  // A reply with no request: a SYN-ACK opens nothing.
  expect_drop(h, "pb", tcp4(false, 80, 40000, SYN | ACK, 5000, 1001), DropReason::kFwTcpInvalid,
              "SYN-ACK without SYN");
  expect_drop(h, "pb", udp4(false, 53, 33000), DropReason::kFwPolicyDrop, "DNS reply before query");
  expect_drop(h, "pb", icmp6_echo_frame(false, true), DropReason::kFwInvalid, "echo reply unasked");
  expect_drop(h, "pa", tcp4(true, 40000, 80, ACK, 1001, 5001), DropReason::kFwTcpInvalid,
              "ACK with no connection");
  // The requests, then the replies pass.
  expect_pass(h, "pa", "pb", udp4(true, 33000, 53), "DNS query");
  expect_pass(h, "pb", "pa", udp4(false, 53, 33000), "DNS reply");
  expect_pass(h, "pa", "pb", icmp6_echo_frame(true, false), "echo request");
  expect_pass(h, "pb", "pa", icmp6_echo_frame(false, true), "echo reply");
  handshake(h, 40000, 80);
  expect_pass(h, "pb", "pa", tcp4(false, 80, 40000, ACK | PSH, 5001, 1001, Bytes(100, 'x')),
              "data");
  // The reply direction does not open anything new: a server-side SYN to the client.
  expect_drop(h, "pb", tcp4(false, 80, 40000, SYN, 9, 0), DropReason::kFwTcpInvalid,
              "SYN from the responder inside the connection");
}

TEST(Vfirewall, TcpWindowCheckDropsOutOfWindowSegments) {
  FwHarness h(kBase);
  handshake(h, 41000, 80);
  expect_pass(h, "pa", "pb", tcp4(true, 41000, 80, ACK | PSH, 1001, 5001, Bytes(200, 'a')),
              "in window");
  expect_drop(h, "pa", tcp4(true, 41000, 80, ACK | PSH, 1001 + 3000000, 5001, Bytes(10, 'b')),
              DropReason::kFwTcpWindow, "seq far beyond the window");
  expect_drop(h, "pb", tcp4(false, 80, 41000, ACK, 5001, 1201 + 500000), DropReason::kFwTcpWindow,
              "ack of data never sent");
  expect_drop(h, "pa", tcp4(true, 41000, 80, ACK | PSH, 1001 - 200000, 5001, Bytes(10, 'c')),
              DropReason::kFwTcpWindow, "seq far behind (old duplicate)");
  // Teardown still works after the rejected segments.
  expect_pass(h, "pa", "pb", tcp4(true, 41000, 80, FIN | ACK, 1201, 5001), "FIN");
  expect_pass(h, "pb", "pa", tcp4(false, 80, 41000, FIN | ACK, 5001, 1202), "FIN-ACK");
  expect_pass(h, "pa", "pb", tcp4(true, 41000, 80, ACK, 1202, 5002), "last ACK");
  const auto v = h.dump();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].state, static_cast<uint8_t>(vfirewall::TcpState::kTimeWait));

  // lab2 has window_check: false: an out-of-window segment of a lab->lab2 connection passes.
  const uint32_t lab = ip4("10.3.0.1"), lab2 = ip4("10.4.0.1");
  expect_pass(h, "pc", "pd", tcp4(true, 5, 6, SYN, 100, 0, {}, lab, lab2), "lab SYN");
  expect_pass(h, "pd", "pc", tcp4(false, 6, 5, SYN | ACK, 900, 101, {}, lab, lab2), "lab SYN-ACK");
  expect_pass(h, "pc", "pd", tcp4(true, 5, 6, ACK, 101 + 5000000, 901, {}, lab, lab2),
              "out of window, unchecked zone");
}

TEST(Vfirewall, RejectSendsAByteExactTcpReset) {
  FwHarness h(kBase);
  const Bytes syn = tcp4(true, 40010, 82, SYN, 7777, 0);
  const Out out = h.exchange("pa", syn);
  ASSERT_EQ(out.size(), 1u) << dptest::describe(out);
  ASSERT_EQ(out.count("pa"), 1u) << "the RST goes back out of the ingress port";
  ASSERT_EQ(out.at("pa").size(), 1u);
  EXPECT_EQ(h.drops(DropReason::kFwRuleReject), 1u);
  // Expected: from B to A, IPv4 id 0, DF, TTL 64; TCP 82 -> 40010, seq 0, ack 7778, RST|ACK.
  Bytes want = cat({eth(A, B, {}, 0x0800)});
  Bytes ip = {0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0};
  for (uint32_t a : {kB, kA})
    for (int s = 24; s >= 0; s -= 8) ip.push_back(static_cast<uint8_t>(a >> s));
  put16(ip, 10, csum(ip, 0, 20));
  Bytes t = {0, 82, 0x9c, 0x4a, 0, 0, 0, 0, 0, 0, 0x1e, 0x62, 0x50, RST | ACK, 0, 0, 0, 0, 0, 0};
  Bytes pseudo(ip.begin() + 12, ip.begin() + 20);
  pseudo.insert(pseudo.end(), {0, 6, 0, 20});
  pseudo.insert(pseudo.end(), t.begin(), t.end());
  put16(t, 16, csum(pseudo, 0, pseudo.size()));
  want.insert(want.end(), ip.begin(), ip.end());
  want.insert(want.end(), t.begin(), t.end());
  EXPECT_EQ(out.at("pa")[0], want);

  // A segment with ACK set: the RST takes its sequence number from that ack.
  const Out out2 = h.exchange("pa", tcp4(true, 40011, 82, ACK, 1, 0x01020304));
  ASSERT_EQ(out2.count("pa"), 0u) << "no connection: a bare ACK is invalid, not rejected";
}

TEST(Vfirewall, RejectSendsByteExactIcmpUnreachable) {
  FwHarness h(kBase);
  const Bytes q = udp4(true, 5555, 82);
  const Out out = h.exchange("pa", q);
  ASSERT_EQ(out.count("pa"), 1u) << dptest::describe(out);
  // IPv4 header (id 0, DF, TTL 64, proto 1) + ICMP 3/13 + original IP header + 8 bytes.
  Bytes icmp = {3, 13, 0, 0, 0, 0, 0, 0};
  icmp.insert(icmp.end(), q.begin() + 14, q.begin() + 14 + 28);
  put16(icmp, 2, csum(icmp, 0, icmp.size()));
  Bytes ip = {0x45, 0, 0, static_cast<uint8_t>(20 + icmp.size()), 0, 0, 0x40, 0, 64, 1, 0, 0};
  for (uint32_t a : {kB, kA})
    for (int s = 24; s >= 0; s -= 8) ip.push_back(static_cast<uint8_t>(a >> s));
  put16(ip, 10, csum(ip, 0, 20));
  Bytes want = eth(A, B, {}, 0x0800);
  want.insert(want.end(), ip.begin(), ip.end());
  want.insert(want.end(), icmp.begin(), icmp.end());
  EXPECT_EQ(out.at("pa")[0], want);

  // IPv6: ICMPv6 1/1 quoting the whole (short) packet, checksum over the pseudo-header.
  const Bytes q6 = cat({eth(B, A, {}, 0x86DD), ipv6(kA6, kB6, 17, udp(5555, 82, Bytes(4, 1)))});
  const Out out6 = h.exchange("pa", q6);
  ASSERT_EQ(out6.count("pa"), 1u) << dptest::describe(out6);
  Bytes m6 = {1, 1, 0, 0, 0, 0, 0, 0};
  m6.insert(m6.end(), q6.begin() + 14, q6.end());
  Bytes pseudo(kB6.begin(), kB6.end());
  pseudo.insert(pseudo.end(), kA6.begin(), kA6.end());
  pseudo.insert(pseudo.end(), {0, 0, static_cast<uint8_t>(m6.size() >> 8),
                               static_cast<uint8_t>(m6.size()), 0, 0, 0, 58});
  pseudo.insert(pseudo.end(), m6.begin(), m6.end());
  put16(m6, 2, csum(pseudo, 0, pseudo.size()));
  Bytes want6 = cat({eth(A, B, {}, 0x86DD), ipv6(kB6, kA6, 58, m6)});
  EXPECT_EQ(out6.at("pa")[0], want6);
  EXPECT_EQ(h.drops(DropReason::kFwRuleReject), 2u);
}

TEST(Vfirewall, IcmpErrorsPassOnlyWhenTheyQuoteATrackedConnection) {
  FwHarness h(kBase);
  const Bytes query = udp4(true, 33001, 53);
  expect_pass(h, "pa", "pb", query, "DNS query");
  auto icmp_err = [&](const Bytes& quoted) {
    Bytes e = {3, 3, 0, 0, 0, 0, 0, 0};
    e.insert(e.end(), quoted.begin() + 14, quoted.begin() + 14 + 28);
    put16(e, 2, csum(e, 0, e.size()));
    return cat({eth(A, B, {}, 0x0800), ipv4(kB, kA, 1, e)});
  };
  expect_pass(h, "pb", "pa", icmp_err(query), "port unreachable for the tracked query");
  expect_drop(h, "pb", icmp_err(udp4(true, 33002, 53)), DropReason::kFwIcmpUnrelated,
              "port unreachable for a query never sent");
  // IPv6: packet too big for a tracked TCP connection.
  expect_pass(h, "pa", "pb", tcp6(true, 40100, 80, SYN, 1, 0), "IPv6 SYN");
  const Bytes quoted6 = tcp6(true, 40100, 80, ACK, 2, 0);
  Bytes ptb = {2, 0, 0, 0, 0, 0, 0x05, 0x00};
  ptb.insert(ptb.end(), quoted6.begin() + 14, quoted6.end());
  expect_pass(h, "pb", "pa", cat({eth(A, B, {}, 0x86DD), ipv6(kB6, kA6, 58, ptb)}), "ICMPv6 PTB");
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::related), 2u);
}

TEST(Vfirewall, FullTableRefusesNewConnectionsAndKeepsEstablishedOnes) {
  std::string yaml = kBase;
  yaml.replace(yaml.find("size: 256"), 9, "size: 64");
  // office may fill the table (by default it would stop at its share, a quarter).
  yaml.replace(yaml.find("{name: office, ports: [pa]}"), 27,
               "{name: office, ports: [pa], conn_limit: unlimited}");
  FwHarness h(yaml);
  for (uint16_t i = 0; i < 64; ++i) expect_pass(h, "pa", "pb", udp4(true, 20000 + i, 53), "fill");
  expect_drop(h, "pa", udp4(true, 21000, 53), DropReason::kFwTableFull, "65th connection");
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::table_full), 1u);
  // Nothing was evicted: every one of the 64 still gets its reply through.
  for (uint16_t i = 0; i < 64; ++i) expect_pass(h, "pb", "pa", udp4(false, 53, 20000 + i), "reply");
  EXPECT_EQ(h.fw().sessions_in_use(), 64u);
  // Once connections expire, new ones fit again.
  h.advance(200);
  h.sweep_all();
  EXPECT_EQ(h.fw().sessions_in_use(), 0u);
  expect_pass(h, "pa", "pb", udp4(true, 21000, 53), "after expiry");
}

TEST(Vfirewall, ZoneLimitStopsOneTenantFromTakingTheTable) {
  FwHarness h(kBase);  // lab: conn_limit 3
  const uint32_t lab = ip4("10.3.0.1"), lab2 = ip4("10.4.0.1");
  for (uint16_t i = 0; i < 3; ++i)
    expect_pass(h, "pc", "pd", udp4(true, 100 + i, 9, lab, lab2), "lab");
  expect_drop(h, "pc", udp4(true, 200, 9, lab, lab2), DropReason::kFwZoneLimit,
              "4th lab connection");
  expect_pass(h, "pc", "pd", udp4(true, 100, 9, lab, lab2), "an existing lab connection");
  expect_pass(h, "pa", "pb", udp4(true, 300, 53), "office is not limited by lab's limit");
  EXPECT_EQ(h.fw().active("lab"), 3u);
}

TEST(Vfirewall, ReloadRechecksEstablishedConnections) {
  std::string next = kBase;
  next.replace(
      next.find("  - {id: ssh"),
      std::string("  - {id: ssh, from: office, to: servers, service: [tcp/22], action: accept}\n")
          .size(),
      "");
  {
    FwHarness h(kBase);
    handshake(h, 42000, 80);
    handshake(h, 42001, 22);
    expect_pass(h, "pa", "pb", udp4(true, 33000, 53), "DNS");
    const uint64_t web_hits = h.fw().rule_stats("web").hits;
    // New rules: ssh removed; everything else the same.
    h.apply_yaml(next);
    EXPECT_EQ(h.fw().snapshot().generation, 2u);
    expect_drop(h, "pa", tcp4(true, 42001, 22, ACK | PSH, 1001, 5001, Bytes(5, 's')),
                DropReason::kFwRecheckClosed, "ssh no longer allowed");
    expect_drop(h, "pb", tcp4(false, 22, 42001, ACK, 5001, 1001), DropReason::kFwTcpInvalid,
                "closed: the server's segment finds no connection");
    expect_pass(h, "pa", "pb", tcp4(true, 42000, 80, ACK | PSH, 1001, 5001, Bytes(5, 'w')),
                "web kept");
    h.sweep_all();
    EXPECT_EQ(h.fw().sessions_in_use(), 2u) << "web and dns kept, ssh closed";
    EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::recheck_closed), 1u);
    EXPECT_GE(h.fw().rule_stats("web").hits, web_hits) << "counters kept across the reload";
    EXPECT_EQ(h.fw().rule_stats("web").hits, 1u);
    expect_drop(h, "pa", tcp4(true, 42002, 22, SYN, 1, 0), DropReason::kFwPolicyDrop, "new ssh");

    // An idle connection the new rules forbid is closed by the sweep, without a packet.
    std::string third = next;
    third.replace(third.find("  - {id: dns"),
                  std::string("  - {id: dns, from: office, to: servers, service: [udp/53], action: "
                              "accept, log: true}\n")
                      .size(),
                  "");
    h.apply_yaml(third);
    h.sweep_all();
    EXPECT_EQ(h.fw().sessions_in_use(), 1u);
  }

  // recheck_established: false keeps what is open.
  std::string keep = kBase;
  keep.replace(keep.find("conntrack: {size: 256}"), 22,
               "conntrack: {size: 256, recheck_established: false}");
  FwHarness k(keep);
  handshake(k, 43000, 22);
  std::string keep2 = keep;
  keep2.replace(
      keep2.find("  - {id: ssh"),
      std::string("  - {id: ssh, from: office, to: servers, service: [tcp/22], action: accept}\n")
          .size(),
      "");
  k.apply_yaml(keep2);
  expect_pass(k, "pa", "pb", tcp4(true, 43000, 22, ACK | PSH, 1001, 5001, Bytes(5, 's')), "kept");
}

// A reload whose rules would compile to more ACL entries than the limit (here one rule of
// 600 x 600 hosts) is refused before anything is built: the running rules and connections
// stay as they are. (Before: it was compiled, 360000 entries, and applied.)
TEST(Vfirewall, ReloadBeyondTheRuleSetLimitsChangesNothing) {
  FwHarness h(kBase);
  handshake(h, 42100, 80);
  std::string many_a, many_b;
  for (unsigned k = 0; k < 600; ++k) {
    many_a += (k ? ", 10.50." : "10.50.") + std::to_string(k / 100) + "." + std::to_string(2 * (k % 100));
    many_b += (k ? ", 10.60." : "10.60.") + std::to_string(k / 100) + "." + std::to_string(2 * (k % 100));
  }
  std::string bad = kBase;
  bad.replace(bad.find("addresses:\n"), 11,
              "addresses:\n  - {name: ma, prefixes: [" + many_a + "]}\n  - {name: mb, prefixes: [" +
                  many_b + "]}\n");
  bad.replace(bad.find("rules:\n"), 7,
              "rules:\n  - {id: mesh, from: office, to: servers, source: [ma], destination: [mb], "
              "action: accept}\n");
  try {
    h.apply_yaml(bad);
    ADD_FAILURE() << "a rule set of 360000 ACL entries was applied";
  } catch (const vnf::config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("rule 'mesh' compiles to 360000 ACL entries"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(h.fw().snapshot().generation, 1u);
  expect_pass(h, "pa", "pb", tcp4(true, 42100, 80, ACK | PSH, 1001, 5001, Bytes(5, 'w')),
              "the open connection goes on");
  expect_pass(h, "pa", "pb", tcp4(true, 42101, 80, SYN, 1, 0), "the old rules still decide");
  expect_drop(h, "pa", tcp4(true, 42102, 8080, SYN, 1, 0), DropReason::kFwPolicyDrop,
              "and still refuse what they refused");
}

TEST(Vfirewall, FtpDataConnectionsAreRelatedActiveAndPassive) {
  FwHarness h(kBase);
  handshake(h, 45000, 21);
  uint32_t cseq = 1001, sseq = 5001;
  auto client = [&](const std::string& line) {
    const Bytes p(line.begin(), line.end());
    expect_pass(h, "pa", "pb", tcp4(true, 45000, 21, ACK | PSH, cseq, sseq, p), line.c_str());
    cseq += static_cast<uint32_t>(p.size());
  };
  auto server = [&](const std::string& line) {
    const Bytes p(line.begin(), line.end());
    expect_pass(h, "pb", "pa", tcp4(false, 21, 45000, ACK | PSH, sseq, cseq, p), line.c_str());
    sseq += static_cast<uint32_t>(p.size());
  };
  // Passive: the server names 10.2.0.15 port 50000 (195*256+80); the client connects there.
  expect_drop(h, "pa", tcp4(true, 46000, 50000, SYN, 1, 0), DropReason::kFwPolicyDrop,
              "data port closed before PASV");
  client("PASV\r\n");
  server("227 Entering Passive Mode (10,2,0,15,195,80).\r\n");
  expect_pass(h, "pa", "pb", tcp4(true, 46000, 50000, SYN, 1, 0), "passive data SYN (related)");
  expect_pass(h, "pb", "pa", tcp4(false, 50000, 46000, SYN | ACK, 100, 2), "passive SYN-ACK");
  // An expectation is used once.
  expect_drop(h, "pa", tcp4(true, 46001, 50000, SYN, 1, 0), DropReason::kFwPolicyDrop,
              "second connection to the same data port");
  // Active: the client announces 10.1.0.5 port 40000 (156*256+64); the server connects from 20.
  client("PORT 10,1,0,5,156,64\r\n");
  server("200 PORT command successful.\r\n");
  expect_pass(h, "pb", "pa", tcp4(false, 20, 40000, SYN, 1, 0), "active data SYN (related)");
  // FTP bounce: a PORT naming another host opens nothing.
  client("PORT 10,9,9,9,156,65\r\n");
  expect_drop(h, "pb",
              cat({eth(A, B, {}, 0x0800), ipv4(kB, ip4("10.9.9.9"), 6, tcp(20, 40001, SYN))}),
              DropReason::kFwPolicyDrop, "bounce target");
  // Malformed commands open nothing and break nothing.
  client("PORT 10,1,0,5,999,1\r\n");
  client("EPRT |1|10.1.0.5|99999|\r\n");
  client("PORT \r\n");
  expect_drop(h, "pb", tcp4(false, 20, 999 * 256 + 1 - 65536 * 3, SYN, 1, 0),
              DropReason::kFwPolicyDrop, "nothing opened by malformed PORT");
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::related), 2u);

  // IPv6: EPSV (229) and EPRT.
  expect_pass(h, "pa", "pb", tcp6(true, 47000, 21, SYN, 1000, 0), "v6 ctl SYN");
  expect_pass(h, "pb", "pa", tcp6(false, 21, 47000, SYN | ACK, 5000, 1001), "v6 ctl SYN-ACK");
  auto v6line = [&](bool c2s, uint32_t seq, uint32_t ack, const std::string& line) {
    const Bytes p(line.begin(), line.end());
    return cat({eth(c2s ? B : A, c2s ? A : B, {}, 0x86DD),
                ipv6(c2s ? kA6 : kB6, c2s ? kB6 : kA6, 6,
                     tcp(c2s ? 47000 : 21, c2s ? 21 : 47000, ACK | PSH, seq, ack, 5, p))});
  };
  expect_pass(h, "pb", "pa",
              v6line(false, 5001, 1001, "229 Entering Extended Passive Mode (|||50001|)\r\n"),
              "229");
  expect_pass(h, "pa", "pb", tcp6(true, 47001, 50001, SYN, 1, 0), "EPSV data SYN");
  expect_pass(h, "pa", "pb", v6line(true, 1001, 5001 + 48, "EPRT |2|2001:db8:1::5|50002|\r\n"),
              "EPRT");
  expect_pass(h, "pb", "pa", tcp6(false, 20, 50002, SYN, 1, 0), "EPRT data SYN");
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::related), 4u);
}

// One burst of established packets of three rules, the rules alternating and ICMP among the
// UDP (the stage's short preparing loop stops at the first ICMP packet and the general one
// takes the rest): every packet forwarded in order, and each rule's packet and byte counters
// get exactly their own packets (the stage sums them per burst while the rule repeats).
TEST(Vfirewall, OneBurstOfSeveralRulesEstablishedPacketsCountsEachRule) {
  FwHarness h(kBase);
  expect_pass(h, "pa", "pb", udp4(true, 33000, 53), "DNS");
  expect_pass(h, "pa", "pb", icmp6_echo_frame(true, false), "ping");
  handshake(h, 42000, 22);
  const auto dns0 = h.fw().rule_stats("dns"), ping0 = h.fw().rule_stats("ping"),
             ssh0 = h.fw().rule_stats("ssh");
  const std::vector<Bytes> burst = {udp4(true, 33000, 53),
                                    udp4(true, 33000, 53),
                                    tcp4(true, 42000, 22, ACK, 1001, 5001),
                                    udp4(true, 33000, 53),
                                    icmp6_echo_frame(true, false),
                                    udp4(true, 33000, 53),
                                    tcp4(true, 42000, 22, ACK, 1001, 5001),
                                    icmp6_echo_frame(true, false)};
  uint64_t dns_bytes = 0, ping_bytes = 0, ssh_bytes = 0;
  for (const Bytes& f : burst) {
    h.send("pa", f);
    (f[12] == 0x86 ? ping_bytes : f[23] == 17 ? dns_bytes : ssh_bytes) += f.size();
  }
  h.poll();
  EXPECT_EQ(h.recv("pb"), burst) << "all forwarded, in order";
  const auto dns = h.fw().rule_stats("dns"), ping = h.fw().rule_stats("ping"),
             ssh = h.fw().rule_stats("ssh");
  EXPECT_EQ(dns.packets - dns0.packets, 4u);
  EXPECT_EQ(dns.bytes - dns0.bytes, dns_bytes);
  EXPECT_EQ(ping.packets - ping0.packets, 2u);
  EXPECT_EQ(ping.bytes - ping0.bytes, ping_bytes);
  EXPECT_EQ(ssh.packets - ssh0.packets, 2u);
  EXPECT_EQ(ssh.bytes - ssh0.bytes, ssh_bytes);
  EXPECT_EQ(dns.hits, 1u);
  EXPECT_EQ(ping.hits, 1u);
}

// ReloadRechecksEstablishedConnections for connections without TCP state (UDP, ICMP), which
// the stage updates in its burst loop rather than in on_session: a reload that drops their
// rule closes them at their next packet, in either direction; those whose rule stays are
// kept, counters and all.
TEST(Vfirewall, ReloadRechecksUdpAndIcmpConnections) {
  std::string next = kBase;
  next.erase(next.find("  - {id: dns,"),
             next.find("\n", next.find("  - {id: dns,")) - next.find("  - {id: dns,") + 1);
  FwHarness h(kBase);
  expect_pass(h, "pa", "pb", udp4(true, 33000, 53), "DNS");
  expect_pass(h, "pb", "pa", udp4(false, 53, 33000), "its answer");
  expect_pass(h, "pa", "pb", udp4(true, 33001, 53), "a second query");
  expect_pass(h, "pa", "pb", icmp6_echo_frame(true, false), "ping");
  expect_pass(h, "pb", "pa", icmp6_echo_frame(false, true), "its reply");
  h.apply_yaml(next);
  expect_drop(h, "pb", udp4(false, 53, 33000), DropReason::kFwRecheckClosed,
              "the answer's direction, DNS no longer allowed");
  expect_drop(h, "pa", udp4(true, 33001, 53), DropReason::kFwRecheckClosed,
              "the second query's connection");
  expect_pass(h, "pa", "pb", icmp6_echo_frame(true, false), "ping kept");
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::recheck_closed), 2u);
  const auto ping = h.fw().rule_stats("ping");
  EXPECT_EQ(ping.hits, 1u) << "one connection";
  EXPECT_EQ(ping.packets, 3u) << "its packets before and after the reload";
}

// The sweep walks a copy of a 64-slot word of the in-use bitmap. Rechecking an FTP data
// connection closes its control connection too when the rules forbid it; when the control
// connection sits higher in the same word, the sweep must not visit its freed slot again
// (before: it was rechecked dead and counted closed twice).
TEST(Vfirewall, TheSweepClosesEachConnectionOnce) {
  FwHarness h(kBase);
  expect_pass(h, "pa", "pb", udp4(true, 34000, 53), "a query: slot 0");
  handshake(h, 45000, 21);  // the control connection: slot 1
  h.advance(31);            // the query expires (udp_unreplied 30 s): slot 0 is free again
  h.sweep_all();
  ASSERT_EQ(h.fw().counter(&vfirewall::FwCounters::expired), 1u);
  const std::string pasv = "PASV\r\n", reply = "227 Entering Passive Mode (10,2,0,15,195,80).\r\n";
  expect_pass(h, "pa", "pb",
              tcp4(true, 45000, 21, ACK | PSH, 1001, 5001, Bytes(pasv.begin(), pasv.end())),
              "PASV");
  expect_pass(h, "pb", "pa",
              tcp4(false, 21, 45000, ACK | PSH, 5001, 1007, Bytes(reply.begin(), reply.end())),
              "227");
  expect_pass(h, "pa", "pb", tcp4(true, 46000, 50000, SYN, 1, 0), "the data connection: slot 0");
  ASSERT_EQ(h.fw().sessions_in_use(), 2u);
  std::string next = kBase;
  next.erase(next.find("  - {id: ftp,"),
             next.find("\n", next.find("  - {id: ftp,")) - next.find("  - {id: ftp,") + 1);
  h.apply_yaml(next);  // FTP no longer allowed: both go, by the sweep
  h.sweep_all();
  EXPECT_EQ(h.fw().sessions_in_use(), 0u);
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::recheck_closed), 2u);
}

// Full load for the sweep tests: a UDP flow with an answer (udp_replied, 120 s, so it outlives
// the clock moves), then full bursts of it, one per worker loop. The first burst goes through
// before the test moves the clock, so every sweep after it is on the busy cadence.
struct BusyFlow {
  explicit BusyFlow(FwHarness& harness) : h(harness) {
    expect_pass(h, "pa", "pb", udp4(true, 50000, 53), "the busy flow");
    expect_pass(h, "pb", "pa", udp4(false, 53, 50000), "its answer");
    loops(1);
  }
  void loops(unsigned n) {
    for (unsigned loop = 0; loop < n; ++loop) {
      for (unsigned k = 0; k < vnf::kBurstMax; ++k) h.send("pa", udp4(true, 50000, 53));
      h.poll();
      ASSERT_EQ(h.recv("pb").size(), vnf::kBurstMax) << "loop " << loop;
    }
  }
  FwHarness& h;
};

// Under full load (full bursts every loop) the sweep takes a word of the table every
// kBusySweepEvery loops instead of every loop; idle connections still expire, within that
// many more loops.
TEST(Vfirewall, TheSweepGoesOnUnderFullLoad) {
  FwHarness h(kBase);
  for (uint16_t i = 0; i < 10; ++i)
    expect_pass(h, "pa", "pb", udp4(true, static_cast<uint16_t>(40000 + i), 53), "a query");
  BusyFlow busy(h);
  h.advance(31);  // udp_unreplied is 30 s: the ten are expired, not yet swept
  busy.loops((h.fw().config().conntrack.size + 63) / 64 * vfirewall::kBusySweepEvery + 2);
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::expired), 10u);
  EXPECT_EQ(h.fw().sessions_in_use(), 1u);
}

// The same for FTP expectations: under full load the sweep still visits every slot of the
// expectation table (it has a cursor of its own; indexed by the loop count it would visit only
// every kBusySweepEvery-th slot), so expectations no data connection used go.
TEST(Vfirewall, ExpectationsExpireUnderFullLoad) {
  std::string yaml = kBase;
  yaml.replace(yaml.find("conntrack: {size: 256}"), std::string("conntrack: {size: 256}").size(),
               "conntrack: {size: 256, expectations: 16}");
  FwHarness h(yaml);
  handshake(h, 45000, 21);
  uint32_t c = 1001, sv = 5001;
  for (int k = 0; k < 8; ++k) {  // eight PASV replies, eight data ports: eight slots
    const std::string pasv = "PASV\r\n", reply = "227 Entering Passive Mode (10,2,0,15,195," +
                                                 std::to_string(80 + k) + ").\r\n";
    expect_pass(h, "pa", "pb",
                tcp4(true, 45000, 21, ACK | PSH, c, sv, Bytes(pasv.begin(), pasv.end())), "PASV");
    c += static_cast<uint32_t>(pasv.size());
    expect_pass(h, "pb", "pa",
                tcp4(false, 21, 45000, ACK | PSH, sv, c, Bytes(reply.begin(), reply.end())), "227");
    sv += static_cast<uint32_t>(reply.size());
  }
  ASSERT_EQ(h.fw().worker_state(0).expect_live, 8u);
  BusyFlow busy(h);
  h.advance(61);  // expect_timeout is 60 s
  busy.loops((h.fw().worker_state(0).expect_mask + 1) * vfirewall::kBusySweepEvery + 2);
  EXPECT_EQ(h.fw().worker_state(0).expect_live, 0u) << "every expired expectation swept";
}

TEST(Vfirewall, IdleConnectionsExpireByProtocolTimeouts) {
  FwHarness h(kBase);
  expect_pass(h, "pa", "pb", udp4(true, 34000, 53), "query");
  h.advance(20);
  h.sweep_all();
  expect_pass(h, "pb", "pa", udp4(false, 53, 34000), "reply within udp_unreplied (30 s)");
  h.advance(100);  // replied: 120 s
  h.sweep_all();
  EXPECT_EQ(h.fw().sessions_in_use(), 1u);
  h.advance(30);
  h.sweep_all();
  EXPECT_EQ(h.fw().sessions_in_use(), 0u);
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::expired), 1u);
  expect_drop(h, "pb", udp4(false, 53, 34000), DropReason::kFwPolicyDrop, "reply after expiry");
}

TEST(Vfirewall, VlanTagsAreKeptAndSegmentsMakeZones) {
  const char* yaml = R"(engine: {name: fwvlan}
ports:
  - {name: pa, type: ring}
  - {name: pb, type: ring}
wires: [[pa, pb]]
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
zones:
  - {name: core-in, ports: [pa], segments: [core]}
  - {name: core-out, ports: [pb], segments: [core]}
  - {name: info-in, ports: [pa], segments: [info]}
  - {name: info-out, ports: [pb], segments: [info]}
rules:
  - {id: core-web, from: core-in, to: core-out, service: [tcp/80], action: accept}
)";
  FwHarness h(yaml);
  auto tagged = [](uint16_t vid, uint16_t dport) {
    return cat({eth(B, A, {{0x8100, vid}}, 0x0800), ipv4(kA, kB, 6, tcp(1234, dport, SYN))});
  };
  expect_pass(h, "pa", "pb", tagged(100, 80), "core VLAN 100, tag kept");
  expect_drop(h, "pa", tagged(200, 80), DropReason::kFwPolicyDrop, "info VLAN 200: no rule");
  expect_drop(h, "pa", tagged(300, 80), DropReason::kFwNoZone, "VLAN 300: no zone");
}

TEST(Vfirewall, DumpFlushAndLogRecords) {
  FwHarness h(kBase);
  expect_pass(h, "pa", "pb", udp4(true, 35000, 53), "dns 1");
  expect_pass(h, "pa", "pb", udp4(true, 35001, 53), "dns 2");
  handshake(h, 44000, 80);
  EXPECT_EQ(h.dump().size(), 3u);
  vfirewall::SessionFilter udp;
  udp.proto = 17;
  EXPECT_EQ(h.dump(udp).size(), 2u);
  vfirewall::SessionFilter one;
  one.proto = 17;
  one.sport = 35001;
  EXPECT_EQ(h.flush(one), 1u);
  EXPECT_EQ(h.fw().sessions_in_use(), 2u);
  expect_drop(h, "pb", udp4(false, 53, 35001), DropReason::kFwPolicyDrop, "flushed");
  const auto poll = [&h] { h.poll(); };
  EXPECT_EQ(h.fw().flush_port(h.engine().port_id("pc"), poll), 0);  // nothing seen there
  EXPECT_EQ(h.fw().sessions_in_use(), 2u);
  vfirewall::SessionFilter zone;
  zone.zone = h.fw().zone_id("servers");
  EXPECT_EQ(h.flush(zone), 2u);
  EXPECT_EQ(h.fw().sessions_in_use(), 0u);
  // A port removed by reload (the host switch's flush_port): its connections go, seen in or
  // out, so that a VM given the port id later finds none of them.
  expect_pass(h, "pa", "pb", udp4(true, 35002, 53), "dns 3");
  EXPECT_EQ(h.fw().flush_port(h.engine().port_id("pb"), poll), 1);
  EXPECT_EQ(h.fw().sessions_in_use(), 0u);
  expect_drop(h, "pb", udp4(false, 53, 35002), DropReason::kFwPolicyDrop, "flushed with pb");
  // dns has log: true: three records so far (one per new connection).
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::log_records), 3u);
  EXPECT_EQ(h.fw().drain_logs(), 3u);
}

// The flow cache remembers where a reply's connection was; the connection goes and another
// takes its slot. The session's own key decides, so the old reply is a stranger again, and the
// new connection's reply is still its own.
TEST(Vfirewall, AConnectionGoneIsNotFoundThroughItsSlotsNextOwner) {
  FwHarness h(kBase);
  expect_pass(h, "pa", "pb", udp4(true, 35000, 53), "query");
  expect_pass(h, "pb", "pa", udp4(false, 53, 35000), "reply, found in the table");
  expect_pass(h, "pb", "pa", udp4(false, 53, 35000), "reply again, found through the flow cache");
  EXPECT_EQ(h.flush(vfirewall::SessionFilter{}), 1u);
  expect_drop(h, "pb", udp4(false, 53, 35000), DropReason::kFwPolicyDrop,
              "the reply, its connection flushed and its slot empty");
  expect_pass(h, "pa", "pb", udp4(true, 35001, 53), "another query, in the freed slot");
  EXPECT_EQ(h.fw().sessions_in_use(), 1u);
  expect_drop(h, "pb", udp4(false, 53, 35000), DropReason::kFwPolicyDrop,
              "the first reply, its connection gone");
  expect_pass(h, "pb", "pa", udp4(false, 53, 35001), "the second reply");
  const uint64_t hits = h.fw().counter(&vfirewall::FwCounters::flow_hits);
  expect_pass(h, "pb", "pa", udp4(false, 53, 35001), "the second reply, through the cache");
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::flow_hits), hits + 1) << "a cache hit";
  EXPECT_EQ(h.fw().sessions_in_use(), 1u);
}

TEST(Vfirewall, RuleLogsAreRateLimited) {
  std::string yaml = kBase;
  yaml.replace(yaml.find("conntrack: {size: 256}"), 22, "conntrack: {size: 256, log_rate: 2}");
  FwHarness h(yaml);
  for (uint16_t i = 0; i < 5; ++i) expect_pass(h, "pa", "pb", udp4(true, 36000 + i, 53), "dns");
  // Within one second: 2 records, 3 counted as suppressed; the next second refills.
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::log_records), 2u);
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::log_suppressed), 3u);
  h.advance(1);
  expect_pass(h, "pa", "pb", udp4(true, 36010, 53), "dns next second");
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::log_records), 3u);
  vfirewall::LogRecord r;
  ASSERT_EQ(rte_ring_sc_dequeue_elem(h.fw().worker_state(0).log_ring, &r, sizeof r), 0);
  const std::string line = h.fw().format_log(r);
  EXPECT_NE(line.find("rule=dns action=accept from=office to=servers proto=udp src=10.1.0.5:36000 "
                      "dst=10.2.0.15:53"),
            std::string::npos)
      << line;
  EXPECT_EQ(r.suppressed, 0u);
  // The other two become fw_log event records; the one of the next second carries the three
  // the worker suppressed before it.
  std::vector<vnf::events::Record> recs;
  vnf::events::Log log("fw", "vfirewall", 1,
                       [&](vnf::events::Record&& x) { recs.push_back(std::move(x)); });
  vnf::events::install(&log);
  EXPECT_EQ(h.fw().drain_logs(), 2u);
  vnf::events::install(nullptr);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].kind, "fw_log");
  EXPECT_NE(recs[0].json.find("\"kind\": \"fw_log\", \"severity\": \"info\", \"packet_time\": "),
            std::string::npos)
      << recs[0].json;
  EXPECT_NE(recs[0].json.find("\"rule\": \"dns\", \"action\": \"accept\", \"from_zone\": "
                              "\"office\", \"to_zone\": \"servers\", \"proto\": \"udp\", "
                              "\"src\": \"10.1.0.5\", \"dst\": \"10.2.0.15\", \"sport\": 36001, "
                              "\"dport\": 53, \"suppressed\": 0}"),
            std::string::npos)
      << recs[0].json;
  EXPECT_NE(recs[1].json.find("\"sport\": 36010, \"dport\": 53, \"suppressed\": 3}"),
            std::string::npos)
      << recs[1].json;
}

// A record written before a reload is named as its own generation named things: the rule
// renamed and moved since, and the zone renamed, still read as they were when it decided.
TEST(Vfirewall, ARecordKeepsTheNamesOfItsGeneration) {
  FwHarness h(kBase);
  expect_pass(h, "pa", "pb", udp4(true, 36500, 53), "dns");
  std::string next = kBase;
  next.replace(next.find("{name: office, ports: [pa]}"), 27, "{name: office2, ports: [pa]}");
  for (const char* z : {"from: office,", "from: office,", "from: office,", "from: office,",
                        "from: office,", "from: office,", "from: office,"})
    next.replace(next.find(z), 13, "from: office2,");
  next.replace(next.find("  - {id: dns,"), 13, "  - {id: dns2,");
  next.replace(next.find("rules:\n"), 7,
               "rules:\n  - {id: first, from: lab, to: lab2, service: [tcp/1], action: accept}\n");
  h.apply_yaml(next);
  expect_pass(h, "pa", "pb", udp4(true, 36501, 53), "dns after the reload");
  vfirewall::LogRecord r;
  ASSERT_EQ(rte_ring_sc_dequeue_elem(h.fw().worker_state(0).log_ring, &r, sizeof r), 0);
  EXPECT_NE(h.fw().format_log(r).find("rule=dns action=accept from=office to=servers"),
            std::string::npos)
      << h.fw().format_log(r);
  ASSERT_EQ(rte_ring_sc_dequeue_elem(h.fw().worker_state(0).log_ring, &r, sizeof r), 0);
  EXPECT_NE(h.fw().format_log(r).find("rule=dns2 action=accept from=office2 to=servers"),
            std::string::npos)
      << h.fw().format_log(r);
  const vnf::CaptureVerdict v{4, 1, 0, r.zsrc, r.zdst, 0};  // rule 4 (dns) of generation 1
  EXPECT_EQ(h.fw().describe_verdict(v),
            "accept rule=dns from=#" + std::to_string(r.zsrc) + "@gen1 to=servers")
      << "office2 did not exist in generation 1";
}

// Each rule and policy has its own budget: a flood of one logged rule's connections leaves
// another's records alone, and each record counts what its own rule suppressed.
TEST(Vfirewall, RuleLogsAreRateLimitedPerRule) {
  std::string yaml = kBase;
  yaml.replace(yaml.find("conntrack: {size: 256}"), 22, "conntrack: {size: 256, log_rate: 1}");
  yaml.replace(yaml.find(", conn_limit: 3}"), 16, "}");
  yaml.replace(yaml.find("action: accept, log: true}"), 26,
               "action: accept, log: true, log_rate: 3}");
  yaml.replace(yaml.find("service: [tcp/22], action: accept}"), 34,
               "service: [tcp/22], action: accept, log: true}");
  yaml.replace(yaml.find("{from: lab, to: lab2, action: accept}"), 37,
               "{from: lab, to: lab2, action: accept, log: true, log_rate: 2}");
  FwHarness h(yaml);
  for (uint16_t i = 0; i < 6; ++i) expect_pass(h, "pa", "pb", udp4(true, 37000 + i, 53), "dns");
  for (uint16_t i = 0; i < 4; ++i)
    expect_pass(h, "pa", "pb", tcp4(true, 37100 + i, 22, SYN, 1, 0), "ssh");
  for (uint16_t i = 0; i < 3; ++i)
    expect_pass(h, "pc", "pd", udp4(true, 37200 + i, 99, ip4("10.3.0.1"), ip4("10.4.0.1")),
                "lab -> lab2");
  // dns 3 of 6, ssh 1 of 4 (conntrack.log_rate), lab -> lab2 2 of 3.
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::log_records), 6u);
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::log_suppressed), 7u);
  h.advance(1);
  expect_pass(h, "pa", "pb", tcp4(true, 37110, 22, SYN, 1, 0), "ssh next second");
  expect_pass(h, "pa", "pb", udp4(true, 37010, 53), "dns next second");
  expect_pass(h, "pc", "pd", udp4(true, 37210, 99, ip4("10.3.0.1"), ip4("10.4.0.1")),
              "lab -> lab2 next second");
  std::vector<std::pair<std::string, uint32_t>> got;  // (rule, suppressed)
  vfirewall::LogRecord r;
  while (rte_ring_sc_dequeue_elem(h.fw().worker_state(0).log_ring, &r, sizeof r) == 0) {
    const std::string line = h.fw().format_log(r);
    const size_t at = line.find("rule=");
    ASSERT_NE(at, std::string::npos) << line;
    got.emplace_back(line.substr(at + 5, line.find(' ', at) - at - 5), r.suppressed);
  }
  const std::vector<std::pair<std::string, uint32_t>> want = {
      {"dns", 0},    {"dns", 0}, {"dns", 0}, {"ssh", 0},   {"policy", 0},
      {"policy", 0}, {"ssh", 3}, {"dns", 3}, {"policy", 1}};
  EXPECT_EQ(got, want);
}

// The limit is shared by all workers: whichever take a rule's records, no more than its rate
// go out per second.
TEST(Vfirewall, LogLimitIsExactAcrossThreads) {
  vfirewall::LogLimit lim;
  std::atomic<uint32_t> taken{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i)
        if (lim.take(7, 100)) taken.fetch_add(1);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(taken.load(), 100u);
  EXPECT_FALSE(lim.take(7, 100));
  EXPECT_TRUE(lim.take(8, 100));  // a new second
  EXPECT_FALSE(lim.take(8, 0));   // log_rate 0: counted, never written
  // A worker whose clock read is a little behind counts into the newer second: no second
  // hands out its records twice.
  vfirewall::LogLimit late;
  EXPECT_TRUE(late.take(20, 1));
  EXPECT_FALSE(late.take(19, 1));
  EXPECT_FALSE(late.take(20, 1));
  EXPECT_TRUE(late.take(21, 1));
}

// Suppressed decisions are counted in each worker's own row; a record reports the column's
// sum since the previous report. Whichever threads count and report, each suppressed
// decision is reported exactly once.
TEST(Vfirewall, SuppressedLogRecordsAreReportedExactlyOnce) {
  vfirewall::LogLimit lim;
  constexpr int kThreads = 4, kEach = 20000;
  std::atomic<uint64_t> rows[kThreads] = {};
  std::atomic<uint64_t> reported{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        rows[t].store(rows[t].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        if (i % 97 == 0) {  // a record: sum the column, report
          uint64_t total = 0;
          for (auto& r : rows) total += r.load(std::memory_order_relaxed);
          reported.fetch_add(lim.report(total));
        }
      }
    });
  for (auto& t : ts) t.join();
  uint64_t total = 0;
  for (auto& r : rows) total += r.load();
  reported.fetch_add(lim.report(total));
  EXPECT_EQ(reported.load(), uint64_t{kThreads} * kEach);
  EXPECT_EQ(lim.report(total), 0u) << "nothing reported twice";
}

TEST(Vfirewall, Ipv6LinkMessagesPassBeforeZonesAndRules) {
  const std::string yaml = R"(engine: {name: fwnd}
ports:
  - {name: pa, type: ring}
  - {name: pb, type: ring}
wires: [[pa, pb]]
zones:
  - {name: a, ports: [pa], networks: ["2001:db8:1::/64"]}
  - {name: b, ports: [pb], networks: ["2001:db8:2::/64"]}
)";
  Bytes ns = {135, 0, 0, 0, 0, 0, 0, 0};
  const auto target = ip6("2001:db8:2::15");
  ns.insert(ns.end(), target.begin(), target.end());
  const Bytes ns_frame = cat({eth(mac("33:33:ff:00:00:15"), A, {}, 0x86DD),
                              ipv6(ip6("fe80::a"), ip6("ff02::1:ff00:15"), 58, ns, 255)});
  const Bytes ll_udp = cat({eth(B, A, {}, 0x86DD), ipv6(ip6("fe80::a"), kB6, 17, udp(1, 2, {}))});
  {
    FwHarness h(yaml);
    expect_pass(h, "pa", "pb", ns_frame, "neighbour solicitation from a link-local address");
    expect_drop(h, "pa", ll_udp, DropReason::kFwNoZone, "other link-local traffic has no zone");
  }
  FwHarness h(yaml + "options: {ndp: rules}\n");
  expect_drop(h, "pa", ns_frame, DropReason::kFwNoZone, "ndp: rules sends ND through the zones");
}

namespace {

// Any ICMP message (type, code, bytes 4-7 = identifier, sequence) between office and servers.
Bytes icmp_msg(bool a_to_b, bool v6, uint8_t type, uint16_t id, Bytes rest = {}) {
  Bytes m = {type, 0, 0, 0, static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0, 1};
  m.insert(m.end(), rest.begin(), rest.end());
  if (!v6) put16(m, 2, csum(m, 0, m.size()));
  const Mac& dst = a_to_b ? B : A;
  const Mac& src = a_to_b ? A : B;
  if (v6)
    return cat({eth(dst, src, {}, 0x86DD), ipv6(a_to_b ? kA6 : kB6, a_to_b ? kB6 : kA6, 58, m)});
  return cat({eth(dst, src, {}, 0x0800), ipv4(a_to_b ? kA : kB, a_to_b ? kB : kA, 1, m)});
}

// Every ICMP type may pass from office to servers, and back: the tracking, not the rules,
// must tell replies and misdirected errors apart.
std::string all_icmp() {
  std::string y = kBase;
  const std::string ping = "service: [icmp/echo-request, icmp6/echo-request], action: accept}";
  y.replace(y.find(ping), ping.size(), "service: [icmp, icmp6], action: accept}");
  const std::string ftp = "service: [tcp/21], action: accept}\n";
  y.insert(y.find(ftp) + ftp.size(),
           "  - {id: ping-back, from: servers, to: office, service: [icmp/echo-request], "
           "action: drop}\n");
  return y;
}

}  // namespace

// The kernel's conntrack is the reference. (Before: an echo *request* servers -> office
// with the identifier of office's ping passed as established.)
TEST(Vfirewall, IcmpKeyHoldsTheQueryTypeAndOnlyTheMatchingReplyReturns) {
  FwHarness h(all_icmp());
  for (const bool v6 : {false, true}) {
    const uint8_t req = v6 ? 128 : 8, rep = v6 ? 129 : 0;
    const char* fam = v6 ? "IPv6" : "IPv4";
    expect_pass(h, "pa", "pb", icmp_msg(true, v6, req, 4242), fam);
    // The same identifier, the other way, as a request: a new connection, which no rule
    // allows from servers to office (ping-back drops IPv4; IPv6 falls to the default).
    expect_drop(h, "pb", icmp_msg(false, v6, req, 4242),
                v6 ? DropReason::kFwPolicyDrop : DropReason::kFwRuleDrop, fam);
    // The office host asking again with the *reply* type, or the server replying with
    // another query type: neither is the reply the connection expects.
    expect_drop(h, "pa", icmp_msg(true, v6, rep, 4242), DropReason::kFwInvalid, fam);
    expect_pass(h, "pb", "pa", icmp_msg(false, v6, rep, 4242), fam);
    // Again, now through the flow cache (the reply's key, the reverse of the request's with
    // the reply type); and the same-identifier request from servers still finds nothing.
    const uint64_t hits = h.fw().counter(&vfirewall::FwCounters::flow_hits);
    expect_pass(h, "pb", "pa", icmp_msg(false, v6, rep, 4242), fam);
    EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::flow_hits), hits + 1) << fam;
    expect_drop(h, "pb", icmp_msg(false, v6, req, 4242),
                v6 ? DropReason::kFwPolicyDrop : DropReason::kFwRuleDrop, fam);
  }
  // Timestamp (IPv4) and node information (IPv6) are queries too: request, then reply.
  expect_pass(h, "pa", "pb", icmp_msg(true, false, 13, 7, Bytes(12, 0)), "timestamp request");
  expect_pass(h, "pb", "pa", icmp_msg(false, false, 14, 7, Bytes(12, 0)), "timestamp reply");
  expect_pass(h, "pa", "pb", icmp_msg(true, true, 139, 3, Bytes(8, 0)), "node information query");
  expect_pass(h, "pb", "pa", icmp_msg(false, true, 140, 3, Bytes(8, 0)), "node information reply");
  EXPECT_EQ(h.fw().sessions_in_use(), 4u);
}

// (Before: a timestamp reply or a node-information reply with no query was judged by the
// rules, and the rule accepting all ICMP let it in and opened a connection for it.)
TEST(Vfirewall, AnIcmpReplyWithoutItsQueryIsInvalidWhateverTheRules) {
  FwHarness h(all_icmp());
  for (const uint8_t t : {0, 14, 16, 18})
    expect_drop(h, "pa", icmp_msg(true, false, t, 99, Bytes(12, 0)), DropReason::kFwInvalid,
                ("IPv4 reply type " + std::to_string(t)).c_str());
  for (const uint8_t t : {129, 140})
    expect_drop(h, "pa", icmp_msg(true, true, t, 99, Bytes(8, 0)), DropReason::kFwInvalid,
                ("IPv6 reply type " + std::to_string(t)).c_str());
  EXPECT_EQ(h.fw().sessions_in_use(), 0u);
  // ICMP that is neither query nor error (router advertisement) passes by the rule, but
  // opens no connection: the same message back is judged by the rules (none: dropped).
  expect_pass(h, "pa", "pb", icmp_msg(true, false, 9, 0, Bytes(8, 0)), "router advertisement");
  EXPECT_EQ(h.fw().sessions_in_use(), 0u);
  expect_drop(h, "pb", icmp_msg(false, false, 9, 0, Bytes(8, 0)), DropReason::kFwPolicyDrop,
              "no connection for it");
}

// (Before: an error quoting office's packet passed as related whatever host it was sent to,
// so a server could aim "related" ICMP at any office host.)
TEST(Vfirewall, AnIcmpErrorMustGoToTheSenderOfThePacketItQuotes) {
  FwHarness h(kBase);
  const uint32_t kOther = ip4("10.1.0.99");
  const auto kOther6 = ip6("2001:db8:1::99");
  const Bytes query = udp4(true, 33001, 53);
  expect_pass(h, "pa", "pb", query, "DNS query");
  auto err4 = [&](uint32_t to) {
    Bytes e = {3, 3, 0, 0, 0, 0, 0, 0};
    e.insert(e.end(), query.begin() + 14, query.begin() + 14 + 28);
    put16(e, 2, csum(e, 0, e.size()));
    return cat({eth(A, B, {}, 0x0800), ipv4(kB, to, 1, e)});
  };
  expect_drop(h, "pb", err4(kOther), DropReason::kFwIcmpMisdirected, "to another office host");
  expect_pass(h, "pb", "pa", err4(kA), "to the query's sender");
  expect_pass(h, "pa", "pb", tcp6(true, 40100, 80, SYN, 1, 0), "IPv6 SYN");
  const Bytes quoted6 = tcp6(true, 40100, 80, SYN, 1, 0);
  auto ptb = [&](const std::array<uint8_t, 16>& to) {
    Bytes m = {2, 0, 0, 0, 0, 0, 0x05, 0x00};
    m.insert(m.end(), quoted6.begin() + 14, quoted6.end());
    return cat({eth(A, B, {}, 0x86DD), ipv6(kB6, to, 58, m)});
  };
  expect_drop(h, "pb", ptb(kOther6), DropReason::kFwIcmpMisdirected, "IPv6, another host");
  expect_pass(h, "pb", "pa", ptb(kA6), "IPv6, the sender");
  // An error about office's echo request, to the sender: related (the key holds the type).
  expect_pass(h, "pa", "pb", icmp_msg(true, false, 8, 5150), "echo request");
  const Bytes echo = icmp_msg(true, false, 8, 5150);
  Bytes e = {11, 0, 0, 0, 0, 0, 0, 0};
  e.insert(e.end(), echo.begin() + 14, echo.begin() + 14 + 28);
  put16(e, 2, csum(e, 0, e.size()));
  expect_pass(h, "pb", "pa", cat({eth(A, B, {}, 0x0800), ipv4(kB, kA, 1, e)}),
              "time exceeded for the echo request");
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::related), 3u);
  EXPECT_EQ(h.drops(DropReason::kFwIcmpMisdirected), 2u);
}
