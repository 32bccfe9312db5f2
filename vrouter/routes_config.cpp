#include "vrouter/routes_config.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "common/input_file.h"

namespace vrouter {

using vnf::config::ConfigError;
using vnf::config::ConfigNode;

namespace {

struct RawRoute {
  Prefix prefix;
  std::vector<IpAddr> via;
  std::string iface;
  bool has_iface = false;
  uint32_t distance = 1;
  bool blackhole = false;
  bool cross = false;
};

enum class Field { kRoute, kPrefix, kVia, kIface, kDistance };

bool link_local(const IpAddr& a) { return !a.is_v4() && a.b[0] == 0xfe && (a.b[1] & 0xc0) == 0x80; }

// Validates routes and appends them to the settings. `fail(field, index, message)` throws
// with the position of that field.
class RouteBuilder {
 public:
  RouteBuilder(RouterSettings& s, uint32_t max_routes)
      : s_(s),
        max_routes_(max_routes),
        max_hops_(std::min(kMaxNextHops, s.neighbors.max_entries / 2)) {
    for (size_t i = 0; i < s_.nh_sets.size(); ++i) {
      sets_.emplace(s_.nh_sets[i], static_cast<uint32_t>(i));
      hops_.insert(s_.nh_sets[i].begin(), s_.nh_sets[i].end());
    }
  }

  template <class Fail>
  void add(const RawRoute& r, Pos pos, Fail&& fail) {
    const Family fam = r.prefix.addr.family;
    if (s_.routes.size() >= max_routes_)
      fail(Field::kRoute, 0, fmt::format("more than {} static routes", max_routes_));
    if (r.blackhole && (!r.via.empty() || r.has_iface))
      fail(Field::kRoute, 0, "a blackhole route has no 'via' and no 'interface'");
    if (!r.blackhole && r.via.empty() && !r.has_iface)
      fail(Field::kRoute, 0, "a route needs 'via', 'interface' or 'blackhole: true'");
    if (r.distance < 1 || r.distance > 255)
      fail(Field::kDistance, 0, fmt::format("distance {} is out of range [1, 255]", r.distance));
    RouteSpec spec;
    spec.prefix = r.prefix;
    spec.distance = static_cast<uint8_t>(r.distance);
    spec.blackhole = r.blackhole;
    spec.cross_segment = r.cross;
    spec.pos = pos;
    uint8_t given = kNoIface;
    if (r.has_iface) {
      const int idx = s_.interface_index(r.iface);
      if (idx < 0) fail(Field::kIface, 0, fmt::format("unknown interface '{}'", r.iface));
      given = static_cast<uint8_t>(idx);
    }
    std::vector<NextHop> hops;
    for (size_t i = 0; i < r.via.size(); ++i) {
      const IpAddr& gw = r.via[i];
      if (i == kMaxEcmp)
        fail(Field::kVia, i, fmt::format("more than {} next hops in one route", kMaxEcmp));
      if (gw.family != fam)
        fail(Field::kVia, i,
             fmt::format("next hop {} is {} but the prefix is {}", to_string(gw),
                         gw.is_v4() ? "IPv4" : "IPv6", fam == Family::kV4 ? "IPv4" : "IPv6"));
      if (s_.is_local(gw))
        fail(Field::kVia, i, fmt::format("next hop {} is one of our own addresses", to_string(gw)));
      uint8_t idx = kNoIface;
      if (link_local(gw)) {
        if (given == kNoIface)
          fail(Field::kVia, i,
               fmt::format("link-local next hop {} needs 'interface'", to_string(gw)));
        idx = given;
      } else {
        idx = s_.iface_for(gw);
        if (idx == kNoIface)
          fail(Field::kVia, i,
               fmt::format("next hop {} is on no interface (in no interface subnet)",
                           to_string(gw)));
        if (given != kNoIface && idx != given)
          fail(Field::kVia, i,
               fmt::format("next hop {} is on interface '{}', not '{}'", to_string(gw),
                           s_.interfaces[idx].name, r.iface));
      }
      const NextHop nh{gw, idx};
      if (std::find(hops.begin(), hops.end(), nh) != hops.end())
        fail(Field::kVia, i, fmt::format("next hop {} listed twice", to_string(gw)));
      // Every next hop is a neighbour entry probed every probe_interval: their number is
      // bounded, and they always fit in the neighbour table.
      if (!hops_.count(nh) && hops_.size() >= max_hops_)
        fail(Field::kVia, i,
             fmt::format("next hop {} is one more than the {} distinct next hops allowed (at most "
                         "{}, and at most half of neighbors.max_entries {})",
                         to_string(gw), max_hops_, kMaxNextHops, s_.neighbors.max_entries));
      hops.push_back(nh);
    }
    hops_.insert(hops.begin(), hops.end());
    if (hops.empty() && given != kNoIface) {
      if (fam == Family::kV4 && s_.interfaces[given].ipv4.empty())
        fail(Field::kIface, 0,
             fmt::format("interface '{}' has no IPv4 address to resolve neighbours from", r.iface));
      spec.iface = given;
    }
    // The segment policy: a route into a segment kept apart from another segment of this
    // router would carry that segment's traffic there. Only an explicit mark allows it.
    if (!r.cross) {
      std::vector<uint8_t> out;
      for (const auto& h : hops) out.push_back(h.iface);
      if (spec.iface != kNoIface) out.push_back(spec.iface);
      for (uint8_t o : out) {
        const uint8_t seg = s_.iface_segment[o];
        if (!s_.apart[seg]) continue;
        for (size_t k = 0; k < s_.interfaces.size(); ++k) {
          const uint8_t other = s_.iface_segment[k];
          if (s_.apart[seg] >> other & 1)
            fail(Field::kRoute, 0,
                 fmt::format("route {} leads into segment '{}' (interface '{}'), which the "
                             "segment policy keeps apart from segment '{}' (interface '{}'): "
                             "mark it 'cross_segment: true' to let every segment use it",
                             to_string(r.prefix), s_.segments[seg], s_.interfaces[o].name,
                             s_.segments[other], s_.interfaces[k].name));
        }
      }
    }
    if (!hops.empty()) {
      std::sort(hops.begin(), hops.end());
      auto [it, fresh] = sets_.emplace(hops, static_cast<uint32_t>(s_.nh_sets.size()));
      if (fresh) s_.nh_sets.push_back(hops);
      spec.nh_set = it->second;
    }
    s_.routes.push_back(spec);
  }

