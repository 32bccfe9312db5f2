// The vswitch's compiled, immutable L2 config: per-port VLAN policy and per-segment flood
// lists, indexed the way the fast path asks (DPDK port id, VLAN ID). Built by the control
// thread from a validated SwitchConfig, published by RCU (vnf::Published).
#pragma once

#include <bitset>
#include <cstdint>
#include <vector>

#include "common/worker.h"
#include "vswitch/config.h"

namespace vswitch {

enum class L2Mode : uint8_t { kNone, kAccess, kTrunk };

struct PortPolicy {
  L2Mode mode = L2Mode::kNone;
  bool qinq = false;
  uint16_t tpid = 0x8100;
  uint16_t access_vlan = 0;
  uint16_t native_vlan = 0;   // trunk: 0 = no native segment
  std::bitset<4096> allowed;  // VLANs the port carries

  // TPID to tag frames of `vlan` with on egress through this port, or 0 for untagged.
  uint16_t egress_tpid(uint16_t vlan) const noexcept {
    return mode == L2Mode::kTrunk && vlan != native_vlan ? tpid : 0;
  }
};

struct SegmentPorts {
  uint16_t vlan = 0;
  uint16_t count = 0;
  uint16_t ports[vnf::kMaxPorts] = {};  // every port carrying the segment
};

inline constexpr uint16_t kNoSegment = 0xFFFF;

struct L2Snapshot {
  uint64_t generation = 0;
  PortPolicy port[vnf::kMaxPorts];
  uint16_t seg_of_vlan[4096];  // VLAN ID -> index in segments, kNoSegment if none
  std::vector<SegmentPorts> segments;

  const SegmentPorts* segment(uint16_t vlan) const noexcept {
    const uint16_t i = seg_of_vlan[vlan & 0xFFF];
    return i == kNoSegment ? nullptr : &segments[i];
  }
};

// port_id(name) maps a config port name to its DPDK port id.
template <class PortId>
std::unique_ptr<L2Snapshot> build_l2_snapshot(const SwitchConfig& cfg, uint64_t generation,
                                              PortId&& port_id) {
  auto s = std::make_unique<L2Snapshot>();
  s->generation = generation;
  for (auto& v : s->seg_of_vlan) v = kNoSegment;
  for (const auto& seg : cfg.segments) {
    s->seg_of_vlan[seg.vlan] = static_cast<uint16_t>(s->segments.size());
    SegmentPorts sp;
    sp.vlan = seg.vlan;
    s->segments.push_back(sp);
  }
  for (const auto& p : cfg.ports) {
    const uint16_t id = port_id(p.name);
    PortPolicy& pol = s->port[id];
    pol.mode = p.mode == PortMode::kAccess ? L2Mode::kAccess : L2Mode::kTrunk;
    pol.qinq = p.qinq;
    pol.tpid = p.tpid;
    if (p.mode == PortMode::kAccess) pol.access_vlan = cfg.segment(p.segment)->vlan;
    if (!p.native.empty()) pol.native_vlan = cfg.segment(p.native)->vlan;
    for (uint16_t vlan : cfg.port_vlans(p)) {
      pol.allowed.set(vlan);
      SegmentPorts& sp = s->segments[s->seg_of_vlan[vlan]];
      sp.ports[sp.count++] = id;
    }
  }
  return s;
}

}  // namespace vswitch
