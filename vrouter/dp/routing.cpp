#include "vrouter/dp/routing.h"

#include <cstddef>
#include <cstring>

#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_hash.h>
#include <rte_ring_elem.h>

#include "common/parser.h"
#include "vrouter/dp/flow_hash.h"
#include "vrouter/dp/forward.h"
#include "vrouter/dp/packet_ops.h"

namespace vrouter {

using vnf::DropReason;
using vnf::PacketMeta;
namespace mf = vnf::meta_flags;

namespace {

// Whether a frame is addressed to an interface's MAC: one 8-byte load from each (the frame has
// its source MAC after, the interface its port number), compared in their first six bytes.
inline bool to_iface(const uint8_t* frame, const IfaceDp& I) noexcept {
  static_assert(offsetof(IfaceDp, mac) + 8 <= sizeof(IfaceDp));
  uint64_t a, b;
  std::memcpy(&a, frame, 8);
  std::memcpy(&b, I.mac, 8);
  return ((a ^ b) & rte_cpu_to_le_64(0xFFFFFFFFFFFFull)) == 0;
}

inline bool martian4_src(uint32_t a) noexcept {
  const uint32_t top = a >> 24;
  return top == 0 || top == 127 || top >= 224;  // 0/8, loopback, multicast, class E, broadcast
}
inline bool martian4_dst(uint32_t a) noexcept {
  const uint32_t top = a >> 24;
  return top == 0 || top == 127 || (top >= 240 && a != 0xFFFFFFFF);
}

// The device verified the IPv4 header we route on: exactly GOOD (NONE means "not correct in
// the data"), and not a tunnel packet, whose flags speak of the inner header.
inline bool device_checked_ipv4(const rte_mbuf* m) noexcept {
  return (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
         !(m->ol_flags & RTE_MBUF_F_RX_OUTER_IP_CKSUM_BAD) &&
         !(m->packet_type & RTE_PTYPE_TUNNEL_MASK);
}
inline bool is_ll6(const uint8_t* a) noexcept { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }
// :: (unspecified) or ::1 (loopback): both have 64 zero bits first, which no routable address
// has, so one load and test decides for nearly every packet.
inline bool unspec_or_loop6(const uint8_t* a) noexcept {
  uint64_t hi, lo;
  std::memcpy(&hi, a, 8);
  if (hi != 0) [[likely]]
    return false;
  std::memcpy(&lo, a + 8, 8);
  return lo == 0 || lo == rte_cpu_to_be_64(1);
}

// The IPv4 header before the FIB lookup: checksum (unless the device verified it), martian
// source or destination, multicast or broadcast destination. kNone and the destination (host
// order), or why the packet is dropped.
[[gnu::always_inline]] inline DropReason check4(const rte_mbuf* pkt, const uint8_t* ip,
                                                uint32_t& dst) noexcept {
  const unsigned ihl = (ip[0] & 0x0F) * 4u;
  if (!device_checked_ipv4(pkt) && !ops::ipv4_header_valid(ip, ihl))
    return DropReason::kIpv4BadChecksum;
  const uint32_t src = ops::rd32(ip + 12);
  dst = ops::rd32(ip + 16);
  if (martian4_src(src) || martian4_dst(dst)) return DropReason::kMartianAddress;
  if (dst >> 28 == 0xE || dst == 0xFFFFFFFF) return DropReason::kNotRouted;
  return DropReason::kNone;
}

// The bucket of a flow in a path list of several adjacencies (ECMP, weights).
[[gnu::noinline]] unsigned flow_bucket(const uint8_t* ip, const PacketMeta& m, bool v6) noexcept {
  const bool ports =
      (m.flags & mf::kHasL4) && !(m.flags & mf::kFragment) && (m.l4_proto == 6 || m.l4_proto == 17);
  const uint16_t sp = ports ? m.sport : 0;
  const uint16_t dp = ports ? m.dport : 0;
  const uint32_t h = v6 ? flow_hash6(ip + 8, ip + 24, m.l4_proto, sp, dp)
                        : flow_hash4(ops::rd32(ip + 12), ops::rd32(ip + 16), m.l4_proto, sp, dp);
  return hash_bucket(h);
}

// The adjacency a flow uses in a path list.
[[gnu::always_inline]] inline const AdjDp& pick(const RouteSnapshot& s, uint32_t path,
                                                const uint8_t* ip, const PacketMeta& m,
                                                bool v6) noexcept {
  const PathDp& p = s.path[path];
  unsigned bucket = 0;
  if (p.members.load(std::memory_order_acquire) > 1) bucket = flow_bucket(ip, m, v6);
  return s.adj[p.bucket[bucket].load(std::memory_order_relaxed)];
}

// The segment policy: a packet between segments kept apart passes only along a prefix marked
// cross_segment, whether it is the destination's (the way there) or the source's (the way
// back). The reverse lookup runs only for packets that would otherwise be dropped.
inline bool cross_allowed(const RouteSnapshot& s, uint32_t path, const uint8_t* ip,
                          bool v6) noexcept {
  if (s.path[path].cross) return true;
  uint64_t nh = 0;
  if (v6) {
    uint8_t src[1][16];
    std::memcpy(src[0], ip + 8, 16);
    rte_fib6_lookup_bulk(s.fib6, src, &nh, 1);
  } else {
    uint32_t src = ops::rd32(ip + 12);
    rte_fib_lookup_bulk(s.fib4, &src, &nh, 1);
  }
  return s.path[nh].cross;
}

}  // namespace

template <bool Dry>
struct RoutingT<Dry>::Ctx {
  uint16_t idx4[vnf::kBurstMax], idx6[vnf::kBurstMax];
  uint8_t if4[vnf::kBurstMax], if6[vnf::kBurstMax];
  uint32_t key4[vnf::kBurstMax];
  uint8_t key6[vnf::kBurstMax][16];
  uint64_t nh[vnf::kBurstMax];
  unsigned n4 = 0, n6 = 0;
  Fwd fwd[vnf::kBurstMax];
  unsigned nf = 0;
  NeighKey nkey[vnf::kBurstMax];
  const void* nkp[vnf::kBurstMax];
  int32_t npos[vnf::kBurstMax];
  uint16_t nfwd[vnf::kBurstMax];
  unsigned nk = 0;
  // Interface counters, added up per run of packets of one interface (a burst usually comes
  // from and goes to one or two), not per packet.
  uint8_t rx_if = kDpNoIface, out_if = kDpNoIface;
  uint32_t rx_n = 0, out_n = 0;
  uint64_t rx_b = 0, out_b = 0;
  uint32_t now_ms = 0;  // coarse time of the neighbours' last use
  // The fast lane's memo: what the last packet through a gateway adjacency from an interface
  // was checked against. Valid for one burst of one family (a burst is one instant: the
  // neighbour's word and the link state read once for it).
  struct Hop {
    uint16_t adj = 0xFFFF;       // key: adjacency index...
    uint8_t in_if = kDpNoIface;  // ...and ingress interface (the segment policy)
    bool ok = false;  // a gateway adjacency, link up, segments not apart, neighbour usable
    uint8_t out_if = kDpNoIface;
    uint16_t port = 0;  // the verdict
    uint16_t vlan = 0;
    uint16_t mtu = 0;
    uint8_t macs[12];  // the next hop's MAC, then ours
  } hop;
};

namespace {

inline void count_run(IfaceCounters* ifc, uint8_t& cur, uint32_t& n, uint64_t& bytes,
                      vnf::Counter IfaceCounters::*pk, vnf::Counter IfaceCounters::*by, uint8_t x,
                      uint32_t len) noexcept {
  if (x != cur) {
    if (cur != kDpNoIface) {
      (ifc[cur].*pk).add(n);
      (ifc[cur].*by).add(bytes);
    }
    cur = x;
    n = 0;
    bytes = 0;
  }
  if (x == kDpNoIface) return;
  ++n;
  bytes += len;
}

}  // namespace

template <bool Dry>
RoutingT<Dry>::RoutingT(NeighView nv, RouterWorkerState& st, vnf::WorkerContext& w) noexcept
    : nv_(nv), st_(st), w_(w), tsc_per_ms_(w.tsc_hz / 1000 ? w.tsc_hz / 1000 : 1) {}

template <bool Dry>
[[gnu::cold]] void RoutingT<Dry>::drop(vnf::Burst& b, uint16_t i, uint8_t x,
                                       DropReason r) noexcept {
  b.drop(i, r);
  if (x != kDpNoIface) st_.iface[x].dropped.add();
}

template <bool Dry>
[[gnu::cold]] void RoutingT<Dry>::punt(vnf::Burst& b, uint16_t i, uint8_t kind, uint8_t x,
                                       uint8_t fam, const uint8_t* addr) noexcept {
  if constexpr (Dry) {  // what the control thread would be handed; nothing is
    const bool hold = kind == static_cast<uint8_t>(PuntKind::kHold);
    trace_->rt = hold ? vnf::why::Route::kHold : vnf::why::Route::kControl;
    b.next[i] = vnf::kNextConsumed;
    return;
  }
  PuntItem it;
  it.m = b.pkts[i];
  it.kind = kind;
  it.iface = x;
  it.family = fam;
  std::memset(it.pad, 0, sizeof it.pad);
  if (addr) {
    std::memset(it.addr, 0, 16);
    std::memcpy(it.addr, addr, fam == kFamV4 ? 4 : 16);
  }
  if (rte_ring_sp_enqueue_elem(st_.punt, &it, sizeof it) != 0) {
    st_.punt_full.add();
    drop(b, i, x, DropReason::kPuntQueueFull);
    return;
  }
  st_.punted.add();
  b.next[i] = vnf::kNextConsumed;
}

template <bool Dry>
bool RoutingT<Dry>::icmp_token(const RouteSnapshot& s) noexcept {
  if constexpr (Dry) return s.icmp_cost != 0;  // the bucket is not consulted (nor drained)
  if (st_.icmp.last == 0) {  // first use: a full bucket
    st_.icmp.last = w_.now_tsc;
    st_.icmp.credit = s.icmp_cap;
  }
  if (st_.icmp.take(w_.now_tsc, s.icmp_cost, s.icmp_cap)) return true;
  st_.icmp_suppressed.add();
  return false;
}

template <bool Dry>
[[gnu::cold]] void RoutingT<Dry>::icmp4_error(vnf::Burst& b, uint16_t i, uint8_t x,
                                              const RouteSnapshot& s, uint8_t type, uint8_t code,
                                              uint32_t rest, DropReason r) noexcept {
  rte_mbuf* pkt = b.pkts[i];
  PacketMeta& m = vnf::meta_of(pkt);
  const IfaceDp& I = s.iface[x];
  uint8_t* d = rte_pktmbuf_mtod(pkt, uint8_t*);
  const uint16_t l2 = m.l3_off;
  const uint8_t* ip = d + l2;
  const bool about_error = m.l4_proto == ops::kProtoIcmp && (m.flags & mf::kHasL4) &&
                           ops::icmp4_is_error(static_cast<uint8_t>(m.sport >> 8));
  if (about_error || (m.flags & mf::kLaterFragment) || I.n4 == 0 || pkt->nb_segs != 1 ||
      rte_pktmbuf_headroom(pkt) < 28 || !icmp_token(s)) {
    drop(b, i, x, r);
    return;
  }
  const uint32_t src = ops::rd32(ip + 12);
  uint16_t quote = m.l3_len > 548 ? 548 : m.l3_len;  // RFC 1812: at most 576 bytes in all
  uint8_t smac[6];
  std::memcpy(smac, d + 6, 6);
  rte_pktmbuf_trim(pkt, static_cast<uint16_t>(pkt->pkt_len - (l2 + quote)));
  uint8_t* nd = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(pkt, 28));
  std::memmove(nd, nd + 28, l2);
  std::memcpy(nd, smac, 6);
  std::memcpy(nd + 6, I.mac, 6);
  const uint16_t total = ops::write_icmp4_error(nd + l2, I.ip4[0], src, type, code, rest, quote);
  m.l3_len = total;
  m.l4_proto = ops::kProtoIcmp;
  m.l4_off = static_cast<uint16_t>(l2 + 20);
  m.l4_len = static_cast<uint16_t>(total - 20);
  m.ttl = ops::kDefaultTtl;
  m.flags = static_cast<uint8_t>((m.flags & mf::kSegTag) | mf::kRouterLocal);
  if constexpr (Dry) {
    trace_->rt = vnf::why::Route::kIcmpError;
    trace_->rt_icmp_reason = r;
  } else {
    w_.count_drop(b.in_port, r);
  }
  st_.iface[x].dropped.add();
  st_.iface[x].icmp_out.add();
  st_.icmp_sent.add();
  b.next[i] = b.in_port;
}

template <bool Dry>
[[gnu::cold]] void RoutingT<Dry>::icmp6_error(vnf::Burst& b, uint16_t i, uint8_t x,
                                              const RouteSnapshot& s, uint8_t type, uint8_t code,
                                              uint32_t rest, DropReason r) noexcept {
  rte_mbuf* pkt = b.pkts[i];
  PacketMeta& m = vnf::meta_of(pkt);
  const IfaceDp& I = s.iface[x];
  uint8_t* d = rte_pktmbuf_mtod(pkt, uint8_t*);
  const uint16_t l2 = m.l3_off;
  const uint8_t* ip = d + l2;
  const bool about_error = m.l4_proto == ops::kProtoIcmp6 && (m.flags & mf::kHasL4) &&
                           ops::icmp6_is_error(static_cast<uint8_t>(m.sport >> 8));
  if (about_error || pkt->nb_segs != 1 || rte_pktmbuf_headroom(pkt) < 48 || !icmp_token(s)) {
    drop(b, i, x, r);
    return;
  }
  uint8_t src[16];
  std::memcpy(src, ip + 8, 16);
  const uint16_t quote = m.l3_len > 1232 ? 1232 : m.l3_len;  // RFC 4443: within 1280 bytes
  uint8_t smac[6];
  std::memcpy(smac, d + 6, 6);
  rte_pktmbuf_trim(pkt, static_cast<uint16_t>(pkt->pkt_len - (l2 + quote)));
  uint8_t* nd = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(pkt, 48));
  std::memmove(nd, nd + 48, l2);
  std::memcpy(nd, smac, 6);
  std::memcpy(nd + 6, I.mac, 6);
  const uint8_t* our = I.n6 ? I.ip6[0] : I.ll6;
  const uint16_t plen = ops::write_icmp6_error(nd + l2, our, src, type, code, rest, quote);
  m.l3_len = static_cast<uint16_t>(40 + plen);
  m.l4_proto = ops::kProtoIcmp6;
  m.l4_off = static_cast<uint16_t>(l2 + 40);
  m.l4_len = plen;
  m.ttl = ops::kDefaultTtl;
  m.flags = static_cast<uint8_t>((m.flags & mf::kSegTag) | mf::kRouterLocal);
  if constexpr (Dry) {
    trace_->rt = vnf::why::Route::kIcmpError;
    trace_->rt_icmp_reason = r;
  } else {
    w_.count_drop(b.in_port, r);
  }
  st_.iface[x].dropped.add();
  st_.iface[x].icmp_out.add();
  st_.icmp_sent.add();
  b.next[i] = b.in_port;
}

