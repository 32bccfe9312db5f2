// Builds test frames byte by byte (no DPDK needed): Ethernet, VLAN tags, ARP, IPv4 (with
// options), IPv6 (with extension headers), TCP, UDP, ICMP, ICMPv6. Checksums are computed,
// so frames are valid unless a test breaks them on purpose.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace testing_frames {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

Mac mac(const std::string& s);  // "02:00:00:00:00:01"
std::string mac_str(const uint8_t* m);
inline const Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct Tag {
  uint16_t tpid;
  uint16_t tci;
};

// Ethernet header (+ tags) + ethertype; payload appended by the caller.
Bytes eth(const Mac& dst, const Mac& src, std::initializer_list<Tag> tags, uint16_t type);

Bytes ipv4(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& l4, uint8_t ttl = 64,
           const Bytes& options = {}, uint16_t frag = 0);
Bytes ipv6(const std::array<uint8_t, 16>& src, const std::array<uint8_t, 16>& dst, uint8_t next,
           const Bytes& payload, uint8_t hop_limit = 64);
// An extension header (hop-by-hop / dest opts / routing style): next, len, padding to 8*(len+1).
Bytes ipv6_ext(uint8_t next, uint8_t len_units, uint8_t fill = 0);
Bytes ipv6_frag(uint8_t next, uint16_t offset_units, bool more, uint32_t id);
Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload);
Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq = 1, uint32_t ack = 0,
          uint8_t data_offset_words = 5, const Bytes& payload = {});
Bytes icmp_echo(uint16_t id, uint16_t seq, bool reply = false, const Bytes& data = {});
Bytes icmp6_echo(uint16_t id, uint16_t seq);
Bytes arp_request(const Mac& sha, uint32_t spa, uint32_t tpa);

uint32_t ip4(const std::string& dotted);
std::array<uint8_t, 16> ip6(const std::string& text);

Bytes cat(std::initializer_list<Bytes> parts);
// Sets IPv4 header checksum of the IPv4 header at `off`, after a test edited it.
void fix_ipv4_checksum(Bytes& f, size_t off);

// A UDP/IPv4 frame with given addresses and tags: the workhorse of switching tests.
Bytes udp4_frame(const Mac& dst, const Mac& src, std::initializer_list<Tag> tags = {},
                 uint16_t payload_len = 18);

}  // namespace testing_frames
