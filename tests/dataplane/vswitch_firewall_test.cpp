// The firewall inside the host vswitch pipeline (VlanIngress -> L2Lookup -> firewall ->
// L2Egress): east-west filtering between the VMs of one segment, floods kept inside the
// zone the firewall judged them for, and a reload that closes what the new rules forbid.
#include <gtest/gtest.h>

#include "tests/common/frames.h"
#include "tests/dataplane/harness.h"

using namespace testing_frames;
using dptest::SwitchHarness;
using vnf::DropReason;

namespace {

// One segment, three VMs: vm1 and vm3 are the web tier, vm2 the database.
const char* kHost = R"(engine: {name: dpfw}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: vm1, type: ring, mode: access, segment: core}
  - {name: vm2, type: ring, mode: access, segment: core}
  - {name: vm3, type: ring, mode: access, segment: core}
firewall:
  conntrack: {size: 4096}
  zones:
    - {name: web, ports: [vm1, vm3]}
    - {name: db, ports: [vm2]}
  rules:
    - {id: web-db, from: web, to: db, service: [tcp/5432], action: accept}
)";

const Mac A = mac("02:00:00:00:01:01");  // vm1 10.1.0.1
const Mac B = mac("02:00:00:00:01:02");  // vm2 10.1.0.2
const Mac C = mac("02:00:00:00:01:03");  // vm3 10.1.0.3

Bytes tcp4(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint16_t sport,
           uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack) {
  return cat(
      {eth(dst, src, {}, 0x0800), ipv4(ip4(sip), ip4(dip), 6, tcp(sport, dport, flags, seq, ack))});
}

Bytes arp_from(const Mac& src, const char* ip) {
  return cat({eth(kBroadcast, src, {}, 0x0806), arp_request(src, ip4(ip), ip4("10.1.0.254"))});
}

using Out = std::map<std::string, std::vector<Bytes>>;

// ARP (non-IP) passes the firewall and floods: the switch learns the three VMs.
void learn_all(SwitchHarness& h) {
  EXPECT_EQ(h.exchange("vm1", arp_from(A, "10.1.0.1")).size(), 2u);
  EXPECT_EQ(h.exchange("vm2", arp_from(B, "10.1.0.2")).size(), 2u);
  EXPECT_EQ(h.exchange("vm3", arp_from(C, "10.1.0.3")).size(), 2u);
}

}  // namespace

TEST(VswitchFirewall, EastWestFollowsTheRulesAndRepliesFlow) {
  SwitchHarness h(kHost);
  learn_all(h);
  const Bytes syn = tcp4(B, A, "10.1.0.1", "10.1.0.2", 40000, 5432, 0x02, 1000, 0);
  Out out = h.exchange("vm1", syn);
  ASSERT_EQ(out.size(), 1u) << "web -> db:5432 is allowed";
  EXPECT_EQ(out["vm2"], std::vector<Bytes>{syn});
  const Bytes synack = tcp4(A, B, "10.1.0.2", "10.1.0.1", 5432, 40000, 0x12, 7000, 1001);
  out = h.exchange("vm2", synack);
  ASSERT_EQ(out.size(), 1u) << "the reply flows without a rule";
  EXPECT_EQ(out["vm1"], std::vector<Bytes>{synack});
  out = h.exchange("vm1", tcp4(B, A, "10.1.0.1", "10.1.0.2", 40000, 5432, 0x10, 1001, 7001));
  EXPECT_EQ(out.size(), 1u);

  // db may not open connections to web, nor may web reach db on another port.
  out = h.exchange("vm2", tcp4(A, B, "10.1.0.2", "10.1.0.1", 41000, 22, 0x02, 5, 0));
  EXPECT_TRUE(out.empty());
  out = h.exchange("vm1", tcp4(B, A, "10.1.0.1", "10.1.0.2", 40001, 22, 0x02, 5, 0));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(h.drops(DropReason::kFwPolicyDrop), 2u);
  // Inside the web zone everything is allowed (intra_zone: accept).
  out = h.exchange("vm3", tcp4(A, C, "10.1.0.3", "10.1.0.1", 42000, 8080, 0x02, 9, 0));
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(out.count("vm1"), 1u);
}

