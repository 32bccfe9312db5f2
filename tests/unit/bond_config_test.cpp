// Bond ports in an appliance file (common/engine_config.h): what a bond accepts, its defaults,
// the EAL arguments it produces, every refusal with its file:line:column, and reloads (a bond's
// settings and members are fixed at start-up).
#include <gtest/gtest.h>

#include <string>

#include "common/engine_config.h"
#include "tests/unit/config_expect.h"
#include "vswitch/config.h"

using vnf::BondHash;
using vnf::BondMode;
using vnf::PortKind;
using vnf::config::ConfigNode;
using vswitch::parse_switch_config;
using vswitch::SwitchConfig;

namespace {

std::string file(const std::string& bond, const std::string& extra = "") {
  return "segments:\n"
         "  - {name: core, vlan: 100}\n"
         "ports:\n"
         "  - {name: vm1, type: ring, mode: access, segment: core}\n"
         "  - name: uplink\n"
         "    type: bond\n"
         "    mode: trunk\n"
         "    segments: [core]\n"
         "    bond:\n" +
         bond + extra;
}

const std::string kMembers =
    "      members:\n"
    "        - {name: eth0, type: af_packet, iface: bondA}\n"
    "        - {name: eth1, type: af_packet, iface: bondB}\n";

SwitchConfig load(const std::string& yaml) {
  return parse_switch_config(ConfigNode::load_string(yaml, "host.yaml"));
}

void refused(const std::string& yaml, int line, int column, const std::string& what) {
  expect_config_error([&] { load(yaml); }, line, column, what, "host.yaml");
}

}  // namespace

TEST(BondConfig, ActiveBackupDefaults) {
  const SwitchConfig c = load(file("      mode: active-backup\n" + kMembers));
  const vnf::PortDevice& d = c.devices.at(1);
  ASSERT_EQ(d.kind, PortKind::kBond);
  ASSERT_TRUE(d.bond);
  EXPECT_EQ(d.bond->mode, BondMode::kActiveBackup);
  EXPECT_EQ(d.bond->primary, "eth0");  // the first member
  EXPECT_TRUE(d.bond->revert);
  EXPECT_EQ(d.bond->up_delay_ms, 0u);
  EXPECT_EQ(d.bond->down_delay_ms, 0u);
  EXPECT_EQ(d.bond->link_poll_ms, 100u);
  ASSERT_EQ(d.bond->members.size(), 2u);
  EXPECT_EQ(d.bond->members[1].kind, PortKind::kAfPacket);
  EXPECT_EQ(d.bond->members[1].iface, "bondB");
  EXPECT_EQ(d.device_name(), "net_bonding_uplink");
  EXPECT_EQ(d.bond->members[0].line, 12);  // members keep their own position for errors
}

TEST(BondConfig, AllSettings) {
  const SwitchConfig c = load(
      file("      mode: 802.3ad\n      hash: l34\n      lacp_rate: slow\n      up_delay_ms: 200\n"
           "      down_delay_ms: 50\n      link_poll_ms: 20\n" +
           kMembers));
  const auto& b = *c.devices.at(1).bond;
  EXPECT_EQ(b.mode, BondMode::kLacp);
  EXPECT_EQ(b.hash, BondHash::kL34);
  EXPECT_EQ(b.up_delay_ms, 200u);
  EXPECT_EQ(b.down_delay_ms, 50u);
  EXPECT_EQ(b.link_poll_ms, 20u);
  const SwitchConfig x = load(file("      mode: balance-xor\n      hash: l23\n" + kMembers));
  EXPECT_EQ(x.devices.at(1).bond->mode, BondMode::kBalanceXor);
  EXPECT_EQ(x.devices.at(1).bond->hash, BondHash::kL23);
  const SwitchConfig ab = load(
      file("      mode: active-backup\n      primary: eth1\n      revert: never\n" + kMembers));
  EXPECT_EQ(ab.devices.at(1).bond->primary, "eth1");
  EXPECT_FALSE(ab.devices.at(1).bond->revert);
}

