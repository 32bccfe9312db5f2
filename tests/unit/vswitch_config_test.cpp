// vswitch config loading: defaults, and every class of error with the file:line:column and
// the key it names. Also: every rules/ file declared for vswitch loads.
#include "vswitch/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using vnf::config::ConfigError;
using vnf::config::ConfigNode;
using vswitch::parse_switch_config;
using vswitch::SwitchConfig;

namespace {

const char* kBase = R"(engine:
  name: t
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
ports:
  - {name: vm1, type: ring, mode: access, segment: core}
  - {name: up, type: ring, mode: trunk, segments: [core, info], native: info}
)";

SwitchConfig load(const std::string& yaml) {
  return parse_switch_config(ConfigNode::load_string(yaml, "host.yaml"));
}

// Expects a ConfigError at line:column whose message contains `what`.
void expect_error(const std::string& yaml, int line, int column, const std::string& what) {
  try {
    load(yaml);
    ADD_FAILURE() << "accepted, expected error '" << what << "' at " << line << ":" << column
                  << "\n"
                  << yaml;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "host.yaml");
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_EQ(e.column(), column) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("host.yaml:" + std::to_string(line) + ":", 0), 0u)
        << e.what();
  }
}

std::string with_port(const std::string& port_line) {
  return std::string(kBase) + port_line + "\n";
}

}  // namespace

TEST(VswitchConfig, DefaultsAndStructure) {
  const SwitchConfig c = load(kBase);
  ASSERT_EQ(c.segments.size(), 2u);
  EXPECT_EQ(c.segments[1].vlan, 200);
  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_EQ(c.ports[0].mode, vswitch::PortMode::kAccess);
  EXPECT_EQ(c.ports[0].mac_limit, vswitch::kDefaultAccessMacLimit);
  EXPECT_EQ(c.ports[1].mac_limit, 0u);  // trunks: unlimited
  EXPECT_EQ(c.ports[1].tpid, 0x8100);
  EXPECT_EQ(c.ports[1].native, "info");
  EXPECT_EQ(c.mac.aging_s, 300u);
  EXPECT_EQ(c.mac.table_size, 65536u);
  EXPECT_EQ(c.engine.workers(), 1u);
  EXPECT_EQ(c.engine.prefix(), "vnf-t");
  EXPECT_EQ(c.port_vlans(c.ports[1]), (std::vector<uint16_t>{100, 200}));
}

TEST(VswitchConfig, DurationsAndHex) {
  const SwitchConfig c =
      load(std::string(kBase) +
           "  - {name: sp, type: ring, mode: trunk, segments: [core], tpid: 0x88a8}\n"
           "mac: {aging: 5m}\n");
  EXPECT_EQ(c.mac.aging_s, 300u);
  EXPECT_EQ(c.ports[2].tpid, 0x88A8);
}

TEST(VswitchConfig, YamlSyntaxError) {
  expect_error("segments:\n  - {name: core, vlan: 100\nports: []\n", 3, 6, "YAML syntax error");
}

TEST(VswitchConfig, UnknownKeyWithSuggestion) {
  expect_error(std::string(kBase) + "mac:\n  agin: 10\n", 10, 3,
               "unknown key (did you mean 'aging'?)");
  expect_error(std::string(kBase) + "segmnts: []\n", 9, 1, "did you mean 'segments'?");
}

TEST(VswitchConfig, MissingRequiredKey) {
  expect_error("segments:\n  - {name: core, vlan: 100}\n", 1, 1, "missing required key 'ports'");
  expect_error(with_port("  - {name: vm2, type: ring, segment: core}"), 9, 5,
               "missing required key 'mode'");
}

TEST(VswitchConfig, SegmentErrors) {
  expect_error("segments:\n  - {name: core, vlan: 4095}\nports: []\n", 2, 24,
               "out of range [1, 4094]");
  expect_error("segments:\n  - {name: core, vlan: 10}\n  - {name: core, vlan: 11}\nports: []\n", 3,
               12, "duplicate segment 'core'");
  expect_error("segments:\n  - {name: a, vlan: 10}\n  - {name: b, vlan: 10}\nports: []\n", 3, 21,
               "VLAN 10 is already segment 'a'");
  expect_error("segments:\n  - {name: a, vlan: ten}\nports: []\n", 2, 21,
               "expected a non-negative integer");
  expect_error("segments:\n  - {name: a-b, vlan: 10}\n  - {name: a_b, vlan: 11}\nports: []\n", 3,
               12, "differ only in");
  expect_error("segments: {name: a}\nports: []\n", 1, 11, "expected a list");
}

