// Rule compiler, pure part: a validated FirewallConfig -> flat ACL entries (IPv4 and IPv6)
// with zones, address ranges/prefixes, protocols and port/ICMP-type ranges, each pointing at
// its rule, plus the zone classifier tables and the zone-pair default policies. No DPDK:
// vfirewall/snapshot.cpp turns the result into rte_acl contexts; unit tests inspect it.
#pragma once

#include <bitset>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "vfirewall/rules/config.h"

namespace vfirewall {

inline constexpr uint32_t kAclMaxPriority = 0x1FFFFFFF;  // RTE_ACL_MAX_PRIORITY

// One ACL entry. Zones: 0 with mask 0 = any. Ports: ranges; for ICMP the sport range is
// over type << 8 | code and dport is any.
struct AclEntry {
  uint32_t rule = 0;      // index into Compiled::rules
  uint32_t priority = 0;  // first rule wins: kAclMaxPriority - rule index
  uint8_t proto = 0, proto_mask = 0;
  uint8_t zsrc = 0, zsrc_mask = 0;
  uint8_t zdst = 0, zdst_mask = 0;
  uint16_t sport_lo = 0, sport_hi = 0xFFFF, dport_lo = 0, dport_hi = 0xFFFF;
  // IPv4: src/dst as ranges (lo, hi) in the low 32 bits. IPv6: prefixes (addr, len).
  u128 src = 0, src_hi = 0, dst = 0, dst_hi = 0;
  uint8_t src_len = 0, dst_len = 0;
};

struct CompiledRule {
  std::string id;
  uint32_t slot = 0;  // stable counter slot (kept across reloads by rule id)
  Action action = Action::kDrop;
  bool log = false;
  uint32_t log_rate = kLogRateDefault;
  Pos pos;
};

struct ZoneMatch {
  uint8_t id = 0;
  bool any_port = true, any_vlan = true, any_addr = true;
  bool claims = false;      // lives somewhere and has networks: binds them there (anti-spoofing)
  std::bitset<64> ports;    // DPDK port ids
  std::bitset<4096> vlans;  // 0 = untagged
  AddrSet networks;
  Timeouts timeouts;
  uint64_t conn_limit = 0;  // all workers together (effective_conn_limit); 0: none
  bool window_check = true;
  std::string name;
};

struct Compiled {
  std::vector<CompiledRule> rules;
  std::vector<AclEntry> v4, v6;
  std::vector<ZoneMatch> zones;  // in classification order (config order)
  AddrSet claimed;               // every address some zone claims (union, normalised)
  // [src zone id][dst zone id]
  std::vector<PairPolicy> policy = std::vector<PairPolicy>(kMaxZoneIds * kMaxZoneIds);
  PairPolicy& pair(uint8_t s, uint8_t d) { return policy[s * kMaxZoneIds + d]; }
};

// Stable ids: zone names -> 1..250 and rule ids -> counter slots. The control plane keeps
// them across reloads (a name keeps its number); the compiler only asks. Names that neither
// the running nor the next config has are released (release_except) and their numbers reused,
// but only once no fresh number is left: reloads that rename zones or rules never run out.
struct IdRegistry {
  std::map<std::string, uint32_t> ids;
  uint32_t next = 1;
  uint32_t limit = 0;                     // ids are 1..limit
  std::vector<uint32_t> free_ids;         // released numbers
  std::vector<uint32_t> reused;           // numbers get() gave out again (the caller drains it)
  uint32_t get(const std::string& name);  // assigns on first use; 0 when exhausted
  void release_except(const std::set<std::string>& keep);
};

// The ACL entries a rule compiles to (as compile_with_ports makes them): zones x services x
// (IPv4 source ranges x destination ranges + IPv6 source prefixes x destination prefixes).
// Saturates instead of overflowing. The loader bounds the sum over a rule set by
// kMaxAclEntries.
uint64_t acl_entry_count(const Rule& r, const AddrSet& src, const AddrSet& dst,
                         const std::vector<ServiceEntry>& services);

// port_id: config port name -> DPDK port id.
template <class PortId>
Compiled compile(const FirewallConfig& c, IdRegistry& zone_ids, IdRegistry& rule_slots,
                 PortId&& port_id);

// The part that needs no port ids (tests pass a map).
Compiled compile_with_ports(const FirewallConfig& c, IdRegistry& zone_ids, IdRegistry& rule_slots,
                            const std::map<std::string, uint16_t>& port_ids);

template <class PortId>
Compiled compile(const FirewallConfig& c, IdRegistry& zone_ids, IdRegistry& rule_slots,
                 PortId&& port_id) {
  std::map<std::string, uint16_t> ids;
  for (const auto& d : c.devices) ids[d.name] = port_id(d.name);
  return compile_with_ports(c, zone_ids, rule_slots, ids);
}

}  // namespace vfirewall
