#include "vswitch/mac_table.h"

#include <cstring>
#include <stdexcept>
#include <vector>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include <fmt/format.h>

namespace vswitch {

namespace {
struct Doomed {  // an entry to erase once the walk over the hash is done
  MacKey k;
  void* data;  // its data word
};
}  // namespace

uint32_t coarse_seconds() noexcept {
  static const uint64_t hz = rte_get_tsc_hz();
  return static_cast<uint32_t>(rte_rdtsc() / hz);
}

MacTable::MacTable(const std::string& name, uint32_t capacity, rte_rcu_qsbr* qsbr, int socket)
    : capacity_(capacity) {
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = capacity;
  p.key_len = sizeof(MacKey);
  p.hash_func = mac_hash;
  p.hash_func_init_val = kMacHashInit;  // what mac_sig() hashes with
  p.socket_id = socket;
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  h_ = rte_hash_create(&p);
  if (!h_)
    throw std::runtime_error(fmt::format("cannot create MAC table of {} entries: {}", capacity,
                                         rte_strerror(rte_errno)));
  rte_hash_set_cmp_func(h_, mac_key_cmp);
  rte_hash_rcu_config rc{};
  rc.v = qsbr;
  rc.mode = RTE_HASH_QSBR_MODE_DQ;
  if (rte_hash_rcu_qsbr_add(h_, &rc) != 0) {
    rte_hash_free(h_);
    throw std::runtime_error("cannot attach RCU to the MAC table");
  }
  // Positions run 0..max_key_id-1; the hash may hand out a few more slots than asked for.
  const uint32_t slots = static_cast<uint32_t>(rte_hash_max_key_id(h_)) + 1;
  entries_ = static_cast<MacEntry*>(rte_zmalloc_socket(
      "vswitch_mac_entries", sizeof(MacEntry) * slots, RTE_CACHE_LINE_SIZE, socket));
  if (!entries_) {
    rte_hash_free(h_);
    throw std::runtime_error("cannot allocate MAC entries");
  }
}

MacTable::~MacTable() {
  rte_hash_free(h_);
  rte_free(entries_);
}

void MacTable::update_limit_flag(uint16_t port) {
  const bool full = limit_[port] != 0 && count_[port] >= limit_[port];
  at_limit_[port].store(full ? 1 : 0, std::memory_order_relaxed);
}

void MacTable::set_limit(uint16_t port, uint32_t limit) {
  limit_[port] = limit;
  update_limit_flag(port);
}

void MacTable::update_vlan_flag(uint16_t vlan) {
  const bool full = vlan_limit_[vlan] != 0 && vlan_count_[vlan] >= vlan_limit_[vlan];
  vlan_at_limit_[vlan].store(full ? 1 : 0, std::memory_order_relaxed);
}

void MacTable::set_vlan_limit(uint16_t vlan, uint32_t limit) {
  vlan &= 0xFFF;
  vlan_limit_[vlan] = limit;
  update_vlan_flag(vlan);
}

void MacTable::count_dynamic(uint16_t port, uint16_t vlan, int delta) {
  count_[port] += static_cast<uint32_t>(delta);
  vlan_count_[vlan & 0xFFF] += static_cast<uint32_t>(delta);
  update_limit_flag(port);
  update_vlan_flag(vlan & 0xFFF);
}

void MacTable::set_state(const MacKey& k, uint32_t state, int32_t pos) {
  // The key is in the hash: this only replaces its data word.
  rte_hash_add_key_data(h_, &k, pack_entry(state, pos));
}

MacTable::Learn MacTable::learn(const MacKey& k, uint16_t port, uint32_t now_s) {
  void* data = nullptr;
  const int32_t pos = rte_hash_lookup_data(h_, &k, &data);
  if (pos >= 0) {
    const uint32_t st = entry_state(data);
    const uint16_t old = static_cast<uint16_t>(st & 0xFFFF);
    if (st & kEntryStatic) {
      if (old != port) stats_.static_conflicts.add();
      return Learn::kStatic;
    }
    entries_[pos].last_seen_s.store(now_s, std::memory_order_relaxed);
    if (old == port) return Learn::kRefreshed;
    if (limit_[port] != 0 && count_[port] >= limit_[port]) {
      stats_.limit_refused.add();
      return Learn::kLimit;
    }
    set_state(k, kEntryValid | port, pos);
    bump_epoch();
    count_dynamic(old, k.vlan, -1);
    count_dynamic(port, k.vlan, +1);
    stats_.moved.add();
    return Learn::kMoved;
  }
  if (limit_[port] != 0 && count_[port] >= limit_[port]) {
    stats_.limit_refused.add();
    update_limit_flag(port);
    return Learn::kLimit;
  }
  const uint16_t vlan = k.vlan & 0xFFF;
  if (vlan_limit_[vlan] != 0 && vlan_count_[vlan] >= vlan_limit_[vlan]) {
    stats_.segment_limit_refused.add();
    update_vlan_flag(vlan);
    return Learn::kSegmentLimit;
  }
  const int32_t np = rte_hash_add_key(h_, &k);  // data word 0: invalid until set below
  if (np < 0) {
    stats_.table_full.add();
    return Learn::kTableFull;
  }
  entries_[np].last_seen_s.store(now_s, std::memory_order_relaxed);
  set_state(k, kEntryValid | port, np);
  ++size_;
  count_dynamic(port, k.vlan, +1);
  stats_.learned.add();
  return Learn::kAdded;
}

bool MacTable::add_static(const MacKey& k, uint16_t port) {
  void* data = nullptr;
  int32_t pos = rte_hash_lookup_data(h_, &k, &data);
  if (pos >= 0) {
    const uint32_t st = entry_state(data);
    if (!(st & kEntryStatic)) count_dynamic(static_cast<uint16_t>(st & 0xFFFF), k.vlan, -1);
  } else {
    pos = rte_hash_add_key(h_, &k);
    if (pos < 0) {
      stats_.table_full.add();
      return false;
    }
    ++size_;
  }
  entries_[pos].last_seen_s.store(0, std::memory_order_relaxed);
  set_state(k, kEntryValid | kEntryStatic | port, pos);
  bump_epoch();  // an existing mapping may have been re-pointed
  return true;
}

void MacTable::erase_at(const MacKey& k, const void* data) {
  const uint32_t state = entry_state(data);
  // Invalid first: a worker that already found the key now treats it as a miss.
  set_state(k, 0, entry_pos(data));
  bump_epoch();
  rte_hash_del_key(h_, &k);
  --size_;
  if (!(state & kEntryStatic)) count_dynamic(static_cast<uint16_t>(state & 0xFFFF), k.vlan, -1);
}

bool MacTable::remove(const MacKey& k) {
  void* data = nullptr;
  const int32_t pos = rte_hash_lookup_data(h_, &k, &data);
  if (pos < 0) return false;
  erase_at(k, data);
  return true;
}

unsigned MacTable::age(uint32_t now_s, uint32_t aging_s, unsigned budget) {
  if (aging_s == 0 || size_ == 0) return 0;
  std::vector<Doomed> expired;
  const void* key;
  void* data;
  uint32_t next = age_cursor_;
  for (unsigned visited = 0; visited < budget; ++visited) {
    const int32_t pos = rte_hash_iterate(h_, &key, &data, &next);
    if (pos < 0) {  // end of the table: the next call starts over
      next = 0;
      break;
    }
    const uint32_t st = entry_state(data);
    if ((st & kEntryValid) && !(st & kEntryStatic) &&
        static_cast<int32_t>(now_s - entries_[pos].last_seen_s.load(std::memory_order_relaxed)) >
            static_cast<int32_t>(aging_s)) {
      Doomed d{{}, data};
      std::memcpy(&d.k, key, sizeof d.k);
      expired.push_back(d);
    }
  }
  age_cursor_ = next;
  for (const Doomed& d : expired) erase_at(d.k, d.data);
  stats_.aged.add(expired.size());
  return static_cast<unsigned>(expired.size());
}

unsigned MacTable::remove_if(const std::function<bool(const MacKey&, uint16_t, bool)>& pred) {
  std::vector<Doomed> doomed;
  const void* key;
  void* data;
  uint32_t next = 0;
  int32_t pos;
  while ((pos = rte_hash_iterate(h_, &key, &data, &next)) >= 0) {
    const uint32_t st = entry_state(data);
    if (!(st & kEntryValid)) continue;
    Doomed d{{}, data};
    std::memcpy(&d.k, key, sizeof d.k);
    if (pred(d.k, static_cast<uint16_t>(st & 0xFFFF), (st & kEntryStatic) != 0))
      doomed.push_back(d);
  }
  for (const Doomed& d : doomed) erase_at(d.k, d.data);
  stats_.flushed.add(doomed.size());
  return static_cast<unsigned>(doomed.size());
}

void MacTable::for_each(
    const std::function<void(const MacKey&, uint16_t, bool, uint32_t)>& f) const {
  const void* key;
  void* data;
  uint32_t next = 0;
  int32_t pos;
  while ((pos = rte_hash_iterate(h_, &key, &data, &next)) >= 0) {
    const uint32_t st = entry_state(data);
    if (!(st & kEntryValid)) continue;
    MacKey k;
    std::memcpy(&k, key, sizeof k);
    f(k, static_cast<uint16_t>(st & 0xFFFF), (st & kEntryStatic) != 0,
      entries_[pos].last_seen_s.load(std::memory_order_relaxed));
  }
}

}  // namespace vswitch
