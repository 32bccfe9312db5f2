// Bond ports in the engine (common/bond.h) on tap members (kernel interfaces whose link the
// test sets; their transmit counters say what they sent: DPDK's bonding driver sets its
// members' MACs, which net_ring cannot take), the control side driven by the test: the
// engine's link decisions (a member's link polled through its driver, as for any member that
// is not kernel-backed), active-backup failover and revert, the RARP announcements out of the
// new active member, down and up delays, and members added and removed by reload.
#include <gtest/gtest.h>

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_ethdev.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/bond.h"
#include "tests/common/frames.h"
#include "tests/dataplane/harness.h"

using namespace testing_frames;
using dptest::SwitchHarness;

namespace {

const Mac A = mac("02:00:00:00:01:01");  // behind vm1
const Mac U = mac("02:00:00:00:0a:0a");  // upstream

std::string host(const std::string& bond, const std::string& members) {
  return "engine: {name: dpbond}\nsegments:\n  - {name: core, vlan: 100}\nports:\n"
         "  - {name: vm1, type: ring, mode: access, segment: core}\n"
         "  - {name: uplink, type: bond, mode: trunk, segments: [core], bond: {" +
         bond + ", members: [" + members + "]}}\n";
}
const std::string kAB =
    "{name: ua, type: tap, iface: dpbondA}, {name: ub, type: tap, iface: dpbondB}";

Bytes from_vm(const Mac& dst = U) {
  return cat({eth(dst, A, {}, 0x0800),
              ipv4(ip4("10.1.0.10"), ip4("10.1.0.1"), 17, udp(40000, 53, Bytes(18, 0)))});
}

std::map<std::string, uint64_t> g_seen;  // member transmit counters at the last look

// The member devices (an appliance's EAL arguments would create them; the harness's EAL is up
// already). Declared before the harness, so they outlive its engine.
struct Members {
  std::vector<std::string> names;
  explicit Members(std::vector<std::string> n) : names(std::move(n)) {
    g_seen.clear();  // new devices count from 0
    for (const auto& x : names)
      if (rte_vdev_init(("net_tap_" + x).c_str(), ("iface=" + iface(x)).c_str()) != 0)
        throw std::runtime_error("cannot create net_tap_" + x);
  }
  ~Members() {
    for (const auto& x : names) rte_vdev_uninit(("net_tap_" + x).c_str());
  }
  static std::string iface(const std::string& member) {
    return "dpbond" + std::string(1, static_cast<char>(std::toupper(member.back())));
  }
};

// Sets a member's kernel interface up or down (a cable plugged or pulled).
void cable(const std::string& member, bool up) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", Members::iface(member).c_str());
  ASSERT_EQ(::ioctl(s, SIOCGIFFLAGS, &ifr), 0);
  if (up)
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  else
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags & ~IFF_UP);
  ASSERT_EQ(::ioctl(s, SIOCSIFFLAGS, &ifr), 0);
  ::close(s);
}

uint16_t member_id(const std::string& name) {
  uint16_t id = 0;
  EXPECT_EQ(rte_eth_dev_get_port_by_name(("net_tap_" + name).c_str(), &id), 0);
  return id;
}

// Frames the member's driver transmitted since the last call.
uint64_t sent(const std::string& name) {
  rte_eth_stats st{};
  rte_eth_stats_get(member_id(name), &st);
  const uint64_t d = st.opackets - g_seen[name];
  g_seen[name] = st.opackets;
  return d;
}

const vnf::BondState& bond(SwitchHarness& h) { return *h.engine().find_port("uplink")->bond; }

// The control loop's link and bond work after `ms` milliseconds, as vnf::run() does it.
void tick(SwitchHarness& h, unsigned ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  h.engine().poll_links();
  h.engine().bond_tick(vnf::steady_ms());
}

}  // namespace

TEST(Bond, ActiveBackupSendsOnThePrimaryOnly) {
  Members m({"ua", "ub"});
  SwitchHarness h(host("mode: active-backup, primary: ua", kAB));
  EXPECT_EQ(bond(h).active, 0);
  h.send("vm1", from_vm());
  h.poll(2);
  EXPECT_EQ(sent("ua"), 1u);
  EXPECT_EQ(sent("ub"), 0u);
}

