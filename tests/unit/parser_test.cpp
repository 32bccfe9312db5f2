// The frame parser on well-formed and malformed frames: every malformation has its own
// drop reason, offsets and ports are right, and no input makes it read out of bounds
// (run under ASan by the fuzz target too).
#include "common/parser.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tests/common/frames.h"

using namespace testing_frames;
using vnf::DropReason;
using vnf::L3;
using vnf::PacketMeta;

namespace {

const Mac kA = mac("02:00:00:00:00:0a");
const Mac kB = mac("02:00:00:00:00:0b");

DropReason parse(const Bytes& f, PacketMeta& m, size_t seg_len = SIZE_MAX) {
  m = PacketMeta{};
  const auto n = static_cast<uint32_t>(f.size());
  return vnf::parse_frame(f.data(), seg_len == SIZE_MAX ? n : static_cast<uint32_t>(seg_len), n, m);
}

DropReason parse(const Bytes& f) {
  PacketMeta m;
  return parse(f, m);
}

Bytes udp4(std::initializer_list<Tag> tags = {}) { return udp4_frame(kB, kA, tags); }

}  // namespace

TEST(Parser, UntaggedIpv4Udp) {
  PacketMeta m;
  ASSERT_EQ(parse(udp4(), m), DropReason::kNone);
  EXPECT_EQ(m.tags, 0);
  EXPECT_EQ(m.ether_type, 0x0800);
  EXPECT_EQ(m.l3, L3::kIpv4);
  EXPECT_EQ(m.l3_off, 14);
  EXPECT_EQ(m.l4_off, 34);
  EXPECT_EQ(m.l4_proto, 17);
  EXPECT_EQ(m.sport, 1000);
  EXPECT_EQ(m.dport, 2000);
  EXPECT_EQ(m.ttl, 64);
  EXPECT_TRUE(m.flags & vnf::meta_flags::kHasL4);
  EXPECT_FALSE(m.flags & vnf::meta_flags::kFragment);
}

TEST(Parser, SingleAndStackedTags) {
  PacketMeta m;
  ASSERT_EQ(parse(udp4({{0x8100, 0x2064}}), m), DropReason::kNone);
  EXPECT_EQ(m.tags, 1);
  EXPECT_EQ(m.outer_tpid, 0x8100);
  EXPECT_EQ(m.outer_tci, 0x2064);  // PCP 1, VID 100
  EXPECT_EQ(m.l3_off, 18);
  EXPECT_EQ(m.l4_off, 38);

  ASSERT_EQ(parse(udp4({{0x88A8, 300}, {0x8100, 100}}), m), DropReason::kNone);
  EXPECT_EQ(m.tags, 2);
  EXPECT_EQ(m.outer_tpid, 0x88A8);
  EXPECT_EQ(m.outer_tci, 300);
  EXPECT_EQ(m.l3_off, 22);

  EXPECT_EQ(parse(udp4({{0x88A8, 1}, {0x8100, 2}, {0x8100, 3}})), DropReason::kTooManyVlanTags);
}

TEST(Parser, TruncatedEthernetAndTags) {
  EXPECT_EQ(parse(Bytes(13, 0)), DropReason::kEthTruncated);
  EXPECT_EQ(parse(Bytes{}), DropReason::kEthTruncated);
  Bytes f = eth(kB, kA, {}, 0x8100);
  f.push_back(0);  // ends inside the tag
  EXPECT_EQ(parse(f), DropReason::kVlanTruncated);
  Bytes g = eth(kB, kA, {{0x8100, 5}}, 0x88A8);  // second tag announced, missing
  EXPECT_EQ(parse(g), DropReason::kVlanTruncated);
}

TEST(Parser, Ipv4HeaderErrors) {
  Bytes f = udp4();
  f[14] = 0x55;  // version 5
  EXPECT_EQ(parse(f), DropReason::kIpv4BadVersion);

  f = udp4();
  f[14] = 0x44;  // IHL 4 words = 16 bytes
  EXPECT_EQ(parse(f), DropReason::kIpv4BadIhl);

  f = udp4();
  f[14] = 0x4F;  // IHL 60 bytes, but only 46 bytes of IP in the frame
  EXPECT_EQ(parse(f), DropReason::kIpv4Truncated);

  f = udp4();
  f.resize(14 + 10);  // frame ends inside the header
  EXPECT_EQ(parse(f), DropReason::kIpv4Truncated);

  f = udp4();
  f[16] = 0x05;  // total length 1300 > frame
  f[17] = 0x14;
  EXPECT_EQ(parse(f), DropReason::kIpv4BadTotalLength);

  f = udp4();
  f[16] = 0;  // total length 10 < IHL
  f[17] = 10;
  EXPECT_EQ(parse(f), DropReason::kIpv4BadTotalLength);
}

