#include "vfirewall/dp/reject.h"

#include <cstring>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "vfirewall/dp/tcp_state.h"
#include "vfirewall/dp/timeouts.h"

namespace vfirewall {

namespace {

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline void wr16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void wr32(uint8_t* p, uint32_t v) {
  wr16(p, static_cast<uint16_t>(v >> 16));
  wr16(p + 2, static_cast<uint16_t>(v));
}

bool is_icmp_error(uint8_t proto, uint8_t type) {
  if (proto == kProtoIcmp) return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
  if (proto == kProtoIcmp6) return type < 128;
  return false;
}

// IPv4 header at p: 20 bytes, no options.
void ip4_header(uint8_t* p, uint16_t total, uint8_t proto, const uint8_t* src, const uint8_t* dst) {
  p[0] = 0x45;
  p[1] = 0;
  wr16(p + 2, total);
  wr16(p + 4, 0);       // id
  wr16(p + 6, 0x4000);  // DF
  p[8] = 64;
  p[9] = proto;
  wr16(p + 10, 0);
  std::memcpy(p + 12, src, 4);
  std::memcpy(p + 16, dst, 4);
  const uint16_t c = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(p));
  std::memcpy(p + 10, &c, 2);  // rte_ipv4_cksum returns the value as stored (network order)
}

void ip6_header(uint8_t* p, uint16_t payload, uint8_t proto, const uint8_t* src,
                const uint8_t* dst) {
  wr32(p, 0x60000000u);
  wr16(p + 4, payload);
  p[6] = proto;
  p[7] = 64;
  std::memcpy(p + 8, src, 16);
  std::memcpy(p + 24, dst, 16);
}

}  // namespace

rte_mbuf* build_reject(const rte_mbuf* pkt, const vnf::PacketMeta& m, rte_mempool* pool) noexcept {
  if (m.l3 != vnf::L3::kIpv4 && m.l3 != vnf::L3::kIpv6) return nullptr;
  if (m.flags & vnf::meta_flags::kLaterFragment) return nullptr;
  const uint8_t* d = rte_pktmbuf_mtod(pkt, const uint8_t*);
  if (d[0] & 1) return nullptr;  // multicast / broadcast destination MAC
  const bool v4 = m.l3 == vnf::L3::kIpv4;
  const uint8_t* ip = d + m.l3_off;
  const uint8_t* src = v4 ? ip + 12 : ip + 8;
  const uint8_t* dst = v4 ? ip + 16 : ip + 24;
  if (v4 ? (dst[0] >= 224 || (dst[0] == 255)) : dst[0] == 0xFF) return nullptr;
  const bool has_l4 = m.flags & vnf::meta_flags::kHasL4;
  const uint8_t* l4 = d + m.l4_off;
  bool tcp = false;
  if (has_l4 && m.l4_proto == kProtoTcp) {
    if (l4[13] & kTcpRst) return nullptr;
    tcp = true;
  }
  if (has_l4 && is_icmp_error(m.l4_proto, l4[0])) return nullptr;

  rte_mbuf* r = rte_pktmbuf_alloc(pool);
  if (!r) return nullptr;
  const uint16_t l2 = m.l3_off;  // Ethernet + tags, copied with the MACs swapped
  const uint16_t l3_hdr = v4 ? 20 : 40;
  uint16_t l4_len;
  uint16_t quote = 0;  // bytes of the original packet quoted in an ICMP error
  if (tcp) {
    l4_len = 20;
  } else if (v4) {
    const uint16_t ihl = static_cast<uint16_t>((ip[0] & 0x0F) * 4);
    quote = static_cast<uint16_t>(ihl + (m.l3_len - ihl < 8 ? m.l3_len - ihl : 8));
    l4_len = static_cast<uint16_t>(8 + quote);
  } else {
    const uint32_t room = 1280 - 40 - 8;
    quote = static_cast<uint16_t>(m.l3_len < room ? m.l3_len : room);
    l4_len = static_cast<uint16_t>(8 + quote);
  }
  if (static_cast<uint32_t>(m.l3_off) + m.l3_len > pkt->data_len && quote) {
    // The quote must come from the first segment (the parser guarantees the headers only).
    const uint32_t avail = pkt->data_len - m.l3_off;
    if (avail < quote) {
      quote = static_cast<uint16_t>(avail);
      l4_len = static_cast<uint16_t>(8 + quote);
    }
  }
  const uint16_t total = static_cast<uint16_t>(l2 + l3_hdr + l4_len);
  uint8_t* o = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(r, total));
  if (!o) {
    rte_pktmbuf_free(r);
    return nullptr;
  }
  std::memcpy(o, d + 6, 6);  // to the sender
  std::memcpy(o + 6, d, 6);  // from the destination
  std::memcpy(o + 12, d + 12, l2 - 12u);
  uint8_t* oip = o + l2;
  uint8_t* ol4 = oip + l3_hdr;
  const uint8_t proto = tcp ? kProtoTcp : (v4 ? kProtoIcmp : kProtoIcmp6);
  if (v4)
    ip4_header(oip, static_cast<uint16_t>(l3_hdr + l4_len), proto, dst, src);
  else
    ip6_header(oip, l4_len, proto, dst, src);

  if (tcp) {
    const uint32_t seq = rd32(l4 + 4), ack = rd32(l4 + 8);
    const uint8_t flags = l4[13];
    const uint32_t doff = static_cast<uint32_t>(l4[12] >> 4) * 4;
    const uint32_t seg_len =
        m.l4_len - doff + ((flags & kTcpSyn) ? 1u : 0u) + ((flags & kTcpFin) ? 1u : 0u);
    std::memcpy(ol4, l4 + 2, 2);  // sport = their dport
    std::memcpy(ol4 + 2, l4, 2);  // dport = their sport
    if (flags & kTcpAck) {
      wr32(ol4 + 4, ack);
      wr32(ol4 + 8, 0);
      ol4[13] = kTcpRst;
    } else {
      wr32(ol4 + 4, 0);
      wr32(ol4 + 8, seq + seg_len);
      ol4[13] = kTcpRst | kTcpAck;
    }
    ol4[12] = 5 << 4;
    wr16(ol4 + 14, 0);  // window
    wr16(ol4 + 16, 0);  // checksum
    wr16(ol4 + 18, 0);  // urgent
  } else {
    ol4[0] = v4 ? 3 : 1;
    ol4[1] = v4 ? 13 : 1;
    wr16(ol4 + 2, 0);
    wr32(ol4 + 4, 0);
    std::memcpy(ol4 + 8, ip, quote);
  }
  uint16_t ck;
  if (tcp) {
    ck = v4 ? rte_ipv4_udptcp_cksum(reinterpret_cast<const rte_ipv4_hdr*>(oip), ol4)
            : rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(oip), ol4);
  } else if (v4) {
    ck = static_cast<uint16_t>(~rte_raw_cksum(ol4, l4_len));  // native order, stored as is
  } else {
    ck = rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(oip), ol4);
  }
  std::memcpy(ol4 + (tcp ? 16 : 2), &ck, 2);
  (void)rd16;
  return r;
}

}  // namespace vfirewall
