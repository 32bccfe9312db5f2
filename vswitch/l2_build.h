// Builds the L2 snapshot from a validated SwitchConfig: control side only (the fast path
// includes vswitch/l2_snapshot.h, which knows nothing of the config).
#pragma once

#include <memory>

#include "vswitch/config.h"
#include "vswitch/l2_snapshot.h"

namespace vswitch {

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