// A frame to a MAC the switch has not learned is flooded. The firewall judges it without
// knowing the egress port; its copies must then stay inside the zone it was judged for,
// never reaching another zone's port.
TEST(VswitchFirewall, FloodsStayInsideTheJudgedZone) {
  SwitchHarness h(kHost);
  learn_all(h);
  const Mac unknown = mac("02:00:00:00:01:99");
  const Bytes to_db_ip = tcp4(unknown, A, "10.1.0.1", "10.1.0.2", 43000, 22, 0x02, 1, 0);
  const Out out = h.exchange("vm1", to_db_ip);
  EXPECT_EQ(out.count("vm2"), 0u) << "a flood leaked into the db zone's port";
  ASSERT_EQ(out.count("vm3"), 1u) << "the flood still reaches the web zone's other port";
  EXPECT_EQ(out.at("vm3"), std::vector<Bytes>{to_db_ip});
  EXPECT_EQ(h.drops(DropReason::kFwPolicyDrop), 1u) << "the db zone's refusal of its copy";
  // Broadcast ARP is a link protocol: it reaches every port of the segment.
  EXPECT_EQ(h.exchange("vm2", arp_from(B, "10.1.0.2")).size(), 2u);
}

TEST(VswitchFirewall, ReloadClosesConnectionsTheNewRulesForbid) {
  SwitchHarness h(kHost);
  learn_all(h);
  ASSERT_EQ(
      h.exchange("vm1", tcp4(B, A, "10.1.0.1", "10.1.0.2", 40000, 5432, 0x02, 1000, 0)).size(), 1u);
  ASSERT_EQ(
      h.exchange("vm2", tcp4(A, B, "10.1.0.2", "10.1.0.1", 5432, 40000, 0x12, 7000, 1001)).size(),
      1u);
  std::string next = kHost;
  next.replace(next.find("    - {id: web-db"), std::string::npos,
               "    - {id: web-db, from: web, to: db, service: [tcp/5433], action: accept}\n");
  h.apply_yaml(next);
  // The established connection's next segment: rechecked against the new rules, closed.
  const Out out =
      h.exchange("vm1", tcp4(B, A, "10.1.0.1", "10.1.0.2", 40000, 5432, 0x10, 1001, 7001));
  EXPECT_TRUE(out.empty());
  EXPECT_GE(h.drops(DropReason::kFwRecheckClosed), 1u);
  EXPECT_NE(h.sw().audit().last().detail.find("firewall rules: 0 added, 1 changed"),
            std::string::npos)
      << h.sw().audit().last().detail;
}

// Anti-spoofing in the host switch: db lives on vm2 and claims 10.1.0.2. A web VM using the
// database's address is dropped (fw_spoofed_source) instead of getting db's rights; the real
// database answers as before. (Before: vm1 sending from 10.1.0.2 was classified web and its
// frame reached vm3, web's intra-zone traffic.)
TEST(VswitchFirewall, AVmCannotUseAnotherZonesAddress) {
  std::string host = kHost;
  host.replace(host.find("    - {name: db, ports: [vm2]}"), 30,
               "    - {name: db, ports: [vm2], networks: [10.1.0.2]}");
  SwitchHarness h(host);
  learn_all(h);
  // web -> db and the reply: the real addresses.
  ASSERT_EQ(
      h.exchange("vm1", tcp4(B, A, "10.1.0.1", "10.1.0.2", 40000, 5432, 0x02, 1000, 0)).size(), 1u);
  Out out = h.exchange("vm2", tcp4(A, B, "10.1.0.2", "10.1.0.1", 5432, 40000, 0x12, 7000, 1001));
  EXPECT_EQ(out.count("vm1"), 1u) << "the database's reply";
  // vm1, then vm3, pretend to be the database towards the other web VM (intra-zone accept).
  out = h.exchange("vm1", tcp4(C, A, "10.1.0.2", "10.1.0.3", 5432, 41000, 0x02, 1, 0));
  EXPECT_TRUE(out.empty()) << "a frame from db's address left vm1";
  out = h.exchange("vm3", tcp4(A, C, "10.1.0.2", "10.1.0.1", 5432, 22, 0x02, 1, 0));
  EXPECT_TRUE(out.empty()) << "a frame from db's address left vm3";
  EXPECT_EQ(h.drops(DropReason::kFwSpoofedSource), 2u);
  // vm3 with its own address is unaffected.
  out = h.exchange("vm3", tcp4(A, C, "10.1.0.3", "10.1.0.1", 42000, 8080, 0x02, 9, 0));
  EXPECT_EQ(out.count("vm1"), 1u);
}

