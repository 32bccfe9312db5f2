// Builds the L2 snapshot from a validated SwitchConfig: control side only (the fast path
// includes vswitch/l2_snapshot.h, which knows nothing of the config).
#pragma once

#include <algorithm>
#include <cstring>
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
  for (auto& v : s->vlan_ports) v = 0;
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
    PortSecurityDp& sec = s->sec[id];
    sec.trusted = p.security.trusted;
    sec.n_mac = static_cast<uint8_t>(p.security.macs.size());
    for (size_t k = 0; k < p.security.macs.size(); ++k)
      std::memcpy(sec.mac[k], p.security.macs[k].data(), 6);
    // IPv6 link-local addresses of the allowed MACs (EUI-64) are allowed with ipv6:.
    std::vector<vrouter::Prefix> v6 = p.security.ipv6;
    if (!v6.empty())
      for (const auto& m : p.security.macs) {
        const vrouter::Prefix ll{vrouter::link_local_from_mac(m), 128};
        if (v6.size() < kSecPrefixes && std::find(v6.begin(), v6.end(), ll) == v6.end())
          v6.push_back(ll);
      }
    sec.n4 = static_cast<uint8_t>(p.security.ipv4.size());
    for (size_t k = 0; k < p.security.ipv4.size(); ++k) {
      const auto& x = p.security.ipv4[k];
      sec.v4_mask[k] = x.len ? ~0u << (32 - x.len) : 0;
      sec.v4_net[k] = x.addr.v4() & sec.v4_mask[k];
    }
    sec.n6 = static_cast<uint8_t>(v6.size());
    for (size_t k = 0; k < v6.size(); ++k) {
      std::memcpy(sec.v6[k], v6[k].addr.b.data(), 16);
      sec.v6_len[k] = v6[k].len;
    }
    pol.secured = !sec.trusted || sec.n_mac || sec.n4 || sec.n6;
    for (uint16_t vlan : cfg.port_vlans(p)) {
      pol.allowed.set(vlan);
      SegmentPorts& sp = s->segments[s->seg_of_vlan[vlan]];
      sp.ports[sp.count++] = id;
      s->vlan_ports[vlan] |= 1u << id;
    }
  }
  return s;
}

}  // namespace vswitch