// ARP and ND: what the control thread should see, per deployment.
template <bool Dry>
[[gnu::cold]] void RoutingT<Dry>::control(vnf::Burst& b, uint16_t i, uint8_t x, bool to_us,
                                          const RouteSnapshot& s) noexcept {
  rte_mbuf* pkt = b.pkts[i];
  const PacketMeta& m = vnf::meta_of(pkt);
  const uint8_t* d = rte_pktmbuf_mtod(pkt, const uint8_t*);
  const IfaceDp& I = s.iface[x];
  if (m.l3 == vnf::L3::kArp) {
    const uint8_t* a = d + m.l3_off;
    const bool ipv4_eth =
        m.l3_len >= 28 && ops::rd16(a) == 1 && ops::rd16(a + 2) == 0x0800 && a[4] == 6 && a[5] == 4;
    if (ipv4_eth) {
      const uint16_t op = ops::rd16(a + 6);
      const uint32_t spa = ops::rd32(a + 14);
      const uint32_t tpa = ops::rd32(a + 24);
      // Requests and replies for our addresses; in the appliance also gratuitous ARP (to
      // refresh cached entries). The host switch floods everything else as it would anyway.
      const bool ours = has_ip4(I, tpa);
      const bool garp = spa == tpa && (op == ops::kArpRequest || op == ops::kArpReply);
      if (ours || (!s.host_mode && garp)) {
        st_.iface[x].control_in.add();
        punt(b, i, static_cast<uint8_t>(PuntKind::kArp), x, kFamV4, nullptr);
        return;
      }
    }
    if (!s.host_mode) drop(b, i, x, DropReason::kArpIgnored);
    return;
  }
  // ICMPv6 ND (the caller checked the type).
  const uint8_t type = static_cast<uint8_t>(m.sport >> 8);
  const uint8_t* l4 = d + m.l4_off;
  bool take = false;
  if (type == ops::kNdNs && m.l4_len >= 24) {
    take = has_ip6(I, l4 + 8);
  } else if (type == ops::kNdNa && m.l4_len >= 24) {
    take = to_us || !s.host_mode;  // answers to our probes; unsolicited adverts (appliance)
  }
  if (take) {
    st_.iface[x].control_in.add();
    punt(b, i, static_cast<uint8_t>(PuntKind::kNd), x, kFamV6, nullptr);
  } else if (!s.host_mode) {
    drop(b, i, x, DropReason::kNdIgnored);
  }
}

