// The unit of work of every stage: up to 32 packets from one rx queue and one verdict each.
#pragma once

#include <cstdint>
#include <type_traits>

#include <rte_mbuf.h>

#include "common/drop_reason.h"
#include "common/packet_meta.h"

namespace vnf {

inline constexpr uint16_t kBurstMax = 32;

// Verdicts other than an egress port id (port ids are < RTE_MAX_ETHPORTS).
inline constexpr uint16_t kNextStage = 0xFFFF;     // undecided: the next stage looks at it
inline constexpr uint16_t kNextDrop = 0xFFFE;      // dropped; meta.drop says why
inline constexpr uint16_t kNextConsumed = 0xFFFD;  // a stage took ownership (flooded, queued)
inline constexpr uint16_t kNextFlood = 0xFFFC;     // L2: flood within meta.vlan's segment

struct Burst {
  uint16_t count;
  uint16_t in_port;
  uint16_t next[kBurstMax];
  rte_mbuf* pkts[kBurstMax];
  // For a kNextFlood verdict: the ports the flood may reach (bit = DPDK port id). L2 lookup
  // sets all ones; policy stages (the firewall) narrow it; L2 egress floods within it.
  uint32_t flood_mask[kBurstMax];
  // The segment (VLAN) each packet arrived in, as ingress classified it: routing may move a
  // packet to another segment (meta.vlan), the firewall judges its source by this one.
  uint16_t in_vlan[kBurstMax];

  void drop(uint16_t i, DropReason r) noexcept {
    next[i] = kNextDrop;
    meta_of(pkts[i]).drop = r;
  }
  bool live(uint16_t i) const noexcept { return next[i] == kNextStage; }
};
static_assert(std::is_trivially_copyable_v<Burst>);
static_assert(RTE_MAX_ETHPORTS <= 32, "Burst::flood_mask has one bit per port");

}  // namespace vnf
