// The routing stage: one class for both deployments.
//
//   appliance (vrouter):  rx -> parse -> Routing -> RouterEgress (802.1Q tag) -> tx
//   host (vswitch):       VlanIngress -> L2Lookup -> [firewall] -> Routing -> L2Egress -> tx
//
// Input: a burst whose packets carry their ingress (b.in_port; meta.vlan in the host
// deployment, the frame's own tag in the appliance). The stage looks at a packet when it
// arrived on a router interface and is addressed to it (the interface MAC), or is ARP/ND for
// one of its addresses. Everything else is left alone in the host deployment (the switch
// forwards it) and dropped with a reason in the appliance.
//
// Output, per packet it took:
//   - routed: dst MAC = next hop, src MAC = egress interface, TTL/hop limit - 1 (IPv4
//     checksum updated incrementally), meta.vlan = egress interface VLAN/segment, verdict =
//     the port the next hop was learned on (kNextFlood if unknown: static neighbours in the
//     host deployment). The frame keeps its tag; the egress stage rewrites/pushes/pops it.
//   - answered (ICMP echo reply, ICMP errors): rewritten in place, sent back to the sender
//     (verdict b.in_port, meta.vlan unchanged);
//   - handed to the control thread (ARP, ND, packets waiting for resolution): kNextConsumed;
//   - dropped with a named reason.
//
// Per burst: classify, one rte_fib_lookup_bulk and one rte_fib6_lookup_bulk, then a pass
// that finishes each packet whose next hop is a gateway (the neighbour's place is fixed in its
// adjacency); on-link destinations wait for one rte_hash_lookup_bulk and a last pass. No
// allocation: ICMP messages reuse the packet's own mbuf.
#pragma once

#include <cstdint>

#include "common/burst.h"
#include "common/why.h"
#include "common/worker.h"
#include "vrouter/dp/tables.h"
#include "vrouter/snapshot.h"

namespace vrouter {

// Dry: the variant vnfctl why runs (common/why.h): the same decisions, recorded, with no
// effect on shared state (no punt, no neighbour use mark, no ICMP token, no drop counter; its
// RouterWorkerState is a scratch one).
template <bool Dry>
class RoutingT final {
 public:
  RoutingT(NeighView nv, RouterWorkerState& st, vnf::WorkerContext& w) noexcept;

  void process(vnf::Burst& b, const RouteSnapshot& s) noexcept;
  void probe(vnf::Burst& b, const RouteSnapshot& s, vnf::WhyTrace& t) noexcept requires Dry {
    trace_ = &t;
    t.rt_generation = s.generation;
    process(b, s);
    trace_ = nullptr;
  }

  // Packets the control thread queued for this worker (ARP/ND replies and probes, released
  // held packets, held packets that failed). Fills b with up to kBurstMax; b.next[i] is the
  // verdict (a port, kNextFlood, or kNextDrop with meta.drop set); meta.vlan is the egress
  // VLAN/segment. Returns the count.
  uint16_t take_injected(vnf::Burst& b) noexcept;

  struct Fwd {  // a packet on its way out, waiting for its neighbour
    uint16_t i;
    uint8_t in_if;
    uint8_t out_if;
    uint8_t family;
    int32_t pos;
    const uint8_t* nh_addr;
  };

 private:
  struct Ctx;
  void classify(vnf::Burst& b, uint16_t i, const RouteSnapshot& s, Ctx& c) noexcept;
  void route4(vnf::Burst& b, uint16_t i, uint8_t in_if, uint32_t path, const RouteSnapshot& s,
              Ctx& c) noexcept;
  void route6(vnf::Burst& b, uint16_t i, uint8_t in_if, uint32_t path, const RouteSnapshot& s,
              Ctx& c) noexcept;
  void local4(vnf::Burst& b, uint16_t i, uint8_t in_if, const RouteSnapshot& s) noexcept;
  void local6(vnf::Burst& b, uint16_t i, uint8_t in_if, const RouteSnapshot& s) noexcept;
  void finish(vnf::Burst& b, const Fwd& f, const RouteSnapshot& s, Ctx& c) noexcept;
  // The fast lane: a packet routed through the gateway adjacency the burst's previous packet
  // used (Ctx::hop) is rewritten from what that packet checked. Returns false for every other
  // case, which the general route4 / route6 then take.
  bool fast(vnf::Burst& b, uint16_t i, uint8_t in_if, uint32_t path, uint8_t family,
            const RouteSnapshot& s, Ctx& c) noexcept;
  void learn_hop(uint16_t adj, uint8_t in_if, const RouteSnapshot& s, Ctx& c) noexcept;
  void routed(vnf::Burst& b, uint16_t i, vnf::PacketMeta& m, uint16_t out, uint8_t out_if,
              Ctx& c) noexcept;
  // A routed packet's way to its next hop: finished now through a gateway (its neighbour's
  // place is in the adjacency), or queued for the burst's neighbour lookup when on-link.
  void to_next_hop(vnf::Burst& b, uint16_t i, uint8_t in_if, const AdjDp& a, uint8_t family,
                   const uint8_t* dst, const RouteSnapshot& s, Ctx& c) noexcept;
  void control(vnf::Burst& b, uint16_t i, uint8_t x, bool to_us, const RouteSnapshot& s) noexcept;
  void punt(vnf::Burst& b, uint16_t i, uint8_t kind, uint8_t x, uint8_t fam,
            const uint8_t* addr) noexcept;
  void drop(vnf::Burst& b, uint16_t i, uint8_t x, vnf::DropReason r) noexcept;
  // ICMP error back to the sender in place of the packet, or a plain drop when not allowed
  // (rate limit, error about an error...). The packet is counted under `r` either way.
  void icmp4_error(vnf::Burst& b, uint16_t i, uint8_t x, const RouteSnapshot& s, uint8_t type,
                   uint8_t code, uint32_t rest, vnf::DropReason r) noexcept;
  void icmp6_error(vnf::Burst& b, uint16_t i, uint8_t x, const RouteSnapshot& s, uint8_t type,
                   uint8_t code, uint32_t rest, vnf::DropReason r) noexcept;
  bool icmp_token(const RouteSnapshot& s) noexcept;

  void note_adj(const AdjDp& a, const uint8_t* dst, uint8_t family) noexcept;

  NeighView nv_;
  RouterWorkerState& st_;
  vnf::WorkerContext& w_;
  uint64_t tsc_per_ms_;
  vnf::WhyTrace* trace_ = nullptr;  // Dry only
};

using Routing = RoutingT<false>;
using RoutingProbe = RoutingT<true>;

}  // namespace vrouter
