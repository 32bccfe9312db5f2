// The vswitch's compiled, immutable L2 config: per-port VLAN policy and per-segment flood
// lists, indexed the way the fast path asks (DPDK port id, VLAN ID). Built by the control
// thread from a validated SwitchConfig (vswitch/l2_build.h), published by RCU
// (vnf::Published). The fast path includes this header: no config structs, no yaml-cpp.
#pragma once

#include <bitset>
#include <cstdint>
#include <vector>

#include "common/worker.h"
#include "vswitch/limit_tables.h"

namespace vswitch {

enum class L2Mode : uint8_t { kNone, kAccess, kTrunk };

struct PortPolicy {
  L2Mode mode = L2Mode::kNone;
  bool qinq = false;
  uint16_t tpid = 0x8100;
  uint16_t access_vlan = 0;
  uint16_t native_vlan = 0;   // trunk: 0 = no native segment
  std::bitset<4096> allowed;  // VLANs the port carries
  bool secured = false;       // port security has something to check (L2Snapshot::sec)

  // TPID to tag frames of `vlan` with on egress through this port, or 0 for untagged.
  uint16_t egress_tpid(uint16_t vlan) const noexcept {
    return mode == L2Mode::kTrunk && vlan != native_vlan ? tpid : 0;
  }
};

// Port security as the fast path checks it (vswitch/dp/port_security.h). Addresses in
// network order; a prefix as (address, length).
inline constexpr unsigned kSecMacs = 16;
inline constexpr unsigned kSecPrefixes = 32;  // 16 configured + link-locals of 16 MACs
struct PortSecurityDp {
  uint8_t trusted = 1;                // DHCP server messages and router advertisements allowed
  uint8_t n_mac = 0, n4 = 0, n6 = 0;  // 0: that check is off
  uint8_t mac[kSecMacs][6] = {};
  uint32_t v4_net[kSecPrefixes] = {}, v4_mask[kSecPrefixes] = {};  // host order
  uint8_t v6[kSecPrefixes][16] = {};
  uint8_t v6_len[kSecPrefixes] = {};
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
  PortSecurityDp sec[vnf::kMaxPorts];
  uint16_t seg_of_vlan[4096];  // VLAN ID -> index in segments, kNoSegment if none
  // VLAN ID -> the ports carrying its segment, one bit per port id (Burst::flood_mask's
  // bits): the firewall judges a flood's copies by the zones of these ports.
  uint32_t vlan_ports[4096];
  std::vector<SegmentPorts> segments;
  LimitsDp limits;  // built by LimitRows::compile (vswitch/limit_config.h)

  const SegmentPorts* segment(uint16_t vlan) const noexcept {
    const uint16_t i = seg_of_vlan[vlan & 0xFFF];
    return i == kNoSegment ? nullptr : &segments[i];
  }
};

}  // namespace vswitch
