// Frame parser: Ethernet, up to two 802.1Q/802.1ad tags, ARP, IPv4 (with options and
// fragments), IPv6 (with extension header chains), TCP, UDP, ICMP, ICMPv6. Fills PacketMeta
// and returns the drop reason of a malformed frame (DropReason::kNone when it is well formed).
// Unknown ethertypes and IP protocols are well formed: they are simply not parsed further.
#pragma once

#include <cstdint>

#include <cstring>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "common/packet_meta.h"

namespace vnf {

inline constexpr uint16_t kTpid8021Q = 0x8100;
inline constexpr uint16_t kTpid8021ad = 0x88A8;
inline constexpr uint16_t kTpidQinQLegacy = 0x9100;
inline constexpr unsigned kMaxIpv6ExtHeaders = 8;

// Inline: the worker's parse_burst() specialises it per call site (it is a third of the
// switch's per-packet work). parse_mbuf and the fast path under it are always inlined: with
// a second caller (the worker's probe for vnfctl why) the compiler made parse_mbuf a call per
// packet, which cost the switch 8 % (docs/performance.md, "A regression since #14's
// figures"); tests/static/fastpath_calls.py checks it stays so.
namespace parser_detail {

// One load and a byte swap. (rte_be_to_cpu_16 is an asm volatile xchgb on x86, which the
// compiler can neither schedule nor fold.)
inline uint16_t rd16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}

inline constexpr uint8_t kProtoHopByHop = 0;
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoRouting = 43;
inline constexpr uint8_t kProtoFragment = 44;
inline constexpr uint8_t kProtoAh = 51;
inline constexpr uint8_t kProtoIcmp6 = 58;
inline constexpr uint8_t kProtoDstOpts = 60;
inline constexpr uint8_t kProtoMobility = 135;
inline constexpr uint8_t kProtoHip = 139;
inline constexpr uint8_t kProtoShim6 = 140;

// Bytes [off, off+need) must lie in the first segment. When they lie in the packet but not in
// the first segment the frame is not malformed, only split: a different reason.
struct Bounds {
  uint32_t seg_len;
  uint32_t pkt_len;
  DropReason check(uint32_t off, uint32_t need, DropReason truncated) const noexcept {
    if (off + need <= seg_len) return DropReason::kNone;
    return off + need <= pkt_len ? DropReason::kHeadersNotContiguous : truncated;
  }
};

inline DropReason parse_l4(const uint8_t* d, const Bounds& b, PacketMeta& m) noexcept {
  const uint32_t off = m.l4_off;
  switch (m.l4_proto) {
    case kProtoTcp: {
      if (m.l4_len < 20) return DropReason::kTcpTruncated;
      if (auto r = b.check(off, 20, DropReason::kTcpTruncated); r != DropReason::kNone) return r;
      const uint32_t doff = static_cast<uint32_t>(d[off + 12] >> 4) * 4;
      if (doff < 20) return DropReason::kTcpBadDataOffset;
      if (doff > m.l4_len) return DropReason::kTcpTruncated;
      m.sport = rd16(d + off);
      m.dport = rd16(d + off + 2);
      break;
    }
    case kProtoUdp: {
      if (m.l4_len < 8) return DropReason::kUdpTruncated;
      if (auto r = b.check(off, 8, DropReason::kUdpTruncated); r != DropReason::kNone) return r;
      const uint16_t ulen = rd16(d + off + 4);
      if (ulen < 8 || ulen > m.l4_len) return DropReason::kUdpBadLength;
      m.sport = rd16(d + off);
      m.dport = rd16(d + off + 2);
      break;
    }
    case kProtoIcmp:
    case kProtoIcmp6: {
      const DropReason trunc =
          m.l4_proto == kProtoIcmp ? DropReason::kIcmpTruncated : DropReason::kIcmp6Truncated;
      if (m.l4_len < 8) return trunc;
      if (auto r = b.check(off, 8, trunc); r != DropReason::kNone) return r;
      m.sport = rd16(d + off);      // type << 8 | code
      m.dport = rd16(d + off + 4);  // echo identifier (meaningless for other types)
      break;
    }
    default:
      return DropReason::kNone;  // other protocols: no L4 fields
  }
  m.flags |= meta_flags::kHasL4;
  return DropReason::kNone;
}

inline DropReason parse_ipv4(const uint8_t* d, const Bounds& b, PacketMeta& m) noexcept {
  const uint32_t off = m.l3_off;
  if (auto r = b.check(off, 20, DropReason::kIpv4Truncated); r != DropReason::kNone) return r;
  const uint8_t* ip = d + off;
  if ((ip[0] >> 4) != 4) return DropReason::kIpv4BadVersion;
  const uint32_t ihl = static_cast<uint32_t>(ip[0] & 0x0F) * 4;
  if (ihl < 20) return DropReason::kIpv4BadIhl;
  if (auto r = b.check(off, ihl, DropReason::kIpv4Truncated); r != DropReason::kNone) return r;
  const uint32_t total = rd16(ip + 2);
  if (total < ihl || off + total > b.pkt_len) return DropReason::kIpv4BadTotalLength;
  m.l3 = L3::kIpv4;
  m.l3_len = static_cast<uint16_t>(total);
  m.ttl = ip[8];
  m.l4_proto = ip[9];
  if (ihl > 20) m.flags |= meta_flags::kIpOptions;
  const uint16_t frag = rd16(ip + 6);
  if (frag & 0x3FFF) {  // MF set or offset non-zero
    m.flags |= meta_flags::kFragment;
    if (frag & 0x1FFF) {
      m.flags |= meta_flags::kLaterFragment;
      return DropReason::kNone;
    }
  }
  m.l4_off = static_cast<uint16_t>(off + ihl);
  m.l4_len = static_cast<uint16_t>(total - ihl);
  return parse_l4(d, b, m);
}

inline DropReason parse_ipv6(const uint8_t* d, const Bounds& b, PacketMeta& m) noexcept {
  const uint32_t off = m.l3_off;
  if (auto r = b.check(off, 40, DropReason::kIpv6Truncated); r != DropReason::kNone) return r;
  const uint8_t* ip = d + off;
  if ((ip[0] >> 4) != 6) return DropReason::kIpv6BadVersion;
  const uint32_t payload = rd16(ip + 4);
  if (off + 40 + payload > b.pkt_len) return DropReason::kIpv6BadPayloadLength;
  m.l3 = L3::kIpv6;
  m.l3_len = static_cast<uint16_t>(40 + payload);
  m.ttl = ip[7];
  const uint32_t end = off + 40 + payload;
  uint8_t nh = ip[6];
  uint32_t pos = off + 40;
  for (unsigned n = 0;; ++n) {
    uint32_t len;
    switch (nh) {
      case kProtoHopByHop:
      case kProtoRouting:
      case kProtoDstOpts:
      case kProtoMobility:
      case kProtoHip:
      case kProtoShim6:
        if (pos + 8 > end) return DropReason::kIpv6ExtTruncated;
        if (auto r = b.check(pos, 2, DropReason::kIpv6ExtTruncated); r != DropReason::kNone)
          return r;
        len = (static_cast<uint32_t>(d[pos + 1]) + 1) * 8;
        break;
      case kProtoAh:
        if (pos + 8 > end) return DropReason::kIpv6ExtTruncated;
        if (auto r = b.check(pos, 2, DropReason::kIpv6ExtTruncated); r != DropReason::kNone)
          return r;
        len = (static_cast<uint32_t>(d[pos + 1]) + 2) * 4;
        break;
      case kProtoFragment: {
        if (pos + 8 > end) return DropReason::kIpv6ExtTruncated;
        if (auto r = b.check(pos, 8, DropReason::kIpv6ExtTruncated); r != DropReason::kNone)
          return r;
        m.flags |= meta_flags::kFragment;
        if (rd16(d + pos + 2) & 0xFFF8) {  // fragment offset != 0
          m.flags |= meta_flags::kLaterFragment;
          m.l4_proto = d[pos];
          return DropReason::kNone;
        }
        len = 8;
        break;
      }
      default:  // an upper-layer protocol (or 59, no next header)
        m.l4_proto = nh;
        m.l4_off = static_cast<uint16_t>(pos);
        m.l4_len = static_cast<uint16_t>(end - pos);
        return parse_l4(d, b, m);
    }
    if (n >= kMaxIpv6ExtHeaders) return DropReason::kIpv6ExtChainTooLong;
    if (pos + len > end) return DropReason::kIpv6ExtTruncated;
    m.flags |= meta_flags::kIpOptions;
    nh = d[pos];
    pos += len;
  }
}

inline bool is_vlan_tpid(uint16_t t) {
  return t == kTpid8021Q || t == kTpid8021ad || t == kTpidQinQLegacy;
}

}  // namespace parser_detail

