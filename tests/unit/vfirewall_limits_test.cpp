// vfirewall rule-set limits: a file whose groups nest too deep, whose objects or rules expand
// too far, or that compiles to too many ACL entries is refused at load time with the
// position of what crosses the limit; groups are resolved once each (a DAG of shared members
// stays cheap); the shadow lint stays bounded.
#include <gtest/gtest.h>

#include <chrono>

#include <fmt/format.h>

#include "tests/unit/config_expect.h"
#include "vfirewall/rules/compile.h"
#include "vfirewall/rules/config.h"
#include "vfirewall/rules/lint.h"
#include "vfirewall/rules/shadow.h"

using namespace vfirewall;
using vnf::config::ConfigError;
using vnf::config::ConfigNode;

namespace {

const char* kHead = R"(engine: {name: t}
ports:
  - {name: in, type: ring}
  - {name: out, type: ring}
wires: [[in, out]]
zones:
  - {name: a, ports: [in]}
  - {name: b, ports: [out]}
)";
constexpr int kHeadLines = 8;

FirewallConfig load(const std::string& body) {
  return parse_firewall_config(ConfigNode::load_string(std::string(kHead) + body, "fw.yaml"));
}

// Expects a ConfigError at `line` (of the whole file) whose message contains `what`.
void expect_refused(const std::string& body, int line, const std::string& what) {
  expect_config_error([&] { load(body); }, line, 0, what, "fw.yaml");
}

// Groups g1..gN, each of two members that both contain the level below: g_i -> [g_{i-1},
// h_{i-1}], h_i -> [g_{i-1}, h_{i-1}]. Expanded naively, g_N visits 2^N leaves.
std::string doubling_groups(int levels) {
  std::string s = "addresses:\n  - {name: g0, prefixes: [10.0.0.1]}\n  - {name: h0, prefixes: "
                  "[10.0.0.2]}\n";
  for (int i = 1; i <= levels; ++i)
    s += fmt::format("  - {{name: g{0}, members: [g{1}, h{1}]}}\n  - {{name: h{0}, members: [g{1}, "
                     "h{1}]}}\n",
                     i, i - 1);
  return s + fmt::format("rules:\n  - {{id: r1, from: a, to: b, destination: [g{}, h{}], action: "
                         "accept}}\n",
                         levels, levels);
}

// `n` hosts that merge into no range: every other address from `first`.
std::string hosts(unsigned n, unsigned first = 0x0A000000) {
  std::string s;
  for (unsigned k = 0; k < n; ++k) {
    const unsigned a = first + 2 * k;
    s += fmt::format("{}{}.{}.{}.{}", k ? ", " : "", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
                     a & 0xff);
  }
  return s;
}

Compiled compile_cfg(const FirewallConfig& c) {
  IdRegistry z, r;
  z.limit = 250;
  r.limit = 65535;
  return compile_with_ports(c, z, r, {{"in", 0}, {"out", 1}});
}

}  // namespace

