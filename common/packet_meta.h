// Per-packet metadata, parsed once at rx and kept in the mbuf's private area, so it follows
// the packet through every stage (and into flood copies made by rte_pktmbuf_copy).
#pragma once

#include <cstdint>

#include <rte_mbuf.h>

#include "common/drop_reason.h"

namespace vnf {

enum class L3 : uint8_t { kNone, kArp, kIpv4, kIpv6, kOther };

namespace meta_flags {
inline constexpr uint8_t kFragment = 1 << 0;       // IPv4 MF/offset or IPv6 fragment header
inline constexpr uint8_t kLaterFragment = 1 << 1;  // not the first fragment: no L4 header
inline constexpr uint8_t kIpOptions = 1 << 2;      // IPv4 options or IPv6 extension headers
inline constexpr uint8_t kHasL4 = 1 << 3;          // l4_off/l4_len/sport/dport are valid
inline constexpr uint8_t kSegTag = 1
                                   << 4;  // the outer tag carries the segment (rewritten at egress)
}  // namespace meta_flags

struct PacketMeta {
  uint16_t in_port;     // DPDK port id the frame arrived on
  uint16_t vlan;        // segment VLAN ID given by ingress classification (0: none yet)
  uint16_t outer_tpid;  // host order; 0 when the frame is untagged
  uint16_t outer_tci;   // host order
  uint16_t ether_type;  // host order, after all tags
  uint16_t l3_off;      // offset of the L3 header from the start of the frame
  uint16_t l3_len;      // IPv4 total length / 40 + IPv6 payload length
  uint16_t l4_off;
  uint16_t l4_len;
  uint16_t sport;     // TCP/UDP source port; ICMP/ICMPv6: type << 8 | code
  uint16_t dport;     // TCP/UDP destination port; ICMP/ICMPv6 echo: identifier
  uint16_t out_port;  // chosen egress port (stages may use it before the verdict)
  L3 l3;
  uint8_t l4_proto;  // IP protocol number after IPv6 extension headers
  uint8_t tags;      // VLAN tags in the frame data (0..2)
  uint8_t flags;     // meta_flags
  uint8_t ttl;       // IPv4 TTL / IPv6 hop limit
  DropReason drop;   // why the packet was dropped, when it is
  uint8_t zone;      // firewall zone (set by the firewall stage)
  uint8_t reserved;
};
static_assert(sizeof(PacketMeta) <= 32, "PacketMeta must stay within half a cache line");

// Private area size every mempool of ours is created with (RTE_MBUF_PRIV_ALIGN multiple).
inline constexpr uint16_t kMbufPrivSize = 32;
static_assert(sizeof(PacketMeta) <= kMbufPrivSize && kMbufPrivSize % RTE_MBUF_PRIV_ALIGN == 0);

inline PacketMeta& meta_of(rte_mbuf* m) { return *static_cast<PacketMeta*>(rte_mbuf_to_priv(m)); }

}  // namespace vnf
