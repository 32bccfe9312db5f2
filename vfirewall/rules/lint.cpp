#include "vfirewall/rules/lint.h"

#include "vfirewall/rules/shadow.h"

#include <algorithm>
#include <functional>
#include <set>

#include <fmt/format.h>

namespace vfirewall {

std::string Finding::str() const {
  return fmt::format("{}: {}: {}", pos.str(), severity == Severity::kError ? "error" : "warning",
                     message);
}

void throw_on_lint_errors(const std::vector<Finding>& findings) {
  for (const auto& f : findings)
    if (f.severity == Finding::Severity::kError)
      throw vnf::config::ConfigError(f.pos.file, f.pos.line, f.pos.column, "", f.message);
}

namespace {

// Segments a rule side may be in: explicit only when every zone named is bound to segments.
std::set<std::string> explicit_segments(const FirewallConfig& c,
                                        const std::vector<std::string>& zones, bool& is_explicit) {
  std::set<std::string> out;
  is_explicit = true;
  for (const auto& z : zones) {
    const Zone* zz = z == "any" ? nullptr : c.zone(z);
    if (!zz || zz->segments.empty()) {
      is_explicit = false;
      return {};
    }
    out.insert(zz->segments.begin(), zz->segments.end());
  }
  return out;
}

void warn_at(std::vector<Finding>& out, const Pos& p, std::string m) {
  out.push_back({Finding::Severity::kWarning, p, std::move(m)});
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "'" : ", '") + x + "'";
  return s;
}

// Every zone has a connection limit by default (its share of the table); a zone without
// one, or limits that add up to more than the table, take that guarantee away.
void lint_conn_limits(const FirewallConfig& c, std::vector<Finding>& out) {
  const uint64_t cap = table_capacity(c);
  uint64_t sum = 0, default_share = 0;
  std::vector<const Zone*> configured;
  for (const auto& z : c.zones) {
    if (z.conn_limit.kind == ConnLimit::Kind::kUnlimited) {
      warn_at(out, z.limit_pos,
              fmt::format("zone '{}' has no connection limit: it can fill the connection table and "
                          "refuse every other zone's new connections",
                          z.name));
      continue;
    }
    const uint64_t l = effective_conn_limit(c, z);
    sum += l;
    if (z.conn_limit.kind == ConnLimit::Kind::kDefaultShare) {
      default_share = l;
    } else {
      configured.push_back(&z);
    }
  }
  if (sum <= cap || configured.empty()) return;
  std::string who;
  for (const Zone* z : configured)
    who += fmt::format("{}'{}' ({})", who.empty() ? "" : ", ", z->name, effective_conn_limit(c, *z));
  const unsigned workers = std::max(1u, c.engine.workers());
  warn_at(out, configured.front()->limit_pos,
          fmt::format("the zones' connection limits add up to {}, more than the table holds ({}: "
                      "conntrack.size {} x {} worker{}), so a zone may be refused before it reaches "
                      "its limit: {}{}; lower them or raise conntrack.size",
                      sum, cap, c.conntrack.size, workers, workers == 1 ? "" : "s", who,
                      default_share ? fmt::format(", the others {} each (default share)",
                                                  default_share)
                                    : ""));
}

// Where two zones both live: the ports and segments they share ("" when nowhere).
std::string shared_place(const Zone& a, const Zone& b) {
  auto common = [](const std::vector<std::string>& x, const std::vector<std::string>& y,
                   bool& overlap) {
    overlap = true;
    if (x.empty()) return y;  // any port (segment) and these: these
    if (y.empty()) return x;
    std::vector<std::string> r;
    for (const auto& v : x)
      if (std::find(y.begin(), y.end(), v) != y.end()) r.push_back(v);
    overlap = !r.empty();
    return r;
  };
  bool po = false, so = false;
  const auto ports = common(a.ports, b.ports, po);
  const auto segs = common(a.segments, b.segments, so);
  if (!po || !so) return "";
  std::string d;
  if (!ports.empty()) d = fmt::format("port{} {}", ports.size() > 1 ? "s" : "", join(ports));
  if (!segs.empty())
    d += fmt::format("{}segment{} {}", d.empty() ? "" : " and ", segs.size() > 1 ? "s" : "",
                     join(segs));
  return d;
}

// Anti-spoofing: a zone's addresses are bound to where it lives. Findings where the binding
// cannot protect.
void lint_zone_binding(const FirewallConfig& c, Resolver& res, std::vector<Finding>& out) {
  std::vector<AddrSet> nets(c.zones.size());
  for (size_t i = 0; i < c.zones.size(); ++i) {
    const Zone& z = c.zones[i];
    if (z.networks.empty()) continue;
    nets[i] = res.addresses(z.networks);
    if (!z.lives_somewhere())
      warn_at(out, z.pos,
              fmt::format("zone '{}' is told apart by address only: any port can use its "
                          "addresses; name its ports or segments",
                          z.name));
  }
  for (size_t j = 0; j < c.zones.size(); ++j) {
    const Zone& b = c.zones[j];
    for (size_t i = 0; i < j; ++i) {
      const Zone& a = c.zones[i];
      if (!a.lives_somewhere() || !b.lives_somewhere()) continue;
      if (a.networks.empty() && b.networks.empty()) continue;  // not told apart by address
      const std::string place = shared_place(a, b);
      if (!place.empty()) {
        warn_at(out, b.pos,
                fmt::format("zones '{}' and '{}' share {}: a host there can use the other's "
                            "addresses; give each zone its own port or segment",
                            a.name, b.name, place));
      } else if (a.claims_addresses() && b.claims_addresses()) {
        const auto common = nets[i].first_common(nets[j]);
        if (common)
          warn_at(out, b.pos,
                  fmt::format("zones '{}' and '{}' both claim {} but live in different places: "
                              "hosts in either place can use those addresses",
                              a.name, b.name, format_range(*common)));
      }
    }
  }
}

}  // namespace

