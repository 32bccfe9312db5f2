#include "vrouter/config.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/audit.h"
#include "common/telemetry.h"
#include "vrouter/routes_config.h"

namespace vrouter {

using vnf::config::ConfigError;
using vnf::config::ConfigNode;

const std::vector<std::string_view> kRouterSettingsKeys = {
    "interfaces", "routes", "route_files", "neighbors", "icmp", "segment_policy", "fib"};

namespace {

std::string suggest(const std::string& word, const std::vector<std::string>& names) {
  std::vector<std::string_view> v(names.begin(), names.end());
  const std::string n = vnf::config::nearest(word, v);
  return n.empty() ? "" : fmt::format(" (did you mean '{}'?)", n);
}

bool martian_v4(uint32_t a) {
  const uint8_t top = static_cast<uint8_t>(a >> 24);
  return top == 0 || top == 127 || top >= 224;
}

void parse_addrs(const ConfigNode& list, Family fam, Interface& itf) {
  auto& out = fam == Family::kV4 ? itf.ipv4 : itf.ipv6;
  const ConfigNode l = list;
  if (!l.defined()) return;
  std::vector<ConfigNode> items;
  if (l.is_seq()) {
    items = l.items();
  } else {
    items.push_back(l);  // a single address may be written without brackets
  }
  for (const auto& n : items) {
    if (out.size() == kMaxAddrsPerFamily)
      n.fail(fmt::format("at most {} addresses per family on one interface", kMaxAddrsPerFamily));
    std::string err;
    const auto a = parse_ifaddr(n.str(), err);
    if (!a) n.fail(err);
    if (a->addr.family != fam)
      n.fail(fam == Family::kV4 ? "an IPv6 address under 'ipv4'" : "an IPv4 address under 'ipv6'");
    if (fam == Family::kV4) {
      if (a->len == 0) n.fail("an interface subnet needs a prefix length of 1-32");
      if (martian_v4(a->addr.v4()))
        n.fail("not a unicast address (0/8, 127/8, multicast and class E are not usable)");
      const Prefix net = a->subnet();
      if (a->len <= 30) {
        const uint32_t host = a->addr.v4() & ((1u << (32 - a->len)) - 1);
        if (host == 0)
          n.fail(fmt::format("{} is the subnet's network address", to_string(a->addr)));
        if (host == (1u << (32 - a->len)) - 1)
          n.fail(fmt::format("{} is the subnet's broadcast address", to_string(a->addr)));
      }
      (void)net;
    } else {
      if (a->len == 0) n.fail("an interface subnet needs a prefix length of 1-128");
      if (a->addr.b[0] == 0xff) n.fail("a multicast address cannot be an interface address");
      if (a->addr.b[0] == 0xfe && (a->addr.b[1] & 0xc0) == 0x80)
        n.fail(
            "link-local addresses are not configured: each interface has fe80::/64 from its MAC");
      if (a->addr.is_zero() || (a->addr.b[15] == 1 && mask(a->addr, 120).is_zero()))
        n.fail("the unspecified and loopback addresses cannot be interface addresses");
    }
    out.push_back(*a);
  }
}

Interface parse_interface(const ConfigNode& n, const std::vector<std::string>& ports,
                          const HostSegments* host) {
  n.expect_map();
  if (host) {
    n.allow_keys({"name", "segment", "mac", "mtu", "ipv4", "ipv6", "description"});
  } else {
    n.allow_keys({"name", "port", "vlan", "segment", "mac", "mtu", "ipv4", "ipv6", "description"});
  }
  Interface itf;
  itf.name = n.required("name").str();
  if (!vnf::valid_name(itf.name)) n["name"].fail("interface name must match [A-Za-z0-9_.-]{1,31}");
  if (host) {
    itf.segment = n.required("segment").str();
    const auto vlan = (*host)(itf.segment);
    if (!vlan) n["segment"].fail(fmt::format("unknown segment '{}'", itf.segment));
    itf.vlan = *vlan;
  } else {
    itf.port = n.required("port").str();
    if (std::find(ports.begin(), ports.end(), itf.port) == ports.end())
      n["port"].fail(fmt::format("unknown port '{}'{}", itf.port, suggest(itf.port, ports)));
    itf.vlan = static_cast<uint16_t>(n.uint_or("vlan", 0, 1, 4094));
    itf.segment = n.str_or("segment", itf.name);
    if (!vnf::valid_name(itf.segment))
      n["segment"].fail("segment name must match [A-Za-z0-9_.-]{1,31}");
  }
  if (n.has("mac")) {
    const std::string s = n["mac"].str();
    if (!parse_mac(s, itf.mac)) n["mac"].fail("expected a MAC like 02:00:00:00:00:01");
    if (itf.mac[0] & 1) n["mac"].fail("an interface MAC must be unicast");
    if (std::all_of(itf.mac.begin(), itf.mac.end(), [](uint8_t b) { return b == 0; }))
      n["mac"].fail("00:00:00:00:00:00 is not a station address");
    itf.mac_set = true;
  } else if (host) {
    // The same gateway MAC for a segment on every host (an anycast gateway): VMs keep their
    // ARP entry when they migrate. 02:76:72 = locally administered "vr".
    itf.mac = {0x02,
               0x76,
               0x72,
               0x00,
               static_cast<uint8_t>(itf.vlan >> 8),
               static_cast<uint8_t>(itf.vlan)};
    itf.mac_set = true;
  }
  itf.mtu = static_cast<uint16_t>(n.uint_or("mtu", 1500, 68, 9600));
  parse_addrs(n["ipv4"], Family::kV4, itf);
  parse_addrs(n["ipv6"], Family::kV6, itf);
  if (!itf.ipv6.empty() && itf.mtu < 1280) n["mtu"].fail("IPv6 needs an MTU of at least 1280");
  if (itf.ipv4.empty() && itf.ipv6.empty()) n.fail("an interface needs an ipv4 or ipv6 address");
  itf.description = n.str_or("description", "");
  return itf;
}

void parse_neighbors(const ConfigNode& n, RouterSettings& s) {
  NeighborSettings& ns = s.neighbors;
  if (!n.defined()) return;
  n.allow_keys({"probe_interval", "probe_misses", "reachable_time", "aging", "max_entries",
                "hold_packets", "hold_total", "static"});
  if (n.has("probe_interval")) ns.probe_interval_ms = parse_millis(n["probe_interval"], 50, 60000);
  ns.probe_misses = static_cast<uint32_t>(n.uint_or("probe_misses", ns.probe_misses, 1, 20));
  if (n.has("reachable_time"))
    ns.reachable_ms = parse_millis(n["reachable_time"], 1000, 3600 * 1000);
  ns.aging_s = n.seconds_or("aging", ns.aging_s, 10, 86400);
  ns.max_entries = static_cast<uint32_t>(n.uint_or("max_entries", ns.max_entries, 64, 1u << 20));
  ns.hold_packets = static_cast<uint32_t>(n.uint_or("hold_packets", ns.hold_packets, 1, 64));
  ns.hold_total = static_cast<uint32_t>(n.uint_or("hold_total", ns.hold_total, 1, 65536));
  std::set<std::pair<uint8_t, IpAddr>> seen;
  for (const auto& e : n["static"].items()) {
    if (ns.statics.size() == ns.max_entries / 2)
      e.fail(fmt::format("more than {} static neighbours (at most half of max_entries)",
                         ns.max_entries / 2));
    e.allow_keys({"interface", "ip", "mac"});
    StaticNeighbor sn;
    const std::string ifn = e.required("interface").str();
    const int idx = s.interface_index(ifn);
    if (idx < 0) {
      std::vector<std::string> names;
      for (const auto& i : s.interfaces) names.push_back(i.name);
      e["interface"].fail(fmt::format("unknown interface '{}'{}", ifn, suggest(ifn, names)));
    }
    sn.iface = static_cast<uint8_t>(idx);
    const auto ip = parse_ip(e.required("ip").str());
    if (!ip) e["ip"].fail("expected an IPv4 or IPv6 address");
    sn.ip = *ip;
    const Interface& itf = s.interfaces[sn.iface];
    const bool ll = !ip->is_v4() && ip->b[0] == 0xfe && (ip->b[1] & 0xc0) == 0x80;
    bool on_link = ll;
    for (const auto& a : ip->is_v4() ? itf.ipv4 : itf.ipv6) on_link |= a.subnet().contains(*ip);
    if (!on_link)
      e["ip"].fail(fmt::format("{} is not in a subnet of interface '{}'", to_string(*ip), ifn));
    if (s.is_local(*ip)) e["ip"].fail(fmt::format("{} is our own address", to_string(*ip)));
    if (!parse_mac(e.required("mac").str(), sn.mac) || (sn.mac[0] & 1))
      e["mac"].fail("expected a unicast MAC like 02:00:00:00:00:01");
    if (!seen.insert({sn.iface, sn.ip}).second)
      e["ip"].fail(fmt::format("{} on '{}' is listed twice", to_string(*ip), ifn));
    ns.statics.push_back(sn);
  }
}

void parse_policy(const ConfigNode& n, RouterSettings& s) {
  if (!n.defined()) return;
  n.allow_keys({"apart"});
  for (const auto& g : n["apart"].items()) {
    g.expect_seq();
    std::vector<std::string> group;
    std::vector<unsigned> ids;
    for (const auto& e : g.items()) {
      const std::string seg = e.str();
      const auto it = std::find(s.segments.begin(), s.segments.end(), seg);
      if (it == s.segments.end())
        e.fail(fmt::format("no interface is in segment '{}'{}", seg, suggest(seg, s.segments)));
      if (std::find(group.begin(), group.end(), seg) != group.end())
        e.fail(fmt::format("segment '{}' listed twice in one group", seg));
      group.push_back(seg);
      ids.push_back(static_cast<unsigned>(it - s.segments.begin()));
    }
    if (group.size() < 2) g.fail("a group of segments kept apart names at least two segments");
    for (unsigned a : ids)
      for (unsigned b : ids)
        if (a != b) s.apart[a] |= 1ull << b;
    s.apart_groups.push_back(group);
  }
}

void parse_fib(const ConfigNode& n, RouterSettings& s) {
  if (!n.defined()) return;
  n.allow_keys({"ipv4_max_routes", "ipv4_tbl8_groups", "ipv6_max_routes", "ipv6_tbl8_groups"});
  s.fib.ipv4_max_routes = static_cast<uint32_t>(n.uint_or("ipv4_max_routes", 0, 0, 1u << 26));
  s.fib.ipv4_tbl8_groups = static_cast<uint32_t>(n.uint_or("ipv4_tbl8_groups", 0, 0, 1u << 24));
  s.fib.ipv6_max_routes = static_cast<uint32_t>(n.uint_or("ipv6_max_routes", 0, 0, 1u << 26));
  s.fib.ipv6_tbl8_groups = static_cast<uint32_t>(n.uint_or("ipv6_tbl8_groups", 0, 0, 1u << 24));
}

}  // namespace

bool parse_mac(const std::string& s, Mac& out) {
  if (s.size() != 17) return false;
  for (size_t i = 0; i < 6; ++i) {
    const size_t o = i * 3;
    if (i < 5 && s[o + 2] != ':' && s[o + 2] != '-') return false;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + o, s.data() + o + 2, v, 16);
    if (ec != std::errc() || p != s.data() + o + 2) return false;
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

std::string format_mac(const uint8_t* m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4],
                     m[5]);
}

