// The router forwarding on real DPDK ports (net_ring): frames in, frames out, byte by byte.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "tests/dataplane/router_frames.h"
#include "tests/dataplane/router_harness.h"

using namespace rtest;
using dptest::RouterHarness;
using vnf::DropReason;

namespace {

Bytes tagged(const Bytes& f, uint16_t tci) {
  return cat({Bytes(f.begin(), f.begin() + 12),
              Bytes{0x81, 0x00, static_cast<uint8_t>(tci >> 8), static_cast<uint8_t>(tci)},
              Bytes(f.begin() + 12, f.end())});
}

}  // namespace

TEST(VrouterForward, Ipv4ByteExactWithTtlAndChecksum) {
  RouterHarness h(kRouter);
  const Bytes in = udp4(kR1, kH1, "10.1.0.2", "10.2.0.2", 64, 100);
  const Out out = h.exchange("p1", in);
  ASSERT_EQ(out.size(), 1u) << dump(out);
  ASSERT_EQ(out.at("p2").size(), 1u);
  // Expected: next hop's MAC, our lan2 MAC, TTL 63 with the checksum a fresh computation
  // gives, everything else untouched.
  const Bytes expect = udp4(kH2, kR2, "10.1.0.2", "10.2.0.2", 63, 100);
  EXPECT_EQ(out.at("p2")[0], expect);
  const auto t = h.core().iface_totals(1);
  EXPECT_EQ(t[2], 1u) << "routed out of lan2";
}

TEST(VrouterForward, Ipv6ByteExactWithHopLimit) {
  RouterHarness h(kRouter);
  const Out out = h.exchange("p1", udp6(kR1, kH1, "2001:db8:1::2", "2001:db8:2::2", 9));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out.at("p2").at(0), udp6(kH2, kR2, "2001:db8:1::2", "2001:db8:2::2", 8));
}

TEST(VrouterForward, VlanInterfacesRewriteTagsAndKeepPcp) {
  RouterHarness h(kRouter);
  // VLAN 100 -> VLAN 200 on the same trunk: the tag is rewritten, PCP 5 kept.
  Out out = h.exchange("trunk", tagged(udp4(kR100, kH100, "10.100.0.2", "10.200.0.2"), 0xA064));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out.at("trunk").at(0),
            tagged(udp4(kH200, kR200, "10.100.0.2", "10.200.0.2", 63), 0xA0C8));
  // Tagged in, untagged out: the tag is popped.
  out = h.exchange("trunk", tagged(udp4(kR100, kH100, "10.100.0.2", "10.1.0.2"), 100));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out.at("p1").at(0), udp4(kH1, kR1, "10.100.0.2", "10.1.0.2", 63));
  // Untagged in, VLAN out: a tag is pushed.
  out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.200.0.2"));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out.at("trunk").at(0), tagged(udp4(kH200, kR200, "10.1.0.2", "10.200.0.2", 63), 200));
  // A VLAN that is no interface, an untagged frame on the trunk (no untagged interface there).
  EXPECT_TRUE(
      h.exchange("trunk", tagged(udp4(kR100, kH100, "10.100.0.2", "10.1.0.2"), 300)).empty());
  EXPECT_TRUE(h.exchange("trunk", udp4(kR100, kH100, "10.100.0.2", "10.1.0.2")).empty());
  EXPECT_EQ(h.drops(DropReason::kNoInterface), 2u);
}

