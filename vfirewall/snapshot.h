// The firewall's compiled, immutable config as the fast path reads it: rte_acl contexts for
// IPv4 and IPv6, the rule table (action, log flag, counter slot), the zone classifier, the
// zone-pair default policies, per-zone conntrack settings and the wires. Built by the
// control thread (build_snapshot, vfirewall/snapshot_build.h), published by RCU
// (vnf::Published), freed after the grace period. No config structs: the fast path includes
// this header and never pulls in yaml-cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_acl.h>

#include "common/worker.h"
#include "vfirewall/dp/timeouts.h"
#include "vfirewall/rules/address.h"
#include "vfirewall/rules/types.h"

namespace vfirewall {

inline constexpr uint16_t kNoPeer = 0xFFFF;
inline constexpr unsigned kMaxFtpPorts = 8;
inline constexpr uint32_t kMaxRuleSlots = 65536;

// ACL input (see snapshot.cpp for the field layout). Multi-byte fields in network order.
struct AclKey4 {
  uint8_t proto;
  uint8_t pad[3];
  uint16_t zsrc, zdst;
  uint32_t src, dst;
  uint16_t sport, dport;
};
static_assert(sizeof(AclKey4) == 20);

struct AclKey6 {
  uint8_t proto;
  uint8_t pad[3];
  uint16_t zsrc, zdst;
  uint8_t src[16], dst[16];
  uint16_t sport, dport;
};
static_assert(sizeof(AclKey6) == 44);

struct RuleInfo {
  uint32_t slot;
  Action action;
  uint8_t log;
  uint32_t log_rate;  // records per second (resolved: never kLogRateDefault)
};

struct ZoneView {
  uint8_t id;
  uint8_t any_port, any_vlan, any_addr;
  uint8_t claims;  // lives on its ports/segments and claims its networks there
  uint64_t ports;
  uint64_t vlans[64];
  const AddrRange* r4;
  uint32_t n4;
  const AddrRange* r6;
  uint32_t n6;
};

struct ZoneSettings {
  Timeouts timeouts;
  uint32_t conn_limit;  // per worker share; 0: none
  uint8_t window_check;
};

// FwSnapshot::port_zone: where a port alone decides a packet side's zone.
inline constexpr unsigned kPortZoneSlots = 64;  // DPDK port ids (vnf::kMaxPorts <= 64)
inline constexpr int16_t kPortZoneScan = -1;    // the first zone taking the port asks more
inline constexpr int16_t kPortZoneNone = -2;    // no zone takes the port

struct FwSnapshot {
  uint64_t generation = 0;
  rte_acl_ctx* acl4 = nullptr;  // null: no IPv4 entries
  rte_acl_ctx* acl6 = nullptr;
  const RuleInfo* rules = nullptr;
  uint32_t n_rules = 0;
  const ZoneView* zones = nullptr;
  uint32_t n_zones = 0;
  // By port: the index in zones[] of the first zone whose port condition takes the port, when
  // that zone asks nothing of segment or address (so it is every packet's zone there);
  // kPortZoneScan when it does; kPortZoneNone when no zone takes the port.
  int16_t port_zone[kPortZoneSlots] = {};
  // Every address some zone claims, sorted and disjoint, per family (anti-spoofing).
  const AddrRange* claimed4 = nullptr;
  uint32_t n_claimed4 = 0;
  const AddrRange* claimed6 = nullptr;
  uint32_t n_claimed6 = 0;
  ZoneSettings zone[kMaxZoneIds] = {};
  PairPolicy policy[kMaxZoneIds * kMaxZoneIds] = {};
  uint16_t peer[vnf::kMaxPorts] = {};  // wire peer of each port (kNoPeer: none)
  uint16_t ftp_ports[kMaxFtpPorts] = {};
  uint8_t n_ftp_ports = 0;
  bool non_ip_accept = true;
  bool ndp_accept = true;
  bool fragments_accept = false;
  bool recheck = true;
  uint32_t expect_timeout = 60;
  uint32_t log_ceiling = 5000;  // log records per second per worker, all rules together

  // Owned storage behind the views above.
  std::vector<RuleInfo> rule_store;
  std::vector<ZoneView> zone_store;
  std::vector<std::vector<AddrRange>> range_store;
  std::vector<AddrRange> claimed4_store, claimed6_store;
  std::vector<std::string> rule_ids;    // by rule index, for logs and telemetry
  std::vector<std::string> zone_names;  // by zone id
  size_t acl4_entries = 0, acl6_entries = 0;

  FwSnapshot() = default;
  FwSnapshot(const FwSnapshot&) = delete;
  FwSnapshot& operator=(const FwSnapshot&) = delete;
  ~FwSnapshot();

  const PairPolicy& pair(uint8_t s, uint8_t d) const noexcept {
    return policy[s * kMaxZoneIds + d];
  }
  bool is_ftp_port(uint16_t p) const noexcept {
    for (uint8_t i = 0; i < n_ftp_ports; ++i)
      if (ftp_ports[i] == p) return true;
    return false;
  }
};

}  // namespace vfirewall