uint32_t parse_millis(const ConfigNode& n, uint32_t min_ms, uint32_t max_ms) {
  const std::string s = n.str();
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if ((ec != std::errc() && ec != std::errc::result_out_of_range) || p == s.data())
    n.fail(fmt::format("expected a duration (200ms, 2s, 1m), got '{}'", s));
  const std::string_view unit(p, s.data() + s.size() - p);
  uint64_t scale = 1;
  if (unit == "ms") {
  } else if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60000;
  } else {
    n.fail(fmt::format("unknown duration unit '{}' (use ms, s or m)", unit));
  }
  if (ec == std::errc::result_out_of_range || v > max_ms / scale + 1)  // checked: never wraps
    n.fail(fmt::format("'{}' is out of range [{}, {}] ms", s, min_ms, max_ms));
  v *= scale;
  if (v < min_ms || v > max_ms)
    n.fail(fmt::format("{} ms is out of range [{}, {}] ms", v, min_ms, max_ms));
  return static_cast<uint32_t>(v);
}

const Interface* RouterSettings::interface(const std::string& name) const {
  for (const auto& i : interfaces)
    if (i.name == name) return &i;
  return nullptr;
}

int RouterSettings::interface_index(const std::string& name) const {
  for (size_t i = 0; i < interfaces.size(); ++i)
    if (interfaces[i].name == name) return static_cast<int>(i);
  return -1;
}