TEST(VrouterForward, Ipv4OptionsAndIpv6ExtensionHeadersAreForwarded) {
  RouterHarness h(kRouter);
  // IPv4 with a router-alert option (24-byte header): forwarded, options intact, TTL - 1.
  const Bytes opt{0x94, 0x04, 0x00, 0x00};
  const Bytes in = cat({eth(kR1, kH1, {}, 0x0800), ipv4(ip4("10.1.0.2"), ip4("10.2.0.2"), 17,
                                                        udp(1, 2, Bytes(10, 1)), 30, opt)});
  Out out = h.exchange("p1", in);
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out.at("p2").at(0),
            cat({eth(kH2, kR2, {}, 0x0800),
                 ipv4(ip4("10.1.0.2"), ip4("10.2.0.2"), 17, udp(1, 2, Bytes(10, 1)), 29, opt)}));
  // IPv6 with a hop-by-hop and a destination options header.
  const Bytes ext = cat({ipv6_ext(60, 0), ipv6_ext(17, 1), udp(1, 2, Bytes(8, 2))});
  out = h.exchange("p1", cat({eth(kR1, kH1, {}, 0x86DD),
                              ipv6(ip6("2001:db8:1::2"), ip6("2001:db8:2::2"), 0, ext, 5)}));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out.at("p2").at(0), cat({eth(kH2, kR2, {}, 0x86DD),
                                     ipv6(ip6("2001:db8:1::2"), ip6("2001:db8:2::2"), 0, ext, 4)}));
  // IPv4 fragments are forwarded too (the router does not reassemble).
  const Bytes frag = cat({eth(kR1, kH1, {}, 0x0800), ipv4(ip4("10.1.0.2"), ip4("10.2.0.2"), 17,
                                                          Bytes(16, 3), 64, {}, 0x0010)});
  out = h.exchange("p1", frag);
  ASSERT_EQ(out.size(), 1u) << dump(out);
}

TEST(VrouterForward, WhatIsNotForTheRouterIsDroppedWithAReason) {
  RouterHarness h(kRouter);
  struct Case {
    const char* what;
    Bytes frame;
    DropReason reason;
  } cases[] = {
      {"unicast to another MAC", udp4(kH2, kH1, "10.1.0.2", "10.2.0.2"), DropReason::kNotForRouter},
      {"broadcast IPv4", udp4(kBroadcast, kH1, "10.1.0.2", "255.255.255.255"),
       DropReason::kNotRouted},
      {"subnet broadcast", udp4(kR1, kH1, "10.1.0.2", "10.2.0.255"), DropReason::kNotRouted},
      {"multicast IPv4", udp4(kR1, kH1, "10.1.0.2", "239.1.1.1"), DropReason::kNotRouted},
      {"loopback source", udp4(kR1, kH1, "127.0.0.1", "10.2.0.2"), DropReason::kMartianAddress},
      {"zero network destination", udp4(kR1, kH1, "10.1.0.2", "0.1.2.3"),
       DropReason::kMartianAddress},
      {"class E destination", udp4(kR1, kH1, "10.1.0.2", "240.0.0.1"), DropReason::kMartianAddress},
      {"link-local IPv6 source", udp6(kR1, kH1, "fe80::2", "2001:db8:2::2"),
       DropReason::kMartianAddress},
      {"IPv6 to another link-local", udp6(kR1, kH1, "2001:db8:1::2", "fe80::9"),
       DropReason::kNotRouted},
      {"IPv6 loopback destination", udp6(kR1, kH1, "2001:db8:1::2", "::1"),
       DropReason::kMartianAddress},
      {"IPv6 loopback source", udp6(kR1, kH1, "::1", "2001:db8:2::2"), DropReason::kMartianAddress},
      {"IPv6 unspecified source", udp6(kR1, kH1, "::", "2001:db8:2::2"),
       DropReason::kMartianAddress},
      {"IPv6 unspecified destination", udp6(kR1, kH1, "2001:db8:1::2", "::"),
       DropReason::kMartianAddress},
      {"IPv6 multicast source", udp6(kR1, kH1, "ff02::1", "2001:db8:2::2"),
       DropReason::kMartianAddress},
      {"not IP", cat({eth(kR1, kH1, {}, 0x88B5), Bytes(46, 0)}), DropReason::kNotRouted},
      {"bad IPv4 header checksum",
       [] {
         Bytes f = udp4(kR1, kH1, "10.1.0.2", "10.2.0.2");
         f[14 + 10] ^= 0x40;
         return f;
       }(),
       DropReason::kIpv4BadChecksum},
  };
  for (const auto& c : cases) {
    const uint64_t before = h.drops(c.reason);
    const Out out = h.exchange("p1", c.frame);
    EXPECT_TRUE(out.empty()) << c.what << " leaked: " << dump(out);
    EXPECT_EQ(h.drops(c.reason), before + 1) << c.what;
  }
}

