// The route table plan: connected/local/broadcast prefixes, static routes tiered by distance,
// ECMP groups, shared path lists, the active-tier choice (backup routes) and the resilient
// bucket fill.
#include "vrouter/route_table.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "vrouter/config.h"

using vnf::config::ConfigNode;
using namespace vrouter;

namespace {

RouterSettings settings(const std::string& routes) {
  const std::string yaml = std::string(R"(interfaces:
  - {name: lan, port: p1, ipv4: [10.1.0.1/24], ipv6: ["2001:db8:1::1/64"]}
  - {name: up1, port: p2, ipv4: [192.0.2.2/30]}
  - {name: up2, port: p3, ipv4: [198.51.100.2/30]}
)") + routes;
  return parse_router_settings(ConfigNode::load_string(yaml, "r.yaml"), {"p1", "p2", "p3"});
}

Prefix P(const std::string& s) {
  std::string err;
  auto p = parse_prefix(s, err);
  if (!p) throw std::invalid_argument(err);
  return *p;
}

uint32_t path_of(const RouteTable& t, const std::string& prefix) {
  const Prefix p = P(prefix);
  for (const auto* list : {&t.v4, &t.v6})
    for (const auto& [q, id] : *list)
      if (q == p) return id;
  throw std::out_of_range(prefix + " not in the table");
}

std::string adj_str(const RouterSettings& s, const RouteTable& t, uint32_t a) {
  return describe_adj(s, t.adjs[a]);
}

}  // namespace

TEST(RouteTable, ConnectedLocalAndBroadcastPrefixes) {
  const RouterSettings s = settings("");
  const RouteTable t = build_route_table(s);
  // lan: 10.1.0.0/24 on-link, 10.1.0.1/32 local, 10.1.0.255/32 broadcast (+ up1, up2 alike).
  EXPECT_EQ(t.v4.size(), 9u);
  EXPECT_EQ(t.v6.size(), 2u);
  EXPECT_EQ(adj_str(s, t, t.paths[path_of(t, "10.1.0.0/24")].tiers[0].adjs[0]), "dev lan");
  EXPECT_EQ(adj_str(s, t, t.paths[path_of(t, "10.1.0.1/32")].tiers[0].adjs[0]), "local dev lan");
  EXPECT_EQ(path_of(t, "10.1.0.255/32"), kPathNotRouted);
  EXPECT_EQ(adj_str(s, t, t.paths[path_of(t, "2001:db8:1::1/128")].tiers[0].adjs[0]),
            "local dev lan");
  // Sorted, so telemetry pages and FIB builds are deterministic.
  EXPECT_TRUE(std::is_sorted(t.v4.begin(), t.v4.end()));
}

TEST(RouteTable, BackupRoutesAreTiersOfOnePathList) {
  const RouterSettings s = settings(R"(routes:
  - {prefix: 0.0.0.0/0, via: 192.0.2.1}
  - {prefix: 0.0.0.0/0, via: 198.51.100.1, distance: 10}
  - {prefix: 10.50.0.0/16, via: [10.1.0.2, 10.1.0.3]}
  - {prefix: 10.50.0.0/16, via: 10.1.0.4}
  - {prefix: 10.60.0.0/16, via: [10.1.0.3, 10.1.0.2]}
  - {prefix: 10.99.0.0/16, blackhole: true}
)");
  const RouteTable t = build_route_table(s);
  const PathListSpec& def = t.paths[path_of(t, "0.0.0.0/0")];
  ASSERT_EQ(def.tiers.size(), 2u);
  EXPECT_EQ(def.tiers[0].distance, 1);
  EXPECT_EQ(adj_str(s, t, def.tiers[0].adjs[0]), "via 192.0.2.1 dev up1");
  EXPECT_EQ(def.tiers[1].distance, 10);
  EXPECT_EQ(adj_str(s, t, def.tiers[1].adjs[0]), "via 198.51.100.1 dev up2");
  // Two entries at one distance: one ECMP tier of three.
  const PathListSpec& ecmp = t.paths[path_of(t, "10.50.0.0/16")];
  ASSERT_EQ(ecmp.tiers.size(), 1u);
  EXPECT_EQ(ecmp.tiers[0].adjs.size(), 3u);
  // The same next hops in another order: the same path list (shared, not duplicated).
  const uint32_t a = path_of(t, "10.60.0.0/16");
  EXPECT_EQ(t.paths[a].tiers[0].adjs.size(), 2u);
  EXPECT_EQ(adj_str(s, t, t.paths[path_of(t, "10.99.0.0/16")].tiers[0].adjs[0]), "blackhole");
  // Every adjacency knows its users.
  for (uint32_t p = 0; p < t.paths.size(); ++p)
    for (const auto& tier : t.paths[p].tiers)
      for (uint32_t adj : tier.adjs)
        EXPECT_NE(std::find(t.users[adj].begin(), t.users[adj].end(), p), t.users[adj].end());
}

