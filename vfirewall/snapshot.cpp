#include "vfirewall/snapshot_build.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <stdexcept>

#include <fmt/format.h>

namespace vfirewall {

namespace {

// Field layout of the ACL input (AclKey4 / AclKey6). rte_acl reads input in 4-byte groups
// (input_index); the first field must be one byte. Rule values are host order, input data
// network order.
enum Field4 { kF4Proto, kF4Zsrc, kF4Zdst, kF4Src, kF4Dst, kF4Sport, kF4Dport, kF4Count };
enum Field6 {
  kF6Proto,
  kF6Zsrc,
  kF6Zdst,
  kF6Src0,
  kF6Dst0 = kF6Src0 + 4,
  kF6Sport = kF6Dst0 + 4,
  kF6Dport,
  kF6Count
};

RTE_ACL_RULE_DEF(AclRule4, kF4Count);
RTE_ACL_RULE_DEF(AclRule6, kF6Count);

rte_acl_field_def def(uint8_t type, uint8_t size, uint8_t field, uint8_t input, size_t off) {
  return rte_acl_field_def{type, size, field, input, static_cast<uint32_t>(off)};
}

void defs4(rte_acl_config& cfg) {
  cfg.num_fields = kF4Count;
  cfg.defs[kF4Proto] = def(RTE_ACL_FIELD_TYPE_BITMASK, 1, kF4Proto, 0, offsetof(AclKey4, proto));
  cfg.defs[kF4Zsrc] = def(RTE_ACL_FIELD_TYPE_BITMASK, 2, kF4Zsrc, 1, offsetof(AclKey4, zsrc));
  cfg.defs[kF4Zdst] = def(RTE_ACL_FIELD_TYPE_BITMASK, 2, kF4Zdst, 1, offsetof(AclKey4, zdst));
  cfg.defs[kF4Src] = def(RTE_ACL_FIELD_TYPE_RANGE, 4, kF4Src, 2, offsetof(AclKey4, src));
  cfg.defs[kF4Dst] = def(RTE_ACL_FIELD_TYPE_RANGE, 4, kF4Dst, 3, offsetof(AclKey4, dst));
  cfg.defs[kF4Sport] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, kF4Sport, 4, offsetof(AclKey4, sport));
  cfg.defs[kF4Dport] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, kF4Dport, 4, offsetof(AclKey4, dport));
}

void defs6(rte_acl_config& cfg) {
  cfg.num_fields = kF6Count;
  cfg.defs[kF6Proto] = def(RTE_ACL_FIELD_TYPE_BITMASK, 1, kF6Proto, 0, offsetof(AclKey6, proto));
  cfg.defs[kF6Zsrc] = def(RTE_ACL_FIELD_TYPE_BITMASK, 2, kF6Zsrc, 1, offsetof(AclKey6, zsrc));
  cfg.defs[kF6Zdst] = def(RTE_ACL_FIELD_TYPE_BITMASK, 2, kF6Zdst, 1, offsetof(AclKey6, zdst));
  for (uint8_t k = 0; k < 4; ++k) {
    cfg.defs[kF6Src0 + k] = def(RTE_ACL_FIELD_TYPE_MASK, 4, static_cast<uint8_t>(kF6Src0 + k),
                                static_cast<uint8_t>(2 + k), offsetof(AclKey6, src) + 4u * k);
    cfg.defs[kF6Dst0 + k] = def(RTE_ACL_FIELD_TYPE_MASK, 4, static_cast<uint8_t>(kF6Dst0 + k),
                                static_cast<uint8_t>(6 + k), offsetof(AclKey6, dst) + 4u * k);
  }
  cfg.defs[kF6Sport] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, kF6Sport, 10, offsetof(AclKey6, sport));
  cfg.defs[kF6Dport] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, kF6Dport, 10, offsetof(AclKey6, dport));
}

