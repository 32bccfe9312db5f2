// Zone classification: the first zone (in config order) whose ports, segments and networks
// all match. A flooded frame's destination side is classified per port it may reach
// (FirewallStage::prepare, judge_split); a port >= 64 skips the port conditions.
// Anti-spoofing: a source address claimed by a zone (it names ports or segments and networks)
// is accepted only where such a zone lives (spoofed_source).
#pragma once

#include <cstdint>

#include "vfirewall/snapshot.h"

namespace vfirewall {

inline u128 addr_value(uint8_t family, const uint8_t* a) noexcept {
  const int n = family == 4 ? 4 : 16;
  u128 v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | a[i];
  return v;
}

inline bool in_ranges(const AddrRange* r, uint32_t n, u128 a) noexcept {
  uint32_t lo = 0, hi = n;  // sorted, disjoint: binary search
  while (lo < hi) {
    const uint32_t mid = (lo + hi) / 2;
    if (r[mid].hi < a) {
      lo = mid + 1;
    } else if (r[mid].lo > a) {
      hi = mid;
    } else {
      return true;
    }
  }
  return false;
}

inline bool zone_at(const ZoneView& z, uint16_t port, uint16_t vlan) noexcept {
  if (!z.any_port && port < 64 && !((z.ports >> port) & 1)) return false;
  return z.any_vlan || ((z.vlans[(vlan & 0xFFF) / 64] >> (vlan % 64)) & 1);
}

inline bool zone_has(const ZoneView& z, uint8_t family, u128 a) noexcept {
  return z.any_addr || (family == 4 ? in_ranges(z.r4, z.n4, a) : in_ranges(z.r6, z.n6, a));
}

// The first zone the packet side belongs to, or null. port: DPDK port id, or any value >= 64
// (kFloodPort, kSessionNoPort) to skip the zones' port conditions.
inline const ZoneView* find_zone_at(const FwSnapshot& s, uint16_t port, uint16_t vlan,
                                    uint8_t family, u128 a) noexcept {
  for (uint32_t i = 0; i < s.n_zones; ++i)
    if (zone_at(s.zones[i], port, vlan) && zone_has(s.zones[i], family, a)) return &s.zones[i];
  return nullptr;
}

// find_zone_at, answered by the snapshot's port_zone table where the port alone decides (a
// zone of ports only, the usual case): no address built, no scan.
[[gnu::always_inline]] inline const ZoneView* find_zone(const FwSnapshot& s, uint16_t port,
                                                        uint16_t vlan, uint8_t family,
                                                        const uint8_t* addr) noexcept {
  if (port < kPortZoneSlots) {
    const int16_t z = s.port_zone[port];
    if (z >= 0) return &s.zones[z];
    if (z == kPortZoneNone) return nullptr;
  }
  return find_zone_at(s, port, vlan, family, addr_value(family, addr));
}

inline uint8_t classify_zone(const FwSnapshot& s, uint16_t port, uint16_t vlan, uint8_t family,
                             const uint8_t* addr) noexcept {
  const ZoneView* z = find_zone(s, port, vlan, family, addr);
  return z ? z->id : kZoneNone;
}

// Anti-spoofing, the rare part: `a` is claimed by some zone; is one of the zones claiming it
// living on (port, vlan)? At most one pass over the zones.
[[gnu::cold]] inline bool claimed_elsewhere(const FwSnapshot& s, uint16_t port, uint16_t vlan,
                                            uint8_t family, u128 a) noexcept {
  for (uint32_t i = 0; i < s.n_zones; ++i) {
    const ZoneView& z = s.zones[i];
    if (z.claims && zone_at(z, port, vlan) && zone_has(z, family, a)) return false;
  }
  return true;
}

// A source address that some zone claims (the zone lives on ports / segments and names the
// address in its networks) may only arrive where a zone claiming it lives; anything else is
// spoofed. `src_zone`: the packet's source zone (first match), null if none. Free when that
// zone claims the source itself (it matched here, so it lives here); otherwise one binary
// search of the claimed addresses, and only a claimed address costs a pass over the zones.
inline bool spoofed_source(const FwSnapshot& s, const ZoneView* src_zone, uint16_t port,
                           uint16_t vlan, uint8_t family, u128 a) noexcept {
  if (src_zone && src_zone->claims) return false;
  const bool claimed = family == 4 ? in_ranges(s.claimed4, s.n_claimed4, a)
                                   : in_ranges(s.claimed6, s.n_claimed6, a);
  return claimed && claimed_elsewhere(s, port, vlan, family, a);
}

// The same from the address bytes, built into a number only when some zone claims addresses
// of the family.
inline bool spoofed_source(const FwSnapshot& s, const ZoneView* src_zone, uint16_t port,
                           uint16_t vlan, uint8_t family, const uint8_t* addr) noexcept {
  if (src_zone && src_zone->claims) return false;
  if ((family == 4 ? s.n_claimed4 : s.n_claimed6) == 0) return false;
  return spoofed_source(s, src_zone, port, vlan, family, addr_value(family, addr));
}

}  // namespace vfirewall
