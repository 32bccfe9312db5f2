#include "vswitch/dp/l2_lookup.h"

#include <cstring>

#include <rte_hash.h>

namespace vswitch {

void L2Lookup::request_learn(const MacKey& k, uint16_t port, uint32_t now_s) noexcept {
  const uint64_t bits = key_bits(k);
  const unsigned slot = static_cast<unsigned>((bits * 0x9E3779B97F4A7C15ULL) >> 56);
  if (st_.recent_key[slot] == bits && st_.recent_port[slot] == port &&
      now_s - st_.recent_s[slot] < 1)
    return;  // already asked within this second
  LearnEvent ev{k, port, 0, now_s};
  if (rte_ring_sp_enqueue_elem(st_.learn_ring, &ev, sizeof ev) != 0) {
    st_.learn_ring_full.add();
    return;
  }
  st_.learn_requests.add();
  st_.recent_key[slot] = bits;
  st_.recent_port[slot] = port;
  st_.recent_s[slot] = now_s;
}

uint16_t L2Egress::flood_targets(const vnf::Burst& b, uint16_t i, const L2Snapshot& s,
                                 uint16_t* dests) const noexcept {
  const vnf::PacketMeta& m = vnf::meta_of(b.pkts[i]);
  const SegmentPorts* seg = s.segment(m.vlan);
  uint16_t nd = 0;
  const uint32_t mask = b.flood_mask[i];  // narrowed by the firewall to its destination zone
  // The ingress port is skipped within the ingress segment only: a routed frame may leave by
  // the trunk it came in on, in its new segment (and injected frames have no ingress port).
  const uint16_t skip = m.vlan == b.in_vlan[i] ? b.in_port : 0xFFFF;
  if (seg) {
    for (uint16_t k = 0; k < seg->count; ++k)
      if (seg->ports[k] != skip && ((mask >> seg->ports[k]) & 1) && w_.can_send(seg->ports[k]))
        dests[nd++] = seg->ports[k];
  }
  return nd;
}

void L2Egress::flood(vnf::Burst& b, uint16_t i, const L2Snapshot& s) noexcept {
  rte_mbuf* orig = b.pkts[i];
  const vnf::PacketMeta& m = vnf::meta_of(orig);
  uint16_t dests[vnf::kMaxPorts];
  uint16_t nd = flood_targets(b, i, s, dests);
  if (nd == 0) {
    b.drop(i, vnf::DropReason::kNoDestination);
    return;
  }
  if (s.limits.any_tx) [[unlikely]] {
    nd = limit_targets<false>(b, i, s, dests, nd);
    if (nd == 0) {  // every target over its limit (counted there)
      rte_pktmbuf_free(orig);
      b.next[i] = vnf::kNextConsumed;
      return;
    }
  }
  const bool seg_tag = m.flags & vnf::meta_flags::kSegTag;
  const uint16_t tci = seg_tag ? m.outer_tci : 0;
  st_.vlan[m.vlan].flooded.add();
  // Copies first, from the untouched original; the original goes to the last port.
  for (uint16_t k = 0; k < nd; ++k) {
    const uint16_t out = dests[k];
    rte_mbuf* pkt = k + 1 == nd ? orig : rte_pktmbuf_copy(orig, w_.pool, 0, UINT32_MAX);
    if (!pkt) {
      w_.count_drop(b.in_port < vnf::kMaxPorts ? b.in_port : 0, vnf::DropReason::kNoMbuf);
      continue;
    }
    if (!set_egress_tag(pkt, seg_tag, tci, s.port[out].egress_tpid(m.vlan), m.vlan)) {
      w_.discard(b.in_port < vnf::kMaxPorts ? b.in_port : 0, pkt, vnf::DropReason::kNoHeadroom);
      continue;
    }
    if (s.limits.shaped[out]) [[unlikely]] {
      if (!lim_.enqueue(s.limits, out, pkt)) {
        w_.discard(b.in_port < vnf::kMaxPorts ? b.in_port : out, pkt,
                   vnf::DropReason::kShapeQueueFull);
      }
      continue;
    }
    w_.send(out, pkt);
  }
  b.next[i] = vnf::kNextConsumed;
}

template <bool Dry>
uint16_t L2Egress::limit_targets(const vnf::Burst& b, uint16_t i, const L2Snapshot& s,
                                 uint16_t* dests, uint16_t nd) noexcept {
  uint16_t kept = 0;
  for (uint16_t k = 0; k < nd; ++k) {
    const uint16_t out = dests[k];
    if (s.limits.on[out][1] && lim_.meter<Dry>(s.limits, out, 1, b.pkts[i]) == RTE_COLOR_RED) {
      if constexpr (!Dry)
        w_.count_drop(b.in_port < vnf::kMaxPorts ? b.in_port : out, vnf::DropReason::kLimitTx);
      continue;
    }
    dests[kept++] = out;
  }
  return kept;
}

void L2Egress::limit_tx(vnf::Burst& b, uint16_t i, uint16_t out, const L2Snapshot& s) noexcept {
  rte_mbuf* pkt = b.pkts[i];
  if (lim_.meter(s.limits, out, 1, pkt) == RTE_COLOR_RED) {
    b.drop(i, vnf::DropReason::kLimitTx);
    return;
  }
  if (!s.limits.shaped[out]) return;
  if (lim_.enqueue(s.limits, out, pkt))
    b.next[i] = vnf::kNextConsumed;
  else
    b.drop(i, vnf::DropReason::kShapeQueueFull);
}

template <bool Dry>
void L2Lookup::run(vnf::Burst& b, const L2Snapshot& s, vnf::WhyTrace* t) noexcept {
  using vnf::why::Dst;
  using vnf::why::Src;
  const uint32_t epoch = macs_.epoch();
  const uint32_t now_s = static_cast<uint32_t>(w_.now_tsc / w_.tsc_hz);
  const uint16_t in = b.in_port;
  const bool limited = macs_.at_limit(in);

  // Pass 1: keys and cache slots for the whole burst, with the cache lines prefetched.
  DstCacheEntry* const dcache = st_.dst_cache;
  SrcCacheEntry* const scache = st_.src_cache;
  uint64_t sbits[vnf::kBurstMax], dbits[vnf::kBurstMax];
  uint16_t sslot[vnf::kBurstMax], dslot[vnf::kBurstMax];
  bool mine[vnf::kBurstMax];  // live when this stage began
  bool bcast[vnf::kBurstMax];
  for (uint16_t i = 0; i < b.count; ++i) {
    mine[i] = b.live(i);
    if (!mine[i]) continue;
    b.flood_mask[i] = ~0u;
    rte_mbuf* pkt = b.pkts[i];
    const uint8_t* d = rte_pktmbuf_mtod(pkt, const uint8_t*);
    const uint16_t vlan = vnf::meta_of(pkt).vlan;
    // MacKey bits: VLAN in the low 16 bits, then the MAC bytes (little-endian layout of MacKey).
    // One 8-byte load each (the frame has at least 14 bytes): a 6-byte copy would be built
    // through the stack and stall store-to-load forwarding on every packet.
    uint64_t w_d, w_s;
    std::memcpy(&w_d, d, 8);
    std::memcpy(&w_s, d + 6, 8);
    sbits[i] = vlan | (w_s << 16);  // the shift drops bytes 12-13 (the ethertype)
    dbits[i] = vlan | (w_d << 16);  // ... and bytes 6-7
    sslot[i] = static_cast<uint16_t>(cache_slot(mac_sig(sbits[i]), L2WorkerState::kSrcCache));
    dslot[i] = static_cast<uint16_t>(cache_slot(mac_sig(dbits[i]), L2WorkerState::kDstCache));
    bcast[i] = d[0] & 1;
    rte_prefetch0(&dcache[dslot[i]]);
  }

  // Pass 2: what the caches answer; the rest is collected for one bulk lookup. (A probe asks
  // the table itself: the answer names what the table holds.)
  MacKey keys[2 * vnf::kBurstMax];
  const void* kp[2 * vnf::kBurstMax];
  void* data[2 * vnf::kBurstMax];  // the hash's data words (mac_table.h): state and position
  hash_sig_t sig[2 * vnf::kBurstMax];
  uint8_t src_q[vnf::kBurstMax];  // index into keys[] of a packet's pending source lookup
  uint8_t dst_q[vnf::kBurstMax];  // ... destination lookup
  constexpr uint8_t kNone = 0xFF;
  unsigned nq = 0;
  uint64_t hits = 0;
  for (uint16_t i = 0; i < b.count; ++i) {
    if (!mine[i]) continue;
    src_q[i] = dst_q[i] = kNone;
    SrcCacheEntry& se = scache[sslot[i]];
    if (!Dry && se.key == sbits[i] && se.epoch == epoch && se.port == in) {
      ++hits;
      if (se.seen_s != now_s) {  // refresh the entry's age at most once a second
        se.seen_s = now_s;
        macs_.entry(se.pos).last_seen_s.store(now_s, std::memory_order_relaxed);
      }
    } else {
      std::memcpy(&keys[nq], &sbits[i], sizeof(MacKey));
      kp[nq] = &keys[nq];
      sig[nq] = mac_sig(sbits[i]);  // again: kept only for misses, cheaper than stored for all
      src_q[i] = static_cast<uint8_t>(nq++);
    }
    if (bcast[i]) {  // broadcast, multicast
      b.next[i] = kNextFlood;
      if constexpr (Dry) t->l2_dst = Dst::kGroup;
      continue;
    }
    const DstCacheEntry& de = dcache[dslot[i]];
    if (!Dry && de.key == dbits[i] && de.epoch == epoch) {
      ++hits;
      b.next[i] = de.port;  // checked against the snapshot in pass 3
    } else {
      std::memcpy(&keys[nq], &dbits[i], sizeof(MacKey));
      kp[nq] = &keys[nq];
      sig[nq] = mac_sig(dbits[i]);
      dst_q[i] = static_cast<uint8_t>(nq++);
      b.next[i] = kNextFlood;  // until the lookup says otherwise
    }
  }
  static_assert(2 * vnf::kBurstMax <= 64, "one bit of the hit mask per key");
  const uint64_t found = macs_.lookup_bulk(kp, sig, nq, data);
  if constexpr (!Dry) {
    st_.cache_hits.add(hits);
    st_.cache_misses.add(nq);
  }

  // Pass 3: the table's answers, learning, port security, and the verdicts.
  for (uint16_t i = 0; i < b.count; ++i) {
    if (!mine[i]) continue;
    rte_mbuf* pkt = b.pkts[i];
    vnf::PacketMeta& m = vnf::meta_of(pkt);

    if (src_q[i] != kNone) {
      const unsigned q = src_q[i];
      const uint32_t st = (found >> q) & 1 ? entry_state(data[q]) : 0;
      if (!(st & kEntryValid)) {
        if (limited) {
          b.drop(i, vnf::DropReason::kMacLimit);
          if constexpr (Dry)
            t->l2_src = Src::kMacLimit;
          else
            st_.vlan[m.vlan].dropped.add();
          continue;
        }
        if constexpr (Dry) {
          t->l2_src = macs_.vlan_at_limit(m.vlan) ? Src::kSegmentFull : Src::kLearn;
        } else if (macs_.vlan_at_limit(m.vlan)) {
          st_.vlan[m.vlan].not_learned.add();  // forwarded, not learned
        } else {
          request_learn(keys[q], in, now_s);
        }
      } else if ((st & 0xFFFF) != in) {
        if constexpr (Dry) t->l2_src_port = static_cast<uint16_t>(st & 0xFFFF);
        if (st & kEntryStatic) {
          b.drop(i, vnf::DropReason::kStaticMacViolation);
          if constexpr (Dry)
            t->l2_src = Src::kStatic;
          else
            st_.vlan[m.vlan].dropped.add();
          continue;
        }
        if constexpr (Dry)
          t->l2_src = Src::kMove;
        else
          request_learn(keys[q], in, now_s);  // a MAC move (live migration, failover)
      } else if constexpr (Dry) {
        t->l2_src = Src::kKnown;
      } else {
        const int32_t pos = entry_pos(data[q]);
        MacEntry& e = macs_.entry(pos);
        if (e.last_seen_s.load(std::memory_order_relaxed) != now_s)
          e.last_seen_s.store(now_s, std::memory_order_relaxed);
        scache[sslot[i]] = SrcCacheEntry{sbits[i], epoch, in, 0, pos, now_s};
      }
    }

    if (dst_q[i] != kNone) {
      const unsigned q = dst_q[i];
      const uint32_t dst = (found >> q) & 1 ? entry_state(data[q]) : 0;
      if (!(dst & kEntryValid)) {  // unknown unicast: flood
        if constexpr (Dry) t->l2_dst = Dst::kUnknown;
        continue;
      }
      const uint16_t port = static_cast<uint16_t>(dst & 0xFFFF);
      if constexpr (!Dry) dcache[dslot[i]] = DstCacheEntry{dbits[i], epoch, port, 0};
      b.next[i] = port;
    }

    const uint16_t out = b.next[i];
    if (out == kNextFlood) continue;
    if constexpr (Dry) {
      t->l2_dst = Dst::kKnown;
      t->l2_dst_port = out;
    }
    if (!s.port[out].allowed[m.vlan & 0xFFF]) {
      b.next[i] = kNextFlood;  // an entry a reload left stale, not yet flushed
      if constexpr (Dry) t->l2_dst = Dst::kStale;
      continue;
    }
    if (out == in) {
      b.drop(i, vnf::DropReason::kSamePort);
      if constexpr (Dry) t->l2_dst = Dst::kSamePort;
      continue;
    }
    m.out_port = out;
  }
}

template void L2Lookup::run<false>(vnf::Burst&, const L2Snapshot&, vnf::WhyTrace*) noexcept;
template void L2Lookup::run<true>(vnf::Burst&, const L2Snapshot&, vnf::WhyTrace*) noexcept;

void L2Egress::process(vnf::Burst& b, const L2Snapshot& s) noexcept {
  for (uint16_t i = 0; i < b.count; ++i) {
    const uint16_t next = b.next[i];
    if (next == kNextFlood) {
      flood(b, i, s);
      continue;
    }
    if (next >= vnf::kMaxPorts) continue;  // dropped, consumed, or left for a later stage
    rte_mbuf* pkt = b.pkts[i];
    const vnf::PacketMeta& m = vnf::meta_of(pkt);
    const bool seg_tag = m.flags & vnf::meta_flags::kSegTag;
    if (!set_egress_tag(pkt, seg_tag, seg_tag ? m.outer_tci : 0, s.port[next].egress_tpid(m.vlan),
                        m.vlan))
      b.drop(i, vnf::DropReason::kNoHeadroom);
  }
  // Limits toward the VMs, in a pass of their own: a host without any costs one test a burst.
  if (s.limits.any_tx) [[unlikely]] {
    for (uint16_t i = 0; i < b.count; ++i) {
      const uint16_t next = b.next[i];
      if (next < vnf::kMaxPorts && s.limits.on[next][1]) limit_tx(b, i, next, s);
    }
  }
}

}  // namespace vswitch

