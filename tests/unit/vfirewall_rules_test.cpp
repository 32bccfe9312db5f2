// vfirewall rule language: address arithmetic, config errors with file:line:column, the
// compiler's ACL entries (ranges, groups, IPv6 prefixes, services, zones), lint findings,
// and every rules/ file declared for vfirewall.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/config_expect.h"
#include "vfirewall/rules/compile.h"
#include "vfirewall/rules/config.h"
#include "vfirewall/rules/lint.h"

using namespace vfirewall;
using vnf::config::ConfigError;
using vnf::config::ConfigNode;

namespace {

const char* kHead = R"(engine: {name: t}
ports:
  - {name: in, type: ring}
  - {name: out, type: ring}
wires: [[in, out]]
)";

FirewallConfig load(const std::string& body) {
  return parse_firewall_config(ConfigNode::load_string(std::string(kHead) + body, "fw.yaml"));
}

void expect_error(const std::string& body, int line, int column, const std::string& what) {
  SCOPED_TRACE(body);
  expect_config_error([&] { load(body); }, line, column, what, "fw.yaml");
}

Compiled compile_cfg(const FirewallConfig& c) {
  IdRegistry z, r;
  z.limit = 250;
  r.limit = 65535;
  return compile_with_ports(c, z, r, {{"in", 0}, {"out", 1}});
}

const char* kZones = R"(zones:
  - {name: a, ports: [in]}
  - {name: b, ports: [out]}
)";

u128 v4(const char* s) {
  AddrRange r;
  EXPECT_FALSE(parse_address(s, r));
  return r.lo;
}

}  // namespace

TEST(VfirewallAddress, ParsesPrefixesRangesAndHosts) {
  AddrRange r;
  ASSERT_FALSE(parse_address("10.0.0.0/8", r));
  EXPECT_EQ(r.family, 4);
  EXPECT_EQ(r.lo, u128(0x0A000000));
  EXPECT_EQ(r.hi, u128(0x0AFFFFFF));
  ASSERT_FALSE(parse_address("10.0.0.5-10.0.0.9", r));
  EXPECT_EQ(r.hi - r.lo, u128(4));
  ASSERT_FALSE(parse_address("2001:db8::/32", r));
  EXPECT_EQ(r.family, 6);
  EXPECT_EQ(r.hi - r.lo, (u128(1) << 96) - 1);
  ASSERT_FALSE(parse_address("::/0", r));
  EXPECT_EQ(r.hi, ~u128(0));
  EXPECT_TRUE(parse_address("10.0.0.1/8", r));  // host bits set
  EXPECT_NE(parse_address("10.0.0.1/8", r)->find("did you mean 10.0.0.0/8"), std::string::npos);
  EXPECT_TRUE(parse_address("10.0.0.9-10.0.0.1", r));
  EXPECT_TRUE(parse_address("10.0.0.1-2001:db8::1", r));
  EXPECT_TRUE(parse_address("10.0.0.0/33", r));
  EXPECT_TRUE(parse_address("web-servers", r));
}

TEST(VfirewallAddress, RangesBecomeMinimalPrefixLists) {
  auto p = range_to_prefixes(v4("10.0.0.1"), v4("10.0.0.6"), 32);
  ASSERT_EQ(p.size(), 4u);  // .1/32 .2/31 .4/31 .6/32
  EXPECT_EQ(p[0].len, 32u);
  EXPECT_EQ(p[1].len, 31u);
  EXPECT_EQ(p[2].len, 31u);
  EXPECT_EQ(p[3].len, 32u);
  EXPECT_EQ(range_to_prefixes(0, 0xFFFFFFFFu, 32).size(), 1u);
  EXPECT_EQ(range_to_prefixes(0, 0xFFFFFFFFu, 32)[0].len, 0u);
  EXPECT_EQ(range_to_prefixes(0, ~u128(0), 128)[0].len, 0u);
  AddrRange r;
  ASSERT_FALSE(parse_address("2001:db8::1-2001:db8::ff", r));
  const auto q = range_to_prefixes(r.lo, r.hi, 128);
  EXPECT_EQ(q.size(), 8u);  // ::1/128 ::2/127 ::4/126 ::8/125 ::10/124 ::20/123 ::40/122 ::80/121
  u128 covered = 0;
  for (const auto& x : q) covered += u128(1) << (128 - x.len);
  EXPECT_EQ(covered, r.hi - r.lo + 1);
}