// Was: 30 levels of two-member groups made --check abort with bad_alloc and a reload get
// the appliance OOM-killed (2^30 expansions). Now the group 17 levels deep is refused where
// it is written, at once.
TEST(VfirewallLimits, GroupsNestingTooDeepAreRefusedWhereTheyAre) {
  const auto start = std::chrono::steady_clock::now();
  // g17 is the 35th address object: line kHeadLines + 1 ("addresses:") + 2 (g0, h0) + 2*16 + 1.
  expect_refused(doubling_groups(30), kHeadLines + 1 + 2 + 2 * 16 + 1,
                 "group 'g17' nests groups 17 levels deep (at most 16)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(VfirewallLimits, SharedMembersAreResolvedOnceEach) {
  // 16 levels: allowed. Naively 2^16 leaf visits per reference, per pass; memoised, each of
  // the 34 objects once. Two addresses in the end, merged into one range.
  const auto c = load(doubling_groups(16));
  Resolver res(c);
  const AddrSet s = res.addresses({"g16", "h16"});
  ASSERT_EQ(s.v4.size(), 1u);
  EXPECT_EQ(s.v4[0].hi - s.v4[0].lo, u128(1));
  const Compiled comp = compile_cfg(c);
  EXPECT_EQ(comp.v4.size(), 1u);
}

TEST(VfirewallLimits, ObjectsThatExpandTooFarAreRefused) {
  // One object with more ranges than allowed (none merge).
  expect_refused(fmt::format("addresses:\n  - {{name: big, prefixes: [{}]}}\n",
                             hosts(kMaxObjectRanges + 1)),
                 kHeadLines + 2, "address object 'big' expands to more than 65536 address ranges");
  // Two objects within the limit; the group of both is over it: refused at the group.
  const std::string two = fmt::format(
      "addresses:\n  - {{name: x, prefixes: [{}]}}\n  - {{name: y, prefixes: [{}]}}\n",
      hosts(40000), hosts(40000, 0x0B000000));
  expect_refused(two + "  - {name: xy, members: [x, y]}\n", kHeadLines + 4,
                 "address object 'xy' expands to more than 65536");
  // A rule naming both: refused at the rule's source.
  expect_refused(two + "rules:\n  - {id: r1, from: a, to: b, source: [x, y], action: accept}\n",
                 kHeadLines + 5, "rule 'r1': its sources expand to more than 65536");
  // Services: more entries than allowed.
  std::string ports;
  for (unsigned p = 0; p <= kMaxObjectServices; ++p) ports += fmt::format("{}{}", p ? ", " : "", 2 * p);
  expect_refused(fmt::format("services:\n  - {{name: many, protocol: tcp, ports: [{}]}}\n", ports),
                 kHeadLines + 2, "service 'many' expands to more than 4096 service entries");
}

TEST(VfirewallLimits, RuleSetsThatCompileToTooManyAclEntriesAreRefused) {
  // 600 sources x 600 destinations = 360000 entries in one rule: over 262144.
  const std::string objs = fmt::format(
      "addresses:\n  - {{name: s, prefixes: [{}]}}\n  - {{name: d, prefixes: [{}]}}\n", hosts(600),
      hosts(600, 0x0B000000));
  expect_refused(objs + "rules:\n  - {id: cross, from: a, to: b, source: [s], destination: [d], "
                        "action: accept}\n",
                 kHeadLines + 5, "rule 'cross' compiles to 360000 ACL entries");
  // The limit is on the whole set: 300 x 300 = 90000 per rule; the third rule crosses it.
  const std::string objs3 = fmt::format(
      "addresses:\n  - {{name: s, prefixes: [{}]}}\n  - {{name: d, prefixes: [{}]}}\n", hosts(300),
      hosts(300, 0x0B000000));
  std::string rules = "rules:\n";
  for (int i = 1; i <= 3; ++i)
    rules += fmt::format(
        "  - {{id: r{}, from: a, to: b, source: [s], destination: [d], service: [tcp/{}], "
        "action: accept}}\n",
        i, i);
  expect_refused(objs3 + rules, kHeadLines + 7, "rule 'r3' compiles to 90000 ACL entries");
  // Zones multiply too: from [a, b] x to [a, b] x 300 x 300 = 360000.
  expect_refused(objs3 + "rules:\n  - {id: z, from: [a, b], to: [a, b], source: [s], destination: "
                         "[d], action: accept}\n",
                 kHeadLines + 5, "rule 'z' compiles to 360000");
  // Two rules of 90000: accepted, and the compiler makes exactly what the loader counted.
  const auto c = load(objs3 + "rules:\n  - {id: r1, from: a, to: b, source: [s], destination: "
                              "[d], action: accept}\n");
  EXPECT_EQ(compile_cfg(c).v4.size(), 90000u);
  Resolver res(c);
  EXPECT_EQ(acl_entry_count(c.rules[0], res.addresses(c.rules[0].source),
                            res.addresses(c.rules[0].destination), res.services(c.rules[0].service)),
            90000u);
}

TEST(VfirewallLimits, Ipv6RangesCountAsTheirPrefixes) {
  // ::1-::ff is 8 prefixes; x 8 prefixes = 64 entries; both ways the loader and compiler agree.
  const auto c = load(R"(rules:
  - {id: r, from: a, to: b, source: ["2001:db8::1-2001:db8::ff"], destination: ["2001:db8:1::1-2001:db8:1::ff"], service: [tcp/1, udp/2], action: accept}
)");
  Resolver res(c);
  const uint64_t n = acl_entry_count(c.rules[0], res.addresses(c.rules[0].source),
                                     res.addresses(c.rules[0].destination),
                                     res.services(c.rules[0].service));
  EXPECT_EQ(n, 128u);
  EXPECT_EQ(compile_cfg(c).v6.size(), 128u);
  EXPECT_EQ(range_prefix_count(1, 0xff, 128), 8u);
}

TEST(VfirewallLimits, ServicesMergeAndTheWholeProtocolAbsorbsItsPorts) {
  std::vector<ServiceEntry> v = {{6, false, 80, 80},   {6, false, 81, 90}, {17, false, 53, 53},
                                 {6, false, 443, 443}, {1, true, 0x0800, 0x08FF},
                                 {1, false, 0, 0xFFFF}};
  normalize_services(v);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0], (ServiceEntry{1, false, 0, 0xFFFF}));  // icmp: all types absorb echo-request
  EXPECT_EQ(v[1], (ServiceEntry{6, false, 80, 90}));
  EXPECT_EQ(v[2], (ServiceEntry{6, false, 443, 443}));
  EXPECT_EQ(v[3], (ServiceEntry{17, false, 53, 53}));
  std::vector<ServiceEntry> any = {{6, false, 80, 80}, {}};
  normalize_services(any);
  EXPECT_EQ(any, std::vector<ServiceEntry>{ServiceEntry{}});
  // Coverage on merged sets: 80-90 covers 85; icmp (all) covers echo-request; tcp not udp.
  EXPECT_TRUE(services_cover(v, {{6, false, 85, 85}}));
  EXPECT_TRUE(services_cover(v, {{1, true, 0x0800, 0x08FF}}));
  EXPECT_FALSE(services_cover(v, {{17, false, 54, 54}}));
  EXPECT_FALSE(services_cover(v, {ServiceEntry{}}));
}

