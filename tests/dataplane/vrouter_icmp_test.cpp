// ICMP the router generates, on real DPDK ports: echo replies, time exceeded, unreachable,
// fragmentation needed / packet too big, port unreachable; never about an ICMP error; all of
// it rate-limited.
#include <gtest/gtest.h>

#include "tests/dataplane/router_frames.h"
#include "tests/dataplane/router_harness.h"

using namespace rtest;
using dptest::RouterHarness;
using vnf::DropReason;
namespace ops = vrouter::ops;

TEST(VrouterIcmp, EchoRepliesFromEveryAddress) {
  RouterHarness h(kRouter);
  const Bytes data(56, 0x42);
  // To the interface's own address, and to another interface's address (weak host).
  for (const char* dst : {"10.1.0.1", "10.2.0.1"}) {
    const Out out = h.exchange(
        "p1", cat({eth(kR1, kH1, {}, 0x0800),
                   ipv4(ip4("10.1.0.2"), ip4(dst), 1, icmp_echo(7, 1, false, data), 64)}));
    ASSERT_EQ(out.size(), 1u) << dst << ": " << dump(out);
    EXPECT_EQ(out.at("p1").at(0),
              cat({eth(kH1, kR1, {}, 0x0800),
                   ipv4(ip4(dst), ip4("10.1.0.2"), 1, icmp_echo(7, 1, true, data), 64)}))
        << dst;
  }
  // IPv6, to the global and to the link-local address.
  for (const char* dst : {"2001:db8:1::1", "fe80::ff:fe00:101"}) {
    Bytes req = cat({eth(kR1, kH1, {}, 0x86DD),
                     ipv6(ip6("2001:db8:1::2"), ip6(dst), 58, icmp6_echo(9, 2), 64)});
    const uint16_t c = ops::ipv6_l4_cksum(req.data() + 14, req.data() + 54, 8, 58);
    std::memcpy(req.data() + 56, &c, 2);
    const Out out = h.exchange("p1", req);
    ASSERT_EQ(out.size(), 1u) << dst << ": " << dump(out);
    const Bytes& r = out.at("p1").at(0);
    EXPECT_EQ(Bytes(r.begin(), r.begin() + 6), Bytes(kH1.begin(), kH1.end()));
    EXPECT_EQ(r[54], 129);
    EXPECT_EQ(Bytes(r.begin() + 22, r.begin() + 38), addr6(dst));
    EXPECT_EQ(verify_icmp6(r.data() + 14, 8), 0) << "ICMPv6 checksum";
  }
}

