// Frame parser: Ethernet, up to two 802.1Q/802.1ad tags, ARP, IPv4 (with options and
// fragments), IPv6 (with extension header chains), TCP, UDP, ICMP, ICMPv6. Fills PacketMeta
// and returns the drop reason of a malformed frame (DropReason::kNone when it is well formed).
// Unknown ethertypes and IP protocols are well formed: they are simply not parsed further.
#pragma once

#include <cstdint>

#include <rte_mbuf.h>

#include "common/packet_meta.h"

namespace vnf {

inline constexpr uint16_t kTpid8021Q = 0x8100;
inline constexpr uint16_t kTpid8021ad = 0x88A8;
inline constexpr uint16_t kTpidQinQLegacy = 0x9100;
inline constexpr unsigned kMaxIpv6ExtHeaders = 8;

// Parses `seg_len` contiguous bytes of a frame whose total length is `pkt_len`
// (seg_len < pkt_len for a multi-segment mbuf). Pure function: no DPDK state needed.
DropReason parse_frame(const uint8_t* data, uint32_t seg_len, uint32_t pkt_len,
                       PacketMeta& meta) noexcept;

// Parses an mbuf. A VLAN tag the driver stripped into mbuf->vlan_tci (af_packet does, as the
// kernel does for every packet socket) is put back into the frame first, so that every stage
// sees the tags on the wire exactly as sent.
DropReason parse_mbuf(rte_mbuf*& m, uint16_t in_port) noexcept;

}  // namespace vnf
