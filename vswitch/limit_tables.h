// The compiled limits of one configuration, as the fast path reads them (vswitch/dp/limit.h):
// part of the immutable L2 snapshot, built by LimitRows::compile (vswitch/limit_config.h) on
// the control thread. No config structs, no yaml-cpp.
#pragma once

#include <cstdint>
#include <vector>

#include <rte_meter.h>

#include "common/worker.h"

namespace vswitch {

inline constexpr uint32_t kNoRow = UINT32_MAX;
inline constexpr unsigned kShapeQueueMax = 4096;  // packets held per shaped port and worker

enum class MeterKind : uint8_t { kNone, kSrTcm, kTrTcm };

// One limit direction's meters as the snapshot describes them.
struct LimitRowDp {
  uint32_t slot = kNoRow;  // its cell in every worker's LimitWorkerState
  MeterKind bytes = MeterKind::kNone;
  uint8_t packets = 0;       // a packet-rate meter (one token per packet)
  uint8_t shape = 0;         // the byte meter is the shaper's token bucket (tx of a port)
  uint16_t queue_limit = 0;  // shape: packets held at most
  uint64_t stamp = 0;        // the parameters' identity: cells with another are re-initialised
  union {
    rte_meter_srtcm_profile sr;
    rte_meter_trtcm_profile tr;
  } bp{};
  rte_meter_srtcm_profile pp{};
};

// A class selector, as the packet shows it from the VM's side: `remote` is the destination
// of what the VM sends (rx) and the source of what it receives (tx); the port range likewise.
struct LimitClassDp {
  uint8_t proto = 0;   // 0: any
  uint8_t family = 0;  // 0: any address; 4, 6: `addr`/`plen` apply
  uint8_t plen = 0;
  uint16_t port_lo = 0, port_hi = 0xFFFF;
  uint8_t addr[16] = {};  // network order (IPv4 in the first 4 bytes)
  uint32_t mask4 = 0;     // IPv4: the prefix's netmask, network order
  uint32_t row = kNoRow;
};

struct LimitDirDp {
  uint32_t row = kNoRow;  // the point's own meters
  uint32_t first_class = 0;
  uint32_t n_classes = 0;
  bool any() const noexcept { return row != kNoRow || n_classes != 0; }
};

struct LimitPointDp {
  LimitDirDp dir[2];  // 0: rx (from the VM), 1: tx (toward it)
};

inline constexpr uint32_t kNoPoint = UINT32_MAX;

// The compiled limits of one configuration (part of L2Snapshot; immutable once published).
struct LimitsDp {
  uint32_t port_point[vnf::kMaxPorts];   // kNoPoint: no port-wide limit
  uint32_t seg_base[vnf::kMaxPorts];     // kNoPoint, or seg_point[seg_base + vlan]
  uint8_t on[vnf::kMaxPorts][2] = {};    // something to check for the port, per direction
  uint8_t shaped[vnf::kMaxPorts] = {};   // tx of the port is shaped
  uint8_t present[vnf::kMaxPorts] = {};  // the port exists in this configuration
  bool any_tx = false;                   // some port has a limit toward it (floods check)
  std::vector<uint32_t> seg_point;
  std::vector<LimitPointDp> points;
  std::vector<LimitClassDp> classes;
  std::vector<LimitRowDp> rows;

  LimitsDp() {
    for (unsigned p = 0; p < vnf::kMaxPorts; ++p) port_point[p] = seg_base[p] = kNoPoint;
  }
  // The shaper row of a port, or null.
  const LimitRowDp* shaper(uint16_t port) const noexcept {
    if (!shaped[port]) return nullptr;
    return &rows[points[port_point[port]].dir[1].row];
  }
};

}  // namespace vswitch