 private:
  RouterSettings& s_;
  std::map<std::vector<NextHop>, uint32_t> sets_;
  std::set<NextHop> hops_;  // distinct next hops so far
  uint32_t max_routes_;
  uint32_t max_hops_;
};

RawRoute parse_yaml_route(const ConfigNode& n) {
  n.expect_map();
  n.allow_keys(
      {"prefix", "via", "interface", "distance", "blackhole", "cross_segment", "description"});
  RawRoute r;
  std::string err;
  const auto p = parse_prefix(n.required("prefix").str(), err);
  if (!p) n["prefix"].fail(err);
  r.prefix = *p;
  const ConfigNode via = n["via"];
  if (via.defined()) {
    const auto items = via.is_seq() ? via.items() : std::vector<ConfigNode>{via};
    for (const auto& v : items) {
      const auto a = parse_ip(v.str());
      if (!a) v.fail(fmt::format("'{}' is not an IPv4 or IPv6 address", v.str()));
      r.via.push_back(*a);
    }
    if (items.empty()) via.fail("'via' lists no next hop");
  }
  if (n.has("interface")) {
    r.iface = n["interface"].str();
    r.has_iface = true;
  }
  r.distance = static_cast<uint32_t>(n.uint_or("distance", 1, 0, UINT32_MAX));
  r.blackhole = n.bool_or("blackhole", false);
  r.cross = n.bool_or("cross_segment", false);
  return r;
}

std::string_view next_token(std::string_view line, size_t& pos, size_t& col) {
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t' || line[pos] == '\r')) ++pos;
  const size_t start = pos;
  while (pos < line.size() && line[pos] != ' ' && line[pos] != '\t' && line[pos] != '\r') ++pos;
  col = start + 1;
  return line.substr(start, pos - start);
}

// One route per line:  PREFIX (via GW)... [dev IFACE] [distance N] [cross_segment]
//                      PREFIX blackhole [distance N]
void load_route_file(const std::string& path, const std::string& text, uint32_t file_idx,
                     RouteBuilder& b) {
  size_t next = 0;
  for (uint32_t ln = 1; next < text.size(); ++ln) {
    const size_t eol = std::min(text.find('\n', next), text.size());
    const std::string_view line(text.data() + next, eol - next);
    next = eol + 1;
    const std::string_view l = line.substr(0, std::min(line.find('#'), line.size()));
    size_t pos = 0, col = 1;
    std::string_view tok = next_token(l, pos, col);
    if (tok.empty()) continue;
    auto err = [&](size_t c, const std::string& msg) {
      throw ConfigError(path, static_cast<int>(ln), static_cast<int>(c), "", msg);
    };
    RawRoute r;
    std::string e;
    const auto p = parse_prefix(tok, e);
    if (!p) err(col, e);
    r.prefix = *p;
    const size_t prefix_col = col;
    std::vector<size_t> via_cols;
    size_t iface_col = 0, dist_col = 0;
    for (tok = next_token(l, pos, col); !tok.empty(); tok = next_token(l, pos, col)) {
      const size_t kw = col;
      if (tok == "blackhole") {
        r.blackhole = true;
      } else if (tok == "cross_segment") {
        r.cross = true;
      } else if (tok == "via" || tok == "dev" || tok == "distance") {
        const std::string_view v = next_token(l, pos, col);
        if (v.empty()) err(kw, fmt::format("'{}' needs a value", tok));
        if (tok == "via") {
          const auto a = parse_ip(v);
          if (!a) err(col, fmt::format("'{}' is not an IPv4 or IPv6 address", v));
          r.via.push_back(*a);
          via_cols.push_back(col);
        } else if (tok == "dev") {
          r.iface = std::string(v);
          r.has_iface = true;
          iface_col = col;
        } else {
          uint32_t d = 0;
          auto [q, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
          if (ec == std::errc::result_out_of_range) err(col, "distance is out of range [1, 255]");
          if (ec != std::errc() || q != v.data() + v.size()) err(col, "distance is a number");
          r.distance = d;
          dist_col = col;
        }
      } else {
        err(kw, fmt::format("unknown word '{}' (expected via, dev, distance, blackhole or "
                            "cross_segment)",
                            tok));
      }
    }
    const Pos at{file_idx, ln, static_cast<uint32_t>(prefix_col), 0};
    b.add(r, at, [&](Field f, size_t i, const std::string& msg) {
      const size_t c = f == Field::kVia        ? via_cols[i]
                       : f == Field::kIface    ? iface_col
                       : f == Field::kDistance ? dist_col
                                               : prefix_col;
      err(c ? c : prefix_col, msg);
    });
  }
}

[[noreturn]] void fail_at(const RouterSettings& s, const Pos& p, const std::string& msg) {
  throw ConfigError(s.files[p.file], static_cast<int>(p.line), static_cast<int>(p.column),
                    p.file == 0 ? fmt::format("routes[{}]", p.index) : "", msg);
}

std::string describe(const RouterSettings& s, const RouteSpec& r) {
  if (r.blackhole) return "blackhole";
  if (r.iface != kNoIface) return "dev " + s.interfaces[r.iface].name;
  std::string v;
  for (const auto& h : s.nh_sets[r.nh_set]) v += (v.empty() ? "via " : ", ") + to_string(h.gw);
  return v;
}

// Two routes for one prefix at one distance are merged into one ECMP group; they may not
// repeat a next hop nor mix a blackhole or an on-link interface with gateways, and together
// have at most kMaxEcmp next hops. Returns the route indexes sorted by (prefix, distance),
// file order within a group.
std::vector<uint32_t> check_duplicates(const RouterSettings& s) {
  std::vector<uint32_t> idx(s.routes.size());
  std::iota(idx.begin(), idx.end(), 0u);
  std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) {
    const auto& x = s.routes[a];
    const auto& y = s.routes[b];
    if (x.prefix != y.prefix) return x.prefix < y.prefix;
    return x.distance < y.distance;
  });
  size_t members = 0;  // next hops of the group so far (bounds the pairwise checks below)
  for (size_t i = 0; i < idx.size(); ++i) {
    const RouteSpec& cur = s.routes[idx[i]];
    if (i == 0 || s.routes[idx[i - 1]].prefix != cur.prefix ||
        s.routes[idx[i - 1]].distance != cur.distance)
      members = 0;
    members += std::max<size_t>(1, s.nh_sets[cur.nh_set].size());
    if (members > kMaxEcmp)
      fail_at(s, cur.pos,
              fmt::format("route {} distance {}: more than {} next hops for one prefix at one "
                          "distance (ECMP group)",
                          to_string(cur.prefix), cur.distance, kMaxEcmp));
    for (size_t j = i; j-- > 0;) {
      const RouteSpec& prev = s.routes[idx[j]];
      if (prev.prefix != cur.prefix || prev.distance != cur.distance) break;
      const RouteSpec& later = idx[i] > idx[j] ? cur : prev;
      const RouteSpec& earlier = idx[i] > idx[j] ? prev : cur;
      const std::string where =
          earlier.pos.file == 0 ? fmt::format("routes[{}]", earlier.pos.index)
                                : fmt::format("{}:{}", s.files[earlier.pos.file], earlier.pos.line);
      const bool plain =
          !cur.blackhole && !prev.blackhole && cur.iface == kNoIface && prev.iface == kNoIface;
      if (!plain)
        fail_at(s, later.pos,
                fmt::format("route {} distance {} ({}) conflicts with {} ({}): a blackhole or "
                            "on-link route cannot share a prefix and distance",
                            to_string(cur.prefix), cur.distance, describe(s, later), where,
                            describe(s, earlier)));
      for (const auto& h : s.nh_sets[later.nh_set]) {
        const auto& o = s.nh_sets[earlier.nh_set];
        if (std::find(o.begin(), o.end(), h) != o.end())
          fail_at(s, later.pos,
                  fmt::format("route {} via {} distance {} duplicates {}", to_string(cur.prefix),
                              to_string(h.gw), cur.distance, where));
      }
    }
  }
  return idx;
}

// The prefixes the interfaces' addresses make (connected subnet, local address, IPv4 subnet
// broadcast), as build_route_table() makes them; sorted, distinct.
std::vector<Prefix> connected_prefixes(const RouterSettings& s) {
  std::vector<Prefix> v;
  for (const Interface& itf : s.interfaces)
    for (const auto* list : {&itf.ipv4, &itf.ipv6})
      for (const IfAddr& a : *list) {
        const unsigned host = a.addr.bits();
        if (a.len < host) v.push_back(a.subnet());
        v.push_back(Prefix{a.addr, static_cast<uint8_t>(host)});
        if (a.addr.is_v4() && a.len <= 30)
          v.push_back(Prefix{IpAddr::v4(a.addr.v4() | ((1u << (32 - a.len)) - 1)), 32});
      }
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Items a FIB holds (a prefix, a tbl8 group), each with the first route that needs it, in file
// order. `cost` is what the connected prefixes use; the first route whose item brings the
// total past `limit` is refused.
void check_capacity(const RouterSettings& s, std::vector<std::pair<uint32_t, uint64_t>> firsts,
                    uint64_t connected, uint64_t limit, const ConfigNode& key,
                    const std::string& what) {
  if (connected > limit)
    key.fail(fmt::format("the interfaces' addresses alone need {} {}: {} is too small", connected,
                         what, limit));
  std::sort(firsts.begin(), firsts.end());
  uint64_t total = connected;
  for (const auto& [route, cost] : firsts) {
    total += cost;
    if (total > limit)
      fail_at(s, s.routes[route].pos,
              fmt::format("route {}: {} {} in all, beyond {} ({})",
                          to_string(s.routes[route].prefix), total, what, key.path(), limit));
  }
}

// fib.ipv4_max_routes and friends, when set: refused at load, naming the first route beyond,
// rather than when the FIB is built (which would name nothing).
void check_fib_sizes(const ConfigNode& n, const RouterSettings& s,
                     const std::vector<uint32_t>& idx) {
  const FibSettings& f = s.fib;
  if (!f.ipv4_max_routes && !f.ipv6_max_routes && !f.ipv4_tbl8_groups && !f.ipv6_tbl8_groups)
    return;
  const std::vector<Prefix> conn = connected_prefixes(s);
  auto connected = [&](const Prefix& p) { return std::binary_search(conn.begin(), conn.end(), p); };
  // Distinct route prefixes that the interfaces do not make already, with their first route.
  std::vector<std::pair<Prefix, uint32_t>> pre;
  for (size_t i = 0; i < idx.size(); ++i) {
    const Prefix& p = s.routes[idx[i]].prefix;
    if (!pre.empty() && pre.back().first == p) {
      pre.back().second = std::min(pre.back().second, idx[i]);
    } else if (!connected(p)) {
      pre.emplace_back(p, idx[i]);
    }
  }
  auto tbl8_v6 = [](const Prefix& p) -> uint64_t {  // as tbl8_groups_v6() counts them
    return p.len > 24 ? (static_cast<unsigned>(p.len) + 7) / 8 - 3 : 0;
  };
  const ConfigNode fn = n["fib"];
  for (const bool v4 : {true, false}) {
    const uint32_t max_routes = v4 ? f.ipv4_max_routes : f.ipv6_max_routes;
    const uint32_t groups = v4 ? f.ipv4_tbl8_groups : f.ipv6_tbl8_groups;
    const char* fam = v4 ? "IPv4" : "IPv6";
    if (max_routes) {
      std::vector<std::pair<uint32_t, uint64_t>> firsts;
      for (const auto& [p, r] : pre)
        if (p.addr.is_v4() == v4) firsts.emplace_back(r, 1);
      const auto nconn = static_cast<uint64_t>(std::count_if(
          conn.begin(), conn.end(), [&](const Prefix& p) { return p.addr.is_v4() == v4; }));
      check_capacity(s, std::move(firsts), nconn, max_routes,
                     fn[v4 ? "ipv4_max_routes" : "ipv6_max_routes"],
                     fmt::format("{} prefixes", fam));
    }
    if (!groups) continue;
    std::vector<std::pair<uint32_t, uint64_t>> firsts;
    uint64_t used = 0;
    if (v4) {  // one group per /24 block holding prefixes longer than /24
      std::vector<std::pair<uint32_t, uint32_t>> blocks;  // (block, first route)
      std::set<uint32_t> conn_blocks;
      for (const Prefix& p : conn)
        if (p.addr.is_v4() && p.len > 24) conn_blocks.insert(p.addr.v4() >> 8);
      for (const auto& [p, r] : pre)
        if (p.addr.is_v4() && p.len > 24 && !conn_blocks.count(p.addr.v4() >> 8))
          blocks.emplace_back(p.addr.v4() >> 8, r);
      std::sort(blocks.begin(), blocks.end());
      for (size_t i = 0; i < blocks.size(); ++i)
        if (i == 0 || blocks[i].first != blocks[i - 1].first)
          firsts.emplace_back(blocks[i].second, 1);
      used = conn_blocks.size();
    } else {
      for (const auto& [p, r] : pre)
        if (!p.addr.is_v4() && tbl8_v6(p)) firsts.emplace_back(r, tbl8_v6(p));
      for (const Prefix& p : conn)
        if (!p.addr.is_v4()) used += tbl8_v6(p);
    }
    check_capacity(s, std::move(firsts), used, groups,
                   fn[v4 ? "ipv4_tbl8_groups" : "ipv6_tbl8_groups"],
                   fmt::format("{} tbl8 groups", fam));
  }
}

}  // namespace

void load_routes(const ConfigNode& n, RouterSettings& s, const RouteLimits& limits) {
  RouteBuilder b(s, limits.max_routes);
  const ConfigNode routes = n["routes"];
  if (routes.defined()) routes.expect_seq();
  uint32_t k = 0;
  for (const auto& rn : routes.items()) {
    const RawRoute r = parse_yaml_route(rn);
    const Pos at{0, static_cast<uint32_t>(rn.line()), static_cast<uint32_t>(rn.column()), k++};
    b.add(r, at, [&](Field f, size_t i, const std::string& msg) {
      switch (f) {
        case Field::kPrefix:
          rn["prefix"].fail(msg);
        case Field::kVia: {
          const ConfigNode v = rn["via"];
          (v.is_seq() ? v.items()[i] : v).fail(msg);
        }
        case Field::kIface:
          rn["interface"].fail(msg);
        case Field::kDistance:
          rn["distance"].fail(msg);
        case Field::kRoute:
          break;
      }
      rn.fail(msg);
    });
  }
  const ConfigNode files = n["route_files"];
  const std::filesystem::path base = std::filesystem::path(n.file()).parent_path();
  const auto fnodes = files.items();
  // All route files together are read within one budget: their sizes are checked before any
  // is read (a reload never reads gigabytes to refuse them), and each read is capped by what
  // is left (a file that grows meanwhile is refused too).
  std::vector<std::filesystem::path> paths;
  uint64_t total = 0;
  for (size_t i = 0; i < fnodes.size(); ++i) {
    const ConfigNode& fnode = fnodes[i];
    if (i == limits.max_route_files)
      fnode.fail(fmt::format("more than {} route files", limits.max_route_files));
    std::filesystem::path p(fnode.str());
    if (p.is_relative()) p = base / p;
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) {
      total += std::filesystem::file_size(p, ec);
      if (!ec && total > limits.max_route_file_bytes)
        fnode.fail(fmt::format("route file {}: the route files together exceed {} bytes",
                               p.string(), limits.max_route_file_bytes));
    }
    paths.push_back(p);
  }
  size_t left = limits.max_route_file_bytes;
  for (size_t i = 0; i < fnodes.size(); ++i) {
    const std::string path = paths[i].string();
    std::string text;
    try {
      text = vnf::read_input_file(path, left);
    } catch (const vnf::InputFileError& e) {
      fnodes[i].fail(fmt::format(
          "route file {}: {}{}", path, e.what(),
          left < limits.max_route_file_bytes
              ? fmt::format(" (at most {} bytes in all route files)", limits.max_route_file_bytes)
              : ""));
    }
    left -= text.size();
    s.route_files.push_back(path);
    s.files.push_back(path);
    load_route_file(path, text, static_cast<uint32_t>(s.files.size() - 1), b);
  }
  check_fib_sizes(n, s, check_duplicates(s));
}

uint64_t route_fingerprint(const RouterSettings& s) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= c[i];
      h *= 1099511628211ULL;
    }
  };
  for (const auto& r : s.routes) {
    mix(r.prefix.addr.b.data(), 16);
    mix(&r.prefix.len, 1);
    mix(&r.distance, 1);
    mix(&r.iface, 1);
    const uint8_t f = static_cast<uint8_t>(r.blackhole | r.cross_segment << 1);
    mix(&f, 1);
    for (const auto& nh : s.nh_sets[r.nh_set]) mix(nh.gw.b.data(), 16);
  }
  return h;
}

}  // namespace vrouter
