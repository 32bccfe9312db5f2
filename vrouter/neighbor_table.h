// The neighbour cache (ARP and ND): (interface, address) -> MAC and port, in an rte_hash
// sized at start-up. State that outlives reloads.
//
// Concurrency (see vrouter/README.md): the control thread is the only writer: it creates,
// updates and deletes entries, runs every entry's state machine and owns the hold queues.
// Workers only read: bulk lock-free lookups (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF) and one
// 64-bit word per entry holding MAC, port and usable/failed bits, so a reader sees a whole
// entry or none. The only field workers write is used_ms (a relaxed store of a coarse time,
// several workers may store nearly the same value), which the control thread compares with
// the value it saw last to learn that an entry is in use. A deleted key's slot is reused only
// after every worker has passed a quiescent state (rte_hash_rcu_qsbr_add, defer queue), and an
// entry's word is cleared before its key is deleted.
#pragma once

#include <cstdint>
#include <deque>
#include <queue>
#include <string>
#include <vector>

#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "vrouter/addr.h"
#include "vrouter/dp/tables.h"
#include "vrouter/neighbor_fsm.h"

namespace vrouter {

struct HeldPacket {
  rte_mbuf* m;
  uint16_t worker;  // whose inject ring it goes back to
};

// Control-thread state of one entry (indexed like the hash positions).
struct NeighCtl {
  bool in_use = false;
  bool is_static = false;
  NeighKey key{};
  NeighFsm fsm;
  uint64_t mac = 0;  // 48 bits, network order packed big-endian into the low bits
  uint8_t port = nw::kPortUnknown;
  uint32_t pins = 0;  // adjacencies (route next hops) that refer to this entry
  uint32_t seen_used = 0;
  std::deque<HeldPacket> hold;
};

class NeighborTable {
 public:
  NeighborTable(const std::string& name, uint32_t capacity, rte_rcu_qsbr* qsbr, int socket);
  ~NeighborTable();
  NeighborTable(const NeighborTable&) = delete;
  NeighborTable& operator=(const NeighborTable&) = delete;

  NeighView view() const { return NeighView{h_, entries_}; }

  // ---- control thread
  int32_t find(const NeighKey& k) const;
  int32_t insert(const NeighKey& k);  // a new, unusable entry; <0 when the table is full
  // Clears the entry and deletes its key. Held packets are left to the caller (hold).
  void erase(int32_t pos);
  NeighCtl& ctl(int32_t pos) { return ctl_[static_cast<size_t>(pos)]; }
  const NeighCtl& ctl(int32_t pos) const { return ctl_[static_cast<size_t>(pos)]; }
  NeighEntry& entry(int32_t pos) const { return entries_[pos]; }
  // Writes the workers' word from the control state (MAC, port, usable / failed).
  void publish(int32_t pos);
  // True when a worker used the entry since the last call (compares used_ms).
  bool take_used(int32_t pos);

  // Timers: schedule(pos) after any change of ctl(pos).fsm.next_ms; due() pops entries whose
  // time has come (at most `budget`).
  void schedule(int32_t pos);
  std::vector<int32_t> due(uint64_t now, unsigned budget);

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }
  uint32_t slots() const { return static_cast<uint32_t>(ctl_.size()); }

 private:
  rte_hash* h_ = nullptr;
  NeighEntry* entries_ = nullptr;
  std::vector<NeighCtl> ctl_;
  uint32_t capacity_;
  uint32_t size_ = 0;
  using Timer = std::pair<uint64_t, int32_t>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
};

NeighKey make_key(uint8_t iface, const IpAddr& a);
IpAddr key_addr(const NeighKey& k);
uint64_t pack_mac(const uint8_t* mac);
void unpack_mac(uint64_t v, uint8_t* mac);

}  // namespace vrouter
