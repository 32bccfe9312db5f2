// VLAN ingress classification and egress tag rewrite. Fast path: no allocation, no lock.
//
// Ingress (per port mode):
//   access:        untagged or priority-tagged -> the port's segment; tagged -> dropped
//                  (tagged_on_access), except with qinq (dot1q-tunnel): every frame, tagged
//                  or not, enters the segment and its tags travel as payload.
//   trunk:         tagged with the trunk's TPID and an allowed VID -> that segment;
//                  untagged/priority-tagged -> the native segment, or dropped
//                  (untagged_not_allowed); another TPID -> unexpected_tpid; two tags without
//                  qinq -> stacked_vlan.
// Egress: access and native -> untagged; other trunk segments -> tagged with the trunk's TPID.
// The PCP of a received tag is kept when the tag is rewritten.
#pragma once

#include <cstring>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include "common/burst.h"
#include "common/counter.h"
#include "common/parser.h"
#include "common/vlan_tag.h"
#include "vswitch/dp/port_security.h"
#include "vswitch/l2_snapshot.h"

namespace vswitch {

struct VlanCounters {
  vnf::Counter rx_packets, rx_bytes, flooded, dropped;
  vnf::Counter not_learned;  // new source MACs not learned: the segment is at its MAC limit
};

inline bool is_link_local_group(const uint8_t* dst) noexcept {
  // 01:80:C2:00:00:00-0F: IEEE 802.1D reserved (STP, LACP, LLDP, 802.1X); never forwarded.
  return dst[0] == 0x01 && dst[1] == 0x80 && dst[2] == 0xC2 && dst[3] == 0 && dst[4] == 0 &&
         (dst[5] & 0xF0) == 0;
}

inline bool bad_source(const uint8_t* src) noexcept {
  return (src[0] & 1) || (src[0] | src[1] | src[2] | src[3] | src[4] | src[5]) == 0;
}

class VlanIngress final {
 public:
  explicit VlanIngress(VlanCounters* counters) : counters_(counters) {}

  // Returns whether a packet it passed is one that port security without lists could refuse
  // (ps::server_or_icmp6): without one, that stage has nothing to look at in the burst. Seen
  // here from the metadata this loop reads anyway, it spares untrusted ports (access ports by
  // default) a second pass over every burst (l2-flood: 3 %, docs/performance.md).
  bool process(vnf::Burst& b, const L2Snapshot& s) noexcept {
    const PortPolicy& pol = s.port[b.in_port];
    // Counters per VLAN, summed over runs of the same VLAN (a whole burst on an access port).
    uint16_t run_vlan = 0;
    uint64_t run_pkts = 0, run_bytes = 0;
    bool suspect = false;
    for (uint16_t i = 0; i < b.count; ++i) {
      if (!b.live(i)) continue;
      rte_mbuf* pkt = b.pkts[i];
      vnf::PacketMeta& m = vnf::meta_of(pkt);
      const uint8_t* d = rte_pktmbuf_mtod(pkt, const uint8_t*);
      const vnf::DropReason r = classify(pol, d, m);
      if (r != vnf::DropReason::kNone) {
        b.drop(i, r);
        continue;
      }
      b.in_vlan[i] = m.vlan;
      suspect |= ps::server_or_icmp6(m);
      if (m.vlan != run_vlan) {
        flush(run_vlan, run_pkts, run_bytes);
        run_vlan = m.vlan;
      }
      ++run_pkts;
      run_bytes += pkt->pkt_len;
    }
    flush(run_vlan, run_pkts, run_bytes);
    return suspect;
  }

  void flush(uint16_t vlan, uint64_t& pkts, uint64_t& bytes) noexcept {
    if (!pkts) return;
    counters_[vlan].rx_packets.add(pkts);
    counters_[vlan].rx_bytes.add(bytes);
    pkts = bytes = 0;
  }

  [[gnu::always_inline]] static vnf::DropReason classify(const PortPolicy& pol, const uint8_t* d,
                                                         vnf::PacketMeta& m) noexcept {
    using vnf::DropReason;
    if (pol.mode == L2Mode::kNone) return DropReason::kPortNotSwitched;
    if (bad_source(d + 6)) return DropReason::kBadSrcMac;
    if (is_link_local_group(d)) return DropReason::kLinkLocal;
    if (pol.mode == L2Mode::kAccess && pol.qinq) {  // dot1q-tunnel: all tags are payload
      m.vlan = pol.access_vlan;
      return DropReason::kNone;
    }
    const bool priority_tag =
        m.tags && m.outer_tpid == vnf::kTpid8021Q && (m.outer_tci & 0xFFF) == 0;
    if (m.tags == 0 || priority_tag) {
      if (m.tags == 2 && !pol.qinq) return DropReason::kStackedVlan;
      if (pol.mode == L2Mode::kAccess) {
        m.vlan = pol.access_vlan;
      } else if (pol.native_vlan) {
        m.vlan = pol.native_vlan;
      } else {
        return DropReason::kUntaggedNotAllowed;
      }
      if (priority_tag) m.flags |= vnf::meta_flags::kSegTag;  // rewritten or popped at egress
      return DropReason::kNone;
    }
    if (pol.mode == L2Mode::kAccess) return DropReason::kTaggedOnAccess;
    if (m.outer_tpid != pol.tpid) return DropReason::kUnexpectedTpid;
    if (m.tags == 2 && !pol.qinq) return DropReason::kStackedVlan;
    const uint16_t vid = m.outer_tci & 0xFFF;
    if (!pol.allowed[vid]) return DropReason::kVlanNotAllowed;
    m.vlan = vid;
    m.flags |= vnf::meta_flags::kSegTag;
    return DropReason::kNone;
  }

 private:
  VlanCounters* counters_;  // [4096], this worker's
};

using vnf::set_egress_tag;  // common/vlan_tag.h

}  // namespace vswitch