uint8_t RouterSettings::iface_for(const IpAddr& a) const {
  for (size_t i = 0; i < interfaces.size(); ++i)
    for (const auto& x : a.is_v4() ? interfaces[i].ipv4 : interfaces[i].ipv6)
      if (x.subnet().contains(a)) return static_cast<uint8_t>(i);
  return kNoIface;
}

bool RouterSettings::is_local(const IpAddr& a) const {
  for (const auto& i : interfaces)
    for (const auto& x : a.is_v4() ? i.ipv4 : i.ipv6)
      if (x.addr == a) return true;
  return false;
}

RouterSettings parse_router_settings(const ConfigNode& n, const std::vector<std::string>& ports,
                                     const HostSegments* host) {
  RouterSettings s;
  s.files.push_back(n.file());

  // Interfaces first: everything else refers to them.
  const ConfigNode list = n.required("interfaces");
  list.expect_seq();
  std::map<std::string, std::string> keys;  // telemetry key -> name
  std::map<std::pair<std::string, uint16_t>, std::string> attach;
  std::vector<std::pair<Prefix, std::string>> subnets;
  for (const auto& in : list.items()) {
    Interface itf = parse_interface(in, ports, host);
    if (s.interface(itf.name)) in["name"].fail(fmt::format("duplicate interface '{}'", itf.name));
    if (auto [it, fresh] = keys.emplace(vnf::telemetry::key(itf.name), itf.name); !fresh)
      in["name"].fail(fmt::format("interface names '{}' and '{}' differ only in '-'/'.' vs '_'",
                                  it->second, itf.name));
    const auto where = std::make_pair(host ? itf.segment : itf.port, itf.vlan);
    if (auto [it, fresh] = attach.emplace(where, itf.name); !fresh) {
      if (host)
        in["segment"].fail(
            fmt::format("segment '{}' already has interface '{}'", itf.segment, it->second));
      (in.has("vlan") ? in["vlan"] : in["port"])
          .fail(itf.vlan ? fmt::format("VLAN {} on port '{}' is already interface '{}'", itf.vlan,
                                       itf.port, it->second)
                         : fmt::format("port '{}' (untagged) is already interface '{}'", itf.port,
                                       it->second));
    }
    // Overlapping subnets would make the connected routes ambiguous.
    auto check = [&](const std::vector<IfAddr>& addrs, const char* key) {
      const auto items = in[key].is_seq() ? in[key].items() : std::vector<ConfigNode>{in[key]};
      for (size_t k = 0; k < addrs.size(); ++k) {
        const Prefix net = addrs[k].subnet();
        for (const auto& [other, owner] : subnets)
          if (other.overlaps(net))
            items[k].fail(fmt::format("subnet {} overlaps {} of interface '{}'", to_string(net),
                                      to_string(other), owner));
        subnets.emplace_back(net, itf.name);
      }
    };
    check(itf.ipv4, "ipv4");
    check(itf.ipv6, "ipv6");
    if (s.interfaces.size() == kMaxInterfaces)
      in.fail(fmt::format("at most {} interfaces", kMaxInterfaces));
    auto seg = std::find(s.segments.begin(), s.segments.end(), itf.segment);
    if (seg == s.segments.end()) {
      if (s.segments.size() == kMaxSegments)
        in["segment"].fail(fmt::format("at most {} segments", kMaxSegments));
      s.segments.push_back(itf.segment);
      seg = s.segments.end() - 1;
    }
    s.iface_segment.push_back(static_cast<uint8_t>(seg - s.segments.begin()));
    s.interfaces.push_back(std::move(itf));
  }
  if (s.interfaces.empty()) list.fail("define at least one interface");

  parse_policy(n["segment_policy"], s);
  parse_neighbors(n["neighbors"], s);
  const ConfigNode icmp = n["icmp"];
  if (icmp.defined()) {
    icmp.allow_keys({"rate", "burst"});
    s.icmp.rate = static_cast<uint32_t>(icmp.uint_or("rate", s.icmp.rate, 0, 1000000));
    s.icmp.burst = static_cast<uint32_t>(icmp.uint_or("burst", s.icmp.burst, 1, 1000000));
  }
  parse_fib(n["fib"], s);
  load_routes(n, s);
  return s;
}

