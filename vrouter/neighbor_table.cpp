#include "vrouter/neighbor_table.h"

#include <cstring>
#include <stdexcept>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <fmt/format.h>

#include "vrouter/addr.h"

namespace vrouter {

NeighKey make_key(uint8_t iface, const IpAddr& a) {
  NeighKey k{};
  k.iface = iface;
  k.family = a.is_v4() ? kFamV4 : kFamV6;
  std::memcpy(k.addr, a.b.data(), 16);
  return k;
}

IpAddr key_addr(const NeighKey& k) {
  IpAddr a;
  a.family = k.family == kFamV4 ? Family::kV4 : Family::kV6;
  std::memcpy(a.b.data(), k.addr, a.is_v4() ? 4 : 16);
  return a;
}

uint64_t pack_mac(const uint8_t* m) {
  uint64_t v = 0;
  for (int i = 0; i < 6; ++i) v = v << 8 | m[i];
  return v;
}

void unpack_mac(uint64_t v, uint8_t* m) {
  for (int i = 5; i >= 0; --i) {
    m[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

NeighborTable::NeighborTable(const std::string& name, uint32_t capacity, rte_rcu_qsbr* qsbr,
                             int socket)
    : capacity_(capacity) {
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = capacity;
  p.key_len = sizeof(NeighKey);
  p.hash_func = rte_hash_crc;
  p.socket_id = socket;
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  h_ = rte_hash_create(&p);
  if (!h_)
    throw std::runtime_error(fmt::format("cannot create a neighbour table of {} entries: {}",
                                         capacity, rte_strerror(rte_errno)));
  rte_hash_rcu_config rc{};
  rc.v = qsbr;
  rc.mode = RTE_HASH_QSBR_MODE_DQ;
  if (rte_hash_rcu_qsbr_add(h_, &rc) != 0) {
    rte_hash_free(h_);
    throw std::runtime_error("cannot attach RCU to the neighbour table");
  }
  const uint32_t slots = static_cast<uint32_t>(rte_hash_max_key_id(h_)) + 1;
  entries_ = static_cast<NeighEntry*>(
      rte_zmalloc_socket("vrouter_neigh", sizeof(NeighEntry) * slots, RTE_CACHE_LINE_SIZE, socket));
  if (!entries_) {
    rte_hash_free(h_);
    throw std::runtime_error("cannot allocate neighbour entries");
  }
  ctl_.resize(slots);
}

NeighborTable::~NeighborTable() {
  rte_hash_free(h_);
  rte_free(entries_);
}

int32_t NeighborTable::find(const NeighKey& k) const { return rte_hash_lookup(h_, &k); }

int32_t NeighborTable::insert(const NeighKey& k) {
  if (size_ >= capacity_) return -ENOSPC;
  const int32_t pos = rte_hash_add_key(h_, &k);
  if (pos < 0) return pos;
  ++size_;
  NeighCtl& c = ctl_[static_cast<size_t>(pos)];
  c = NeighCtl{};
  c.in_use = true;
  c.key = k;
  // The slot may be a reclaimed one: unusable until the control thread says otherwise.
  entries_[pos].word.store(0, std::memory_order_release);
  c.seen_used = entries_[pos].used_ms.load(std::memory_order_relaxed);
  return pos;
}

void NeighborTable::erase(int32_t pos) {
  NeighCtl& c = ctl_[static_cast<size_t>(pos)];
  if (!c.in_use) return;
  entries_[pos].word.store(0, std::memory_order_release);
  rte_hash_del_key(h_, &c.key);
  c.in_use = false;
  c.hold.clear();
  --size_;
}

void NeighborTable::publish(int32_t pos) {
  const NeighCtl& c = ctl_[static_cast<size_t>(pos)];
  uint64_t w = 0;
  if (c.fsm.usable()) {
    w = nw::kUsable | static_cast<uint64_t>(c.port) << nw::kPortShift | (c.mac & nw::kMacMask);
  } else if (c.fsm.failed()) {
    w = nw::kFailed;
  }
  entries_[pos].word.store(w, std::memory_order_release);
}

bool NeighborTable::take_used(int32_t pos) {
  NeighCtl& c = ctl_[static_cast<size_t>(pos)];
  const uint32_t u = entries_[pos].used_ms.load(std::memory_order_relaxed);
  if (u == c.seen_used) return false;
  c.seen_used = u;
  return true;
}

void NeighborTable::schedule(int32_t pos) {
  const NeighCtl& c = ctl_[static_cast<size_t>(pos)];
  if (c.in_use && c.fsm.next_ms != UINT64_MAX) timers_.emplace(c.fsm.next_ms, pos);
}

std::vector<int32_t> NeighborTable::due(uint64_t now, unsigned budget) {
  std::vector<int32_t> out;
  Timer last{UINT64_MAX, -1};
  while (!timers_.empty() && timers_.top().first <= now && out.size() < budget) {
    const Timer t = timers_.top();
    timers_.pop();
    if (t == last) continue;  // scheduled twice for the same time
    last = t;
    const NeighCtl& c = ctl_[static_cast<size_t>(t.second)];
    // Stale timers (the entry was rescheduled, or removed) are skipped.
    if (!c.in_use || c.fsm.next_ms != t.first) continue;
    out.push_back(t.second);
  }
  return out;
}

}  // namespace vrouter
