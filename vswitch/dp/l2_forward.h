// L2 forwarding stage: source learning (as requests to the control thread), destination
// lookup, unicast to the learned port, flooding of broadcast / multicast / unknown unicast
// to the other ports of the same segment only, and the egress tag rewrite.
//
// Loop shape: keys for the whole burst, one rte_hash_lookup_bulk for all source and
// destination keys (2 x 32 = RTE_HASH_LOOKUP_BULK_MAX), then a scalar pass.
#pragma once

#include <cstdint>

#include <rte_ring.h>

#include "common/burst.h"
#include "common/counter.h"
#include "common/worker.h"
#include "vswitch/dp/vlan.h"
#include "vswitch/l2_snapshot.h"
#include "vswitch/mac_table.h"

namespace vswitch {

// Per-worker state of the L2 stage (one writer: its worker).
struct alignas(64) L2WorkerState {
  static constexpr unsigned kRecent = 256;
  rte_ring* learn_ring = nullptr;     // SP/SC, LearnEvent elements, drained by the control thread
  uint64_t recent_key[kRecent] = {};  // learn requests sent in the last second (dedup)
  uint32_t recent_s[kRecent] = {};
  uint16_t recent_port[kRecent] = {};
  vnf::Counter learn_requests;
  vnf::Counter learn_ring_full;
  VlanCounters* vlan = nullptr;  // [4096]
};

class L2Forward final {
 public:
  L2Forward(const MacTable& macs, L2WorkerState& st, vnf::WorkerContext& w)
      : macs_(macs), st_(st), w_(w) {}

  void process(vnf::Burst& b, const L2Snapshot& s) noexcept;

 private:
  void request_learn(const MacKey& k, uint16_t port, uint32_t now_s) noexcept;
  // Sends the packet to every other port of its segment; consumes it.
  void flood(vnf::Burst& b, uint16_t i, const L2Snapshot& s) noexcept;

  const MacTable& macs_;
  L2WorkerState& st_;
  vnf::WorkerContext& w_;
};

}  // namespace vswitch
