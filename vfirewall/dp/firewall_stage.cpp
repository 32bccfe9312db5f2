#include "vfirewall/dp/firewall_stage.h"

#include <cstring>

#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_hash.h>
#include <rte_prefetch.h>

#include "vfirewall/dp/classify.h"
#include "vfirewall/dp/ftp_parse.h"
#include "vfirewall/dp/reject.h"
#include "vfirewall/dp/timeouts.h"

namespace vfirewall {

namespace {

inline uint16_t rd16(const uint8_t* p) noexcept { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t rd32(const uint8_t* p) noexcept {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// A query or its reply: tracked by (identifier, type), vfirewall/dp/conntrack.h.
inline bool is_icmp_tracked(uint8_t proto, uint8_t type) noexcept {
  return is_icmp_query(proto, type) || is_icmp_reply(proto, type);
}
inline bool is_icmp_error(uint8_t proto, uint8_t type) noexcept {
  if (proto == kProtoIcmp) return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
  return type < 128;
}
// ICMPv6 that keeps a link working (from link-local addresses, usually in no zone):
// MLD query/report/done (130-132, 143) and router/neighbour discovery and redirect (133-137).
inline bool is_link_control6(uint8_t type) noexcept {
  return (type >= 130 && type <= 137) || type == 143;
}
inline bool has_ports(uint8_t proto) noexcept { return proto == kProtoTcp || proto == kProtoUdp; }

// ACL input for a key; icmp_sport: type << 8 | code of the packet (ICMP only).
inline void acl4_key(AclKey4& a, const CtKey& k, uint16_t sport, uint16_t dport) noexcept {
  a.proto = k.proto;
  a.pad[0] = a.pad[1] = a.pad[2] = 0;
  a.zsrc = rte_cpu_to_be_16(k.zsrc);
  a.zdst = rte_cpu_to_be_16(k.zdst);
  std::memcpy(&a.src, k.src, 4);
  std::memcpy(&a.dst, k.dst, 4);
  a.sport = rte_cpu_to_be_16(sport);
  a.dport = rte_cpu_to_be_16(dport);
}
inline void acl6_key(AclKey6& a, const CtKey& k, uint16_t sport, uint16_t dport) noexcept {
  a.proto = k.proto;
  a.pad[0] = a.pad[1] = a.pad[2] = 0;
  a.zsrc = rte_cpu_to_be_16(k.zsrc);
  a.zdst = rte_cpu_to_be_16(k.zdst);
  std::memcpy(a.src, k.src, 16);
  std::memcpy(a.dst, k.dst, 16);
  a.sport = rte_cpu_to_be_16(sport);
  a.dport = rte_cpu_to_be_16(dport);
}

// One key's ACL result (0: no rule) with the rules' ports (ICMP: type << 8 | code, 0).
uint32_t classify_new(const FwSnapshot& s, const CtKey& k, uint16_t sport,
                      uint16_t dport) noexcept {
  uint32_t res = 0;
  if (k.family == 4) {
    if (!s.acl4) return 0;
    AclKey4 a;
    acl4_key(a, k, sport, dport);
    const uint8_t* d = reinterpret_cast<const uint8_t*>(&a);
    rte_acl_classify(s.acl4, &d, &res, 1, 1);
  } else {
    if (!s.acl6) return 0;
    AclKey6 a;
    acl6_key(a, k, sport, dport);
    const uint8_t* d = reinterpret_cast<const uint8_t*>(&a);
    rte_acl_classify(s.acl6, &d, &res, 1, 1);
  }
  return res;
}

// A session's key against the rules, for rechecks.
uint32_t classify_one(const FwSnapshot& s, const CtKey& k) noexcept {
  // An ICMP session was opened by a query whose type its key holds (code 0, as every query
  // has); other sessions carry their ports.
  if (k.proto == kProtoIcmp || k.proto == kProtoIcmp6)
    return classify_new(s, k, static_cast<uint16_t>(k.dport << 8), 0);
  return classify_new(s, k, k.sport, k.dport);
}

inline bool accepts(const FwSnapshot& s, const CtKey& k, uint32_t res, uint32_t& slot) noexcept {
  if (res) {
    slot = s.rules[res - 1].slot;
    return s.rules[res - 1].action == Action::kAccept;
  }
  slot = 0;
  return s.pair(k.zsrc, k.zdst).action == Action::kAccept;
}

inline uint32_t expect_hash(const uint8_t* dst, uint16_t dport) noexcept {
  uint32_t h = dport * 0x9E3779B1u;
  for (int i = 0; i < 16; ++i) h = (h ^ dst[i]) * 0x01000193u;
  return h;
}

}  // namespace

template <bool Dry>
struct FirewallStageT<Dry>::Pkt {
  rte_mbuf* m;
  vnf::PacketMeta* meta;
  const uint8_t* l3;
  const uint8_t* l4;  // null: no L4 header parsed
  uint32_t l4_avail;  // L4 bytes in the first segment
  uint16_t i;
  uint16_t egress;
  uint16_t in_vlan;  // the ingress segment (b.in_vlan), for the session
  uint16_t acl_sport, acl_dport;
  uint8_t family;
  uint8_t proto;
  uint8_t icmp_type;
  uint32_t sig;  // ct_hash of the key
};

template <bool Dry>
void FirewallStageT<Dry>::begin() noexcept {
  snap_ = pub_.get();
  now_s_ = static_cast<uint32_t>(w_.now_tsc / w_.tsc_hz) + static_cast<uint32_t>(st_.time_offset_s);
  ++st_.loops;
  serve_request();
  // Under full load (a full burst since the last loop) the sweep takes a word every
  // kBusySweepEvery loops, otherwise every loop; the word's sessions are fetched a loop
  // before.
  const bool busy = full_bursts_ != 0;
  full_bursts_ = 0;
  if (!busy || st_.loops % kBusySweepEvery == 0) sweep();
  if (!busy || (st_.loops + 1) % kBusySweepEvery == 0) prefetch_sweep();
}

template <bool Dry>
bool FirewallStageT<Dry>::prepare(vnf::Burst& b, uint16_t i, Pkt& p, CtKey& key) noexcept {
  const FwSnapshot& s = *snap_;
  rte_mbuf* m = b.pkts[i];
  vnf::PacketMeta& meta = vnf::meta_of(m);
  // The host's router answered this itself (echo reply, ICMP error): its own traffic, not a
  // forwarded packet between zones.
  if (meta.flags & vnf::meta_flags::kRouterLocal) return false;
  if (meta.l3 != vnf::L3::kIpv4 && meta.l3 != vnf::L3::kIpv6) {
    if (!s.non_ip_accept) b.drop(i, vnf::DropReason::kFwNonIp);
    return false;
  }
  if (meta.flags & vnf::meta_flags::kLaterFragment) {
    if (!s.fragments_accept) b.drop(i, vnf::DropReason::kFwFragment);
    return false;
  }
  const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
  if (meta.l4_proto == kProtoIcmp6 && s.ndp_accept && (meta.flags & vnf::meta_flags::kHasL4) &&
      is_link_control6(d[meta.l4_off]))
    return false;  // neighbour / router discovery and MLD belong to the link, like ARP
  const uint8_t* ip = d + meta.l3_off;
  const bool v4 = meta.l3 == vnf::L3::kIpv4;
  const uint8_t* src = v4 ? ip + 12 : ip + 8;
  const uint8_t* dst = v4 ? ip + 16 : ip + 24;
  const uint8_t family = v4 ? 4 : 6;
  const uint16_t egress = b.next[i] == vnf::kNextFlood ? kFloodPort : b.next[i];
  // Source: where it came in (the ingress segment, even if routing moved it since);
  // destination: where it goes out (meta.vlan and the egress port).
  const ZoneView* zs = find_zone(s, meta.in_port, b.in_vlan[i], family, src);
  // Another zone's address from a place where no zone claiming it lives: every packet, new
  // or not (a session's key holds zones, but a zone that spans both places would share it).
  if (spoofed_source(s, zs, meta.in_port, b.in_vlan[i], family, src)) {
    b.drop(i, vnf::DropReason::kFwSpoofedSource);
    return false;
  }
  if (!zs) {
    b.drop(i, vnf::DropReason::kFwNoZone);
    return false;
  }
  const ZoneView* zd;
  if (egress == kFloodPort) [[unlikely]] {
    const uint32_t ports = flood_ports(b, i);
    if (ports == 0) return false;  // nowhere to go: L2Egress drops it (no_destination)
    bool split = false;
    zd = flood_zone(b, i, family, dst, ports, split);
    if (split) {
      split_[n_split_] = i;
      split_zsrc_[n_split_++] = zs->id;
      return false;
    }
  } else {
    zd = find_zone(s, egress, meta.vlan, family, dst);
  }
  if (!zd) {
    b.drop(i, vnf::DropReason::kFwNoZone);
    return false;
  }
  return fill(b, i, p, key, zs->id, zd->id, egress);
}

template <bool Dry>
struct FirewallStageT<Dry>::Fast {
  uint16_t in_port;  // the burst's
  uint8_t ok4, ok6;  // the ingress port's zone is port-decided and no spoofing check is due
  uint8_t zsrc;      // that zone
  uint16_t egress;   // the last egress port learnt (0xFFFF: none yet)
  bool egress_ok;    // its zone is port-decided
  uint8_t zdst;      // that zone
  void learn(const FwSnapshot& s, uint16_t port) noexcept {
    in_port = port;
    egress = 0xFFFF;
    egress_ok = false;
    ok4 = ok6 = 0;
    zsrc = zdst = 0;
    if (port >= kPortZoneSlots || s.port_zone[port] < 0) return;
    const ZoneView& z = s.zones[s.port_zone[port]];
    zsrc = z.id;
    // A zone that claims its networks matched here, so its sources are its own; otherwise
    // the source is spoofed if another zone claims it: prepare looks.
    ok4 = z.claims || s.n_claimed4 == 0;
    ok6 = z.claims || s.n_claimed6 == 0;
  }
  bool to(const FwSnapshot& s, uint16_t port) noexcept {
    if (port != egress) {
      egress = port;
      egress_ok = port < kPortZoneSlots && s.port_zone[port] >= 0;
      zdst = egress_ok ? s.zones[s.port_zone[port]].id : 0;
    }
    return egress_ok;
  }
};

template <bool Dry>
uint16_t FirewallStageT<Dry>::prepare_run(vnf::Burst& b, Pkt* pk, CtKey* keys,
                                          uint16_t& n) noexcept {
  const FwSnapshot& s = *snap_;
  Fast f;
  f.learn(s, b.in_port);
  uint16_t k = 0;
  uint16_t i = 0;
  for (; i < b.count; ++i) {
    const uint16_t egress = b.next[i];
    if (egress >= vnf::kMaxPorts) {
      if (egress == vnf::kNextFlood) break;
      continue;  // decided already
    }
    rte_mbuf* m = b.pkts[i];
    vnf::PacketMeta& meta = vnf::meta_of(m);
    const uint8_t proto = meta.l4_proto;
    const bool v4 = meta.l3 == vnf::L3::kIpv4;
    if ((meta.flags & (vnf::meta_flags::kRouterLocal | vnf::meta_flags::kLaterFragment |
                       vnf::meta_flags::kHasL4)) != vnf::meta_flags::kHasL4 ||
        !has_ports(proto) || meta.in_port != f.in_port || !(v4 ? f.ok4 : f.ok6) ||
        (!v4 && meta.l3 != vnf::L3::kIpv6) || !f.to(s, egress))
      break;
    meta.zone = f.zsrc;
    Pkt& p = pk[k];  // what an established UDP packet needs; complete() adds the rest
    p.m = m;
    p.meta = &meta;
    p.i = i;
    const uint8_t* ip = rte_pktmbuf_mtod(m, const uint8_t*) + meta.l3_off;
    const uint8_t family = v4 ? 4 : 6;
    p.sig = make_key(keys[k], family, v4 ? ip + 12 : ip + 8, v4 ? ip + 16 : ip + 24,
                     key_tail(meta.sport, meta.dport, proto, family, f.zsrc, f.zdst));
    rte_prefetch0(&st_.flow[p.sig & st_.flow_mask]);  // read by judge's hint loop
    ++k;
  }
  n = k;
  return i;
}

// A flood (destination MAC not learned yet): each copy goes to a port of its own zone.
// Usually they are all one zone's (or no port has one): that zone (or null), and the copies
// narrowed to its ports. Ports in several zones: `split`, for judge_split.
template <bool Dry>
const ZoneView* FirewallStageT<Dry>::flood_zone(vnf::Burst& b, uint16_t i, uint8_t family,
                                                const uint8_t* dst, uint32_t ports,
                                                bool& split) noexcept {
  const FwSnapshot& s = *snap_;
  const uint16_t vlan = vnf::meta_of(b.pkts[i]).vlan;
  const ZoneView* zd = nullptr;
  uint32_t same = 0;
  for (uint32_t rest = ports; rest; rest &= rest - 1) {
    const unsigned port = static_cast<unsigned>(__builtin_ctz(rest));
    const ZoneView* z = find_zone(s, static_cast<uint16_t>(port), vlan, family, dst);
    if (!z) continue;  // a port in no zone gets no copy
    if (!zd) zd = z;
    if (z == zd) {
      same |= 1u << port;
    } else {
      split = true;
      return nullptr;
    }
  }
  if (zd) b.flood_mask[i] = same;
  return zd;
}

template <bool Dry>
uint32_t FirewallStageT<Dry>::flood_ports(const vnf::Burst& b, uint16_t i) const noexcept {
  const vnf::PacketMeta& meta = vnf::meta_of(b.pkts[i]);
  uint32_t ports = b.flood_mask[i];
  if (vlan_ports_) ports &= vlan_ports_[meta.vlan & 0xFFF];
  if (meta.vlan == b.in_vlan[i] && b.in_port < 32) ports &= ~(1u << b.in_port);
  return ports;
}

template <bool Dry>
void FirewallStageT<Dry>::complete(vnf::Burst& b, Pkt& p) noexcept {
  start(b, p.i, p, p.m, *p.meta, b.next[p.i]);
  p.acl_sport = p.meta->sport;
  p.acl_dport = p.meta->dport;
}

template <bool Dry>
void FirewallStageT<Dry>::start(vnf::Burst& b, uint16_t i, Pkt& p, rte_mbuf* m,
                                vnf::PacketMeta& meta, uint16_t egress) noexcept {
  const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
  p.m = m;
  p.meta = &meta;
  p.l3 = d + meta.l3_off;
  p.i = i;
  p.egress = egress;
  p.in_vlan = b.in_vlan[i];
  p.family = meta.l3 == vnf::L3::kIpv4 ? 4 : 6;
  p.proto = meta.l4_proto;
  p.icmp_type = 0;
  p.l4 = nullptr;
  p.l4_avail = 0;
  if (meta.flags & vnf::meta_flags::kHasL4) {
    p.l4 = d + meta.l4_off;
    const uint32_t in_seg = m->data_len > meta.l4_off ? m->data_len - meta.l4_off : 0;
    p.l4_avail = meta.l4_len < in_seg ? meta.l4_len : in_seg;
  }
}

template <bool Dry>
bool FirewallStageT<Dry>::fill(vnf::Burst& b, uint16_t i, Pkt& p, CtKey& key, uint8_t zsrc,
                               uint8_t zdst, uint16_t egress) noexcept {
  const FwSnapshot& s = *snap_;
  rte_mbuf* m = b.pkts[i];
  vnf::PacketMeta& meta = vnf::meta_of(m);
  const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint8_t* ip = d + meta.l3_off;
  const bool v4 = meta.l3 == vnf::L3::kIpv4;
  const uint8_t* src = v4 ? ip + 12 : ip + 8;
  const uint8_t* dst = v4 ? ip + 16 : ip + 24;
  const uint8_t family = v4 ? 4 : 6;
  if constexpr (Dry) {
    trace_->fw_zsrc = zsrc;
    trace_->fw_zdst = zdst;
    if (zsrc < s.zone_names.size())
      vnf::why_copy_name(trace_->fw_zsrc_name, s.zone_names[zsrc].c_str());
    if (zdst < s.zone_names.size())
      vnf::why_copy_name(trace_->fw_zdst_name, s.zone_names[zdst].c_str());
  }
  meta.zone = zsrc;
  start(b, i, p, m, meta, egress);
  p.acl_sport = p.acl_dport = 0;
  uint16_t sport = 0, dport = 0;
  if (meta.flags & vnf::meta_flags::kHasL4) {
    if (p.proto == kProtoIcmp || p.proto == kProtoIcmp6) {
      p.icmp_type = p.l4[0];
      if (is_icmp_error(p.proto, p.icmp_type)) {
        switch (related_icmp_error(p, zsrc, zdst)) {
          case IcmpError::kRelated:
            if constexpr (Dry)
              trace_->fw = vnf::why::Fw::kRelatedError;
            else
              st_.counters.related.add();
            break;
          case IcmpError::kMisdirected:
            b.drop(i, vnf::DropReason::kFwIcmpMisdirected);
            break;
          case IcmpError::kUnrelated:
            b.drop(i, vnf::DropReason::kFwIcmpUnrelated);
            break;
        }
        return false;
      }
      p.acl_sport = meta.sport;  // type << 8 | code
      if (is_icmp_tracked(p.proto, p.icmp_type)) {
        sport = meta.dport;  // identifier
        dport = p.icmp_type;
      }
    } else if (has_ports(p.proto)) {
      sport = p.acl_sport = meta.sport;
      dport = p.acl_dport = meta.dport;
    }
  }
  p.sig = make_key(key, family, src, dst, key_tail(sport, dport, p.proto, family, zsrc, zdst));
  return true;
}

template <bool Dry>
auto FirewallStageT<Dry>::related_icmp_error(const Pkt& p, uint8_t zsrc, uint8_t zdst) noexcept
    -> IcmpError {
  if (!p.l4 || p.l4_avail < 8) return IcmpError::kUnrelated;
  const uint8_t* in = p.l4 + 8;
  const uint32_t avail = p.l4_avail - 8;
  CtKey k;
  std::memset(&k, 0, sizeof k);
  const uint8_t* l4;
  if (p.family == 4) {
    if (avail < 20 || (in[0] >> 4) != 4) return IcmpError::kUnrelated;
    const uint32_t ihl = (in[0] & 0x0F) * 4u;
    if (ihl < 20 || avail < ihl + 8) return IcmpError::kUnrelated;
    k.proto = in[9];
    std::memcpy(k.src, in + 12, 4);
    std::memcpy(k.dst, in + 16, 4);
    l4 = in + ihl;
  } else {
    if (avail < 48 || (in[0] >> 4) != 6) return IcmpError::kUnrelated;
    k.proto = in[6];
    std::memcpy(k.src, in + 8, 16);
    std::memcpy(k.dst, in + 24, 16);
    l4 = in + 40;
  }
  k.family = p.family;
  k.zsrc = zdst;  // the quoted packet travelled the other way
  k.zdst = zsrc;
  if (has_ports(k.proto)) {
    k.sport = rd16(l4);
    k.dport = rd16(l4 + 2);
  } else if ((k.proto == kProtoIcmp || k.proto == kProtoIcmp6) && is_icmp_tracked(k.proto, l4[0])) {
    k.sport = rd16(l4 + 4);
    k.dport = l4[0];
  }
  void* data = nullptr;
  if (rte_hash_lookup_data(st_.hash, &k, &data) < 0) return IcmpError::kUnrelated;
  const Session& x = st_.sessions[reinterpret_cast<uintptr_t>(data) >> 1];
  if (static_cast<int32_t>(x.expires_s - now_s_) < 0) return IcmpError::kUnrelated;
  // The error goes back to whoever sent the quoted packet (the kernel: "outer daddr !=
  // inner saddr" is invalid); anything else aims a connection's error at a third host.
  const uint8_t* outer_dst = p.family == 4 ? p.l3 + 16 : p.l3 + 24;
  if (std::memcmp(outer_dst, k.src, p.family == 4 ? 4 : 16) != 0) return IcmpError::kMisdirected;
  return IcmpError::kRelated;
}

template <bool Dry>
void FirewallStageT<Dry>::count_rule(uint32_t slot, uint32_t bytes) noexcept {
  if constexpr (Dry) return;
  RuleCounters& c = st_.rules[slot];
  c.hits.add();
  c.last_hit_s.store(now_s_, std::memory_order_relaxed);
  add_rule_counts(slot, 1, bytes);
}

template <bool Dry>
void FirewallStageT<Dry>::add_rule_counts(uint32_t slot, uint32_t packets,
                                          uint64_t bytes) noexcept {
  if (Dry || slot == 0) return;
  RuleCounters& c = st_.rules[slot];
  c.packets.add(packets);
  c.bytes.add(bytes);
}

template <bool Dry>
void FirewallStageT<Dry>::log_decision(const CtKey& k, Action a, uint32_t rule_plus1, uint32_t rate,
                                       uint32_t limit) noexcept {
  if constexpr (Dry) {
    trace_->fw_log = 1;
    return;
  }
  LogLimit& lim = st_.log_limits[limit];
  std::atomic<uint64_t>& mine = st_.log_supp[limit];
  auto suppress = [&] {  // this worker's row only: a plain load and store, no locked add
    st_.counters.log_suppressed.add();
    mine.store(mine.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  };
  // The worker's ceiling, all rules together, then the rule's own rate (which a decision
  // over the ceiling does not use up).
  if (st_.log_window_s != now_s_) {
    st_.log_window_s = now_s_;
    st_.log_window_used = 0;
  }
  if (st_.log_window_used >= snap_->log_ceiling || !lim.take(now_s_, rate)) {
    suppress();
    return;
  }
  // The worker is the ring's only producer: free room now is room at the enqueue.
  if (rte_ring_free_count(st_.log_ring) == 0) {
    st_.counters.log_ring_full.add();
    suppress();  // reported with the rule's next record
    return;
  }
  ++st_.log_window_used;
  LogRecord r;
  std::memset(&r, 0, sizeof r);
  r.tsc = w_.now_tsc;
  r.rule = rule_plus1;
  r.generation = static_cast<uint32_t>(snap_->generation);
  std::memcpy(r.src, k.src, 16);
  std::memcpy(r.dst, k.dst, 16);
  r.sport = k.sport;
  r.dport = k.dport;
  r.proto = k.proto;
  r.family = k.family;
  r.zsrc = k.zsrc;
  r.zdst = k.zdst;
  r.action = static_cast<uint8_t>(a);
  const uint64_t since = lim.report(log_supp_total(st_.log_supp_rows, st_.n_workers, limit));
  r.suppressed = since > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(since);
  rte_ring_sp_enqueue_elem(st_.log_ring, &r, sizeof r);
  st_.counters.log_records.add();
}

static_assert(vnf::kMaxPorts <= 64, "Session::in_port/out_port are 8 bits; zones match ports < 64");

template <bool Dry>
void FirewallStageT<Dry>::first_packet(Session& x, const Pkt& p) noexcept {
  const FwSnapshot& s = *snap_;
  x.in_port = static_cast<uint8_t>(p.meta->in_port);
  x.out_port = p.egress < 64 ? static_cast<uint8_t>(p.egress) : kSessionNoPort;
  x.in_vlan = p.in_vlan;
  x.vlan = p.meta->vlan;
  if (x.key.proto == kProtoTcp && p.l4) {
    const uint32_t doff = static_cast<uint32_t>(p.l4[12] >> 4) * 4;
    TcpSegment g{rd32(p.l4 + 4),  rd32(p.l4 + 8),
                 rd16(p.l4 + 14), static_cast<uint16_t>(p.meta->l4_len - doff),
                 p.l4[13],        tcp_wscale_option(p.l4, doff <= p.l4_avail ? doff : 20)};
    tcp_window_update(x.win[0], x.win[1], g, false);
    x.state = static_cast<uint8_t>(TcpState::kSynSent);
    if (s.is_ftp_port(x.key.dport)) x.flags |= session_flags::kFtpCtl;
  }
  x.packets[0] = 1;
  x.bytes[0] = p.m->pkt_len;
  x.expires_s =
      now_s_ + timeout_for(s.zone[x.key.zsrc].timeouts, x.key.proto, TcpState(x.state), false);
}

template <bool Dry>
bool FirewallStageT<Dry>::recheck(Session& x) noexcept {
  const FwSnapshot& s = *snap_;
  const u128 src_a = addr_value(x.key.family, x.key.src);
  const ZoneView* zsv = find_zone_at(s, x.in_port, x.in_vlan, x.key.family, src_a);
  // The new config may bind the originator's address to another place.
  if (spoofed_source(s, zsv, x.in_port, x.in_vlan, x.key.family, src_a)) return false;
  const uint8_t zs = zsv ? zsv->id : kZoneNone;
  uint8_t zd = classify_zone(s, x.out_port, x.vlan, x.key.family, x.key.dst);
  if (x.out_port == kSessionNoPort && zd != x.key.zdst) {
    // Opened by a flood and not answered yet: its zone was a port's. Still so if a port of
    // the segment is still in that zone.
    const uint32_t ports = vlan_ports_ ? vlan_ports_[x.vlan & 0xFFF] : ~0u;
    for (uint32_t rest = ports; rest; rest &= rest - 1) {
      const uint16_t port = static_cast<uint16_t>(__builtin_ctz(rest));
      if (classify_zone(s, port, x.vlan, x.key.family, x.key.dst) == x.key.zdst) {
        zd = x.key.zdst;
        break;
      }
    }
  }
  if (zs != x.key.zsrc || zd != x.key.zdst) return false;
  if (x.flags & session_flags::kRelated) {
    // A data connection lives as long as its control connection is allowed.
    const uint32_t pi = x.parent - 1;
    if (x.parent == 0 || pi >= st_.capacity) return false;
    Session* parp = &st_.sessions[pi];
    Session parent_copy;
    if constexpr (Dry) {  // judged on a copy: the probe changes nothing
      parent_copy = *parp;
      parp = &parent_copy;
    }
    Session& par = *parp;
    if (!(par.flags & session_flags::kInUse) || par.serial != x.parent_serial) return false;
    if (par.epoch != s.generation) {
      if (!recheck(par)) {
        if constexpr (!Dry) {
          ct::remove(st_, pi);
          st_.counters.recheck_closed.add();
        }
        return false;
      }
    }
    x.epoch = static_cast<uint32_t>(s.generation);
    return true;
  }
  uint32_t slot = 0;
  if (!accepts(s, x.key, classify_one(s, x.key), slot)) return false;
  x.rule_slot = slot;
  x.epoch = static_cast<uint32_t>(s.generation);
  return true;
}

template <bool Dry>
void FirewallStageT<Dry>::on_session(vnf::Burst& b, Pkt& p, uint32_t idx, int dir) noexcept {
  const FwSnapshot& s = *snap_;
  Session* xp = &st_.sessions[idx];
  Session copy;
  if constexpr (Dry) {  // the update is worked out on a copy
    copy = *xp;
    xp = &copy;
    trace_->fw = vnf::why::Fw::kSession;
    trace_->fw_dir = static_cast<uint8_t>(dir);
    trace_->fw_state_before = trace_->fw_state_after = copy.state;
    for (uint32_t r = 0; r < s.n_rules; ++r)
      if (copy.rule_slot && s.rules[r].slot == copy.rule_slot) note_rule(r + 1, s.rules[r].action);
  }
  Session& x = *xp;
  if (s.recheck && x.epoch != s.generation && !recheck(x)) {
    if constexpr (!Dry) {
      ct::remove(st_, idx);
      st_.counters.recheck_closed.add();
    }
    b.drop(p.i, vnf::DropReason::kFwRecheckClosed);
    return;
  }
  if (x.key.proto == kProtoTcp && p.l4) {
    const uint8_t flags = p.l4[13];
    const uint32_t doff = static_cast<uint32_t>(p.l4[12] >> 4) * 4;
    const TcpEvent ev = tcp_event(flags);
    const TcpState st = TcpState(x.state);
    const TcpTransition t = tcp_transition(st, ev, dir);
    if (t.verdict == TcpVerdict::kInvalid) {
      b.drop(p.i, vnf::DropReason::kFwTcpInvalid);
      return;
    }
    bool check = s.zone[x.key.zsrc].window_check && s.zone[x.key.zdst].window_check;
    if (dir == 0 && ev == TcpEvent::kSyn && (st == TcpState::kTimeWait || st == TcpState::kClose)) {
      // The originator reopens the connection: start both windows afresh.
      x.win[0] = TcpWindow{};
      x.win[1] = TcpWindow{};
      x.flags &= static_cast<uint8_t>(~session_flags::kReplied);
      check = false;
    }
    const TcpSegment g{
        rd32(p.l4 + 4),
        rd32(p.l4 + 8),
        rd16(p.l4 + 14),
        static_cast<uint16_t>(p.meta->l4_len - doff),
        flags,
        (flags & kTcpSyn) ? tcp_wscale_option(p.l4, doff <= p.l4_avail ? doff : 20) : int8_t(-1)};
    if (!tcp_window_update(x.win[dir], x.win[1 - dir], g, check)) {
      b.drop(p.i, vnf::DropReason::kFwTcpWindow);
      return;
    }
    if (t.verdict == TcpVerdict::kMove) x.state = static_cast<uint8_t>(t.next);
    if constexpr (Dry) trace_->fw_state_after = x.state;
    if (!Dry && (x.flags & session_flags::kFtpCtl) && doff < p.l4_avail)
      add_expectation(x, dir, p.l4 + doff, p.l4_avail - doff);
  }
  account(x, p, dir, tally_, now_s_, s.zone);
}

template <bool Dry>
void FirewallStageT<Dry>::account(Session& x, const Pkt& p, int dir, Tally& t, uint32_t now,
                                  const ZoneSettings* zones) noexcept {
  if (dir == 1) {
    x.flags |= session_flags::kReplied;
    // Opened by a flood: the answer shows where the responder is.
    if (x.out_port == kSessionNoPort && p.meta->in_port < 64)
      x.out_port = static_cast<uint8_t>(p.meta->in_port);
  }
  ++x.packets[dir];
  x.bytes[dir] += p.m->pkt_len;
  if (x.rule_slot) tally_rule(t, x.rule_slot, p.m->pkt_len);
  x.expires_s = now + timeout_for(zones[x.key.zsrc].timeouts, x.key.proto, TcpState(x.state),
                                  x.flags & session_flags::kReplied);
}

template <bool Dry>
void FirewallStageT<Dry>::add_expectation(const Session& ctl, int dir, const uint8_t* payload,
                                          uint32_t len) noexcept {
  const CtKey& k = ctl.key;
  const size_t alen = k.family == 4 ? 4 : 16;
  const FtpEndpoint e = dir == 0 ? ftp_parse_command(payload, len) : ftp_parse_reply(payload, len);
  if (e.kind == FtpKind::kNone || e.port < 1024) return;
  Expectation x;
  std::memset(&x, 0, sizeof x);
  x.family = k.family;
  x.dport = e.port;
  if (dir == 0) {
    // Active mode: the server connects to the address the client announced, which must be
    // the client's own (no FTP bounce).
    if (e.family != k.family || std::memcmp(e.addr, k.src, alen) != 0) return;
    std::memcpy(x.src, k.dst, 16);
    std::memcpy(x.dst, k.src, 16);
    x.zsrc = k.zdst;
    x.zdst = k.zsrc;
  } else {
    // Passive mode: the client connects to the server, at the address the server named
    // (it must be the server's own; 229 names none).
    if (e.family != 0 && (e.family != k.family || std::memcmp(e.addr, k.dst, alen) != 0)) return;
    std::memcpy(x.src, k.src, 16);
    std::memcpy(x.dst, k.dst, 16);
    x.zsrc = k.zsrc;
    x.zdst = k.zdst;
  }
  x.in_use = 1;
  x.expires_s = now_s_ + snap_->expect_timeout;
  x.parent = static_cast<uint32_t>(&ctl - st_.sessions) + 1;
  x.parent_serial = ctl.serial;
  const uint32_t h = expect_hash(x.dst, x.dport);
  for (uint32_t probe = 0; probe < 8; ++probe) {
    Expectation& slot = st_.expect[(h + probe) & st_.expect_mask];
    const bool expired = slot.in_use && static_cast<int32_t>(slot.expires_s - now_s_) < 0;
    const bool same = slot.in_use && slot.dport == x.dport && slot.family == x.family &&
                      std::memcmp(slot.src, x.src, 16) == 0 &&
                      std::memcmp(slot.dst, x.dst, 16) == 0;
    if (!slot.in_use || expired || same) {
      if (!slot.in_use) ++st_.expect_live;
      slot = x;
      st_.counters.expectations.add();
      return;
    }
  }
  st_.counters.expect_full.add();
}

template <bool Dry>
bool FirewallStageT<Dry>::take_expectation(const CtKey& k, uint32_t& parent,
                                           uint32_t& parent_serial) noexcept {
  const uint32_t h = expect_hash(k.dst, k.dport);
  for (uint32_t probe = 0; probe < 8; ++probe) {
    Expectation& slot = st_.expect[(h + probe) & st_.expect_mask];
    if (!slot.in_use) continue;
    if (static_cast<int32_t>(slot.expires_s - now_s_) < 0) {
      if constexpr (!Dry) {
        slot.in_use = 0;
        --st_.expect_live;
      }
      continue;
    }
    if (slot.dport == k.dport && slot.family == k.family && slot.zsrc == k.zsrc &&
        slot.zdst == k.zdst && std::memcmp(slot.src, k.src, 16) == 0 &&
        std::memcmp(slot.dst, k.dst, 16) == 0) {
      parent = slot.parent;
      parent_serial = slot.parent_serial;
      if constexpr (!Dry) {
        slot.in_use = 0;
        --st_.expect_live;
      }
      return true;
    }
  }
  return false;
}

template <bool Dry>
void FirewallStageT<Dry>::on_new(vnf::Burst& b, Pkt& p, const CtKey& key,
                                 uint32_t result) noexcept {
  const FwSnapshot& s = *snap_;
  Action a;
  bool log;
  uint32_t slot = 0, rate, limit;
  if (result) {
    const RuleInfo& r = s.rules[result - 1];
    a = r.action;
    log = r.log;
    slot = r.slot;
    rate = r.log_rate;
    limit = r.slot;
  } else {
    const PairPolicy& pp = s.pair(key.zsrc, key.zdst);
    a = pp.action;
    log = pp.log;
    rate = pp.log_rate;
    limit = kMaxRuleSlots + key.zsrc * kMaxZoneIds + key.zdst;
  }
  if constexpr (Dry) note_rule(result, a);
  if (log) log_decision(key, a, result, rate, limit);
  if constexpr (!Dry) {
    const uint16_t in = p.meta->in_port;
    if (w_.cap && w_.cap->wants(vnf::CapturePoint::kVerdict, in)) [[unlikely]] {
      const vnf::CaptureVerdict v{
          result, static_cast<uint32_t>(s.generation), static_cast<uint8_t>(a), key.zsrc, key.zdst,
          0};
      w_.cap->copy(w_.id, p.m, in, vnf::CapturePoint::kVerdict, vnf::DropReason::kNone, w_.now_tsc,
                   &v);
    }
  }
  if (slot) count_rule(slot, p.m->pkt_len);
  if (a == Action::kAccept) {
    // ICMP that is neither a query nor an error (router advertisements, ICMPv6 link
    // messages under options.ndp: rules, ...) opens no connection, as in the kernel: each
    // packet is judged by the rules.
    if ((key.proto == kProtoIcmp || key.proto == kProtoIcmp6) && p.l4 &&
        !is_icmp_query(key.proto, p.icmp_type))
      return;
    vnf::DropReason why = vnf::DropReason::kNone;
    if constexpr (Dry) {
      if (!ct::admit(st_, s, key, why)) {
        b.drop(p.i, why);
      } else {
        trace_->fw_creates = 1;
        if (key.proto == kProtoTcp)
          trace_->fw_state_after = static_cast<uint8_t>(TcpState::kSynSent);
      }
      return;
    }
    const int32_t idx = ct::create(st_, s, key, now_s_, why);
    if (idx < 0) {
      b.drop(p.i, why);
      return;
    }
    Session& x = st_.sessions[idx];
    x.rule_slot = slot;
    if (!result) x.flags |= session_flags::kPolicy;
    first_packet(x, p);
    return;
  }
  // A routed frame no longer looks as it arrived (MACs rewritten, TTL decremented): a reject
  // built from it would go to the wrong station, so it is dropped without a response.
  // Nor is one built for a copy of a flood that other zones may accept (still counted as a
  // reject: that is what the rule decided).
  if (a == Action::kReject && !(p.meta->flags & vnf::meta_flags::kRouted)) {
    if (Dry || in_split_) {
      // the reject is not built
    } else if (rte_mbuf* r = build_reject(p.m, *p.meta, w_.pool)) {
      w_.send(p.meta->in_port, r);
      st_.counters.rejects_sent.add();
    }
    b.drop(p.i, result ? vnf::DropReason::kFwRuleReject : vnf::DropReason::kFwPolicyReject);
    return;
  }
  b.drop(p.i, result ? vnf::DropReason::kFwRuleDrop : vnf::DropReason::kFwPolicyDrop);
}

template <bool Dry>
bool FirewallStageT<Dry>::before_rules(vnf::Burst& b, Pkt& p, const CtKey& k) noexcept {
  const FwSnapshot& s = *snap_;
  if (k.proto == kProtoTcp && p.l4) {
    if (tcp_event(p.l4[13]) != TcpEvent::kSyn) {
      b.drop(p.i, vnf::DropReason::kFwTcpInvalid);
      return false;
    }
    uint32_t parent = 0, pserial = 0;
    if (st_.expect_live && take_expectation(k, parent, pserial)) {
      vnf::DropReason why = vnf::DropReason::kNone;
      if constexpr (Dry) {
        trace_->fw = vnf::why::Fw::kExpected;
        if (!ct::admit(st_, s, k, why)) {
          b.drop(p.i, why);
        } else {
          trace_->fw_creates = 1;
          trace_->fw_state_after = static_cast<uint8_t>(TcpState::kSynSent);
        }
        return false;
      }
      const int32_t idx = ct::create(st_, s, k, now_s_, why);
      if (idx < 0) {
        b.drop(p.i, why);
        return false;
      }
      Session& x = st_.sessions[idx];
      const uint32_t pi = parent - 1;
      x.flags |= session_flags::kRelated;
      x.parent = parent;
      x.parent_serial = pserial;
      x.rule_slot = pi < st_.capacity ? st_.sessions[pi].rule_slot : 0;
      first_packet(x, p);
      x.flags &= static_cast<uint8_t>(~session_flags::kFtpCtl);
      st_.counters.related.add();
      return false;
    }
  } else if ((k.proto == kProtoIcmp || k.proto == kProtoIcmp6) && p.l4 &&
             is_icmp_reply(k.proto, p.icmp_type)) {
    b.drop(p.i, vnf::DropReason::kFwInvalid);  // a reply nobody asked for
    return false;
  }
  return true;
}

template <bool Dry>
void FirewallStageT<Dry>::judge_one(vnf::Burst& b, Pkt& p, const CtKey& key) noexcept {
  void* data = nullptr;
  if (rte_hash_lookup_data(st_.hash, &key, &data) >= 0) {
    const uintptr_t v = reinterpret_cast<uintptr_t>(data);
    const uint32_t idx = static_cast<uint32_t>(v >> 1);
    if (static_cast<int32_t>(st_.sessions[idx].expires_s - now_s_) >= 0) {
      on_session(b, p, idx, static_cast<int>(v & 1));
      return;
    }
    if constexpr (!Dry) {
      ct::remove(st_, idx);
      st_.counters.expired.add();
    }
  }
  if (!before_rules(b, p, key)) return;
  on_new(b, p, key, classify_new(*snap_, key, p.acl_sport, p.acl_dport));
}

template <bool Dry>
void FirewallStageT<Dry>::judge_split(vnf::Burst& b, uint16_t i, uint8_t zsrc) noexcept {
  const FwSnapshot& s = *snap_;
  rte_mbuf* m = b.pkts[i];
  vnf::PacketMeta& meta = vnf::meta_of(m);
  const uint8_t* ip = rte_pktmbuf_mtod(m, const uint8_t*) + meta.l3_off;
  const uint8_t family = meta.l3 == vnf::L3::kIpv4 ? 4 : 6;
  const uint8_t* dst = family == 4 ? ip + 16 : ip + 24;
  const uint32_t ports = flood_ports(b, i);
  uint8_t zone_of[32];
  for (uint32_t rest = ports; rest; rest &= rest - 1) {
    const unsigned port = static_cast<unsigned>(__builtin_ctz(rest));
    const ZoneView* z = find_zone(s, static_cast<uint16_t>(port), meta.vlan, family, dst);
    zone_of[port] = z ? z->id : kZoneNone;
  }
  // Each copy's judgment runs on a one-packet burst, so that a refusal drops that copy only.
  vnf::Burst one;
  one.count = 1;
  one.in_port = b.in_port;
  one.pkts[0] = m;
  one.in_vlan[0] = b.in_vlan[i];
  uint32_t allowed = 0, todo = ports;
  uint16_t refused = 0;
  vnf::DropReason first_refusal = vnf::DropReason::kNone;
  // A refused copy beside the one the verdict drops: counted and offered to a trace's drop
  // point here (each refusing zone counts one drop).
  auto refuse_copy = [&](vnf::DropReason r) {
    if constexpr (!Dry) {
      w_.count_drop(meta.in_port, r);
      if (w_.cap && w_.cap->wants(vnf::CapturePoint::kDrop, meta.in_port)) [[unlikely]]
        w_.cap->copy(w_.id, m, meta.in_port, vnf::CapturePoint::kDrop, r, w_.now_tsc);
    }
  };
  in_split_ = true;
  vnf::WhyTrace before, accepted;
  if constexpr (Dry) before = accepted = *trace_;
  while (todo) {
    const uint8_t z = zone_of[__builtin_ctz(todo)];
    uint32_t zone_ports = 0;
    for (uint32_t rest = todo; rest; rest &= rest - 1) {
      const unsigned port = static_cast<unsigned>(__builtin_ctz(rest));
      if (zone_of[port] == z) zone_ports |= 1u << port;
    }
    todo &= ~zone_ports;
    if (z == kZoneNone) continue;  // a port in no zone gets no copy
    one.next[0] = vnf::kNextFlood;
    one.flood_mask[0] = zone_ports;
    Pkt p;
    CtKey key;
    if constexpr (Dry) *trace_ = before;  // each zone judged from the same trace
    if (fill(one, 0, p, key, zsrc, z, kFloodPort)) judge_one(one, p, key);
    if (one.next[0] != vnf::kNextDrop) {
      if constexpr (Dry) {
        if (!allowed) accepted = *trace_;  // vnfctl why shows a zone that takes the packet
      }
      allowed |= zone_ports;
      continue;
    }
    if (refused++ == 0) {
      first_refusal = meta.drop;
    } else {
      refuse_copy(meta.drop);
    }
    meta.drop = vnf::DropReason::kNone;
  }
  in_split_ = false;
  if constexpr (Dry) {
    if (allowed) *trace_ = accepted;
  }
  if (allowed == 0) {
    b.drop(i, refused ? first_refusal : vnf::DropReason::kFwNoZone);
    return;
  }
  if (refused) refuse_copy(first_refusal);
  b.flood_mask[i] = allowed;
}

template <bool Dry>
void FirewallStageT<Dry>::process(vnf::Burst& b) noexcept {
  full_bursts_ += b.count == vnf::kBurstMax;
  judge(b);
  add_rule_counts(tally_.slot, tally_.packets, tally_.bytes);
  tally_ = Tally{};
}

template <bool Dry>
void FirewallStageT<Dry>::judge(vnf::Burst& b) noexcept {
  const FwSnapshot& s = *snap_;
  Pkt pk[vnf::kBurstMax];
  CtKey keys[vnf::kBurstMax];
  uint16_t n = 0;
  n_split_ = 0;
  uint16_t i = Dry ? 0 : prepare_run(b, pk, keys, n);
  const uint16_t n_run = n;  // pk[0, n_run) wait for complete() before all but account()
  for (; i < b.count; ++i) {
    const uint16_t next = b.next[i];
    if (!(next < vnf::kMaxPorts || next == vnf::kNextFlood)) continue;
    if (prepare(b, i, pk[n], keys[n])) ++n;
  }
  for (uint16_t x = 0; x < n_split_; ++x) [[unlikely]] judge_split(b, split_[x], split_zsrc_[x]);
  if (n == 0) return;
  // Established connections: the flow cache's hint for each key (its entry fetched by
  // prepare_run), its session's two lines fetched for all of them before any is confirmed;
  // the table for the rest, in bulk.
  void* data[vnf::kBurstMax];
  uint64_t hits = 0;
  hash_sig_t sig[vnf::kBurstMax];
  uint32_t hint[vnf::kBurstMax];
  bool hinted[vnf::kBurstMax];
  for (uint16_t j = 0; j < n; ++j) {
    sig[j] = pk[j].sig;
    hinted[j] = flow_hint(st_.flow[sig[j] & st_.flow_mask], sig[j], hint[j]);
    if (hinted[j]) {  // both lines: the key is in the first, the counters in the second
      const Session* x = &st_.sessions[hint[j] >> 1];
      rte_prefetch0(x);
      rte_prefetch0(reinterpret_cast<const uint8_t*>(x) + 64);
    }
  }
  const void* mkey[vnf::kBurstMax];
  hash_sig_t msig[vnf::kBurstMax];
  uint16_t mj[vnf::kBurstMax];
  uint16_t nq = 0;
  for (uint16_t j = 0; j < n; ++j) {
    const uint32_t v = hint[j];
    if (hinted[j] && session_is(st_.sessions[v >> 1], keys[j], v & 1)) {
      data[j] = reinterpret_cast<void*>(uintptr_t{v});
      hits |= uint64_t(1) << j;
      continue;
    }
    mkey[nq] = &keys[j];
    msig[nq] = sig[j];
    mj[nq++] = j;
  }
  if constexpr (!Dry) {
    st_.counters.flow_hits.add(static_cast<uint64_t>(__builtin_popcountll(hits)));
    st_.counters.flow_misses.add(nq);
  }
  if (nq) {
    void* mdata[vnf::kBurstMax];
    uint64_t mhits = 0;
    rte_hash_lookup_with_hash_bulk_data(st_.hash, mkey, msig, nq, &mhits, mdata);
    for (uint16_t q = 0; q < nq; ++q) {
      if (!((mhits >> q) & 1)) continue;
      const uint16_t j = mj[q];
      data[j] = mdata[q];
      hits |= uint64_t(1) << j;
      if constexpr (!Dry)
        st_.flow[msig[q] & st_.flow_mask] =
            flow_entry(msig[q], static_cast<uint32_t>(reinterpret_cast<uintptr_t>(mdata[q])));
    }
    for (uint16_t q = 0; q < nq; ++q)  // both lines of the sessions the table found
      if ((mhits >> q) & 1) {
        const Session* x = &st_.sessions[reinterpret_cast<uintptr_t>(mdata[q]) >> 1];
        rte_prefetch0(x);
        rte_prefetch0(reinterpret_cast<const uint8_t*>(x) + 64);
      }
  }

  uint16_t miss[vnf::kBurstMax];
  uint16_t nm = 0;
  Tally t;
  // Read once, not per packet: the session stores below could alias them for the compiler.
  Session* const sessions = st_.sessions;
  const uint32_t now = now_s_;
  const bool recheck = s.recheck;
  const uint64_t generation = s.generation;
  for (uint16_t j = 0; j < n; ++j) {
    if (!((hits >> j) & 1)) {
      miss[nm++] = j;
      continue;
    }
    const uintptr_t v = reinterpret_cast<uintptr_t>(data[j]);
    const uint32_t idx = static_cast<uint32_t>(v >> 1);
    if (static_cast<int32_t>(sessions[idx].expires_s - now) < 0) {
      if constexpr (!Dry) {
        ct::remove(st_, idx);  // expired but not swept yet: gone; the packet starts afresh
        st_.counters.expired.add();
      }
      miss[nm++] = j;
      continue;
    }
    Session& x = sessions[idx];
    if (!Dry && x.key.proto != kProtoTcp && !(recheck && x.epoch != generation)) {
      // on_session, with no state to move
      account(x, pk[j], static_cast<int>(v & 1), t, now, s.zone);
      continue;
    }
    if (j < n_run) complete(b, pk[j]);
    on_session(b, pk[j], idx, static_cast<int>(v & 1));
  }
  add_rule_counts(t.slot, t.packets, t.bytes);
  if (nm == 0) return;

  // New connections: what may open one, FTP data connections, then the rules.
  AclKey4 a4[vnf::kBurstMax];
  AclKey6 a6[vnf::kBurstMax];
  const uint8_t* d4[vnf::kBurstMax];
  const uint8_t* d6[vnf::kBurstMax];
  uint16_t j4[vnf::kBurstMax], j6[vnf::kBurstMax];
  uint16_t n4 = 0, n6 = 0;
  for (uint16_t m = 0; m < nm; ++m) {
    const uint16_t j = miss[m];
    Pkt& p = pk[j];
    if (j < n_run) complete(b, p);
    const CtKey& k = keys[j];
    if (!before_rules(b, p, k)) continue;
    if (k.family == 4) {
      acl4_key(a4[n4], k, p.acl_sport, p.acl_dport);
      d4[n4] = reinterpret_cast<const uint8_t*>(&a4[n4]);
      j4[n4++] = j;
    } else {
      acl6_key(a6[n6], k, p.acl_sport, p.acl_dport);
      d6[n6] = reinterpret_cast<const uint8_t*>(&a6[n6]);
      j6[n6++] = j;
    }
  }
  uint32_t r4[vnf::kBurstMax] = {}, r6[vnf::kBurstMax] = {};
  if (n4 && s.acl4) rte_acl_classify(s.acl4, d4, r4, n4, 1);
  if (n6 && s.acl6) rte_acl_classify(s.acl6, d6, r6, n6, 1);
  // Decisions in arrival order per family. A packet whose connection an earlier packet of
  // this burst opened (two SYNs of one flow) must find that session: a 64-bit filter of
  // the hashes of keys created in this burst says when a second lookup is needed.
  uint64_t created_filter = 0;
  auto decide = [&](uint16_t j, uint32_t res) {
    const uint64_t bit = uint64_t(1) << (sig[j] & 63);
    if (created_filter & bit) {
      void* dd = nullptr;
      if (rte_hash_lookup_with_hash_data(st_.hash, &keys[j], sig[j], &dd) >= 0) {
        const uintptr_t v = reinterpret_cast<uintptr_t>(dd);
        on_session(b, pk[j], static_cast<uint32_t>(v >> 1), static_cast<int>(v & 1));
        return;
      }
    }
    const uint64_t before = st_.counters.created.get();
    on_new(b, pk[j], keys[j], res);
    if (st_.counters.created.get() != before) {
      // Both of the new session's keys: a later packet of this burst in the reply direction
      // (zones told apart by address can put both directions on one port) must find it, not
      // open a second session whose keys would overwrite this one's in the table.
      created_filter |= bit | uint64_t(1) << (ct_hash_reverse(keys[j]) & 63);
    }
  };
  for (uint16_t x = 0; x < n4; ++x) decide(j4[x], r4[x]);
  for (uint16_t x = 0; x < n6; ++x) decide(j6[x], r6[x]);
}

template <bool Dry>
void FirewallStageT<Dry>::serve_request() noexcept {
  if (!st_.current) {
    void* r = nullptr;
    if (rte_ring_sc_dequeue(st_.req_ring, &r) != 0) return;
    st_.current = static_cast<Request*>(r);
  }
  Request& q = *st_.current;
  const uint32_t end =
      q.cursor + kRequestSlice < st_.capacity ? q.cursor + kRequestSlice : st_.capacity;
  for (uint32_t i = q.cursor; i < end; ++i) {
    Session& x = st_.sessions[i];
    if (!(x.flags & session_flags::kInUse) || !ct::matches(q.filter, x)) continue;
    if (q.kind == Request::kFlush) {
      ct::remove(st_, i);
      st_.counters.flushed.add();
    } else if (q.found < q.max) {
      SessionView& v = q.out[q.found];
      v.key = x.key;
      v.expires_s = x.expires_s - now_s_;
      v.rule_slot = x.rule_slot;
      v.state = x.state;
      v.flags = x.flags;
      v.packets[0] = x.packets[0];
      v.packets[1] = x.packets[1];
      v.bytes[0] = x.bytes[0];
      v.bytes[1] = x.bytes[1];
    }
    ++q.found;
  }
  q.cursor = end;
  if (end == st_.capacity) {
    st_.current = nullptr;
    q.done.store(1, std::memory_order_release);
  }
}

// The next sweep's sessions, fetched a loop ahead: in a table larger than the cache each was
// a miss the sweep waited for. Their first line is all the sweep reads.
template <bool Dry>
void FirewallStageT<Dry>::prefetch_sweep() noexcept {
  const uint32_t words = (st_.capacity + 63) / 64;
  const uint32_t nx = st_.sweep_cursor < words ? st_.sweep_cursor : 0;
  for (uint64_t bits = st_.in_use[nx]; bits; bits &= bits - 1)
    rte_prefetch0(&st_.sessions[nx * 64 + static_cast<uint32_t>(__builtin_ctzll(bits))]);
}

template <bool Dry>
void FirewallStageT<Dry>::sweep() noexcept {
  const FwSnapshot& s = *snap_;
  // One word of the in-use bitmap per loop: the next 64 slots (kSweepPerLoop), of which only
  // the sessions in use are touched.
  static_assert(kSweepPerLoop == 64, "a word of FwWorkerState::in_use per loop");
  const uint32_t words = (st_.capacity + 63) / 64;
  const uint32_t wi = st_.sweep_cursor < words ? st_.sweep_cursor : 0;
  st_.sweep_cursor = wi + 1 == words ? 0 : wi + 1;
  for (uint64_t bits = st_.in_use[wi]; bits; bits &= bits - 1) {
    const uint32_t i = wi * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
    Session& x = st_.sessions[i];
    // Gone since the word was read: a recheck of a data connection removes its control
    // connection when that is forbidden too, and it may sit in the same word.
    if (!(x.flags & session_flags::kInUse)) continue;
    if (static_cast<int32_t>(x.expires_s - now_s_) < 0) {
      ct::remove(st_, i);
      st_.counters.expired.add();
    } else if (s.recheck && x.epoch != s.generation && !recheck(x)) {
      ct::remove(st_, i);
      st_.counters.recheck_closed.add();
    }
  }
  // Expectations: one slot per sweep, when there are any (each slot is a cache line of its
  // own, a miss every loop on a host that has no FTP). A cursor of their own: the loop
  // count would visit only every kBusySweepEvery-th slot under full load.
  if (st_.expect_live == 0) return;
  Expectation& e = st_.expect[st_.expect_cursor++ & st_.expect_mask];
  if (e.in_use && static_cast<int32_t>(e.expires_s - now_s_) < 0) {
    e.in_use = 0;
    --st_.expect_live;
  }
}

template <bool Dry>
void FirewallStageT<Dry>::note_rule(uint32_t result, Action a) noexcept {
  if constexpr (Dry) {
    const FwSnapshot& s = *snap_;
    if (trace_->fw != vnf::why::Fw::kSession)
      trace_->fw = result ? vnf::why::Fw::kRule : vnf::why::Fw::kPolicy;
    trace_->fw_rule = result;
    trace_->fw_action = static_cast<uint8_t>(a);
    trace_->fw_action_name = action_name(a);
    if (result && result - 1 < s.rule_ids.size())
      vnf::why_copy_name(trace_->fw_rule_id, s.rule_ids[result - 1].c_str());
  }
}

template <bool Dry>
void FirewallStageT<Dry>::probe(vnf::Burst& b, vnf::WhyTrace& t) noexcept {
  if constexpr (Dry) {
    snap_ = pub_.get();
    now_s_ =
        static_cast<uint32_t>(w_.now_tsc / w_.tsc_hz) + static_cast<uint32_t>(st_.time_offset_s);
    trace_ = &t;
    t.fw_generation = snap_->generation;
    const uint16_t before = b.next[0];
    const bool judged = before < vnf::kMaxPorts || before == vnf::kNextFlood;
    process(b);
    if (judged && t.fw == vnf::why::Fw::kNone)
      t.fw = b.next[0] == vnf::kNextDrop ? vnf::why::Fw::kDropped : vnf::why::Fw::kSkipped;
    if (t.fw == vnf::why::Fw::kSession || t.fw_creates) {
      t.fw_state_before_name = kTcpStateNames[t.fw_state_before];
      t.fw_state_after_name = kTcpStateNames[t.fw_state_after];
    }
    trace_ = nullptr;
  }
}

template class FirewallStageT<false>;
template class FirewallStageT<true>;

}  // namespace vfirewall
