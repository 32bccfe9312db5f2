// Builds the firewall snapshot from a compiled rule set: control side only.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "vfirewall/rules/compile.h"
#include "vfirewall/snapshot.h"

namespace vfirewall {

// Builds the snapshot (rte_acl contexts included) from a compiled rule set. `workers`
// divides per-zone limits into per-worker shares. Throws std::runtime_error when rte_acl
// refuses (memory).
std::unique_ptr<FwSnapshot> build_snapshot(const FirewallConfig& cfg, const Compiled& comp,
                                           uint64_t generation, unsigned workers, int socket,
                                           const std::vector<std::pair<uint16_t, uint16_t>>& wires);

}  // namespace vfirewall
