// Packet capture (vnfctl trace), the workers' side.
//
// A CaptureSession is built by the control thread (common/capture_manager.h) and published to
// every worker with one pointer store; the worker loads it once per loop (WorkerContext::cap).
// At each capture point it passes through (rx: as received, tx: as handed to the driver,
// drop: when freed, with its reason; verdict: when a firewall rule or zone-pair policy decides
// a new connection, with the decision) a packet of a selected port is run through the session's
// filter (tcpdump syntax, compiled by libpcap, converted to eBPF by rte_bpf_convert and
// JIT-compiled, as dpdk-dumpcap does); a match is copied (snap length) with a CaptureRecord
// in front into an mbuf of the session's own pool and put into this worker's ring. The
// worker never waits: an empty pool or a full ring is counted and the copy is skipped. The
// capture writer thread empties the rings into pcapng files.
//
// Withdrawal: the control thread stores null in every worker, waits for an RCU grace period,
// and only then drains and frees the rings and the pool.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <rte_bpf.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/counter.h"
#include "common/drop_reason.h"

namespace vnf {

enum class CapturePoint : uint8_t { kRx = 0, kTx = 1, kDrop = 2, kVerdict = 3 };
inline constexpr unsigned kCapturePoints = 4;
inline constexpr uint8_t capture_bit(CapturePoint p) {
  return static_cast<uint8_t>(1u << static_cast<unsigned>(p));
}

// What decided a new connection (verdict point). The writer thread asks the firewall for the
// rule's name (Engine::describe_verdict).
struct CaptureVerdict {
  uint32_t rule = 0;  // rule index + 1 in the rules of `generation`; 0: the zone-pair policy
  uint32_t generation = 0;
  uint8_t action = 0;  // vfirewall::Action
  uint8_t zsrc = 0, zdst = 0;
  uint8_t pad = 0;
};
static_assert(sizeof(CaptureVerdict) == 12);

// In front of the copied bytes in a capture mbuf.
struct CaptureRecord {
  uint64_t tsc;       // when the worker saw it (its loop's TSC)
  uint32_t orig_len;  // the frame's length (the copy may be shorter: snap length)
  uint16_t port;      // DPDK port id: received on, sent to, or received on (drop, verdict)
  uint8_t point;      // CapturePoint
  uint8_t reason;     // DropReason (drop point)
  CaptureVerdict verdict;  // verdict point
  uint32_t pad;
};
static_assert(sizeof(CaptureRecord) == 32);

struct alignas(64) CaptureWorkerStats {
  Counter seen;       // packets at a selected point and port, before the filter
  Counter matched;    // ... that the filter accepted
  Counter ring_full;  // matched, not captured: the worker's ring was full
  Counter no_mbuf;    // matched, not captured: the capture pool was empty
};

struct CaptureSession {
  uint8_t points = 0;      // capture_bit()s
  uint32_t ports = 0;      // bit per DPDK port id
  uint32_t snaplen = 0;    // bytes copied at most
  rte_bpf* bpf = nullptr;  // null: every packet
  uint64_t (*jit)(void*) = nullptr;
  rte_mempool* pool = nullptr;
  rte_ring* ring[RTE_MAX_LCORE] = {};  // per worker id; single producer, single consumer
  CaptureWorkerStats stats[RTE_MAX_LCORE];

  bool wants(CapturePoint p, uint16_t port) const noexcept {
    return (points & capture_bit(p)) && ((ports >> port) & 1u);
  }

  bool match(rte_mbuf* m) const noexcept {
    if (!bpf) return true;
    if (jit) return jit(m) != 0;
    return rte_bpf_exec(bpf, m) != 0;
  }

  // One packet at a point this session wants (the caller checked wants()).
  void copy(unsigned worker, rte_mbuf* m, uint16_t port, CapturePoint point, DropReason reason,
            uint64_t tsc, const CaptureVerdict* verdict = nullptr) noexcept {
    CaptureWorkerStats& st = stats[worker];
    st.seen.add();
    if (!match(m)) return;
    st.matched.add();
    rte_mbuf* c = rte_pktmbuf_alloc(pool);
    if (!c) {
      st.no_mbuf.add();
      return;
    }
    const uint32_t caplen = std::min(m->pkt_len, snaplen);
    auto* rec = rte_pktmbuf_mtod(c, CaptureRecord*);
    rec->tsc = tsc;
    rec->orig_len = m->pkt_len;
    rec->port = port;
    rec->point = static_cast<uint8_t>(point);
    rec->reason = static_cast<uint8_t>(reason);
    rec->verdict = verdict ? *verdict : CaptureVerdict{};
    rec->pad = 0;
    const void* bytes = rte_pktmbuf_read(m, 0, caplen, rec + 1);
    if (bytes && bytes != rec + 1) std::memcpy(rec + 1, bytes, caplen);
    c->data_len = static_cast<uint16_t>(sizeof *rec + caplen);
    c->pkt_len = c->data_len;
    if (rte_ring_sp_enqueue(ring[worker], c) != 0) {
      rte_pktmbuf_free(c);
      st.ring_full.add();
    }
  }

  void copy_burst(unsigned worker, rte_mbuf* const* pkts, uint16_t n, uint16_t port,
                  CapturePoint point, uint64_t tsc) noexcept {
    if (!wants(point, port)) return;
    for (uint16_t i = 0; i < n; ++i) copy(worker, pkts[i], port, point, DropReason::kNone, tsc);
  }
};

}  // namespace vnf
