// vfirewall zones: connection limits (the default share of the table, numbers, percentages,
// unlimited) and their lint findings.
#include <gtest/gtest.h>

#include "tests/unit/config_expect.h"
#include "vfirewall/rules/compile.h"
#include "vfirewall/rules/config.h"
#include "vfirewall/rules/lint.h"

using namespace vfirewall;
using vnf::config::ConfigError;
using vnf::config::ConfigNode;

namespace {

// Two workers, 1000 connections each: the table holds 2000.
const char* kHead = R"(engine: {name: t, lcores: [0, 1, 2]}
ports:
  - {name: in, type: ring}
  - {name: out, type: ring}
wires: [[in, out]]
conntrack: {size: 1000}
)";
constexpr int kHeadLines = 6;

FirewallConfig load(const std::string& body) {
  return parse_firewall_config(ConfigNode::load_string(std::string(kHead) + body, "fw.yaml"));
}

void expect_refused(const std::string& body, int line, int column, const std::string& what) {
  SCOPED_TRACE(body);
  expect_config_error([&] { load(body); }, line, column, what);
}

const Finding* find(const FirewallConfig& c, const std::string& text) {
  for (const auto& f : c.findings)
    if (f.message.find(text) != std::string::npos) return &f;
  return nullptr;
}

}  // namespace

TEST(VfirewallZoneLimits, EveryZoneHasItsShareUnlessToldOtherwise) {
  const auto c = load(R"(zones:
  - {name: a, ports: [in]}
  - {name: b, ports: [out], conn_limit: 300}
  - {name: c, ports: [in], conn_limit: 10%}
  - {name: d, ports: [out], conn_limit: 2.5%}
  - {name: e, ports: [in], conn_limit: unlimited}
  - {name: f, ports: [out], conn_limit: 0}
)");
  EXPECT_EQ(table_capacity(c), 2000u);
  EXPECT_EQ(c.zones[0].conn_limit.kind, ConnLimit::Kind::kDefaultShare);
  EXPECT_EQ(effective_conn_limit(c, c.zones[0]), 2000u / 6);  // the table over 6 zones
  EXPECT_EQ(effective_conn_limit(c, c.zones[1]), 300u);
  EXPECT_EQ(effective_conn_limit(c, c.zones[2]), 200u);
  EXPECT_EQ(c.zones[3].conn_limit.value, 250u);  // hundredths of a percent
  EXPECT_EQ(effective_conn_limit(c, c.zones[3]), 50u);
  EXPECT_EQ(effective_conn_limit(c, c.zones[4]), 0u);
  EXPECT_EQ(c.zones[5].conn_limit.kind, ConnLimit::Kind::kUnlimited);  // 0: as before
  // The compiler carries the limit in force (the snapshot divides it between the workers).
  IdRegistry z, r;
  z.limit = 250;
  r.limit = 65535;
  const Compiled comp = compile_with_ports(c, z, r, {{"in", 0}, {"out", 1}});
  EXPECT_EQ(comp.zones[0].conn_limit, 333u);
  EXPECT_EQ(comp.zones[4].conn_limit, 0u);
}

TEST(VfirewallZoneLimits, BadLimitsAreRefusedWhereTheyAreWritten) {
  const std::string z = "zones:\n  - {name: a, ports: [in], conn_limit: ";
  const int line = kHeadLines + 2, col = 40;
  expect_refused(z + "lots}\n", line, col, "conn_limit must be a number of connections, a share");
  expect_refused(z + "150%}\n", line, col, "a share must be above 0% and at most 100%");
  expect_refused(z + "0%}\n", line, col, "a share must be above 0%");
  expect_refused(z + "1.234%}\n", line, col, "conn_limit must be a number");
  expect_refused(z + "-5}\n", line, col, "conn_limit must be a number");
  expect_refused(z + "5.%}\n", line, col, "conn_limit must be a number");
}

TEST(VfirewallZoneLimits, LintWarnsWhereTheGuaranteeDoesNotHold) {
  // Default shares only: nothing to say.
  const auto fine = load("zones:\n  - {name: a, ports: [in]}\n  - {name: b, ports: [out]}\n");
  EXPECT_EQ(find(fine, "connection"), nullptr);

  const auto c = load(R"(zones:
  - {name: a, ports: [in], conn_limit: unlimited}
  - {name: b, ports: [out]}
)");
  const Finding* f = find(c, "zone 'a' has no connection limit: it can fill the connection table "
                             "and refuse every other zone's new connections");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->pos.line, kHeadLines + 2);
  EXPECT_EQ(f->pos.column, 40);  // at conn_limit's value
  EXPECT_EQ(f->severity, Finding::Severity::kWarning);

  // 1500 + 60% (1200) + the default share of the third (666) > 2000.
  const auto over = load(R"(zones:
  - {name: a, ports: [in], conn_limit: 1500}
  - {name: b, ports: [out], conn_limit: 60%}
  - {name: c, ports: [out]}
)");
  f = find(over, "the zones' connection limits add up to 3366, more than the table holds (2000: "
                 "conntrack.size 1000 x 2 workers)");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->message.find("'a' (1500), 'b' (1200), the others 666 each (default share)"),
            std::string::npos)
      << f->message;
  EXPECT_EQ(f->pos.line, kHeadLines + 2);
}

