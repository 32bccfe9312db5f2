// Byte-level packet operations of the router, on plain buffers (no mbuf, no DPDK state), so
// that the unit tests check them directly: checksums (RFC 1071, incremental RFC 1624), TTL and
// hop-limit decrement, ICMP/ICMPv6 echo replies and error messages, ARP and ND frames.
// Multi-byte fields are read and written big-endian explicitly: no alignment assumptions.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_ip.h>

namespace vrouter::ops {

inline uint16_t rd16(const uint8_t* p) noexcept { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t rd32(const uint8_t* p) noexcept {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline void wr16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void wr32(uint8_t* p, uint32_t v) noexcept {
  wr16(p, static_cast<uint16_t>(v >> 16));
  wr16(p + 2, static_cast<uint16_t>(v));
}

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmp6 = 58;
inline constexpr uint16_t kEthArp = 0x0806;
inline constexpr uint16_t kEthIpv6 = 0x86DD;
inline constexpr uint8_t kDefaultTtl = 64;

// ---- checksums

// Ones' complement sum of `len` bytes folded to 16 bits, in the data's byte order; the
// checksum field is its complement stored as is (rte_raw_cksum's convention).
inline uint16_t cksum(const void* p, size_t len, uint32_t init = 0) noexcept {
  return static_cast<uint16_t>(~__rte_raw_cksum_reduce(__rte_raw_cksum(p, len, init)));
}

// The header's ones' complement sum is all ones. Summed in 32-bit words (ihl is a multiple
// of 4): the end-around-carry sum is byte-order neutral for this test, and five adds beat
// the 16-bit loop of rte_raw_cksum on every forwarded packet.
inline bool ipv4_header_valid(const uint8_t* ip, unsigned ihl) noexcept {
  // Five loads straight from the header, summed exactly in 64 bits. 2^16 = 1 modulo 65535,
  // so the exact sum of the 32-bit words is congruent to their ones' complement sum in 16 bits,
  // in either byte order; that sum is all ones exactly when the exact sum is a non-zero
  // multiple of 65535. The remainder test is a multiplication, where folding the carries back
  // is a chain of eight dependent steps.
  uint32_t w0, w1, w2, w3, w4;
  std::memcpy(&w0, ip, 4);
  std::memcpy(&w1, ip + 4, 4);
  std::memcpy(&w2, ip + 8, 4);
  std::memcpy(&w3, ip + 12, 4);
  std::memcpy(&w4, ip + 16, 4);
  uint64_t s = (uint64_t{w0} + w1) + (uint64_t{w2} + w3) + w4;
  for (unsigned i = 20; i < ihl; i += 4) {  // options
    uint32_t o;
    std::memcpy(&o, ip + i, 4);
    s += o;
  }
  return s != 0 && s % 65535 == 0;
}

inline void ipv4_set_cksum(uint8_t* ip, unsigned ihl) noexcept {
  ip[10] = ip[11] = 0;
  const uint16_t c = cksum(ip, ihl);
  std::memcpy(ip + 10, &c, 2);
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit word changing from m to m' (host
// order values of the word at an even offset).
inline uint16_t cksum_update(uint16_t hc, uint16_t m, uint16_t m2) noexcept {
  uint32_t s = static_cast<uint16_t>(~hc) + static_cast<uint32_t>(static_cast<uint16_t>(~m)) + m2;
  s = (s & 0xFFFF) + (s >> 16);
  s = (s & 0xFFFF) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

// IPv4 TTL - 1 with the header checksum updated incrementally (TTL shares a word with the
// protocol field). The caller has checked TTL > 1.
//
// The word drops by exactly 0x0100, so the checksum rises by 0x0100 with the carry wrapped
// around (RFC 1624 eqn. 3 with m' = m - 0x0100). Done on the field as stored: in the byte-swapped
// value the TTL's byte is the low one, so the rise is 1. A result of 0xFFFF (negative zero)
// becomes 0, the form a header checksum takes (the sum of a real header is never zero). This
// is Linux's ip_decrease_ttl.
inline void ipv4_dec_ttl(uint8_t* ip) noexcept {
  uint16_t c;
  std::memcpy(&c, ip + 10, 2);
  uint32_t x = static_cast<uint32_t>(c) + (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 1 : 0x100);
  x += x >= 0xFFFF;
  c = static_cast<uint16_t>(x);
  std::memcpy(ip + 10, &c, 2);
  --ip[8];
}

// ICMPv6 / upper-layer checksum over the IPv6 pseudo-header and `len` bytes at `l4`.
inline uint16_t ipv6_l4_cksum(const uint8_t* ip6, const uint8_t* l4, uint32_t len,
                              uint8_t next) noexcept {
  uint8_t tail[8] = {0, 0, 0, 0, 0, 0, 0, next};
  wr32(tail, len);
  uint32_t s = __rte_raw_cksum(ip6 + 8, 32, 0);  // source and destination
  s = __rte_raw_cksum(tail, 8, s);
  s = __rte_raw_cksum(l4, len, s);
  return static_cast<uint16_t>(~__rte_raw_cksum_reduce(s));
}

// ---- echo replies, in place

// An ICMP echo request at ip (IPv4 header of `ihl` bytes) becomes its reply: addresses
// swapped, TTL reset, type 8 -> 0 (checksum adjusted incrementally).
inline void echo_reply4(uint8_t* ip, unsigned ihl) noexcept {
  uint8_t t[4];
  std::memcpy(t, ip + 12, 4);
  std::memcpy(ip + 12, ip + 16, 4);
  std::memcpy(ip + 16, t, 4);
  ip[8] = kDefaultTtl;
  ipv4_set_cksum(ip, ihl);
  uint8_t* icmp = ip + ihl;
  const uint16_t m = rd16(icmp);
  icmp[0] = 0;
  wr16(icmp + 2, cksum_update(rd16(icmp + 2), m, rd16(icmp)));
}

// An ICMPv6 echo request (ICMPv6 header at `icmp`) becomes its reply; the pseudo-header sum
// is unchanged by swapping the addresses, so the checksum changes only by the type.
inline void echo_reply6(uint8_t* ip6, uint8_t* icmp) noexcept {
  uint8_t t[16];
  std::memcpy(t, ip6 + 8, 16);
  std::memcpy(ip6 + 8, ip6 + 24, 16);
  std::memcpy(ip6 + 24, t, 16);
  ip6[7] = kDefaultTtl;
  const uint16_t m = rd16(icmp);
  icmp[0] = 129;
  wr16(icmp + 2, cksum_update(rd16(icmp + 2), m, rd16(icmp)));
}

// ---- ICMP errors

// Writes an IPv4 header and an ICMP error header at `ip`; the quoted original datagram
// (`quote` bytes) must already be at ip + 28. Returns the new IPv4 total length.
inline uint16_t write_icmp4_error(uint8_t* ip, uint32_t src, uint32_t dst, uint8_t type,
                                  uint8_t code, uint32_t rest, uint16_t quote) noexcept {
  const uint16_t total = static_cast<uint16_t>(28 + quote);
  ip[0] = 0x45;
  ip[1] = 0xC0;  // internetwork control, as routers send their ICMP
  wr16(ip + 2, total);
  wr16(ip + 4, 0);
  wr16(ip + 6, 0);
  ip[8] = kDefaultTtl;
  ip[9] = kProtoIcmp;
  wr32(ip + 12, src);
  wr32(ip + 16, dst);
  ipv4_set_cksum(ip, 20);
  uint8_t* icmp = ip + 20;
  icmp[0] = type;
  icmp[1] = code;
  icmp[2] = icmp[3] = 0;
  wr32(icmp + 4, rest);
  const uint16_t c = cksum(icmp, 8u + quote);
  std::memcpy(icmp + 2, &c, 2);
  return total;
}

// The IPv6 counterpart: 40-byte header + 8-byte ICMPv6 header, quote at ip + 48. Returns the
// payload length.
inline uint16_t write_icmp6_error(uint8_t* ip, const uint8_t* src, const uint8_t* dst, uint8_t type,
                                  uint8_t code, uint32_t rest, uint16_t quote) noexcept {
  const uint16_t plen = static_cast<uint16_t>(8 + quote);
  wr32(ip, 0x60000000);
  wr16(ip + 4, plen);
  ip[6] = kProtoIcmp6;
  ip[7] = kDefaultTtl;
  std::memcpy(ip + 8, src, 16);
  std::memcpy(ip + 24, dst, 16);
  uint8_t* icmp = ip + 40;
  icmp[0] = type;
  icmp[1] = code;
  icmp[2] = icmp[3] = 0;
  wr32(icmp + 4, rest);
  const uint16_t c = ipv6_l4_cksum(ip, icmp, plen, kProtoIcmp6);
  std::memcpy(icmp + 2, &c, 2);
  return plen;
}

// Never an ICMP error about an ICMP error (RFC 1812 4.3.2.7, RFC 4443 2.4).
inline bool icmp4_is_error(uint8_t type) noexcept {
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}
inline bool icmp6_is_error(uint8_t type) noexcept { return type < 128; }

// ---- ARP and ND frames (untagged Ethernet; the egress stage adds a tag where needed)

inline constexpr uint16_t kArpRequest = 1;
inline constexpr uint16_t kArpReply = 2;
inline constexpr uint16_t kArpFrameLen = 60;  // 42 padded to the Ethernet minimum

inline uint8_t* eth_header(uint8_t* f, const uint8_t* dst, const uint8_t* src,
                           uint16_t type) noexcept {
  std::memcpy(f, dst, 6);
  std::memcpy(f + 6, src, 6);
  wr16(f + 12, type);
  return f + 14;
}

inline uint16_t build_arp(uint8_t* f, const uint8_t* dst_mac, const uint8_t* src_mac, uint16_t op,
                          const uint8_t* sha, uint32_t spa, const uint8_t* tha,
                          uint32_t tpa) noexcept {
  uint8_t* a = eth_header(f, dst_mac, src_mac, kEthArp);
  wr16(a, 1);
  wr16(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  wr16(a + 6, op);
  std::memcpy(a + 8, sha, 6);
  wr32(a + 14, spa);
  std::memcpy(a + 18, tha, 6);
  wr32(a + 24, tpa);
  std::memset(a + 28, 0, kArpFrameLen - 14 - 28);
  return kArpFrameLen;
}

inline constexpr uint8_t kNdNs = 135;
inline constexpr uint8_t kNdNa = 136;
inline constexpr uint8_t kNaRouter = 0x80, kNaSolicited = 0x40, kNaOverride = 0x20;
inline constexpr uint8_t kOptSrcLla = 1, kOptTgtLla = 2;

inline constexpr uint8_t kSolicitedPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
inline constexpr uint8_t kUnspecified6[16] = {};

// ff02::1:ffXX:XXXX and its MAC 33:33:ff:XX:XX:XX.
inline void solicited_node(const uint8_t* target, uint8_t* ip, uint8_t* mac) noexcept {
  std::memcpy(ip, kSolicitedPrefix, 13);
  std::memcpy(ip + 13, target + 13, 3);
  mac[0] = mac[1] = 0x33;
  mac[2] = 0xff;
  std::memcpy(mac + 3, target + 13, 3);
}

inline void multicast_mac6(const uint8_t* ip, uint8_t* mac) noexcept {
  mac[0] = mac[1] = 0x33;
  std::memcpy(mac + 2, ip + 12, 4);
}

inline uint8_t* ipv6_header(uint8_t* ip, const uint8_t* src, const uint8_t* dst, uint16_t plen,
                            uint8_t next, uint8_t hlim) noexcept {
  wr32(ip, 0x60000000);
  wr16(ip + 4, plen);
  ip[6] = next;
  ip[7] = hlim;
  std::memcpy(ip + 8, src, 16);
  std::memcpy(ip + 24, dst, 16);
  return ip + 40;
}

// Neighbour solicitation for `target`. src_ip nullptr: a DAD probe (source ::, no source
// link-layer option). dst_mac nullptr: to the solicited-node multicast group, else unicast
// to the target. Returns the frame length.
inline uint16_t build_ns(uint8_t* f, const uint8_t* src_mac, const uint8_t* src_ip,
                         const uint8_t* target, const uint8_t* dst_mac) noexcept {
  uint8_t dip[16], dmac[6];
  if (dst_mac) {
    std::memcpy(dip, target, 16);
    std::memcpy(dmac, dst_mac, 6);
  } else {
    solicited_node(target, dip, dmac);
  }
  const uint16_t plen = src_ip ? 32 : 24;
  uint8_t* ip = eth_header(f, dmac, src_mac, kEthIpv6);
  uint8_t* icmp = ipv6_header(ip, src_ip ? src_ip : kUnspecified6, dip, plen, kProtoIcmp6, 255);
  icmp[0] = kNdNs;
  icmp[1] = 0;
  icmp[2] = icmp[3] = 0;
  wr32(icmp + 4, 0);
  std::memcpy(icmp + 8, target, 16);
  if (src_ip) {
    icmp[24] = kOptSrcLla;
    icmp[25] = 1;
    std::memcpy(icmp + 26, src_mac, 6);
  }
  const uint16_t c = ipv6_l4_cksum(ip, icmp, plen, kProtoIcmp6);
  std::memcpy(icmp + 2, &c, 2);
  return static_cast<uint16_t>(14 + 40 + plen);
}

// Neighbour advertisement of our `target` address (also the source address) with our MAC as
// the target link-layer option.
inline uint16_t build_na(uint8_t* f, const uint8_t* src_mac, const uint8_t* dst_mac,
                         const uint8_t* dst_ip, const uint8_t* target, uint8_t flags) noexcept {
  uint8_t* ip = eth_header(f, dst_mac, src_mac, kEthIpv6);
  uint8_t* icmp = ipv6_header(ip, target, dst_ip, 32, kProtoIcmp6, 255);
  icmp[0] = kNdNa;
  icmp[1] = 0;
  icmp[2] = icmp[3] = 0;
  icmp[4] = flags;
  icmp[5] = icmp[6] = icmp[7] = 0;
  std::memcpy(icmp + 8, target, 16);
  icmp[24] = kOptTgtLla;
  icmp[25] = 1;
  std::memcpy(icmp + 26, src_mac, 6);
  const uint16_t c = ipv6_l4_cksum(ip, icmp, 32, kProtoIcmp6);
  std::memcpy(icmp + 2, &c, 2);
  return 14 + 40 + 32;
}

// The link-layer address option of `type` in ND options [opt, opt+len), or nullptr. A
// zero-length option makes the whole message invalid (RFC 4861 §4.6): *bad is set.
inline const uint8_t* nd_find_lla(const uint8_t* opt, uint32_t len, uint8_t type,
                                  bool* bad) noexcept {
  const uint8_t* found = nullptr;
  while (len >= 2) {
    const uint32_t olen = static_cast<uint32_t>(opt[1]) * 8;
    if (olen == 0 || olen > len) {
      *bad = true;
      return nullptr;
    }
    if (opt[0] == type && olen >= 8) found = opt + 2;
    opt += olen;
    len -= olen;
  }
  return found;
}

}  // namespace vrouter::ops