// A device's "IPv4 header checksum good" spares the software check only when it speaks of
// the header the router routes on: exactly GOOD (not NONE: "not correct in the data"), and
// not a tunnel, whose flags describe the inner header (its outer one may even be flagged bad).
TEST(VrouterForward, TheDevicesChecksumVerdictCountsOnlyForTheRoutedHeader) {
  RouterHarness h(kRouter);
  Bytes bad = udp4(kR1, kH1, "10.1.0.2", "10.2.0.2");
  bad[14 + 10] ^= 0x40;
  const auto through = [&](uint64_t flags, uint32_t ptype) {
    h.send("p1", bad, flags, ptype);
    h.poll();
    h.control();
    h.poll();
    return h.recv_all();
  };
  EXPECT_EQ(through(RTE_MBUF_F_RX_IP_CKSUM_GOOD, 0).size(), 1u)
      << "the device checked this header: no software check";
  const struct {
    const char* what;
    uint64_t flags;
    uint32_t ptype;
  } untrusted[] = {
      {"no verdict", 0, 0},
      {"checksum NONE", RTE_MBUF_F_RX_IP_CKSUM_NONE, 0},
      {"checksum BAD", RTE_MBUF_F_RX_IP_CKSUM_BAD, 0},
      {"a VXLAN packet's inner verdict", RTE_MBUF_F_RX_IP_CKSUM_GOOD,
       RTE_PTYPE_L3_IPV4 | RTE_PTYPE_TUNNEL_VXLAN},
      {"outer header flagged bad", RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_OUTER_IP_CKSUM_BAD,
       0},
  };
  for (const auto& c : untrusted) {
    const uint64_t before = h.drops(DropReason::kIpv4BadChecksum);
    EXPECT_TRUE(through(c.flags, c.ptype).empty()) << c.what;
    EXPECT_EQ(h.drops(DropReason::kIpv4BadChecksum), before + 1) << c.what;
  }
}

