// L2 stages. The switch decides in one stage and acts in another, so that a policy stage
// (the firewall) can sit between the two and see every frame's destination, floods included:
//
//   VlanIngress -> L2Lookup -> [policy stages] -> L2Egress
//
// L2Lookup: source learning (as requests to the control thread), MAC limit and static-entry
//   enforcement, destination lookup. Verdict per packet: the egress port (known unicast),
//   kNextFlood (broadcast, multicast, unknown unicast: to the other ports of meta.vlan's
//   segment), or a drop. The keys the worker's caches do not answer (up to 2 x 32) go to the
//   table in one bulk lookup (MacTable::lookup_bulk, with the hashes computed here), then a
//   scalar pass.
// L2Egress: puts unicast frames in their egress port's wire format (tag push / pop / rewrite)
//   and performs floods (a copy per port, each in its port's format).
#pragma once

#include <cstdint>

#include <rte_ring.h>

#include "common/burst.h"
#include "common/counter.h"
#include "common/crc.h"
#include "common/why.h"
#include "common/worker.h"
#include "vswitch/dp/limit.h"
#include "vswitch/dp/vlan.h"
#include "vswitch/l2_snapshot.h"
#include "vswitch/mac_table.h"

namespace vswitch {

using vnf::kNextFlood;  // L2Lookup's flood verdict, performed by L2Egress

// A worker's exact-match cache entries: (VLAN, MAC) -> port as the MAC table said under
// `epoch`; stale as soon as the table's epoch moves on.
struct DstCacheEntry {
  uint64_t key;  // MacKey bits; kEmptyKey when unused
  uint32_t epoch;
  uint16_t port;
  uint16_t pad;
};
static_assert(sizeof(DstCacheEntry) == 16);
struct SrcCacheEntry {
  uint64_t key;
  uint32_t epoch;
  uint16_t port;
  uint16_t pad;
  int32_t pos;      // hash position, to refresh the entry's last_seen
  uint32_t seen_s;  // last second last_seen was refreshed
};
static_assert(sizeof(SrcCacheEntry) == 24);
inline constexpr uint64_t kEmptyKey = ~0ULL;  // VLAN 0xFFFF never occurs

// Per-worker state of the L2 stages (one writer: its worker).
struct alignas(64) L2WorkerState {
  static constexpr unsigned kDstCache = 4096;  // destinations, like OVS's EMC
  static constexpr unsigned kSrcCache = 256;   // sources: a VM port has one or a few
  static constexpr unsigned kRecent = 256;
  rte_ring* learn_ring = nullptr;     // SP/SC, LearnEvent elements, drained by the control thread
  uint64_t recent_key[kRecent] = {};  // learn requests sent in the last second (dedup)
  uint32_t recent_s[kRecent] = {};
  uint16_t recent_port[kRecent] = {};
  vnf::Counter learn_requests;
  vnf::Counter learn_ring_full;
  VlanCounters* vlan = nullptr;        // [4096]
  DstCacheEntry* dst_cache = nullptr;  // [kDstCache]
  SrcCacheEntry* src_cache = nullptr;  // [kSrcCache]
  vnf::Counter cache_hits, cache_misses;
  LimitWorkerState* lim = nullptr;  // meters and shaper queues (vswitch/dp/limit.h)
};

// A cache's slot for a key: the low bits of the key's hash in the MAC table (mac_sig: CRC32
// mixes every key bit into them; the varying MAC bytes sit in the key's top byte, which a
// multiplicative hash's low bits never see).
inline unsigned cache_slot(uint32_t sig, unsigned size) noexcept { return sig & (size - 1); }

class L2Lookup final {
 public:
  L2Lookup(const MacTable& macs, L2WorkerState& st, vnf::WorkerContext& w)
      : macs_(macs), st_(st), w_(w) {}

  void process(vnf::Burst& b, const L2Snapshot& s) noexcept { run<false>(b, s, nullptr); }
  // vnfctl why: the same decisions without effects (no learning, no cache or age update, no
  // counters), recorded in `t` (common/why.h).
  void probe(vnf::Burst& b, const L2Snapshot& s, vnf::WhyTrace& t) noexcept { run<true>(b, s, &t); }

 private:
  template <bool Dry>
  void run(vnf::Burst& b, const L2Snapshot& s, vnf::WhyTrace* t) noexcept;
  void request_learn(const MacKey& k, uint16_t port, uint32_t now_s) noexcept;

  const MacTable& macs_;
  L2WorkerState& st_;
  vnf::WorkerContext& w_;
};

class L2Egress final {
 public:
  L2Egress(L2WorkerState& st, vnf::WorkerContext& w) : st_(st), w_(w), lim_(*st.lim, w) {}

  void process(vnf::Burst& b, const L2Snapshot& s) noexcept;
  // vnfctl why: the ports the packet would leave by (unicast or flood), or its drop reason.
  void probe(vnf::Burst& b, const L2Snapshot& s, vnf::WhyTrace& t) noexcept;

 private:
  // The ports a flood of packet i reaches (the ingress port excluded within its segment,
  // only ports the flood mask allows, only ports whose link is up); returns their count.
  uint16_t flood_targets(const vnf::Burst& b, uint16_t i, const L2Snapshot& s,
                         uint16_t* dests) const noexcept;
  // Sends the packet to every other port of its segment; consumes it.
  void flood(vnf::Burst& b, uint16_t i, const L2Snapshot& s) noexcept;
  // Unicast packet i toward `out`, tagged: its limits toward the VM (red: dropped; shaped:
  // queued).
  void limit_tx(vnf::Burst& b, uint16_t i, uint16_t out, const L2Snapshot& s) noexcept;
  // Removes the flood targets a limit paints red (counted, or for a probe only left out).
  template <bool Dry>
  uint16_t limit_targets(const vnf::Burst& b, uint16_t i, const L2Snapshot& s, uint16_t* dests,
                         uint16_t nd) noexcept;

  L2WorkerState& st_;
  vnf::WorkerContext& w_;
  LimitStage lim_;
};

}  // namespace vswitch
