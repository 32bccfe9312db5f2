// The worker: run to completion, one burst at a time.
//
//   rx burst (port, queue) -> parse into metadata -> pipeline stages -> dispatch:
//   per-port tx buffers (flushed once per loop) and bulk free of drops, each counted by reason.
//
// A Pipeline is any class with
//   void begin() noexcept;               // once per loop: load the published config snapshot
//   void process(Burst&) noexcept;       // the stages, in order
// It is a template parameter: no virtual call per burst or per packet.
#pragma once

#include <atomic>
#include <cstdint>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "common/af_packet.h"
#include "common/burst.h"
#include "common/capture.h"
#include "common/counter.h"
#include "common/drop_reason.h"
#include "common/parser.h"
#include "common/why.h"

namespace vnf {

inline constexpr unsigned kMaxPorts = RTE_MAX_ETHPORTS;

struct PortCounters {
  Counter rx_packets, rx_bytes, tx_packets, tx_bytes, tx_dropped, dropped;
};

struct alignas(64) WorkerStats {
  PortCounters port[kMaxPorts];
  Counter drops[kDropReasonCount];
  Counter loops;       // poll loops
  Counter busy_loops;  // loops that received at least one packet
};

struct RxQueue {
  uint16_t port;
  uint16_t queue;
  AfPacketRing* ring;  // af_packet: the driver's ring, to restore outer TPIDs (common/af_packet.h)
};

// The queues a worker polls. Two copies per worker: the control thread rewrites the one the
// worker does not use and swaps the pointer (Engine::publish_rx), so ports come and go while
// the workers run.
struct RxList {
  uint16_t count = 0;
  RxQueue q[kMaxPorts];
};

struct WorkerContext;

// Passed to the tx buffer error callback: which worker's counters to charge.
struct TxErrorCtx {
  WorkerContext* worker;
  uint16_t port;
};

struct alignas(64) WorkerContext {
  unsigned id = 0;  // 0..workers-1; also the RCU thread id
  unsigned lcore = 0;
  int socket = 0;
  uint16_t txq = 0;  // this worker's tx queue on every port
  // Ports 0..nb_ports-1 may have a tx buffer. A port id's tx buffer stays allocated once
  // made (a port removed and added again reuses it), so the workers never see it vanish.
  std::atomic<uint16_t> nb_ports{0};
  std::atomic<const RxList*> rx_list{nullptr};  // read once per loop
  RxList rx_lists[2];
  rte_eth_dev_tx_buffer* txbuf[kMaxPorts] = {};
  TxErrorCtx tx_err[kMaxPorts] = {};
  rte_mempool* pool = nullptr;
  rte_rcu_qsbr* qsbr = nullptr;
  uint64_t now_tsc = 0;  // read once per loop
  uint64_t fixed_tsc = 0;  // tests: a simulated clock (now_tsc); 0: the TSC
  uint32_t held = 0;       // packets the pipeline holds for later (shapers): no idle sleep
  uint64_t tsc_hz = 0;   // rte_get_tsc_hz(), set at start-up
  uint32_t idle_sleep_us = 0;
  uint32_t idle_polls = 0;
  // Longest frame each port carries (its MTU + Ethernet header + two VLAN tags); 0 for ports
  // that do not exist.
  uint32_t max_frame[kMaxPorts] = {};
  // The engine's link state per port: nothing is sent to a port whose link is down (it would
  // wait in a kernel queue and arrive seconds later, when the link comes back).
  const std::atomic<uint8_t>* port_up = nullptr;
  // vnfctl why: a packet to run through the pipeline without effects (common/why.h); read
  // once per loop.
  std::atomic<Probe*> probe{nullptr};
  // Hosts with bonds (common/bond.h). ctl_tx: frames the control thread sends (failover
  // announcements; worker 0 only; SP/SC, mbufs with their port in m->port). lacp_ports:
  // 802.3ad bonds, given an empty tx burst every 10 ms, because DPDK's net_bonding sends its
  // LACPDUs only from within tx bursts and an idle bond would otherwise fall out of its LAG.
  // Both are set before the workers start and never change.
  rte_ring* ctl_tx = nullptr;
  uint16_t lacp_ports[8] = {};
  uint8_t n_lacp = 0;
  uint64_t next_lacp_tsc = 0;
  // vnfctl trace (common/capture.h): the session the control thread published, and the one
  // this loop uses (loaded once per loop; null: no capture).
  std::atomic<CaptureSession*> capture{nullptr};
  CaptureSession* cap = nullptr;
  WorkerStats stats;