TEST(BondConfig, Refusals) {
  refused(file("      mode: round-robin\n" + kMembers), 10, 13, "unknown bond mode 'round-robin'");
  refused(file("      members: []\n      mode: active-backup\n"), 10, 16,
          "a bond needs at least one member");
  refused(file("      mode: active-backup\n      members:\n        - {name: b2, type: bond}\n"), 12,
          28, "a bond's member cannot be a bond");
  refused(file("      mode: active-backup\n      members:\n"
               "        - {name: e, type: af_packet, iface: x1}\n"
               "        - {name: e, type: af_packet, iface: x2}\n"),
          13, 18, "member 'e' listed twice");
  refused(file("      mode: active-backup\n      members:\n"
               "        - {name: e, type: af_packet, iface: x1, mtu: 9000}\n"),
          12, 54, "a member carries its bond's mtu");
  refused(file("      mode: active-backup\n      primary: eth9\n" + kMembers), 11, 16,
          "'eth9' is not a member of this bond");
  refused(file("      mode: balance-xor\n      primary: eth0\n" + kMembers), 11, 16,
          "'primary' applies to active-backup bonds");
  refused(file("      mode: active-backup\n      hash: l34\n" + kMembers), 11, 13,
          "'hash' applies to balance-xor and 802.3ad bonds");
  refused(file("      mode: 802.3ad\n      hash: l5\n" + kMembers), 11, 13, "unknown hash 'l5'");
  refused(file("      mode: active-backup\n      revert: sometimes\n" + kMembers), 11, 15,
          "revert is always");
  refused(file("      mode: 802.3ad\n      lacp_rate: fast\n" + kMembers), 11, 18,
          "lacp_rate fast is not available");
  refused(file("      mode: balance-xor\n      lacp_rate: slow\n" + kMembers), 11, 18,
          "'lacp_rate' applies to 802.3ad bonds");
  refused(file("      mode: 802.3ad\n      link_poll_ms: 1\n" + kMembers), 11, 21, "");
  refused(file("      mode: active-backup\n      up_delay: 5\n" + kMembers), 11, 7, "unknown key");
  // A member's name or interface may not be used by another port or member.
  refused(file("      mode: active-backup\n" + kMembers,
               "  - {name: eth0, type: ring, mode: access, segment: core}\n"),
          14, 12, "duplicate port name 'eth0'");
  refused(file("      mode: active-backup\n" + kMembers,
               "  - {name: v2, type: af_packet, iface: bondA, mode: access, segment: core}\n"),
          14, 40, "interface 'bondA' is used by another port");
  refused(file("      mode: active-backup\n" + kMembers,
               "  - {name: v2, type: ring, bond: {mode: active-backup}, mode: access, "
               "segment: core}\n"),
          14, 34, "'bond' applies to a port of type bond, not ring");
  // Without `bond:` there is nothing to bond.
  refused(
      "segments:\n  - {name: core, vlan: 100}\nports:\n"
      "  - {name: u, type: bond, mode: access, segment: core}\n",
      4, 5, "missing required key 'bond'");
}

// A reload may add and remove a bond's members and change its primary, revert and delays; its
// mode, hash, mtu and a member's device need a restart, refused with the position.
TEST(BondConfig, ReloadChangesMembersAndSettingsOnly) {
  const std::string base = file("      mode: active-backup\n" + kMembers);
  const SwitchConfig running = load(base);
  auto reload = [&](const std::string& yaml) {
    const auto root = ConfigNode::load_string(yaml, "host.yaml");
    vswitch::check_reloadable(running, parse_switch_config(root), root);
  };
  EXPECT_NO_THROW(reload(base));
  EXPECT_NO_THROW(
      reload(file("      mode: active-backup\n      revert: never\n      primary: eth1\n"
                  "      up_delay_ms: 500\n" +
                  kMembers)));
  EXPECT_NO_THROW(reload(file("      mode: active-backup\n" + kMembers +
                              "        - {name: eth2, type: af_packet, iface: bondC}\n")));
  EXPECT_NO_THROW(
      reload(file("      mode: active-backup\n      members:\n"
                  "        - {name: eth1, type: af_packet, iface: bondB}\n")));
  expect_config_error([&] { reload(file("      mode: balance-xor\n" + kMembers)); }, 10, 13,
                      "bond 'uplink': its mode changed: that needs a restart");
  expect_config_error(
      [&] {
        reload(
            file("      mode: active-backup\n      members:\n"
                 "        - {name: eth0, type: af_packet, iface: bondX}\n"));
      },
      12, 11, "member 'eth0': its device changed");
  expect_config_error(
      [&] {
        reload(file("      mode: active-backup\n" + kMembers +
                    "        - {name: nic2, type: pci, pci: \"0000:03:00.1\"}\n"));
      },
      14, 11, "new pci member 'nic2': adding a NIC needs a restart");
  const auto next = load(file("      mode: active-backup\n      revert: never\n" + kMembers +
                              "        - {name: eth2, type: af_packet, iface: bondC}\n"));
  const auto d = vnf::diff_bonds(running.devices, next.devices);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0], "bond uplink: members added: eth2; revert never");
}
