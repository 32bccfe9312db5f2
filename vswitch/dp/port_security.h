// Port security, right after VLAN ingress and before anything is learned: what a VM may send
// as (docs/config.md "Port security"). Per port, from the L2 snapshot:
//   - source MAC one of `macs`                                              else ps_mac_spoof
//   - IPv4 source in `ipv4` (0.0.0.0 only for a DHCP client's request)       else ps_ip_spoof
//   - IPv6 source in `ipv6` or a link-local of `macs` (:: only for DAD's NS and MLD reports)
//                                                                            else ps_ip_spoof
//   - ARP: sender MAC = the frame's source, sender address in `ipv4` (0.0.0.0: a probe)
//                                                                            else ps_arp_spoof
//   - ND: a solicitation's source link-layer option, an advertisement's target address and
//     target link-layer option are the port's                               else ps_nd_spoof
//   - untrusted ports (access ports by default): DHCP/DHCPv6 server messages  ps_rogue_dhcp,
//     router advertisements and redirects                                     ps_rogue_ra
// A port with nothing to check (trusted, no lists: trunks by default) costs one flag test
// per burst. An untrusted port without lists (an access port's default) looks at a packet
// only when its metadata says it may be a DHCP server message or ICMPv6 (server_or_icmp6).
// Checks are on the frame's own bytes, already bounded by the parser.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_mbuf.h>

#include "common/burst.h"
#include "common/packet_meta.h"
#include "vswitch/l2_snapshot.h"

