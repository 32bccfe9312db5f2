// Port security in the host switch (VlanIngress -> PortSecurity -> L2Lookup ...): a VM port
// with allowed MACs and addresses drops spoofed MAC, IPv4, IPv6, ARP and ND frames with their
// reasons (and learns nothing from them); access ports drop DHCP server messages and router
// advertisements unless trusted; a trusted port and a trunk pass them; a reload changes the
// rules without a restart; vnfctl why names the same drop.
#include <gtest/gtest.h>

#include "common/app.h"
#include "common/why_request.h"
#include "tests/common/frames.h"
#include "tests/dataplane/harness.h"

using namespace testing_frames;
using dptest::SwitchHarness;
using vnf::DropReason;

namespace {

const std::string kPorts = R"(engine: {name: dpsec}
segments:
  - {name: core, vlan: 100}
ports:
  - {name: vm2, type: ring, mode: access, segment: core, security: {trusted: true}}
  - {name: vm3, type: ring, mode: access, segment: core}
  - {name: trunk, type: ring, mode: trunk, segments: [core]}
)";
const std::string kVm1 =
    "  - {name: vm1, type: ring, mode: access, segment: core, security: {macs: "
    "['02:00:00:00:01:01'], ipv4: [10.1.0.10], ipv6: ['2001:db8::10']}}\n";
const std::string kVm1Open = "  - {name: vm1, type: ring, mode: access, segment: core}\n";

const Mac A = mac("02:00:00:00:01:01");  // vm1's own
const Mac X = mac("02:00:00:00:0e:0e");  // someone else's
const Mac D = mac("02:00:00:00:02:02");

using Out = std::map<std::string, std::vector<Bytes>>;

Bytes ip4_udp(const Mac& src, const char* sip, const char* dip, uint16_t sp, uint16_t dp,
              const Mac& dst = kBroadcast) {
  return cat({eth(dst, src, {}, 0x0800), ipv4(ip4(sip), ip4(dip), 17, udp(sp, dp, Bytes(8, 0)))});
}
Bytes arp(const Mac& frame_src, const Mac& sha, const char* spa) {
  return cat({eth(kBroadcast, frame_src, {}, 0x0806), arp_request(sha, ip4(spa), ip4("10.1.0.1"))});
}
Bytes ip6_frame(const Mac& src, const std::string& sip, const std::string& dip, uint8_t next,
                const Bytes& payload, uint16_t vlan = 0) {
  const Bytes e = vlan ? eth(mac("33:33:00:00:00:01"), src, {{0x8100, vlan}}, 0x86DD)
                       : eth(mac("33:33:00:00:00:01"), src, {}, 0x86DD);
  return cat({e, ipv6(ip6(sip), ip6(dip), next, payload, 255)});
}
// ICMPv6 ND: type, 4 bytes flags/reserved, target, then one link-layer address option.
Bytes nd(uint8_t type, const std::string& target, uint8_t opt, const Mac& ll) {
  Bytes b = {type, 0, 0, 0, 0, 0, 0, 0};
  const auto t = ip6(target);
  b.insert(b.end(), t.begin(), t.end());
  b.push_back(opt);
  b.push_back(1);
  b.insert(b.end(), ll.begin(), ll.end());
  return b;
}
Bytes ra() { return Bytes{134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; }

struct Case {
  const char* what;
  const char* port;
  Bytes frame;
  DropReason reason;  // kNone: passes
};

void run(SwitchHarness& h, const Case& c) {
  SCOPED_TRACE(c.what);
  const uint64_t before = c.reason == DropReason::kNone ? 0 : h.drops(c.reason);
  h.send(c.port, c.frame);
  h.poll();
  const Out out = h.recv_all();
  if (c.reason == DropReason::kNone) {
    EXPECT_FALSE(out.empty()) << "dropped, expected to pass";
  } else {
    EXPECT_TRUE(out.empty()) << "passed, expected " << vnf::drop_reason_name(c.reason);
    EXPECT_EQ(h.drops(c.reason), before + 1);
  }
  h.learn();
}

}  // namespace

