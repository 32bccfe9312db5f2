// `vnfctl why`: one described packet run through the live tables by the worker that polls
// its ingress port, with the same stage code as real traffic, and without effects: nothing is
// sent, learned, created, counted, logged or handed to the control thread. Each stage is
// compiled a second time in a dry variant (`if constexpr` around every effect) that records
// its decision here instead; the fast path's variant is unchanged.
//
// The control thread builds the frame (an mbuf), posts a Probe to one worker
// (WorkerContext::probe) and waits for `done`; the worker serves it once per loop, between
// bursts, so that it reads its own tables (connections, caches) as their only writer.
// Plain types only: the workers include this header.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include <rte_mbuf.h>

#include "common/burst.h"
#include "common/drop_reason.h"
#include "common/packet_meta.h"

namespace vnf {

enum class WhyStage : uint8_t { kParse, kIngress, kL2, kRoute, kFirewall, kEgress };

// The packet's state after a stage: its verdict and what the stage left in its metadata.
struct WhyStep {
  WhyStage stage;
  uint8_t flags;  // meta.flags
  uint16_t next;  // verdict: a port, kNextStage, kNextDrop, kNextConsumed or kNextFlood
  DropReason drop;
  uint16_t vlan;  // meta.vlan: the segment (host switch) or the egress VLAN
  uint32_t flood_mask;
};

namespace why {
// The source MAC, as the switch's table has it.
enum class Src : uint8_t {
  kNone,         // not looked at
  kKnown,        // learned on this port
  kLearn,        // not in the table: would be learned
  kMove,         // learned on another port: would move (live migration)
  kSegmentFull,  // not in the table, the segment is at its MAC limit: forwarded, not learned
  kMacLimit,     // not in the table, the port is at its MAC limit: dropped
  kStatic,       // a static entry of another port: dropped
};
// The destination MAC.
enum class Dst : uint8_t { kNone, kGroup, kKnown, kUnknown, kStale, kSamePort };
// What the routing stage did.
enum class Route : uint8_t {
  kNone,       // not for the router (another station's MAC, a segment without gateway)
  kTaken,      // classified for routing (later fields say how it ended)
  kForwarded,  // next hop resolved: MACs rewritten, out of rt_out_if
  kHold,       // next hop not resolved yet: held while the control thread resolves it
  kControl,    // ARP or ND for the router: to the control thread
  kAnswered,   // echo request to the router: answered
  kIcmpError,  // dropped, ICMP error back to the sender (rate limit permitting)
};
// What the firewall did.
enum class Fw : uint8_t {
  kNone,          // not judged: dropped or consumed before the firewall
  kSkipped,       // not judged: non-IP, fragment, link control (ND, MLD), the router's own reply
  kRelatedError,  // an ICMP error about a tracked connection
  kSession,       // part of a tracked connection (fw_dir, fw_state_*)
  kExpected,      // an FTP data connection announced on its control connection
  kRule,          // a new connection, decided by rule fw_rule
  kPolicy,        // a new connection, decided by the zone pair's default policy
  kDropped,       // dropped before rules: zones, spoofing, state (the step's drop reason)
};
}  // namespace why

inline constexpr unsigned kWhyMaxSteps = 8;
inline constexpr unsigned kWhyName = 48;

struct WhyTrace {
  WhyStep step[kWhyMaxSteps];
  uint8_t nstep = 0;
  uint8_t worker = 0;
  // L2 (host switch).
  why::Src l2_src = why::Src::kNone;
  why::Dst l2_dst = why::Dst::kNone;
  uint16_t l2_src_port = 0;  // kMove, kStatic: where the table has the source
  uint16_t l2_dst_port = 0;  // kKnown, kStale: where the table has the destination
  // Routing.
  why::Route rt = why::Route::kNone;
  uint8_t rt_in_if = 0xFF, rt_out_if = 0xFF;
  uint8_t rt_family = 0;
  uint8_t rt_gateway = 0;  // 1: via a gateway (rt_nh); 0: on-link (rt_nh is the destination)
  uint8_t rt_nh[16] = {};
  uint8_t rt_nh_mac[6] = {};
  uint8_t rt_neigh = 0;  // 0 unknown, 1 usable, 2 failed, 3 resolving
  uint64_t rt_generation = 0;
  DropReason rt_icmp_reason = DropReason::kNone;
  // Firewall.
  why::Fw fw = why::Fw::kNone;
  uint8_t fw_zsrc = 0, fw_zdst = 0;
  uint8_t fw_action = 0;  // vfirewall::Action of the rule or policy
  uint8_t fw_dir = 0;     // kSession: 0 originator -> responder, 1 the reply direction
  uint8_t fw_state_before = 0, fw_state_after = 0;  // TCP state (vfirewall::TcpState)
  uint8_t fw_log = 0;                               // the decision would be logged
  uint8_t fw_creates = 0;                           // a connection would be created
  uint32_t fw_rule = 0;                             // rule index + 1 in the snapshot (0: policy)
  const char* fw_action_name = nullptr;             // static strings
  const char* fw_state_before_name = nullptr;
  const char* fw_state_after_name = nullptr;
  uint64_t fw_generation = 0;
  char fw_rule_id[kWhyName] = {};
  char fw_zsrc_name[kWhyName] = {};
  char fw_zdst_name[kWhyName] = {};
  // Egress: where copies would go (unicast: one port; flood: every port of the segment).
  uint16_t nout = 0;
  uint16_t out[RTE_MAX_ETHPORTS] = {};

  void record(WhyStage s, const Burst& b) noexcept {
    if (nstep >= kWhyMaxSteps) return;
    const PacketMeta& m = meta_of(b.pkts[0]);
    WhyStep& x = step[nstep++];
    x.stage = s;
    x.flags = m.flags;
    x.next = b.next[0];
    x.drop = b.next[0] == kNextDrop ? m.drop : DropReason::kNone;
    x.vlan = m.vlan;
    x.flood_mask = b.flood_mask[0];
  }
};

inline void why_copy_name(char (&dst)[kWhyName], const char* src) noexcept {
  std::strncpy(dst, src, kWhyName - 1);
  dst[kWhyName - 1] = 0;
}

// A control -> worker request: the frame, its ingress port, and the answer.
struct Probe {
  rte_mbuf* m = nullptr;  // owned by the control thread (freed after `done`)
  uint16_t in_port = 0;
  WhyTrace trace;
  std::atomic<uint32_t> done{0};
};

}  // namespace vnf
