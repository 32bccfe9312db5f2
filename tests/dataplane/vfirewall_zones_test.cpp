// vfirewall zones on real DPDK ports (net_ring): every zone's fair share of the connection
// table by default; a zone's addresses bound to where the zone lives (anti-spoofing).
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

namespace {

// tenant-a lives on vm1 and claims 10.1/16 and 2001:db8:1::/48; lab is told apart by address
// only (it claims nothing); tenant-b lives on vm2 with any address; the internet is the
// uplinks with any address.
const char* kTenants = R"(engine: {name: fwspoof}
ports:
  - {name: vm1, type: ring}
  - {name: vm2, type: ring}
  - {name: up1, type: ring}
  - {name: up2, type: ring}
wires: [[vm1, up1], [vm2, up2]]
zones:
  - {name: tenant-a, ports: [vm1], networks: [10.1.0.0/16, "2001:db8:1::/48"]}
  - {name: lab, networks: [10.9.0.0/16]}
  - {name: tenant-b, ports: [vm2]}
  - {name: internet, ports: [up1, up2]}
rules:
  - {id: out, from: [tenant-a, tenant-b, lab], to: internet, action: accept}
  - {id: web-a, from: internet, to: tenant-a, service: [tcp/443], action: accept}
)";

Bytes tcp4(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint8_t flags,
           const Mac& to = B, const Mac& from = A) {
  return cat({eth(to, from, {}, 0x0800), ipv4(src, dst, 6, tcp(sport, dport, flags, 1000, 0))});
}

Bytes udp6(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  return cat({eth(B, A, {}, 0x86DD), ipv6(ip6(src), ip6(dst), 17, udp(sport, dport, Bytes(8, 1)))});
}

}  // namespace

// A tenant's addresses are bound to the port its zone lives on. (Before: vm2 sending from
// tenant-a's address was classified tenant-b and passed; so did the uplink.)
TEST(VfirewallZones, ClaimedSourceAddressesPassOnlyWhereTheirZoneLives) {
  FwHarness h(kTenants);
  const uint32_t a = ip4("10.1.0.5"), net = ip4("192.0.2.1");
  // The real tenant, and its replies.
  expect_pass(h, "vm1", "up1", udp4(a, net, 5000, 53), "tenant-a from its own port");
  expect_pass(h, "up1", "vm1", udp4(net, a, 53, 5000, A, B), "the reply");
  expect_pass(h, "vm1", "up1", udp6("2001:db8:1::5", "2001:db8:ff::1", 5000, 53), "IPv6 too");
  // tenant-b's VM using tenant-a's addresses: spoofed, counted, no connection.
  const uint64_t before = h.fw().sessions_in_use();
  expect_drop(h, "vm2", udp4(a, net, 5001, 53), DropReason::kFwSpoofedSource,
              "tenant-a's address from vm2");
  expect_drop(h, "vm2", udp4(ip4("10.1.200.1"), net, 5002, 53), DropReason::kFwSpoofedSource,
              "any address of tenant-a's network from vm2");
  expect_drop(h, "vm2", udp6("2001:db8:1::77", "2001:db8:ff::1", 5003, 53),
              DropReason::kFwSpoofedSource, "IPv6: tenant-a's prefix from vm2");
  // Not even a packet of tenant-a's own connection, sent from elsewhere.
  expect_drop(h, "vm2", udp4(a, net, 5000, 53), DropReason::kFwSpoofedSource,
              "a packet of tenant-a's connection from vm2");
  // The internet zone (any address) cannot use tenant-a's addresses either: here a source
  // inside tenant-a's network towards tenant-a's web server.
  expect_drop(h, "up1", tcp4(ip4("10.1.0.9"), ip4("10.1.0.80"), 40000, 443, 0x02, A, B),
              DropReason::kFwSpoofedSource, "tenant-a's address from the uplink");
  expect_pass(h, "up1", "vm1", tcp4(ip4("198.51.100.7"), ip4("10.1.0.80"), 40000, 443, 0x02, A, B),
              "a real internet client reaches tenant-a's web server");
  EXPECT_EQ(h.fw().sessions_in_use(), before + 1);
  // tenant-b with its own addresses, and the unbound lab zone (address only: it claims
  // nothing, so it is not protected either), are unaffected.
  expect_pass(h, "vm2", "up2", udp4(ip4("10.2.0.5"), net, 5004, 53), "tenant-b's own address");
  expect_pass(h, "vm2", "up2", udp4(ip4("10.9.0.5"), net, 5005, 53), "lab's address: unbound");
  EXPECT_EQ(h.drops(DropReason::kFwSpoofedSource), 5u);
}