TEST(VswitchConfig, PortModeErrors) {
  expect_error(with_port("  - {name: vm2, type: ring, mode: access, segment: cor}"), 9, 52,
               "unknown segment 'cor' (did you mean 'core'?)");
  expect_error(with_port("  - {name: vm2, type: ring, mode: acess, segment: core}"), 9, 35,
               "mode must be access or trunk");
  expect_error(with_port("  - {name: vm2, type: ring, mode: access, segment: core, native: info}"),
               9, 66, "'native' applies to trunk ports only");
  expect_error(with_port("  - {name: t2, type: ring, mode: trunk, segment: core}"), 9, 50,
               "not 'segment'");
  expect_error(with_port("  - {name: t2, type: ring, mode: trunk, segments: [core], native: info}"),
               9, 67, "native segment 'info' must also be listed");
  expect_error(with_port("  - {name: t2, type: ring, mode: trunk, segments: [core, core]}"), 9, 58,
               "listed twice");
  expect_error(with_port("  - {name: t2, type: ring, mode: trunk, segments: []}"), 9, 51,
               "at least one segment");
  expect_error(with_port("  - {name: t2, type: ring, mode: trunk, segments: [core], tpid: 0x1234}"),
               9, 65, "tpid must be");
}

TEST(VswitchConfig, PortSecurity) {
  const SwitchConfig c = load(
      with_port("  - {name: vm2, type: ring, mode: access, segment: core, security: {macs: "
                "['02:00:00:00:00:02'], ipv4: [10.1.0.2, 10.1.1.0/28], ipv6: ['2001:db8::2']}}"));
  const vswitch::SwitchPort& vm2 = *c.port("vm2");
  ASSERT_EQ(vm2.security.macs.size(), 1u);
  EXPECT_EQ(vm2.security.ipv4.size(), 2u);
  EXPECT_EQ(vm2.security.ipv4[0].len, 32);
  EXPECT_EQ(vm2.security.ipv4[1].len, 28);
  EXPECT_EQ(vm2.security.ipv6[0].len, 128);
  EXPECT_FALSE(vm2.security.trusted) << "an access port is not trusted by default";
  EXPECT_FALSE(c.port("vm1")->security.trusted);
  EXPECT_TRUE(c.port("up")->security.trusted) << "a trunk is trusted by default";
  const std::string head = "  - {name: vm2, type: ring, mode: access, segment: core, security: ";
  expect_error(with_port(head + "{macs: ['01:00:5e:00:00:01']}}"), 9, 76,
               "is a group or zero address");
  expect_error(with_port(head + "{macs: [nope]}}"), 9, 76, "'nope' is not a MAC address");
  expect_error(with_port(head + "{macs: []}}"), 9, 75, "leave macs out to check none");
  expect_error(with_port(head + "{ipv4: ['2001:db8::1']}}"), 9, 76, "is not an IPv4 address");
  expect_error(with_port(head + "{ipv4: [10.1.0.1/24]}}"), 9, 76, "host bits");
  expect_error(with_port(head + "{ipv6: [10.1.0.1]}}"), 9, 76, "is not an IPv6 address");
  expect_error(with_port(head + "{trusted: maybe}}"), 9, 78, "expected true or false");
  expect_error(with_port(head + "{colour: red}}"), 9, 69, "unknown key");
  // A reload that changes only port security is a reload, named in the diff.
  const SwitchConfig d = load(with_port(
      "  - {name: vm2, type: ring, mode: access, segment: core, security: {trusted: true}}"));
  const SwitchConfig e =
      load(with_port("  - {name: vm2, type: ring, mode: access, segment: core}"));
  const auto lines = diff(e, d);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "port vm2: security.trusted false -> true");
}

