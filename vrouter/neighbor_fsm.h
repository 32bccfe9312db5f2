// The state machine of one neighbour cache entry (ARP and ND alike, after RFC 4861 §7.3 and
// Linux's NUD), driven by the control thread with explicit times so that it is testable
// without DPDK. Entries are either
//   - ordinary cache entries: created on demand (a packet needs the address) or by a request
//     addressed to us; REACHABLE after a solicited confirmation, STALE after reachable_ms,
//     probed (unicast) when used while STALE, FAILED after probe_misses unanswered probes,
//     removed when unused for aging or shortly after failing;
//   - monitored entries: next hops of static routes. They are probed every probe_interval
//     whether traffic flows or not; probe_misses consecutive unanswered probes make them
//     FAILED (their routes give way to backups) and the first answer makes them REACHABLE
//     again (the better route takes over again). They are never removed while a route uses them;
//   - permanent entries: static neighbours from the config. Never probed, never fail.
#pragma once

#include <cstdint>

namespace vrouter {

enum class NeighState : uint8_t { kIncomplete, kReachable, kStale, kProbe, kFailed, kPermanent };

const char* neigh_state_name(NeighState s);

struct NeighTimers {
  uint32_t probe_interval_ms = 1000;
  uint32_t probe_misses = 3;
  uint32_t reachable_ms = 30000;
  uint64_t aging_ms = 300000;
  uint32_t stale_check_ms = 1000;  // how often a STALE entry looks for use
  uint32_t failed_hold_ms = 3000;  // a failed ordinary entry drops traffic this long, then goes
};

enum class NeighAction : uint8_t {
  kNone,
  kProbeBroadcast,  // send a broadcast ARP request / multicast NS
  kProbeUnicast,    // send a unicast ARP request / NS to the known MAC
  kFail,            // resolution failed: drop held packets, publish "failed"
  kRemove,          // delete the entry
};

struct NeighFsm {
  NeighState state = NeighState::kIncomplete;
  bool monitored = false;
  bool has_mac = false;
  uint8_t unanswered = 0;  // probes sent since the last confirmation
  uint64_t next_ms = 0;    // when tick() has work to do
  uint64_t confirmed_ms = 0;
  uint64_t last_use_ms = 0;  // last time the control thread saw a worker use the entry

  // A new entry that a packet needs: INCOMPLETE, first broadcast probe at once.
  NeighAction start(uint64_t now, const NeighTimers& t);
  // A static neighbour.
  void make_permanent();
  // Starts or stops continuous probing (the entry became / stopped being a route's next hop).
  void set_monitored(bool on, uint64_t now);
  // The link to a monitored next hop went down: it fails at once (its routes give way) and
  // keeps being probed every interval (probes to a down link are not sent).
  void link_down(uint64_t now, const NeighTimers& t);
  // The link came back: true when the entry should be probed now (a failed monitored entry);
  // its first answer makes it usable again.
  bool link_up(uint64_t now, const NeighTimers& t);

  // Information from the neighbour. `solicited`: an answer to our probe (ARP reply to a
  // request we sent, NA with the S flag); otherwise an unsolicited hint (a request it sent
  // us, gratuitous ARP, unsolicited NA). `mac_changed`: it carries a different MAC than the
  // entry's. Returns true when the entry's usability for forwarding or for routes changed.
  bool confirm(bool solicited, bool mac_changed, uint64_t now, const NeighTimers& t);

  // Timer work, due when now >= next_ms. `used`: a worker forwarded through the entry since
  // the previous call.
  NeighAction tick(uint64_t now, bool used, const NeighTimers& t);

  // Workers may forward with the entry's MAC.
  bool usable() const;
  // Routes may use this next hop (it has not failed). An INCOMPLETE entry counts as usable
  // until its probes run out: traffic waits in the hold queue meanwhile.
  bool route_usable() const { return state != NeighState::kFailed; }
  // Workers drop (instead of holding) traffic to it.
  bool failed() const { return state == NeighState::kFailed; }
};

}  // namespace vrouter