// A reload that binds an address to another place closes the connections it opened from the
// old one: the recheck applies the binding too.
TEST(VfirewallZones, ReloadBindingAnAddressClosesItsConnectionsFromElsewhere) {
  const std::string both = "networks: [10.1.0.0/16, \"2001:db8:1::/48\"]";
  std::string v4_only = kTenants;
  v4_only.replace(v4_only.find(both), both.size(), "networks: [10.1.0.0/16]");
  FwHarness h(v4_only);
  expect_pass(h, "vm2", "up2", udp6("2001:db8:1::5", "2001:db8:ff::1", 6000, 53),
              "2001:db8:1::5 is nobody's yet: tenant-b");
  EXPECT_EQ(h.fw().sessions_in_use(), 1u);
  h.apply_yaml(kTenants);  // tenant-a now claims 2001:db8:1::/48 on vm1
  h.sweep_all();
  EXPECT_EQ(h.fw().sessions_in_use(), 0u);
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::recheck_closed), 1u);
  expect_drop(h, "vm2", udp6("2001:db8:1::5", "2001:db8:ff::1", 6000, 53),
              DropReason::kFwSpoofedSource, "and its next packet is spoofed");
}

// Zone numbers (255) and rule counter slots (65535) were never given back: after 255 zone
// names over the appliance's life every reload that brought a new one was refused ("no zone
// number left (restart to renumber)"), and a generator that names rules by date ran out of
// slots the same way. Names that neither the running nor the next config has now free their
// numbers; a number given out again starts its counters from zero.
TEST(VfirewallZones, RenamingZonesAndRulesAtEveryReloadNeverRunsOut) {
  constexpr int kRules = 220;  // x 300 reloads: more than the 65535 slots
  auto cfg = [](int n) {
    const std::string s = std::to_string(n);
    std::string y = "engine: {name: fwrename}\nports:\n  - {name: a, type: ring}\n  - {name: b, "
                    "type: ring}\nwires: [[a, b]]\nzones:\n  - {name: in" + s +
                    ", ports: [a]}\n  - {name: out" + s + ", ports: [b]}\nrules:\n";
    for (int k = 0; k < kRules; ++k)
      y += "  - {id: r" + s + "_" + std::to_string(k) + ", from: in" + s + ", to: out" + s +
           ", service: [udp/" + std::to_string(1000 + k) + "], action: accept}\n";
    return y;
  };
  FwHarness h(cfg(0));
  const uint32_t a = ip4("10.0.0.1"), b = ip4("10.0.0.2");
  uint16_t sport = 20000;
  for (int n = 0; n <= 300; ++n) {
    if (n > 0) {
      ASSERT_NO_THROW(h.apply_yaml(cfg(n))) << "reload " << n;
    }
    const std::string s = std::to_string(n);
    // Whatever numbers the new names got, they count from zero...
    ASSERT_EQ(h.fw().zone_created("in" + s), 0u) << "reload " << n;
    ASSERT_EQ(h.fw().rule_stats("r" + s + "_0").hits, 0u) << "reload " << n;
    // ... and the config works.
    expect_pass(h, "a", "b", udp4(a, b, sport++, 1000), "a packet for rule 0");
    ASSERT_EQ(h.fw().zone_created("in" + s), 1u) << "reload " << n;
    ASSERT_EQ(h.fw().rule_stats("r" + s + "_0").hits, 1u) << "reload " << n;
    // Slots are reused from about reload 297 on: from 285, every rule gets a hit, and every
    // rule of the next config must start from zero whatever slot it got.
    if (n >= 285) {
      for (int k = 1; k < kRules; ++k) {
        ASSERT_EQ(h.fw().rule_stats("r" + s + "_" + std::to_string(k)).hits, 0u) << n << " " << k;
        expect_pass(h, "a", "b", udp4(a, b, sport++, static_cast<uint16_t>(1000 + k)), "rule k");
      }
    }
  }
  EXPECT_EQ(h.fw().audit().generation(), 301u);
}

