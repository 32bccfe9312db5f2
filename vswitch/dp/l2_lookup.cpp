#include "vswitch/dp/l2_lookup.h"

#include <cstring>

#include <rte_hash.h>

namespace vswitch {

namespace {

inline void make_key(MacKey& k, uint16_t vlan, const uint8_t* mac) noexcept {
  k.vlan = vlan;
  std::memcpy(k.mac, mac, 6);
}

inline uint64_t key_bits(const MacKey& k) noexcept {
  uint64_t v;
  std::memcpy(&v, &k, sizeof v);
  return v;
}

}  // namespace

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

void L2Egress::flood(vnf::Burst& b, uint16_t i, const L2Snapshot& s) noexcept {
  rte_mbuf* orig = b.pkts[i];
  const vnf::PacketMeta& m = vnf::meta_of(orig);
  const SegmentPorts* seg = s.segment(m.vlan);
  uint16_t dests[vnf::kMaxPorts];
  uint16_t nd = 0;
  if (seg) {
    for (uint16_t k = 0; k < seg->count; ++k)
      if (seg->ports[k] != b.in_port) dests[nd++] = seg->ports[k];
  }
  if (nd == 0) {
    b.drop(i, vnf::DropReason::kNoDestination);
    return;
  }
  const bool seg_tag = m.flags & vnf::meta_flags::kSegTag;
  const uint16_t tci = seg_tag ? m.outer_tci : 0;
  st_.vlan[m.vlan].flooded.add();
  // Copies first, from the untouched original; the original goes to the last port.
  for (uint16_t k = 0; k < nd; ++k) {
    const uint16_t out = dests[k];
    rte_mbuf* pkt = k + 1 == nd ? orig : rte_pktmbuf_copy(orig, w_.pool, 0, UINT32_MAX);
    if (!pkt) {
      w_.count_drop(b.in_port, vnf::DropReason::kNoMbuf);
      continue;
    }
    if (!set_egress_tag(pkt, seg_tag, tci, s.port[out].egress_tpid(m.vlan), m.vlan)) {
      w_.count_drop(b.in_port, vnf::DropReason::kNoHeadroom);
      rte_pktmbuf_free(pkt);
      continue;
    }
    w_.send(out, pkt);
  }
  b.next[i] = vnf::kNextConsumed;
}

void L2Lookup::process(vnf::Burst& b, const L2Snapshot& s) noexcept {
  MacKey keys[2 * vnf::kBurstMax];
  const void* kp[2 * vnf::kBurstMax];
  int32_t pos[2 * vnf::kBurstMax];
  uint16_t idx[vnf::kBurstMax];
  uint16_t n = 0;
  for (uint16_t i = 0; i < b.count; ++i)
    if (b.live(i)) idx[n++] = i;
  if (n == 0) return;
  for (uint16_t j = 0; j < n; ++j) {
    rte_mbuf* pkt = b.pkts[idx[j]];
    const uint8_t* d = rte_pktmbuf_mtod(pkt, const uint8_t*);
    const uint16_t vlan = vnf::meta_of(pkt).vlan;
    make_key(keys[j], vlan, d + 6);  // source
    make_key(keys[n + j], vlan, d);  // destination
    kp[j] = &keys[j];
    kp[n + j] = &keys[n + j];
  }
  rte_hash_lookup_bulk(macs_.hash(), kp, 2u * n, pos);

  const uint32_t now_s = static_cast<uint32_t>(w_.now_tsc / w_.tsc_hz);
  const uint16_t in = b.in_port;
  const bool limited = macs_.at_limit(in);
  for (uint16_t j = 0; j < n; ++j) {
    const uint16_t i = idx[j];
    rte_mbuf* pkt = b.pkts[i];
    vnf::PacketMeta& m = vnf::meta_of(pkt);

    // Source: learn, move, or refresh.
    uint32_t st = 0;
    if (pos[j] >= 0) st = macs_.entry(pos[j]).state.load(std::memory_order_acquire);
    if (!(st & kEntryValid)) {
      if (limited) {
        b.drop(i, vnf::DropReason::kMacLimit);
        st_.vlan[m.vlan].dropped.add();
        continue;
      }
      request_learn(keys[j], in, now_s);
    } else if ((st & 0xFFFF) != in) {
      if (st & kEntryStatic) {
        b.drop(i, vnf::DropReason::kStaticMacViolation);
        st_.vlan[m.vlan].dropped.add();
        continue;
      }
      request_learn(keys[j], in, now_s);  // a MAC move (live migration, failover)
    } else {
      MacEntry& e = macs_.entry(pos[j]);
      if (e.last_seen_s.load(std::memory_order_relaxed) != now_s)
        e.last_seen_s.store(now_s, std::memory_order_relaxed);
    }

    // Destination.
    const uint8_t* d = rte_pktmbuf_mtod(pkt, const uint8_t*);
    if (d[0] & 1) {  // broadcast, multicast
      b.next[i] = kNextFlood;
      continue;
    }
    uint32_t dst = 0;
    if (pos[n + j] >= 0) dst = macs_.entry(pos[n + j]).state.load(std::memory_order_acquire);
    const uint16_t out = static_cast<uint16_t>(dst & 0xFFFF);
    if (!(dst & kEntryValid) || !s.port[out].allowed.test(m.vlan)) {
      b.next[i] = kNextFlood;  // unknown unicast (or an entry a reload left stale, not yet flushed)
      continue;
    }
    if (out == in) {
      b.drop(i, vnf::DropReason::kSamePort);
      continue;
    }
    m.out_port = out;
    b.next[i] = out;
  }
}

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
}

}  // namespace vswitch
