// The learned MAC table: (VLAN, MAC) -> port, shared by all workers.
//
// Concurrency (see vswitch/README.md):
// - Workers only read: rte_hash with RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF, bulk lookups, no
//   lock. The one thing they write is an entry's last_seen (relaxed store of a coarse second;
//   two workers racing store nearly the same value, and only aging reads it).
// - Learning is a request: a worker that sees an unknown or moved source MAC enqueues a
//   LearnEvent on its own single-producer ring; the control thread is the single writer of
//   the hash and applies the events, plus aging and flushes.
// - Deleted key slots are reused only after every worker passed a quiescent state
//   (rte_hash_rcu_qsbr_add, defer-queue mode), so a worker never reads a slot that was
//   re-used under it. An entry's state lives in the hash's data word for the key: marked
//   invalid before the key is deleted; a new key is added invalid and made valid by storing
//   its data word again (rte_hash stores an existing key's data atomically, with release), so
//   readers see a whole entry or a miss.
// - Telemetry reads under mutex(), which the control thread holds while writing.
// - epoch() changes whenever an existing (VLAN, MAC) -> port mapping changes or disappears
//   (move, delete, re-pointed static). Workers keep small exact-match caches in front of the
//   hash and trust an entry only while the epoch it was cached under is current; additions
//   do not change the epoch (misses are never cached).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>

#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include "common/counter.h"
#include "common/crc.h"
#include "common/worker.h"

namespace vswitch {

struct MacKey {
  uint16_t vlan;
  uint8_t mac[6];
};
static_assert(sizeof(MacKey) == 8);

// The key as one 64-bit word (exact-match caches, sets of keys).
inline uint64_t key_bits(const MacKey& k) noexcept {
  uint64_t v;
  std::memcpy(&v, &k, sizeof v);
  return v;
}

// The hash and the key compare the MAC table's rte_hash calls for every key it looks up: one
// CRC-32C step over the 8-byte key (the same value rte_hash_crc gives, without its loop and its
// run-time choice of implementation) and one 8-byte compare (rte_hash has no compare of its own
// for 8-byte keys and calls memcmp). With 100 k MACs, where nearly every destination is looked
// up in the table, the two were 6 % of the switch's samples (docs/performance.md).
inline uint32_t mac_hash(const void* key, uint32_t /*len*/, uint32_t init) noexcept {
  return vnf::crc_step8(key_bits(*static_cast<const MacKey*>(key)), init);
}
inline constexpr uint32_t kMacHashInit = 0;  // the table's hash_func_init_val
// The hash the table gives a key: workers compute it for their caches' slots and for the
// table's lookup (rte_hash_lookup_with_hash_bulk_data).
inline uint32_t mac_sig(uint64_t bits) noexcept { return vnf::crc_step8(bits, kMacHashInit); }
inline int mac_key_cmp(const void* a, const void* b, size_t /*len*/) noexcept {
  return key_bits(*static_cast<const MacKey*>(a)) != key_bits(*static_cast<const MacKey*>(b));
}

inline constexpr uint32_t kEntryValid = 1u << 31;
inline constexpr uint32_t kEntryStatic = 1u << 30;

// What the hash stores beside each key (its data word): the entry's state, kEntryValid |
// kEntryStatic | port in the low 16 bits, and the key's position in the high 32 bits. A lookup
// reads it from the key slot it has just compared, a line already in cache; the state in an
// array of its own cost one more miss per packet once the table outgrows the caches.
static_assert(sizeof(void*) == 8, "the data word holds a state and a position");
inline void* pack_entry(uint32_t state, int32_t pos) noexcept {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(static_cast<uint64_t>(pos) << 32 | state));
}
inline uint32_t entry_state(const void* data) noexcept {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data));
}
inline int32_t entry_pos(const void* data) noexcept {
  return static_cast<int32_t>(reinterpret_cast<uintptr_t>(data) >> 32);
}

// Per position: what workers write (the age), apart from what they read (the data word).
struct MacEntry {
  std::atomic<uint32_t> last_seen_s;  // coarse seconds (vnf::coarse_seconds())
};

struct LearnEvent {
  MacKey key;
  uint16_t port;
  uint16_t pad;
  uint32_t now_s;
};
static_assert(sizeof(LearnEvent) == 16);

// Seconds from the TSC: what workers stamp entries with and aging compares against.
uint32_t coarse_seconds() noexcept;

class MacTable {
 public:
  MacTable(const std::string& name, uint32_t capacity, rte_rcu_qsbr* qsbr, int socket);
  ~MacTable();
  MacTable(const MacTable&) = delete;
  MacTable& operator=(const MacTable&) = delete;

