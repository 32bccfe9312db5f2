// The forwarding rewrite, shared by the routing stage and by the control thread when it
// releases packets that waited for a neighbour: next-hop MAC, our MAC, TTL / hop limit - 1,
// egress VLAN. The caller has checked TTL > 1, MTU and policy.
#pragma once

#include <cstdint>

#include <rte_mbuf.h>

#include "common/burst.h"
#include "common/packet_meta.h"
#include "vrouter/dp/packet_ops.h"
#include "vrouter/dp/tables.h"

namespace vrouter {

// Returns the verdict: the port the neighbour was learned on, or kNextFlood when unknown.
inline uint16_t forward_rewrite(rte_mbuf* pkt, vnf::PacketMeta& m, const IfaceDp& out,
                                uint64_t word) noexcept {
  uint8_t* d = rte_pktmbuf_mtod(pkt, uint8_t*);
  const uint64_t mac = word & nw::kMacMask;
  for (int k = 0; k < 6; ++k) d[k] = static_cast<uint8_t>(mac >> (40 - 8 * k));
  d[6] = out.mac[0];
  d[7] = out.mac[1];
  d[8] = out.mac[2];
  d[9] = out.mac[3];
  d[10] = out.mac[4];
  d[11] = out.mac[5];
  uint8_t* ip = d + m.l3_off;
  if (m.l3 == vnf::L3::kIpv4) {
    ops::ipv4_dec_ttl(ip);
  } else {
    --ip[7];
  }
  --m.ttl;
  m.vlan = out.vlan;
  const auto port = static_cast<uint8_t>(word >> nw::kPortShift);
  return port == nw::kPortUnknown ? vnf::kNextFlood : port;
}

}  // namespace vrouter