template <bool Dry>
[[gnu::always_inline]] inline void RoutingT<Dry>::classify(vnf::Burst& b, uint16_t i,
                                                           const RouteSnapshot& s,
                                                           Ctx& c) noexcept {
  rte_mbuf* pkt = b.pkts[i];
  PacketMeta& m = vnf::meta_of(pkt);
  const uint8_t* d = rte_pktmbuf_mtod(pkt, const uint8_t*);
  uint8_t x;
  if (s.host_mode) {
    x = s.iface_of[0][m.vlan & 0xFFF];
    if (x == kDpNoIface) return;  // a segment without a gateway: the switch's business
    // A tenant's own VLAN tag under (or instead of) the segment's, from a qinq port: the
    // frame belongs to the tenant's tunnelled network, not to the segment's IP network. Routed,
    // it would carry that tag into another segment, where a trunk might send it outermost.
    if (m.tags > ((m.flags & mf::kSegTag) ? 1 : 0)) [[unlikely]]
      return;
  } else {
    uint16_t vid = 0;
    if (m.tags) {
      if (m.tags > 1 || m.outer_tpid != vnf::kTpid8021Q) {
        drop(b, i, kDpNoIface, DropReason::kNoInterface);
        return;
      }
      vid = m.outer_tci & 0xFFF;
      m.flags |= mf::kSegTag;
    }
    x = s.iface_of[b.in_port][vid];
    if (x == kDpNoIface) {
      drop(b, i, kDpNoIface, DropReason::kNoInterface);
      return;
    }
    m.vlan = vid;
  }
  const IfaceDp& I = s.iface[x];
  const bool to_us = to_iface(d, I);
  if (!to_us && !(d[0] & 1)) {  // unicast to another station
    if (!s.host_mode) drop(b, i, x, DropReason::kNotForRouter);
    return;
  }
  const bool nd = m.l3 == vnf::L3::kIpv6 && m.l4_proto == ops::kProtoIcmp6 &&
                  (m.flags & mf::kHasL4) && (m.sport >> 8) >= 133 && (m.sport >> 8) <= 137;
  if (m.l3 == vnf::L3::kArp || nd) {
    if constexpr (Dry) {
      trace_->rt = vnf::why::Route::kTaken;
      trace_->rt_in_if = x;
    }
    if (to_us || !s.host_mode)
      count_run(st_.iface, c.rx_if, c.rx_n, c.rx_b, &IfaceCounters::rx_packets,
                &IfaceCounters::rx_bytes, x, pkt->pkt_len);
    control(b, i, x, to_us, s);
    return;
  }
  if (!to_us) {  // broadcast / multicast IP: never routed
    if (!s.host_mode) drop(b, i, x, DropReason::kNotRouted);
    return;
  }
  if constexpr (Dry) {
    trace_->rt = vnf::why::Route::kTaken;
    trace_->rt_in_if = x;
  }
  count_run(st_.iface, c.rx_if, c.rx_n, c.rx_b, &IfaceCounters::rx_packets,
            &IfaceCounters::rx_bytes, x, pkt->pkt_len);
  const uint8_t* ip = d + m.l3_off;
  if (m.l3 == vnf::L3::kIpv4) {
    uint32_t dst;
    if (const DropReason r = check4(pkt, ip, dst); r != DropReason::kNone) {
      drop(b, i, x, r);
      return;
    }
    c.idx4[c.n4] = i;
    c.if4[c.n4] = x;
    c.key4[c.n4++] = dst;
    return;
  }
  if (m.l3 == vnf::L3::kIpv6) {
    const uint8_t* src = ip + 8;
    const uint8_t* dst = ip + 24;
    if (src[0] == 0xff || unspec_or_loop6(src) || unspec_or_loop6(dst)) {
      drop(b, i, x, DropReason::kMartianAddress);
      return;
    }
    if (dst[0] == 0xff) {
      drop(b, i, x, DropReason::kNotRouted);
      return;
    }
    if (is_ll6(dst)) {  // link-local scope: ours or nobody's
      if (std::memcmp(dst, I.ll6, 16) == 0) {
        local6(b, i, x, s);
      } else {
        drop(b, i, x, DropReason::kNotRouted);
      }
      return;
    }
    c.idx6[c.n6] = i;
    c.if6[c.n6] = x;
    std::memcpy(c.key6[c.n6++], dst, 16);
    return;
  }
  drop(b, i, x, DropReason::kNotRouted);
}

