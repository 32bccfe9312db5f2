// vrouter config loading: structure and defaults, every validation rule with the
// file:line:column it names, route files, the host-switch form, and every rules/ file
// declared for vrouter.
#include "vrouter/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "vrouter/routes_config.h"

using vnf::config::ConfigError;
using vnf::config::ConfigNode;
using vrouter::parse_router_config;
using vrouter::RouterConfig;

namespace {

const char* kBase = R"(engine: {name: t}
ports:
  - {name: p1, type: ring}
  - {name: p2, type: ring}
interfaces:
  - {name: lan, port: p1, ipv4: [10.1.0.1/24], ipv6: ["2001:db8:1::1/64"], segment: core}
  - {name: dmz, port: p2, vlan: 300, ipv4: [10.3.0.1/24], segment: dmz}
  - {name: up, port: p2, ipv4: [192.0.2.2/30], segment: wan}
)";

RouterConfig load(const std::string& yaml) {
  return parse_router_config(ConfigNode::load_string(yaml, "r.yaml"));
}

void expect_error(const std::string& yaml, int line, int column, const std::string& what) {
  try {
    load(yaml);
    ADD_FAILURE() << "accepted, expected '" << what << "' at " << line << ":" << column << "\n"
                  << yaml;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "r.yaml");
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_EQ(e.column(), column) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

std::string with(const std::string& tail) { return std::string(kBase) + tail; }

}  // namespace

