// The MAC table's entries as the workers read them: state and position in the hash's data
// word for the key (vswitch/mac_table.h), kept right through learning, moves, statics,
// removal, aging, slot reuse, full batches and a reader racing the writer.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include <rte_hash.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "vswitch/mac_table.h"

using vswitch::entry_pos;
using vswitch::entry_state;
using vswitch::kEntryStatic;
using vswitch::kEntryValid;
using vswitch::MacKey;
using vswitch::MacTable;

namespace {

struct Fixture {
  rte_rcu_qsbr* qsbr = nullptr;
  std::unique_ptr<MacTable> t;

  explicit Fixture(const char* name, uint32_t capacity = 1024) {
    const size_t sz = rte_rcu_qsbr_get_memsize(1);
    qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc("mt_qsbr", sz, RTE_CACHE_LINE_SIZE));
    rte_rcu_qsbr_init(qsbr, 1);  // no reader registered: a deleted slot is reusable at once
    t = std::make_unique<MacTable>(name, capacity, qsbr, SOCKET_ID_ANY);
  }
  ~Fixture() {
    t.reset();
    rte_free(qsbr);
  }
  // What a worker's bulk lookup answers for k: found, and the data word's state and position.
  bool read(const MacKey& k, uint32_t* state, int32_t* pos) const {
    hash_sig_t sig[1] = {vswitch::mac_sig(vswitch::key_bits(k))};
    EXPECT_EQ(sig[0], rte_hash_hash(t->hash(), &k)) << "workers hash as the table does";
    const void* kp[1] = {&k};
    void* data[1] = {nullptr};
    if (!(t->lookup_bulk(kp, sig, 1, data) & 1)) return false;
    *state = entry_state(data[0]);
    *pos = entry_pos(data[0]);
    return true;
  }
};

MacKey key(uint16_t vlan, uint8_t last, uint8_t mid = 0) {
  return MacKey{vlan, {0x02, 0, 0, 0, mid, last}};
}

}  // namespace

TEST(VswitchMacTable, WorkersReadStateAndPositionFromTheDataWord) {
  Fixture f("mt_data");
  const MacKey a = key(100, 1), b = key(100, 2);
  uint32_t st = 0;
  int32_t pos = -1;
  EXPECT_FALSE(f.read(a, &st, &pos));

  ASSERT_EQ(f.t->learn(a, 3, 50), MacTable::Learn::kAdded);
  ASSERT_EQ(f.t->learn(b, 4, 50), MacTable::Learn::kAdded);
  ASSERT_TRUE(f.read(a, &st, &pos));
  EXPECT_EQ(st, kEntryValid | 3);
  EXPECT_EQ(pos, rte_hash_lookup(f.t->hash(), &a)) << "the position the hash gives the key";
  EXPECT_EQ(f.t->entry(pos).last_seen_s.load(), 50u);
  int32_t pos_b = -1;
  ASSERT_TRUE(f.read(b, &st, &pos_b));
  EXPECT_EQ(st, kEntryValid | 4);
  EXPECT_NE(pos_b, pos);

  // A move re-points the same position; the epoch tells the workers' caches.
  const uint32_t e0 = f.t->epoch();
  ASSERT_EQ(f.t->learn(a, 5, 60), MacTable::Learn::kMoved);
  int32_t moved = -1;
  ASSERT_TRUE(f.read(a, &st, &moved));
  EXPECT_EQ(st, kEntryValid | 5);
  EXPECT_EQ(moved, pos);
  EXPECT_NE(f.t->epoch(), e0);
  EXPECT_EQ(f.t->learned_on(3), 0u);
  EXPECT_EQ(f.t->learned_on(5), 1u);

  // A static entry over a learned one: flagged, and learning cannot move it.
  ASSERT_TRUE(f.t->add_static(b, 7));
  ASSERT_TRUE(f.read(b, &st, &pos_b));
  EXPECT_EQ(st, kEntryValid | kEntryStatic | 7);
  EXPECT_EQ(f.t->learn(b, 4, 70), MacTable::Learn::kStatic);
  ASSERT_TRUE(f.read(b, &st, &pos_b));
  EXPECT_EQ(st & 0xFFFF, 7u);
  EXPECT_EQ(f.t->learned_on(4), 0u);

  // Removed: a miss; added again: valid with its own position's data.
  ASSERT_TRUE(f.t->remove(a));
  EXPECT_FALSE(f.read(a, &st, &pos));
  EXPECT_EQ(f.t->learned_on(5), 0u);
  ASSERT_EQ(f.t->learn(a, 6, 80), MacTable::Learn::kAdded);
  ASSERT_TRUE(f.read(a, &st, &pos));
  EXPECT_EQ(st, kEntryValid | 6);
  EXPECT_EQ(pos, rte_hash_lookup(f.t->hash(), &a));

  // for_each sees what the workers see.
  unsigned n = 0;
  f.t->for_each([&](const MacKey& k, uint16_t port, bool is_static, uint32_t seen) {
    ++n;
    if (vswitch::key_bits(k) == vswitch::key_bits(a)) {
      EXPECT_EQ(port, 6);
      EXPECT_FALSE(is_static);
      EXPECT_EQ(seen, 80u);
    } else {
      EXPECT_EQ(port, 7);
      EXPECT_TRUE(is_static);
    }
  });
  EXPECT_EQ(n, 2u);
}