template <bool Dry>
[[gnu::cold]] void RoutingT<Dry>::local4(vnf::Burst& b, uint16_t i, uint8_t x,
                                         const RouteSnapshot& s) noexcept {
  rte_mbuf* pkt = b.pkts[i];
  PacketMeta& m = vnf::meta_of(pkt);
  uint8_t* d = rte_pktmbuf_mtod(pkt, uint8_t*);
  uint8_t* ip = d + m.l3_off;
  const bool whole = (m.flags & mf::kHasL4) && !(m.flags & mf::kFragment);
  if (whole && m.l4_proto == ops::kProtoIcmp && m.sport == 0x0800) {  // echo request, code 0
    if (!icmp_token(s)) {
      drop(b, i, x, DropReason::kIcmpRateLimited);
      return;
    }
    ops::echo_reply4(ip, (ip[0] & 0x0F) * 4u);
    std::memcpy(d, d + 6, 6);
    std::memcpy(d + 6, s.iface[x].mac, 6);
    m.ttl = ops::kDefaultTtl;
    m.flags |= mf::kRouterLocal;
    if constexpr (Dry) trace_->rt = vnf::why::Route::kAnswered;
    st_.iface[x].icmp_out.add();
    st_.icmp_sent.add();
    b.next[i] = b.in_port;
    return;
  }
  if (whole && m.l4_proto == ops::kProtoUdp) {  // traceroute to us: port unreachable
    icmp4_error(b, i, x, s, 3, 3, 0, DropReason::kLocalNoService);
    return;
  }
  drop(b, i, x, DropReason::kLocalNoService);
}