TEST(VrouterForward, SegmentPolicyAndCrossSegmentRoutes) {
  std::string yaml = kRouter;
  yaml.replace(yaml.find("ipv4: [10.1.0.1/24]"), 19, "segment: core, ipv4: [10.1.0.1/24]");
  yaml.replace(yaml.find("ipv4: [10.2.0.1/24]"), 19, "segment: dmz, ipv4: [10.2.0.1/24]");
  yaml += "segment_policy: {apart: [[core, dmz]]}\n";
  RouterHarness h(yaml);
  // core -> dmz and back: dropped both ways.
  EXPECT_TRUE(h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.2")).empty());
  EXPECT_TRUE(h.exchange("p2", udp4(kR2, kH2, "10.2.0.2", "10.1.0.2")).empty());
  EXPECT_EQ(h.drops(DropReason::kSegmentPolicy), 2u);
  // Other segments are unaffected.
  EXPECT_EQ(h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.200.0.2")).size(), 1u);
  // A marked route to one dmz host: traffic to it and its answers pass, nothing else.
  h.apply_yaml(yaml + "routes:\n  - {prefix: 10.2.0.2/32, interface: lan2, cross_segment: true}\n");
  Out out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.2"));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out.at("p2").at(0), udp4(kH2, kR2, "10.1.0.2", "10.2.0.2", 63));
  out = h.exchange("p2", udp4(kR2, kH2, "10.2.0.2", "10.1.0.2"));
  ASSERT_EQ(out.size(), 1u) << "the answer: " << dump(out);
  EXPECT_TRUE(h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.3")).empty());
  EXPECT_EQ(h.drops(DropReason::kSegmentPolicy), 3u);
}

TEST(VrouterForward, BlackholeAndReloadAddingARoute) {
  RouterHarness h(std::string(kRouter) + "routes:\n  - {prefix: 10.99.0.0/16, blackhole: true}\n");
  EXPECT_TRUE(h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.99.1.1")).empty());
  EXPECT_EQ(h.drops(DropReason::kBlackhole), 1u);
  // A reload adds a route; the neighbour cache survives it (no new ARP needed for 10.2.0.2).
  h.apply_yaml(std::string(kRouter) + "routes:\n  - {prefix: 10.99.0.0/16, via: 10.2.0.2}\n");
  const Out out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.99.1.1"));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out.at("p2").at(0), udp4(kH2, kR2, "10.1.0.2", "10.99.1.1", 63));
  EXPECT_EQ(h.router().audit().generation(), 2u);
  EXPECT_NE(h.router().audit().last().detail.find("static routes"), std::string::npos)
      << h.router().audit().last().detail;
}

TEST(VrouterForward, EcmpKeepsEachFlowOnOneMember) {
  RouterHarness h(std::string(kRouter) +
                  "routes:\n  - {prefix: 10.50.0.0/16, via: [10.2.0.2, 10.200.0.2]}\n");
  std::map<uint16_t, std::string> member_of;
  unsigned to_p2 = 0, to_trunk = 0;
  for (int round = 0; round < 2; ++round) {
    for (uint16_t sport = 1000; sport < 1064; ++sport) {
      const Out out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.50.0.9", 64, 18, sport));
      ASSERT_EQ(out.size(), 1u) << dump(out);
      const std::string port = out.begin()->first;
      if (round == 0) {
        member_of[sport] = port;
        (port == "p2" ? to_p2 : to_trunk) += 1;
      } else {
        EXPECT_EQ(port, member_of[sport]) << "flow " << sport << " changed member";
      }
    }
  }
  EXPECT_GT(to_p2, 10u);
  EXPECT_GT(to_trunk, 10u);
}

// Large tables from a route file: 3000 IPv6 /48s (the TRIE reserves three tbl8 groups for
// each) and 40000 IPv4 /32s in as many /24 blocks (more tbl8 groups than 2-byte next hops
// can index: the FIB switches to 4-byte entries). Every prefix must load and route.
TEST(VrouterForward, LargeRouteFilesLoadAndRoute) {
  namespace fs = std::filesystem;
  const fs::path file =
      fs::temp_directory_path() / ("vrouter_dp_routes_" + std::to_string(getpid()));
  {
    std::ofstream f(file);
    for (int i = 0; i < 3000; ++i)
      f << "2001:db8:" << std::hex << (0x1000 + i) << std::dec << "::/48 via 2001:db8:2::2\n";
    for (int i = 0; i < 40000; ++i)
      f << "100." << 64 + i / 256 << "." << i % 256 << ".7/32 via 10.2.0.2\n";
  }
  RouterHarness h(std::string(kRouter) + "route_files: [" + file.string() + "]\n");
  fs::remove(file);
  Out out = h.exchange("p1", udp6(kR1, kH1, "2001:db8:1::2", "2001:db8:1bb7::9"));
  ASSERT_EQ(out.count("p2"), 1u) << "last /48: " << dump(out);
  EXPECT_EQ(out.at("p2").at(0), udp6(kH2, kR2, "2001:db8:1::2", "2001:db8:1bb7::9", 63));
  out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "100.220.63.7"));
  ASSERT_EQ(out.count("p2"), 1u) << "last /32: " << dump(out);
  // Next to a /32: no route.
  out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "100.220.63.8"));
  ASSERT_EQ(out.count("p1"), 1u) << "ICMP unreachable expected: " << dump(out);
  EXPECT_EQ(h.drops(DropReason::kNoRoute), 1u);
}