TEST(VswitchMacTable, AgingAndFlushesRemoveWhatTheDataWordSays) {
  Fixture f("mt_age");
  for (uint8_t i = 0; i < 10; ++i)
    ASSERT_EQ(f.t->learn(key(200, i), 1 + i % 2, 100), MacTable::Learn::kAdded);
  ASSERT_TRUE(f.t->add_static(key(200, 50), 1));
  // Entries 0..4 refreshed at 200, the rest idle since 100; aging at 300 after 150 s.
  for (uint8_t i = 0; i < 5; ++i)
    ASSERT_EQ(f.t->learn(key(200, i), 1 + i % 2, 200), MacTable::Learn::kRefreshed);
  EXPECT_EQ(f.t->age(300, 150, 1 << 20), 5u);
  uint32_t st = 0;
  int32_t pos = -1;
  for (uint8_t i = 0; i < 10; ++i) EXPECT_EQ(f.read(key(200, i), &st, &pos), i < 5) << int(i);
  ASSERT_TRUE(f.read(key(200, 50), &st, &pos)) << "static entries never age";
  EXPECT_EQ(f.t->size(), 6u);
  EXPECT_EQ(f.t->learned_on(1) + f.t->learned_on(2), 5u);

  // A flush by port, by the port each entry's data word names.
  EXPECT_EQ(f.t->remove_if([](const MacKey&, uint16_t port, bool is_static) {
    return port == 2 && !is_static;
  }),
            2u);  // keys 1 and 3
  EXPECT_FALSE(f.read(key(200, 1), &st, &pos));
  EXPECT_TRUE(f.read(key(200, 0), &st, &pos));
  EXPECT_EQ(st, kEntryValid | 1);
  EXPECT_EQ(f.t->learned_on(2), 0u);
  EXPECT_EQ(f.t->size(), 4u);
}

