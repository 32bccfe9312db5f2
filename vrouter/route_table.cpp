#include "vrouter/route_table.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include "vrouter/config.h"

namespace vrouter {

namespace {

class Builder {
 public:
  explicit Builder(RouteTable& t) : t_(t) {
    adj({AdjKind::kNoRoute, kNoIface, {}});
    adj({AdjKind::kNotRouted, kNoIface, {}});
    path(PathListSpec{{Tier{0, {kAdjNoRoute}}}, false});
    path(PathListSpec{{Tier{0, {kAdjNotRouted}}}, false});
  }

  uint32_t adj(const AdjSpec& a) {
    auto [it, fresh] = adjs_.emplace(a, static_cast<uint32_t>(t_.adjs.size()));
    if (fresh) {
      if (t_.adjs.size() >= kMaxAdjacencies)
        throw std::runtime_error(fmt::format("more than {} next hops", kMaxAdjacencies));
      t_.adjs.push_back(a);
    }
    return it->second;
  }

  uint32_t path(const PathListSpec& p) {
    auto [it, fresh] = paths_.emplace(p, static_cast<uint32_t>(t_.paths.size()));
    if (fresh) {
      if (t_.paths.size() >= kMaxPathLists)
        throw std::runtime_error(fmt::format(
            "more than {} distinct next-hop combinations (path lists): the FIB cannot hold them",
            kMaxPathLists));
      t_.paths.push_back(p);
    }
    return it->second;
  }

 private:
  RouteTable& t_;
  std::map<AdjSpec, uint32_t> adjs_;
  std::map<PathListSpec, uint32_t> paths_;
};

// One candidate of a prefix before grouping: distance, adjacency, cross-segment mark.
struct Cand {
  Prefix prefix;
  uint8_t distance;
  uint32_t adj;
  bool cross;
  uint32_t route = UINT32_MAX;  // index in RouterSettings::routes (UINT32_MAX: connected)
};

}  // namespace

RouteTable build_route_table(const RouterSettings& s) {
  RouteTable t;
  Builder b(t);
  std::vector<Cand> cands;
  cands.reserve(s.routes.size() + s.interfaces.size() * 4);
  for (size_t i = 0; i < s.interfaces.size(); ++i) {
    const Interface& itf = s.interfaces[i];
    const auto x = static_cast<uint8_t>(i);
    const uint32_t onlink = b.adj({AdjKind::kOnLink, x, {}});
    const uint32_t local = b.adj({AdjKind::kLocal, x, {}});
    for (const auto* list : {&itf.ipv4, &itf.ipv6}) {
      for (const IfAddr& a : *list) {
        const Prefix net = a.subnet();
        const unsigned host_len = a.addr.bits();
        if (a.len < host_len) cands.push_back({net, 0, onlink, false});
        cands.push_back({Prefix{a.addr, static_cast<uint8_t>(host_len)}, 0, local, false});
        if (a.addr.is_v4() && a.len <= 30) {  // the subnet broadcast address is never routed
          const uint32_t bcast = a.addr.v4() | ((1u << (32 - a.len)) - 1);
          cands.push_back({Prefix{IpAddr::v4(bcast), 32}, 0, kAdjNotRouted, false});
        }
      }
    }
  }
  const uint32_t blackhole = b.adj({AdjKind::kBlackhole, kNoIface, {}});
  for (uint32_t k = 0; k < s.routes.size(); ++k) {
    const RouteSpec& r = s.routes[k];
    if (r.blackhole) {
      cands.push_back({r.prefix, r.distance, blackhole, r.cross_segment, k});
    } else if (r.nh_set == 0) {
      cands.push_back(
          {r.prefix, r.distance, b.adj({AdjKind::kOnLink, r.iface, {}}), r.cross_segment, k});
    } else {
      for (const NextHop& h : s.nh_sets[r.nh_set])
        cands.push_back(
            {r.prefix, r.distance, b.adj({AdjKind::kGateway, h.iface, h.gw}), r.cross_segment, k});
    }
  }
  std::stable_sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& c) {
    if (a.prefix != c.prefix) return a.prefix < c.prefix;
    if (a.distance != c.distance) return a.distance < c.distance;
    return a.adj < c.adj;
  });
  for (size_t i = 0; i < cands.size();) {
    size_t j = i;
    PathListSpec p;
    uint32_t first_route = UINT32_MAX;
    while (j < cands.size() && cands[j].prefix == cands[i].prefix) {
      if (p.tiers.empty() || p.tiers.back().distance != cands[j].distance)
        p.tiers.push_back(Tier{cands[j].distance, {}});
      auto& adjs = p.tiers.back().adjs;
      if (adjs.empty() || adjs.back() != cands[j].adj) adjs.push_back(cands[j].adj);
      p.cross_segment |= cands[j].cross;
      first_route = std::min(first_route, cands[j].route);
      ++j;
    }
    uint32_t id = 0;
    try {
      id = b.path(p);
    } catch (const std::runtime_error& e) {  // name a route that needs one path list too many
      if (first_route == UINT32_MAX) throw;
      const Pos& at = s.routes[first_route].pos;
      throw vnf::config::ConfigError(
          at.file < s.files.size() ? s.files[at.file] : "", static_cast<int>(at.line),
          static_cast<int>(at.column), at.file == 0 ? fmt::format("routes[{}]", at.index) : "",
          fmt::format("route {}: {}", to_string(cands[i].prefix), e.what()));
    }
    (cands[i].prefix.addr.is_v4() ? t.v4 : t.v6).emplace_back(cands[i].prefix, id);
    i = j;
  }
  t.users.resize(t.adjs.size());
  for (uint32_t p = 0; p < t.paths.size(); ++p)
    for (const Tier& tier : t.paths[p].tiers)
      for (uint32_t a : tier.adjs) t.users[a].push_back(p);
  return t;
}

