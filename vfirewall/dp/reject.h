// The answer to a rejected packet, sent back out of its ingress port in the same wire
// format (same VLAN tags), from the destination's addresses, as iptables REJECT on a bridge:
//   TCP (not RST): a RST (RFC 793 reset generation: seq = the segment's ack if it had one,
//     else seq 0 with ACK of everything it occupied);
//   anything else: ICMP destination unreachable, code 13 "communication administratively
//     prohibited" (IPv4, original IP header + 8 bytes, RFC 792/1812), or ICMPv6 type 1
//     code 1 "administratively prohibited" (as much of the original as fits in 1280 bytes,
//     RFC 4443).
// Never in answer to an ICMP error, a RST, a non-first fragment, or a packet sent to a
// multicast/broadcast address. Checksums are computed in software.
#pragma once

#include <rte_mbuf.h>

#include "common/packet_meta.h"

namespace vfirewall {

// Null when no answer is due or the pool is empty.
rte_mbuf* build_reject(const rte_mbuf* pkt, const vnf::PacketMeta& m, rte_mempool* pool) noexcept;

}  // namespace vfirewall
