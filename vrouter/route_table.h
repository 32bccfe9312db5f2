// The route table plan, built from validated settings without touching DPDK: which prefixes
// exist (connected, local, static), which next-hop objects they use, and how a prefix's
// candidates are tiered by distance. Pure logic: the unit tests check it directly; fib.cpp
// turns it into rte_fib / rte_fib6 tables.
//
//   prefix --(FIB)--> path list --(tier chosen by reachability, bucket chosen by flow hash)-->
//   adjacency
//
// - An adjacency is one way out: a gateway on an interface, "on-link" (resolve the destination
//   itself), "local" (one of our addresses), blackhole, or no route.
// - A path list holds the tiers of one prefix: every distance that has routes, lowest first;
//   each tier is an ECMP group. Path lists are shared by every prefix with the same tiers, so a
//   million prefixes via one gateway have one path list, and a failover rewrites one small
//   bucket table instead of the FIB.
// - The active tier is the lowest one with a usable member (a backup route "takes over" when
//   the better tier has none, and "gives way" when one comes back). Its usable members fill
//   kBuckets buckets; a flow's symmetric hash picks the bucket. Refills keep every bucket
//   whose member stays usable (resilient hashing: only the failed member's flows move).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "vrouter/addr.h"
#include "vrouter/dp/tables.h"

namespace vrouter {

struct RouterSettings;  // vrouter/config.h (control side; the fast path never sees it)

inline constexpr unsigned kBuckets = 64;
inline constexpr uint32_t kMaxPathLists = 32000;  // FIB next-hop values are 15 bits (2-byte tables)
inline constexpr uint32_t kMaxAdjacencies = 65000;

struct AdjSpec {
  AdjKind kind = AdjKind::kNoRoute;
  uint8_t iface = kNoIface;
  IpAddr gw;  // kGateway
  auto operator<=>(const AdjSpec&) const = default;
  bool operator==(const AdjSpec&) const = default;
};

struct Tier {
  uint8_t distance = 0;
  std::vector<uint32_t> adjs;  // adjacency ids, ascending
  bool operator==(const Tier&) const = default;
  auto operator<=>(const Tier&) const = default;
};

struct PathListSpec {
  std::vector<Tier> tiers;  // ascending distance
  bool cross_segment = false;
  bool operator==(const PathListSpec&) const = default;
  auto operator<=>(const PathListSpec&) const = default;
};

inline constexpr uint32_t kAdjNoRoute = 0;
inline constexpr uint32_t kAdjNotRouted = 1;
inline constexpr uint32_t kPathNoRoute = 0;
inline constexpr uint32_t kPathNotRouted = 1;

struct RouteTable {
  std::vector<AdjSpec> adjs;                        // [0] no route, [1] not routed
  std::vector<PathListSpec> paths;                  // [0] no route, [1] not routed
  std::vector<std::pair<Prefix, uint32_t>> v4, v6;  // prefix -> path list, sorted by prefix
  std::vector<std::vector<uint32_t>> users;         // adjacency -> path lists using it

  // Same prefixes mapped to the same path lists (a reload that can keep the FIB tables).
  bool same_fib(const RouteTable& o) const { return v4 == o.v4 && v6 == o.v6; }
};

// Connected subnets (on-link), our addresses (local), subnet broadcast addresses (not
// routed) and the static routes. Past kMaxPathLists throws vnf::config::ConfigError naming
// (file:line:column) the first route of the prefix that needed one path list too many.
RouteTable build_route_table(const RouterSettings& s);

struct Selection {
  int tier = -1;                 // index into tiers; -1 for an empty path list
  std::vector<uint32_t> active;  // adjacency ids carrying traffic
  bool degraded = false;         // no tier had a usable member: the best tier is kept
  bool operator==(const Selection&) const = default;
};

// The lowest tier with a usable member, and its usable members.
template <class Usable>
Selection select_active(const PathListSpec& p, Usable&& usable) {
  Selection s;
  for (size_t t = 0; t < p.tiers.size(); ++t) {
    for (uint32_t a : p.tiers[t].adjs)
      if (usable(a)) s.active.push_back(a);
    if (!s.active.empty()) {
      s.tier = static_cast<int>(t);
      return s;
    }
  }
  if (!p.tiers.empty()) {  // nothing usable: keep the best tier (traffic keeps probing it)
    s.tier = 0;
    s.active = p.tiers[0].adjs;
    s.degraded = true;
  }
  return s;
}

// Fills `b` with the members of `active`, each getting kBuckets/n or one more buckets. With
// `keep`, buckets that already hold an active member keep it (up to its share), so flows of
// members that stay do not move.
void fill_buckets(std::array<uint16_t, kBuckets>& b, const std::vector<uint32_t>& active,
                  bool keep);

std::string describe_adj(const RouterSettings& s, const AdjSpec& a);

}  // namespace vrouter