// Issue #9: a qinq port's tenants put their own tags into the segment; a trunk that sends
// that segment untagged (native) lets a tenant's tag reach the upstream switch outermost.
TEST(VswitchConfig, TunnelSegmentIsNeverNativeOnATrunk) {
  // kBase: trunk 'up' carries info natively.
  expect_error(with_port("  - {name: t1, type: ring, mode: access, segment: info, qinq: true}"), 8,
               73, "segment 'info' carries tenant-supplied VLAN tags (qinq port 't1')");
  // A qinq trunk carrying info brings inner tags into info just the same.
  expect_error(with_port("  - {name: q1, type: ring, mode: trunk, segments: [info], tpid: 0x88a8, "
                         "qinq: true}"),
               8, 73, "(qinq port 'q1')");
  // The qinq segment carried tagged on every trunk: accepted. An ordinary access port in the
  // tunnel segment (vm1, and vm9 below) receives the tenants' tags outermost: a warning.
  const SwitchConfig warn = load(with_port(
      "  - {name: t1, type: ring, mode: access, segment: core, qinq: true}\n"
      "  - {name: vm9, type: ring, mode: access, segment: core}"));
  ASSERT_EQ(warn.warnings.size(), 2u);  // vm1 and vm9
  EXPECT_NE(warn.warnings[1].find("host.yaml:10:5: warning: ports[3]: access port 'vm9' is in "
                                  "segment 'core' with qinq port 't1'"),
            std::string::npos)
      << warn.warnings[1];
}

TEST(VswitchConfig, SegmentMacLimits) {
  // Default: an equal share of the table after the static entries.
  SwitchConfig c = load(std::string(kBase) +
                        "mac:\n  table_size: 1024\n  static:\n"
                        "    - {segment: core, mac: \"02:00:00:00:00:01\", port: vm1}\n"
                        "    - {segment: core, mac: \"02:00:00:00:00:02\", port: vm1}\n");
  EXPECT_EQ(c.segments[0].mac_limit, 511u);
  EXPECT_EQ(c.segments[1].mac_limit, 511u);
  EXPECT_TRUE(c.warnings.empty());
  // Configured, within the table: no warning.
  c = load("segments:\n  - {name: core, vlan: 100, mac_limit: 100}\n  - {name: info, vlan: 200}\n"
           "ports: [{name: up, type: ring, mode: trunk, segments: [core, info]}]\n"
           "mac: {table_size: 1024}\n");
  EXPECT_EQ(c.segments[0].mac_limit, 100u);
  EXPECT_FALSE(c.segments[0].mac_limit_default);
  EXPECT_EQ(c.segments[1].mac_limit, 512u);
  EXPECT_TRUE(c.warnings.empty());
  // Unlimited, or promising more than the table holds: accepted, with a warning that says so.
  c = load("segments:\n  - {name: core, vlan: 100, mac_limit: unlimited}\n"
           "  - {name: info, vlan: 200}\n"
           "ports: [{name: up, type: ring, mode: trunk, segments: [core, info]}]\n");
  EXPECT_EQ(c.segments[0].mac_limit, 0u);
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_NE(c.warnings[0].find("host.yaml:2:40: warning: segments[0].mac_limit: segment 'core' may "
                               "fill the whole MAC table"),
            std::string::npos)
      << c.warnings[0];
  EXPECT_NE(c.warnings[1].find("add up to 98304 but the table holds 65536"), std::string::npos)
      << c.warnings[1];
  expect_error("segments: [{name: core, vlan: 100, mac_limit: 0}]\nports: []\n", 1, 47,
               "out of range [1, 16777216]");
  expect_error("segments: [{name: core, vlan: 100, mac_limit: lots}]\nports: []\n", 1, 47,
               "expected a non-negative integer");
}

