// The router's compiled configuration, as the workers read it: FIBs (rte_fib DIR24_8 for
// IPv4, rte_fib6 TRIE for IPv6) mapping prefixes to path lists, the adjacency and path-list
// tables, interfaces, the (port, VLAN) -> interface map and the segment policy. Built by the
// control thread and published by RCU (vnf::Published): immutable, except the path lists'
// buckets, which the control thread rewrites in place on failover (see route_table.h).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/worker.h"
#include "vrouter/dp/tables.h"
#include "vrouter/route_table.h"

struct rte_fib;
struct rte_fib6;

namespace vrouter {

struct FibSettings;  // vrouter/config.h (control side)

// The DPDK FIB objects. Shared by consecutive snapshots when a reload leaves the prefix ->
// path list mapping unchanged (a million routes are not rebuilt for an MTU change).
class FibTables {
 public:
  // Throws std::runtime_error (with what to change) when DPDK cannot create the tables.
  FibTables(const std::string& name, const RouteTable& t, const FibSettings& fs, int socket);
  ~FibTables();
  FibTables(const FibTables&) = delete;
  FibTables& operator=(const FibTables&) = delete;
  rte_fib* v4() const { return v4_; }
  rte_fib6* v6() const { return v6_; }
  size_t memory_bytes() const { return bytes_; }

 private:
  rte_fib* v4_ = nullptr;
  rte_fib6* v6_ = nullptr;
  size_t bytes_ = 0;
};

// tbl8 groups the prefixes need (exact count of distinct 8-bit extensions past /24).
uint32_t tbl8_groups_v4(const RouteTable& t);
uint32_t tbl8_groups_v6(const RouteTable& t);

struct RouteSnapshot {
  uint64_t generation = 0;
  bool host_mode = false;
  rte_fib* fib4 = nullptr;
  rte_fib6* fib6 = nullptr;
  uint64_t icmp_cost = 0;  // TSC cycles per ICMP message (0: ICMP generation off)
  uint64_t icmp_cap = 0;   // bucket depth in cycles (burst)
  uint8_t n_iface = 0;
  std::array<uint64_t, kMaxSegments> apart{};
  IfaceDp iface[kDpMaxIfaces] = {};
  // Appliance: [port][VID] -> interface (VID 0: untagged). Host deployment: [0][VLAN].
  uint8_t iface_of[vnf::kMaxPorts][4096];
  std::unique_ptr<AdjDp[]> adj;
  std::unique_ptr<PathDp[]> path;
  uint32_t n_adj = 0, n_path = 0;
  // Appliance: 1 while the interface's port link is down (nothing is routed out of it). Like
  // the buckets, written in place by the control thread (RoutingCore::on_link_change).
  std::array<std::atomic<uint8_t>, kDpMaxIfaces> iface_down{};

  // Control thread only.
  std::shared_ptr<FibTables> fib;
  RouteTable table;
  std::vector<Selection> selection;  // per path list: what its buckets hold now
  std::vector<int32_t> adj_neigh;    // per adjacency: neighbour position (gateways), else -1
};

}  // namespace vrouter
