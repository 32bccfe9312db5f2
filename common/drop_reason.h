// Named reasons for every packet the suite drops. Each has a per-worker counter; telemetry
// (/vnf/drops) and the docs (docs/operations.md) use these names, so renaming one is an API
// change. One list per part of the suite: each function adds its reasons in its own block.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace vnf {

// clang-format off
// X(enumerator, "name", "what it means")
#define VNF_DROP_REASONS_ENGINE(X) \
  X(kNone, "none", "not dropped") \
  /* parser: malformed frames */ \
  X(kEthTruncated, "eth_truncated", "frame shorter than an Ethernet header") \
  X(kVlanTruncated, "vlan_truncated", "frame ends inside a VLAN tag") \
  X(kTooManyVlanTags, "too_many_vlan_tags", "more than two stacked VLAN tags") \
  X(kArpTruncated, "arp_truncated", "ARP header shorter than its declared sizes") \
  X(kIpv4Truncated, "ipv4_truncated", "frame ends inside the IPv4 header") \
  X(kIpv4BadVersion, "ipv4_bad_version", "IPv4 ethertype but version field is not 4") \
  X(kIpv4BadIhl, "ipv4_bad_ihl", "IPv4 header length below 20 bytes") \
  X(kIpv4BadTotalLength, "ipv4_bad_total_length", "IPv4 total length beyond the frame or below the header") \
  X(kIpv6Truncated, "ipv6_truncated", "frame ends inside the IPv6 header") \
  X(kIpv6BadVersion, "ipv6_bad_version", "IPv6 ethertype but version field is not 6") \
  X(kIpv6BadPayloadLength, "ipv6_bad_payload_length", "IPv6 payload length beyond the frame") \
  X(kIpv6ExtTruncated, "ipv6_ext_truncated", "an IPv6 extension header runs past the packet") \
  X(kIpv6ExtChainTooLong, "ipv6_ext_chain_too_long", "more than 8 IPv6 extension headers") \
  X(kTcpTruncated, "tcp_truncated", "TCP header shorter than 20 bytes or its data offset") \
  X(kTcpBadDataOffset, "tcp_bad_data_offset", "TCP data offset below 5 words") \
  X(kUdpTruncated, "udp_truncated", "packet ends inside the UDP header") \
  X(kUdpBadLength, "udp_bad_length", "UDP length field below 8 or beyond the IP payload") \
  X(kIcmpTruncated, "icmp_truncated", "ICMP message shorter than 8 bytes") \
  X(kIcmp6Truncated, "icmp6_truncated", "ICMPv6 message shorter than 8 bytes") \
  X(kHeadersNotContiguous, "headers_not_contiguous", "headers span mbuf segments") \
  /* engine */ \
  X(kFrameTooLong, "frame_too_long", "frame longer than the ingress port's MTU allows (MTU + Ethernet header + two VLAN tags), or cut short by the driver") \
  X(kEgressTooLong, "egress_too_long", "frame longer than the egress port's MTU allows (a switch does not fragment)") \
  X(kLinkDown, "link_down", "the egress port's link is down (nothing is queued for it; router: also packets routed out of that interface and packets held for its neighbours)") \
  X(kNoMbuf, "no_mbuf", "mempool empty when a copy was needed") \
  X(kNoHeadroom, "no_headroom", "no room to push a VLAN tag") \
  X(kTxFull, "tx_full", "egress queue full") \
  X(kNoVerdict, "no_verdict", "no stage decided (a bug: reported, never silent)")

#define VNF_DROP_REASONS_VSWITCH(X) \
  X(kPortNotSwitched, "port_not_switched", "ingress port has no switching mode") \
  X(kBadSrcMac, "bad_src_mac", "source MAC is multicast, broadcast or zero") \
  X(kLinkLocal, "link_local", "IEEE 802.1D reserved group address (01:80:c2:00:00:0x)") \
  X(kUntaggedNotAllowed, "untagged_not_allowed", "untagged frame on a trunk without native segment") \
  X(kTaggedOnAccess, "tagged_on_access", "VLAN-tagged frame on an access port") \
  X(kVlanNotAllowed, "vlan_not_allowed", "VLAN not in the trunk's allowed segments") \
  X(kUnexpectedTpid, "unexpected_tpid", "outer tag TPID differs from the trunk's tpid") \
  X(kStackedVlan, "stacked_vlan", "802.1ad/QinQ stacked tags on a port without qinq") \
  X(kMacLimit, "mac_limit", "new source MAC on a port at its MAC limit") \
  X(kStaticMacViolation, "static_mac_violation", "static MAC seen on another port") \
  X(kSamePort, "same_port", "destination MAC is behind the ingress port") \
  X(kNoDestination, "no_destination", "flood with no other port in the segment") \
  X(kPsMacSpoof, "ps_mac_spoof", "port security: source MAC not one of the port's macs") \
  X(kPsIpSpoof, "ps_ip_spoof", "port security: source IPv4/IPv6 address not one of the port's") \
  X(kPsArpSpoof, "ps_arp_spoof", "port security: ARP sender MAC or address not the port's") \
  X(kPsNdSpoof, "ps_nd_spoof", "port security: neighbour solicitation/advertisement for an address or MAC not the port's") \
  X(kPsRogueDhcp, "ps_rogue_dhcp", "port security: DHCP or DHCPv6 server message from a port that is not trusted") \
  X(kPsRogueRa, "ps_rogue_ra", "port security: IPv6 router advertisement or redirect from a port that is not trusted") \
  X(kLimitRx, "limit_rx", "limit: red on a meter of the ingress port (traffic from the VM over its limit)") \
  X(kLimitTx, "limit_tx", "limit: red on a meter of the egress port (traffic toward the VM over its limit)") \
  X(kShapeQueueFull, "shape_queue_full", "limit: the shaper queue of the egress port is full")

