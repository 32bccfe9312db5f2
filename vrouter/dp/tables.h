// What the routing stage reads and writes on the fast path: the compiled interface, adjacency
// and path-list tables (inside a RouteSnapshot, published by RCU), neighbour entries (shared,
// written by the control thread), and the per-worker state (rings, counters, ICMP tokens).
// Plain types only: no allocation, no locks.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include <rte_hash.h>
#include <rte_ring.h>

#include "common/counter.h"
#include "common/worker.h"

namespace vrouter {

inline constexpr unsigned kDpBuckets = 64;  // == kBuckets (route_table.h)
inline constexpr uint8_t kDpNoIface = 0xFF;
inline constexpr unsigned kDpMaxIfaces = 250;
inline constexpr unsigned kMaxSegments = 64;
inline constexpr uint8_t kNoIface = 0xFF;  // config: no interface
inline constexpr unsigned kDpMaxAddrs = 4;
inline constexpr uint8_t kFamV4 = 4;
inline constexpr uint8_t kFamV6 = 6;

// ---- neighbours

struct NeighKey {
  uint8_t iface;
  uint8_t family;  // 4 or 6
  uint16_t zero;
  uint8_t addr[16];  // network order; IPv4 in addr[0..3]
};
static_assert(sizeof(NeighKey) == 20);

// NeighEntry::word: one 64-bit value so that a reader sees MAC and port together.
namespace nw {
inline constexpr uint64_t kUsable = 1ull << 63;  // forward with this MAC
inline constexpr uint64_t kFailed = 1ull << 62;  // resolution failed: drop, ICMP unreachable
inline constexpr unsigned kPortShift = 48;       // 8 bits; 0xFF: port unknown (flood)
inline constexpr uint64_t kMacMask = (1ull << 48) - 1;
inline constexpr uint8_t kPortUnknown = 0xFF;
}  // namespace nw

struct alignas(16) NeighEntry {
  std::atomic<uint64_t> word;     // written by the control thread only
  std::atomic<uint32_t> used_ms;  // workers: coarse ms of the last use (several may store)
  uint32_t pad;
};
static_assert(sizeof(NeighEntry) == 16);

// The workers' view of the neighbour table: lock-free lookups (RW_CONCURRENCY_LF), entries
// indexed by the hash position.
struct NeighView {
  const rte_hash* hash = nullptr;
  NeighEntry* entries = nullptr;
};

// ---- compiled tables

struct alignas(64) IfaceDp {
  uint8_t mac[6];
  uint16_t port;  // appliance: the DPDK port; host deployment: unused
  uint16_t vlan;  // 802.1Q VID (appliance, 0: untagged) or segment VLAN (host)
  uint16_t mtu;
  uint8_t seg;  // segment id (segment policy)
  uint8_t n4, n6;
  uint8_t pad;
  uint32_t ip4[kDpMaxAddrs];  // host order
  uint8_t ip6[kDpMaxAddrs][16];
  uint8_t ll6[16];  // link-local fe80::/64 from the MAC
};

// Whether the address (IPv4 host order; IPv6 network order, link-local included) is ours.
inline bool has_ip4(const IfaceDp& I, uint32_t a) noexcept {
  for (unsigned k = 0; k < I.n4; ++k)
    if (I.ip4[k] == a) return true;
  return false;
}
inline bool has_ip6(const IfaceDp& I, const uint8_t* a) noexcept {
  if (std::memcmp(I.ll6, a, 16) == 0) return true;
  for (unsigned k = 0; k < I.n6; ++k)
    if (std::memcmp(I.ip6[k], a, 16) == 0) return true;
  return false;
}

enum class AdjKind : uint8_t { kNoRoute, kNotRouted, kLocal, kBlackhole, kGateway, kOnLink };

struct AdjDp {
  uint8_t kind;  // AdjKind
  uint8_t family;
  uint8_t iface;
  uint8_t pad;
  int32_t neigh;   // kGateway: neighbour table position (fixed while the route exists)
  uint8_t gw[16];  // kGateway: the gateway's address
};
static_assert(sizeof(AdjDp) == 24);

// The one mutable part of a snapshot: the control thread rewrites a path list's buckets in
// place on failover (16-bit atomic stores); every bucket always holds a valid adjacency.
struct alignas(64) PathDp {
  std::atomic<uint16_t> bucket[kDpBuckets];
  std::atomic<uint8_t> members;  // distinct adjacencies in the buckets (1: skip hashing)
  uint8_t cross;                 // cross_segment: exempt from the segment policy
};

// ---- worker <-> control

enum class PuntKind : uint8_t { kArp, kNd, kHold };

// Worker -> control: a packet for the control thread, with what it needs to know.
struct PuntItem {
  rte_mbuf* m;
  uint8_t kind;   // PuntKind
  uint8_t iface;  // kArp/kNd: ingress interface; kHold: egress interface
  uint8_t family;
  uint8_t pad[5];
  uint8_t addr[16];  // kHold: the neighbour to resolve
};
static_assert(sizeof(PuntItem) == 32);

struct IfaceCounters {
  vnf::Counter rx_packets, rx_bytes;    // frames the router took in on this interface
  vnf::Counter out_packets, out_bytes;  // packets routed out of it
  vnf::Counter icmp_out;                // ICMP errors and echo replies sent back through it
  vnf::Counter control_in;              // ARP/ND frames handed to the control thread
  vnf::Counter dropped;                 // dropped by the routing stage (any reason)
};

// ICMP generation limit: a token bucket in TSC cycles.
struct TokenBucket {
  uint64_t credit = 0;
  uint64_t last = 0;
  bool take(uint64_t now, uint64_t cost, uint64_t cap) noexcept {
    if (cost == 0) return false;  // rate 0: ICMP generation off
    credit += now - last;
    last = now;
    if (credit > cap) credit = cap;
    if (credit < cost) return false;
    credit -= cost;
    return true;
  }
};

// Per-worker state of the routing stage (one writer: its worker, except the rings' other
// ends: punt ring consumer and inject ring producer are the control thread).
struct alignas(64) RouterWorkerState {
  rte_ring* punt = nullptr;    // PuntItem elements, SP/SC
  rte_ring* inject = nullptr;  // rte_mbuf*, SP/SC: packets the control thread sends
  TokenBucket icmp;
  vnf::Counter punted, punt_full, injected, icmp_sent, icmp_suppressed;
  IfaceCounters iface[kDpMaxIfaces];
};

}  // namespace vrouter