TEST(RouteTable, ManyPrefixesShareOnePathList) {
  std::string routes = "routes:\n";
  for (int i = 0; i < 300; ++i)
    routes += "  - {prefix: 172.16." + std::to_string(i % 256) + "." +
              std::to_string(i / 256 * 64) + "/26, via: 10.1.0.2}\n";
  const RouterSettings s = settings(routes);
  const RouteTable t = build_route_table(s);
  std::set<uint32_t> ids;
  for (const auto& [p, id] : t.v4)
    if (p.addr.b[0] == 172) ids.insert(id);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_LT(t.paths.size(), 10u);
}

TEST(RouteTable, StaticRouteOverAConnectedSubnetIsItsBackup) {
  const RouterSettings s =
      settings("routes:\n  - {prefix: 10.1.0.0/24, via: 192.0.2.1, distance: 5}\n");
  const RouteTable t = build_route_table(s);
  const PathListSpec& p = t.paths[path_of(t, "10.1.0.0/24")];
  ASSERT_EQ(p.tiers.size(), 2u);
  EXPECT_EQ(p.tiers[0].distance, 0);
  EXPECT_EQ(adj_str(s, t, p.tiers[0].adjs[0]), "dev lan");
  EXPECT_EQ(adj_str(s, t, p.tiers[1].adjs[0]), "via 192.0.2.1 dev up1");
}

TEST(RouteTable, ActiveTierIsTheBestWithAUsableMember) {
  PathListSpec p;
  p.tiers = {Tier{1, {10, 11}}, Tier{10, {20}}};
  std::set<uint32_t> down;
  auto usable = [&](uint32_t a) { return !down.count(a); };
  Selection s = select_active(p, usable);
  EXPECT_EQ(s.tier, 0);
  EXPECT_EQ(s.active, (std::vector<uint32_t>{10, 11}));
  down = {10};  // one ECMP member down: the other carries everything
  s = select_active(p, usable);
  EXPECT_EQ(s.tier, 0);
  EXPECT_EQ(s.active, (std::vector<uint32_t>{11}));
  down = {10, 11};  // the primary tier is gone: the backup takes over
  s = select_active(p, usable);
  EXPECT_EQ(s.tier, 1);
  EXPECT_EQ(s.active, (std::vector<uint32_t>{20}));
  EXPECT_FALSE(s.degraded);
  down = {10, 11, 20};  // nothing usable: keep the best tier (traffic probes it)
  s = select_active(p, usable);
  EXPECT_EQ(s.tier, 0);
  EXPECT_TRUE(s.degraded);
  down = {};  // primary back: it takes over again
  EXPECT_EQ(select_active(p, usable).tier, 0);
}

TEST(RouteTable, BucketsAreBalancedAndResilient) {
  std::array<uint16_t, kBuckets> b{};
  fill_buckets(b, {5, 6, 7}, false);
  std::map<uint16_t, int> n;
  for (auto x : b) ++n[x];
  ASSERT_EQ(n.size(), 3u);
  for (const auto& [adj, count] : n) EXPECT_TRUE(count == 21 || count == 22) << adj << ":" << count;
  // Member 6 fails: only its buckets move; 5 and 7 keep every bucket they had.
  const auto before = b;
  fill_buckets(b, {5, 7}, true);
  for (unsigned i = 0; i < kBuckets; ++i) {
    EXPECT_NE(b[i], 6);
    if (before[i] != 6) {
      EXPECT_EQ(b[i], before[i]) << "bucket " << i << " moved needlessly";
    }
  }
  n.clear();
  for (auto x : b) ++n[x];
  EXPECT_EQ(n[5], 32);
  EXPECT_EQ(n[7], 32);
  // It returns: it gets a fair share back, the others give up only what they must.
  fill_buckets(b, {5, 6, 7}, true);
  n.clear();
  for (auto x : b) ++n[x];
  for (const auto& [adj, count] : n) EXPECT_GE(count, 20) << adj;
  // Nothing active: every bucket says no route.
  fill_buckets(b, {}, false);
  for (auto x : b) EXPECT_EQ(x, kAdjNoRoute);
}