TEST(VrouterConfig, StructureAndDefaults) {
  const RouterConfig c = load(with(R"(routes:
  - {prefix: 0.0.0.0/0, via: 192.0.2.1}
  - {prefix: 0.0.0.0/0, via: 10.1.0.254, distance: 10}
  - {prefix: 10.50.0.0/16, via: [10.1.0.2, 10.1.0.3]}
  - {prefix: "2001:db8:50::/48", via: "2001:db8:1::2"}
  - {prefix: 10.99.0.0/16, blackhole: true}
  - {prefix: 10.60.0.0/16, interface: lan}
)"));
  const auto& s = c.settings;
  ASSERT_EQ(s.interfaces.size(), 3u);
  EXPECT_EQ(s.interfaces[1].vlan, 300);
  EXPECT_EQ(s.interfaces[0].mtu, 1500);
  EXPECT_FALSE(s.interfaces[0].mac_set);  // the port's MAC, resolved at start-up
  EXPECT_EQ(s.segments, (std::vector<std::string>{"core", "dmz", "wan"}));
  ASSERT_EQ(s.routes.size(), 6u);
  EXPECT_EQ(s.routes[1].distance, 10);
  EXPECT_EQ(s.nh_sets[s.routes[2].nh_set].size(), 2u);
  EXPECT_EQ(s.nh_sets[s.routes[2].nh_set][0].iface, 0);
  EXPECT_EQ(s.nh_sets[s.routes[0].nh_set][0].iface, 2);  // 192.0.2.1 is on 'up'
  EXPECT_TRUE(s.routes[4].blackhole);
  EXPECT_EQ(s.routes[5].iface, 0);
  EXPECT_EQ(s.neighbors.probe_interval_ms, 1000u);
  EXPECT_EQ(s.neighbors.probe_misses, 3u);
  EXPECT_EQ(s.neighbors.max_entries, 4096u);
  EXPECT_EQ(s.icmp.rate, 100u);
}

TEST(VrouterConfig, DurationsInMilliseconds) {
  const RouterConfig c =
      load(with("neighbors: {probe_interval: 200ms, reachable_time: 1m, aging: 5m}\n"));
  EXPECT_EQ(c.settings.neighbors.probe_interval_ms, 200u);
  EXPECT_EQ(c.settings.neighbors.reachable_ms, 60000u);
  EXPECT_EQ(c.settings.neighbors.aging_s, 300u);
  expect_error(with("neighbors: {probe_interval: 10ms}\n"), 9, 29, "out of range");
  expect_error(with("neighbors: {probe_interval: 2h}\n"), 9, 29, "unknown duration unit");
}

TEST(VrouterConfig, InterfaceErrorsNameTheirPosition) {
  expect_error(with("  - {name: x, port: p9, ipv4: [10.9.0.1/24]}\n"), 9, 21, "unknown port 'p9'");
  expect_error(with("  - {name: x, port: p1, vlan: 5000, ipv4: [10.9.0.1/24]}\n"), 9, 31,
               "out of range");
  expect_error(with("  - {name: x, port: p1, vlan: 9, ipv4: [10.1.5.1/16]}\n"), 9, 41,
               "subnet 10.1.0.0/16 overlaps 10.1.0.0/24 of interface 'lan'");
  expect_error(with("  - {name: x, port: p1, vlan: 7, ipv6: [\"2001:db8:1:0:8::1/80\"]}\n"), 9, 41,
               "overlaps 2001:db8:1::/64 of interface 'lan'");
  expect_error(with("  - {name: x, port: p2, vlan: 300, ipv4: [10.9.0.1/24]}\n"), 9, 31,
               "VLAN 300 on port 'p2' is already interface 'dmz'");
  expect_error(with("  - {name: x, port: p1, ipv4: [10.9.0.1/24]}\n"), 9, 21,
               "port 'p1' (untagged) is already interface 'lan'");
  expect_error(with("  - {name: x, port: p1, vlan: 9, ipv4: [10.9.0.0/24]}\n"), 9, 41,
               "network address");
  expect_error(with("  - {name: x, port: p1, vlan: 9, ipv4: [10.9.0.255/24]}\n"), 9, 41,
               "broadcast address");
  expect_error(with("  - {name: x, port: p1, vlan: 9, ipv4: [127.0.0.1/8]}\n"), 9, 41,
               "not a unicast address");
  expect_error(with("  - {name: x, port: p1, vlan: 9, ipv6: [\"fe80::1/64\"]}\n"), 9, 41,
               "link-local addresses are not configured");
  expect_error(with("  - {name: x, port: p1, vlan: 9}\n"), 9, 5, "needs an ipv4 or ipv6 address");
  expect_error(with("  - {name: x, port: p1, vlan: 9, mac: \"01:00:00:00:00:01\", ipv4: "
                    "[10.9.0.1/24]}\n"),
               9, 39, "must be unicast");
  expect_error(with("  - {name: lan, port: p1, vlan: 9, ipv4: [10.9.0.1/24]}\n"), 9, 12,
               "duplicate interface 'lan'");
  expect_error(with("  - {name: x, port: p1, vlan: 9, ipv4: [10.9.0.1/24], speed: 5}\n"), 9, 55,
               "unknown key");
}

TEST(VrouterConfig, NextHopsMustBeOnAnInterface) {
  expect_error(with("routes:\n  - {prefix: 10.50.0.0/16, via: 10.7.0.1}\n"), 10, 33,
               "next hop 10.7.0.1 is on no interface");
  expect_error(with("routes:\n  - {prefix: 10.50.0.0/16, via: [10.1.0.2, 10.8.0.1]}\n"), 10, 44,
               "next hop 10.8.0.1 is on no interface");
  expect_error(with("routes:\n  - {prefix: 10.50.0.0/16, via: 10.1.0.1}\n"), 10, 33,
               "one of our own addresses");
  expect_error(with("routes:\n  - {prefix: 10.50.0.0/16, via: \"2001:db8:1::2\"}\n"), 10, 33,
               "is IPv6 but the prefix is IPv4");
  expect_error(with("routes:\n  - {prefix: 10.50.0.0/16, via: 10.1.0.2, interface: up}\n"), 10, 33,
               "is on interface 'lan', not 'up'");
  expect_error(with("routes:\n  - {prefix: 10.50.0.1/16, via: 10.1.0.2}\n"), 10, 14,
               "has host bits set (did you mean 10.50.0.0/16?)");
  expect_error(with("routes:\n  - {prefix: 10.50.0.0/16}\n"), 10, 5, "needs 'via', 'interface'");
  expect_error(with("routes:\n  - {prefix: 10.50.0.0/16, via: 10.1.0.2, blackhole: true}\n"), 10, 5,
               "a blackhole route has no 'via'");
  expect_error(with("routes:\n  - {prefix: \"2001:db8:9::/48\", via: \"fe80::1\"}\n"), 10, 38,
               "needs 'interface'");
  expect_error(with("routes:\n  - {prefix: 10.50.0.0/16, via: 10.1.0.2, distance: 0}\n"), 10, 53,
               "distance 0 is out of range");
}

TEST(VrouterConfig, DuplicateRoutesAndEcmpMerging) {
  // Two entries at one distance merge into one ECMP group...
  const RouterConfig c = load(
      with("routes:\n  - {prefix: 10.50.0.0/16, via: 10.1.0.2}\n  - {prefix: 10.50.0.0/16, via: "
           "10.1.0.3}\n"));
  EXPECT_EQ(c.settings.routes.size(), 2u);
  // ...but may not repeat a next hop or mix in a blackhole.
  expect_error(with("routes:\n  - {prefix: 10.50.0.0/16, via: 10.1.0.2}\n  - {prefix: "
                    "10.50.0.0/16, via: [10.1.0.3, 10.1.0.2]}\n"),
               11, 5, "duplicates routes[0]");
  expect_error(with("routes:\n  - {prefix: 10.50.0.0/16, via: 10.1.0.2}\n  - {prefix: "
                    "10.50.0.0/16, blackhole: true}\n"),
               11, 5, "cannot share a prefix and distance");
}

TEST(VrouterConfig, SegmentPolicyKeepsSegmentsApartUnlessMarked) {
  const std::string policy = "segment_policy:\n  apart: [[core, dmz]]\n";
  // Into dmz from a router that also serves core: an error naming both segments.
  expect_error(with(policy + "routes:\n  - {prefix: 10.50.0.0/16, via: 10.3.0.9}\n"), 12, 5,
               "leads into segment 'dmz' (interface 'dmz'), which the segment policy keeps apart "
               "from segment 'core' (interface 'lan')");
  // Marked: accepted.
  const RouterConfig ok = load(
      with(policy + "routes:\n  - {prefix: 10.50.0.0/16, via: 10.3.0.9, cross_segment: true}\n"));
  EXPECT_TRUE(ok.settings.routes[0].cross_segment);
  EXPECT_EQ(ok.settings.apart[0], 1u << 1);  // core (0) apart from dmz (1)
  EXPECT_EQ(ok.settings.apart[1], 1u << 0);
  // Upstream is not apart from anything: a default route needs no mark.
  EXPECT_NO_THROW(load(with(policy + "routes:\n  - {prefix: 0.0.0.0/0, via: 192.0.2.1}\n")));
  expect_error(with("segment_policy:\n  apart: [[core, nowhere]]\n"), 10, 18,
               "no interface is in segment 'nowhere'");
  expect_error(with("segment_policy:\n  apart: [[core]]\n"), 10, 11, "at least two segments");
}

TEST(VrouterConfig, StaticNeighbors) {
  const RouterConfig c = load(with(
      "neighbors:\n  static:\n    - {interface: lan, ip: 10.1.0.9, mac: '02:00:00:00:00:09'}\n"));
  ASSERT_EQ(c.settings.neighbors.statics.size(), 1u);
  EXPECT_EQ(c.settings.neighbors.statics[0].mac[5], 9);
  expect_error(with("neighbors:\n  static:\n    - {interface: lan, ip: 10.3.0.9, mac: "
                    "'02:00:00:00:00:09'}\n"),
               11, 28, "not in a subnet of interface 'lan'");
  expect_error(with("neighbors:\n  static:\n    - {interface: lna, ip: 10.1.0.9, mac: "
                    "'02:00:00:00:00:09'}\n"),
               11, 19, "unknown interface 'lna' (did you mean 'lan'?)");
}

TEST(VrouterConfig, RouteFilesLoadFastAndNameTheirLines) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("vrouter_cfg_" + std::to_string(getpid()));
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "routes.txt");
    f << "# bulk routes\n10.100.0.0/24 via 10.1.0.2\n\n10.100.1.0/24 via 10.1.0.2 via 10.1.0.3 "
         "distance 5\n10.100.2.0/24 dev lan\n10.100.3.0/24 blackhole  # comment\n"
         "2001:db8:77::/48 via 2001:db8:1::2\n";
    for (int i = 0; i < 5000; ++i)
      f << "172.16." << i / 256 << "." << i % 256 << "/32 via 10.1.0.2\n";
  }
  {
    std::ofstream f(dir / "bad.txt");
    f << "10.100.0.0/24 via 10.1.0.2\n10.101.0.0/24 via 10.9.9.9\n";
  }
  {
    std::ofstream f(dir / "bad2.txt");
    f << "10.100.0.0/24 via 10.1.0.2 metric 4\n";
  }
  const std::string yaml = with("route_files: [routes.txt]\n");
  const RouterConfig c =
      parse_router_config(ConfigNode::load_string(yaml, (dir / "r.yaml").string()));
  EXPECT_EQ(c.settings.routes.size(), 5005u);
  EXPECT_EQ(c.settings.routes[1].distance, 5);
  EXPECT_TRUE(c.settings.routes[3].blackhole);
  EXPECT_EQ(c.settings.nh_sets.size(), 4u);  // {}, {.2}, {.2,.3}, {v6}: shared by 5000 routes
  try {
    parse_router_config(
        ConfigNode::load_string(with("route_files: [bad.txt]\n"), (dir / "r.yaml").string()));
    ADD_FAILURE() << "bad route file accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), (dir / "bad.txt").string());
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.column(), 19);
    EXPECT_NE(std::string(e.what()).find("next hop 10.9.9.9 is on no interface"), std::string::npos)
        << e.what();
  }
  try {
    parse_router_config(
        ConfigNode::load_string(with("route_files: [bad2.txt]\n"), (dir / "r.yaml").string()));
    ADD_FAILURE() << "unknown word accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 1);
    EXPECT_EQ(e.column(), 28);
    EXPECT_NE(std::string(e.what()).find("unknown word 'metric'"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(VrouterConfig, HostSwitchFormNamesSegments) {
  const std::string yaml = R"(interfaces:
  - {name: gw-core, segment: core, ipv4: [10.1.0.1/24]}
  - {name: gw-info, segment: info, ipv4: [10.2.0.1/24]}
routes:
  - {prefix: 10.50.0.0/16, via: 10.2.0.9}
)";
  const vrouter::HostSegments segs = [](const std::string& n) -> std::optional<uint16_t> {
    if (n == "core") return 100;
    if (n == "info") return 200;
    return std::nullopt;
  };
  const auto s =
      vrouter::parse_router_settings(ConfigNode::load_string(yaml, "host.yaml"), {}, &segs);
  ASSERT_EQ(s.interfaces.size(), 2u);
  EXPECT_EQ(s.interfaces[1].vlan, 200);
  EXPECT_TRUE(s.interfaces[0].mac_set);  // anycast gateway MAC per segment
  EXPECT_EQ(s.interfaces[1].mac[5], 200);
  try {
    vrouter::parse_router_settings(
        ConfigNode::load_string("interfaces:\n  - {name: g, segment: dmz, ipv4: [10.3.0.1/24]}\n",
                                "host.yaml"),
        {}, &segs);
    ADD_FAILURE() << "unknown segment accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_NE(std::string(e.what()).find("unknown segment 'dmz'"), std::string::npos);
  }
}

TEST(VrouterConfig, DiffNamesChanges) {
  const RouterConfig a = load(kBase);
  std::string changed = kBase;
  changed.replace(changed.find("10.3.0.1/24"), 11, "10.4.0.1/24");
  const RouterConfig b = load(changed + "routes:\n  - {prefix: 0.0.0.0/0, via: 192.0.2.1}\n");
  const auto d = vrouter::diff(a.settings, b.settings);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], "interface dmz: 10.3.0.1/24 -> 10.4.0.1/24");
  EXPECT_EQ(d[1], "static routes 0 -> 1");
}