template <bool Dry>
[[gnu::cold]] void RoutingT<Dry>::local6(vnf::Burst& b, uint16_t i, uint8_t x,
                                         const RouteSnapshot& s) noexcept {
  rte_mbuf* pkt = b.pkts[i];
  PacketMeta& m = vnf::meta_of(pkt);
  uint8_t* d = rte_pktmbuf_mtod(pkt, uint8_t*);
  const bool whole = (m.flags & mf::kHasL4) && !(m.flags & mf::kFragment);
  if (whole && m.l4_proto == ops::kProtoIcmp6 && m.sport == 0x8000) {  // echo request
    if (!icmp_token(s)) {
      drop(b, i, x, DropReason::kIcmpRateLimited);
      return;
    }
    ops::echo_reply6(d + m.l3_off, d + m.l4_off);
    std::memcpy(d, d + 6, 6);
    std::memcpy(d + 6, s.iface[x].mac, 6);
    m.ttl = ops::kDefaultTtl;
    m.flags |= mf::kRouterLocal;
    if constexpr (Dry) trace_->rt = vnf::why::Route::kAnswered;
    st_.iface[x].icmp_out.add();
    st_.icmp_sent.add();
    b.next[i] = b.in_port;
    return;
  }
  if (whole && m.l4_proto == ops::kProtoUdp) {
    icmp6_error(b, i, x, s, 1, 4, 0, DropReason::kLocalNoService);
    return;
  }
  drop(b, i, x, DropReason::kLocalNoService);
}