using parser_detail::Bounds;
using parser_detail::is_vlan_tpid;
using parser_detail::parse_ipv4;
using parser_detail::parse_ipv6;
using parser_detail::rd16;

namespace parser_detail {

// parse_fast's parts, specialised per family (a shared path for both made IPv4's 3 cycles
// slower, bench/micro/route_bench).
[[gnu::always_inline]] inline bool l4_fast_ok(const uint8_t* l4, uint8_t proto,
                                              uint32_t l4_len) noexcept {
  if (proto == 17) {
    const uint16_t ulen = rd16(l4 + 4);
    return ulen >= 8 && ulen <= l4_len;
  }
  if (proto == 6) {
    if (l4_len < 20) return false;
    const uint32_t doff = static_cast<uint32_t>(l4[12] >> 4) * 4;
    return doff >= 20 && doff <= l4_len;
  }
  return false;
}

struct FastL2 {
  uint16_t tpid, tci;
  uint8_t tags;
};

[[gnu::always_inline]] inline void write_fast_meta(PacketMeta& m, const FastL2& l2, uint16_t type,
                                                   L3 l3, uint32_t l3_off, uint32_t l3_len,
                                                   uint32_t hdr, uint8_t ttl, uint8_t proto,
                                                   const uint8_t* l4) noexcept {
  const uint16_t in_port = m.in_port;
  m = PacketMeta{};
  m.in_port = in_port;
  m.out_port = 0xFFFF;
  m.outer_tpid = l2.tpid;
  m.outer_tci = l2.tci;
  m.tags = l2.tags;
  m.ether_type = type;
  m.l3 = l3;
  m.l3_off = static_cast<uint16_t>(l3_off);
  m.l3_len = static_cast<uint16_t>(l3_len);
  m.ttl = ttl;
  m.l4_proto = proto;
  m.l4_off = static_cast<uint16_t>(l3_off + hdr);
  m.l4_len = static_cast<uint16_t>(l3_len - hdr);
  m.sport = rd16(l4);
  m.dport = rd16(l4 + 2);
  m.flags = meta_flags::kHasL4;
}

}  // namespace parser_detail

