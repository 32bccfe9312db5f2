// The routing stage as the host switch's segment gateway (VlanIngress -> L2Lookup -> routing
// -> firewall -> L2Egress): ARP for the gateway answered from the anycast gateway MAC, a
// packet to another segment held while its neighbour is resolved, then delivered with the
// right MACs and TTL; with a firewall whose zones are segments, only the crossings the rules
// allow pass, and the gateway still answers ping.
#include <gtest/gtest.h>

#include "common/app.h"
#include "tests/common/frames.h"
#include "tests/dataplane/harness.h"

using namespace testing_frames;
using dptest::SwitchHarness;
using vnf::DropReason;

namespace {

const std::string kBase = R"(engine: {name: dprt}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
ports:
  - {name: vm1, type: ring, mode: access, segment: core}
  - {name: vm3, type: ring, mode: access, segment: info}
  - {name: trunk, type: ring, mode: trunk, segments: [core, info]}
router:
  interfaces:
    - {name: gw-core, segment: core, ipv4: [10.1.0.1/24]}
    - {name: gw-info, segment: info, ipv4: [10.2.0.1/24]}
)";

const std::string kFirewall = R"(firewall:
  conntrack: {size: 4096}
  zones:
    - {name: core, segments: [core]}
    - {name: info, segments: [info]}
  rules:
    - {id: core-info-web, from: core, to: info, service: [tcp/80], action: accept, cross_segment: true}
    - {id: core-info-ping, from: core, to: info, service: [icmp/echo-request], action: accept, cross_segment: true}
)";

const Mac A = mac("02:00:00:00:01:01");       // vm1 10.1.0.10 (core)
const Mac C = mac("02:00:00:00:02:03");       // vm3 10.2.0.20 (info)
const Mac GwCore = mac("02:76:72:00:00:64");  // anycast gateway MAC of VLAN 100
const Mac GwInfo = mac("02:76:72:00:00:c8");  // ... of VLAN 200

using Out = std::map<std::string, std::vector<Bytes>>;

// One step of the host: the worker's loop, then the control thread (router: ARP/ND, held
// packets), then the worker again (frames the control thread queued go out).
Out step(SwitchHarness& h, const std::string& port, const Bytes& f) {
  h.send(port, f);
  h.poll();
  h.learn();
  for (int i = 0; i < 3; ++i) {
    h.sw().tick(vnf::monotonic_ms());
    h.poll();
  }
  return h.recv_all();
}

Bytes arp_reply(const Mac& from, const char* ip, const Mac& to, const char* to_ip) {
  Bytes a = arp_request(from, ip4(ip), ip4(to_ip));
  a[7] = 2;  // opcode reply
  std::copy(to.begin(), to.end(), a.begin() + 18);
  return cat({eth(to, from, {}, 0x0806), a});
}

Bytes udp_to(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint8_t ttl = 64) {
  return cat({eth(dst, src, {}, 0x0800),
              ipv4(ip4(sip), ip4(dip), 17, udp(5000, 6000, Bytes(20, 1)), ttl)});
}

Bytes tcp_to(const Mac& dst, const Mac& src, const char* sip, const char* dip, uint16_t dport) {
  return cat(
      {eth(dst, src, {}, 0x0800), ipv4(ip4(sip), ip4(dip), 6, tcp(40000, dport, 0x02, 1, 0))});
}

const uint8_t* ip_of(const Bytes& f) { return f.data() + 14; }

// At start the gateways announce themselves (gratuitous ARP, flooded in their segment); then
// vm1 and vm3 each ARP for their gateway and get its anycast MAC.
void meet_the_gateway(SwitchHarness& h, bool vm3_too) {
  for (int i = 0; i < 3; ++i) {
    h.sw().tick(vnf::monotonic_ms());
    h.poll();
  }
  Out garp = h.recv_all();
  ASSERT_EQ(garp["vm1"].size(), 1u) << "no gratuitous ARP from the core gateway";
  EXPECT_EQ(Mac(std::array<uint8_t, 6>{garp["vm1"][0][6], garp["vm1"][0][7], garp["vm1"][0][8],
                                       garp["vm1"][0][9], garp["vm1"][0][10], garp["vm1"][0][11]}),
            GwCore);
  ASSERT_EQ(garp["vm3"].size(), 1u) << "no gratuitous ARP from the info gateway";
  EXPECT_EQ(garp["trunk"].size(), 2u) << "the trunk carries both announcements, tagged";
  Out out = step(
      h, "vm1",
      cat({eth(kBroadcast, A, {}, 0x0806), arp_request(A, ip4("10.1.0.10"), ip4("10.1.0.1"))}));
  ASSERT_EQ(out["vm1"].size(), 1u) << "no ARP reply from the core gateway";
  const Bytes& r = out["vm1"][0];
  EXPECT_EQ(Mac(std::array<uint8_t, 6>{r[6], r[7], r[8], r[9], r[10], r[11]}), GwCore);
  EXPECT_EQ(r[21], 2) << "not an ARP reply";
  if (!vm3_too) return;
  out = step(
      h, "vm3",
      cat({eth(kBroadcast, C, {}, 0x0806), arp_request(C, ip4("10.2.0.20"), ip4("10.2.0.1"))}));
  ASSERT_EQ(out["vm3"].size(), 1u) << "no ARP reply from the info gateway";
}

}  // namespace