template <class R>
void common_fields(R& r, const AclEntry& e, int fp, int fzs, int fzd, int fsp, int fdp) {
  r.data.category_mask = 1;
  r.data.priority = static_cast<int32_t>(e.priority);
  r.data.userdata = e.rule + 1;  // 0 means "no match"
  r.field[fp].value.u8 = e.proto;
  r.field[fp].mask_range.u8 = e.proto_mask;
  r.field[fzs].value.u16 = e.zsrc;
  r.field[fzs].mask_range.u16 = e.zsrc_mask ? 0xFFFF : 0;
  r.field[fzd].value.u16 = e.zdst;
  r.field[fzd].mask_range.u16 = e.zdst_mask ? 0xFFFF : 0;
  r.field[fsp].value.u16 = e.sport_lo;
  r.field[fsp].mask_range.u16 = e.sport_hi;
  r.field[fdp].value.u16 = e.dport_lo;
  r.field[fdp].mask_range.u16 = e.dport_hi;
}

template <class R>
rte_acl_ctx* build_ctx(const std::string& name, int socket, const std::vector<R>& rules,
                       void (*defs)(rte_acl_config&), unsigned nfields) {
  if (rules.empty()) return nullptr;
  rte_acl_param p{};
  p.name = name.c_str();
  p.socket_id = socket;
  p.rule_size = RTE_ACL_RULE_SZ(nfields);
  p.max_rule_num = static_cast<uint32_t>(rules.size());
  rte_acl_ctx* ctx = rte_acl_create(&p);
  if (!ctx) throw std::runtime_error(fmt::format("rte_acl_create({}) failed", name));
  if (int rc = rte_acl_add_rules(ctx, reinterpret_cast<const rte_acl_rule*>(rules.data()),
                                 static_cast<uint32_t>(rules.size()));
      rc != 0) {
    rte_acl_free(ctx);
    throw std::runtime_error(fmt::format("rte_acl_add_rules({}): {}", name, rc));
  }
  rte_acl_config cfg{};
  cfg.num_categories = 1;
  defs(cfg);
  if (int rc = rte_acl_build(ctx, &cfg); rc != 0) {
    rte_acl_free(ctx);
    throw std::runtime_error(
        fmt::format("rte_acl_build({}, {} entries): error {} (memory?)", name, rules.size(), rc));
  }
  return ctx;
}

}  // namespace

FwSnapshot::~FwSnapshot() {
  rte_acl_free(acl4);
  rte_acl_free(acl6);
}