template <bool Dry>
[[gnu::always_inline]] inline void RoutingT<Dry>::route4(vnf::Burst& b, uint16_t i, uint8_t x,
                                                         uint32_t path, const RouteSnapshot& s,
                                                         Ctx& c) noexcept {
  rte_mbuf* pkt = b.pkts[i];
  PacketMeta& m = vnf::meta_of(pkt);
  uint8_t* ip = rte_pktmbuf_mtod(pkt, uint8_t*) + m.l3_off;
  const AdjDp& a = pick(s, path, ip, m, false);
  if constexpr (Dry) note_adj(a, ip + 16, kFamV4);
  switch (static_cast<AdjKind>(a.kind)) {
    case AdjKind::kLocal:
      local4(b, i, x, s);
      return;
    case AdjKind::kNotRouted:
      drop(b, i, x, DropReason::kNotRouted);
      return;
    default:
      break;
  }
  if (m.ttl <= 1) {
    icmp4_error(b, i, x, s, 11, 0, 0, DropReason::kTtlExceeded);
    return;
  }
  if (a.kind == static_cast<uint8_t>(AdjKind::kNoRoute)) {
    icmp4_error(b, i, x, s, 3, 0, 0, DropReason::kNoRoute);
    return;
  }
  if (a.kind == static_cast<uint8_t>(AdjKind::kBlackhole)) {
    drop(b, i, x, DropReason::kBlackhole);
    return;
  }
  if (s.iface_down[a.iface].load(std::memory_order_relaxed)) {
    drop(b, i, x, DropReason::kLinkDown);
    return;
  }
  const IfaceDp& O = s.iface[a.iface];
  if ((s.apart[s.iface[x].seg] >> O.seg & 1) && !cross_allowed(s, path, ip, false)) {
    drop(b, i, x, DropReason::kSegmentPolicy);
    return;
  }
  if (m.l3_len > O.mtu) {
    if (ip[6] & 0x40) {  // DF
      icmp4_error(b, i, x, s, 3, 4, O.mtu, DropReason::kFragNeeded);
    } else {
      drop(b, i, x, DropReason::kMtuExceeded);
    }
    return;
  }
  to_next_hop(b, i, x, a, kFamV4, ip + 16, s, c);
}

template <bool Dry>
[[gnu::always_inline]] inline void RoutingT<Dry>::route6(vnf::Burst& b, uint16_t i, uint8_t x,
                                                         uint32_t path, const RouteSnapshot& s,
                                                         Ctx& c) noexcept {
  rte_mbuf* pkt = b.pkts[i];
  PacketMeta& m = vnf::meta_of(pkt);
  uint8_t* ip = rte_pktmbuf_mtod(pkt, uint8_t*) + m.l3_off;
  const AdjDp& a = pick(s, path, ip, m, true);
  if constexpr (Dry) note_adj(a, ip + 24, kFamV6);
  if (a.kind == static_cast<uint8_t>(AdjKind::kLocal)) {
    local6(b, i, x, s);
    return;
  }
  if (is_ll6(ip + 8)) {  // a link-local source never leaves its link (RFC 4291 2.5.6)
    drop(b, i, x, DropReason::kMartianAddress);
    return;
  }
  if (m.ttl <= 1) {
    icmp6_error(b, i, x, s, 3, 0, 0, DropReason::kTtlExceeded);
    return;
  }
  switch (static_cast<AdjKind>(a.kind)) {
    case AdjKind::kNoRoute:
      icmp6_error(b, i, x, s, 1, 0, 0, DropReason::kNoRoute);
      return;
    case AdjKind::kBlackhole:
      drop(b, i, x, DropReason::kBlackhole);
      return;
    case AdjKind::kNotRouted:
      drop(b, i, x, DropReason::kNotRouted);
      return;
    default:
      break;
  }
  if (s.iface_down[a.iface].load(std::memory_order_relaxed)) {
    drop(b, i, x, DropReason::kLinkDown);
    return;
  }
  const IfaceDp& O = s.iface[a.iface];
  if ((s.apart[s.iface[x].seg] >> O.seg & 1) && !cross_allowed(s, path, ip, true)) {
    drop(b, i, x, DropReason::kSegmentPolicy);
    return;
  }
  if (m.l3_len > O.mtu) {
    icmp6_error(b, i, x, s, 2, 0, O.mtu, DropReason::kPacketTooBig);
    return;
  }
  to_next_hop(b, i, x, a, kFamV6, ip + 24, s, c);
}

template <bool Dry>
[[gnu::always_inline]] inline void RoutingT<Dry>::to_next_hop(vnf::Burst& b, uint16_t i, uint8_t x,
                                                              const AdjDp& a, uint8_t family,
                                                              const uint8_t* dst,
                                                              const RouteSnapshot& s,
                                                              Ctx& c) noexcept {
  if (a.kind == static_cast<uint8_t>(AdjKind::kGateway)) {  // the neighbour's place is known
    finish(b, Fwd{i, x, a.iface, family, a.neigh, a.gw}, s, c);
    return;
  }
  // On-link: the destination is the neighbour, looked up for the whole burst.
  c.fwd[c.nf] = Fwd{i, x, a.iface, family, -1, dst};
  NeighKey& k = c.nkey[c.nk];
  k.iface = a.iface;
  k.family = family;
  k.zero = 0;
  std::memset(k.addr, 0, 16);
  std::memcpy(k.addr, dst, family == kFamV4 ? 4 : 16);
  c.nkp[c.nk] = &k;
  c.nfwd[c.nk++] = static_cast<uint16_t>(c.nf++);
}

