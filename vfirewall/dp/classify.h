// Zone classification: the first zone (in config order) whose ports, segments and networks
// all match. The destination side of a flooded frame has no egress port yet: its port
// condition is skipped (segment and address still apply), and the stage then narrows the
// flood (Burst::flood_mask) to the ports whose zone is that destination zone.
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

// The first zone the packet side belongs to, or null. port: DPDK port id, or any value >= 64
// (kFloodPort, kSessionNoPort) to skip the zones' port conditions.
inline const ZoneView* find_zone(const FwSnapshot& s, uint16_t port, uint16_t vlan, uint8_t family,
                                 const uint8_t* addr) noexcept {
  const u128 a = addr_value(family, addr);
  for (uint32_t i = 0; i < s.n_zones; ++i) {
    const ZoneView& z = s.zones[i];
    if (!z.any_port && port < 64 && !((z.ports >> port) & 1)) continue;
    if (!z.any_vlan && !((z.vlans[(vlan & 0xFFF) / 64] >> (vlan % 64)) & 1)) continue;
    if (!z.any_addr && !(family == 4 ? in_ranges(z.r4, z.n4, a) : in_ranges(z.r6, z.n6, a)))
      continue;
    return &z;
  }
  return nullptr;
}

inline uint8_t classify_zone(const FwSnapshot& s, uint16_t port, uint16_t vlan, uint8_t family,
                             const uint8_t* addr) noexcept {
  const ZoneView* z = find_zone(s, port, vlan, family, addr);
  return z ? z->id : kZoneNone;
}

}  // namespace vfirewall