TEST(VfirewallConfig, ErrorsNameFileLineAndColumn) {
  expect_error(std::string(kZones) + "rules:\n  - {id: r1, from: a, to: c, action: accept}\n", 10,
               27, "unknown zone 'c'");
  expect_error(std::string(kZones) +
                   "rules:\n  - {id: r1, from: a, to: b, destination: [webs], action: accept}\n",
               10, 44, "unknown address object 'webs'");
  expect_error(std::string(kZones) +
                   "addresses:\n  - {name: web, prefixes: [10.0.0.1]}\nrules:\n  - {id: r1, from: "
                   "a, to: b, destination: [wbe], action: accept}\n",
               12, 44, "did you mean 'web'");
  expect_error(std::string(kZones) +
                   "rules:\n  - {id: r1, from: a, to: b, service: [tcp/99999], action: accept}\n",
               10, 40, "expected a port");
  expect_error(std::string(kZones) + "rules:\n  - {id: r1, from: a, to: b, action: allow}\n", 10,
               38, "action must be accept, drop or reject");
  expect_error(std::string(kZones) +
                   "rules:\n  - {id: r1, from: a, to: b, action: accept}\n  - {id: r1, from: a, "
                   "to: b, action: drop}\n",
               11, 10, "duplicate rule id");
  expect_error(std::string(kZones) +
                   "addresses:\n  - {name: g1, members: [g2]}\n  - {name: g2, members: [g1]}\n",
               10, 5, "contains itself");
  expect_error(std::string(kZones) + "services:\n  - {name: s, protocol: icmp, ports: [80]}\n", 10,
               38, "only tcp, udp and sctp have ports");
  expect_error(
      std::string(kZones) + "rules:\n  - {id: r1, from: a, to: b, action: accept, logg: true}\n",
      10, 46, "did you mean 'log'");
  expect_error(
      std::string(kZones) + "rules:\n  - {id: r1, from: a, to: b, action: accept, log_rate: 5}\n",
      10, 56, "log_rate without log: true");
  expect_error(std::string(kZones) +
                   "rules:\n  - {id: r1, from: a, to: b, action: accept, log: true, log_rate: "
                   "2000000}\n",
               10, 67, "out of range [1, 1000000]");
  expect_error(std::string(kZones) +
                   "rules:\n  - {id: r1, from: a, to: b, action: accept, log: true, log_rate: 0}\n",
               10, 67, "rules[0].log_rate: 0 would write no record although log: true");
  expect_error(std::string(kZones) + "conntrack: {log_rate: 0}\n", 9, 23,
               "conntrack.log_rate: 0 would silence every logged rule");
  expect_error(std::string(kZones) + "conntrack: {log_ceiling: 0}\n", 9, 26,
               "out of range [1, 1000000]");
  expect_error("zones:\n  - {name: a, ports: [inn]}\n", 7, 23, "unknown port 'inn'");
}

TEST(VfirewallConfig, WiresPairEveryPortOnce) {
  try {
    parse_firewall_config(
        ConfigNode::load_string("ports:\n  - {name: in, type: ring}\n  - {name: out, type: ring}\n "
                                " - {name: x, type: ring}\n"
                                "wires: [[in, out]]\nzones:\n  - {name: a}\n",
                                "fw.yaml"));
    ADD_FAILURE() << "a port outside every wire was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("port 'x' is in no wire"), std::string::npos) << e.what();
    EXPECT_EQ(e.line(), 4);
  }
}