  // ---- workers
  const rte_hash* hash() const noexcept { return h_; }
  // Looks up n <= 64 keys with their hashes (mac_sig). Returns the hit mask: bit i set when
  // keys[i] was found, and data[i] is then its data word (pack_entry). DPDK 22.11 takes fewer
  // than RTE_HASH_LOOKUP_BULK_MAX keys a call (rte_hash.h): with 64, its lock-free lookup's
  // "all found" test shifts by 64 and, when no key is in its main buckets, returns before the
  // extendable buckets are searched. A full batch therefore goes as two halves.
  uint64_t lookup_bulk(const void** keys, hash_sig_t* sig, unsigned n, void** data) const noexcept {
    uint64_t lo = 0, hi = 0;
    if (n < RTE_HASH_LOOKUP_BULK_MAX) {
      if (n) rte_hash_lookup_with_hash_bulk_data(h_, keys, sig, n, &lo, data);
      return lo;
    }
    const unsigned half = n / 2;
    rte_hash_lookup_with_hash_bulk_data(h_, keys, sig, half, &lo, data);
    rte_hash_lookup_with_hash_bulk_data(h_, keys + half, sig + half, n - half, &hi, data + half);
    return lo | hi << half;
  }
  MacEntry& entry(int32_t pos) const noexcept { return entries_[pos]; }
  bool at_limit(uint16_t port) const noexcept {
    return at_limit_[port].load(std::memory_order_relaxed) != 0;
  }
  // The segment (VLAN) holds as many learned MACs as its limit allows: workers do not ask
  // to learn more there (the frames are still forwarded, and flooded to them).
  bool vlan_at_limit(uint16_t vlan) const noexcept {
    return vlan_at_limit_[vlan & 0xFFF].load(std::memory_order_relaxed) != 0;
  }
  uint32_t epoch() const noexcept { return epoch_.load(std::memory_order_acquire); }

  // ---- control thread (the single writer); callers hold mutex()
  enum class Learn { kAdded, kMoved, kRefreshed, kTableFull, kLimit, kSegmentLimit, kStatic };
  Learn learn(const MacKey& k, uint16_t port, uint32_t now_s);
  // Adds or re-points a static entry (never ages, never moves).
  bool add_static(const MacKey& k, uint16_t port);
  bool remove(const MacKey& k);
  // Removes dynamic entries idle for more than aging_s, visiting at most `budget` slots from
  // where the previous call stopped. Returns how many it removed.
  unsigned age(uint32_t now_s, uint32_t aging_s, unsigned budget);
  // Removes every entry for which pred(key, port, is_static) is true. Returns the count.
  unsigned remove_if(const std::function<bool(const MacKey&, uint16_t, bool)>& pred);
  void set_limit(uint16_t port, uint32_t limit);
  void set_vlan_limit(uint16_t vlan, uint32_t limit);  // 0: no limit
  uint32_t learned_on(uint16_t port) const { return count_[port]; }
  uint32_t learned_in(uint16_t vlan) const { return vlan_count_[vlan & 0xFFF]; }
  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }
  // Visits every valid entry: f(key, port, is_static, last_seen_s).
  void for_each(const std::function<void(const MacKey&, uint16_t, bool, uint32_t)>& f) const;

  std::mutex& mutex() const { return mu_; }

  struct Stats {
    vnf::Counter learned, moved, aged, flushed, table_full, limit_refused, segment_limit_refused,
        static_conflicts;
  };
  const Stats& stats() const { return stats_; }

 private:
  void update_limit_flag(uint16_t port);
  void update_vlan_flag(uint16_t vlan);
  void count_dynamic(uint16_t port, uint16_t vlan, int delta);
  void bump_epoch() {
    epoch_.store(epoch_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  void erase_at(const MacKey& k, const void* data);  // data: the key's data word
  // Publishes the state of a key the hash holds at `pos` (release: one atomic store).
  void set_state(const MacKey& k, uint32_t state, int32_t pos);

  rte_hash* h_ = nullptr;
  MacEntry* entries_ = nullptr;
  uint32_t capacity_;
  uint32_t size_ = 0;
  uint32_t count_[vnf::kMaxPorts] = {};  // dynamic entries per port
  uint32_t limit_[vnf::kMaxPorts] = {};
  std::atomic<uint8_t> at_limit_[vnf::kMaxPorts] = {};
  uint32_t vlan_count_[4096] = {};  // dynamic entries per VLAN
  uint32_t vlan_limit_[4096] = {};
  std::atomic<uint8_t> vlan_at_limit_[4096] = {};
  uint32_t age_cursor_ = 0;
  std::atomic<uint32_t> epoch_{1};
  Stats stats_;
  mutable std::mutex mu_;
};

}  // namespace vswitch