RouterConfig parse_router_config(const ConfigNode& root) {
  root.expect_map();
  std::vector<std::string_view> top = {"engine", "ports"};
  top.insert(top.end(), kRouterSettingsKeys.begin(), kRouterSettingsKeys.end());
  root.allow_keys(top);
  RouterConfig c;
  c.file = root.file();
  c.engine = vnf::parse_engine(root);
  const ConfigNode ports = root.required("ports");
  ports.expect_seq();
  const auto nodes = ports.items();
  std::vector<std::string> names;
  for (const auto& n : nodes) {
    n.expect_map();
    n.allow_keys(vnf::kPortDeviceKeys);
    c.devices.push_back(vnf::parse_port_device(n));
    names.push_back(c.devices.back().name);
  }
  if (c.devices.empty()) ports.fail("define at least one port");
  vnf::validate_port_devices(c.devices, nodes);
  c.settings = parse_router_settings(root, names, nullptr);
  return c;
}

RouterConfig load_router_config(const std::string& file) {
  std::string hash;
  RouterConfig c = parse_router_config(ConfigNode::load_file(file, &hash));
  c.hash = hash;
  return c;
}

void check_reloadable(const RouterConfig& running, const RouterConfig& next,
                      const ConfigNode& next_root) {
  // The shared check: this one used to compare the engine section itself and missed
  // idle_sleep_us, log_level and log_file (such a reload was silently ignored).
  vnf::check_restart_only(running.engine, running.devices, next.engine, next.devices, next_root,
                          {{running.settings.neighbors.max_entries ==
                                next.settings.neighbors.max_entries,
                            next_root["neighbors"]["max_entries"], "neighbors.max_entries"}});
}

