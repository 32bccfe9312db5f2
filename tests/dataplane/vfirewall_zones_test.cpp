// vfirewall zones on real DPDK ports (net_ring): every zone's fair share of the connection
// table by default.
#include <gtest/gtest.h>

#include "tests/common/frames.h"
#include "tests/dataplane/fw_harness.h"

using namespace testing_frames;
using dptest::expect_drop;
using dptest::expect_pass;
using dptest::FwHarness;
using vnf::DropReason;

namespace {

const Mac A = mac("02:00:00:00:00:0a");
const Mac B = mac("02:00:00:00:00:0b");

Bytes udp4(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const Mac& to = B,
           const Mac& from = A) {
  return cat({eth(to, from, {}, 0x0800), ipv4(src, dst, 17, udp(sport, dport, Bytes(10, 0x55)))});
}

}  // namespace

// Two tenants, no conn_limit written: the table (64 connections, one worker) is shared. One
// tenant opening connections as fast as it can is refused at its share (32, fw_zone_limit);
// the other still opens its own 32. (Before: the first took all 64 and the second was
// refused everything, fw_table_full.)
TEST(VfirewallZones, EveryZoneGetsItsShareOfTheTableByDefault) {
  FwHarness h(R"(engine: {name: fwshare}
ports:
  - {name: ta, type: ring}
  - {name: tb, type: ring}
  - {name: up, type: ring}
  - {name: up2, type: ring}
wires: [[ta, up], [tb, up2]]
zones:
  - {name: tenant-a, ports: [ta]}
  - {name: tenant-b, ports: [tb]}
  - {name: internet, ports: [up, up2], intra_zone: drop}
rules:
  - {id: out, from: [tenant-a, tenant-b], to: internet, action: accept}
conntrack: {size: 66}
)");
  // 66 connections, 3 zones: 22 each. tenant-a opens connections until it is refused.
  const uint32_t a = ip4("10.1.0.5"), b = ip4("10.2.0.5"), net = ip4("192.0.2.1");
  uint16_t opened = 0;
  while (opened < 200 && h.exchange("ta", udp4(a, net, 1000 + opened, 53)).size() == 1) ++opened;
  EXPECT_EQ(opened, 22u) << "tenant-a is refused at its share";
  EXPECT_EQ(h.drops(DropReason::kFwZoneLimit), 1u);
  expect_drop(h, "ta", udp4(a, net, 1999, 53), DropReason::kFwZoneLimit, "and stays refused");
  // tenant-b still opens its whole share.
  for (uint16_t p = 2000; p < 2022; ++p) expect_pass(h, "tb", "up2", udp4(b, net, p, 53), "tenant-b");
  EXPECT_EQ(h.fw().active("tenant-a"), 22u);
  EXPECT_EQ(h.fw().active("tenant-b"), 22u);
  EXPECT_EQ(h.drops(DropReason::kFwTableFull), 0u);
  // Replies of the admitted connections flow.
  expect_pass(h, "up", "ta", udp4(net, a, 53, 1000, A, B), "a reply to tenant-a");
}
