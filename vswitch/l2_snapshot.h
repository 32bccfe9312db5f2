// The vswitch's compiled, immutable L2 config: per-port VLAN policy and per-segment flood
// lists, indexed the way the fast path asks (DPDK port id, VLAN ID). Built by the control
// thread from a validated SwitchConfig (vswitch/l2_build.h), published by RCU
// (vnf::Published). The fast path includes this header: no config structs, no yaml-cpp.
#pragma once

#include <bitset>
#include <cstdint>
#include <vector>

#include "common/worker.h"

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

}  // namespace vswitch
