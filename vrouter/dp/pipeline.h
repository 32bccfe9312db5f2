// The vrouter appliance's pipeline: Routing -> RouterEgress, plus the packets the control
// thread queued for this worker (sent once per loop, from begin()).
//
// RouterEgress puts routed and answered frames in their egress interface's wire format: an
// interface on VLAN v of a port sends 802.1Q-tagged frames with VID v (the received PCP kept),
// an untagged interface sends untagged ones. (The host vswitch uses its own L2Egress instead.)
#pragma once

#include <rte_mbuf.h>

#include "common/burst.h"
#include "common/parser.h"
#include "common/rcu.h"
#include "common/vlan_tag.h"
#include "common/worker.h"
#include "vrouter/dp/routing.h"

namespace vrouter {

class RouterEgress final {
 public:
  void process(vnf::Burst& b) noexcept {
    for (uint16_t i = 0; i < b.count; ++i) {
      if (b.next[i] >= vnf::kMaxPorts) continue;
      vnf::PacketMeta& m = vnf::meta_of(b.pkts[i]);
      const bool seg_tag = m.flags & vnf::meta_flags::kSegTag;
      if (!seg_tag && !m.vlan) continue;  // untagged in, untagged out: nothing to do
      if (!vnf::set_egress_tag(b.pkts[i], seg_tag, seg_tag ? m.outer_tci : 0,
                               m.vlan ? vnf::kTpid8021Q : 0, m.vlan))
        b.drop(i, vnf::DropReason::kNoHeadroom);
    }
  }
};

// Transmits or drops (counted by meta.drop, charged to meta.in_port) injected packets.
inline void dispatch_injected(vnf::Burst& b, vnf::WorkerContext& w) noexcept {
  rte_mbuf* dropped[vnf::kBurstMax];
  unsigned nd = 0;
  for (uint16_t i = 0; i < b.count; ++i) {
    if (b.next[i] < vnf::kMaxPorts) {
      w.send(b.next[i], b.pkts[i]);
      continue;
    }
    // Consumed: a stage took the frame (the host switch's egress floods injected frames
    // itself): it is queued on ports already and must not be freed here.
    if (b.next[i] == vnf::kNextConsumed) continue;
    vnf::PacketMeta& m = vnf::meta_of(b.pkts[i]);
    if (b.next[i] != vnf::kNextDrop) m.drop = vnf::DropReason::kNoVerdict;
    const uint16_t in = m.in_port < vnf::kMaxPorts ? m.in_port : 0;
    w.count_drop(in, m.drop);
    if (w.cap && w.cap->wants(vnf::CapturePoint::kDrop, in)) [[unlikely]]
      w.cap->copy(w.id, b.pkts[i], in, vnf::CapturePoint::kDrop, m.drop, w.now_tsc);
    dropped[nd++] = b.pkts[i];
  }
  if (nd) rte_pktmbuf_free_bulk(dropped, nd);
}

class RouterPipeline final {
 public:
  // `scratch`: the dry variant's counters (vnfctl why), thrown away.
  RouterPipeline(const vnf::Published<RouteSnapshot>& pub, NeighView nv, RouterWorkerState& st,
                 RouterWorkerState& scratch, vnf::WorkerContext& w) noexcept
      : pub_(pub), routing_(nv, st, w), w_(w), probe_(nv, scratch, w) {}

  void begin() noexcept {
    snap_ = pub_.get();
    vnf::Burst b;
    for (int round = 0; round < 4; ++round) {
      b.count = routing_.take_injected(b);
      if (b.count == 0) break;
      egress_.process(b);
      dispatch_injected(b, w_);
    }
  }

  void process(vnf::Burst& b) noexcept {
    route(b);
    egress(b);
  }
  // vnfctl why (common/why.h): the routing stage's dry variant, then the egress tag and the
  // egress port's checks on the probe's own frame.
  void probe(vnf::Burst& b, vnf::WhyTrace& t) noexcept {
    probe_.probe(b, *snap_, t);
    t.record(vnf::WhyStage::kRoute, b);
    egress_.process(b);
    vnf::probe_egress(b, w_, t);
    t.record(vnf::WhyStage::kEgress, b);
  }
  // The two stages apart (bench/micro/route_bench times them one by one).
  void route(vnf::Burst& b) noexcept { routing_.process(b, *snap_); }
  void egress(vnf::Burst& b) noexcept { egress_.process(b); }

 private:
  const vnf::Published<RouteSnapshot>& pub_;
  const RouteSnapshot* snap_ = nullptr;
  Routing routing_;
  RouterEgress egress_;
  vnf::WorkerContext& w_;
  RoutingProbe probe_;
};

}  // namespace vrouter
