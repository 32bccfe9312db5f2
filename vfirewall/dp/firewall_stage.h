// The firewall stage. It runs wherever a packet's way out is already decided:
//   - standalone vfirewall: after WireIngress (egress = the wire's other port);
//   - host vswitch: between L2Lookup and L2Egress (egress = a port or kNextFlood).
// Input per packet: meta.in_port, meta.vlan (the segment), b.next[i] (egress port id or
// vnf::kNextFlood) and the parsed headers. It leaves allowed packets' verdicts alone and
// drops the others with a reason (b.drop). Packets already dropped or consumed are skipped.
//
// Per burst: zones and keys for every packet, one rte_hash_lookup_bulk_data for all of
// them, session handling for hits (TCP state + window, timeouts, FTP inspection), then one
// rte_acl_classify per address family for the new connections, and the decisions.
// begin() (once per worker loop) loads the snapshot, serves one slice of a control request
// and expires / rechecks a slice of the table: bounded work per loop.
#pragma once

#include <cstdint>

#include "common/burst.h"
#include "common/rcu.h"
#include "common/worker.h"
#include "vfirewall/dp/conntrack.h"
#include "vfirewall/snapshot.h"

namespace vfirewall {

inline constexpr uint32_t kSweepPerLoop = 64;    // sessions visited by expiry per loop
inline constexpr uint32_t kRequestSlice = 4096;  // sessions a dump/flush visits per loop

class FirewallStage final {
 public:
  FirewallStage(const vnf::Published<FwSnapshot>& pub, FwWorkerState& st, vnf::WorkerContext& w)
      : pub_(pub), st_(st), w_(w) {}

  void begin() noexcept;
  void process(vnf::Burst& b) noexcept;

  uint32_t now_s() const noexcept { return now_s_; }
  const FwSnapshot& snapshot() const noexcept { return *snap_; }

 private:
  struct Pkt;
  bool prepare(vnf::Burst& b, uint16_t i, Pkt& p, CtKey& key) noexcept;
  void on_session(vnf::Burst& b, Pkt& p, uint32_t idx, int dir) noexcept;
  void on_new(vnf::Burst& b, Pkt& p, const CtKey& key, uint32_t result) noexcept;
  enum class IcmpError : uint8_t { kRelated, kUnrelated, kMisdirected };
  IcmpError related_icmp_error(const Pkt& p, uint8_t zsrc, uint8_t zdst) noexcept;
  bool take_expectation(const CtKey& k, uint32_t& parent, uint32_t& parent_serial) noexcept;
  void add_expectation(const Session& ctl, int dir, const uint8_t* payload, uint32_t len) noexcept;
  bool recheck(Session& x) noexcept;
  void first_packet(Session& x, const Pkt& p) noexcept;
  void log_decision(const CtKey& k, Action a, uint32_t rule_plus1) noexcept;
  void count_rule(uint32_t slot, uint32_t bytes, bool hit) noexcept;
  void serve_request() noexcept;
  void sweep() noexcept;

  const vnf::Published<FwSnapshot>& pub_;
  const FwSnapshot* snap_ = nullptr;
  FwWorkerState& st_;
  vnf::WorkerContext& w_;
  uint32_t now_s_ = 0;
};

}  // namespace vfirewall
