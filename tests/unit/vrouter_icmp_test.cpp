// The router's packet builders, checked against an independent checksum implementation:
// TTL decrement (RFC 1624 incremental update vs full recompute), echo replies, ICMP and
// ICMPv6 errors, ARP, neighbour solicitations and advertisements.
#include "vrouter/dp/packet_ops.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "tests/common/frames.h"

using namespace testing_frames;
namespace ops = vrouter::ops;

namespace {

// RFC 1071, big-endian words: 0 when the data (checksum field included) sums to all ones.
uint16_t verify_sum(const uint8_t* d, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(d[i] << 8 | d[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(d[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint16_t verify_icmp6(const uint8_t* ip6, const uint8_t* l4, uint32_t len) {
  Bytes pseudo(ip6 + 8, ip6 + 40);
  pseudo.insert(pseudo.end(),
                {static_cast<uint8_t>(len >> 24), static_cast<uint8_t>(len >> 16),
                 static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len), 0, 0, 0, 58});
  pseudo.insert(pseudo.end(), l4, l4 + len);
  return verify_sum(pseudo.data(), pseudo.size());
}

const Mac kA = mac("02:00:00:00:00:0a");
const Mac kR = mac("02:00:00:00:00:01");

}  // namespace

TEST(RouterPacketOps, TtlDecrementMatchesAFullRecompute) {
  std::mt19937 rng(3);
  for (int round = 0; round < 2000; ++round) {
    Bytes opts;
    if (round % 4 == 0) opts = Bytes{0x94, 0x04, 0, 0};  // router alert: a 24-byte header
    const auto ttl = static_cast<uint8_t>(2 + rng() % 254);
    Bytes ip = ipv4(rng(), rng(), static_cast<uint8_t>(rng()), Bytes(8, 1), ttl, opts);
    ip[1] = static_cast<uint8_t>(rng());  // vary the TOS and id so checksums vary
    ip[4] = static_cast<uint8_t>(rng());
    fix_ipv4_checksum(ip, 0);
    const unsigned ihl = (ip[0] & 0x0F) * 4u;
    ops::ipv4_dec_ttl(ip.data());
    EXPECT_EQ(ip[8], ttl - 1);
    EXPECT_EQ(verify_sum(ip.data(), ihl), 0) << "round " << round;
    Bytes full = ip;
    fix_ipv4_checksum(full, 0);
    EXPECT_EQ(full, ip) << "incremental and full checksums differ, round " << round;
    EXPECT_TRUE(ops::ipv4_header_valid(ip.data(), ihl));
  }
  Bytes bad = ipv4(1, 2, 17, Bytes(8, 0));
  bad[11] ^= 1;
  EXPECT_FALSE(ops::ipv4_header_valid(bad.data(), 20));
}

// Every checksum value, through the identification field: the carries and the negative zero
// (a field of 0xFEFF, which rises to 0xFFFF and must become 0) are all met.
TEST(RouterPacketOps, TtlDecrementIsRightForEveryChecksum) {
  Bytes ip = ipv4(ip4("10.1.0.2"), ip4("192.0.2.9"), 17, Bytes(8, 0), 64);
  std::set<uint16_t> seen;
  for (uint32_t id = 0; id <= 0xFFFF; ++id) {
    ip[4] = static_cast<uint8_t>(id >> 8);
    ip[5] = static_cast<uint8_t>(id);
    fix_ipv4_checksum(ip, 0);
    seen.insert(ops::rd16(ip.data() + 10));
    Bytes dec = ip;
    ops::ipv4_dec_ttl(dec.data());
    Bytes full = dec;
    fix_ipv4_checksum(full, 0);
    ASSERT_EQ(full, dec) << "checksum " << std::hex << ops::rd16(ip.data() + 10);
  }
  EXPECT_EQ(seen.size(), 65535u) << "every checksum a header computes (0xFFFF is not one)";
  // A received field of 0xFFFF is valid too when the other words sum to all ones (its
  // negative zero); after the decrement the header must still check.
  ip[4] = ip[5] = 0;
  ip[10] = ip[11] = 0;
  uint32_t id = verify_sum(ip.data(), 20);  // the id that makes the other words all ones
  ops::wr16(ip.data() + 4, static_cast<uint16_t>(id));
  ASSERT_EQ(verify_sum(ip.data(), 20), 0);
  ip[10] = ip[11] = 0xFF;
  ASSERT_EQ(verify_sum(ip.data(), 20), 0) << "0xFFFF checks as well as 0";
  ops::ipv4_dec_ttl(ip.data());
  EXPECT_EQ(verify_sum(ip.data(), 20), 0) << "after the decrement, from a field of 0xFFFF";
}

// The header check against RFC 1071 for every value of the checksum field: valid exactly when
// the words sum to all ones (for a header whose other words sum to all ones, both 0 and 0xFFFF).
TEST(RouterPacketOps, HeaderCheckAgreesWithRfc1071OnEveryChecksum) {
  std::mt19937 rng(5);
  for (int round = 0; round < 6; ++round) {
    Bytes opts;
    if (round % 2) opts = Bytes{0x94, 0x04, 0, 0};
    Bytes ip = ipv4(rng(), rng(), 17, Bytes(8, 0), static_cast<uint8_t>(1 + rng() % 255), opts);
    if (round == 5) {  // the other words sum to all ones: 0 and 0xFFFF both valid
      ip[10] = ip[11] = 0;
      // Add the complement of the sum to the identification word (ones' complement addition).
      uint32_t id = ops::rd16(ip.data() + 4) + verify_sum(ip.data(), 24u);
      id = (id & 0xFFFF) + (id >> 16);
      ops::wr16(ip.data() + 4, static_cast<uint16_t>(id));
      ASSERT_EQ(verify_sum(ip.data(), 24u), 0) << "the other words sum to all ones";
    }
    const unsigned ihl = (ip[0] & 0x0F) * 4u;
    unsigned valid = 0;
    for (uint32_t c = 0; c <= 0xFFFF; ++c) {
      ip[10] = static_cast<uint8_t>(c >> 8);
      ip[11] = static_cast<uint8_t>(c);
      const bool want = verify_sum(ip.data(), ihl) == 0;
      ASSERT_EQ(ops::ipv4_header_valid(ip.data(), ihl), want)
          << "round " << round << " checksum " << std::hex << c;
      valid += want;
    }
    EXPECT_EQ(valid, round == 5 ? 2u : 1u);
  }
  const Bytes zero(20, 0);
  EXPECT_FALSE(ops::ipv4_header_valid(zero.data(), 20)) << "all zero sums to zero, not all ones";
}

TEST(RouterPacketOps, EchoReplyV4) {
  const Bytes data(56, 0x5A);
  Bytes ip = ipv4(ip4("10.1.0.2"), ip4("10.1.0.1"), 1, icmp_echo(77, 3, false, data), 61);
  ops::echo_reply4(ip.data(), 20);
  EXPECT_EQ(ops::rd32(ip.data() + 12), ip4("10.1.0.1"));
  EXPECT_EQ(ops::rd32(ip.data() + 16), ip4("10.1.0.2"));
  EXPECT_EQ(ip[8], 64);
  EXPECT_EQ(verify_sum(ip.data(), 20), 0);
  EXPECT_EQ(ip[20], 0) << "echo reply";
  EXPECT_EQ(verify_sum(ip.data() + 20, ip.size() - 20), 0) << "ICMP checksum";
  EXPECT_EQ(Bytes(ip.begin() + 20, ip.end()), icmp_echo(77, 3, true, data));
}

TEST(RouterPacketOps, EchoReplyV6) {
  const auto src = ip6("2001:db8:1::2"), dst = ip6("2001:db8:1::1");
  Bytes icmp = icmp6_echo(9, 1);
  icmp.resize(icmp.size() + 32, 0x33);
  Bytes ip = ipv6(src, dst, 58, icmp);
  // A valid request checksum first.
  {
    const uint16_t c =
        ops::ipv6_l4_cksum(ip.data(), ip.data() + 40, static_cast<uint32_t>(icmp.size()), 58);
    std::memcpy(ip.data() + 42, &c, 2);
  }
  ASSERT_EQ(verify_icmp6(ip.data(), ip.data() + 40, static_cast<uint32_t>(icmp.size())), 0);
  ops::echo_reply6(ip.data(), ip.data() + 40);
  EXPECT_EQ(Bytes(ip.begin() + 8, ip.begin() + 24), Bytes(dst.begin(), dst.end()));
  EXPECT_EQ(ip[40], 129);
  EXPECT_EQ(ip[7], 64);
  EXPECT_EQ(verify_icmp6(ip.data(), ip.data() + 40, static_cast<uint32_t>(icmp.size())), 0);
}

TEST(RouterPacketOps, Icmp4ErrorQuotesTheOriginal) {
  const Bytes orig = ipv4(ip4("10.1.0.2"), ip4("10.2.0.2"), 17, udp(33434, 33435, Bytes(32, 7)), 1);
  Bytes buf(28 + orig.size());
  std::copy(orig.begin(), orig.end(), buf.begin() + 28);
  const uint16_t total = ops::write_icmp4_error(buf.data(), ip4("10.1.0.1"), ip4("10.1.0.2"), 11, 0,
                                                0, static_cast<uint16_t>(orig.size()));
  EXPECT_EQ(total, buf.size());
  EXPECT_EQ(ops::rd16(buf.data() + 2), total);
  EXPECT_EQ(buf[9], 1);
  EXPECT_EQ(ops::rd32(buf.data() + 12), ip4("10.1.0.1"));
  EXPECT_EQ(ops::rd32(buf.data() + 16), ip4("10.1.0.2"));
  EXPECT_EQ(verify_sum(buf.data(), 20), 0) << "IP header checksum";
  EXPECT_EQ(buf[20], 11);
  EXPECT_EQ(buf[21], 0);
  EXPECT_EQ(verify_sum(buf.data() + 20, total - 20u), 0) << "ICMP checksum";
  EXPECT_EQ(Bytes(buf.begin() + 28, buf.end()), orig);

  // Fragmentation needed carries the next-hop MTU in the low 16 bits of the rest field.
  ops::write_icmp4_error(buf.data(), ip4("10.1.0.1"), ip4("10.1.0.2"), 3, 4, 1400,
                         static_cast<uint16_t>(orig.size()));
  EXPECT_EQ(ops::rd16(buf.data() + 26), 1400);
  EXPECT_EQ(verify_sum(buf.data() + 20, total - 20u), 0);
  EXPECT_TRUE(ops::icmp4_is_error(3));
  EXPECT_TRUE(ops::icmp4_is_error(11));
  EXPECT_FALSE(ops::icmp4_is_error(8));
  EXPECT_FALSE(ops::icmp4_is_error(0));
}

TEST(RouterPacketOps, Icmp6ErrorChecksumCoversThePseudoHeader) {
  const auto host = ip6("2001:db8:1::2"), us = ip6("2001:db8:1::1");
  const Bytes orig = ipv6(host, ip6("2001:db8:2::2"), 17, udp(1, 2, Bytes(100, 1)), 1);
  Bytes buf(48 + orig.size());
  std::copy(orig.begin(), orig.end(), buf.begin() + 48);
  const uint16_t plen = ops::write_icmp6_error(buf.data(), us.data(), host.data(), 2, 0, 1280,
                                               static_cast<uint16_t>(orig.size()));
  EXPECT_EQ(plen, 8 + orig.size());
  EXPECT_EQ(buf[0] >> 4, 6);
  EXPECT_EQ(ops::rd16(buf.data() + 4), plen);
  EXPECT_EQ(buf[6], 58);
  EXPECT_EQ(buf[40], 2) << "packet too big";
  EXPECT_EQ(ops::rd32(buf.data() + 44), 1280u);
  EXPECT_EQ(verify_icmp6(buf.data(), buf.data() + 40, plen), 0);
  EXPECT_EQ(Bytes(buf.begin() + 48, buf.end()), orig);
  EXPECT_TRUE(ops::icmp6_is_error(1));
  EXPECT_FALSE(ops::icmp6_is_error(128));
}

TEST(RouterPacketOps, ArpFrames) {
  uint8_t f[64];
  const uint16_t len = ops::build_arp(f, kA.data(), kR.data(), ops::kArpReply, kR.data(),
                                      ip4("10.1.0.1"), kA.data(), ip4("10.1.0.2"));
  ASSERT_EQ(len, 60);
  const Bytes expect =
      cat({eth(kA, kR, {}, 0x0806), Bytes{0, 1, 8, 0, 6, 4, 0, 2}, Bytes(kR.begin(), kR.end()),
           Bytes{10, 1, 0, 1}, Bytes(kA.begin(), kA.end()), Bytes{10, 1, 0, 2}, Bytes(18, 0)});
  EXPECT_EQ(Bytes(f, f + len), expect);
}

TEST(RouterPacketOps, NeighbourSolicitationAndAdvertisement) {
  const auto us = ip6("2001:db8:1::1"), target = ip6("2001:db8:1::abcd:1234");
  uint8_t f[128];
  uint16_t len = ops::build_ns(f, kR.data(), us.data(), target.data(), nullptr);
  ASSERT_EQ(len, 14 + 40 + 32);
  EXPECT_EQ(Bytes(f, f + 6), (Bytes{0x33, 0x33, 0xff, 0xcd, 0x12, 0x34})) << "solicited-node MAC";
  const auto group = ip6("ff02::1:ffcd:1234");
  EXPECT_EQ(Bytes(f + 14 + 24, f + 14 + 40), Bytes(group.begin(), group.end()));
  EXPECT_EQ(f[14 + 7], 255) << "hop limit";
  EXPECT_EQ(f[54], 135);
  EXPECT_EQ(Bytes(f + 62, f + 78), Bytes(target.begin(), target.end()));
  EXPECT_EQ(f[78], 1) << "source link-layer option";
  EXPECT_EQ(Bytes(f + 80, f + 86), Bytes(kR.begin(), kR.end()));
  EXPECT_EQ(verify_icmp6(f + 14, f + 54, 32), 0);

  // A DAD probe: from ::, without the source link-layer option.
  len = ops::build_ns(f, kR.data(), nullptr, target.data(), nullptr);
  ASSERT_EQ(len, 14 + 40 + 24);
  EXPECT_EQ(Bytes(f + 22, f + 38), Bytes(16, 0));
  EXPECT_EQ(verify_icmp6(f + 14, f + 54, 24), 0);

  // Unicast NS (a probe of a known neighbour).
  len = ops::build_ns(f, kR.data(), us.data(), target.data(), kA.data());
  EXPECT_EQ(Bytes(f, f + 6), Bytes(kA.begin(), kA.end()));
  EXPECT_EQ(Bytes(f + 38, f + 54), Bytes(target.begin(), target.end()));
  EXPECT_EQ(verify_icmp6(f + 14, f + 54, 32), 0);

  const auto host = ip6("2001:db8:1::2");
  len = ops::build_na(f, kR.data(), kA.data(), host.data(), us.data(),
                      ops::kNaRouter | ops::kNaSolicited | ops::kNaOverride);
  ASSERT_EQ(len, 14 + 40 + 32);
  EXPECT_EQ(f[54], 136);
  EXPECT_EQ(f[58], 0xE0) << "R, S, O";
  EXPECT_EQ(Bytes(f + 22, f + 38), Bytes(us.begin(), us.end())) << "from the target address";
  EXPECT_EQ(f[78], 2) << "target link-layer option";
  EXPECT_EQ(Bytes(f + 80, f + 86), Bytes(kR.begin(), kR.end()));
  EXPECT_EQ(verify_icmp6(f + 14, f + 54, 32), 0);
}

TEST(RouterPacketOps, NdOptionParsing) {
  bool bad = false;
  const uint8_t opts[] = {2, 1, 1, 2, 3, 4, 5, 6, 1, 1, 9, 9, 9, 9, 9, 9};
  const uint8_t* slla = ops::nd_find_lla(opts, sizeof opts, ops::kOptSrcLla, &bad);
  ASSERT_NE(slla, nullptr);
  EXPECT_EQ(slla[0], 9);
  EXPECT_FALSE(bad);
  const uint8_t zero[] = {1, 0, 1, 2, 3, 4, 5, 6};  // a zero-length option: invalid message
  EXPECT_EQ(ops::nd_find_lla(zero, sizeof zero, ops::kOptSrcLla, &bad), nullptr);
  EXPECT_TRUE(bad);
  bad = false;
  const uint8_t overrun[] = {1, 2, 1, 2, 3, 4, 5, 6};  // claims 16 bytes, has 8
  EXPECT_EQ(ops::nd_find_lla(overrun, sizeof overrun, ops::kOptSrcLla, &bad), nullptr);
  EXPECT_TRUE(bad);
}