std::vector<Finding> lint(const FirewallConfig& c) {
  std::vector<Finding> out;
  auto warn = [&](const Pos& p, std::string m) {
    out.push_back({Finding::Severity::kWarning, p, std::move(m)});
  };
  Resolver res(c);  // each object once
  std::vector<RuleSets> sets;
  sets.reserve(c.rules.size());
  for (const auto& r : c.rules)
    sets.push_back({res.addresses(r.source), res.addresses(r.destination), res.services(r.service)});

  std::vector<bool> never(c.rules.size());
  for (size_t j = 0; j < c.rules.size(); ++j) {
    const RuleSets& b = sets[j];
    const bool v4 = !b.src.v4.empty() && !b.dst.v4.empty() &&
                    std::any_of(b.services.begin(), b.services.end(),
                                [](const ServiceEntry& s) { return s.proto != kProtoIcmp6; });
    const bool v6 = !b.src.v6.empty() && !b.dst.v6.empty() &&
                    std::any_of(b.services.begin(), b.services.end(),
                                [](const ServiceEntry& s) { return s.proto != kProtoIcmp; });
    if (!v4 && !v6) {
      never[j] = true;
      warn(c.rules[j].pos, fmt::format("rule '{}' can never match: its source, destination and "
                                       "services share no address family",
                                       c.rules[j].id));
    }
  }
  find_shadowed(c, sets, never, out);

  // Objects nobody uses.
  std::set<std::string> used_addr, used_svc;
  std::function<void(const std::string&)> use_addr = [&](const std::string& n) {
    if (!used_addr.insert(n).second) return;
    if (const AddressObject* o = res.address(n))
      for (const auto& m : o->members) use_addr(m);
  };
  std::function<void(const std::string&)> use_svc = [&](const std::string& n) {
    if (!used_svc.insert(n).second) return;
    if (const ServiceObject* o = res.service(n))
      for (const auto& m : o->members) use_svc(m);
  };
  for (const auto& r : c.rules) {
    for (const auto& a : r.source) use_addr(a);
    for (const auto& a : r.destination) use_addr(a);
    for (const auto& s : r.service) use_svc(s);
  }
  for (const auto& z : c.zones)
    for (const auto& a : z.networks) use_addr(a);
  for (const auto& a : c.addresses)
    if (!used_addr.count(a.name))
      warn(a.pos,
           fmt::format("address object '{}' is not used by any rule, zone or group", a.name));
  for (const auto& s : c.services)
    if (!used_svc.count(s.name))
      warn(s.pos, fmt::format("service '{}' is not used by any rule or group", s.name));

  lint_conn_limits(c, out);
  lint_zone_binding(c, res, out);

  // Cross-segment reachability.
  for (const auto& r : c.rules) {
    if (r.action != Action::kAccept || r.cross_segment) continue;
    bool ef = false, et = false;
    const auto from = explicit_segments(c, r.from, ef);
    const auto to = explicit_segments(c, r.to, et);
    if (!ef || !et) continue;
    for (const auto& s : from)
      for (const auto& t : to)
        if (s != t) {
          out.push_back({Finding::Severity::kError, r.pos,
                         fmt::format("rule '{}' makes segment '{}' reach segment '{}', which are "
                                     "kept apart; add 'cross_segment: true' to the rule if that "
                                     "is intended",
                                     r.id, s, t)});
          goto next_rule;
        }
  next_rule:;
  }
  return out;
}

}  // namespace vfirewall