TEST(VswitchRouter, RoutesBetweenSegmentsThroughTheAnycastGateway) {
  SwitchHarness h(kBase);
  meet_the_gateway(h, false);  // the router has not heard of vm3 yet

  // vm1 -> vm3 (10.2.0.20): held while the router resolves vm3 in the info segment.
  Out out = step(h, "vm1", udp_to(GwCore, A, "10.1.0.10", "10.2.0.20"));
  ASSERT_EQ(out["vm3"].size(), 1u) << "no ARP request for 10.2.0.20 on the info access port";
  const Bytes& who = out["vm3"][0];
  EXPECT_EQ(who[12], 0x08);
  EXPECT_EQ(who[13], 0x06) << "expected an ARP request";
  ASSERT_EQ(out["trunk"].size(), 1u) << "the request also goes out the trunk, tagged for info";
  EXPECT_EQ(out["trunk"][0][12], 0x81);
  EXPECT_EQ((out["trunk"][0][14] << 8 | out["trunk"][0][15]) & 0xFFF, 200);
  EXPECT_EQ(out.count("vm1"), 0u) << "resolution leaked into the core segment";

  // vm3 answers; the held packet is delivered, routed: MACs rewritten, TTL 63.
  out = step(h, "vm3", arp_reply(C, "10.2.0.20", GwInfo, "10.2.0.1"));
  ASSERT_EQ(out["vm3"].size(), 1u) << "the held packet was not released to vm3";
  const Bytes& f = out["vm3"][0];
  EXPECT_EQ(Mac(std::array<uint8_t, 6>{f[0], f[1], f[2], f[3], f[4], f[5]}), C);
  EXPECT_EQ(Mac(std::array<uint8_t, 6>{f[6], f[7], f[8], f[9], f[10], f[11]}), GwInfo);
  EXPECT_EQ(ip_of(f)[8], 63) << "TTL not decremented";
  Bytes hdr(ip_of(f), ip_of(f) + 20);
  Bytes check = hdr;
  fix_ipv4_checksum(check, 0);
  EXPECT_EQ(hdr, check) << "IPv4 checksum not updated";

  // Now resolved: the next packet goes straight through, and back again.
  out = step(h, "vm1", udp_to(GwCore, A, "10.1.0.10", "10.2.0.20"));
  EXPECT_EQ(out["vm3"].size(), 1u);
  out = step(h, "vm3", udp_to(GwInfo, C, "10.2.0.20", "10.1.0.10"));
  ASSERT_EQ(out["vm1"].size(), 1u) << "the way back";
  EXPECT_EQ(ip_of(out["vm1"][0])[8], 63);

  // TTL 1: the gateway answers with ICMP time exceeded (traceroute's first hop).
  out = step(h, "vm1", udp_to(GwCore, A, "10.1.0.10", "10.2.0.20", 1));
  ASSERT_EQ(out["vm1"].size(), 1u);
  EXPECT_EQ(ip_of(out["vm1"][0])[9], 1) << "not ICMP";
  EXPECT_EQ(ip_of(out["vm1"][0])[20], 11) << "not time exceeded";
}