TEST(VswitchMacTable, AReusedSlotIsReadWithItsNewKeysWord) {
  Fixture f("mt_reuse", 16);
  std::vector<MacKey> in;
  for (uint8_t i = 0; i < 200; ++i) {
    const MacTable::Learn r = f.t->learn(key(300, i), 1, 10);
    if (r == MacTable::Learn::kTableFull) break;
    ASSERT_EQ(r, MacTable::Learn::kAdded);
    in.push_back(key(300, i));
  }
  ASSERT_GE(in.size(), 16u);
  ASSERT_LT(in.size(), 200u) << "the table never filled";
  uint32_t st = 0;
  int32_t old_pos = -1, pos = -1;
  ASSERT_TRUE(f.read(in[3], &st, &old_pos));
  ASSERT_TRUE(f.t->remove(in[3]));
  const MacKey fresh = key(301, 1);
  ASSERT_EQ(f.t->learn(fresh, 9, 20), MacTable::Learn::kAdded) << "the freed slot is reused";
  ASSERT_TRUE(f.read(fresh, &st, &pos));
  EXPECT_EQ(pos, old_pos) << "the only free slot";
  EXPECT_EQ(st, kEntryValid | 9);
  EXPECT_EQ(f.t->entry(pos).last_seen_s.load(), 20u);
  EXPECT_FALSE(f.read(in[3], &st, &pos));
  for (size_t i = 0; i < in.size(); ++i) {
    if (i == 3) continue;
    ASSERT_TRUE(f.read(in[i], &st, &pos)) << i;
    EXPECT_EQ(st, kEntryValid | 1) << i;
  }
}

// A full batch of 64 keys finds every key the table holds, also those in its extendable buckets.
// The held keys are chosen so that rte_hash has one bucket for each (a 16-key table has two
// buckets; a key's primary is its hash's low bit, its alternative that bit XOR bit 16, the low
// bit of its short signature): twelve keys for one bucket of 8 put four in the extension.
TEST(VswitchMacTable, AFullBatchOf64FindsEveryKeyTheTableHolds) {
  Fixture f("mt_batch", 16);
  std::vector<MacKey> in;
  for (unsigned i = 0; i < 4096 && in.size() < 12; ++i) {
    const MacKey k = key(400, static_cast<uint8_t>(i), static_cast<uint8_t>(i >> 8));
    const uint32_t sig = vswitch::mac_sig(vswitch::key_bits(k));
    if ((sig & 1) || ((sig >> 16) & 1)) continue;  // bucket 0, and only bucket 0
    ASSERT_EQ(f.t->learn(k, static_cast<uint16_t>(1 + in.size() % 5), 10), MacTable::Learn::kAdded)
        << in.size();
    in.push_back(k);
  }
  ASSERT_EQ(in.size(), 12u);
  std::vector<MacKey> absent;
  for (unsigned i = 0; i < 64; ++i) absent.push_back(key(401, static_cast<uint8_t>(i), 9));
  auto batch = [&](const std::vector<MacKey>& keys) {
    const void* kp[64];
    hash_sig_t sig[64];
    void* data[64] = {};
    for (unsigned i = 0; i < 64; ++i) {
      kp[i] = &keys[i];
      sig[i] = vswitch::mac_sig(vswitch::key_bits(keys[i]));
    }
    const uint64_t found = f.t->lookup_bulk(kp, sig, 64, data);
    for (unsigned i = 0; i < 64; ++i) {
      if ((found >> i) & 1) {
        EXPECT_EQ(entry_state(data[i]) & kEntryValid, kEntryValid) << i;
      }
    }
    return found;
  };
  // Each held key alone among 63 absent ones, then all of them together.
  for (size_t h = 0; h < in.size(); ++h) {
    for (unsigned slot : {0u, 40u, 63u}) {
      std::vector<MacKey> keys(absent);
      keys[slot] = in[h];
      EXPECT_EQ(batch(keys), 1ULL << slot) << "held key " << h << " at " << slot;
    }
  }
  std::vector<MacKey> keys(absent);
  for (size_t h = 0; h < in.size(); ++h) keys[50 + h] = in[h];
  EXPECT_EQ(batch(keys), ((1ULL << in.size()) - 1) << 50);
}