TEST(VrouterIcmp, TimeExceededForTraceroute) {
  RouterHarness h(kRouter);
  const Bytes in = udp4(kR1, kH1, "10.1.0.2", "10.2.0.2", 1, 32, 33434);
  const Out out = h.exchange("p1", in);
  ASSERT_EQ(out.size(), 1u) << dump(out);
  const Bytes quote =
      check_icmp4_error(out.at("p1").at(0), kH1, kR1, "10.1.0.1", "10.1.0.2", 11, 0);
  EXPECT_EQ(quote, Bytes(in.begin() + 14, in.end())) << "the whole original datagram quoted";
  EXPECT_EQ(h.drops(DropReason::kTtlExceeded), 1u);
  // TTL 2 is forwarded with TTL 1.
  EXPECT_EQ(h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.2", 2)).count("p2"), 1u);
  // IPv6 hop limit 1.
  const Bytes in6 = udp6(kR1, kH1, "2001:db8:1::2", "2001:db8:2::2", 1);
  const Out out6 = h.exchange("p1", in6);
  ASSERT_EQ(out6.size(), 1u) << dump(out6);
  const Bytes& r = out6.at("p1").at(0);
  EXPECT_EQ(r[54], 3) << "time exceeded";
  EXPECT_EQ(Bytes(r.begin() + 22, r.begin() + 38), addr6("2001:db8:1::1"));
  EXPECT_EQ(verify_icmp6(r.data() + 14, static_cast<uint32_t>(r.size() - 54)), 0);
  EXPECT_EQ(Bytes(r.begin() + 62, r.end()), Bytes(in6.begin() + 14, in6.end()));
}

TEST(VrouterIcmp, UnreachableWithoutRoute) {
  RouterHarness h(kRouter);
  const Bytes in = udp4(kR1, kH1, "10.1.0.2", "8.8.8.8");
  const Out out = h.exchange("p1", in);
  ASSERT_EQ(out.size(), 1u) << dump(out);
  check_icmp4_error(out.at("p1").at(0), kH1, kR1, "10.1.0.1", "10.1.0.2", 3, 0);
  EXPECT_EQ(h.drops(DropReason::kNoRoute), 1u);
  const Out out6 = h.exchange("p1", udp6(kR1, kH1, "2001:db8:1::2", "2001:db8:99::1"));
  ASSERT_EQ(out6.size(), 1u) << dump(out6);
  EXPECT_EQ(out6.at("p1").at(0)[54], 1);
  EXPECT_EQ(out6.at("p1").at(0)[55], 0);
}

TEST(VrouterIcmp, FragmentationNeededAndPacketTooBig) {
  RouterHarness h(kRouter);  // lan2 has MTU 1400
  Bytes big = udp4(kR1, kH1, "10.1.0.2", "10.2.0.2", 64, 1400);
  big[14 + 6] = 0x40;  // DF
  fix_ipv4_checksum(big, 14);
  Out out = h.exchange("p1", big);
  ASSERT_EQ(out.size(), 1u) << dump(out);
  const Bytes& e = out.at("p1").at(0);
  const Bytes quote = check_icmp4_error(e, kH1, kR1, "10.1.0.1", "10.1.0.2", 3, 4);
  EXPECT_EQ(ops::rd16(e.data() + 14 + 26), 1400) << "next-hop MTU";
  EXPECT_EQ(quote.size(), 548u) << "576 bytes in all (RFC 1812)";
  EXPECT_EQ(h.drops(DropReason::kFragNeeded), 1u);
  // Without DF: dropped (no fragmentation), no ICMP.
  EXPECT_TRUE(h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.2", 64, 1400)).empty());
  EXPECT_EQ(h.drops(DropReason::kMtuExceeded), 1u);
  // Exactly the MTU passes.
  EXPECT_EQ(h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.2", 64, 1400 - 28)).count("p2"),
            1u);
  // IPv6: packet too big with the MTU.
  out = h.exchange("p1", udp6(kR1, kH1, "2001:db8:1::2", "2001:db8:2::2", 64, 1400));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  const Bytes& p = out.at("p1").at(0);
  EXPECT_EQ(p[54], 2);
  EXPECT_EQ(ops::rd32(p.data() + 58), 1400u);
  EXPECT_EQ(verify_icmp6(p.data() + 14, static_cast<uint32_t>(p.size() - 54)), 0);
  EXPECT_LE(p.size() - 14, 1280u) << "within the IPv6 minimum MTU";
  EXPECT_EQ(h.drops(DropReason::kPacketTooBig), 1u);
}

TEST(VrouterIcmp, PortUnreachableForUdpToTheRouter) {
  RouterHarness h(kRouter);
  const Out out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.1.0.1", 1, 32, 33440));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  check_icmp4_error(out.at("p1").at(0), kH1, kR1, "10.1.0.1", "10.1.0.2", 3, 3);
  // TCP to the router: dropped, no answer.
  const Out tcp_out = h.exchange(
      "p1",
      cat({eth(kR1, kH1, {}, 0x0800), ipv4(ip4("10.1.0.2"), ip4("10.1.0.1"), 6, tcp(1, 22, 2))}));
  EXPECT_TRUE(tcp_out.empty()) << dump(tcp_out);
  EXPECT_EQ(h.drops(DropReason::kLocalNoService), 2u);
}

TEST(VrouterIcmp, NeverAnErrorAboutAnError) {
  RouterHarness h(kRouter);
  // A time-exceeded message itself expiring: dropped silently.
  const Bytes inner = ipv4(ip4("10.2.0.2"), ip4("10.9.9.9"), 17, udp(1, 2, {}), 1);
  const Bytes err = cat({Bytes{11, 0, 0, 0, 0, 0, 0, 0}, Bytes(inner.begin(), inner.begin() + 28)});
  const Out out = h.exchange(
      "p1", cat({eth(kR1, kH1, {}, 0x0800), ipv4(ip4("10.1.0.2"), ip4("10.2.0.2"), 1, err, 1)}));
  EXPECT_TRUE(out.empty()) << dump(out);
  EXPECT_EQ(h.drops(DropReason::kTtlExceeded), 1u);
}

TEST(VrouterIcmp, GenerationIsRateLimited) {
  std::string yaml = kRouter;
  yaml.replace(yaml.find("icmp: {rate: 1000, burst: 100}"), 30, "icmp: {rate: 1, burst: 3}");
  RouterHarness h(yaml);
  unsigned answered = 0;
  for (int i = 0; i < 10; ++i)
    answered += h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.2", 1)).size();
  EXPECT_EQ(answered, 3u) << "the burst, then nothing within the same second";
  EXPECT_EQ(h.drops(DropReason::kTtlExceeded), 10u) << "every expired packet is counted";
  const Bytes echo = cat(
      {eth(kR1, kH1, {}, 0x0800), ipv4(ip4("10.1.0.2"), ip4("10.1.0.1"), 1, icmp_echo(1, 1), 64)});
  EXPECT_TRUE(h.exchange("p1", echo).empty());
  EXPECT_EQ(h.drops(DropReason::kIcmpRateLimited), 1u);
}