// The common case in straight-line code: Ethernet, at most one 802.1Q tag, IPv4 without
// options and not a fragment or IPv6 without extension headers, TCP or UDP, all in the first
// segment and consistent. Returns false (having written nothing that matters) when the frame
// is anything else; the general parser then decides, so the results are the same either way.
[[gnu::always_inline]] inline bool parse_fast(const uint8_t* d, uint32_t seg_len, uint32_t pkt_len,
                                              PacketMeta& m) noexcept {
  if (seg_len < 14 + 4 + 20 + 20 || seg_len != pkt_len) return false;
  uint32_t off = 12;
  uint16_t type = rd16(d + off);
  parser_detail::FastL2 l2{0, 0, 0};
  if (type == kTpid8021Q) {
    l2 = {type, rd16(d + 14), 1};
    off = 16;
    type = rd16(d + off);
  }
  const uint32_t l3_off = off + 2;
  const uint8_t* ip = d + l3_off;
  // Every read is inside the frame: the IPv4 header and the 20 bytes after it lie within the
  // 58 bytes checked above; IPv6's L4 header within the payload length just checked.
  if (type == RTE_ETHER_TYPE_IPV4) {
    if (ip[0] != 0x45 || (rd16(ip + 6) & 0x3FFF)) return false;  // options or fragment
    const uint32_t total = rd16(ip + 2);
    if (total < 20 + 8 || l3_off + total > pkt_len) return false;
    if (!parser_detail::l4_fast_ok(ip + 20, ip[9], total - 20)) return false;
    parser_detail::write_fast_meta(m, l2, RTE_ETHER_TYPE_IPV4, L3::kIpv4, l3_off, total, 20, ip[8],
                                   ip[9], ip + 20);
    return true;
  }
  if (type == RTE_ETHER_TYPE_IPV6) {
    if ((ip[0] >> 4) != 6) return false;
    const uint32_t payload = rd16(ip + 4);
    if (payload < 8 || l3_off + 40 + payload > pkt_len) return false;
    // TCP or UDP right after the header: no extension headers.
    if (!parser_detail::l4_fast_ok(ip + 40, ip[6], payload)) return false;
    parser_detail::write_fast_meta(m, l2, RTE_ETHER_TYPE_IPV6, L3::kIpv6, l3_off, 40 + payload, 40,
                                   ip[7], ip[6], ip + 40);
    return true;
  }
  return false;
}

