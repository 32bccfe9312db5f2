// Per-VM bandwidth limits (docs/limits.md): policing with DPDK's rte_meter (RFC 2697 srTCM,
// RFC 2698 trTCM, a packet-rate meter beside either) in both directions of a port, and a
// shaper toward the VM.
//
//   rx (from the VM): LimitStage::rx, after port security and before learning.
//   tx (toward the VM): LimitStage::tx, from L2Egress for each unicast frame and each flood
//       copy, before it is queued for the port. Shaped ports take the frame into the worker's
//       queue for the port (ShapeQueue); drain() sends what the token bucket allows, once
//       per loop, so TCP through the port sees delay rather than loss.
//
// What a packet is checked against, per direction: the first class of its limit point that
// matches it (own meters), then the point's own meters; a trunk's per-segment point first,
// then the port's. The worst colour wins; red is dropped (limit_rx, limit_tx).
//
// Meter state ("rows") is per worker, in chunks the control thread allocates before it
// publishes a snapshot that uses them: a worker touches only its own cells and allocates
// nothing. A row's cell carries the stamp of the parameters it was initialised for; a
// snapshot with other parameters for the row (a changed limit) carries another stamp, and
// the worker re-initialises the cell on its next packet. A reload that leaves a row alone
// keeps its slot and stamp, hence its state.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include <rte_mbuf.h>
#include <rte_meter.h>

#include "common/burst.h"
#include "common/counter.h"
#include "common/packet_meta.h"
#include "common/worker.h"
#include "vswitch/limit_tables.h"