std::vector<std::string> diff(const RouterSettings& a, const RouterSettings& b) {
  std::vector<std::string> out;
  auto addrs = [](const Interface& i) {
    std::string s;
    for (const auto& x : i.ipv4) s += (s.empty() ? "" : ",") + to_string(x);
    for (const auto& x : i.ipv6) s += (s.empty() ? "" : ",") + to_string(x);
    return s;
  };
  for (const auto& i : b.interfaces) {
    const Interface* o = a.interface(i.name);
    if (!o) {
      out.push_back(fmt::format("interface {} added ({})", i.name, addrs(i)));
      continue;
    }
    if (addrs(*o) != addrs(i))
      out.push_back(fmt::format("interface {}: {} -> {}", i.name, addrs(*o), addrs(i)));
    if (o->mtu != i.mtu)
      out.push_back(fmt::format("interface {}: mtu {} -> {}", i.name, o->mtu, i.mtu));
    if (o->port != i.port || o->vlan != i.vlan)
      out.push_back(fmt::format("interface {}: moved to {} vlan {}", i.name, i.port, i.vlan));
    if (o->mac != i.mac || o->mac_set != i.mac_set)
      out.push_back(fmt::format("interface {}: mac changed", i.name));
    if (o->segment != i.segment)
      out.push_back(fmt::format("interface {}: segment {} -> {}", i.name, o->segment, i.segment));
  }
  for (const auto& i : a.interfaces)
    if (!b.interface(i.name)) out.push_back(fmt::format("interface {} removed", i.name));
  if (a.routes.size() != b.routes.size())
    out.push_back(fmt::format("static routes {} -> {}", a.routes.size(), b.routes.size()));
  else if (route_fingerprint(a) != route_fingerprint(b))
    out.push_back("static routes changed");
  if (a.apart_groups != b.apart_groups) out.push_back("segment policy changed");
  if (a.neighbors.statics.size() != b.neighbors.statics.size())
    out.push_back(fmt::format("static neighbours {} -> {}", a.neighbors.statics.size(),
                              b.neighbors.statics.size()));
  if (a.neighbors.probe_interval_ms != b.neighbors.probe_interval_ms ||
      a.neighbors.probe_misses != b.neighbors.probe_misses)
    out.push_back(fmt::format("probing {} ms x {} -> {} ms x {}", a.neighbors.probe_interval_ms,
                              a.neighbors.probe_misses, b.neighbors.probe_interval_ms,
                              b.neighbors.probe_misses));
  if (a.icmp.rate != b.icmp.rate || a.icmp.burst != b.icmp.burst)
    out.push_back(fmt::format("icmp rate {}/s -> {}/s", a.icmp.rate, b.icmp.rate));
  return out;
}

}  // namespace vrouter