// Each copy of a flood is judged with its own port's zone, as Linux judges each bridged copy
// with its output port. Before: the flood was judged for the first zone of the file whatever
// its destination, so a VM whose ARP entry outlived the switch's MAC table (a restart, aging)
// could not reach an allowed server in another zone until that server spoke first.
TEST(VswitchFirewall, EachFloodCopyIsJudgedByItsPortsZone) {
  SwitchHarness h(kHost);
  EXPECT_EQ(h.exchange("vm1", arp_from(A, "10.1.0.1")).size(), 2u);
  EXPECT_EQ(h.exchange("vm3", arp_from(C, "10.1.0.3")).size(), 2u);
  // vm2's MAC is not known to the switch: web -> db:5432 floods to vm2 (the rule) and vm3
  // (web's own zone).
  const Bytes syn = tcp4(B, A, "10.1.0.1", "10.1.0.2", 40000, 5432, 0x02, 1000, 0);
  Out out = h.exchange("vm1", syn);
  ASSERT_EQ(out.count("vm2"), 1u) << "the copy for the db zone, which its rule accepts";
  EXPECT_EQ(out.at("vm2"), std::vector<Bytes>{syn});
  EXPECT_EQ(out.count("vm3"), 1u) << "the copy for the web zone, intra-zone accept";
  // A reload before the answer: the session opened by the flood is still db's.
  std::string next = kHost;
  next += "    - {id: web-db-ntp, from: web, to: db, service: [udp/123], action: accept}\n";
  h.apply_yaml(next);
  const Bytes synack = tcp4(A, B, "10.1.0.2", "10.1.0.1", 5432, 40000, 0x12, 7000, 1001);
  out = h.exchange("vm2", synack);
  ASSERT_EQ(out.size(), 1u) << "the answer belongs to the connection the flood opened";
  EXPECT_EQ(out["vm1"], std::vector<Bytes>{synack});
  out = h.exchange("vm1", tcp4(B, A, "10.1.0.1", "10.1.0.2", 40000, 5432, 0x10, 1001, 7001));
  ASSERT_EQ(out.size(), 1u) << "vm2 is learned now: unicast, on the session";
  EXPECT_EQ(out.count("vm2"), 1u);
  EXPECT_EQ(h.drops(DropReason::kFwRecheckClosed), 0u);
  // Another reload, after the answer: the session knows vm2's port now.
  next += "    - {id: web-db-dns, from: web, to: db, service: [udp/53], action: accept}\n";
  h.apply_yaml(next);
  out = h.exchange("vm2", tcp4(A, B, "10.1.0.2", "10.1.0.1", 5432, 40000, 0x10, 7001, 1001));
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(h.drops(DropReason::kFwRecheckClosed), 0u);
}

// A flood that every zone refuses is dropped, one drop per refusing zone; a copy for a zone
// whose policy rejects gets no reset (another zone might have taken it).
TEST(VswitchFirewall, AFloodEveryZoneRefusesIsDropped) {
  std::string host = kHost;
  host.replace(host.find("    - {name: web, ports: [vm1, vm3]}"), 36,
               "    - {name: web, ports: [vm1]}\n    - {name: backup, ports: [vm3]}");
  host += "  policies:\n    - {from: web, to: backup, action: reject}\n";
  SwitchHarness h(host);
  EXPECT_EQ(h.exchange("vm1", arp_from(A, "10.1.0.1")).size(), 2u);
  const Mac unknown = mac("02:00:00:00:01:99");
  const Out out =
      h.exchange("vm1", tcp4(unknown, A, "10.1.0.1", "10.1.0.9", 43000, 22, 0x02, 1, 0));
  EXPECT_TRUE(out.empty()) << "no copy, and no reset back to vm1";
  EXPECT_EQ(h.drops(DropReason::kFwPolicyDrop) + h.drops(DropReason::kFwPolicyReject), 2u);
  EXPECT_EQ(h.drops(DropReason::kFwPolicyReject), 1u);
}