namespace vswitch {

inline constexpr unsigned kRowChunkBits = 12;  // 4,096 rows per chunk
inline constexpr unsigned kRowChunk = 1u << kRowChunkBits;
inline constexpr unsigned kRowChunks = 512;  // 2,097,152 rows
inline constexpr uint32_t kMaxRows = kRowChunk * kRowChunks;

// A row's state in one worker: its meters and what they decided.
struct LimitCell {
  uint64_t stamp;  // of the parameters the meters were initialised for (0: never)
  union {
    rte_meter_srtcm sr;
    rte_meter_trtcm tr;
  } bm;
  rte_meter_srtcm pm;
  vnf::Counter pkts[3], bytes[3];  // by colour: green, yellow, red (shape: sent, -, dropped)
};

// Packets held toward a shaped port by one worker: a ring of pointers (single writer, the
// worker; `count` is read by telemetry).
struct ShapeQueue {
  rte_mbuf** ring = nullptr;  // kShapeQueueMax entries, allocated by the control thread
  uint32_t head = 0;
  std::atomic<uint32_t> count{0};
};

struct LimitWorkerState {
  LimitCell* chunk[kRowChunks] = {};  // allocated by the control thread, before use
  ShapeQueue shape[vnf::kMaxPorts];
  uint32_t shape_busy = 0;  // bit per port with packets queued
  LimitCell& cell(uint32_t slot) noexcept {
    return chunk[slot >> kRowChunkBits][slot & (kRowChunk - 1)];
  }
};
static_assert(vnf::kMaxPorts <= 32, "LimitWorkerState::shape_busy has one bit per port");

namespace limit {

// Full buckets, as of `now` (the worker's clock, which tests may simulate).
inline void init_cell(LimitCell& c, const LimitRowDp& r, uint64_t now) noexcept {
  auto& row = const_cast<LimitRowDp&>(r);  // rte_meter takes profiles by non-const pointer
  if (r.bytes == MeterKind::kSrTcm) {
    rte_meter_srtcm_config(&c.bm.sr, &row.bp.sr);
    c.bm.sr.time = now;
  }
  if (r.bytes == MeterKind::kTrTcm) {
    rte_meter_trtcm_config(&c.bm.tr, &row.bp.tr);
    c.bm.tr.time_tc = c.bm.tr.time_tp = now;
  }
  if (r.packets) {
    rte_meter_srtcm_config(&c.pm, &row.pp);
    c.pm.time = now;
  }
  for (auto& k : c.pkts) k.reset();
  for (auto& k : c.bytes) k.reset();
  c.stamp = r.stamp;
}

// The colour of a packet of `len` bytes on `c` at `now` (TSC): the worse of the byte and the
// packet meters. Tokens of a meter are spent on a packet another meter of the row paints red.
inline rte_color check(LimitCell& c, const LimitRowDp& r, uint64_t now, uint32_t len) noexcept {
  auto& row = const_cast<LimitRowDp&>(r);
  rte_color col = RTE_COLOR_GREEN;
  if (r.bytes == MeterKind::kSrTcm)
    col = rte_meter_srtcm_color_blind_check(&c.bm.sr, &row.bp.sr, now, len);
  else if (r.bytes == MeterKind::kTrTcm)
    col = rte_meter_trtcm_color_blind_check(&c.bm.tr, &row.bp.tr, now, len);
  if (r.packets) {
    const rte_color pc = rte_meter_srtcm_color_blind_check(&c.pm, &row.pp, now, 1);
    if (pc > col) col = pc;
  }
  return col;
}

inline bool class_match(const LimitClassDp& k, const vnf::PacketMeta& m, const uint8_t* frame,
                        bool tx) noexcept {
  if (k.proto && (m.l4_proto != k.proto || (m.l3 != vnf::L3::kIpv4 && m.l3 != vnf::L3::kIpv6)))
    return false;
  if (k.port_lo != 0 || k.port_hi != 0xFFFF) {
    if (!(m.flags & vnf::meta_flags::kHasL4)) return false;
    if (m.l4_proto != 6 && m.l4_proto != 17 && m.l4_proto != 132) return false;
    const uint16_t port = tx ? m.sport : m.dport;
    if (port < k.port_lo || port > k.port_hi) return false;
  }
  if (k.family == 4) {
    if (m.l3 != vnf::L3::kIpv4) return false;
    const uint8_t* a = frame + m.l3_off + (tx ? 12 : 16);
    uint32_t x, net;
    std::memcpy(&x, a, 4);
    std::memcpy(&net, k.addr, 4);
    if ((x & k.mask4) != net) return false;
  } else if (k.family == 6) {
    if (m.l3 != vnf::L3::kIpv6) return false;
    const uint8_t* a = frame + m.l3_off + (tx ? 8 : 24);
    const unsigned bytes = k.plen / 8, bits = k.plen % 8;
    if (std::memcmp(a, k.addr, bytes) != 0) return false;
    if (bits && ((a[bytes] ^ k.addr[bytes]) & static_cast<uint8_t>(0xFF << (8 - bits))))
      return false;
  }
  return true;
}

}  // namespace limit

// Meters packets against the snapshot's limits. Dry: for vnfctl why, on copies of the cells
// (nothing counted, no tokens spent).
class LimitStage final {
 public:
  LimitStage(LimitWorkerState& st, vnf::WorkerContext& w) : st_(st), w_(w) {}

  // The worst colour of packet `pkt` on `port` in direction `dir` (0 rx, 1 tx).
  template <bool Dry = false>
  rte_color meter(const LimitsDp& l, uint16_t port, uint8_t dir, rte_mbuf* pkt) noexcept {
    const vnf::PacketMeta& m = vnf::meta_of(pkt);
    rte_color worst = RTE_COLOR_GREEN;
    uint32_t pts[2];
    unsigned np = 0;
    if (l.seg_base[port] != kNoPoint) {
      const uint32_t p = l.seg_point[l.seg_base[port] + (m.vlan & 0xFFF)];
      if (p != kNoPoint) pts[np++] = p;
    }
    if (l.port_point[port] != kNoPoint) pts[np++] = l.port_point[port];
    for (unsigned k = 0; k < np && worst != RTE_COLOR_RED; ++k) {
      const LimitDirDp& d = l.points[pts[k]].dir[dir];
      for (uint32_t c = 0; c < d.n_classes; ++c) {
        const LimitClassDp& cls = l.classes[d.first_class + c];
        if (!limit::class_match(cls, m, rte_pktmbuf_mtod(pkt, const uint8_t*), dir == 1)) continue;
        worst = apply<Dry>(l.rows[cls.row], pkt->pkt_len);
        break;
      }
      if (worst == RTE_COLOR_RED) break;
      if (d.row != kNoRow && !l.rows[d.row].shape) {
        const rte_color c = apply<Dry>(l.rows[d.row], pkt->pkt_len);
        if (c > worst) worst = c;
      }
    }
    return worst;
  }

