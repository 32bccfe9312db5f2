// Standalone vfirewall's first stage: bump-in-the-wire L2. A frame entering one port of a
// wire leaves by the other, untouched (VLAN tags included); its segment is its outer VLAN
// ID (0: untagged). The firewall stage then decides whether it may.
#pragma once

#include "common/burst.h"
#include "vfirewall/snapshot.h"

namespace vfirewall {

class WireIngress final {
 public:
  void process(vnf::Burst& b, const FwSnapshot& s) noexcept {
    const uint16_t peer = s.peer[b.in_port];
    for (uint16_t i = 0; i < b.count; ++i) {
      if (!b.live(i)) continue;
      vnf::PacketMeta& m = vnf::meta_of(b.pkts[i]);
      m.vlan = m.tags ? (m.outer_tci & 0xFFF) : 0;
      b.in_vlan[i] = m.vlan;
      if (peer == kNoPeer) {
        b.drop(i, vnf::DropReason::kFwNoWire);
      } else {
        b.next[i] = peer;
      }
    }
  }
};

}  // namespace vfirewall