TEST(VfirewallCompile, RangesGroupsAndServicesBecomeAclEntries) {
  const auto c = load(std::string(kZones) + R"(addresses:
  - {name: web, prefixes: [10.1.0.10-10.1.0.20, 10.1.1.0/24]}
  - {name: db, prefixes: [10.2.0.5]}
  - {name: servers, members: [web, db]}
  - {name: v6net, prefixes: ["2001:db8::1-2001:db8::3"]}
services:
  - {name: web-ports, protocol: tcp, ports: [80, "8000-8080"]}
  - {name: webs, members: [web-ports, https]}
  - {name: https, protocol: tcp, ports: [443]}
rules:
  - {id: r1, from: a, to: b, destination: [servers], service: [webs], action: accept}
  - {id: r2, from: [a, b], to: any, source: [v6net], service: [icmp6/echo-request], action: drop}
)");
  const Compiled comp = compile_cfg(c);
  ASSERT_EQ(comp.rules.size(), 2u);
  // r1: 3 destination ranges (web's two, db) x 3 services (80, 8000-8080, 443), IPv4 only
  // (IPv6 needs a v6 destination: 'servers' has none).
  size_t r1 = 0;
  for (const auto& e : comp.v4) {
    if (e.rule != 0) continue;
    ++r1;
    EXPECT_EQ(e.proto, 6);
    EXPECT_EQ(e.proto_mask, 0xFF);
    EXPECT_EQ(e.zsrc_mask, 0xFF);
    EXPECT_EQ(e.src, u128(0));
    EXPECT_EQ(e.src_hi, u128(0xFFFFFFFF));  // source any
    EXPECT_EQ(e.priority, kAclMaxPriority);
  }
  EXPECT_EQ(r1, 9u);
  bool range_seen = false;
  for (const auto& e : comp.v4)
    if (e.dst == v4("10.1.0.10") && e.dst_hi == v4("10.1.0.20") && e.dport_lo == 8000 &&
        e.dport_hi == 8080)
      range_seen = true;
  EXPECT_TRUE(range_seen);
  // r2: IPv6 source range 3 addresses = 2 prefixes (::1/128, ::2/127); 2 from zones; to any;
  // ICMPv6 echo request: sport range over type 128.
  size_t r2 = 0;
  for (const auto& e : comp.v6) {
    ASSERT_EQ(e.rule, 1u);
    ++r2;
    EXPECT_EQ(e.proto, 58);
    EXPECT_EQ(e.zdst_mask, 0);  // any zone
    EXPECT_EQ(e.sport_lo, 128 << 8);
    EXPECT_EQ(e.sport_hi, 128 << 8 | 0xFF);
    EXPECT_EQ(e.priority, kAclMaxPriority - 1);
    EXPECT_EQ(e.dst_len, 0);
  }
  EXPECT_EQ(r2, 4u);
  for (const auto& e : comp.v4) EXPECT_NE(e.rule, 1u) << "ICMPv6 rule compiled into IPv4";
}

TEST(VfirewallCompile, ZonePoliciesAndStableIds) {
  auto c = load(std::string(kZones) + R"(  - {name: c, ports: [in], intra_zone: drop}
policies:
  - {from: a, to: b, action: accept, log: true}
rules:
  - {id: r1, from: a, to: b, action: drop}
)");
  IdRegistry zones, slots;
  zones.limit = 250;
  slots.limit = 65535;
  const Compiled comp = compile_with_ports(c, zones, slots, {{"in", 0}, {"out", 1}});
  const uint8_t a = 1, b = 2, cz = 3;
  auto pol = [&](uint8_t s, uint8_t d) { return comp.policy[s * kMaxZoneIds + d]; };
  EXPECT_EQ(pol(a, b).action, Action::kAccept);
  EXPECT_TRUE(pol(a, b).log);
  EXPECT_EQ(pol(b, a).action, Action::kDrop);    // between zones: deny by default
  EXPECT_EQ(pol(a, a).action, Action::kAccept);  // within a zone: intra_zone (accept)
  EXPECT_EQ(pol(cz, cz).action, Action::kDrop);
  // A reload that inserts a rule and a zone before the others keeps their numbers.
  auto c2 = load(std::string("zones:\n  - {name: new, ports: [out]}\n  - {name: a, ports: [in]}\n  "
                             "- {name: b, ports: [out]}\n") +
                 "rules:\n  - {id: r0, from: a, to: b, action: accept}\n  - {id: r1, from: a, to: "
                 "b, action: drop}\n");
  const Compiled comp2 = compile_with_ports(c2, zones, slots, {{"in", 0}, {"out", 1}});
  EXPECT_EQ(comp2.rules[1].id, "r1");
  EXPECT_EQ(comp2.rules[1].slot, comp.rules[0].slot);
  EXPECT_NE(comp2.rules[0].slot, comp.rules[0].slot);
  EXPECT_EQ(comp2.zones[1].id, a);
  EXPECT_EQ(comp2.zones[0].id, 4);
}