// A rewritten packet's verdict and its egress interface's counters (finish and the fast lane).
template <bool Dry>
[[gnu::always_inline]] inline void RoutingT<Dry>::routed(vnf::Burst& b, uint16_t i, PacketMeta& m,
                                                         uint16_t out, uint8_t out_if,
                                                         Ctx& c) noexcept {
  m.flags |= mf::kRouted;
  m.out_port = out;
  b.next[i] = out;
  count_run(st_.iface, c.out_if, c.out_n, c.out_b, &IfaceCounters::out_packets,
            &IfaceCounters::out_bytes, out_if, b.pkts[i]->pkt_len);
}

template <bool Dry>
[[gnu::always_inline]] inline void RoutingT<Dry>::finish(vnf::Burst& b, const Fwd& f,
                                                         const RouteSnapshot& s, Ctx& c) noexcept {
  const uint16_t i = f.i;
  uint64_t word = 0;
  if (f.pos >= 0) {
    NeighEntry& e = nv_.entries[f.pos];
    word = e.word.load(std::memory_order_acquire);
    if (!Dry && (word & nw::kUsable) && e.used_ms.load(std::memory_order_relaxed) != c.now_ms)
      e.used_ms.store(c.now_ms, std::memory_order_relaxed);
  }
  if constexpr (Dry) {
    trace_->rt_neigh = (word & nw::kUsable) ? 1 : (word & nw::kFailed) ? 2 : f.pos >= 0 ? 3 : 0;
  }
  if (word & nw::kUsable) {
    rte_mbuf* pkt = b.pkts[i];
    PacketMeta& m = vnf::meta_of(pkt);
    routed(b, i, m, forward_rewrite(pkt, m, s.iface[f.out_if], word), f.out_if, c);
    if constexpr (Dry) {
      trace_->rt = vnf::why::Route::kForwarded;
      std::memcpy(trace_->rt_nh_mac, rte_pktmbuf_mtod(pkt, const uint8_t*), 6);
    }
    return;
  }
  if (word & nw::kFailed) {
    if (f.family == kFamV4) {
      icmp4_error(b, i, f.in_if, s, 3, 1, 0, DropReason::kNeighUnresolved);
    } else {
      icmp6_error(b, i, f.in_if, s, 1, 3, 0, DropReason::kNeighUnresolved);
    }
    return;
  }
  // Unknown or still resolving: the control thread holds it and resolves the neighbour.
  punt(b, i, static_cast<uint8_t>(PuntKind::kHold), f.out_if, f.family, f.nh_addr);
}

template <bool Dry>
[[gnu::noinline]] void RoutingT<Dry>::learn_hop(uint16_t ai, uint8_t x, const RouteSnapshot& s,
                                                Ctx& c) noexcept {
  typename Ctx::Hop& h = c.hop;
  h.adj = ai;
  h.in_if = x;
  h.ok = false;
  // Everything else goes the general way (route4 / route6), which also names the drop: other
  // kinds of adjacency, a link down, segments kept apart (cross_segment is per packet: the
  // reverse lookup is on its source), a neighbour not usable yet.
  const AdjDp& a = s.adj[ai];
  if (a.kind != static_cast<uint8_t>(AdjKind::kGateway) || a.neigh < 0) return;
  if (s.iface_down[a.iface].load(std::memory_order_relaxed)) return;
  const IfaceDp& O = s.iface[a.iface];
  if (s.apart[s.iface[x].seg] >> O.seg & 1) return;
  NeighEntry& e = nv_.entries[a.neigh];
  const uint64_t word = e.word.load(std::memory_order_acquire);
  if (!(word & nw::kUsable)) return;
  if (e.used_ms.load(std::memory_order_relaxed) != c.now_ms)
    e.used_ms.store(c.now_ms, std::memory_order_relaxed);
  write_macs(h.macs, word, O);
  h.out_if = a.iface;
  h.port = neighbour_port(word);
  h.vlan = O.vlan;
  h.mtu = O.mtu;
  h.ok = true;
}

template <bool Dry>
[[gnu::always_inline]] inline bool RoutingT<Dry>::fast(vnf::Burst& b, uint16_t i, uint8_t x,
                                                       uint32_t path, uint8_t family,
                                                       const RouteSnapshot& s, Ctx& c) noexcept {
  if constexpr (Dry) return false;  // vnfctl why records every decision: the general way
  const PathDp& p = s.path[path];
  if (p.members.load(std::memory_order_acquire) != 1) return false;  // ECMP: the flow's hash
  const uint16_t a = p.bucket[0].load(std::memory_order_relaxed);
  if (a != c.hop.adj || x != c.hop.in_if) [[unlikely]]
    learn_hop(a, x, s, c);
  const typename Ctx::Hop& h = c.hop;
  rte_mbuf* pkt = b.pkts[i];
  PacketMeta& m = vnf::meta_of(pkt);
  uint8_t* d = rte_pktmbuf_mtod(pkt, uint8_t*);
  uint8_t* ip = d + m.l3_off;
  // Per packet: the TTL (ICMP time exceeded), the MTU (fragmentation needed / too big) and, for
  // IPv6, a link-local source (never leaves its link).
  if (!h.ok || m.ttl <= 1 || m.l3_len > h.mtu) return false;
  if (family == kFamV6 && is_ll6(ip + 8)) return false;
  std::memcpy(d, h.macs, 12);
  if (family == kFamV4) {
    ops::ipv4_dec_ttl(ip);
  } else {
    --ip[7];
  }
  --m.ttl;
  m.vlan = h.vlan;
  routed(b, i, m, h.port, h.out_if, c);
  return true;
}