  bool can_send(uint16_t port) const noexcept {
    return port_up[port].load(std::memory_order_relaxed) != 0;
  }
  // Why a packet of `len` bytes cannot go out of `port`, or kNone.
  DropReason egress_check(uint16_t port, uint32_t len) const noexcept {
    if (len > max_frame[port]) return DropReason::kEgressTooLong;
    return can_send(port) ? DropReason::kNone : DropReason::kLinkDown;
  }
  // Queue one packet for transmission on `port` (flushed at the end of the loop, or when
  // the buffer holds a full burst). Always inline: with its many callers (dispatch, flood copies,
  // the shaper, bonds, injected packets) GCC made it a call per packet, which cost l2-flood 3-4 %
  // (docs/performance.md, "Every scenario against #14's starting point"). Drops and traces go out
  // of line.
  [[gnu::always_inline]] void send(uint16_t port, rte_mbuf* m) noexcept {
    if (m->pkt_len > max_frame[port] || !can_send(port) || cap) [[unlikely]]
      if (!send_checked(port, m)) return;
    stats.port[port].tx_packets.add();
    stats.port[port].tx_bytes.add(m->pkt_len);
    rte_eth_tx_buffer(port, txq, txbuf[port], m);
  }
  // send()'s rare cases: a packet that cannot go out is counted, offered to a trace's drop
  // point and freed (false); one that can is offered to a trace's tx point (true).
  [[gnu::cold, gnu::noinline]] bool send_checked(uint16_t port, rte_mbuf* m) noexcept {
    if (const DropReason r = egress_check(port, m->pkt_len); r != DropReason::kNone) {
      stats.drops[static_cast<unsigned>(r)].add();
      stats.port[port].tx_dropped.add();
      if (cap && cap->wants(CapturePoint::kDrop, port))
        cap->copy(id, m, port, CapturePoint::kDrop, r, now_tsc);
      rte_pktmbuf_free(m);
      return false;
    }
    if (cap && cap->wants(CapturePoint::kTx, port))
      cap->copy(id, m, port, CapturePoint::kTx, DropReason::kNone, now_tsc);
    return true;
  }
  void count_drop(uint16_t in_port, DropReason r) noexcept {
    stats.drops[static_cast<unsigned>(r)].add();
    stats.port[in_port].dropped.add();
  }
  // A packet a stage drops by itself (not through a verdict): counted, offered to a trace's
  // drop point, freed.
  void discard(uint16_t in_port, rte_mbuf* m, DropReason r) noexcept {
    count_drop(in_port, r);
    if (cap && cap->wants(CapturePoint::kDrop, in_port)) [[unlikely]]
      cap->copy(id, m, in_port, CapturePoint::kDrop, r, now_tsc);
    rte_pktmbuf_free(m);
  }
};

// vnfctl why: a probe's unicast verdict meets the checks send() makes (length, link); the
// port it would leave by is recorded, or the drop. Other verdicts are left alone.
inline void probe_egress(Burst& b, const WorkerContext& w, WhyTrace& t) noexcept {
  if (b.next[0] >= kMaxPorts) return;
  const DropReason r = w.egress_check(b.next[0], b.pkts[0]->pkt_len);
  if (r != DropReason::kNone) {
    b.drop(0, r);
    return;
  }
  t.out[0] = b.next[0];
  t.nout = 1;
}

// Splits a processed burst by verdict: transmit, drop (counted and bulk-freed) or nothing.
// The common case, every packet to one port and nothing buffered for it yet, goes out as one
// rte_eth_tx_burst with the counters updated once.
inline void dispatch(Burst& b, WorkerContext& w) noexcept {
  const uint16_t first = b.next[0];
  if (first < kMaxPorts && w.txbuf[first]->length == 0) {
    bool same = true;
    uint64_t bytes = 0;
    uint32_t longest = 0;
    for (uint16_t i = 0; i < b.count; ++i) {
      same &= b.next[i] == first;
      bytes += b.pkts[i]->pkt_len;
      longest = longest > b.pkts[i]->pkt_len ? longest : b.pkts[i]->pkt_len;
    }
    if (same && longest <= w.max_frame[first] && w.can_send(first)) {
      PortCounters& pc = w.stats.port[first];
      pc.tx_packets.add(b.count);
      pc.tx_bytes.add(bytes);
      if (w.cap) [[unlikely]]
        w.cap->copy_burst(w.id, b.pkts, b.count, first, CapturePoint::kTx, w.now_tsc);
      const uint16_t sent = rte_eth_tx_burst(first, w.txq, b.pkts, b.count);
      if (sent < b.count) {
        const uint16_t lost = static_cast<uint16_t>(b.count - sent);
        pc.tx_dropped.add(lost);
        w.stats.drops[static_cast<unsigned>(DropReason::kTxFull)].add(lost);
        rte_pktmbuf_free_bulk(b.pkts + sent, lost);
      }
      return;
    }
  }
  rte_mbuf* dropped[kBurstMax];
  unsigned nd = 0;
  for (uint16_t i = 0; i < b.count; ++i) {
    const uint16_t next = b.next[i];
    if (next < kMaxPorts) {
      w.send(next, b.pkts[i]);
    } else if (next != kNextConsumed) {
      PacketMeta& m = meta_of(b.pkts[i]);
      if (next == kNextStage) m.drop = DropReason::kNoVerdict;
      w.count_drop(b.in_port, m.drop);
      if (w.cap && w.cap->wants(CapturePoint::kDrop, b.in_port)) [[unlikely]]
        w.cap->copy(w.id, b.pkts[i], b.in_port, CapturePoint::kDrop, m.drop, w.now_tsc);
      dropped[nd++] = b.pkts[i];
    }
  }
  if (nd) rte_pktmbuf_free_bulk(dropped, nd);
}

// Parses every packet of a fresh burst into its metadata; malformed ones are dropped, and so
// are frames longer than the port carries (which a driver may also have cut: see
// common/af_packet.h).
inline void parse_burst(Burst& b, WorkerContext& w) noexcept {
  uint64_t bytes = 0;
  const uint32_t max_len = w.max_frame[b.in_port];
  for (uint16_t i = 0; i < b.count; ++i) {
    if (i + 2 < b.count) rte_prefetch0(rte_pktmbuf_mtod(b.pkts[i + 2], void*));
    bytes += b.pkts[i]->pkt_len;
    b.next[i] = kNextStage;
    if (b.pkts[i]->pkt_len > max_len) [[unlikely]] {
      meta_of(b.pkts[i]).in_port = b.in_port;
      b.drop(i, DropReason::kFrameTooLong);
      continue;
    }
    const DropReason r = parse_mbuf(b.pkts[i], b.in_port);
    if (r != DropReason::kNone) b.drop(i, r);
  }
  w.stats.port[b.in_port].rx_packets.add(b.count);
  w.stats.port[b.in_port].rx_bytes.add(bytes);
}

inline void flush_tx(WorkerContext& w) noexcept {
  const uint16_t n = w.nb_ports.load(std::memory_order_acquire);
  for (uint16_t p = 0; p < n; ++p)
    if (w.txbuf[p] && w.txbuf[p]->length) rte_eth_tx_buffer_flush(p, w.txq, w.txbuf[p]);
}

// Bond upkeep (see WorkerContext::ctl_tx, lacp_ports): off the per-packet path.
[[gnu::cold]] inline void bond_upkeep(WorkerContext& w) noexcept {
  if (w.ctl_tx && !rte_ring_empty(w.ctl_tx)) {
    rte_mbuf* m[kBurstMax];
    const unsigned n =
        rte_ring_sc_dequeue_burst(w.ctl_tx, reinterpret_cast<void**>(m), kBurstMax, nullptr);
    for (unsigned i = 0; i < n; ++i) w.send(m[i]->port, m[i]);
  }
  if (w.n_lacp && w.now_tsc >= w.next_lacp_tsc) {
    for (uint8_t i = 0; i < w.n_lacp; ++i) rte_eth_tx_burst(w.lacp_ports[i], w.txq, nullptr, 0);
    w.next_lacp_tsc = w.now_tsc + w.tsc_hz / 100;
  }
}

// vnfctl why (common/why.h): the probe's frame is parsed as a received one would be, then the
// pipeline's dry variant runs it. Pipelines without probe() answer after parsing.
template <class Pipeline>
[[gnu::cold]] void serve_probe(WorkerContext& w, Pipeline& pipeline, Probe& p) noexcept {
  Burst b;
  b.count = 1;
  b.in_port = p.in_port;
  b.pkts[0] = p.m;
  b.next[0] = kNextStage;
  b.flood_mask[0] = ~0u;
  b.in_vlan[0] = 0;
  meta_of(p.m).in_port = p.in_port;
  if (p.m->pkt_len > w.max_frame[p.in_port]) {
    b.drop(0, DropReason::kFrameTooLong);
  } else if (const DropReason r = parse_mbuf(b.pkts[0], p.in_port); r != DropReason::kNone) {
    b.drop(0, r);
  }
  p.m = b.pkts[0];
  p.trace.worker = static_cast<uint8_t>(w.id);
  p.trace.record(WhyStage::kParse, b);
  if constexpr (requires { pipeline.probe(b, p.trace); }) {
    if (b.live(0)) pipeline.probe(b, p.trace);
  }
  p.done.store(1, std::memory_order_release);
}

// One loop of a worker: every rx queue once, then tx flush and a quiescent state report.
// Returns the number of packets received.
template <class Pipeline>
inline unsigned poll_once(WorkerContext& w, Pipeline& pipeline) noexcept {
  unsigned total = 0;
  w.now_tsc = w.fixed_tsc ? w.fixed_tsc : rte_rdtsc();
  w.cap = w.capture.load(std::memory_order_acquire);
  pipeline.begin();
  const RxList& rx = *w.rx_list.load(std::memory_order_acquire);
  for (uint16_t r = 0; r < rx.count; ++r) {
    Burst b;
    b.in_port = rx.q[r].port;
    if (AfPacketRing* ring = rx.q[r].ring) {
      uint16_t tpid[kBurstMax];
      const uint16_t ready = peek_tpids(*ring, kBurstMax, tpid);
      if (ready == 0) continue;
      b.count = rte_eth_rx_burst(b.in_port, rx.q[r].queue, b.pkts, ready);
      restore_tpids(*ring, b.pkts, b.count, tpid);
    } else {
      b.count = rte_eth_rx_burst(b.in_port, rx.q[r].queue, b.pkts, kBurstMax);
    }
    if (b.count == 0) continue;
    total += b.count;
    if (w.cap) [[unlikely]]
      w.cap->copy_burst(w.id, b.pkts, b.count, b.in_port, CapturePoint::kRx, w.now_tsc);
    parse_burst(b, w);
    pipeline.process(b);
    dispatch(b, w);
  }
  if (w.probe.load(std::memory_order_relaxed)) [[unlikely]] {
    // Taken with an exchange: the control thread withdraws a probe it gave up on with a
    // compare-exchange, so exactly one of them owns it.
    if (Probe* p = w.probe.exchange(nullptr, std::memory_order_acq_rel))
      serve_probe(w, pipeline, *p);
  }
  if (w.ctl_tx || w.n_lacp) [[unlikely]]
    bond_upkeep(w);
  flush_tx(w);
  w.stats.loops.add();
  if (total) w.stats.busy_loops.add();
  rte_rcu_qsbr_quiescent(w.qsbr, w.id);
  return total;
}

// The worker's main loop on its lcore, until `running` turns false.
template <class Pipeline>
int worker_main(WorkerContext& w, Pipeline& pipeline, const std::atomic<bool>& running) {
  rte_rcu_qsbr_thread_register(w.qsbr, w.id);
  rte_rcu_qsbr_thread_online(w.qsbr, w.id);
  while (running.load(std::memory_order_relaxed)) {
    if (poll_once(w, pipeline) != 0 || w.held) {
      w.idle_polls = 0;
    } else if (w.idle_sleep_us && ++w.idle_polls > 64) {
      // Adaptive pause for hosts that share the worker's core (demo, tests): offline while
      // asleep so that a config publish never waits for a sleeping worker.
      rte_rcu_qsbr_thread_offline(w.qsbr, w.id);
      rte_delay_us_sleep(w.idle_sleep_us);
      rte_rcu_qsbr_thread_online(w.qsbr, w.id);
    }
  }
  flush_tx(w);
  rte_rcu_qsbr_thread_offline(w.qsbr, w.id);
  rte_rcu_qsbr_thread_unregister(w.qsbr, w.id);
  return 0;
}

}  // namespace vnf