// Anti-spoofing: an empty zone key is refused (it used to mean "any").
TEST(VfirewallZoneBinding, AnEmptyZoneListIsRefusedNotAny) {
  const std::string segs = "segments: [{name: s1, vlan: 10}]\nzones:\n";
  const int line = kHeadLines + 3;
  expect_refused(segs + "  - {name: a, ports: []}\n", line, 22,
                 "an empty list would match every port; remove the key to mean any port, or "
                 "name the ports");
  expect_refused(segs + "  - {name: a, segments: []}\n", line, 25,
                 "an empty list would match every segment; remove the key to mean any segment, "
                 "or name the segments");
  expect_refused(segs + "  - {name: a, ports: [in], networks: []}\n", line, 38,
                 "an empty list would match every address; remove the key");
  // A key with no value at all, as a template may leave it.
  try {
    load(segs + "  - name: a\n    ports:\n    networks: [10.0.0.0/8]\n");
    ADD_FAILURE() << "ports: with no value was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), kHeadLines + 3) << e.what();  // the zone's
    EXPECT_NE(std::string(e.what()).find("'ports' has no value: an empty list would match every port"),
              std::string::npos)
        << e.what();
  }
}

TEST(VfirewallZoneBinding, LintSaysWhereTheBindingCannotProtect) {
  const auto c = load(R"(segments:
  - {name: core, vlan: 100}
  - {name: dmz, vlan: 200}
zones:
  - {name: addr-only, networks: [10.50.0.0/16]}
  - {name: tax, ports: [in], segments: [core], networks: [10.31.0.0/24]}
  - {name: pension, ports: [in], networks: [10.32.0.0/24]}
  - {name: web, segments: [dmz], networks: [10.40.0.0/24]}
  - {name: web2, ports: [out], segments: [core], networks: [10.40.0.128/25]}
  - {name: rest, ports: [out], segments: [dmz]}
  - {name: catch-all}
)");
  auto at = [&](const std::string& text) -> int {
    for (const auto& f : c.findings)
      if (f.message.find(text) != std::string::npos) return f.pos.line;
    return -1;
  };
  const int z = kHeadLines + 5;  // the first zone's line
  EXPECT_EQ(at("zone 'addr-only' is told apart by address only: any port can use its addresses; "
               "name its ports or segments"),
            z);
  // tax (in, core) and pension (in, any segment) meet on port in, segment core.
  EXPECT_EQ(at("zones 'tax' and 'pension' share port 'in' and segment 'core': a host there can "
               "use the other's addresses"),
            z + 2);
  // pension (in, any) and web (any port, dmz) meet on port in, segment dmz.
  EXPECT_EQ(at("zones 'pension' and 'web' share port 'in' and segment 'dmz'"), z + 3);
  // web (dmz) and web2 (out, core) live apart but both claim 10.40.0.128/25.
  EXPECT_EQ(at("zones 'web' and 'web2' both claim 10.40.0.128/25 but live in different places"),
            z + 4);
  // rest (out, dmz) has no networks but shares out/dmz with web: web's addresses usable there.
  EXPECT_EQ(at("zones 'web' and 'rest' share port 'out' and segment 'dmz'"), z + 5);
  // Zones that differ by place only, and a catch-all, say nothing.
  EXPECT_EQ(at("'catch-all'"), -1);
  EXPECT_EQ(at("zones 'tax' and 'web2'"), -1);
  for (const auto& f : c.findings) EXPECT_EQ(f.severity, Finding::Severity::kWarning) << f.str();
}

// The same for a rule's source, destination and service, and a service object's ports and
// types: an empty list used to mean "any", so a template that left a rule's source empty made
// it accept from every address.
TEST(VfirewallZoneBinding, AnEmptyRuleOrServiceListIsRefusedNotAny) {
  const std::string zones = "zones:\n  - {name: a, ports: [in]}\n  - {name: b, ports: [out]}\n";
  const int rule_line = kHeadLines + 5;  // zones: 3 lines, rules: 1, then the rule
  const std::string rule = "  - {id: r, from: a, to: b, ";
  expect_refused(zones + "rules:\n" + rule + "source: [], service: [tcp/22], action: accept}\n",
                 rule_line, 37, "rules[0].source: an empty list would match every address");
  expect_refused(zones + "rules:\n" + rule + "destination: [], action: accept}\n", rule_line, 42,
                 "rules[0].destination: an empty list would match every address");
  expect_refused(zones + "rules:\n" + rule + "service: [], action: accept}\n", rule_line, 38,
                 "rules[0].service: an empty list would match every service");
  const int svc_line = kHeadLines + 5;
  expect_refused(zones + "services:\n  - {name: s, protocol: tcp, ports: []}\n", svc_line, 37,
                 "services[0].ports: an empty list would match every port");
  expect_refused(zones + "services:\n  - {name: s, protocol: icmp, types: []}\n", svc_line, 38,
                 "services[0].types: an empty list would match every type");
  // Leaving the key out still means any.
  EXPECT_NO_THROW(load(zones + "rules:\n" + rule + "service: [tcp/22], action: accept}\n"));
}
