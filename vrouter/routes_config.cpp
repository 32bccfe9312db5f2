#include "vrouter/routes_config.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>

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
  explicit RouteBuilder(RouterSettings& s) : s_(s) {
    for (size_t i = 0; i < s_.nh_sets.size(); ++i)
      sets_.emplace(s_.nh_sets[i], static_cast<uint32_t>(i));
  }

  template <class Fail>
  void add(const RawRoute& r, Pos pos, Fail&& fail) {
    const Family fam = r.prefix.addr.family;
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
      hops.push_back(nh);
    }
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
// repeat a next hop nor mix a blackhole or an on-link interface with gateways.
void check_duplicates(const RouterSettings& s) {
  std::vector<uint32_t> idx(s.routes.size());
  std::iota(idx.begin(), idx.end(), 0u);
  std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) {
    const auto& x = s.routes[a];
    const auto& y = s.routes[b];
    if (x.prefix != y.prefix) return x.prefix < y.prefix;
    return x.distance < y.distance;
  });
  for (size_t i = 1; i < idx.size(); ++i) {
    const RouteSpec& cur = s.routes[idx[i]];
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
}

}  // namespace

void load_routes(const ConfigNode& n, RouterSettings& s) {
  RouteBuilder b(s);
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
  for (const auto& fnode : files.items()) {
    std::filesystem::path p(fnode.str());
    if (p.is_relative()) p = base / p;
    std::string text;
    try {
      text = vnf::read_input_file(p.string(), vnf::kMaxRouteFileBytes);
    } catch (const vnf::InputFileError& e) {
      fnode.fail(fmt::format("route file {}: {}", p.string(), e.what()));
    }
    s.route_files.push_back(p.string());
    s.files.push_back(p.string());
    load_route_file(p.string(), text, static_cast<uint32_t>(s.files.size() - 1), b);
  }
  check_duplicates(s);
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