TEST(RulesFiles, EveryVrouterFileLoads) {
  namespace fs = std::filesystem;
  int checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(VNF_SOURCE_DIR) / "rules")) {
    if (!e.is_regular_file() || e.path().extension() != ".yaml") continue;
    std::ifstream in(e.path());
    std::string first;
    std::getline(in, first);
    if (first != "# program: vrouter") continue;
    EXPECT_NO_THROW({
      try {
        vrouter::load_router_config(e.path().string());
      } catch (const ConfigError& err) {
        ADD_FAILURE() << err.what();
        throw;
      }
    }) << e.path();
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

// docs/router.md documents every key the loader accepts.
TEST(Docs, RouterReferenceListsEveryKey) {
  std::ifstream in(std::string(VNF_SOURCE_DIR) + "/docs/router.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  ASSERT_FALSE(doc.empty());
  for (auto k : {"interfaces",
                 "routes",
                 "route_files",
                 "neighbors",
                 "icmp",
                 "segment_policy",
                 "fib",
                 "port",
                 "vlan",
                 "segment",
                 "mac",
                 "mtu",
                 "ipv4",
                 "ipv6",
                 "description",
                 "prefix",
                 "via",
                 "interface",
                 "distance",
                 "blackhole",
                 "cross_segment",
                 "probe_interval",
                 "probe_misses",
                 "reachable_time",
                 "aging",
                 "max_entries",
                 "hold_packets",
                 "hold_total",
                 "static",
                 "rate",
                 "burst",
                 "apart",
                 "ipv4_max_routes",
                 "ipv4_tbl8_groups",
                 "ipv6_max_routes",
                 "ipv6_tbl8_groups"})
    EXPECT_NE(doc.find("`" + std::string(k) + "`"), std::string::npos)
        << k << " is not in docs/router.md";
}

// Every program's reload runs the same restart-only check (issue #10). vrouter had its own
// copy that missed idle_sleep_us, log_level and log_file: such a reload was "applied" and
// silently ignored.
TEST(VrouterConfig, ReloadRefusesWhatNeedsARestartLikeEveryProgram) {
  const RouterConfig running = load(kBase);
  auto refused = [&](const std::string& yaml, const std::string& what) {
    const auto root = ConfigNode::load_string(yaml, "r.yaml");
    try {
      vrouter::check_reloadable(running, parse_router_config(root), root);
      ADD_FAILURE() << "reload accepted, expected '" << what << "'\n" << yaml;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  std::string base = kBase;
  for (const char* key : {"idle_sleep_us: 50", "log_level: debug", "log_file: /var/log/r.log"}) {
    std::string y = base;
    y.replace(y.find("{name: t}"), 9, std::string("{name: t, ") + key + "}");
    const std::string k(key, std::string(key).find(':'));
    refused(y, "engine." + k + " changed: the engine section needs a restart");
  }
  std::string moved = base;
  moved.replace(moved.find("{name: p2, type: ring}"), 22, "{name: p2, type: tap, iface: rt9}");
  refused(moved, "port 'p2': its device changed");
  std::string added = base;
  added.replace(added.find("interfaces:"), 11, "  - {name: p3, type: ring}\ninterfaces:");
  refused(added, "new ring port 'p3': adding it needs a restart");
  // An interface change is a reload.
  std::string mtu = base;
  mtu.replace(mtu.find("segment: wan}"), 13, "segment: wan, mtu: 1400}");
  const auto root = ConfigNode::load_string(mtu, "r.yaml");
  EXPECT_NO_THROW(vrouter::check_reloadable(running, parse_router_config(root), root));
}