TEST(Parser, Ipv4OptionsAndPadding) {
  PacketMeta m;
  const Bytes opts{0x94, 0x04, 0x00, 0x00};  // router alert
  Bytes f = cat({eth(kB, kA, {}, 0x0800),
                 ipv4(ip4("10.0.0.1"), ip4("10.0.0.2"), 17, udp(5, 6, {}), 1, opts)});
  f.resize(60, 0);  // Ethernet minimum-size padding after the IP packet
  ASSERT_EQ(parse(f, m), DropReason::kNone);
  EXPECT_TRUE(m.flags & vnf::meta_flags::kIpOptions);
  EXPECT_EQ(m.l4_off, 14 + 24);
  EXPECT_EQ(m.l3_len, 24 + 8);  // padding is not part of the packet
  EXPECT_EQ(m.l4_len, 8);
  EXPECT_EQ(m.ttl, 1);
}

TEST(Parser, Ipv4Fragments) {
  PacketMeta m;
  // First fragment (MF set, offset 0): L4 header present.
  Bytes first = cat({eth(kB, kA, {}, 0x0800), ipv4(ip4("1.1.1.1"), ip4("2.2.2.2"), 17,
                                                   udp(7, 8, Bytes(16, 0)), 64, {}, 0x2000)});
  ASSERT_EQ(parse(first, m), DropReason::kNone);
  EXPECT_TRUE(m.flags & vnf::meta_flags::kFragment);
  EXPECT_FALSE(m.flags & vnf::meta_flags::kLaterFragment);
  EXPECT_EQ(m.dport, 8);
  // Later fragment: whatever follows is payload, never parsed as a header.
  Bytes later = cat({eth(kB, kA, {}, 0x0800),
                     ipv4(ip4("1.1.1.1"), ip4("2.2.2.2"), 6, Bytes(3, 0xFF), 64, {}, 0x0010)});
  ASSERT_EQ(parse(later, m), DropReason::kNone);
  EXPECT_TRUE(m.flags & vnf::meta_flags::kLaterFragment);
  EXPECT_FALSE(m.flags & vnf::meta_flags::kHasL4);
}

TEST(Parser, TcpErrors) {
  auto tcp4 = [](const Bytes& seg) {
    return cat({eth(kB, kA, {}, 0x0800), ipv4(ip4("10.0.0.1"), ip4("10.0.0.2"), 6, seg)});
  };
  PacketMeta m;
  ASSERT_EQ(parse(tcp4(tcp(1234, 80, 0x02, 1, 0, 8)), m), DropReason::kNone);
  EXPECT_EQ(m.dport, 80);
  Bytes bad_off = tcp(1, 2, 0x02);
  bad_off[12] = 0x40;  // 4 words
  EXPECT_EQ(parse(tcp4(bad_off)), DropReason::kTcpBadDataOffset);
  Bytes long_off = tcp(1, 2, 0x02);
  long_off[12] = 0xF0;  // 60 bytes of header in a 20-byte segment
  EXPECT_EQ(parse(tcp4(long_off)), DropReason::kTcpTruncated);
  EXPECT_EQ(parse(tcp4(Bytes(12, 0))), DropReason::kTcpTruncated);
}

TEST(Parser, UdpAndIcmpErrors) {
  auto ip = [](uint8_t proto, const Bytes& l4) {
    return cat({eth(kB, kA, {}, 0x0800), ipv4(ip4("10.0.0.1"), ip4("10.0.0.2"), proto, l4)});
  };
  Bytes u = udp(1, 2, Bytes(4, 0));
  u[5] = 7;  // UDP length 7 < 8
  EXPECT_EQ(parse(ip(17, u)), DropReason::kUdpBadLength);
  u[5] = 200;  // beyond the IP payload
  EXPECT_EQ(parse(ip(17, u)), DropReason::kUdpBadLength);
  EXPECT_EQ(parse(ip(17, Bytes(5, 0))), DropReason::kUdpTruncated);
  EXPECT_EQ(parse(ip(1, Bytes{8, 0, 0, 0})), DropReason::kIcmpTruncated);
  PacketMeta m;
  ASSERT_EQ(parse(ip(1, icmp_echo(0x77, 1)), m), DropReason::kNone);
  EXPECT_EQ(m.sport, 8 << 8);  // type 8 code 0
  EXPECT_EQ(m.dport, 0x77);    // identifier
}