TEST(VswitchConfig, PortDeviceErrors) {
  expect_error(with_port("  - {name: vm2, type: tapp, mode: access, segment: core}"), 9, 23,
               "unknown port type 'tapp', did you mean 'tap'?");
  expect_error(with_port("  - {name: vm2, type: af_packet, mode: access, segment: core}"), 9, 5,
               "missing required key 'iface'");
  expect_error(with_port("  - {name: vm2, type: null, iface: x, mode: access, segment: core}"), 9,
               36, "'iface' does not apply to a null port");
  expect_error(with_port("  - {name: vm1, type: ring, mode: access, segment: core}"), 9, 12,
               "duplicate port name 'vm1'");
  expect_error(std::string(kBase) +
                   "  - {name: a, type: af_packet, iface: v0, mode: access, segment: core}\n"
                   "  - {name: b, type: af_packet, iface: v0, mode: access, segment: core}\n",
               10, 39, "interface 'v0' is used by another port");
  expect_error(with_port("  - {name: 'bad name', type: ring, mode: access, segment: core}"), 9, 12,
               "port name must match");
  expect_error(with_port("  - {name: vm-1, type: ring, mode: access, segment: core}\n"
                         "  - {name: vm_1, type: ring, mode: access, segment: core}"),
               10, 12, "differ only in");
}

// Issue #9: device values end up in the EAL's "driver,key=value,..." string and in kernel
// calls; each is checked where it is written.
TEST(VswitchConfig, DeviceValuesCannotInjectOrOverflow) {
  expect_error(with_port("  - {name: v, type: af_packet, iface: \"eth0,qpairs=4\", mode: access, "
                         "segment: core}"),
               9, 39, "is not an interface name");
  expect_error(with_port("  - {name: v, type: af_packet, iface: a234567890123456, mode: access, "
                         "segment: core}"),
               9, 39, "'a234567890123456' is not an interface name: 1-15 characters");
  expect_error(with_port("  - {name: v, type: af_packet, iface: ../x, mode: access, segment: core}"),
               9, 39, "is not an interface name");
  expect_error(with_port("  - {name: a234567890123456, type: tap, mode: access, segment: core}"), 9,
               12, "is not an interface name");
  expect_error(with_port("  - {name: v, type: vhost, socket: '', mode: access, segment: core}"), 9,
               36, "'': give the socket's absolute path");
  expect_error(with_port("  - {name: v, type: vhost, socket: v.sock, mode: access, segment: core}"),
               9, 36, "give the socket's absolute path");
  expect_error(with_port("  - {name: v, type: vhost, socket: \"/run/a.sock,client=1\", mode: "
                         "access, segment: core}"),
               9, 36, "contains ','");
  expect_error(with_port("  - {name: v, type: memif, socket: /" + std::string(120, 'x') +
                         ", mode: access, segment: core}"),
               9, 36, "longer than 107 bytes");
  expect_error(with_port("  - {name: v, type: pci, pci: eth0, mode: access, segment: core}"), 9, 31,
               "'eth0' is not a PCI address");
  expect_error(with_port("  - {name: v, type: pci, pci: \"0000:03:00.0,x=1\", mode: access, "
                         "segment: core}"),
               9, 31, "is not a PCI address");
  expect_error(with_port("  - {name: v, type: pcap, rx_pcap: \"/tmp/a.pcap,infinite_rx=1\", mode: "
                         "access, segment: core}"),
               9, 36, "contains ','");
  expect_error(with_port("  - {name: v, type: af_packet, iface: v0, devargs: \"framesz=65536\", "
                         "mode: access, segment: core}"),
               9, 52, "'framesz' is set by the port's own keys");
  EXPECT_NO_THROW(load(with_port("  - {name: v, type: pci, pci: \"03:00.1\", mode: access, "
                                 "segment: core}")));
  EXPECT_NO_THROW(load(with_port("  - {name: v, type: af_packet, iface: eth0.100, devargs: "
                                 "\"qdisc_bypass_x=1\", mode: access, segment: core}")));
}

TEST(VswitchConfig, MacSectionErrors) {
  expect_error(std::string(kBase) + "mac: {aging: 5}\n", 9, 14, "at least 10 seconds");
  expect_error(std::string(kBase) + "mac: {aging: 5y}\n", 9, 14, "unknown duration unit 'y'");
  expect_error(std::string(kBase) + "mac: {table_size: 10}\n", 9, 19, "out of range");
  const std::string st = std::string(kBase) + "mac:\n  static:\n";
  expect_error(st + "    - {segment: core, mac: '01:00:5e:00:00:01', port: vm1}\n", 11, 28,
               "needs a unicast MAC");
  expect_error(st + "    - {segment: core, mac: 'zz:00:00:00:00:01', port: vm1}\n", 11, 28,
               "expected a MAC");
  expect_error(st + "    - {segment: info, mac: '02:00:00:00:00:01', port: vm1}\n", 11, 55,
               "port 'vm1' does not carry segment 'info'");
  expect_error(st + "    - {segment: core, mac: '02:00:00:00:00:01', port: nope}\n", 11, 55,
               "unknown port 'nope'");
  expect_error(st + "    - {segment: core, mac: '02:00:00:00:00:01', port: vm1}\n"
                    "    - {segment: core, mac: '02:00:00:00:00:01', port: up}\n",
               12, 28, "already has a static entry");
}