namespace vswitch {

namespace ps {

inline uint32_t rd32(const uint8_t* p) noexcept {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

inline bool mac_ok(const PortSecurityDp& s, const uint8_t* mac) noexcept {
  if (!s.n_mac) return true;
  for (uint8_t k = 0; k < s.n_mac; ++k)
    if (std::memcmp(s.mac[k], mac, 6) == 0) return true;
  return false;
}

inline bool ip4_ok(const PortSecurityDp& s, uint32_t a) noexcept {  // host order
  if (!s.n4) return true;
  for (uint8_t k = 0; k < s.n4; ++k)
    if ((a & s.v4_mask[k]) == s.v4_net[k]) return true;
  return false;
}

inline bool prefix6_match(const uint8_t* p, uint8_t len, const uint8_t* a) noexcept {
  const unsigned bytes = len / 8, bits = len % 8;
  if (std::memcmp(p, a, bytes) != 0) return false;
  if (!bits) return true;
  const uint8_t m = static_cast<uint8_t>(0xFF << (8 - bits));
  return (p[bytes] & m) == (a[bytes] & m);
}

inline bool ip6_ok(const PortSecurityDp& s, const uint8_t* a) noexcept {
  if (!s.n6) return true;
  for (uint8_t k = 0; k < s.n6; ++k)
    if (prefix6_match(s.v6[k], s.v6_len[k], a)) return true;
  return false;
}

inline bool unspecified6(const uint8_t* a) noexcept {
  uint64_t x, y;
  std::memcpy(&x, a, 8);
  std::memcpy(&y, a + 8, 8);
  return (x | y) == 0;
}

// The link-layer address option `want` (1 source, 2 target) of an ND message: every one
// present must be an allowed MAC. `opt` .. `end`: the options.
inline bool nd_options_ok(const PortSecurityDp& s, const uint8_t* opt, const uint8_t* end,
                          uint8_t want) noexcept {
  while (opt + 2 <= end) {
    const unsigned len = opt[1] * 8u;
    if (len == 0 || opt + len > end) return false;  // malformed options: not believed
    if (opt[0] == want && (len < 8 || !mac_ok(s, opt + 2))) return false;
    opt += len;
  }
  return true;
}

// The check of one frame; kNone when it may pass.
// `seg_len`: bytes of the frame in its first segment (ND options are read only there).
inline vnf::DropReason check(const PortSecurityDp& s, const uint8_t* d, uint32_t seg_len,
                             const vnf::PacketMeta& m) noexcept {
  using vnf::DropReason;
  if (!mac_ok(s, d + 6)) return DropReason::kPsMacSpoof;
  const uint8_t* l3 = d + m.l3_off;
  if (m.l3 == vnf::L3::kArp) {
    // Ethernet/IPv4 ARP (the parser checked the declared sizes fit the frame).
    if (m.l3_len < 28 || l3[4] != 6 || l3[5] != 4) return DropReason::kNone;
    if (s.n_mac && std::memcmp(l3 + 8, d + 6, 6) != 0) return DropReason::kPsArpSpoof;
    const uint32_t spa = rd32(l3 + 14);
    if (spa != 0 && !ip4_ok(s, spa)) return DropReason::kPsArpSpoof;
    return DropReason::kNone;
  }
  const bool l4 = m.flags & vnf::meta_flags::kHasL4;
  if (m.l3 == vnf::L3::kIpv4) {
    const uint32_t src = rd32(l3 + 12);
    const bool udp = l4 && m.l4_proto == 17;
    if (udp && m.sport == 67 && m.dport == 68 && !s.trusted) return DropReason::kPsRogueDhcp;
    if (!ip4_ok(s, src) && !(src == 0 && udp && m.sport == 68 && m.dport == 67))
      return DropReason::kPsIpSpoof;
    return DropReason::kNone;
  }
  if (m.l3 != vnf::L3::kIpv6) return DropReason::kNone;
  const uint8_t* src = l3 + 8;
  const bool icmp6 = l4 && m.l4_proto == 58;
  const uint8_t type = icmp6 ? static_cast<uint8_t>(m.sport >> 8) : 0;
  if (!ip6_ok(s, src) && !(unspecified6(src) && (type == 135 || type == 143)))
    return DropReason::kPsIpSpoof;
  if (l4 && m.l4_proto == 17 && m.sport == 547 && m.dport == 546 && !s.trusted)
    return DropReason::kPsRogueDhcp;
  if (!icmp6) return DropReason::kNone;
  if ((type == 134 || type == 137) && !s.trusted) return DropReason::kPsRogueRa;
  if (type != 135 && type != 136) return DropReason::kNone;
  // NS/NA: 4 bytes ICMPv6 header, 4 reserved/flags, 16 target, then options.
  if (m.l4_len < 24) return DropReason::kNone;                  // malformed ND: the host ignores it
  if (seg_len < m.l4_off + 24u) return DropReason::kPsNdSpoof;  // not all in reach: not believed
  const uint8_t* msg = d + m.l4_off;
  const uint32_t in_seg = seg_len - m.l4_off < m.l4_len ? seg_len - m.l4_off : m.l4_len;
  if (type == 136 && !ip6_ok(s, msg + 8)) return DropReason::kPsNdSpoof;
  if (s.n_mac && !nd_options_ok(s, msg + 24, msg + in_seg, type == 135 ? 1 : 2))
    return DropReason::kPsNdSpoof;
  return DropReason::kNone;
}

// Without lists (no MACs or addresses to check), check() can refuse only a DHCP or DHCPv6
// server message (UDP from port 67 or 547) or ICMPv6 (router advertisement, redirect, an ND
// message out of reach): packets this says no to pass without a look at their bytes.
inline bool server_or_icmp6(const vnf::PacketMeta& m) noexcept {
  if (!(m.flags & vnf::meta_flags::kHasL4)) return false;
  return (m.l4_proto == 17 && (m.sport == 67 || m.sport == 547)) || m.l4_proto == 58;
}

}  // namespace ps

class PortSecurityStage final {
 public:
  // Drops what the ingress port may not send. Needs VlanIngress first (live packets only).
  // `suspect`: whether some live packet is server_or_icmp6 (VlanIngress::process says); when
  // none is, a port without lists has nothing to refuse and the burst is not looked at.
  static void process(vnf::Burst& b, const L2Snapshot& s, bool suspect = true) noexcept {
    if (!s.port[b.in_port].secured) return;
    const PortSecurityDp& sec = s.sec[b.in_port];
    const bool lists = sec.n_mac || sec.n4 || sec.n6;
    if (!lists && !suspect) return;
    for (uint16_t i = 0; i < b.count; ++i) {
      if (!b.live(i)) continue;
      rte_mbuf* pkt = b.pkts[i];
      if (!lists && !ps::server_or_icmp6(vnf::meta_of(pkt))) continue;
      const vnf::DropReason r =
          ps::check(sec, rte_pktmbuf_mtod(pkt, const uint8_t*), pkt->data_len, vnf::meta_of(pkt));
      if (r != vnf::DropReason::kNone) [[unlikely]]
        b.drop(i, r);
    }
  }
};

}  // namespace vswitch