// Where a port alone decides a packet side's zone (the first zone taking the port asks nothing
// of segment or address), the snapshot's port_zone answers without a scan; elsewhere the scan
// decides, in config order, as before.
TEST(VfirewallZones, APortDecidesItsZoneOnlyWhenItsFirstZoneAsksNothingMore) {
  FwHarness h(R"(engine: {name: fwpz}
ports:
  - {name: pa, type: ring}
  - {name: pb, type: ring}
  - {name: pc, type: ring}
  - {name: pd, type: ring}
wires: [[pa, pb], [pc, pd]]
zones:
  - {name: lan, ports: [pa], networks: [10.1.0.0/16]}
  - {name: rest, ports: [pa]}
  - {name: srv, ports: [pb]}
  - {name: lab, ports: [pc], networks: [10.3.0.0/16]}
rules:
  - {id: lan-srv, from: lan, to: srv, action: accept}
)");
  const vfirewall::FwSnapshot& s = h.fw().snapshot();
  auto at = [&](const char* port) { return s.port_zone[h.engine().port_id(port)]; };
  EXPECT_EQ(at("pa"), vfirewall::kPortZoneScan);  // lan asks for its networks
  ASSERT_GE(at("pb"), 0);
  EXPECT_EQ(s.zone_names[s.zones[at("pb")].id], "srv");
  EXPECT_EQ(at("pc"), vfirewall::kPortZoneScan);
  EXPECT_EQ(at("pd"), vfirewall::kPortZoneNone);
  const uint32_t srv = ip4("10.2.0.1");
  expect_pass(h, "pa", "pb", udp4(ip4("10.1.0.5"), srv, 6000, 53), "lan -> srv by rule lan-srv");
  expect_pass(h, "pb", "pa", udp4(srv, ip4("10.1.0.5"), 53, 6000, A, B), "its reply");
  expect_drop(h, "pa", udp4(ip4("10.9.0.5"), srv, 6001, 53), DropReason::kFwPolicyDrop,
              "the same port, another address: zone rest, no rule");
  expect_drop(h, "pd", udp4(ip4("10.7.0.5"), ip4("10.7.0.6"), 6002, 53, A, B),
              DropReason::kFwNoZone, "no zone takes pd");
}

// Zones told apart by address put both directions of a conversation on one port. A request and
// its reply in one burst, both new when the burst's lookup ran and both allowed: the reply is
// the request's connection, in its reply direction. (Before: the reply opened a second session
// whose two keys overwrote the first one's in the table, leaving the first orphaned, and its
// expiry later deleted the second one's keys.)
TEST(VfirewallZones, ARequestAndItsReplyInOneBurstAreOneConnection) {
  FwHarness h(R"(engine: {name: fwburst}
ports:
  - {name: pa, type: ring}
  - {name: pb, type: ring}
wires: [[pa, pb]]
zones:
  - {name: left, networks: [10.1.0.0/16]}
  - {name: right, networks: [10.2.0.0/16]}
policies:
  - {from: left, to: right, action: accept}
  - {from: right, to: left, action: accept}
conntrack: {size: 64}
)");
  const uint32_t x = ip4("10.1.0.5"), y = ip4("10.2.0.5");
  h.send("pa", udp4(x, y, 1000, 53));
  h.send("pa", udp4(y, x, 53, 1000));
  h.poll();
  EXPECT_EQ(h.recv("pb").size(), 2u) << "both pass";
  EXPECT_EQ(h.fw().sessions_in_use(), 1u) << "one connection";
  EXPECT_EQ(h.fw().counter(&vfirewall::FwCounters::created), 1u);
  const auto conns = h.dump();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_TRUE(conns[0].flags & vfirewall::session_flags::kReplied) << "the second was its reply";
  // Both directions keep finding it, through the table and then the flow cache.
  for (int k = 0; k < 2; ++k) {
    expect_pass(h, "pa", "pb", udp4(x, y, 1000, 53), "request direction");
    expect_pass(h, "pa", "pb", udp4(y, x, 53, 1000), "reply direction");
  }
  EXPECT_EQ(h.fw().sessions_in_use(), 1u);
}