// vfirewall (issue #4).
#define VNF_DROP_REASONS_VFIREWALL(X) \
  X(kFwNoWire, "fw_no_wire", "firewall: ingress port is in no wire (standalone vfirewall)") \
  X(kFwNonIp, "fw_non_ip", "firewall: non-IP frame and options.non_ip is drop") \
  X(kFwFragment, "fw_fragment", "firewall: non-first IP fragment (no ports to match) and options.fragments is drop") \
  X(kFwNoZone, "fw_no_zone", "firewall: source or destination belongs to no zone") \
  X(kFwRuleDrop, "fw_rule_drop", "firewall: new connection denied by a rule with action drop") \
  X(kFwRuleReject, "fw_rule_reject", "firewall: new connection denied by a rule with action reject (a TCP RST or ICMP unreachable was sent)") \
  X(kFwPolicyDrop, "fw_policy_drop", "firewall: no rule matched and the zone pair's default policy drops") \
  X(kFwPolicyReject, "fw_policy_reject", "firewall: no rule matched and the zone pair's default policy rejects") \
  X(kFwTcpInvalid, "fw_tcp_invalid", "firewall: TCP segment invalid in the connection's state (e.g. no SYN to open it)") \
  X(kFwTcpWindow, "fw_tcp_window", "firewall: TCP segment outside the connection's sequence window") \
  X(kFwInvalid, "fw_invalid", "firewall: an ICMP reply with no query (echo, timestamp, information, address mask or node information reply)") \
  X(kFwIcmpUnrelated, "fw_icmp_unrelated", "firewall: ICMP error whose inner header matches no connection") \
  X(kFwIcmpMisdirected, "fw_icmp_misdirected", "firewall: ICMP error sent to another host than the source of the packet it quotes") \
  X(kFwTableFull, "fw_table_full", "firewall: connection table full, new connection refused") \
  X(kFwZoneLimit, "fw_zone_limit", "firewall: the source zone reached its connection limit (conn_limit, by default its share of the table), new connection refused") \
  X(kFwRecheckClosed, "fw_recheck_closed", "firewall: the connection was closed because reloaded rules no longer allow it") \
  X(kFwSpoofedSource, "fw_spoofed_source", "firewall: source address belongs to a zone that lives on another port or segment")

// vrouter (issue #5) adds its reasons here.
#define VNF_DROP_REASONS_VROUTER(X) \
  X(kNoInterface, "no_interface", "arrived on a port or VLAN that is no router interface") \
  X(kNotForRouter, "not_for_router", "unicast frame to another station's MAC") \
  X(kNotRouted, "not_routed", "multicast, broadcast or link-local destination, or not IP") \
  X(kArpIgnored, "arp_ignored", "ARP not for one of the router's addresses, or malformed") \
  X(kNdIgnored, "nd_ignored", "ND message the router does not act on (RS, RA, redirect, other target)") \
  X(kIpv4BadChecksum, "ipv4_bad_checksum", "IPv4 header checksum wrong") \
  X(kMartianAddress, "martian_address", "source or destination never valid on the wire (0/8, 127/8, class E, multicast source, ::, ::1, link-local source off-link)") \
  X(kTtlExceeded, "ttl_exceeded", "TTL / hop limit would reach 0 (ICMP time exceeded sent)") \
  X(kNoRoute, "no_route", "no route to the destination (ICMP unreachable sent)") \
  X(kBlackhole, "blackhole", "matched a blackhole route") \
  X(kSegmentPolicy, "segment_policy", "route leads into a segment kept apart from the ingress one") \
  X(kFragNeeded, "frag_needed", "IPv4 with DF over the egress MTU (ICMP fragmentation needed sent)") \
  X(kMtuExceeded, "mtu_exceeded", "IPv4 without DF over the egress MTU (the router does not fragment)") \
  X(kPacketTooBig, "packet_too_big", "IPv6 over the egress MTU (ICMPv6 packet too big sent)") \
  X(kNeighUnresolved, "neigh_unresolved", "next hop did not answer ARP/ND (ICMP unreachable where allowed)") \
  X(kNeighQueueFull, "neigh_queue_full", "hold queue of an unresolved neighbour full (oldest dropped)") \
  X(kNeighTableFull, "neigh_table_full", "neighbour table full: a new neighbour could not be resolved") \
  X(kPuntQueueFull, "punt_queue_full", "queue to the control thread full (ARP/ND/held packets)") \
  X(kLocalNoService, "local_no_service", "to a router address but not ICMP echo (UDP: port unreachable sent)") \
  X(kIcmpRateLimited, "icmp_rate_limited", "echo request to the router not answered: ICMP rate limit")

#define VNF_DROP_REASONS(X) \
  VNF_DROP_REASONS_ENGINE(X) \
  VNF_DROP_REASONS_VSWITCH(X) \
  VNF_DROP_REASONS_VFIREWALL(X) \
  VNF_DROP_REASONS_VROUTER(X)
// clang-format on

enum class DropReason : uint8_t {
#define VNF_X(e, n, d) e,
  VNF_DROP_REASONS(VNF_X)
#undef VNF_X
      kCount
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::kCount);

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
#define VNF_X(e, n, d) n,
    VNF_DROP_REASONS(VNF_X)
#undef VNF_X
};

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonHelp = {
#define VNF_X(e, n, d) d,
    VNF_DROP_REASONS(VNF_X)
#undef VNF_X
};

constexpr std::string_view drop_reason_name(DropReason r) {
  return kDropReasonNames[static_cast<std::size_t>(r)];
}

}  // namespace vnf