// ---- a link going down is seen at once (issue #9): RoutingCore::on_link_change, as the
// engine calls it on a kernel link event (ring ports have no link of their own).

namespace {

const Mac kGw1 = mac("02:00:00:00:02:aa"), kGw2 = mac("02:00:00:00:03:bb");

bool arp_request_for(const Bytes& f, const std::string& tpa) {
  return f.size() >= 42 && f[12] == 0x08 && f[13] == 0x06 &&
         vrouter::ops::rd16(f.data() + 20) == 1 && vrouter::ops::rd32(f.data() + 38) == ip4(tpa);
}

std::vector<Bytes> ipv4_out(const Out& out, const std::string& port) {
  std::vector<Bytes> v;
  if (out.count(port))
    for (const auto& f : out.at(port))
      if (f[12] == 0x08 && f[13] == 0x00) v.push_back(f);
  return v;
}

}  // namespace

TEST(VrouterForward, LinkDownIsSeenAtOnce) {
  RouterHarness h(std::string(kRouter) + R"(routes:
  - {prefix: 0.0.0.0/0, via: 10.2.0.254}
  - {prefix: 0.0.0.0/0, via: 10.3.0.254, distance: 10}
)");
  h.run_for(20);  // both next hops probed; both answer
  h.exchange("p2", arp_reply(kGw1, "10.2.0.254", kR2, "10.2.0.1"));
  h.exchange("p3", arp_reply(kGw2, "10.3.0.254", kR3, "10.3.0.1"));
  Out out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "198.51.100.7"));
  ASSERT_EQ(ipv4_out(out, "p2").size(), 1u) << "the primary first: " << dump(out);
  // A packet waits for an unresolved neighbour behind lan2 (p2).
  h.send("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.77"));
  h.poll();
  h.control();
  h.poll();
  h.recv_all();
  ASSERT_EQ(h.core().held_packets(), 1u);

  // p2's link goes down. Nothing waits for a probe or a timer: the same instant,
  h.core().on_link_change(h.id("p2"), false, h.now());
  h.poll();
  // the held packet is dropped under its reason,
  EXPECT_EQ(h.core().held_packets(), 0u);
  EXPECT_EQ(h.drops(DropReason::kLinkDown), 1u);
  // the backup carries the default route,
  out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "198.51.100.7"));
  ASSERT_EQ(ipv4_out(out, "p3").size(), 1u) << "the backup: " << dump(out);
  EXPECT_EQ(ipv4_out(out, "p3")[0], udp4(kGw2, kR3, "10.1.0.2", "198.51.100.7", 63));
  {
    std::lock_guard lock(h.core().mutex());
    const auto lines = h.core().route_lines(0, 1000, nullptr);
    EXPECT_NE(std::find(lines.begin(), lines.end(),
                        "0.0.0.0/0 via 10.2.0.254 dev lan2 distance 1 static down"),
              lines.end());
    EXPECT_NE(std::find(lines.begin(), lines.end(),
                        "0.0.0.0/0 via 10.3.0.254 dev up distance 10 static active"),
              lines.end());
  }
  // and traffic into lan2 itself (a static neighbour, an unresolved one, IPv6) is dropped as
  // link_down rather than sent, held or resolved.
  out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.2"));
  out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.78"));
  out = h.exchange("p1", udp6(kR1, kH1, "2001:db8:1::2", "2001:db8:2::2"));
  EXPECT_EQ(h.drops(DropReason::kLinkDown), 4u);
  EXPECT_EQ(h.core().held_packets(), 0u);
  // Nothing at all goes to the down port meanwhile: no probes, no announcements, no packets.
  const Out later = h.run_for(1000, 50);
  EXPECT_EQ(later.count("p2"), 0u) << later.at("p2").size() << " frames sent to a down link";
  EXPECT_EQ(h.recv("p2").size(), 0u);

  // The link comes back: the addresses are announced and the next hop probed at once; its
  // answer gives the primary the route again.
  h.core().on_link_change(h.id("p2"), true, h.now());
  h.poll();
  const std::vector<Bytes> back = h.recv("p2");
  EXPECT_TRUE(std::any_of(back.begin(), back.end(), [](const Bytes& f) {
    return arp_request_for(f, "10.2.0.1");
  })) << "no gratuitous ARP";
  EXPECT_TRUE(std::any_of(back.begin(), back.end(), [](const Bytes& f) {
    return arp_request_for(f, "10.2.0.254");
  })) << "the next hop was not probed at once";
  h.exchange("p2", arp_reply(kGw1, "10.2.0.254", kR2, "10.2.0.1"));
  out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "198.51.100.7"));
  ASSERT_EQ(ipv4_out(out, "p2").size(), 1u) << "the primary again: " << dump(out);
  EXPECT_EQ(ipv4_out(out, "p2")[0], udp4(kGw1, kR2, "10.1.0.2", "198.51.100.7", 63));
  out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.2"));
  EXPECT_EQ(ipv4_out(out, "p2").size(), 1u) << "the static neighbour again: " << dump(out);
  // A reload meanwhile keeps the link state it was told (the ring port's own link is "up").
  h.core().on_link_change(h.id("p2"), false, h.now());
  h.apply_yaml(std::string(kRouter) + "routes:\n  - {prefix: 0.0.0.0/0, via: 10.3.0.254}\n");
  out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.2"));
  EXPECT_TRUE(ipv4_out(out, "p2").empty()) << "sent to a down link after a reload";
  h.core().on_link_change(h.id("p2"), false, h.now());  // no change: nothing happens
  EXPECT_EQ(h.drops(DropReason::kLinkDown), 5u);
}