// The general parser: every case, every check.
inline DropReason parse_general(const uint8_t* d, uint32_t seg_len, uint32_t pkt_len,
                                PacketMeta& m) noexcept {
  const Bounds b{seg_len < pkt_len ? seg_len : pkt_len, pkt_len};
  const uint16_t in_port = m.in_port;
  m = PacketMeta{};
  m.in_port = in_port;
  m.out_port = 0xFFFF;
  if (auto r = b.check(0, RTE_ETHER_HDR_LEN, DropReason::kEthTruncated); r != DropReason::kNone)
    return r;
  uint32_t off = 12;
  uint16_t type = rd16(d + off);
  while (is_vlan_tpid(type)) {
    if (m.tags == 2) return DropReason::kTooManyVlanTags;
    if (auto r = b.check(off, 8, DropReason::kVlanTruncated); r != DropReason::kNone) return r;
    if (m.tags == 0) {
      m.outer_tpid = type;
      m.outer_tci = rd16(d + off + 2);
    }
    ++m.tags;
    off += 4;
    type = rd16(d + off);
  }
  off += 2;
  m.ether_type = type;
  m.l3_off = static_cast<uint16_t>(off);
  switch (type) {
    case RTE_ETHER_TYPE_IPV4:
      return parse_ipv4(d, b, m);
    case RTE_ETHER_TYPE_IPV6:
      return parse_ipv6(d, b, m);
    case RTE_ETHER_TYPE_ARP: {
      // hardware type, protocol type, hlen, plen, op, then two (hw, proto) address pairs
      if (auto r = b.check(off, 8, DropReason::kArpTruncated); r != DropReason::kNone) return r;
      const uint32_t need = 8 + 2 * (static_cast<uint32_t>(d[off + 4]) + d[off + 5]);
      if (auto r = b.check(off, need, DropReason::kArpTruncated); r != DropReason::kNone) return r;
      m.l3 = L3::kArp;
      m.l3_len = static_cast<uint16_t>(need);
      return DropReason::kNone;
    }
    default:
      m.l3 = L3::kOther;
      return DropReason::kNone;
  }
}

[[gnu::always_inline]] inline DropReason parse_frame(const uint8_t* d, uint32_t seg_len,
                                                     uint32_t pkt_len, PacketMeta& m) noexcept {
  if (parse_fast(d, seg_len, pkt_len, m)) return DropReason::kNone;
  return parse_general(d, seg_len, pkt_len, m);
}

[[gnu::always_inline]] inline DropReason parse_mbuf(rte_mbuf*& m, uint16_t in_port) noexcept {
  if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
    // rte_vlan_insert() pushes mbuf->vlan_tci back as an 802.1Q tag (needs 4 bytes headroom,
    // which every rx mbuf has).
    if (rte_vlan_insert(&m) != 0) {
      meta_of(m).in_port = in_port;
      return DropReason::kNoHeadroom;
    }
    m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
  }
  PacketMeta& meta = meta_of(m);
  meta.in_port = in_port;
  return parse_frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, m->pkt_len, meta);
}

}  // namespace vnf