TEST(VswitchSecurity, SpoofedFramesAreDroppedWithTheirReason) {
  SwitchHarness h(kPorts + kVm1);
  const std::vector<Case> cases = {
      {"own MAC and address", "vm1", ip4_udp(A, "10.1.0.10", "10.1.0.20", 5000, 53),
       DropReason::kNone},
      {"another MAC", "vm1", ip4_udp(X, "10.1.0.10", "10.1.0.20", 5000, 53),
       DropReason::kPsMacSpoof},
      {"another IPv4 address", "vm1", ip4_udp(A, "10.1.0.99", "10.1.0.20", 5000, 53),
       DropReason::kPsIpSpoof},
      {"a DHCP client's request from 0.0.0.0", "vm1",
       ip4_udp(A, "0.0.0.0", "255.255.255.255", 68, 67), DropReason::kNone},
      {"0.0.0.0 for anything else", "vm1", ip4_udp(A, "0.0.0.0", "10.1.0.20", 5000, 53),
       DropReason::kPsIpSpoof},
      {"ARP as itself", "vm1", arp(A, A, "10.1.0.10"), DropReason::kNone},
      {"ARP probe (sender 0.0.0.0)", "vm1", arp(A, A, "0.0.0.0"), DropReason::kNone},
      {"ARP claiming another address", "vm1", arp(A, A, "10.1.0.1"), DropReason::kPsArpSpoof},
      {"ARP with another sender MAC", "vm1", arp(A, X, "10.1.0.10"), DropReason::kPsArpSpoof},
      {"IPv6 from its address", "vm1",
       ip6_frame(A, "2001:db8::10", "2001:db8::20", 17, udp(5000, 53, Bytes(8, 0))),
       DropReason::kNone},
      {"IPv6 from another address", "vm1",
       ip6_frame(A, "2001:db8::99", "2001:db8::20", 17, udp(5000, 53, Bytes(8, 0))),
       DropReason::kPsIpSpoof},
      {"IPv6 from its MAC's link-local", "vm1",
       ip6_frame(A, "fe80::ff:fe00:101", "ff02::1", 58, icmp6_echo(1, 1)), DropReason::kNone},
      {"IPv6 from another link-local", "vm1",
       ip6_frame(A, "fe80::1", "ff02::1", 58, icmp6_echo(1, 1)), DropReason::kPsIpSpoof},
      {"DAD: NS from ::", "vm1",
       ip6_frame(A, "::", "ff02::1:ff00:10", 58, nd(135, "2001:db8::10", 1, A)), DropReason::kNone},
      {"NA for its own address", "vm1",
       ip6_frame(A, "2001:db8::10", "ff02::1", 58, nd(136, "2001:db8::10", 2, A)),
       DropReason::kNone},
      {"NA for another address", "vm1",
       ip6_frame(A, "2001:db8::10", "ff02::1", 58, nd(136, "2001:db8::1", 2, A)),
       DropReason::kPsNdSpoof},
      {"NA with another MAC", "vm1",
       ip6_frame(A, "2001:db8::10", "ff02::1", 58, nd(136, "2001:db8::10", 2, X)),
       DropReason::kPsNdSpoof},
      {"NS with another source MAC", "vm1",
       ip6_frame(A, "2001:db8::10", "ff02::1:ff00:20", 58, nd(135, "2001:db8::20", 1, X)),
       DropReason::kPsNdSpoof},
      {"a router advertisement from a VM", "vm1",
       ip6_frame(A, "fe80::ff:fe00:101", "ff02::1", 58, ra()), DropReason::kPsRogueRa},
      // An access port without lists is still not trusted: no DHCP server, no router.
      {"untrusted: DHCP offer", "vm3", ip4_udp(D, "10.1.0.30", "255.255.255.255", 67, 68),
       DropReason::kPsRogueDhcp},
      {"untrusted: DHCPv6 advertise", "vm3",
       ip6_frame(D, "fe80::2", "fe80::1", 17, udp(547, 546, Bytes(8, 0))),
       DropReason::kPsRogueDhcp},
      {"untrusted: router advertisement", "vm3", ip6_frame(D, "fe80::2", "ff02::1", 58, ra()),
       DropReason::kPsRogueRa},
      {"untrusted: redirect", "vm3",
       ip6_frame(D, "fe80::2", "ff02::1", 58, Bytes{137, 0, 0, 0, 0, 0, 0, 0}),
       DropReason::kPsRogueRa},
      {"untrusted: anything else from any address", "vm3",
       ip4_udp(D, "192.0.2.1", "10.1.0.20", 5000, 53), DropReason::kNone},
      // Trusted ports pass them.
      {"trusted: DHCP offer", "vm2",
       ip4_udp(mac("02:00:00:00:03:03"), "10.1.0.2", "255.255.255.255", 67, 68), DropReason::kNone},
      {"trusted: router advertisement", "vm2",
       ip6_frame(mac("02:00:00:00:03:03"), "fe80::3", "ff02::1", 58, ra()), DropReason::kNone},
      {"trunk (trusted by default): router advertisement", "trunk",
       ip6_frame(mac("02:00:00:00:04:04"), "fe80::4", "ff02::1", 58, ra(), 100), DropReason::kNone},
  };
  for (const Case& c : cases) run(h, c);
  EXPECT_FALSE(h.mac_on(100, "02:00:00:00:0e:0e")) << "a spoofed source MAC was learned";
  EXPECT_TRUE(h.mac_on(100, "02:00:00:00:01:01"));

  // vnfctl why names the same drop, at ingress.
  const vnf::WhyResult w = vnf::run_why(h.engine(), h.sw().why_hooks(),
                                        "port=vm1,src_mac=02:00:00:00:0e:0e,dst_mac=02:00:00:00:02:"
                                        "02,src=10.1.0.10,dst=10.1.0.20,proto=udp,dport=53",
                                        [&] { h.poll(); });
  ASSERT_EQ(w.error, "");
  EXPECT_EQ(vnf::summarize(w.trace).reason, "ps_mac_spoof");
  EXPECT_EQ(w.trace.step[1].stage, vnf::WhyStage::kIngress);
}