// The routing stage's fast lane (a packet through the gateway adjacency the burst's previous
// packet checked) must give every packet of a mixed burst the fate the general way gives it
// alone: each exception in between, and the packets after it, keep their own.
TEST(VrouterForward, ABurstMixingTheFastLaneAndItsExceptions) {
  std::string yaml = kRouter;
  yaml.replace(yaml.find("ipv4: [10.2.0.1/24]"), 19, "segment: core, ipv4: [10.2.0.1/24]");
  yaml.replace(yaml.find("vlan: 200,"), 10, "vlan: 200, segment: dmz,");
  yaml += R"(segment_policy: {apart: [[core, dmz]]}
routes:
  - {prefix: 10.99.0.0/16, via: 10.2.0.2, cross_segment: true}
  - {prefix: "2001:db8:99::/48", via: "2001:db8:2::2", cross_segment: true}
)";
  RouterHarness h(yaml);
  Bytes big_df = udp4(kR1, kH1, "10.1.0.2", "10.99.1.9", 64, 1400);
  big_df[14 + 6] = 0x40;  // DF
  fix_ipv4_checksum(big_df, 14);
  const std::vector<Bytes> in = {
      udp4(kR1, kH1, "10.1.0.2", "10.99.1.1", 64),                  // 0: p2
      udp4(kR1, kH1, "10.1.0.2", "10.99.1.2", 1),                   // 1: time exceeded
      udp4(kR1, kH1, "10.1.0.2", "10.99.1.3", 64),                  // 2: p2
      big_df,                                                       // 3: fragmentation needed
      udp4(kR1, kH1, "10.1.0.2", "10.99.1.4", 64, 1400),            // 4: dropped, too big
      udp4(kR1, kH1, "10.1.0.2", "10.2.0.2", 9),                    // 5: on-link, p2
      udp4(kR1, kH1, "10.1.0.2", "10.99.1.5", 2),                   // 6: p2, TTL 1
      udp6(kR1, kH1, "2001:db8:1::2", "2001:db8:99::1", 64),        // 7: p2
      udp6(kR1, kH1, "fe80::2", "2001:db8:99::2", 64),              // 8: martian source
      udp6(kR1, kH1, "2001:db8:1::2", "2001:db8:99::3", 1),         // 9: time exceeded
      udp6(kR1, kH1, "2001:db8:1::2", "2001:db8:99::4", 64, 1400),  // 10: packet too big
      udp6(kR1, kH1, "2001:db8:1::2", "2001:db8:99::5", 7),         // 11: p2
  };
  Bytes bad_sum = udp4(kR1, kH1, "10.1.0.2", "10.99.1.6", 64);  // 12: dropped, bad checksum
  bad_sum[14 + 10] ^= 0x40;
  std::vector<Bytes> burst = in;
  burst.push_back(bad_sum);
  for (const Bytes& f : burst) h.send("p1", f);
  h.poll();
  Out out = h.recv_all();
  std::vector<Bytes> want = {udp4(kH2, kR2, "10.1.0.2", "10.99.1.1", 63),
                             udp4(kH2, kR2, "10.1.0.2", "10.99.1.3", 63),
                             udp4(kH2, kR2, "10.1.0.2", "10.2.0.2", 8),
                             udp4(kH2, kR2, "10.1.0.2", "10.99.1.5", 1),
                             udp6(kH2, kR2, "2001:db8:1::2", "2001:db8:99::1", 63),
                             udp6(kH2, kR2, "2001:db8:1::2", "2001:db8:99::5", 6)};
  std::vector<Bytes> got = out["p2"];
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  const std::vector<Bytes>& back = out["p1"];
  ASSERT_EQ(back.size(), 4u) << dump(out);
  check_icmp4_error(back[0], kH1, kR1, "10.1.0.1", "10.1.0.2", 11, 0);
  check_icmp4_error(back[1], kH1, kR1, "10.1.0.1", "10.1.0.2", 3, 4);
  EXPECT_EQ(back[2][54], 3) << "ICMPv6 time exceeded";
  EXPECT_EQ(back[3][54], 2) << "ICMPv6 packet too big";
  EXPECT_EQ(h.drops(DropReason::kMtuExceeded), 1u);
  EXPECT_EQ(h.drops(DropReason::kMartianAddress), 1u);
  EXPECT_EQ(h.core().iface_totals(1)[2], 6u) << "routed out of lan2";
  EXPECT_EQ(h.drops(DropReason::kIpv4BadChecksum), 1u);
  // Every frame the router took in on lan1 is counted there once, whichever way it went.
  uint64_t bytes = 0;
  for (const Bytes& f : burst) bytes += f.size();
  EXPECT_EQ(h.core().iface_totals(0)[0], burst.size()) << "received on lan1";
  EXPECT_EQ(h.core().iface_totals(0)[1], bytes);

  // From one port, two interfaces (the trunk's VLANs), the second in a segment kept apart from
  // lan2's: its packets pass only along the cross_segment route, whatever the first interface's
  // packets around them did.
  for (const auto& [tci, mac, host, to] :
       {std::tuple{100, kR100, kH100, "10.99.2.1"}, std::tuple{200, kR200, kH200, "10.99.2.2"},
        std::tuple{200, kR200, kH200, "10.2.0.2"}, std::tuple{100, kR100, kH100, "10.99.2.3"}})
    h.send("trunk", tagged(udp4(mac, host, tci == 100 ? "10.100.0.2" : "10.200.0.2", to), tci));
  h.poll();
  out = h.recv_all();
  ASSERT_EQ(out["p2"].size(), 3u) << dump(out);
  EXPECT_EQ(out["p2"][0], udp4(kH2, kR2, "10.100.0.2", "10.99.2.1", 63));
  EXPECT_EQ(out["p2"][1], udp4(kH2, kR2, "10.200.0.2", "10.99.2.2", 63));
  EXPECT_EQ(out["p2"][2], udp4(kH2, kR2, "10.100.0.2", "10.99.2.3", 63));
  EXPECT_EQ(h.drops(DropReason::kSegmentPolicy), 1u);
}