TEST(VswitchConfig, EngineErrors) {
  const std::string rest = std::string(kBase).substr(std::string("engine:\n  name: t\n").size());
  expect_error("engine: {lcores: [0]}\n" + rest, 1, 18, "at least two lcores");
  expect_error("engine: {log_level: loud}\n" + rest, 1, 21, "log level must be");
  expect_error("engine: {lcores: [0, 0]}\n" + rest, 1, 22, "listed twice");
}

// A VM's port (tap, vhost-user) comes and goes by reload (issue #10); an uplink's kind
// (ring here, af_packet or PCI on a host) still needs a restart, added, removed or changed.
TEST(VswitchConfig, ReloadAddsAndRemovesVmPortsOnly) {
  const std::string vm2 =
      "  - {name: vm2, type: tap, iface: vsw-vm2, mode: access, segment: core}\n";
  const std::string base = std::string(kBase) + vm2;
  const SwitchConfig running = load(base);
  auto accepted = [&](const std::string& yaml) {
    const auto root = ConfigNode::load_string(yaml, "host.yaml");
    EXPECT_NO_THROW(vswitch::check_reloadable(running, parse_switch_config(root), root)) << yaml;
  };
  auto refused = [&](const std::string& yaml, const std::string& what) {
    const auto root = ConfigNode::load_string(yaml, "host.yaml");
    try {
      vswitch::check_reloadable(running, parse_switch_config(root), root);
      ADD_FAILURE() << "reload accepted: " << what;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  accepted(kBase);  // vm2 removed
  accepted(base +
           "  - {name: vm3, type: vhost, socket: /tmp/vsw-vm3.sock, mode: access, "
           "segment: core}\n");
  std::string moved = base;
  moved.replace(moved.find("iface: vsw-vm2"), 14, "iface: vsw-vm2b");
  accepted(moved);  // a changed device: removed, then added
  std::string to_ring = base;
  to_ring.replace(to_ring.find("type: tap, iface: vsw-vm2"), 25, "type: ring");
  refused(to_ring, "its device changed");
  std::string ring_gone = base;
  ring_gone.erase(ring_gone.find("  - {name: vm1"),
                  ring_gone.find("\n", ring_gone.find("  - {name: vm1")) -
                      ring_gone.find("  - {name: vm1") + 1);
  refused(ring_gone, "ring port 'vm1' was removed: removing it needs a restart");
}

TEST(VswitchConfig, ReloadRejectsDeviceAndEngineChanges) {
  const SwitchConfig running = load(kBase);
  auto check = [&](const std::string& yaml, const std::string& what, int line) {
    const auto root = ConfigNode::load_string(yaml, "host.yaml");
    const SwitchConfig next = parse_switch_config(root);
    try {
      vswitch::check_reloadable(running, next, root);
      ADD_FAILURE() << "reload accepted: " << what;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_EQ(e.line(), line) << e.what();
    }
  };
  std::string changed = kBase;
  changed.replace(changed.find("name: vm1, type: ring"), 21, "name: vm1, type: null");
  check(changed, "its device changed", 7);
  std::string eng = kBase;
  eng.replace(eng.find("name: t"), 7, "name: u");
  check(eng, "needs a restart", 2);
  check(std::string(kBase) + "  - {name: vm9, type: ring, mode: access, segment: core}\n",
        "new ring port 'vm9': adding it needs a restart (only tap and vhost ports", 9);
  // A segment change on an existing port is what reloads are for.
  std::string moved = kBase;
  moved.replace(moved.find("segment: core}"), 14, "segment: info}");
  const auto root = ConfigNode::load_string(moved, "host.yaml");
  const SwitchConfig next = parse_switch_config(root);
  EXPECT_NO_THROW(vswitch::check_reloadable(running, next, root));
  const auto d = vswitch::diff(running, next);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0], "port vm1: access core -> access info");
}