namespace vswitch {

void L2Egress::probe(vnf::Burst& b, const L2Snapshot& s, vnf::WhyTrace& t) noexcept {
  if (b.next[0] == kNextFlood) {
    const uint16_t nd = flood_targets(b, 0, s, t.out);
    t.nout = limit_targets<true>(b, 0, s, t.out, nd);
    if (t.nout == 0) b.drop(0, nd ? vnf::DropReason::kLimitTx : vnf::DropReason::kNoDestination);
    return;
  }
  const uint16_t out = b.next[0];
  if (out < vnf::kMaxPorts) {  // unicast: the egress port's tag, on the probe's own frame
    const vnf::PacketMeta& m = vnf::meta_of(b.pkts[0]);
    const bool seg_tag = m.flags & vnf::meta_flags::kSegTag;
    if (!set_egress_tag(b.pkts[0], seg_tag, seg_tag ? m.outer_tci : 0,
                        s.port[out].egress_tpid(m.vlan), m.vlan)) {
      b.drop(0, vnf::DropReason::kNoHeadroom);
      return;
    }
    if (s.limits.on[out][1] && lim_.meter<true>(s.limits, out, 1, b.pkts[0]) == RTE_COLOR_RED) {
      b.drop(0, vnf::DropReason::kLimitTx);
      return;
    }
  }
  vnf::probe_egress(b, w_, t);
}

}  // namespace vswitch
