// The firewall stage. It runs wherever a packet's way out is already decided:
//   - standalone vfirewall: after WireIngress (egress = the wire's other port);
//   - host vswitch: between L2Lookup and L2Egress (egress = a port or kNextFlood).
// Input per packet: meta.in_port, meta.vlan (the segment), b.next[i] (egress port id or
// vnf::kNextFlood) and the parsed headers. It leaves allowed packets' verdicts alone and
// drops the others with a reason (b.drop). Packets already dropped or consumed are skipped.
//
// Per burst: zones and keys for every packet, the worker's flow cache (hints confirmed by the
// session's own key) and one rte_hash_lookup_with_hash_bulk_data for the rest, session
// handling for hits (TCP state + window, timeouts, FTP inspection), then one
// rte_acl_classify per address family for the new connections, and the decisions.
// begin() (once per worker loop) loads the snapshot, serves one slice of a control request
// and expires / rechecks a slice of the table: bounded work per loop.
#pragma once

#include <cstdint>

#include "common/burst.h"
#include "common/rcu.h"
#include "common/why.h"
#include "common/worker.h"
#include "vfirewall/dp/conntrack.h"
#include "vfirewall/snapshot.h"

namespace vfirewall {

inline constexpr uint32_t kSweepPerLoop = 64;    // sessions visited by expiry per loop
inline constexpr uint32_t kRequestSlice = 4096;  // sessions a dump/flush visits per loop
inline constexpr uint32_t kBusySweepEvery = 8;   // loops per sweep step under full load

// Dry: the variant vnfctl why runs (common/why.h). The same decisions on the same tables,
// recorded, and nothing changed: no connection created, updated or removed (a session's
// update is worked out on a copy), no expectation taken, no counter, log record or reject.
template <bool Dry>
class FirewallStageT final {
 public:
  FirewallStageT(const vnf::Published<FwSnapshot>& pub, FwWorkerState& st, vnf::WorkerContext& w)
      : pub_(pub), st_(st), w_(w) {}

  void begin() noexcept;
  void process(vnf::Burst& b) noexcept;
  // Dry: loads the snapshot and the clock as begin() would, judges packet 0 of `b`.
  void probe(vnf::Burst& b, vnf::WhyTrace& t) noexcept;

  // The host switch: the ports carrying each segment (VLAN ID -> port bits), set before
  // begin() / probe(). A flood's copies are judged by their ports' zones; null: every port.
  void set_segment_ports(const uint32_t* vlan_ports) noexcept { vlan_ports_ = vlan_ports; }

  uint32_t now_s() const noexcept { return now_s_; }
  const FwSnapshot& snapshot() const noexcept { return *snap_; }

