#include "vfirewall/rules/compile.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace vfirewall {

uint32_t IdRegistry::get(const std::string& name) {
  auto it = ids.find(name);
  if (it != ids.end()) return it->second;
  if (next <= limit) {
    ids[name] = next;
    return next++;
  }
  if (free_ids.empty()) return 0;
  const uint32_t id = free_ids.back();
  free_ids.pop_back();
  ids[name] = id;
  reused.push_back(id);
  return id;
}

void IdRegistry::release_except(const std::set<std::string>& keep) {
  for (auto it = ids.begin(); it != ids.end();) {
    if (keep.count(it->first)) {
      ++it;
      continue;
    }
    free_ids.push_back(it->second);
    it = ids.erase(it);
  }
}

namespace {

struct ZoneSel {
  uint8_t id = 0;
  uint8_t mask = 0;  // 0: any zone
};

std::vector<ZoneSel> zone_sels(const std::vector<std::string>& names,
                               const std::map<std::string, uint8_t>& zid) {
  std::vector<ZoneSel> out;
  for (const auto& n : names) {
    if (n == "any") return {ZoneSel{0, 0}};
    out.push_back(ZoneSel{zid.at(n), 0xFF});
  }
  return out;
}

void add_service_fields(AclEntry& e, const ServiceEntry& s) {
  e.proto = s.proto;
  e.proto_mask = s.proto ? 0xFF : 0;
  if (s.icmp) {
    e.sport_lo = s.lo;
    e.sport_hi = s.hi;
  } else if (s.proto == 6 || s.proto == 17 || s.proto == 132) {
    e.dport_lo = s.lo;
    e.dport_hi = s.hi;
  }
}

size_t zone_count(const std::vector<std::string>& names) {
  return std::find(names.begin(), names.end(), "any") != names.end() ? 1 : names.size();
}

uint64_t sat_mul(uint64_t a, uint64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

uint64_t acl_entry_count(const Rule& r, const AddrSet& src, const AddrSet& dst,
                         const std::vector<ServiceEntry>& services) {
  uint64_t p6s = 0, p6d = 0;
  for (const auto& a : src.v6) p6s = sat_add(p6s, range_prefix_count(a.lo, a.hi, 128));
  for (const auto& b : dst.v6) p6d = sat_add(p6d, range_prefix_count(b.lo, b.hi, 128));
  const uint64_t per4 = sat_mul(src.v4.size(), dst.v4.size());
  const uint64_t per6 = sat_mul(p6s, p6d);
  uint64_t per_zone_pair = 0;
  for (const auto& s : services) {
    if (s.proto != kProtoIcmp6) per_zone_pair = sat_add(per_zone_pair, per4);
    if (s.proto != kProtoIcmp) per_zone_pair = sat_add(per_zone_pair, per6);
  }
  return sat_mul(sat_mul(zone_count(r.from), zone_count(r.to)), per_zone_pair);
}

Compiled compile_with_ports(const FirewallConfig& c, IdRegistry& zone_ids, IdRegistry& rule_slots,
                            const std::map<std::string, uint16_t>& port_ids) {
  Compiled out;
  std::map<std::string, uint8_t> zid;
  for (const auto& z : c.zones) {
    const uint32_t id = zone_ids.get(z.name);
    if (id == 0 || id >= kMaxZoneIds)
      throw std::runtime_error(fmt::format(
          "{}: zone '{}': no zone number left (restart to renumber)", z.pos.str(), z.name));
    zid[z.name] = static_cast<uint8_t>(id);
  }

  Resolver res(c);  // each object resolved once for the whole rule set

  // Zone classifier, in config order.
  std::map<std::string, uint16_t> seg_vlan;
  for (const auto& s : c.segments) seg_vlan[s.name] = s.vlan;
  for (const auto& z : c.zones) {
    ZoneMatch m;
    m.id = zid[z.name];
    m.name = z.name;
    m.any_port = z.ports.empty();
    for (const auto& p : z.ports) m.ports.set(port_ids.at(p));
    m.any_vlan = z.segments.empty();
    for (const auto& s : z.segments) m.vlans.set(seg_vlan.at(s));
    m.any_addr = z.networks.empty();
    if (!m.any_addr) m.networks = res.addresses(z.networks);
    m.claims = z.claims_addresses();
    if (m.claims) out.claimed.merge(m.networks);
    m.timeouts = z.timeouts;
    m.conn_limit = effective_conn_limit(c, z);
    m.window_check = z.window_check;
    out.zones.push_back(std::move(m));
  }

  // Default policies: deny between zones, the zone's intra_zone setting within one, then
  // the explicit `policies:` entries.
  for (const auto& z : c.zones) {
    auto& p = out.pair(zid[z.name], zid[z.name]);
    p.action = z.intra_zone;
    p.log = z.intra_zone_log;
  }
  for (const auto& p : c.policies)
    out.pair(zid[p.from], zid[p.to]) = PairPolicy{p.action, p.log, p.log_rate};

  uint64_t total = 0;
  for (size_t ri = 0; ri < c.rules.size(); ++ri) {
    const Rule& r = c.rules[ri];
    CompiledRule cr;
    cr.id = r.id;
    cr.slot = rule_slots.get(r.id);
    if (cr.slot == 0)
      throw std::runtime_error(fmt::format(
          "{}: rule '{}': no counter slot left (restart to renumber)", r.pos.str(), r.id));
    cr.action = r.action;
    cr.log = r.log;
    cr.log_rate = r.log_rate;
    cr.pos = r.pos;
    out.rules.push_back(cr);

    const auto from = zone_sels(r.from, zid);
    const auto to = zone_sels(r.to, zid);
    const AddrSet src = res.addresses(r.source);
    const AddrSet dst = res.addresses(r.destination);
    const auto services = res.services(r.service);
    // The loader refused any rule set past kMaxAclEntries; a config built another way is
    // refused here, before anything is allocated for it.
    total = std::min(sat_add(total, acl_entry_count(r, src, dst, services)), kMaxAclEntries + 1);
    if (total > kMaxAclEntries)
      throw std::runtime_error(fmt::format("{}: rule '{}': the rule set compiles to more than {} ACL "
                                           "entries",
                                           r.pos.str(), r.id, kMaxAclEntries));
    std::vector<Prefix> src6, dst6;  // IPv6 ranges as prefixes, once per rule
    for (const auto& a : src.v6)
      for (const auto& p : range_to_prefixes(a.lo, a.hi, 128)) src6.push_back(p);
    for (const auto& b : dst.v6)
      for (const auto& p : range_to_prefixes(b.lo, b.hi, 128)) dst6.push_back(p);
    const uint32_t prio = kAclMaxPriority - static_cast<uint32_t>(ri);
    for (const auto& fz : from) {
      for (const auto& tz : to) {
        for (const auto& s : services) {
          AclEntry base;
          base.rule = static_cast<uint32_t>(ri);
          base.priority = prio;
          base.zsrc = fz.id;
          base.zsrc_mask = fz.mask;
          base.zdst = tz.id;
          base.zdst_mask = tz.mask;
          add_service_fields(base, s);
          if (s.proto != kProtoIcmp6) {
            for (const auto& a : src.v4)
              for (const auto& b : dst.v4) {
                AclEntry e = base;
                e.src = a.lo;
                e.src_hi = a.hi;
                e.dst = b.lo;
                e.dst_hi = b.hi;
                out.v4.push_back(e);
              }
          }
          if (s.proto != kProtoIcmp) {
            for (const auto& pa : src6)
              for (const auto& pb : dst6) {
                AclEntry e = base;
                e.src = pa.addr;
                e.src_len = static_cast<uint8_t>(pa.len);
                e.dst = pb.addr;
                e.dst_len = static_cast<uint8_t>(pb.len);
                out.v6.push_back(e);
              }
          }
        }
      }
    }
  }
  return out;
}

}  // namespace vfirewall
