// The ECMP flow hash: both directions of a flow hash the same; different flows spread over
// the buckets; fragments and ICMP ignore ports.
#include "vrouter/dp/flow_hash.h"

#include <gtest/gtest.h>

#include <array>
#include <random>

using namespace vrouter;

TEST(FlowHash, SymmetricForIpv4) {
  std::mt19937 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const uint32_t a = rng(), b = rng();
    const auto p = static_cast<uint16_t>(rng()), q = static_cast<uint16_t>(rng());
    const auto proto = static_cast<uint8_t>(rng() & 1 ? 6 : 17);
    ASSERT_EQ(flow_hash4(a, b, proto, p, q), flow_hash4(b, a, proto, q, p))
        << a << " " << b << " " << p << " " << q;
  }
}

TEST(FlowHash, SymmetricForIpv6) {
  std::mt19937 rng(11);
  for (int i = 0; i < 100000; ++i) {
    uint8_t a[16], b[16];
    for (auto& x : a) x = static_cast<uint8_t>(rng());
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    if (i % 3 == 0) std::copy(a, a + 8, b);  // same /64, as on one LAN
    const auto p = static_cast<uint16_t>(rng()), q = static_cast<uint16_t>(rng());
    ASSERT_EQ(flow_hash6(a, b, 6, p, q), flow_hash6(b, a, 6, q, p));
  }
}

TEST(FlowHash, DifferentFlowsSpreadOverTheBuckets) {
  // 64k flows between two /24s (a typical client/server mix): every bucket gets its share
  // within 15%, so an ECMP group of n members splits about evenly.
  std::array<unsigned, 64> count{};
  unsigned flows = 0;
  for (uint32_t c = 1; c < 255; ++c)
    for (uint16_t port = 40000; port < 40256; ++port, ++flows)
      ++count[hash_bucket(flow_hash4(0x0A010000 | c, 0x0A020005, 6, port, 443))];
  const double mean = static_cast<double>(flows) / 64;
  for (unsigned b = 0; b < 64; ++b) {
    EXPECT_GT(count[b], mean * 0.85) << "bucket " << b;
    EXPECT_LT(count[b], mean * 1.15) << "bucket " << b;
  }
}

TEST(FlowHash, PortsAndDirectionMatter) {
  EXPECT_NE(flow_hash4(1, 2, 6, 1000, 80), flow_hash4(1, 2, 6, 1001, 80));
  EXPECT_NE(flow_hash4(1, 2, 6, 1000, 80), flow_hash4(1, 3, 6, 1000, 80));
  EXPECT_NE(flow_hash4(1, 2, 6, 1000, 80), flow_hash4(1, 2, 17, 1000, 80));
  // Swapping only the ports (not the addresses) is another flow.
  uint32_t same = 0;
  for (uint16_t p = 1; p < 1000; ++p)
    same += flow_hash4(0x0A000001, 0x0A000002, 6, p, 80) ==
            flow_hash4(0x0A000001, 0x0A000002, 6, 80, p);
  EXPECT_LE(same, 2u);
}
