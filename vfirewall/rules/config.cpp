#include "vfirewall/rules/config.h"

#include <algorithm>
#include <functional>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "common/audit.h"
#include "vfirewall/rules/compile.h"
#include "vfirewall/rules/lint.h"
#include "common/telemetry.h"

namespace vfirewall {

using vnf::config::ConfigError;
using vnf::config::ConfigNode;

namespace {

const std::vector<std::string_view> kTimeoutKeys = {
    "tcp_syn",       "tcp_established", "tcp_closing", "tcp_time_wait",   "tcp_close",
    "udp_unreplied", "udp_replied",     "icmp",        "other_unreplied", "other_replied"};

uint32_t* timeout_field(Timeouts& t, std::string_view k) {
  if (k == "tcp_syn") return &t.tcp_syn;
  if (k == "tcp_established") return &t.tcp_established;
  if (k == "tcp_closing") return &t.tcp_closing;
  if (k == "tcp_time_wait") return &t.tcp_time_wait;
  if (k == "tcp_close") return &t.tcp_close;
  if (k == "udp_unreplied") return &t.udp_unreplied;
  if (k == "udp_replied") return &t.udp_replied;
  if (k == "icmp") return &t.icmp;
  if (k == "other_unreplied") return &t.other_unreplied;
  return &t.other_replied;
}

void parse_timeouts(const ConfigNode& n, Timeouts& t) {
  if (!n.defined()) return;
  n.allow_keys(kTimeoutKeys);
  for (const auto& [k, v] : n.entries()) *timeout_field(t, k) = v.seconds(1, 30u * 86400);
}

Pos pos_of(const ConfigNode& n) { return Pos{n.file(), n.line(), n.column()}; }

std::string suggest(const std::string& word, const std::vector<std::string>& names) {
  std::vector<std::string_view> v(names.begin(), names.end());
  const std::string n = vnf::config::nearest(word, v);
  return n.empty() ? "" : fmt::format(" (did you mean '{}'?)", n);
}

// A scalar or a list of scalars.
std::vector<std::pair<std::string, ConfigNode>> names_of(const ConfigNode& n) {
  std::vector<std::pair<std::string, ConfigNode>> out;
  if (!n.defined()) return out;
  if (n.is_scalar()) {
    out.emplace_back(n.str(), n);
    return out;
  }
  for (const auto& i : n.items()) out.emplace_back(i.str(), i);
  return out;
}

Action parse_action(const ConfigNode& n) {
  const std::string s = n.str();
  if (s == "accept") return Action::kAccept;
  if (s == "drop") return Action::kDrop;
  if (s == "reject") return Action::kReject;
  n.fail(fmt::format("action must be accept, drop or reject, got '{}'", s));
}

struct ProtoName {
  const char* name;
  uint8_t proto;
};
constexpr ProtoName kProtocols[] = {{"tcp", 6},        {"udp", 17},  {"icmp", 1},  {"icmp6", 58},
                                    {"ipv6-icmp", 58}, {"gre", 47},  {"esp", 50},  {"ah", 51},
                                    {"sctp", 132},     {"ospf", 89}, {"vrrp", 112}};

struct IcmpName {
  const char* name;
  uint8_t type;
};
constexpr IcmpName kIcmp4Types[] = {{"echo-reply", 0},           {"destination-unreachable", 3},
                                    {"source-quench", 4},        {"redirect", 5},
                                    {"echo-request", 8},         {"router-advertisement", 9},
                                    {"router-solicitation", 10}, {"time-exceeded", 11},
                                    {"parameter-problem", 12},   {"timestamp-request", 13},
                                    {"timestamp-reply", 14}};
constexpr IcmpName kIcmp6Types[] = {{"destination-unreachable", 1},
                                    {"packet-too-big", 2},
                                    {"time-exceeded", 3},
                                    {"parameter-problem", 4},
                                    {"echo-request", 128},
                                    {"echo-reply", 129},
                                    {"router-solicitation", 133},
                                    {"router-advertisement", 134},
                                    {"neighbor-solicitation", 135},
                                    {"neighbor-advertisement", 136},
                                    {"redirect", 137}};

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 5 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string parse_proto(const std::string& s, uint8_t& proto) {
  for (const auto& p : kProtocols)
    if (s == p.name) {
      proto = p.proto;
      return "";
    }
  if (all_digits(s) && std::stoul(s) >= 1 && std::stoul(s) <= 255) {
    proto = static_cast<uint8_t>(std::stoul(s));
    return "";
  }
  return fmt::format(
      "unknown protocol '{}' (tcp, udp, icmp, icmp6, gre, esp, ah, sctp, ospf, "
      "vrrp, any, or a number 1-255)",
      s);
}

std::string parse_port_range(const std::string& s, uint16_t& lo, uint16_t& hi) {
  const auto dash = s.find('-');
  const std::string a = s.substr(0, dash);
  const std::string b = dash == std::string::npos ? a : s.substr(dash + 1);
  if (!all_digits(a) || !all_digits(b) || std::stoul(a) > 65535 || std::stoul(b) > 65535)
    return fmt::format("'{}': expected a port (0-65535) or a range like 8000-8080", s);
  lo = static_cast<uint16_t>(std::stoul(a));
  hi = static_cast<uint16_t>(std::stoul(b));
  if (lo > hi) return fmt::format("'{}': the range ends before it starts", s);
  return "";
}

std::string parse_icmp_type(const std::string& s, uint8_t proto, ServiceEntry& e) {
  e.proto = proto;
  e.icmp = true;
  const IcmpName* names = proto == 1 ? kIcmp4Types : kIcmp6Types;
  const size_t count = proto == 1 ? std::size(kIcmp4Types) : std::size(kIcmp6Types);
  for (size_t k = 0; k < count; ++k) {
    if (s == names[k].name) {
      e.lo = static_cast<uint16_t>(names[k].type << 8);
      e.hi = static_cast<uint16_t>(names[k].type << 8 | 0xFF);
      return "";
    }
  }
  if (all_digits(s) && std::stoul(s) <= 255) {
    const auto t = static_cast<uint16_t>(std::stoul(s));
    e.lo = static_cast<uint16_t>(t << 8);
    e.hi = static_cast<uint16_t>(t << 8 | 0xFF);
    return "";
  }
  return fmt::format("unknown {} type '{}' (a name like echo-request, or a number 0-255)",
                     proto == 1 ? "ICMP" : "ICMPv6", s);
}

}  // namespace

const char* action_name(Action a) {
  switch (a) {
    case Action::kAccept:
      return "accept";
    case Action::kDrop:
      return "drop";
    default:
      return "reject";
  }
}

std::string Pos::str() const { return fmt::format("{}:{}:{}", file, line, column); }

std::string parse_service_literal(const std::string& text, std::vector<ServiceEntry>& out) {
  const auto slash = text.find('/');
  const std::string proto_s = text.substr(0, slash);
  ServiceEntry e;
  if (std::string err = parse_proto(proto_s, e.proto); !err.empty()) return err;
  if (slash == std::string::npos) {
    out.push_back(e);
    return "";
  }
  const std::string arg = text.substr(slash + 1);
  if (e.proto == 6 || e.proto == 17 || e.proto == 132) {
    if (std::string err = parse_port_range(arg, e.lo, e.hi); !err.empty()) return err;
  } else if (e.proto == 1 || e.proto == 58) {
    if (std::string err = parse_icmp_type(arg, e.proto, e); !err.empty()) return err;
  } else {
    return fmt::format(
        "'{}': only tcp, udp, sctp (ports) and icmp, icmp6 (types) take an "
        "argument after '/'",
        text);
  }
  out.push_back(e);
  return "";
}

const Zone* FirewallConfig::zone(const std::string& n) const {
  for (const auto& z : zones)
    if (z.name == n) return &z;
  return nullptr;
}
const FwSegment* FirewallConfig::segment(const std::string& n) const {
  for (const auto& s : segments)
    if (s.name == n) return &s;
  return nullptr;
}
const AddressObject* FirewallConfig::address(const std::string& n) const {
  for (const auto& a : addresses)
    if (a.name == n) return &a;
  return nullptr;
}
const ServiceObject* FirewallConfig::service(const std::string& n) const {
  for (const auto& s : services)
    if (s.name == n) return &s;
  return nullptr;
}

uint64_t table_capacity(const FirewallConfig& c) {
  return uint64_t(c.conntrack.size) * std::max(1u, c.engine.workers());
}

uint64_t effective_conn_limit(const FirewallConfig& c, const Zone& z) {
  const uint64_t cap = table_capacity(c);
  switch (z.conn_limit.kind) {
    case ConnLimit::Kind::kUnlimited:
      return 0;
    case ConnLimit::Kind::kCount:
      return z.conn_limit.value;
    case ConnLimit::Kind::kPercent:
      return std::max<uint64_t>(1, cap * z.conn_limit.value / 10000);
    default:
      return std::max<uint64_t>(1, cap / std::max<size_t>(1, c.zones.size()));
  }
}

void normalize_services(std::vector<ServiceEntry>& v) {
  if (std::any_of(v.begin(), v.end(), [](const ServiceEntry& e) { return e.proto == 0; })) {
    v.assign(1, ServiceEntry{});
    return;
  }
  std::sort(v.begin(), v.end(), [](const ServiceEntry& a, const ServiceEntry& b) {
    return std::tie(a.proto, a.icmp, a.lo, a.hi) < std::tie(b.proto, b.icmp, b.lo, b.hi);
  });
  std::vector<ServiceEntry> out;
  out.reserve(v.size());
  for (const auto& e : v) {
    if (!out.empty() && out.back().proto == e.proto) {
      ServiceEntry& b = out.back();
      // A whole protocol (not by type, all ports) sorts first and absorbs the rest of it.
      if (!b.icmp && b.lo == 0 && b.hi == 0xFFFF) continue;
      if (b.icmp == e.icmp && uint32_t(e.lo) <= uint32_t(b.hi) + 1) {
        b.hi = std::max(b.hi, e.hi);
        continue;
      }
    }
    out.push_back(e);
  }
  v = std::move(out);
}

Resolver::Resolver(const FirewallConfig& c, size_t range_cap, size_t service_cap)
    : c_(c),
      range_cap_(range_cap),
      service_cap_(service_cap),
      addr_(c.addresses.size()),
      svc_(c.services.size()),
      addr_busy_(c.addresses.size()),
      svc_busy_(c.services.size()) {
  for (size_t i = 0; i < c.addresses.size(); ++i) addr_idx_.emplace(c.addresses[i].name, i);
  for (size_t i = 0; i < c.services.size(); ++i) svc_idx_.emplace(c.services[i].name, i);
}

std::optional<size_t> Resolver::address_index(const std::string& name) const {
  auto it = addr_idx_.find(name);
  return it == addr_idx_.end() ? std::nullopt : std::optional<size_t>(it->second);
}
std::optional<size_t> Resolver::service_index(const std::string& name) const {
  auto it = svc_idx_.find(name);
  return it == svc_idx_.end() ? std::nullopt : std::optional<size_t>(it->second);
}
const AddressObject* Resolver::address(const std::string& name) const {
  const auto i = address_index(name);
  return i ? &c_.addresses[*i] : nullptr;
}
const ServiceObject* Resolver::service(const std::string& name) const {
  const auto i = service_index(name);
  return i ? &c_.services[*i] : nullptr;
}

const AddrSet& Resolver::address_object(size_t i) {
  static const AddrSet kNothing;
  if (addr_[i]) return *addr_[i];
  if (addr_busy_[i]) return kNothing;  // a cycle (never in a loaded config)
  addr_busy_[i] = 1;
  const AddressObject& o = c_.addresses[i];
  AddrSet s;
  for (const auto& r : o.ranges) s.add(r);
  s.normalize();
  for (const auto& m : o.members) {
    if (s.size() > range_cap_) break;  // refused by the loader: stop growing
    if (const auto j = address_index(m)) s.merge(address_object(*j));
  }
  addr_busy_[i] = 0;
  addr_[i] = std::move(s);
  return *addr_[i];
}

const std::vector<ServiceEntry>& Resolver::service_object(size_t i) {
  static const std::vector<ServiceEntry> kNothing;
  if (svc_[i]) return *svc_[i];
  if (svc_busy_[i]) return kNothing;
  svc_busy_[i] = 1;
  const ServiceObject& o = c_.services[i];
  std::vector<ServiceEntry> v = o.entries;
  normalize_services(v);
  for (const auto& m : o.members) {
    if (v.size() > service_cap_) break;
    if (const auto j = service_index(m)) {
      const auto& x = service_object(*j);
      v.insert(v.end(), x.begin(), x.end());
      normalize_services(v);
    }
  }
  svc_busy_[i] = 0;
  svc_[i] = std::move(v);
  return *svc_[i];
}

AddrSet Resolver::addresses(const std::vector<std::string>& refs) {
  if (refs.empty()) return AddrSet::any();
  AddrSet s, literals;
  for (const auto& r : refs) {
    if (r == "any") return AddrSet::any();
    if (const auto i = address_index(r)) {
      if (s.size() <= range_cap_) s.merge(address_object(*i));
      continue;
    }
    AddrRange x;
    if (!parse_address(r, x)) literals.add(x);
  }
  literals.normalize();
  s.merge(literals);
  return s;
}

std::vector<ServiceEntry> Resolver::services(const std::vector<std::string>& refs) {
  if (refs.empty()) return {ServiceEntry{}};
  std::vector<ServiceEntry> out;
  for (const auto& r : refs) {
    if (r == "any") return {ServiceEntry{}};
    if (const auto i = service_index(r)) {
      if (out.size() > service_cap_) continue;
      const auto& x = service_object(*i);
      out.insert(out.end(), x.begin(), x.end());
      normalize_services(out);
      continue;
    }
    parse_service_literal(r, out);
  }
  normalize_services(out);
  return out;
}

AddrSet resolve_addresses(const FirewallConfig& c, const std::vector<std::string>& refs) {
  return Resolver(c).addresses(refs);
}

std::vector<ServiceEntry> resolve_services(const FirewallConfig& c,
                                           const std::vector<std::string>& refs) {
  return Resolver(c).services(refs);
}

namespace {

// conn_limit: a number, a share of the table ("10%", "2.5%"), or `unlimited` (0 too).
ConnLimit parse_conn_limit(const ConfigNode& n) {
  ConnLimit l;
  if (!n.present()) return l;
  const std::string s = n.str();
  const std::string bad = fmt::format(
      "conn_limit must be a number of connections, a share of the table like 10%, or "
      "'unlimited', got '{}'",
      s);
  if (s == "unlimited") {
    l.kind = ConnLimit::Kind::kUnlimited;
  } else if (!s.empty() && s.back() == '%') {
    // Up to two decimals: hundredths of a percent.
    const std::string num = s.substr(0, s.size() - 1);
    const auto dot = num.find('.');
    const std::string whole = num.substr(0, dot);
    const std::string frac = dot == std::string::npos ? "" : num.substr(dot + 1);
    auto digits = [](const std::string& x) {
      return std::all_of(x.begin(), x.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (whole.empty() || whole.size() > 3 || !digits(whole) || frac.size() > 2 || !digits(frac) ||
        (dot != std::string::npos && frac.empty()))
      n.fail(bad);
    const std::string hundredths = frac + std::string(2 - frac.size(), '0');
    const auto v = static_cast<uint32_t>(std::stoul(whole) * 100 + std::stoul(hundredths));
    if (v == 0 || v > 10000)
      n.fail(fmt::format("conn_limit '{}': a share must be above 0% and at most 100%", s));
    l.kind = ConnLimit::Kind::kPercent;
    l.value = v;
  } else {
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      n.fail(bad);
    const uint64_t v = n.uint(0, 1u << 28);
    l.kind = v == 0 ? ConnLimit::Kind::kUnlimited : ConnLimit::Kind::kCount;
    l.value = static_cast<uint32_t>(v);
  }
  return l;
}

class Loader {
 public:
  explicit Loader(FirewallConfig& c) : c_(c) {}

  void segments(const ConfigNode& list) {
    std::set<uint16_t> vlans;
    for (const auto& n : list.items()) {
      n.allow_keys({"name", "vlan", "description"});
      FwSegment s;
      s.name = name_of(n.required("name"), "segment");
      s.vlan = static_cast<uint16_t>(n.required("vlan").uint(0, 4094));
      if (c_.segment(s.name)) n["name"].fail(fmt::format("duplicate segment '{}'", s.name));
      if (!vlans.insert(s.vlan).second)
        n["vlan"].fail(fmt::format("VLAN {} is already another segment", s.vlan));
      c_.segments.push_back(s);
    }
  }

  // A key whose absence means "any" may not hold an empty list (`[]`, or no value): a
  // template that left a list empty must not turn a zone into every port or a rule into
  // every address or service.
  static void refuse_empty(const ConfigNode& n, const char* key, const char* what) {
    const ConfigNode v = n[key];
    if (!v.present() || !names_of(v).empty()) return;
    const std::string msg = fmt::format(
        "an empty list would match every {0}; remove the key to mean any {0}, or name the {1}",
        what, key);
    // A key with no value has no position of its own (YAML marks the next token): the map's.
    if (!v.defined()) n.fail(fmt::format("'{}' has no value: {}", key, msg));
    v.fail(msg);
  }

  void addresses(const ConfigNode& list) {
    for (const auto& n : list.items()) {
      n.allow_keys({"name", "prefixes", "members", "description"});
      AddressObject o;
      o.name = name_of(n.required("name"), "address object");
      o.pos = pos_of(n["name"]);
      if (o.name == "any") n["name"].fail("'any' is reserved");
      if (!addr_idx_.emplace(o.name, c_.addresses.size()).second)
        n["name"].fail(fmt::format("duplicate address object '{}'", o.name));
      for (const auto& [text, node] : names_of(n["prefixes"])) {
        AddrRange r;
        if (auto err = parse_address(text, r)) node.fail(*err);
        o.ranges.push_back(r);
      }
      for (const auto& [m, node] : names_of(n["members"])) o.members.push_back(m);
      if (o.ranges.empty() && o.members.empty())
        n.fail(fmt::format("address object '{}' has neither prefixes nor members", o.name));
      o.description = n.str_or("description", "");
      c_.addresses.push_back(o);
      address_nodes_.push_back(n);
    }
    // Members must exist; groups must not contain themselves nor nest too deep.
    std::vector<std::vector<size_t>> members(c_.addresses.size());
    for (size_t i = 0; i < c_.addresses.size(); ++i) {
      for (const auto& [m, node] : names_of(address_nodes_[i]["members"])) {
        auto it = addr_idx_.find(m);
        if (it == addr_idx_.end())
          node.fail(fmt::format("unknown address object '{}'{}", m, suggest(m, address_names())));
        members[i].push_back(it->second);
      }
    }
    address_order_ = check_groups(members, address_nodes_, [&](size_t i) -> const std::string& {
      return c_.addresses[i].name;
    });
  }

  void services(const ConfigNode& list) {
    for (const auto& n : list.items()) {
      n.allow_keys({"name", "protocol", "ports", "types", "members", "description"});
      ServiceObject o;
      o.name = name_of(n.required("name"), "service");
      o.pos = pos_of(n["name"]);
      if (o.name == "any") n["name"].fail("'any' is reserved");
      if (!svc_idx_.emplace(o.name, c_.services.size()).second)
        n["name"].fail(fmt::format("duplicate service '{}'", o.name));
      if (n.has("protocol")) {
        ServiceEntry base;
        const std::string p = n["protocol"].str();
        if (p != "any")
          if (std::string err = parse_proto(p, base.proto); !err.empty()) n["protocol"].fail(err);
        const bool ports_ok = base.proto == 6 || base.proto == 17 || base.proto == 132;
        const bool icmp = base.proto == 1 || base.proto == 58;
        if (n.has("ports") && !ports_ok) n["ports"].fail("only tcp, udp and sctp have ports");
        if (n.has("types") && !icmp) n["types"].fail("only icmp and icmp6 have types");
        refuse_empty(n, "ports", "port");
        refuse_empty(n, "types", "type");
        if (n.has("ports")) {
          for (const auto& [text, node] : names_of(n["ports"])) {
            ServiceEntry e = base;
            if (std::string err = parse_port_range(text, e.lo, e.hi); !err.empty()) node.fail(err);
            o.entries.push_back(e);
          }
        } else if (n.has("types")) {
          for (const auto& [text, node] : names_of(n["types"])) {
            ServiceEntry e;
            if (std::string err = parse_icmp_type(text, base.proto, e); !err.empty())
              node.fail(err);
            o.entries.push_back(e);
          }
        } else {
          o.entries.push_back(base);
        }
      } else if (n.has("ports") || n.has("types")) {
        n.fail("'ports' and 'types' need a 'protocol'");
      }
      for (const auto& [m, node] : names_of(n["members"])) o.members.push_back(m);
      if (o.entries.empty() && o.members.empty())
        n.fail(fmt::format("service '{}' has neither a protocol nor members", o.name));
      o.description = n.str_or("description", "");
      c_.services.push_back(o);
      service_nodes_.push_back(n);
    }
    std::vector<std::vector<size_t>> members(c_.services.size());
    for (size_t i = 0; i < c_.services.size(); ++i) {
      for (const auto& [m, node] : names_of(service_nodes_[i]["members"])) {
        auto it = svc_idx_.find(m);
        if (it == svc_idx_.end())
          node.fail(fmt::format("unknown service '{}'{}", m, suggest(m, service_names())));
        members[i].push_back(it->second);
      }
    }
    service_order_ = check_groups(members, service_nodes_, [&](size_t i) -> const std::string& {
      return c_.services[i].name;
    });
  }

  void zones(const ConfigNode& list, const Timeouts& defaults) {
    for (const auto& n : list.items()) {
      n.allow_keys({"name", "ports", "segments", "networks", "intra_zone", "intra_zone_log",
                    "conn_limit", "window_check", "timeouts", "description"});
      Zone z;
      z.name = name_of(n.required("name"), "zone");
      z.pos = pos_of(n["name"]);
      if (z.name == "any") n["name"].fail("'any' is reserved");
      if (c_.zone(z.name)) n["name"].fail(fmt::format("duplicate zone '{}'", z.name));
      // An empty list is not "any": a template that left a tenant's list empty must not
      // turn its zone into every port.
      refuse_empty(n, "ports", "port");
      refuse_empty(n, "segments", "segment");
      refuse_empty(n, "networks", "address");
      for (const auto& [p, node] : names_of(n["ports"])) {
        if (std::none_of(c_.devices.begin(), c_.devices.end(),
                         [&](const vnf::PortDevice& d) { return d.name == p; })) {
          std::vector<std::string> names;
          for (const auto& d : c_.devices) names.push_back(d.name);
          node.fail(fmt::format("unknown port '{}'{}", p, suggest(p, names)));
        }
        z.ports.push_back(p);
      }
      for (const auto& [s, node] : names_of(n["segments"])) {
        if (!c_.segment(s)) {
          std::vector<std::string> names;
          for (const auto& x : c_.segments) names.push_back(x.name);
          node.fail(fmt::format("unknown segment '{}'{}", s, suggest(s, names)));
        }
        z.segments.push_back(s);
      }
      for (const auto& [a, node] : names_of(n["networks"]))
        z.networks.push_back(address_ref(a, node));
      if (n.has("intra_zone")) z.intra_zone = parse_action(n["intra_zone"]);
      z.intra_zone_log = n.bool_or("intra_zone_log", false);
      z.conn_limit = parse_conn_limit(n["conn_limit"]);
      z.limit_pos = n["conn_limit"].present() ? pos_of(n["conn_limit"]) : z.pos;
      z.window_check = n.bool_or("window_check", true);
      z.timeouts = defaults;
      parse_timeouts(n["timeouts"], z.timeouts);
      z.description = n.str_or("description", "");
      c_.zones.push_back(z);
      zone_nodes_.push_back(n);
    }
    if (c_.zones.size() > 250) list.fail("at most 250 zones");
    if (c_.zones.empty()) list.fail("define at least one zone");
  }

  void rules(const ConfigNode& list) {
    std::set<std::string> ids;
    for (const auto& n : list.items()) {
      n.allow_keys({"id", "from", "to", "source", "destination", "service", "action", "log",
                    "log_rate", "comment", "cross_segment"});
      Rule r;
      r.id = name_of(n.required("id"), "rule id");
      r.pos = pos_of(n["id"]);
      if (!ids.insert(r.id).second) n["id"].fail(fmt::format("duplicate rule id '{}'", r.id));
      if (r.id == "count" || r.id == "offset" || r.id == "next_offset")
        n["id"].fail(fmt::format("rule id '{}' is reserved (telemetry uses it)", r.id));
      r.from = zone_refs(n.required("from"));
      r.to = zone_refs(n.required("to"));
      refuse_empty(n, "source", "address");
      refuse_empty(n, "destination", "address");
      refuse_empty(n, "service", "service");
      for (const auto& [a, node] : names_of(n["source"])) r.source.push_back(address_ref(a, node));
      for (const auto& [a, node] : names_of(n["destination"]))
        r.destination.push_back(address_ref(a, node));
      for (const auto& [s, node] : names_of(n["service"]))
        r.service.push_back(service_ref(s, node));
      r.action = parse_action(n.required("action"));
      r.log = n.bool_or("log", false);
      r.log_rate = log_rate_of(n, r.log);
      r.cross_segment = n.bool_or("cross_segment", false);
      r.comment = n.str_or("comment", "");
      c_.rules.push_back(r);
      rule_nodes_.push_back(n);
    }
    if (c_.rules.size() > 60000) list.fail("at most 60000 rules");
  }

  // A rule's or policy's own log rate: records per second for it, all workers together.
  static uint32_t log_rate_of(const ConfigNode& n, bool log) {
    if (!n.has("log_rate")) return kLogRateDefault;
    if (!log) n["log_rate"].fail("log_rate without log: true (nothing would be logged)");
    if (n["log_rate"].str() == "0")
      n["log_rate"].fail(
          "0 would write no record although log: true (a rule logs "
          "nothing with log: false)");
    return static_cast<uint32_t>(n.uint_or("log_rate", 0, 1, 1000000));
  }

  void policies(const ConfigNode& list) {
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& n : list.items()) {
      n.allow_keys({"from", "to", "action", "log", "log_rate"});
      Policy p;
      p.pos = pos_of(n);
      p.from = zone_ref(n.required("from"));
      p.to = zone_ref(n.required("to"));
      if (!seen.insert({p.from, p.to}).second)
        n.fail(fmt::format("a second policy for {} -> {}", p.from, p.to));
      p.action = parse_action(n.required("action"));
      p.log = n.bool_or("log", false);
      p.log_rate = log_rate_of(n, p.log);
      c_.policies.push_back(p);
    }
  }

  // What the objects, zones and rules expand to, with the limits of config.h: each object
  // once (members first, memoised), then every zone's networks and every rule, counting the
  // ACL entries the compiler will make. Nothing here grows much past a limit before it is
  // refused.
  void check_expansion() {
    Resolver res(c_);
    auto too_many_ranges = [](bool plural) {
      return fmt::format("expand{} to more than {} address ranges (the most after merging "
                         "overlapping and adjacent ones): split {}, or use wider prefixes",
                         plural ? "" : "s", kMaxObjectRanges, plural ? "them" : "it");
    };
    auto too_many_services = [](bool plural) {
      return fmt::format("expand{} to more than {} service entries (ports, port ranges, ICMP "
                         "types, after merging): split {}",
                         plural ? "" : "s", kMaxObjectServices, plural ? "them" : "it");
    };
    for (size_t i : address_order_)
      if (res.address_object(i).size() > kMaxObjectRanges)
        address_nodes_[i].fail(
            fmt::format("address object '{}' {}", c_.addresses[i].name, too_many_ranges(false)));
    for (size_t i : service_order_)
      if (res.service_object(i).size() > kMaxObjectServices)
        service_nodes_[i].fail(
            fmt::format("service '{}' {}", c_.services[i].name, too_many_services(false)));
    for (size_t i = 0; i < c_.zones.size(); ++i)
      if (res.addresses(c_.zones[i].networks).size() > kMaxObjectRanges)
        zone_nodes_[i]["networks"].fail(
            fmt::format("zone '{}': its networks {}", c_.zones[i].name, too_many_ranges(true)));
    uint64_t total = 0;
    for (size_t i = 0; i < c_.rules.size(); ++i) {
      const Rule& r = c_.rules[i];
      const ConfigNode& n = rule_nodes_[i];
      const AddrSet src = res.addresses(r.source);
      if (src.size() > kMaxObjectRanges)
        n["source"].fail(fmt::format("rule '{}': its sources {}", r.id, too_many_ranges(true)));
      const AddrSet dst = res.addresses(r.destination);
      if (dst.size() > kMaxObjectRanges)
        n["destination"].fail(
            fmt::format("rule '{}': its destinations {}", r.id, too_many_ranges(true)));
      const auto svc = res.services(r.service);
      if (svc.size() > kMaxObjectServices)
        n["service"].fail(fmt::format("rule '{}': its services {}", r.id, too_many_services(true)));
      const uint64_t entries = acl_entry_count(r, src, dst, svc);
      total = entries > kMaxAclEntries ? kMaxAclEntries + 1 : total + entries;
      if (total > kMaxAclEntries)
        n["id"].fail(fmt::format(
            "rule '{}' compiles to {} ACL entries (zones x sources x destinations x services, "
            "IPv6 ranges as prefixes), which takes the rule set past its limit of {}: narrow it, "
            "or split it into rules with fewer combinations",
            r.id, entries == UINT64_MAX ? std::string("too many") : std::to_string(entries),
            kMaxAclEntries));
    }
  }

  std::string address_ref(const std::string& a, const ConfigNode& node) {
    if (a == "any" || addr_idx_.count(a)) return a;
    AddrRange r;
    const auto err = parse_address(a, r);
    if (!err) return a;
    if (a.find_first_of("./:") != std::string::npos) node.fail(*err);
    node.fail(fmt::format("unknown address object '{}'{}", a, suggest(a, address_names())));
  }

  std::string service_ref(const std::string& s, const ConfigNode& node) {
    if (s == "any" || svc_idx_.count(s)) return s;
    std::vector<ServiceEntry> tmp;
    const std::string err = parse_service_literal(s, tmp);
    if (err.empty()) return s;
    if (s.find('/') != std::string::npos) node.fail(err);
    node.fail(
        fmt::format("unknown service '{}'{} (or write it as tcp/443, udp/53, icmp/echo-request)", s,
                    suggest(s, service_names())));
  }

 private:
  std::string name_of(const ConfigNode& n, const char* what) {
    const std::string s = n.str();
    if (!vnf::valid_name(s))
      n.fail(fmt::format("{} '{}' must match [A-Za-z0-9_.-]{{1,31}}", what, s));
    return s;
  }

  std::string zone_ref(const ConfigNode& n) {
    const std::string z = n.str();
    if (!c_.zone(z)) {
      std::vector<std::string> names;
      for (const auto& x : c_.zones) names.push_back(x.name);
      n.fail(fmt::format("unknown zone '{}'{}", z, suggest(z, names)));
    }
    return z;
  }

  std::vector<std::string> zone_refs(const ConfigNode& n) {
    std::vector<std::string> out;
    for (const auto& [z, node] : names_of(n)) out.push_back(z == "any" ? z : zone_ref(node));
    if (out.empty()) n.fail("name at least one zone, or 'any'");
    return out;
  }

  std::vector<std::string> address_names() const {
    std::vector<std::string> v;
    for (const auto& a : c_.addresses) v.push_back(a.name);
    return v;
  }
  std::vector<std::string> service_names() const {
    std::vector<std::string> v;
    for (const auto& s : c_.services) v.push_back(s.name);
    return v;
  }

  // One depth-first walk over all groups (iterative: a long chain cannot exhaust the stack):
  // a group that contains itself, or nests deeper than kMaxGroupDepth, is refused at its
  // position. Returns the objects members-first, the order the expansion check uses.
  template <class Name>
  std::vector<size_t> check_groups(const std::vector<std::vector<size_t>>& members,
                                   const std::vector<ConfigNode>& nodes, Name&& name) {
    enum : uint8_t { kWhite, kGrey, kBlack };
    const size_t n = members.size();
    std::vector<uint8_t> color(n, kWhite);
    std::vector<unsigned> depth(n, 0);
    std::vector<size_t> order;
    order.reserve(n);
    std::vector<std::pair<size_t, size_t>> stack;  // (object, next member)
    for (size_t root = 0; root < n; ++root) {
      if (color[root] != kWhite) continue;
      stack.emplace_back(root, 0);
      color[root] = kGrey;
      while (!stack.empty()) {
        auto& [v, k] = stack.back();
        if (k < members[v].size()) {
          const size_t m = members[v][k++];
          if (color[m] == kGrey)
            nodes[m].fail(fmt::format("'{}' contains itself (through '{}')", name(m), name(v)));
          if (color[m] == kWhite) {
            color[m] = kGrey;
            stack.emplace_back(m, 0);
          }
          continue;
        }
        unsigned d = 0;
        for (size_t m : members[v]) d = std::max(d, depth[m] + 1);
        if (d > kMaxGroupDepth)
          nodes[v].fail(fmt::format("group '{}' nests groups {} levels deep (at most {})", name(v), d,
                                    kMaxGroupDepth));
        depth[v] = d;
        color[v] = kBlack;
        order.push_back(v);
        stack.pop_back();
      }
    }
    return order;
  }

  FirewallConfig& c_;
  std::vector<ConfigNode> address_nodes_, service_nodes_, zone_nodes_, rule_nodes_;
  std::unordered_map<std::string, size_t> addr_idx_, svc_idx_;
  std::vector<size_t> address_order_, service_order_;  // members first
};

void check_key_collisions(const std::vector<std::pair<std::string, ConfigNode>>& named,
                          const char* what) {
  std::map<std::string, std::string> seen;
  for (const auto& [name, node] : named) {
    auto [it, fresh] = seen.emplace(vnf::telemetry::key(name), name);
    if (!fresh)
      node.fail(fmt::format("{} names '{}' and '{}' differ only in '-'/'.' vs '_'", what,
                            it->second, name));
  }
}

}  // namespace

void parse_policy_sections(const ConfigNode& root, FirewallConfig& c) {
  std::vector<std::pair<std::string, ConfigNode>> named;
  Timeouts defaults;
  const ConfigNode ct = root["conntrack"];
  if (ct.defined()) {
    ct.allow_keys({"size", "expectations", "recheck_established", "log_rate", "log_ceiling",
                   "expect_timeout", "timeouts"});
    c.conntrack.size = static_cast<uint32_t>(ct.uint_or("size", c.conntrack.size, 64, 1u << 26));
    c.conntrack.expectations =
        static_cast<uint32_t>(ct.uint_or("expectations", c.conntrack.expectations, 16, 1u << 20));
    c.conntrack.recheck_established = ct.bool_or("recheck_established", true);
    // 0 would log nothing while `log: true` promises records: refused (use `log: false`).
    if (ct.has("log_rate") && ct["log_rate"].str() == "0")
      ct["log_rate"].fail(
          "0 would silence every logged rule that sets no log_rate of "
          "its own (a rule logs nothing with log: false)");
    c.conntrack.log_rate = static_cast<uint32_t>(ct.uint_or("log_rate", 100, 1, 1000000));
    c.conntrack.log_ceiling = static_cast<uint32_t>(ct.uint_or("log_ceiling", 5000, 1, 1000000));
    c.conntrack.expect_timeout = ct.seconds_or("expect_timeout", 60, 1, 3600);
    parse_timeouts(ct["timeouts"], defaults);
  }
  const ConfigNode ftp = root["ftp"];
  if (ftp.defined()) {
    ftp.allow_keys({"ports"});
    c.ftp_ports.clear();
    for (const auto& p : ftp["ports"].items())
      c.ftp_ports.push_back(static_cast<uint16_t>(p.uint(1, 65535)));
  }
  const ConfigNode opt = root["options"];
  if (opt.defined()) {
    opt.allow_keys({"non_ip", "ndp", "fragments"});
    auto choice = [&](const char* key, bool def, const char* yes, const char* no) {
      const ConfigNode n = opt[key];
      if (!n.defined()) return def;
      const std::string s = n.str();
      if (s == yes) return true;
      if (s == no) return false;
      n.fail(fmt::format("{} must be {} or {}, got '{}'", key, yes, no, s));
    };
    c.non_ip_accept = choice("non_ip", true, "accept", "drop");
    c.ndp_accept = choice("ndp", true, "accept", "rules");
    c.fragments_accept = choice("fragments", false, "accept", "drop");
  }

  Loader l(c);
  l.segments(root["segments"]);
  l.addresses(root["addresses"]);
  l.services(root["services"]);
  l.zones(root.required("zones"), defaults);
  l.rules(root["rules"]);
  l.policies(root["policies"]);
  l.check_expansion();
  c.findings = lint(c);
  c.linted = true;
  named.clear();
  for (const auto& r : root["rules"].items()) named.emplace_back(r["id"].str(), r["id"]);
  check_key_collisions(named, "rule id");
  named.clear();
  for (const auto& z : root["zones"].items()) named.emplace_back(z["name"].str(), z["name"]);
  check_key_collisions(named, "zone");
}

FirewallConfig parse_firewall_config(const ConfigNode& root) {
  root.expect_map();
  root.allow_keys({"engine", "ports", "wires", "segments", "zones", "addresses", "services",
                   "rules", "policies", "conntrack", "ftp", "options"});
  FirewallConfig c;
  c.file = root.file();
  c.engine = vnf::parse_engine(root);

  const ConfigNode ports = root.required("ports");
  ports.expect_seq();
  std::vector<ConfigNode> port_nodes = ports.items();
  std::vector<std::pair<std::string, ConfigNode>> named;
  for (const auto& n : port_nodes) {
    n.expect_map();
    n.allow_keys(vnf::kPortDeviceKeys);
    c.devices.push_back(vnf::parse_port_device(n));
    named.emplace_back(c.devices.back().name, n["name"]);
  }
  if (c.devices.size() < 2) ports.fail("a firewall needs at least two ports");
  vnf::validate_port_devices(c.devices, port_nodes);
  check_key_collisions(named, "port");

  // Wires: pairs of ports; a frame entering one leaves by the other.
  const ConfigNode wires = root.required("wires");
  wires.expect_seq();
  std::set<std::string> wired;
  for (const auto& w : wires.items()) {
    w.expect_seq();
    const auto ends = w.items();
    if (ends.size() != 2) w.fail("a wire joins exactly two ports: [port-a, port-b]");
    Wire x{ends[0].str(), ends[1].str()};
    for (const auto& e : ends) {
      const std::string p = e.str();
      if (std::none_of(c.devices.begin(), c.devices.end(),
                       [&](const vnf::PortDevice& d) { return d.name == p; }))
        e.fail(fmt::format("unknown port '{}'", p));
      if (!wired.insert(p).second) e.fail(fmt::format("port '{}' is already in a wire", p));
    }
    c.wires.push_back(x);
  }
  for (size_t i = 0; i < c.devices.size(); ++i)
    if (!wired.count(c.devices[i].name))
      port_nodes[i]["name"].fail(
          fmt::format("port '{}' is in no wire: list it under 'wires'", c.devices[i].name));

  parse_policy_sections(root, c);
  return c;
}

FirewallConfig load_firewall_config(const std::string& file) {
  std::string hash;
  FirewallConfig c = parse_firewall_config(ConfigNode::load_file(file, &hash));
  c.hash = hash;
  return c;
}

void check_reloadable(const FirewallConfig& running, const FirewallConfig& next,
                      const ConfigNode& root) {
  vnf::check_restart_only(
      running.engine, running.devices, next.engine, next.devices, root,
      {{running.conntrack.size == next.conntrack.size, root["conntrack"]["size"],
        "conntrack.size"},
       {running.conntrack.expectations == next.conntrack.expectations,
        root["conntrack"]["expectations"], "conntrack.expectations"}});
}

std::vector<std::string> diff(const FirewallConfig& a, const FirewallConfig& b) {
  std::vector<std::string> out;
  std::map<std::string, const Rule*> old;
  for (const auto& r : a.rules) old[r.id] = &r;
  int added = 0, changed = 0, removed = 0;
  for (const auto& r : b.rules) {
    auto it = old.find(r.id);
    if (it == old.end()) {
      ++added;
      continue;
    }
    const Rule& o = *it->second;
    if (o.from != r.from || o.to != r.to || o.source != r.source ||
        o.destination != r.destination || o.service != r.service || o.action != r.action ||
        o.log != r.log || o.log_rate != r.log_rate)
      ++changed;
    old.erase(it);
  }
  removed = static_cast<int>(old.size());
  if (added || changed || removed)
    out.push_back(fmt::format("rules: {} added, {} changed, {} removed", added, changed, removed));
  for (const auto& z : b.zones)
    if (!a.zone(z.name)) out.push_back(fmt::format("zone {} added", z.name));
  for (const auto& z : a.zones)
    if (!b.zone(z.name)) out.push_back(fmt::format("zone {} removed", z.name));
  if (a.policies.size() != b.policies.size())
    out.push_back(fmt::format("policies {} -> {}", a.policies.size(), b.policies.size()));
  return out;
}

}  // namespace vfirewall