// The shadow lint compares a rule only with the earlier rules that could cover it, and gives
// up (saying so) past its budget instead of running for minutes.
TEST(VfirewallLimits, ShadowLintFindsTheFirstCoveringRuleAndStaysBounded) {
  std::string rules = "rules:\n";
  // Specific rules first (distinct /32 sources, distinct ports), then a broad one and copies.
  for (int i = 0; i < 2000; ++i)
    rules += fmt::format(
        "  - {{id: s{}, from: a, to: b, source: [10.{}.{}.1], service: [tcp/{}], action: "
        "accept}}\n",
        i, i / 256, i % 256, 1000 + i);
  rules += "  - {id: broad, from: any, to: b, source: [10.0.0.0/8], service: [tcp], action: drop}\n";
  rules += "  - {id: narrow, from: a, to: b, source: [10.3.3.0/24], service: [tcp/5000-5010], "
           "action: accept}\n";
  rules += "  - {id: copy, from: a, to: b, source: [10.0.5.1], service: [tcp/1005], action: drop}\n";
  rules += "  - {id: other-proto, from: a, to: b, source: [10.0.5.1], service: [udp/1005], action: "
           "accept}\n";
  const auto c = load(rules);
  std::vector<std::string> shadowed;
  for (const auto& f : c.findings)
    if (f.message.find("is shadowed by") != std::string::npos) shadowed.push_back(f.message);
  ASSERT_EQ(shadowed.size(), 2u) << (shadowed.empty() ? "" : shadowed[0]);
  EXPECT_NE(shadowed[0].find("rule 'narrow' is shadowed by rule 'broad'"), std::string::npos);
  EXPECT_NE(shadowed[0].find("'broad' drops what it would accept"), std::string::npos);
  EXPECT_NE(shadowed[1].find("rule 'copy' is shadowed by rule 's5'"), std::string::npos)
      << shadowed[1];

  // Every rule alike: each is shadowed by the first; with a small budget the lint stops and
  // says where.
  std::string same = "rules:\n";
  for (int i = 0; i < 300; ++i)
    same += fmt::format("  - {{id: r{}, from: a, to: b, service: [tcp/22], action: accept}}\n", i);
  const auto d = load(same);
  Resolver res(d);
  std::vector<RuleSets> sets;
  for (const auto& r : d.rules)
    sets.push_back({res.addresses(r.source), res.addresses(r.destination), res.services(r.service)});
  std::vector<Finding> out;
  find_shadowed(d, sets, std::vector<bool>(d.rules.size()), out);
  EXPECT_EQ(out.size(), 299u);  // each found at its first candidate, r0
  out.clear();
  // A budget of 100: each comparison here costs 6 (1 + the sizes of r_j's sets: any source
  // and destination, two ranges each, one service), so the 17th (rule r17) is past it.
  find_shadowed(d, sets, std::vector<bool>(d.rules.size()), out, 100);
  ASSERT_EQ(out.size(), 17u);
  EXPECT_NE(out.back().message.find("shadow check stopped at rule 'r17'"), std::string::npos)
      << out.back().message;
}