void fill_buckets(std::array<uint16_t, kBuckets>& b, const std::vector<uint32_t>& active,
                  bool keep) {
  if (active.empty()) {
    b.fill(kAdjNoRoute);
    return;
  }
  const size_t n = active.size();
  std::vector<unsigned> count(n, 0);
  const unsigned share = static_cast<unsigned>((kBuckets + n - 1) / n);  // ceil
  std::array<bool, kBuckets> taken{};
  if (keep) {
    for (unsigned i = 0; i < kBuckets; ++i) {
      const auto it = std::find(active.begin(), active.end(), b[i]);
      if (it == active.end()) continue;
      const size_t m = static_cast<size_t>(it - active.begin());
      if (count[m] < share) {
        ++count[m];
        taken[i] = true;
      }
    }
  }
  // Free buckets go to the least loaded members, lowest index first: with n members every
  // member ends up with floor or ceil of kBuckets/n.
  for (unsigned i = 0; i < kBuckets; ++i) {
    if (taken[i]) continue;
    size_t best = 0;
    for (size_t m = 1; m < n; ++m)
      if (count[m] < count[best]) best = m;
    b[i] = static_cast<uint16_t>(active[best]);
    ++count[best];
  }
}

std::string describe_adj(const RouterSettings& s, const AdjSpec& a) {
  auto ifname = [&](uint8_t x) {
    return x < s.interfaces.size() ? s.interfaces[x].name : std::string("?");
  };
  switch (a.kind) {
    case AdjKind::kNoRoute:
      return "unreachable";
    case AdjKind::kNotRouted:
      return "broadcast";
    case AdjKind::kLocal:
      return "local dev " + ifname(a.iface);
    case AdjKind::kBlackhole:
      return "blackhole";
    case AdjKind::kGateway:
      return fmt::format("via {} dev {}", to_string(a.gw), ifname(a.iface));
    case AdjKind::kOnLink:
      return "dev " + ifname(a.iface);
  }
  return "?";
}

}  // namespace vrouter
