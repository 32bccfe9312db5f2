// A bond port's run-time state: its members, their link as the kernel (netlink) or the driver
// reports it, which of them carry traffic, and the failovers so far. Owned by the engine
// (PortState::bond); changed by the control thread under Engine::ports_mutex(), read by
// telemetry under the same lock.
//
// How a member's link reaches DPDK's net_bonding: af_packet and tap drivers never report a
// link change, so the bonding driver would keep sending into a dead member. The engine decides
// instead, from the kernel's link state (at once, by netlink) or, for other drivers, from
// rte_eth_link_get_nowait every link_poll_ms, after up_delay_ms / down_delay_ms:
// - active-backup: rte_eth_bond_primary_set to the chosen member (the driver sends and
//   receives on the current primary only): nothing is stopped or reconfigured.
// - balance-xor, 802.3ad: rte_eth_bond_slave_remove when a member goes down, then an RCU grace
//   period so that no worker is still inside a burst that copied the old member list;
//   rte_eth_bond_slave_add when it comes back (the driver reconfigures and restarts it, and
//   LACP negotiates it again).
#pragma once

#include <time.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/engine_config.h"

namespace vnf {

struct BondMemberState {
  PortDevice device;
  uint16_t id = 0;          // DPDK port id
  int ifindex = 0;          // af_packet, tap: the kernel interface
  int promisc_fd = -1;      // af_packet: PACKET_MR_PROMISC membership
  bool link = false;        // the link as last reported
  bool up = false;          // usable: link, held for up_delay_ms / down_delay_ms
  uint64_t link_at_ms = 0;  // when `link` last changed (monotonic ms)
  bool in_bond = true;      // balance-xor, 802.3ad: a member of the DPDK bond right now
  uint64_t link_changes = 0;
  uint64_t next_poll_ms = 0;  // members polled through the driver
};

struct BondState {
  std::vector<BondMemberState> members;
  int primary = 0;  // index of the configured primary (active-backup)
  int active = -1;  // active-backup: the member carrying traffic; -1: none
  uint64_t failovers = 0;
  uint64_t announced = 0;      // frames sent out of a new active member
  uint64_t announce_lost = 0;  // ... that found no room
  std::string last_failover;   // RFC 3339, empty: none yet
  std::string last_from, last_to, last_reason;
  bool pending = false;  // a member waits out its up or down delay
  std::string gone_active;  // the active member a reload removed (the next failover's "from")
};

// af_packet and tap: the kernel has the link (netlink, SIOCGIFFLAGS); the driver says "up".
bool kernel_backed(const PortDevice& d);
// A member's link as it is now: the kernel's for kernel-backed members, the driver's otherwise.
bool member_link_now(const BondMemberState& m);

// CLOCK_MONOTONIC in milliseconds: the bond delays' clock.
inline uint64_t steady_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

}  // namespace vnf