TEST(VfirewallLint, ShadowedUnusedAndCrossSegment) {
  const std::string segs = R"(segments:
  - {name: core, vlan: 100}
  - {name: dmz, vlan: 300}
zones:
  - {name: a, ports: [in], segments: [core]}
  - {name: b, ports: [out], segments: [dmz]}
  - {name: c, ports: [out], segments: [core]}
addresses:
  - {name: net, prefixes: [10.0.0.0/8]}
  - {name: host, prefixes: [10.1.2.3]}
  - {name: spare, prefixes: [192.0.2.0/24]}
services:
  - {name: unused-svc, protocol: udp, ports: [9]}
)";
  // r2 is inside r1 (host within net, port 443 within tcp); r3 crosses core -> dmz.
  const auto c = load(segs + R"(rules:
  - {id: r1, from: a, to: c, destination: [net], service: [tcp], action: accept}
  - {id: r2, from: a, to: c, destination: [host], service: [tcp/443], action: drop}
  - {id: r3, from: a, to: b, service: [tcp/22], action: accept}
  - {id: r4, from: a, to: b, service: [tcp/23], action: accept, cross_segment: true}
  - {id: r5, from: a, to: c, source: [10.0.0.1], destination: ["2001:db8::1"], action: accept}
)");
  const auto f = lint(c);
  auto has = [&](const std::string& text, Finding::Severity sev, int line) {
    for (const auto& x : f)
      if (x.message.find(text) != std::string::npos && x.severity == sev && x.pos.line == line)
        return true;
    return false;
  };
  using S = Finding::Severity;
  EXPECT_TRUE(has("rule 'r2' is shadowed by rule 'r1'", S::kWarning, 21));
  EXPECT_TRUE(has("address object 'spare' is not used", S::kWarning, 16));
  EXPECT_TRUE(has("service 'unused-svc' is not used", S::kWarning, 18));
  EXPECT_TRUE(has("rule 'r3' makes segment 'core' reach segment 'dmz'", S::kError, 22));
  EXPECT_FALSE(has("rule 'r4'", S::kError, 23)) << "cross_segment: true allows it";
  EXPECT_TRUE(has("rule 'r5' can never match", S::kWarning, 24));
  EXPECT_FALSE(has("address object 'host'", S::kWarning, 15));
  EXPECT_THROW(throw_on_lint_errors(f), ConfigError);
  size_t errors = 0;
  for (const auto& x : f) errors += x.severity == S::kError;
  EXPECT_EQ(errors, 1u);
  EXPECT_EQ(f[0].str().rfind("fw.yaml:", 0), 0u);
}

TEST(VfirewallConfig, TimeoutsPerZoneOverrideTheDefaults) {
  const auto c = load(R"(zones:
  - {name: a, ports: [in], timeouts: {tcp_established: 1h, udp_replied: 5m}}
  - {name: b, ports: [out]}
conntrack:
  timeouts: {udp_unreplied: 10s}
)");
  EXPECT_EQ(c.zones[0].timeouts.tcp_established, 3600u);
  EXPECT_EQ(c.zones[0].timeouts.udp_replied, 300u);
  EXPECT_EQ(c.zones[0].timeouts.udp_unreplied, 10u);  // conntrack default
  EXPECT_EQ(c.zones[1].timeouts.tcp_established, 432000u);
  EXPECT_EQ(c.zones[1].timeouts.udp_unreplied, 10u);
}

TEST(RulesFiles, EveryVfirewallFileLoadsAndLintsClean) {
  namespace fs = std::filesystem;
  int checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(VNF_SOURCE_DIR) / "rules")) {
    if (!e.is_regular_file() || e.path().extension() != ".yaml") continue;
    std::ifstream in(e.path());
    std::string first;
    std::getline(in, first);
    if (first != "# program: vfirewall") continue;
    try {
      const FirewallConfig c = load_firewall_config(e.path().string());
      for (const auto& f : lint(c)) EXPECT_NE(f.severity, Finding::Severity::kError) << f.str();
      IdRegistry z, r;
      z.limit = 250;
      r.limit = 65535;
      std::map<std::string, uint16_t> ports;
      for (size_t i = 0; i < c.devices.size(); ++i)
        ports[c.devices[i].name] = static_cast<uint16_t>(i);
      EXPECT_NO_THROW(compile_with_ports(c, z, r, ports)) << e.path();
    } catch (const ConfigError& err) {
      ADD_FAILURE() << err.what();
    }
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// docs/firewall.md promises that its complete examples load: every ```yaml block that starts
// with "# program: vfirewall" is loaded and linted here.
TEST(RulesFiles, FirewallGuideExamplesLoad) {
  std::ifstream in(std::string(VNF_SOURCE_DIR) + "/docs/firewall.md");
  ASSERT_TRUE(in);
  std::string line, block;
  bool inside = false;
  int examples = 0, line_no = 0, start = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!inside && line == "```yaml") {
      inside = true;
      block.clear();
      start = line_no + 1;
    } else if (inside && line == "```") {
      inside = false;
      if (block.rfind("# program: vfirewall", 0) != 0) continue;
      ++examples;
      try {
        const auto c = parse_firewall_config(
            ConfigNode::load_string(block, "firewall.md@" + std::to_string(start)));
        for (const auto& f : lint(c)) ADD_FAILURE() << f.str();
      } catch (const ConfigError& e) {
        ADD_FAILURE() << e.what();
      }
    } else if (inside) {
      block += line + "\n";
    }
  }
  EXPECT_GE(examples, 2);
}