 private:
  struct Pkt;
  // Rule counters of established packets being summed (tally_rule).
  struct Tally {
    uint32_t slot = 0;  // 0: none
    uint32_t packets = 0;
    uint64_t bytes = 0;
  };
  // Zones of packet i; false when it is not for the batch (decided, skipped, or a flood
  // whose copies reach several zones: split_ lists those).
  [[gnu::always_inline]] inline bool prepare(vnf::Burst& b, uint16_t i, Pkt& p,
                                             CtKey& key) noexcept;
  // prepare's common case, in a short loop of its own: TCP or UDP packets, not fragments,
  // each to one port, both of whose zones the ports decide, their sources not ones another
  // zone claims. It prepares packets from the burst's start into pk / keys (n of them) and
  // stops at the first packet that is not that case, whose index it returns (b.count: none);
  // prepare takes the rest in order. The zones of the burst's ingress port and of the last
  // egress port are learnt once (`Fast`). Of pk it writes only what an established packet
  // that account() finishes needs, the key and its hash: judge calls complete() for the
  // others (TCP, rechecks, new connections).
  struct Fast;
  [[gnu::noinline]] uint16_t prepare_run(vnf::Burst& b, Pkt* pk, CtKey* keys, uint16_t& n) noexcept;
  // The rest of a packet prepare_run prepared (it writes m, meta, i and sig): what fill
  // writes, for all that looks further than account().
  [[gnu::always_inline]] inline void complete(vnf::Burst& b, Pkt& p) noexcept;
  // What complete and fill both write of `p` for packet i: where its headers are.
  [[gnu::always_inline]] inline void start(vnf::Burst& b, uint16_t i, Pkt& p, rte_mbuf* m,
                                           vnf::PacketMeta& meta, uint16_t egress) noexcept;
  // The rest of prepare for one (source zone, destination zone): `p` and the session key.
  [[gnu::always_inline]] inline bool fill(vnf::Burst& b, uint16_t i, Pkt& p, CtKey& key,
                                          uint8_t zsrc, uint8_t zdst, uint16_t egress) noexcept;
  [[gnu::noinline]] const ZoneView* flood_zone(vnf::Burst& b, uint16_t i, uint8_t family,
                                               const uint8_t* dst, uint32_t ports,
                                               bool& split) noexcept;
  // The ports a flood of packet i may reach (its segment's, within b.flood_mask[i], not the
  // port it came in by in its own segment), as L2Egress::flood_targets chooses them.
  uint32_t flood_ports(const vnf::Burst& b, uint16_t i) const noexcept;
  // A flood whose copies reach ports of several zones: judged once per zone (as Linux judges
  // each bridged copy with its own output port), the copies go only to the zones that accept.
  [[gnu::cold]] void judge_split(vnf::Burst& b, uint16_t i, uint8_t zsrc) noexcept;
  // One packet's decision outside the batch: its session, or what opens one.
  void judge_one(vnf::Burst& b, Pkt& p, const CtKey& key) noexcept;
  // A packet without a session: false when it was decided before the rules (a TCP segment
  // that is no SYN, an FTP data connection, an unsolicited ICMP reply).
  bool before_rules(vnf::Burst& b, Pkt& p, const CtKey& k) noexcept;
  void on_session(vnf::Burst& b, Pkt& p, uint32_t idx, int dir) noexcept;
  // The end of on_session for a packet the session lets through: the direction seen, the
  // counters and the expiry. All of it for a session without state to move (not TCP) and
  // nothing to recheck: the burst's loop calls it in line.
  [[gnu::always_inline]] inline void account(Session& x, const Pkt& p, int dir, Tally& t,
                                             uint32_t now, const ZoneSettings* zones) noexcept;
  void on_new(vnf::Burst& b, Pkt& p, const CtKey& key, uint32_t result) noexcept;
  enum class IcmpError : uint8_t { kRelated, kUnrelated, kMisdirected };
  IcmpError related_icmp_error(const Pkt& p, uint8_t zsrc, uint8_t zdst) noexcept;
  bool take_expectation(const CtKey& k, uint32_t& parent, uint32_t& parent_serial) noexcept;
  void add_expectation(const Session& ctl, int dir, const uint8_t* payload, uint32_t len) noexcept;
  bool recheck(Session& x) noexcept;
  void first_packet(Session& x, const Pkt& p) noexcept;
  // A `log: true` decision: a record, unless the rule's (or pair's) `limit` entry has had
  // `rate` records this second.
  void log_decision(const CtKey& k, Action a, uint32_t rule_plus1, uint32_t rate,
                    uint32_t limit) noexcept;
  // A decision by the rule in `slot`: its hit, and the packet (an established one: tally_rule).
  void count_rule(uint32_t slot, uint32_t bytes) noexcept;
  // An established packet's rule counters, summed while consecutive packets share the rule
  // (most of a burst, usually) and added to the rule's counters when it changes and at the
  // end of the burst, instead of three counters updated per packet. judge's session loop
  // keeps its own in registers; on_session's is tally_.
  [[gnu::always_inline]] inline void tally_rule(Tally& t, uint32_t slot, uint32_t bytes) noexcept {
    if (slot != t.slot) {
      add_rule_counts(t.slot, t.packets, t.bytes);
      t = Tally{slot, 0, 0};
    }
    ++t.packets;
    t.bytes += bytes;
  }
  void add_rule_counts(uint32_t slot, uint32_t packets, uint64_t bytes) noexcept;
  void judge(vnf::Burst& b) noexcept;                  // process() less adding tally_
  void note_rule(uint32_t result, Action a) noexcept;  // Dry: the decision, named
  void serve_request() noexcept;
  void sweep() noexcept;
  void prefetch_sweep() noexcept;

  const vnf::Published<FwSnapshot>& pub_;
  const FwSnapshot* snap_ = nullptr;
  FwWorkerState& st_;
  vnf::WorkerContext& w_;
  uint32_t now_s_ = 0;
  const uint32_t* vlan_ports_ = nullptr;
  // This burst's floods to several zones: packet index and source zone.
  uint16_t split_[vnf::kBurstMax];
  uint8_t split_zsrc_[vnf::kBurstMax];
  uint16_t n_split_ = 0;
  uint32_t full_bursts_ = 0;  // bursts of kBurstMax packets since begin()
  Tally tally_;
  bool in_split_ = false;           // judging a split flood's copy: no reject is built
  vnf::WhyTrace* trace_ = nullptr;  // Dry only
};

using FirewallStage = FirewallStageT<false>;
using FirewallProbe = FirewallStageT<true>;

}  // namespace vfirewall
