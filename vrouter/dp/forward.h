// The forwarding rewrite, shared by the routing stage and by the control thread when it
// releases packets that waited for a neighbour: next-hop MAC, our MAC, TTL / hop limit - 1,
// egress VLAN. The caller has checked TTL > 1, MTU and policy.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>

#include <rte_mbuf.h>

#include "common/burst.h"
#include "common/packet_meta.h"
#include "vrouter/dp/packet_ops.h"
#include "vrouter/dp/tables.h"

namespace vrouter {

// The Ethernet addresses of a routed frame: the neighbour's MAC from its word, then ours.
inline void write_macs(uint8_t* d, uint64_t word, const IfaceDp& out) noexcept {
  // The MAC sits big-endian in the low 48 bits of the word: its first four bytes are bits
  // 47..16, its last two bits 15..0, each byte-swapped into place and stored from a register
  // (a 6-byte copy of a swapped 64-bit value went through the stack).
  const uint32_t hi = rte_cpu_to_be_32(static_cast<uint32_t>(word >> 16));
  const uint16_t lo = rte_cpu_to_be_16(static_cast<uint16_t>(word));
  std::memcpy(d, &hi, 4);
  std::memcpy(d + 4, &lo, 2);
  std::memcpy(d + 6, out.mac, 6);
}

// The verdict for a neighbour's word: the port it was learned on, or kNextFlood when unknown.
inline uint16_t neighbour_port(uint64_t word) noexcept {
  const auto port = static_cast<uint8_t>(word >> nw::kPortShift);
  return port == nw::kPortUnknown ? vnf::kNextFlood : port;
}

// Returns the verdict (neighbour_port).
inline uint16_t forward_rewrite(rte_mbuf* pkt, vnf::PacketMeta& m, const IfaceDp& out,
                                uint64_t word) noexcept {
  uint8_t* d = rte_pktmbuf_mtod(pkt, uint8_t*);
  write_macs(d, word, out);
  uint8_t* ip = d + m.l3_off;
  if (m.l3 == vnf::L3::kIpv4) {
    ops::ipv4_dec_ttl(ip);
  } else {
    --ip[7];
  }
  --m.ttl;
  m.vlan = out.vlan;
  return neighbour_port(word);
}

}  // namespace vrouter