std::unique_ptr<FwSnapshot> build_snapshot(
    const FirewallConfig& cfg, const Compiled& comp, uint64_t generation, unsigned workers,
    int socket, const std::vector<std::pair<uint16_t, uint16_t>>& wires) {
  static std::atomic<unsigned> instance{0};
  const unsigned inst = instance++;
  auto s = std::make_unique<FwSnapshot>();
  s->generation = generation;

  for (const auto& r : comp.rules) {
    const uint32_t rate = r.log_rate == kLogRateDefault ? cfg.conntrack.log_rate : r.log_rate;
    s->rule_store.push_back(RuleInfo{r.slot, r.action, static_cast<uint8_t>(r.log), rate});
    s->rule_ids.push_back(r.id);
  }
  s->rules = s->rule_store.data();
  s->n_rules = static_cast<uint32_t>(s->rule_store.size());

  s->zone_names.assign(kMaxZoneIds, "");
  s->range_store.reserve(comp.zones.size() * 2);
  for (const auto& z : comp.zones) {
    ZoneView v{};
    v.id = z.id;
    v.any_port = z.any_port;
    v.any_vlan = z.any_vlan;
    v.any_addr = z.any_addr;
    v.claims = z.claims;
    v.ports = z.ports.to_ullong();
    for (unsigned b = 0; b < 4096; ++b)
      if (z.vlans.test(b)) v.vlans[b / 64] |= uint64_t(1) << (b % 64);
    s->range_store.push_back(z.networks.v4);
    s->range_store.push_back(z.networks.v6);
    v.r4 = s->range_store[s->range_store.size() - 2].data();
    v.n4 = static_cast<uint32_t>(z.networks.v4.size());
    v.r6 = s->range_store.back().data();
    v.n6 = static_cast<uint32_t>(z.networks.v6.size());
    s->zone_store.push_back(v);
    s->zone_names[z.id] = z.name;
    ZoneSettings& zs = s->zone[z.id];
    zs.timeouts = z.timeouts;
    // Each worker has its own table: the zone's limit is divided between them.
    const uint64_t share = z.conn_limit ? (z.conn_limit + workers - 1) / workers : 0;
    zs.conn_limit = static_cast<uint32_t>(std::min<uint64_t>(share, UINT32_MAX));
    zs.window_check = z.window_check;
  }
  s->zones = s->zone_store.data();
  s->n_zones = static_cast<uint32_t>(s->zone_store.size());
  for (unsigned p = 0; p < kPortZoneSlots; ++p) {
    s->port_zone[p] = kPortZoneNone;
    for (uint32_t i = 0; i < s->n_zones; ++i) {
      const ZoneView& z = s->zones[i];
      if (!z.any_port && !((z.ports >> p) & 1)) continue;
      s->port_zone[p] = z.any_vlan && z.any_addr ? static_cast<int16_t>(i) : kPortZoneScan;
      break;
    }
  }
  s->claimed4_store = comp.claimed.v4;
  s->claimed6_store = comp.claimed.v6;
  s->claimed4 = s->claimed4_store.data();
  s->n_claimed4 = static_cast<uint32_t>(s->claimed4_store.size());
  s->claimed6 = s->claimed6_store.data();
  s->n_claimed6 = static_cast<uint32_t>(s->claimed6_store.size());
  for (size_t i = 0; i < comp.policy.size(); ++i) {
    s->policy[i] = comp.policy[i];
    if (s->policy[i].log_rate == kLogRateDefault) s->policy[i].log_rate = cfg.conntrack.log_rate;
  }

  for (auto& p : s->peer) p = kNoPeer;
  for (const auto& [a, b] : wires) {
    s->peer[a] = b;
    s->peer[b] = a;
  }
  for (uint16_t p : cfg.ftp_ports)
    if (s->n_ftp_ports < kMaxFtpPorts) s->ftp_ports[s->n_ftp_ports++] = p;
  s->non_ip_accept = cfg.non_ip_accept;
  s->ndp_accept = cfg.ndp_accept;
  s->fragments_accept = cfg.fragments_accept;
  s->recheck = cfg.conntrack.recheck_established;
  s->expect_timeout = cfg.conntrack.expect_timeout;
  s->log_ceiling = cfg.conntrack.log_ceiling;

  std::vector<AclRule4> r4;
  r4.reserve(comp.v4.size());
  for (const auto& e : comp.v4) {
    AclRule4 r{};
    common_fields(r, e, kF4Proto, kF4Zsrc, kF4Zdst, kF4Sport, kF4Dport);
    r.field[kF4Src].value.u32 = static_cast<uint32_t>(e.src);
    r.field[kF4Src].mask_range.u32 = static_cast<uint32_t>(e.src_hi);
    r.field[kF4Dst].value.u32 = static_cast<uint32_t>(e.dst);
    r.field[kF4Dst].mask_range.u32 = static_cast<uint32_t>(e.dst_hi);
    r4.push_back(r);
  }
  std::vector<AclRule6> r6;
  r6.reserve(comp.v6.size());
  for (const auto& e : comp.v6) {
    AclRule6 r{};
    common_fields(r, e, kF6Proto, kF6Zsrc, kF6Zdst, kF6Sport, kF6Dport);
    for (int k = 0; k < 4; ++k) {
      const int shift = 96 - 32 * k;
      const int sl = std::clamp(static_cast<int>(e.src_len) - 32 * k, 0, 32);
      const int dl = std::clamp(static_cast<int>(e.dst_len) - 32 * k, 0, 32);
      r.field[kF6Src0 + k].value.u32 = static_cast<uint32_t>(e.src >> shift);
      r.field[kF6Src0 + k].mask_range.u32 = static_cast<uint32_t>(sl);
      r.field[kF6Dst0 + k].value.u32 = static_cast<uint32_t>(e.dst >> shift);
      r.field[kF6Dst0 + k].mask_range.u32 = static_cast<uint32_t>(dl);
    }
    r6.push_back(r);
  }
  s->acl4_entries = r4.size();
  s->acl6_entries = r6.size();
  s->acl4 = build_ctx(fmt::format("fw4_{}_{}", inst, generation), socket, r4, defs4, kF4Count);
  s->acl6 = build_ctx(fmt::format("fw6_{}_{}", inst, generation), socket, r6, defs6, kF6Count);
  return s;
}

}  // namespace vfirewall