// The firewall and router stages exist from start-up with fixed table sizes: a reload that
// adds or removes them, or resizes their tables, is refused instead of silently ignored.
TEST(VswitchConfig, ReloadRejectsStageAndTableSizeChanges) {
  const std::string fw =
      "firewall:\n  conntrack: {size: 4096}\n  zones:\n"
      "    - {name: core, segments: [core]}\n    - {name: info, segments: [info]}\n";
  const std::string rt =
      "router:\n  interfaces:\n    - {name: gw, segment: core, ipv4: [10.1.0.1/24]}\n";
  auto refused = [](const std::string& from, const std::string& to, const std::string& what,
                    int line) {
    const SwitchConfig running = load(from);
    const auto root = ConfigNode::load_string(to, "host.yaml");
    const SwitchConfig next = parse_switch_config(root);
    try {
      vswitch::check_reloadable(running, next, root);
      ADD_FAILURE() << "reload accepted: " << what;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_EQ(e.line(), line) << e.what();
    }
  };
  const std::string base = kBase;
  refused(base, base + fw, "adding the firewall: section needs a restart", 10);
  refused(base + fw, base, "removing the firewall: section needs a restart", 1);
  refused(base, base + rt, "adding the router: section needs a restart", 10);
  std::string bigger = base + fw;
  bigger.replace(bigger.find("size: 4096"), 10, "size: 8192");
  refused(base + fw, bigger, "firewall.conntrack.size is fixed at start-up", 10);
  refused(base + rt, base + rt + "  neighbors: {max_entries: 2048}\n",
          "router.neighbors.max_entries is fixed at start-up", 12);
  // Rules and routes are what reloads are for.
  std::string more = base + fw +
                     "  rules:\n    - {id: r1, from: core, to: info, service: [tcp/80], action: "
                     "accept, cross_segment: true}\n";
  const auto root = ConfigNode::load_string(more, "host.yaml");
  try {
    vswitch::check_reloadable(load(base + fw), parse_switch_config(root), root);
  } catch (const ConfigError& e) {
    ADD_FAILURE() << "a rule change refused: " << e.what();
  }
}