TEST(Parser, Ipv6WithExtensionChain) {
  PacketMeta m;
  const auto s = ip6("2001:db8::1"), d = ip6("2001:db8::2");
  // hop-by-hop (8 B) -> destination options (16 B) -> UDP
  const Bytes payload = cat({ipv6_ext(60, 0), ipv6_ext(17, 1), udp(53, 5353, Bytes(4, 0))});
  ASSERT_EQ(parse(cat({eth(kB, kA, {}, 0x86DD), ipv6(s, d, 0, payload)}), m), DropReason::kNone);
  EXPECT_EQ(m.l3, L3::kIpv6);
  EXPECT_EQ(m.l4_proto, 17);
  EXPECT_EQ(m.l4_off, 14 + 40 + 8 + 16);
  EXPECT_EQ(m.dport, 5353);
  EXPECT_TRUE(m.flags & vnf::meta_flags::kIpOptions);

  ASSERT_EQ(parse(cat({eth(kB, kA, {}, 0x86DD), ipv6(s, d, 58, icmp6_echo(9, 1))}), m),
            DropReason::kNone);
  EXPECT_EQ(m.sport, 128 << 8);
}

TEST(Parser, Ipv6Errors) {
  const auto s = ip6("fe80::1"), d = ip6("ff02::1");
  Bytes f = cat({eth(kB, kA, {}, 0x86DD), ipv6(s, d, 17, udp(1, 2, {}))});
  f[14] = 0x40;
  EXPECT_EQ(parse(f), DropReason::kIpv6BadVersion);

  f = cat({eth(kB, kA, {}, 0x86DD), ipv6(s, d, 17, udp(1, 2, {}))});
  f[19] = 200;  // payload length beyond the frame
  EXPECT_EQ(parse(f), DropReason::kIpv6BadPayloadLength);

  f = cat({eth(kB, kA, {}, 0x86DD), Bytes(30, 0x60)});
  EXPECT_EQ(parse(f), DropReason::kIpv6Truncated);

  // An extension header claiming 64 bytes in a 16-byte payload.
  Bytes ext = ipv6_ext(17, 1);
  ext[1] = 7;
  EXPECT_EQ(parse(cat({eth(kB, kA, {}, 0x86DD), ipv6(s, d, 0, ext)})),
            DropReason::kIpv6ExtTruncated);

  // Nine chained destination-options headers.
  Bytes chain;
  for (int i = 0; i < 9; ++i) chain = cat({chain, ipv6_ext(i == 8 ? 59 : 60, 0)});
  EXPECT_EQ(parse(cat({eth(kB, kA, {}, 0x86DD), ipv6(s, d, 60, chain)})),
            DropReason::kIpv6ExtChainTooLong);

  EXPECT_EQ(parse(cat({eth(kB, kA, {}, 0x86DD), ipv6(s, d, 58, Bytes(4, 0))})),
            DropReason::kIcmp6Truncated);
}

TEST(Parser, Ipv6Fragments) {
  PacketMeta m;
  const auto s = ip6("2001:db8::1"), d = ip6("2001:db8::2");
  ASSERT_EQ(parse(cat({eth(kB, kA, {}, 0x86DD),
                       ipv6(s, d, 44, cat({ipv6_frag(6, 100, false, 1), Bytes(8, 0)}))}),
                  m),
            DropReason::kNone);
  EXPECT_TRUE(m.flags & vnf::meta_flags::kLaterFragment);
  EXPECT_EQ(m.l4_proto, 6);
  EXPECT_FALSE(m.flags & vnf::meta_flags::kHasL4);
}

TEST(Parser, ArpAndOtherEthertypes) {
  PacketMeta m;
  Bytes arp =
      cat({eth(kBroadcast, kA, {}, 0x0806), arp_request(kA, ip4("10.0.0.1"), ip4("10.0.0.2"))});
  ASSERT_EQ(parse(arp, m), DropReason::kNone);
  EXPECT_EQ(m.l3, L3::kArp);
  arp.resize(14 + 20);
  EXPECT_EQ(parse(arp), DropReason::kArpTruncated);
  ASSERT_EQ(parse(cat({eth(kB, kA, {}, 0x88CC), Bytes(40, 0)}), m), DropReason::kNone);  // LLDP
  EXPECT_EQ(m.l3, L3::kOther);
}

TEST(Parser, HeadersSplitAcrossSegments) {
  // All bytes exist, but the UDP header starts beyond the first segment.
  EXPECT_EQ(
      [] {
        PacketMeta m;
        return parse(udp4(), m, 30);
      }(),
      DropReason::kHeadersNotContiguous);
}

