// The file limits of the router (docs/router.md, "File limits"): what one file may ask of a
// running router. Each limit refuses the first item beyond it, with its file:line:column, while
// loading, before anything is applied.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <fmt/format.h>

#include "vrouter/config.h"
#include "vrouter/route_table.h"
#include "vrouter/routes_config.h"

using vnf::config::ConfigError;
using vnf::config::ConfigNode;
using vrouter::parse_router_config;
using vrouter::RouterConfig;

namespace {

// 9 IPv4 prefixes from the addresses (subnet, address, broadcast per interface; 3 tbl8 groups:
// the /24 blocks of 10.1.0.1, 10.3.0.1 and 192.0.2.0/30), 2 IPv6 prefixes (18 tbl8 groups).
const char* kBase = R"(engine: {name: t}
ports:
  - {name: p1, type: ring}
  - {name: p2, type: ring}
interfaces:
  - {name: lan, port: p1, ipv4: [10.1.0.1/24], ipv6: ["2001:db8:1::1/64"]}
  - {name: dmz, port: p2, vlan: 300, ipv4: [10.3.0.1/24]}
  - {name: up, port: p2, ipv4: [192.0.2.2/30]}
)";
constexpr int kFirstFreeLine = 9;

RouterConfig load(const std::string& yaml, const std::string& name = "r.yaml") {
  return parse_router_config(ConfigNode::load_string(yaml, name));
}