TEST(VswitchRouter, TheFirewallJudgesRoutedTrafficBySegments) {
  SwitchHarness h(kBase + kFirewall);
  meet_the_gateway(h, true);  // both VMs asked for their gateway: the router knows them

  Out out = step(h, "vm1", tcp_to(GwCore, A, "10.1.0.10", "10.2.0.20", 80));
  ASSERT_EQ(out["vm3"].size(), 1u) << "core -> info tcp/80 is allowed by rule";
  EXPECT_EQ(out.size(), 1u);

  // info -> core: no rule; the zones are segments, judged on both sides of the router.
  out = step(h, "vm3", tcp_to(GwInfo, C, "10.2.0.20", "10.1.0.10", 22));
  EXPECT_EQ(out.count("vm1"), 0u) << "a routed connection info -> core passed the firewall";
  EXPECT_EQ(out.count("vm3"), 0u) << "a reject of a routed frame must not bounce it back";
  EXPECT_GE(h.drops(DropReason::kFwPolicyDrop), 1u);
  // core -> info on a port no rule opens: dropped too.
  const uint64_t before = h.drops(DropReason::kFwPolicyDrop);
  out = step(h, "vm1", tcp_to(GwCore, A, "10.1.0.10", "10.2.0.20", 22));
  EXPECT_EQ(out.count("vm3"), 0u);
  EXPECT_EQ(h.drops(DropReason::kFwPolicyDrop), before + 1);

  // The gateway answers ping itself: that is its own traffic, not a crossing.
  Bytes echo = cat(
      {eth(GwInfo, C, {}, 0x0800), ipv4(ip4("10.2.0.20"), ip4("10.2.0.1"), 1, icmp_echo(7, 1))});
  out = step(h, "vm3", echo);
  ASSERT_EQ(out["vm3"].size(), 1u) << "no echo reply from the gateway with the firewall on";
  EXPECT_EQ(ip_of(out["vm3"][0])[20], 0) << "not an echo reply";
}

// A reload rechecks established connections against the new rules. A routed connection's
// source zone is its ingress segment's, not the egress segment's: the recheck must classify
// it as the first packet was classified, or every routed connection dies at each reload.
TEST(VswitchRouter, RoutedConnectionsSurviveAReload) {
  SwitchHarness h(kBase + kFirewall);
  meet_the_gateway(h, true);
  Out out = step(h, "vm1", tcp_to(GwCore, A, "10.1.0.10", "10.2.0.20", 80));
  ASSERT_EQ(out["vm3"].size(), 1u) << "core -> info tcp/80 is allowed by rule";

  // The same policy plus one unrelated rule: a new generation, the connection still allowed.
  h.apply_yaml(kBase + kFirewall +
               "    - {id: core-info-dns, from: core, to: info, service: [udp/53], action: accept, "
               "cross_segment: true}\n");
  const uint64_t policy_drops_before = h.drops(DropReason::kFwPolicyDrop);
  Bytes syn_ack = cat({eth(GwInfo, C, {}, 0x0800),
                       ipv4(ip4("10.2.0.20"), ip4("10.1.0.10"), 6, tcp(80, 40000, 0x12, 1000, 2))});
  out = step(h, "vm3", syn_ack);
  ASSERT_EQ(out["vm1"].size(), 1u) << "the reply of a routed connection was lost after a reload";
  EXPECT_EQ(h.drops(DropReason::kFwPolicyDrop), policy_drops_before);
}

// Issue #9: from a qinq (dot1q-tunnel) port a tenant's frame keeps its own VLAN tag as
// payload. Routed, it carried that tag into the other segment: on info's access port the
// frame arrived tagged 300, and a trunk with info native would have sent tag 300 outermost.
// Such frames belong to the tenant's tunnelled network and are never routed.
TEST(VswitchRouter, TenantTaggedFramesFromAQinqPortAreNeverRouted) {
  std::string yaml = kBase;
  yaml.replace(yaml.find("segment: core}"), 14, "segment: core, qinq: true}");
  SwitchHarness h(yaml);
  meet_the_gateway(h, true);
  // Untagged from the tunnel port: routed as usual (vm3 resolved, or resolved now).
  Out out = step(h, "vm1", udp_to(GwCore, A, "10.1.0.10", "10.2.0.20"));
  if (out["vm3"].size() == 1 && out["vm3"][0][12] == 0x08 && out["vm3"][0][13] == 0x06)
    out = step(h, "vm3", arp_reply(C, "10.2.0.20", GwInfo, "10.2.0.1"));
  ASSERT_EQ(out["vm3"].size(), 1u) << "the untagged packet was not routed";
  EXPECT_EQ(out["vm3"][0][12], 0x08);
  // The same packet under the tenant's tag 300: not routed, and nothing reaches info.
  const Bytes plain = udp_to(GwCore, A, "10.1.0.10", "10.2.0.20");
  Bytes tagged(plain.begin(), plain.begin() + 12);
  for (uint8_t b : {0x81, 0x00, 0x01, 0x2c}) tagged.push_back(b);
  tagged.insert(tagged.end(), plain.begin() + 12, plain.end());
  out = step(h, "vm1", tagged);
  EXPECT_EQ(out.count("vm3"), 0u) << "a tenant-tagged frame was routed into info";
  for (const auto& f : out["trunk"])
    EXPECT_EQ((f[14] << 8 | f[15]) & 0xFFF, 100) << "left the trunk outside core";
}