  // From the VM: packets red on the ingress port's limits are dropped.
  void rx(vnf::Burst& b, const LimitsDp& l) noexcept {
    if (!l.on[b.in_port][0]) return;
    for (uint16_t i = 0; i < b.count; ++i)
      if (b.live(i) && meter(l, b.in_port, 0, b.pkts[i]) == RTE_COLOR_RED)
        b.drop(i, vnf::DropReason::kLimitRx);
  }

  // Toward a shaped port: takes the frame into the worker's queue for the port. False when
  // the queue is full (counted as the shaper's red; the caller drops the frame).
  bool enqueue(const LimitsDp& l, uint16_t port, rte_mbuf* pkt) noexcept {
    const LimitRowDp* sh = l.shaper(port);
    ShapeQueue& q = st_.shape[port];
    const uint32_t n = q.count.load(std::memory_order_relaxed);
    if (n >= sh->queue_limit || !q.ring) [[unlikely]] {
      LimitCell& c = cell(*sh);
      c.pkts[2].add();
      c.bytes[2].add(pkt->pkt_len);
      return false;
    }
    q.ring[(q.head + n) % kShapeQueueMax] = pkt;
    q.count.store(n + 1, std::memory_order_relaxed);
    st_.shape_busy |= 1u << port;
    return true;
  }

  bool busy() const noexcept { return st_.shape_busy != 0; }  // some shaper holds frames

  // Once per loop: what each shaped port's token bucket allows leaves its queue. Queues of a
  // port no longer shaped are sent on at once; of a port that is gone, freed. Returns the
  // packets still held.
  uint32_t drain(const LimitsDp& l) noexcept {
    uint32_t held = 0;
    if (!st_.shape_busy) return 0;
    uint32_t busy = st_.shape_busy;
    while (busy) {
      const uint16_t port = static_cast<uint16_t>(__builtin_ctz(busy));
      busy &= busy - 1;
      ShapeQueue& q = st_.shape[port];
      uint32_t n = q.count.load(std::memory_order_relaxed);
      const LimitRowDp* sh = l.shaper(port);
      const bool exists = l.present[port];
      LimitCell* c = sh ? &cell(*sh) : nullptr;
      while (n) {
        rte_mbuf* pkt = q.ring[q.head];
        if (!exists) {
          w_.discard(port, pkt, vnf::DropReason::kNoDestination);
        } else {
          if (c && limit::check(*c, *sh, w_.now_tsc, pkt->pkt_len) == RTE_COLOR_RED) break;
          if (c) {
            c->pkts[0].add();
            c->bytes[0].add(pkt->pkt_len);
          }
          w_.send(port, pkt);
        }
        q.head = (q.head + 1) % kShapeQueueMax;
        --n;
      }
      q.count.store(n, std::memory_order_relaxed);
      if (n == 0) st_.shape_busy &= ~(1u << port);
      held += n;
    }
    return held;
  }

 private:
  LimitCell& cell(const LimitRowDp& r) noexcept {
    LimitCell& c = st_.cell(r.slot);
    if (c.stamp != r.stamp) [[unlikely]]
      limit::init_cell(c, r, w_.now_tsc);
    return c;
  }
  template <bool Dry>
  rte_color apply(const LimitRowDp& r, uint32_t len) noexcept {
    if constexpr (Dry) {
      LimitCell copy;
      const LimitCell& c = st_.cell(r.slot);
      if (c.stamp == r.stamp) {
        copy.bm = c.bm;
        copy.pm = c.pm;
      } else {
        limit::init_cell(copy, r, w_.now_tsc);
      }
      return limit::check(copy, r, w_.now_tsc, len);
    } else {
      LimitCell& c = cell(r);
      const rte_color col = limit::check(c, r, w_.now_tsc, len);
      c.pkts[col].add();
      c.bytes[col].add(len);
      return col;
    }
  }

  LimitWorkerState& st_;
  vnf::WorkerContext& w_;
};

}  // namespace vswitch