// A worker reading while the control thread adds, moves and erases: every hit is a whole entry,
// valid with one of the ports its key is ever given and a position inside the table, or the
// invalid word of a key being added or erased.
//
// Erased slots come back only after the reader's next quiescent report (rte_hash's RCU defer
// queue). EAL pins this thread to lcore 0, so the reader asks for every CPU; where it still
// shares one with the writer it may be off the CPU when the small table fills, and the writer
// then gives it the CPU and tries the same step again, as the control thread's next learn
// would, instead of counting a refusal.
TEST(VswitchMacTable, AReaderRacingTheWriterSeesWholeEntries) {
  Fixture f("mt_race", 64);
  const uint32_t slots = static_cast<uint32_t>(rte_hash_max_key_id(f.t->hash())) + 1;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> seen{0}, valid{0}, bad{0};
  std::thread reader([&] {
    cpu_set_t all;
    CPU_ZERO(&all);
    for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; ++c) CPU_SET(c, &all);
    pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
    rte_rcu_qsbr_thread_register(f.qsbr, 0);
    rte_rcu_qsbr_thread_online(f.qsbr, 0);
    MacKey keys[64];
    const void* kp[64];
    hash_sig_t sig[64];
    void* data[64];
    for (unsigned i = 0; i < 64; ++i) {
      keys[i] = key(500, static_cast<uint8_t>(i));
      kp[i] = &keys[i];
      sig[i] = vswitch::mac_sig(vswitch::key_bits(keys[i]));
    }
    uint64_t n_seen = 0, n_valid = 0, n_bad = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const uint64_t found = f.t->lookup_bulk(kp, sig, 64, data);
      for (unsigned i = 0; i < 64; ++i) {
        if (!((found >> i) & 1)) continue;
        ++n_seen;
        const uint32_t st = entry_state(data[i]);
        const int32_t pos = entry_pos(data[i]);
        if (st == 0) continue;
        const bool whole = (st == (kEntryValid | 1) || st == (kEntryValid | 2)) && pos >= 0 &&
                           static_cast<uint32_t>(pos) < slots;
        ++(whole ? n_valid : n_bad);
      }
      rte_rcu_qsbr_quiescent(f.qsbr, 0);
    }
    seen = n_seen;
    valid = n_valid;
    bad = n_bad;
    rte_rcu_qsbr_thread_offline(f.qsbr, 0);
    rte_rcu_qsbr_thread_unregister(f.qsbr, 0);
  });
  std::mt19937 rng(31);
  unsigned removed = 0, moved = 0, full = 0;
  int64_t starved_at = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (uint32_t op = 0; op < 300000; ++op) {
    const MacKey k = key(500, static_cast<uint8_t>(rng() % 48));
    if (rng() % 3 == 0) {
      removed += f.t->remove(k);
      continue;
    }
    const auto port = static_cast<uint16_t>(1 + rng() % 2);
    MacTable::Learn r;
    while ((r = f.t->learn(k, port, op)) == MacTable::Learn::kTableFull &&
           std::chrono::steady_clock::now() < deadline) {
      ++full;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    if (r == MacTable::Learn::kTableFull) {
      starved_at = op;
      break;
    }
    moved += r == MacTable::Learn::kMoved;
  }
  stop = true;
  reader.join();
  ASSERT_EQ(starved_at, -1) << "the table stayed full for 60 s: the reader never quiesced";
  EXPECT_GT(removed, 1000u) << full << " refusals waited out";
  EXPECT_GT(moved, 1000u);
  EXPECT_GT(valid.load(), 1000u) << seen.load() << " hits";
  EXPECT_EQ(bad.load(), 0u);
  // And the table agrees with itself afterwards: what for_each lists is what the reader finds.
  unsigned listed = 0;
  f.t->for_each([&](const MacKey& k, uint16_t port, bool, uint32_t) {
    ++listed;
    uint32_t st = 0;
    int32_t pos = -1;
    ASSERT_TRUE(f.read(k, &st, &pos));
    EXPECT_EQ(st, kEntryValid | port);
  });
  EXPECT_EQ(listed, f.t->size());
}