// Issue #10: a host-switch reload compiles every part before it publishes any. Here the
// firewall part cannot compile (its zone numbers, never reused, ran out over earlier reloads)
// while the same file moves vm1 into the info segment and the core gateway to another
// address: none of it may be published, and the audit trail says "rejected". (Before: the
// router's and the L2 tables were published, then the firewall threw, and the log said
// "running config unchanged" with half of the new file live.)
TEST(VswitchRouter, AReloadWhoseFirewallCannotCompilePublishesNothing) {
  SwitchHarness h(kBase + kFirewall);
  meet_the_gateway(h, true);
  auto with_zones = [](const std::string& base, const char* prefix) {
    std::string fw = kFirewall, extra;
    for (int i = 0; i < 248; ++i)
      extra += "    - {name: " + std::string(prefix) + std::to_string(i) + ", segments: [core]}\n";
    fw.insert(fw.find("  rules:"), extra);
    return base + fw;
  };
  // 248 more zones (250, the most a file may have): zone numbers 1..250 are taken.
  ASSERT_TRUE(h.reload_yaml(with_zones(kBase, "a"))) << h.sw().audit().last().detail;
  ASSERT_EQ(h.sw().audit().generation(), 2u);
  std::string moved = kBase;
  const std::string vm1 = "{name: vm1, type: ring, mode: access, segment: core}";
  moved.replace(moved.find(vm1), vm1.size(), "{name: vm1, type: ring, mode: access, segment: info}");
  moved.replace(moved.find("ipv4: [10.1.0.1/24]"), 19, "ipv4: [10.1.0.254/24]");
  EXPECT_FALSE(h.reload_yaml(with_zones(moved, "b")));
  const auto rec = h.sw().audit().last();
  EXPECT_FALSE(rec.ok);
  EXPECT_NE(rec.detail.find("no zone number left"), std::string::npos) << rec.detail;
  EXPECT_EQ(h.sw().audit().generation(), 2u);
  EXPECT_EQ(h.sw().config().port("vm1")->segment, "core");

  // L2 unchanged: vm1's broadcast stays in core (the trunk tags it 100; vm3 sees nothing).
  Out out = step(
      h, "vm1",
      cat({eth(kBroadcast, A, {}, 0x0806), arp_request(A, ip4("10.1.0.10"), ip4("10.1.0.99"))}));
  EXPECT_EQ(out.count("vm3"), 0u) << "vm1's broadcast reached the info segment";
  ASSERT_EQ(out["trunk"].size(), 1u);
  EXPECT_EQ((out["trunk"][0][14] << 8 | out["trunk"][0][15]) & 0xFFF, 100);
  // The router unchanged: 10.1.0.1 answers, 10.1.0.254 (the rejected file's) does not.
  out = step(
      h, "vm1",
      cat({eth(kBroadcast, A, {}, 0x0806), arp_request(A, ip4("10.1.0.10"), ip4("10.1.0.1"))}));
  ASSERT_EQ(out["vm1"].size(), 1u) << "the core gateway 10.1.0.1 no longer answers";
  out = step(h, "vm1",
             cat({eth(kBroadcast, A, {}, 0x0806),
                  arp_request(A, ip4("10.1.0.10"), ip4("10.1.0.254"))}));
  EXPECT_EQ(out.count("vm1"), 0u) << "the rejected file's gateway address answers";
  // The firewall unchanged too: routed core -> info web traffic passes as before.
  // (delivered at once if the router knows vm3, else after vm3 answers its ARP request)
  out = step(h, "vm1", tcp_to(GwCore, A, "10.1.0.10", "10.2.0.20", 80));
  size_t tcp_at_vm3 = 0;
  for (int round = 0; round < 2; ++round) {
    for (const auto& f : out["vm3"])
      if (f.size() > 23 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 6) ++tcp_at_vm3;
    out = step(h, "vm3", arp_reply(C, "10.2.0.20", GwInfo, "10.2.0.1"));
  }
  EXPECT_EQ(tcp_at_vm3, 1u) << "core -> info web traffic no longer passes";
}