template <bool Dry>
void RoutingT<Dry>::process(vnf::Burst& b, const RouteSnapshot& s) noexcept {
  Ctx c;
  c.now_ms = static_cast<uint32_t>(w_.now_tsc / tsc_per_ms_);
  // The appliance's common case, taken here without classify's generality: an untagged IPv4
  // packet to the MAC of the port's untagged interface (x0, the same for the whole burst),
  // passing check4. Everything else, and whatever fails a check here, goes to classify, which
  // names the outcome.
  const uint8_t x0 = Dry || s.host_mode ? kDpNoIface : s.iface_of[b.in_port][0];
  uint32_t rx0_n = 0;
  uint64_t rx0_b = 0;
  for (uint16_t i = 0; i < b.count; ++i) {
    const uint16_t n = b.next[i];
    if (x0 != kDpNoIface && n == vnf::kNextStage) {
      rte_mbuf* pkt = b.pkts[i];
      PacketMeta& m = vnf::meta_of(pkt);
      const uint8_t* d = rte_pktmbuf_mtod(pkt, const uint8_t*);
      uint32_t dst;
      if (m.l3 == vnf::L3::kIpv4 && m.tags == 0 && to_iface(d, s.iface[x0]) &&
          check4(pkt, d + m.l3_off, dst) == DropReason::kNone) {
        m.vlan = 0;
        ++rx0_n;
        rx0_b += pkt->pkt_len;
        c.idx4[c.n4] = i;
        c.if4[c.n4] = x0;
        c.key4[c.n4++] = dst;
        continue;
      }
    }
    const bool mine =
        s.host_mode ? (n < vnf::kMaxPorts || n == vnf::kNextFlood) : n == vnf::kNextStage;
    if (mine) classify(b, i, s, c);
  }
  if (rx0_n) {
    st_.iface[x0].rx_packets.add(rx0_n);
    st_.iface[x0].rx_bytes.add(rx0_b);
  }
  if (c.n4) rte_fib_lookup_bulk(s.fib4, c.key4, c.nh, static_cast<int>(c.n4));
  for (unsigned j = 0; j < c.n4; ++j) {
    const auto path = static_cast<uint32_t>(c.nh[j]);
    if (!fast(b, c.idx4[j], c.if4[j], path, kFamV4, s, c))
      route4(b, c.idx4[j], c.if4[j], path, s, c);
  }
  if (c.n6) rte_fib6_lookup_bulk(s.fib6, c.key6, c.nh, static_cast<int>(c.n6));
  c.hop.adj = 0xFFFF;  // the memo is per family
  for (unsigned j = 0; j < c.n6; ++j) {
    const auto path = static_cast<uint32_t>(c.nh[j]);
    if (!fast(b, c.idx6[j], c.if6[j], path, kFamV6, s, c))
      route6(b, c.idx6[j], c.if6[j], path, s, c);
  }
  if (c.nk) {
    rte_hash_lookup_bulk(nv_.hash, c.nkp, c.nk, c.npos);
    for (unsigned k = 0; k < c.nk; ++k) c.fwd[c.nfwd[k]].pos = c.npos[k];
  }
  for (unsigned k = 0; k < c.nf; ++k) finish(b, c.fwd[k], s, c);
  count_run(st_.iface, c.rx_if, c.rx_n, c.rx_b, &IfaceCounters::rx_packets,
            &IfaceCounters::rx_bytes, kDpNoIface, 0);
  count_run(st_.iface, c.out_if, c.out_n, c.out_b, &IfaceCounters::out_packets,
            &IfaceCounters::out_bytes, kDpNoIface, 0);
}

template <bool Dry>
uint16_t RoutingT<Dry>::take_injected(vnf::Burst& b) noexcept {
  const unsigned n = rte_ring_sc_dequeue_burst(st_.inject, reinterpret_cast<void**>(b.pkts),
                                               vnf::kBurstMax, nullptr);
  for (unsigned i = 0; i < n; ++i) b.next[i] = vnf::meta_of(b.pkts[i]).out_port;
  b.in_port = n ? vnf::meta_of(b.pkts[0]).in_port : 0;
  if (n) st_.injected.add(n);
  return static_cast<uint16_t>(n);
}

template <bool Dry>
void RoutingT<Dry>::note_adj(const AdjDp& a, const uint8_t* dst, uint8_t family) noexcept {
  if constexpr (Dry) {
    const auto k = static_cast<AdjKind>(a.kind);
    if (k != AdjKind::kGateway && k != AdjKind::kOnLink) return;
    trace_->rt_out_if = a.iface;
    trace_->rt_family = family;
    trace_->rt_gateway = k == AdjKind::kGateway;
    std::memset(trace_->rt_nh, 0, 16);
    std::memcpy(trace_->rt_nh, k == AdjKind::kGateway ? a.gw : dst, family == kFamV4 ? 4 : 16);
  }
}

template class RoutingT<false>;
template class RoutingT<true>;

}  // namespace vrouter