TEST(Parser, RandomInputNeverReadsOutOfBounds) {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    Bytes f = rng() % 2
                  ? udp4({{0x8100, 5}})
                  : cat({eth(kB, kA, {}, 0x86DD), ipv6(ip6("::1"), ip6("::2"), 0, Bytes(24, 0))});
    for (int k = 0; k < 4; ++k) f[rng() % f.size()] = static_cast<uint8_t>(rng());
    f.resize(rng() % (f.size() + 1));
    // Exact-size heap copy: ASan flags any read past the end.
    std::vector<uint8_t> exact(f.begin(), f.end());
    PacketMeta m;
    (void)vnf::parse_frame(exact.data(), static_cast<uint32_t>(exact.size()),
                           static_cast<uint32_t>(exact.size()), m);
  }
  SUCCEED();
}

// The straight-line fast path must agree with the general parser on every frame it accepts,
// field by field, and accept the common frames (or it is not a fast path).
TEST(Parser, FastPathAgreesWithTheGeneralParser) {
  std::mt19937 rng(7);
  auto same = [](const PacketMeta& a, const PacketMeta& b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
  };
  std::vector<Bytes> bases = {
      udp4(),
      udp4({{0x8100, 0x2064}}),
      udp4({{0x88A8, 5}}),
      udp4({{0x8100, 5}, {0x8100, 6}}),
      cat({eth(kB, kA, {}, 0x0800),
           ipv4(ip4("10.0.0.1"), ip4("10.0.0.2"), 6, tcp(1, 2, 0x12, 9, 9, 6))}),
      cat({eth(kB, kA, {{0x8100, 7}}, 0x0800),
           ipv4(ip4("10.0.0.1"), ip4("10.0.0.2"), 6, tcp(1, 2, 0x02))}),
      cat({eth(kB, kA, {}, 0x0800), ipv4(ip4("1.1.1.1"), ip4("2.2.2.2"), 1, icmp_echo(1, 2))}),
      // IPv6: UDP and TCP (the fast path's), an extension header, ICMPv6 (the general's).
      cat({eth(kB, kA, {}, 0x86DD),
           ipv6(ip6("2001:db8::1"), ip6("2001:db8::2"), 17, udp(7, 8, Bytes(10, 1)))}),
      cat({eth(kB, kA, {{0x8100, 0x3005}}, 0x86DD),
           ipv6(ip6("2001:db8::1"), ip6("2001:db8::2"), 6, tcp(1, 2, 0x10, 5, 6))}),
      cat({eth(kB, kA, {}, 0x86DD), ipv6(ip6("2001:db8::1"), ip6("2001:db8::2"), 0,
                                         cat({ipv6_ext(17, 0), udp(7, 8, Bytes(4, 2))}))}),
      cat({eth(kB, kA, {}, 0x86DD),
           ipv6(ip6("2001:db8::1"), ip6("2001:db8::2"), 58, icmp6_echo(1, 2))}),
  };
  int fast_taken = 0, fast6_taken = 0;
  for (const auto& base : bases) {
    for (int i = 0; i < 4000; ++i) {
      Bytes f = base;
      if (i) {  // the unmodified frame first, then mutations
        for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k)
          f[rng() % f.size()] = static_cast<uint8_t>(rng());
        if (rng() % 4 == 0) f.resize(rng() % (f.size() + 1));
      }
      PacketMeta fast{}, general{};
      fast.in_port = general.in_port = 3;
      const auto n = static_cast<uint32_t>(f.size());
      const uint32_t seg = rng() % 8 == 0 ? n / 2 : n;
      const bool took = vnf::parse_fast(f.data(), seg, n, fast);
      const DropReason r = vnf::parse_general(f.data(), seg, n, general);
      if (took) {
        ++fast_taken;
        if (fast.l3 == L3::kIpv6) ++fast6_taken;
        ASSERT_EQ(r, DropReason::kNone) << "fast path accepted a frame the parser rejects";
        ASSERT_TRUE(same(fast, general)) << "fast and general parsers disagree";
      }
    }
  }
  EXPECT_GT(fast_taken, 4000);  // the plain UDP and TCP frames do take it
  EXPECT_GT(fast6_taken, 1000);  // IPv6's too
  PacketMeta m{};
  EXPECT_TRUE(vnf::parse_fast(udp4().data(), static_cast<uint32_t>(udp4().size()),
                              static_cast<uint32_t>(udp4().size()), m));
}