// Every appliance file under rules/ must load with the program it declares in its
// "# program: NAME" header line.
TEST(RulesFiles, EveryVswitchFileLoads) {
  namespace fs = std::filesystem;
  int checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(VNF_SOURCE_DIR) / "rules")) {
    if (!e.is_regular_file() || e.path().extension() != ".yaml") continue;
    std::ifstream in(e.path());
    std::string first;
    std::getline(in, first);
    const std::string tag = "# program: ";
    ASSERT_EQ(first.rfind(tag, 0), 0u)
        << e.path() << ": first line must be '# program: <vswitch|vfirewall|vrouter|include>'";
    if (first.substr(tag.size()) != "vswitch") continue;
    EXPECT_NO_THROW({
      try {
        vswitch::load_switch_config(e.path().string());
      } catch (const ConfigError& err) {
        ADD_FAILURE() << err.what();
        throw;
      }
    }) << e.path();
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

namespace {
// A port line with `limit: X`; col(X, needle) is the column of `needle` in that line.
const std::string kLimitHead = "  - {name: vm2, type: ring, mode: access, segment: core, limit: ";
std::string lim(const std::string& x) { return with_port(kLimitHead + x + "}"); }
int col(const std::string& x, const std::string& needle) {
  return static_cast<int>(kLimitHead.size() + x.find(needle) + 1);
}
void expect_limit_error(const std::string& x, const std::string& at, const std::string& what) {
  expect_error(lim(x), 9, col(x, at), what);
}
}  // namespace

TEST(VswitchConfig, LimitsRatesBurstsAndDefaults) {
  const SwitchConfig c =
      load(lim("{rx: {rate: 50Mbit}, tx: {rate: 1.5Gbit, burst: 64KiB, mode: shape, queue: 100}, "
               "classes: [{name: bulk, match: {remote: 10.9.0.0/24, proto: tcp, ports: 5300-5310}, "
               "rx: {rate: 500kbit, peak_rate: 1Mbit}, tx: {pps: 1000}}]}"));
  const vswitch::PortLimits& l = c.port("vm2")->limit;
  EXPECT_EQ(l.rx.rate_bps, 50'000'000u);
  EXPECT_EQ(l.rx.burst, vswitch::default_police_burst(50'000'000));
  EXPECT_EQ(l.rx.burst, 3'125'000u) << "500 ms at 50 Mbit/s";
  EXPECT_FALSE(l.rx.shape);
  EXPECT_EQ(l.tx.rate_bps, 1'500'000'000u);
  EXPECT_EQ(l.tx.burst, 65'536u);
  EXPECT_TRUE(l.tx.shape);
  EXPECT_EQ(l.tx.queue, 100u);
  ASSERT_EQ(l.classes.size(), 1u);
  const auto& k = l.classes[0];
  EXPECT_EQ(k.proto, 6);
  EXPECT_EQ(k.port_lo, 5300);
  EXPECT_EQ(k.port_hi, 5310);
  ASSERT_TRUE(k.remote.has_value());
  EXPECT_EQ(k.remote->len, 24);
  EXPECT_EQ(k.rx.rate_bps, 500'000u);
  EXPECT_EQ(k.rx.peak_rate_bps, 1'000'000u);
  EXPECT_EQ(k.rx.peak_burst, k.rx.burst);
  EXPECT_EQ(k.rx.burst, 64u * 1024) << "the floor of a policer's default burst";
  EXPECT_EQ(k.tx.pps, 1000u);
  EXPECT_EQ(k.tx.pps_burst, 500u);
  // Boundaries: the smallest and largest rates, bursts in every unit.
  EXPECT_EQ(load(lim("{rx: {rate: 1kbit}}")).port("vm2")->limit.rx.rate_bps, 1000u);
  EXPECT_EQ(load(lim("{rx: {rate: 400Gbit}}")).port("vm2")->limit.rx.rate_bps, 400'000'000'000u);
  EXPECT_EQ(load(lim("{rx: {rate: 64000}}")).port("vm2")->limit.rx.rate_bps, 64'000u);
  EXPECT_EQ(load(lim("{rx: {rate: 1Gbit, burst: 1MB}}")).port("vm2")->limit.rx.burst, 1'000'000u);
  EXPECT_EQ(load(lim("{rx: {rate: 1Gbit, burst: 1522}}")).port("vm2")->limit.rx.burst, 1522u)
      << "the longest frame at mtu 1500, with two VLAN tags";
  EXPECT_EQ(load(lim("{tx: {rate: 10Mbit, mode: shape}}")).port("vm2")->limit.tx.burst, 16u * 1024);
  EXPECT_EQ(load(lim("{tx: {rate: 10Mbit, mode: shape}}")).port("vm2")->limit.tx.queue,
            vswitch::kDefaultShapeQueue);
  // Trunks: per-segment limits.
  const SwitchConfig t = load(std::string(kBase) +
                              "  - {name: up2, type: ring, mode: trunk, segments: [core, info], "
                              "limit: {segments: {info: {rx: {rate: 5Mbit}}}}}\n");
  ASSERT_EQ(t.port("up2")->limit.segments.size(), 1u);
  EXPECT_EQ(t.port("up2")->limit.segments[0].segment, "info");
}

TEST(VswitchConfig, LimitsRefusedWithPosition) {
  expect_limit_error("{rx: {rate: 50M}}", "50M", "write bits per second, like 50Mbit");
  expect_limit_error("{rx: {rate: 50Mbps}}", "50Mbps", "is not a rate");
  expect_limit_error("{rx: {rate: 999}}", "999", "between 1kbit and 400Gbit");
  expect_limit_error("{rx: {rate: 401Gbit}}", "401Gbit", "between 1kbit and 400Gbit");
  expect_limit_error("{rx: {rate: 1Mbit, burst: 1000}}", "1000", "out of range (1518 to");
  expect_limit_error("{rx: {rate: 1Mbit, burst: lots}}", "lots", "is not a size");
  expect_limit_error("{rx: {rate: 1Mbit, burst: 1518}}", "1518",
                     "less than the port's longest frame (1522 bytes)");
  expect_limit_error("{rx: {rate: 1Mbit, peak_rate: 2Mbit, peak_burst: 1520}}", "1520",
                     "less than the port's longest frame");
  expect_error(with_port("  - {name: vm2, type: ring, mtu: 9000, mode: access, segment: core, "
                         "limit: {tx: {rate: 1Gbit, burst: 9000}}}"),
               9, 102, "less than the port's longest frame (9022 bytes)");
  expect_limit_error("{rx: {burst: 64KB}}", "{burst", "needs a rate (bits/s) or pps");
  expect_limit_error("{rx: {rate: 1Mbit, mode: shape}}", "shape", "only a port's tx");
  expect_limit_error("{tx: {rate: 1Mbit, mode: slow}}", "slow", "police or shape");
  expect_limit_error("{tx: {rate: 1Mbit, mode: shape, pps: 10}}", "10}", "is for policing");
  expect_limit_error("{tx: {rate: 1Mbit, queue: 10}}", "10}", "is for a shaper");
  expect_limit_error("{tx: {rate: 1Mbit, mode: shape, queue: 5000}}", "5000", "");
  expect_limit_error("{rx: {rate: 2Mbit, peak_rate: 1Mbit}}", "1Mbit}", "at least rate");
  expect_limit_error("{rx: {rate: 2Mbit, peak_burst: 9000}}", "9000", "needs peak_rate");
  expect_limit_error("{rx: {rate: 2Mbit, peak_rate: 3Mbit, excess_burst: 9000}}", "9000",
                     "a two-rate meter has peak_burst");
  expect_limit_error("{rx: {pps: 10, pps_burst: 0}}", "0}", "");
  expect_limit_error("{rx: {rate: 1Mbit, colour: red}}", "colour", "unknown key");
  expect_limit_error("{}", "{}", "an empty limit");
  expect_limit_error("{classes: [{name: b, match: {}, rx: {rate: 1Mbit}}]}", "{}",
                     "at least one of remote, proto, ports");
  expect_limit_error("{classes: [{name: b, match: {proto: icmp, ports: 80}, rx: {rate: 1Mbit}}]}",
                     "80}", "ports apply to tcp, udp and sctp");
  expect_limit_error("{classes: [{name: b, match: {ports: 90-80}, rx: {rate: 1Mbit}}]}", "90-80",
                     "low to high");
  expect_limit_error("{classes: [{name: b, match: {proto: gre}, rx: {rate: 1Mbit}}]}", "gre",
                     "proto is tcp");
  expect_limit_error("{classes: [{name: b, match: {remote: 10.0.0.300}, rx: {rate: 1Mbit}}]}",
                     "10.0.0.300", "not an address or prefix");
  expect_limit_error("{classes: [{name: b, match: {proto: tcp}}]}", "{name", "limits rx, tx");
  expect_limit_error("{classes: [{name: b, match: {proto: tcp}, tx: {rate: 1Mbit, mode: shape}}]}",
                     "shape", "only a port's tx");
  expect_limit_error(
      "{classes: [{name: b, match: {proto: tcp}, rx: {pps: 1}}, {name: b, match: {proto: udp}, "
      "rx: {pps: 1}}]}",
      "b, match: {proto: udp", "defined twice");
  expect_limit_error("{segments: {core: {rx: {rate: 1Mbit}}}}", "{core", "for trunk ports");
  expect_error(std::string(kBase) +
                   "  - {name: up2, type: ring, mode: trunk, segments: [core], limit: {segments: "
                   "{info: {rx: {rate: 1Mbit}}}}}\n",
               9, 85, "does not carry segment 'info'");
}

TEST(VswitchConfig, LimitsDiff) {
  const SwitchConfig a = load(lim("{rx: {rate: 10Mbit}}"));
  const SwitchConfig b = load(lim("{rx: {rate: 20Mbit}, tx: {rate: 5Mbit, mode: shape}}"));
  const auto lines = diff(a, b);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "port vm2: limit rx rate 10Mbit burst 625KB police -> rate 20Mbit burst "
            "1.25MB police");
  EXPECT_EQ(lines[1], "port vm2: limit tx none -> rate 5Mbit burst 16KiB shape queue 1024");
  EXPECT_TRUE(diff(a, a).empty());
}
