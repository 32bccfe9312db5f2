// Egress VLAN tagging, shared by the switch's L2 egress and the router's egress.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

namespace vnf {

// Puts the frame in the wire format of its egress port: `tpid` 0 = untagged, else an outer
// tag (tpid, vlan) with the received PCP. `seg_tag`: the frame's outer tag is the segment tag
// (as classified at ingress). Returns false when there is no headroom for a new tag.
inline bool set_egress_tag(rte_mbuf* m, bool seg_tag, uint16_t tci_in, uint16_t tpid,
                           uint16_t vlan) noexcept {
  uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
  const uint16_t tci = static_cast<uint16_t>((tci_in & 0xF000) | vlan);
  const rte_be16_t tag[2] = {rte_cpu_to_be_16(tpid), rte_cpu_to_be_16(tci)};
  // The 12 MAC bytes move by 4 as two fixed-size copies (compiled to register moves; a
  // memmove call for 12 bytes costs more than the rest of the stage).
  uint64_t mac_lo;
  uint32_t mac_hi;
  if (seg_tag) {
    if (tpid) {
      std::memcpy(d + 12, tag, 4);
    } else {
      std::memcpy(&mac_lo, d, 8);
      std::memcpy(&mac_hi, d + 8, 4);
      std::memcpy(d + 4, &mac_lo, 8);
      std::memcpy(d + 12, &mac_hi, 4);
      rte_pktmbuf_adj(m, 4);
    }
  } else if (tpid) {
    std::memcpy(&mac_lo, d, 8);
    std::memcpy(&mac_hi, d + 8, 4);
    d = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, 4));
    if (!d) return false;
    std::memcpy(d, &mac_lo, 8);
    std::memcpy(d + 8, &mac_hi, 4);
    std::memcpy(d + 12, tag, 4);
  }
  return true;
}

}  // namespace vnf