// The error of loading `yaml`, which must be refused.
ConfigError refused(const std::string& yaml, const std::string& name = "r.yaml") {
  try {
    load(yaml, name);
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted:\n" << yaml;
  return ConfigError("", 0, 0, "", "");
}

void expect_at(const ConfigError& e, const std::string& file, int line, int column,
               const std::string& what) {
  EXPECT_EQ(e.file(), file) << e.what();
  EXPECT_EQ(e.line(), line) << e.what();
  EXPECT_EQ(e.column(), column) << e.what();
  EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
}

// 1-based column of `needle` in the given 1-based line of `text`.
int column_of(const std::string& text, int line, const std::string& needle) {
  size_t start = 0;
  for (int l = 1; l < line; ++l) start = text.find('\n', start) + 1;
  const size_t at = text.find(needle, start);
  return static_cast<int>(at - start) + 1;
}

std::string routes(int n, const std::function<std::string(int)>& route) {
  std::string s = "routes:\n";
  for (int i = 0; i < n; ++i) s += "  - " + route(i) + "\n";
  return s;
}

class TempDir {
 public:
  TempDir()
      : dir_(std::filesystem::temp_directory_path() /
             ("vrouter_limits_" + std::to_string(getpid()))) {
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

}  // namespace

TEST(VrouterLimits, DurationsNeverWrap) {
  // (2^61 + 1) s is 1000 ms modulo 2^64: it must not pass for one second.
  const std::string yaml =
      std::string(kBase) + "neighbors: {probe_interval: 2305843009213693953s}\n";
  expect_at(refused(yaml), "r.yaml", kFirstFreeLine, 29, "out of range");
  expect_at(refused(std::string(kBase) + "neighbors: {reachable_time: 307445734561825861m}\n"),
            "r.yaml", kFirstFreeLine, 29, "out of range");
  expect_at(refused(std::string(kBase) + "neighbors: {probe_interval: 99999999999999999999ms}\n"),
            "r.yaml", kFirstFreeLine, 29, "out of range");
  EXPECT_EQ(load(std::string(kBase) + "neighbors: {probe_interval: 1m}\n")
                .settings.neighbors.probe_interval_ms,
            60000u);
}

TEST(VrouterLimits, AddressesPerInterfaceNameTheFirstBeyond) {
  const std::string yaml =
      std::string(kBase) +
      "  - {name: x, port: p1, vlan: 9, ipv4: [10.9.0.1/24, 10.9.1.1/24, 10.9.2.1/24, "
      "10.9.3.1/24, 10.9.4.1/24]}\n";
  expect_at(refused(yaml), "r.yaml", kFirstFreeLine, column_of(yaml, kFirstFreeLine, "10.9.4.1"),
            "at most 4 addresses per family");
}

TEST(VrouterLimits, StaticNeighboursNameTheFirstBeyondHalfTheTable) {
  std::string yaml = std::string(kBase) + "neighbors:\n  max_entries: 64\n  static:\n";
  for (int i = 0; i < 33; ++i)
    yaml +=
        fmt::format("    - {{interface: lan, ip: 10.1.0.{}, mac: '02:00:00:00:00:01'}}\n", i + 10);
  expect_at(refused(yaml), "r.yaml", kFirstFreeLine + 3 + 32, 7, "more than 32 static neighbours");
}

TEST(VrouterLimits, EcmpGroupsHaveAtMost16NextHops) {
  auto via = [](int first, int n) {
    std::string v;
    for (int i = 0; i < n; ++i) v += fmt::format("{}10.1.0.{}", i ? ", " : "", first + i);
    return v;
  };
  // One route with 16 next hops is fine; 17 are refused at the 17th.
  EXPECT_NO_THROW(load(std::string(kBase) + "routes:\n  - {prefix: 10.50.0.0/16, via: [" +
                       via(10, 16) + "]}\n"));
  std::string yaml =
      std::string(kBase) + "routes:\n  - {prefix: 10.50.0.0/16, via: [" + via(10, 17) + "]}\n";
  expect_at(refused(yaml), "r.yaml", kFirstFreeLine + 1,
            column_of(yaml, kFirstFreeLine + 1, "10.1.0.26"), "more than 16 next hops");
  // Routes of one prefix and distance merge into one group: the route that brings it past 16
  // is refused (other distances are other groups).
  yaml = std::string(kBase) + routes(17, [](int i) {
           return fmt::format("{{prefix: 10.50.0.0/16, via: 10.1.0.{}, distance: {}}}", i + 10,
                              i == 3 ? 7 : 1);
         });
  EXPECT_NO_THROW(load(yaml));
  yaml += "  - {prefix: 10.50.0.0/16, via: 10.1.0.99}\n";
  expect_at(refused(yaml), "r.yaml", kFirstFreeLine + 18, 5,
            "more than 16 next hops for one prefix at one distance");
}

TEST(VrouterLimits, DistinctNextHopsFitTheNeighbourTable) {
  // max_entries 64: at most 32 distinct next hops, whatever the number of routes using them.
  const std::string head = std::string(kBase) + "neighbors: {max_entries: 64}\n";
  auto route = [](int i) {
    return fmt::format("{{prefix: 10.{}.0.0/16, via: 10.1.0.{}}}", 100 + i, 10 + i % 32);
  };
  EXPECT_NO_THROW(load(head + routes(64, route)));
  const std::string yaml =
      head + routes(33, [](int i) {
        return fmt::format("{{prefix: 10.{}.0.0/16, via: 10.1.0.{}}}", 100 + i, 10 + i);
      });
  const int line = kFirstFreeLine + 2 + 32;
  expect_at(refused(yaml), "r.yaml", line, column_of(yaml, line, "10.1.0.42"),
            "next hop 10.1.0.42 is one more than the 32 distinct next hops allowed");
  // And never more than 4096, however large the table.
  TempDir d;
  std::string text;
  for (int i = 0; i <= 4096; ++i)
    text += fmt::format("2001:db8:{:x}::/48 via 2001:db8:1::{:x}\n", 0x100 + i, 0x10 + i);
  const std::string file = d.write("hops.txt", text);
  const ConfigError e =
      refused(std::string(kBase) + "neighbors: {max_entries: 65536}\nroute_files: [hops.txt]\n",
              d.path("r.yaml"));
  expect_at(e, file, 4097, column_of(text, 4097, "2001:db8:1::"), "4096 distinct next hops");
}

TEST(VrouterLimits, RouteCountAndRouteFiles) {
  TempDir d;
  const RouterConfig base = load(kBase, d.path("r.yaml"));
  vrouter::RouteLimits lim;
  lim.max_routes = 10;
  lim.max_route_files = 3;
  lim.max_route_file_bytes = 100;
  auto load_routes = [&](const std::string& yaml) {
    vrouter::RouterSettings s = base.settings;
    vrouter::load_routes(ConfigNode::load_string(yaml, d.path("r.yaml")), s, lim);
    return s;
  };
  auto refused_routes = [&](const std::string& yaml) {
    try {
      load_routes(yaml);
    } catch (const ConfigError& e) {
      return e;
    }
    ADD_FAILURE() << "accepted:\n" << yaml;
    return ConfigError("", 0, 0, "", "");
  };
  // The route beyond max_routes, whether in the YAML file or in a route file.
  auto route = [](int i) {
    return fmt::format("{{prefix: 10.{}.0.0/16, via: 10.1.0.2}}", 100 + i);
  };
  EXPECT_EQ(load_routes(routes(10, route)).routes.size(), 10u);
  expect_at(refused_routes(routes(11, route)), d.path("r.yaml"), 12, 5,
            "more than 10 static routes");
  const std::string five = d.write("five.txt",
                                   "10.200.0.0/16 via 10.1.0.2\n10.201.0.0/16 via "
                                   "10.1.0.2\n10.202.0.0/16 via 10.1.0.2\n");
  expect_at(refused_routes(routes(8, route) + "route_files: [five.txt]\n"), five, 3, 1,
            "more than 10 static routes");
  // Route files: at most max_route_files entries...
  d.write("empty.txt", "# nothing\n");
  expect_at(refused_routes("route_files: [empty.txt, empty.txt, empty.txt, empty.txt]\n"),
            d.path("r.yaml"), 1, 48, "more than 3 route files");
  // ...and max_route_file_bytes together, checked before any is read: the first file (not
  // routes at all) is never parsed.
  d.write("junk.txt", std::string(60, 'x'));
  d.write("sixty.txt", std::string(60, '#'));
  expect_at(refused_routes("route_files: [junk.txt, sixty.txt]\n"), d.path("r.yaml"), 1, 25,
            "the route files together exceed 100 bytes");
  EXPECT_NO_THROW(load_routes("route_files: [sixty.txt, empty.txt]\n"));
  // The defaults are the documented ones.
  EXPECT_EQ(vrouter::RouteLimits{}.max_routes, 4'000'000u);
  EXPECT_EQ(vrouter::RouteLimits{}.max_route_files, 64u);
  EXPECT_EQ(vrouter::RouteLimits{}.max_route_file_bytes, size_t{256} << 20);
}

TEST(VrouterLimits, ConfiguredFibSizesNameTheFirstRouteBeyond) {
  // 9 IPv4 prefixes from the addresses; two routes of one prefix (ECMP, backup) and a backup
  // for a connected subnet take no more room.
  const std::string fib = "fib: {ipv4_max_routes: 11}\n";
  std::string yaml = std::string(kBase) + fib + R"(routes:
  - {prefix: 10.50.0.0/16, via: 10.1.0.2}
  - {prefix: 10.50.0.0/16, via: 10.1.0.3}
  - {prefix: 10.50.0.0/16, via: 10.3.0.2, distance: 5}
  - {prefix: 10.1.0.0/24, via: 10.3.0.2, distance: 50}
  - {prefix: 10.51.0.0/16, via: 10.1.0.2}
)";
  EXPECT_NO_THROW(load(yaml));
  yaml += "  - {prefix: 10.52.0.0/16, via: 10.1.0.2}\n";
  expect_at(refused(yaml), "r.yaml", kFirstFreeLine + 7, 5, "beyond fib.ipv4_max_routes (11)");
  expect_at(refused(std::string(kBase) + "fib: {ipv4_max_routes: 5}\n"), "r.yaml", kFirstFreeLine,
            24, "the interfaces' addresses alone need 9 IPv4 prefixes");
  // IPv4 tbl8 groups: one per /24 block with longer prefixes (3 from the addresses).
  yaml = std::string(kBase) + R"(fib: {ipv4_tbl8_groups: 5}
routes:
  - {prefix: 10.60.0.0/25, via: 10.1.0.2}
  - {prefix: 10.60.0.128/25, via: 10.1.0.2}
  - {prefix: 10.61.0.0/26, via: 10.1.0.2}
  - {prefix: 10.1.0.128/25, via: 10.1.0.2}
  - {prefix: 10.70.0.0/16, via: 10.1.0.2}
)";
  EXPECT_NO_THROW(load(yaml));
  yaml += "  - {prefix: 10.62.0.0/28, via: 10.1.0.2}\n";
  expect_at(refused(yaml), "r.yaml", kFirstFreeLine + 7, 5, "beyond fib.ipv4_tbl8_groups (5)");
  // IPv6 tbl8 groups: one per byte past /24 of each prefix (18 from the addresses).
  const std::string v6 = R"(routes:
  - {prefix: "2001:db8:50::/48", via: "2001:db8:1::2"}
  - {prefix: "2001:db8:51::/64", via: "2001:db8:1::2"}
  - {prefix: "2001:db8:52::/56", via: "2001:db8:1::2"}
)";
  yaml = std::string(kBase) + "fib: {ipv6_tbl8_groups: 30}\n" + v6;
  EXPECT_NO_THROW(load(yaml));
  expect_at(refused(yaml + "  - {prefix: \"2001:db8:53::/48\", via: \"2001:db8:1::2\"}\n"),
            "r.yaml", kFirstFreeLine + 5, 5, "beyond fib.ipv6_tbl8_groups (30)");
  yaml = std::string(kBase) + "fib: {ipv6_max_routes: 5}\n" + v6;
  EXPECT_NO_THROW(load(yaml));
  expect_at(refused(yaml + "  - {prefix: \"2001:db8::/32\", via: \"2001:db8:1::2\"}\n"), "r.yaml",
            kFirstFreeLine + 5, 5, "beyond fib.ipv6_max_routes (5)");
}

// More distinct next-hop combinations than the FIB can number: the route table refuses them
// naming a route (and vrouter --check runs the same build).
TEST(VrouterLimits, PathListsNameARoute) {
  TempDir d;
  std::string text;
  for (int i = 0; i <= 32000; ++i)  // 129 next hops x 255 distances: 32895 combinations
    text += fmt::format("10.{}.{}.0/24 via 10.1.0.{} distance {}\n", 64 + i / 256, i % 256,
                        2 + i / 255 % 129, 1 + i % 255);
  const std::string file = d.write("combos.txt", text);
  const RouterConfig c = load(std::string(kBase) + "route_files: [combos.txt]\n", d.path("r.yaml"));
  try {
    vrouter::build_route_table(c.settings);
    ADD_FAILURE() << "32001 path lists accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), file);
    ASSERT_GE(e.line(), 31990);
    EXPECT_EQ(e.column(), 1);
    const int i = e.line() - 1;
    EXPECT_NE(std::string(e.what()).find(
                  fmt::format("route 10.{}.{}.0/24: more than 32000", 64 + i / 256, i % 256)),
              std::string::npos)
        << e.what();
  }
}