TEST(VswitchSecurity, AReloadChangesTheRules) {
  SwitchHarness h(kPorts + kVm1);
  run(h, {"before: another MAC", "vm1", ip4_udp(X, "10.1.0.10", "10.1.0.20", 5000, 53),
          DropReason::kPsMacSpoof});
  ASSERT_TRUE(h.reload_yaml(kPorts + kVm1Open));
  run(h, {"after removing security: that MAC passes", "vm1",
          ip4_udp(X, "10.1.0.99", "10.1.0.20", 5000, 53), DropReason::kNone});
  run(h, {"... but the access port is still not trusted", "vm1",
          ip4_udp(X, "10.1.0.99", "255.255.255.255", 67, 68), DropReason::kPsRogueDhcp});
  ASSERT_TRUE(h.reload_yaml(kPorts + kVm1));
  run(h, {"security back: dropped again", "vm1", ip4_udp(X, "10.1.0.10", "10.1.0.20", 5000, 53),
          DropReason::kPsMacSpoof});
}

// On an untrusted port without lists, VLAN ingress tells port security whether a burst holds
// anything it could refuse; a rogue server message anywhere in a burst of ordinary frames is
// still found, and only it is dropped.
TEST(VswitchSecurity, ARogueServerAmongOrdinaryFramesOfABurst) {
  SwitchHarness h(kPorts + kVm1);
  std::vector<Bytes> burst;
  for (int k = 0; k < 12; ++k)
    burst.push_back(ip4_udp(D, "10.1.0.30", "10.1.0.40", static_cast<uint16_t>(5000 + k), 53));
  burst[5] = ip4_udp(D, "10.1.0.30", "255.255.255.255", 67, 68);  // a DHCP offer
  burst[9] = ip6_frame(D, "fe80::2", "ff02::1", 58, ra());        // a router advertisement
  for (const Bytes& f : burst) h.send("vm3", f);
  h.poll();
  const Out out = h.recv_all();
  // Flooded (nothing learned yet) to the other ports of the segment: vm1, vm2 and the trunk.
  for (const char* port : {"vm1", "vm2", "trunk"}) {
    ASSERT_TRUE(out.count(port)) << port;
    EXPECT_EQ(out.at(port).size(), 10u) << port;
  }
  EXPECT_EQ(h.drops(DropReason::kPsRogueDhcp), 1u);
  EXPECT_EQ(h.drops(DropReason::kPsRogueRa), 1u);
}