TEST(Bond, FailoverAnnouncesAndRevertsAfterTheUpDelay) {
  Members m({"ua", "ub"});
  SwitchHarness h(host("mode: active-backup, primary: ua, up_delay_ms: 800", kAB));
  h.send("vm1", from_vm());
  h.poll(2);
  h.learn();  // A is behind vm1
  sent("ua");
  sent("ub");
  cable("ua", false);
  tick(h, 20);  // the link as the control loop sees it
  EXPECT_EQ(bond(h).active, 1);
  EXPECT_EQ(bond(h).failovers, 1u);
  EXPECT_EQ(bond(h).last_reason, "ua link down");
  h.poll(2);                  // the worker sends the announcements
  EXPECT_EQ(sent("ub"), 1u);  // the RARP for A (its content: tests/system/bond.sh)
  EXPECT_EQ(sent("ua"), 0u);
  EXPECT_EQ(bond(h).announced, 1u);
  h.send("vm1", from_vm());
  h.poll(2);
  EXPECT_EQ(sent("ub"), 1u);
  EXPECT_EQ(sent("ua"), 0u);
  // Back up: not before its up delay, then the primary again (revert: always).
  cable("ua", true);
  tick(h, 100);
  EXPECT_EQ(bond(h).active, 1) << "reverted before up_delay_ms";
  tick(h, 300);
  EXPECT_EQ(bond(h).active, 1) << "reverted before up_delay_ms";
  tick(h, 600);
  EXPECT_EQ(bond(h).active, 0);
  EXPECT_EQ(bond(h).failovers, 2u);
  EXPECT_EQ(bond(h).last_reason, "ua link up for 800 ms");
  h.poll(2);
  EXPECT_EQ(sent("ua"), 1u);  // the RARP for A out of the primary
}

TEST(Bond, RevertNeverStaysAndAllDownTakesTheLinkDown) {
  Members m({"ua", "ub"});
  SwitchHarness h(host("mode: active-backup, primary: ua, revert: never", kAB));
  cable("ua", false);
  tick(h, 20);
  EXPECT_EQ(bond(h).active, 1);
  cable("ua", true);
  tick(h, 20);
  EXPECT_EQ(bond(h).active, 1) << "revert: never went back to the primary";
  cable("ub", false);
  tick(h, 20);
  EXPECT_EQ(bond(h).active, 0);
  cable("ua", false);
  tick(h, 20);
  EXPECT_EQ(bond(h).active, -1);
  EXPECT_FALSE(h.engine().find_port("uplink")->link_up);
  h.send("vm1", from_vm());
  h.poll(2);
  EXPECT_EQ(sent("ua"), 0u);
  EXPECT_EQ(sent("ub"), 0u);
}

TEST(Bond, DownDelayHoldsAShortFlap) {
  Members m({"ua", "ub"});
  SwitchHarness h(host("mode: active-backup, primary: ua, down_delay_ms: 300", kAB));
  cable("ua", false);
  tick(h, 20);
  EXPECT_EQ(bond(h).active, 0) << "failed over before down_delay_ms";
  cable("ua", true);
  tick(h, 20);
  EXPECT_EQ(bond(h).active, 0);
  EXPECT_EQ(bond(h).failovers, 0u);
  cable("ua", false);
  tick(h, 20);
  tick(h, 400);
  EXPECT_EQ(bond(h).active, 1);
}

TEST(Bond, BalanceXorTakesADeadMemberOutAndBack) {
  Members m({"ua", "ub"});
  SwitchHarness h(host("mode: balance-xor, hash: l34", kAB));
  // 16 flows (source ports): the hash spreads them over both members.
  auto flows = [&] {
    for (uint16_t p = 0; p < 16; ++p)
      h.send("vm1", cat({eth(U, A, {}, 0x0800),
                         ipv4(ip4("10.1.0.10"), ip4("10.1.0.1"), 17,
                              udp(static_cast<uint16_t>(40000 + p), 53, Bytes(18, 0)))}));
    h.poll(4);
  };
  flows();
  EXPECT_GT(sent("ua"), 0u);
  EXPECT_GT(sent("ub"), 0u);
  cable("ua", false);
  tick(h, 20);
  EXPECT_FALSE(bond(h).members[0].in_bond);
  flows();
  EXPECT_EQ(sent("ua"), 0u);
  EXPECT_EQ(sent("ub"), 16u);
  cable("ua", true);
  tick(h, 20);
  EXPECT_TRUE(bond(h).members[0].in_bond);
}

TEST(Bond, ReloadAddsAndRemovesMembers) {
  Members m({"ua", "ub"});
  SwitchHarness h(host("mode: active-backup, primary: ua", kAB));
  h.apply_yaml(
      host("mode: active-backup, primary: ua", kAB + ", {name: uc, type: tap, iface: dpbondC}"));
  ASSERT_EQ(bond(h).members.size(), 3u);
  EXPECT_EQ(bond(h).members[2].device.name, "uc");
  EXPECT_EQ(bond(h).active, 0);
  h.apply_yaml(host("mode: active-backup, primary: ub", "{name: ub, type: tap, iface: dpbondB}"));
  ASSERT_EQ(bond(h).members.size(), 1u);
  EXPECT_EQ(bond(h).active, 0);
  EXPECT_EQ(bond(h).members[0].device.name, "ub");
  EXPECT_EQ(bond(h).last_reason, "ua, uc removed by reload");
  h.send("vm1", from_vm());
  h.poll(2);
  EXPECT_EQ(sent("ub"), 1u);
}
