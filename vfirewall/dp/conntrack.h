// Connection tracking state of one worker: a session pool sized at start-up, an rte_hash
// holding both directions' keys of every session (one probe finds either direction), FTP
// data expectations, per-zone connection counts, the log ring and the control request
// ring. Everything here is owned by one worker (its only writer); the control thread reads
// counters only and talks to the worker through the request ring (STYLE 5-8).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <emmintrin.h>  // SSE2: every x86-64
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_ring.h>

#include "common/counter.h"
#include "common/crc.h"
#include "vfirewall/dp/tcp_state.h"
#include "vfirewall/snapshot.h"

namespace vfirewall {

// The tuple of one direction, keyed per zone: the same addresses in two zones (two tenants
// with overlapping address plans) are two connections. IPv4 uses the first 4 address bytes.
// ICMP queries (echo, timestamp, ...) use the identifier as sport and the packet's type as
// dport: the originator's direction holds the query type, the reply direction only the
// matching reply type (an echo *request* the other way is another connection).
struct CtKey {
  uint8_t src[16];
  uint8_t dst[16];
  uint16_t sport, dport;  // host order
  uint8_t proto;
  uint8_t family;  // 4 or 6
  uint8_t zsrc, zdst;
};
static_assert(sizeof(CtKey) == 40);

// The hash of an IPv4 key from its addresses' 4 bytes and its last 8 (ct_hash), wherever
// those come from: the key in memory, or the registers it is built from.
[[gnu::always_inline]] inline uint32_t ct_hash4(uint32_t src, uint32_t dst, uint64_t tail,
                                                uint32_t init) noexcept {
  return vnf::crc_step8(tail, vnf::crc_step4(dst, vnf::crc_step4(src, init)));
}

// The connection table's hash: CRC32-C as rte_hash_crc, but over what an IPv4 key holds
// (its addresses' 4 bytes each and the last 8) instead of all 40 bytes: 3 CRC steps, not 5.
// Equal keys hash equally (the function reads only the key), which is all a hash needs.
inline uint32_t ct_hash(const void* key, uint32_t len, uint32_t init) noexcept {
  const CtKey& k = *static_cast<const CtKey*>(key);
  if (k.family == 4) {
    uint32_t s, d;
    uint64_t rest;
    std::memcpy(&s, k.src, 4);
    std::memcpy(&d, k.dst, 4);
    std::memcpy(&rest, &k.sport, 8);
    return ct_hash4(s, d, rest, init);
  }
  if (len != sizeof(CtKey)) return rte_hash_crc(key, len, init);
  uint64_t w[5];  // rte_hash_crc's result, in five steps of 8 bytes
  std::memcpy(w, key, sizeof w);
  uint32_t h = init;
  for (uint64_t x : w) h = vnf::crc_step8(x, h);
  return h;
}

// Its key compare (0: equal, as memcmp), five 8-byte words instead of a call to memcmp, which
// rte_hash uses for a 40-byte key.
// Each word loaded from the keys themselves: a copy of 40 bytes into local arrays became
// 16-byte stores to the stack read back 8 bytes at a time, upper halves included, which
// the store does not forward to.
inline int ct_key_cmp(const void* a, const void* b, size_t) noexcept {
  const auto* x = static_cast<const uint8_t*>(a);
  const auto* y = static_cast<const uint8_t*>(b);
  auto word = [](const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  return ((word(x) ^ word(y)) | (word(x + 8) ^ word(y + 8)) | (word(x + 16) ^ word(y + 16)) |
          (word(x + 24) ^ word(y + 24)) | (word(x + 32) ^ word(y + 32))) != 0;
}

// ICMP messages that open a connection and the reply each expects, as the kernel's conntrack
// has them: echo, timestamp, information and address mask; ICMPv6 echo and node information.
inline constexpr uint8_t kNoIcmpType = 0xFF;  // not a query (255 is reserved in both)
inline uint8_t icmp_reply_type(uint8_t proto, uint8_t query) noexcept {
  if (proto == kProtoIcmp) {
    switch (query) {
      case 8:
        return 0;  // echo
      case 13:
        return 14;  // timestamp
      case 15:
        return 16;  // information
      case 17:
        return 18;  // address mask
      default:
        return kNoIcmpType;
    }
  }
  if (query == 128) return 129;  // echo
  if (query == 139) return 140;  // node information
  return kNoIcmpType;
}
inline bool is_icmp_query(uint8_t proto, uint8_t type) noexcept {
  return icmp_reply_type(proto, type) != kNoIcmpType;
}
inline bool is_icmp_reply(uint8_t proto, uint8_t type) noexcept {
  if (proto == kProtoIcmp) return type == 0 || type == 14 || type == 16 || type == 18;
  return type == 129 || type == 140;
}

// The ports of the reverse direction: swapped; for ICMP the identifier stays and a query's
// type becomes its reply's.
inline void reverse_ports(const CtKey& k, uint16_t& sport, uint16_t& dport) noexcept {
  const bool icmp = k.proto == kProtoIcmp || k.proto == kProtoIcmp6;
  sport = icmp ? k.sport : k.dport;
  dport = icmp ? (is_icmp_query(k.proto, static_cast<uint8_t>(k.dport))
                      ? icmp_reply_type(k.proto, static_cast<uint8_t>(k.dport))
                      : k.dport)
               : k.sport;
}

inline CtKey reverse_key(const CtKey& k) noexcept {
  CtKey r;
  for (int i = 0; i < 16; ++i) {
    r.src[i] = k.dst[i];
    r.dst[i] = k.src[i];
  }
  reverse_ports(k, r.sport, r.dport);
  r.proto = k.proto;
  r.family = k.family;
  r.zsrc = k.zdst;
  r.zdst = k.zsrc;
  return r;
}

// The key's last 8 bytes (ports, protocol, family, zones) as one word, in the key's byte order.
inline uint64_t key_tail(uint16_t sport, uint16_t dport, uint8_t proto, uint8_t family,
                         uint8_t zsrc, uint8_t zdst) noexcept {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && offsetof(CtKey, sport) == 32 &&
                offsetof(CtKey, dport) == 34 && offsetof(CtKey, proto) == 36 &&
                offsetof(CtKey, family) == 37 && offsetof(CtKey, zsrc) == 38 &&
                offsetof(CtKey, zdst) == 39);
  return uint64_t{sport} | uint64_t{dport} << 16 | uint64_t{proto} << 32 | uint64_t{family} << 40 |
         uint64_t{zsrc} << 48 | uint64_t{zdst} << 56;
}

// A packet's key, and its hash from the same registers: equal to ct_hash(&k, sizeof k, 0).
// An IPv4 address goes in as one 16-byte store of the address and zeros: the key built in a
// local array and copied made the compiler join two 8-byte stores into a 16-byte load, which
// no store forwards to (a stall of about 20 cycles per packet in fw_bench).
[[gnu::always_inline]] inline uint32_t make_key(CtKey& k, uint8_t family, const uint8_t* src,
                                                const uint8_t* dst, uint64_t tail) noexcept {
  std::memcpy(reinterpret_cast<uint8_t*>(&k) + offsetof(CtKey, sport), &tail, 8);
  if (family == 4) {
    uint32_t s, d;
    std::memcpy(&s, src, 4);
    std::memcpy(&d, dst, 4);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(k.src), _mm_cvtsi32_si128(static_cast<int>(s)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(k.dst), _mm_cvtsi32_si128(static_cast<int>(d)));
    return ct_hash4(s, d, tail, 0);
  }
  std::memcpy(k.src, src, 16);
  std::memcpy(k.dst, dst, 16);
  return ct_hash(&k, sizeof k, 0);
}
static_assert(sizeof(CtKey) == 5 * sizeof(uint64_t));

// ct_hash(reverse_key(k)), without building the reverse key in memory for IPv4 (stores the
// hash's wider loads would wait on): a burst's new sessions are filtered by both their keys'
// hashes.
inline uint32_t ct_hash_reverse(const CtKey& k) noexcept {
  if (k.family != 4) {
    const CtKey r = reverse_key(k);
    return ct_hash(&r, sizeof r, 0);
  }
  uint32_t s, d;
  std::memcpy(&s, k.dst, 4);
  std::memcpy(&d, k.src, 4);
  uint16_t sport, dport;
  reverse_ports(k, sport, dport);
  const uint64_t rest = key_tail(sport, dport, k.proto, k.family, k.zdst, k.zsrc);
  return ct_hash4(s, d, rest, 0);
}

namespace session_flags {
inline constexpr uint8_t kInUse = 1 << 0;
inline constexpr uint8_t kReplied = 1 << 1;
inline constexpr uint8_t kRelated = 1 << 2;  // FTP data connection (from an expectation)
inline constexpr uint8_t kFtpCtl = 1 << 3;   // FTP control connection: inspected
inline constexpr uint8_t kPolicy = 1 << 4;   // accepted by the zone-pair default policy
}  // namespace session_flags

inline constexpr uint16_t kFloodPort = 0xFFFC;   // vnf::kNextFlood: egress unknown (flooded)
inline constexpr uint8_t kSessionNoPort = 0xFF;  // Session::out_port of kFloodPort (>= 64)

// 128 bytes, two cache lines (as VPP's sessions).
// The first cache line holds what the expiry sweep reads (flags, expiry, epoch), so that it
// touches one line per session; the second what only packets and rechecks use.
struct alignas(64) Session {
  CtKey key;           // the originator's direction
  uint32_t expires_s;  // worker seconds
  uint32_t epoch;      // snapshot generation the session was last checked against
  uint32_t rule_slot;  // counter slot of the rule that accepted it (0: a policy)
  uint32_t parent;     // related: index + 1 of the control session
  uint32_t serial;     // creation number (a parent reference checks it)
  uint8_t state;       // TcpState
  uint8_t flags;       // session_flags
  // Where the first packet was seen, for rechecks after a reload: classified again exactly as
  // then, the source zone by the ingress port and segment, the destination zone by the egress
  // port and segment (they differ for routed traffic in the host switch).
  uint16_t in_vlan;
  // ---- second cache line
  uint32_t parent_serial;
  uint8_t in_port;
  uint8_t out_port;  // kSessionNoPort when flooded: zones' port conditions skipped
  uint16_t vlan;
  TcpWindow win[2];
  uint32_t packets[2];
  uint64_t bytes[2];
};
static_assert(sizeof(Session) == 128, "sessions are two cache lines");
static_assert(offsetof(Session, flags) < 64 && offsetof(Session, expires_s) < 64 &&
                  offsetof(Session, epoch) < 64 && offsetof(Session, parent_serial) == 64,
              "what the sweep reads is in the first line");

// A flow cache entry (FwWorkerState::flow): the table's value for a key (index << 1 |
// direction) plus 1 in the low 28 bits, the top 4 bits of the key's hash above them. A hint
// left by another key that shares the entry is told apart without reading its session (15
// times in 16), so a new connection rarely pays for a stale hint's cache miss.
inline constexpr uint32_t kFlowValueBits = 28;
inline constexpr uint32_t kFlowValueMask = (1u << kFlowValueBits) - 1;
inline constexpr uint32_t kMaxSessionsPerWorker = 1u << 26;  // (index << 1 | 1) + 1 fits
inline uint32_t flow_entry(uint32_t sig, uint32_t value) noexcept {
  return (sig & ~kFlowValueMask) | (value + 1);
}
// The table value entry `e` holds for a key of hash `sig`; false (and 0) when it holds none.
inline bool flow_hint(uint32_t e, uint32_t sig, uint32_t& value) noexcept {
  const bool held = ((e ^ sig) & ~kFlowValueMask) == 0 && (e & kFlowValueMask) != 0;
  value = held ? (e & kFlowValueMask) - 1 : 0;
  return held;
}

// Whether session `x` is the connection of the packet key `k` in direction `dir` (0: the
// originator's, 1: the reply's): what the hash table maps `k` to while the session lives.
inline bool session_is(const Session& x, const CtKey& k, unsigned dir) noexcept {
  if (!(x.flags & session_flags::kInUse)) return false;
  if (dir == 0) return ct_key_cmp(&x.key, &k, sizeof k) == 0;
  const CtKey r = reverse_key(x.key);
  return ct_key_cmp(&r, &k, sizeof k) == 0;
}

struct Expectation {
  uint8_t src[16];  // who will connect (any source port)
  uint8_t dst[16];
  uint16_t dport;
  uint8_t family;
  uint8_t zsrc, zdst;
  uint8_t in_use;
  uint32_t expires_s;
  uint32_t parent;  // index + 1
  uint32_t parent_serial;
};

// A `log: true` decision, drained by the control thread to the program log.
struct LogRecord {
  uint64_t tsc;
  uint32_t rule;  // rule index + 1 in the snapshot of `generation`; 0: zone-pair policy
  uint32_t generation;
  uint8_t src[16], dst[16];
  uint16_t sport, dport;
  uint8_t proto, family, zsrc, zdst;
  uint8_t action;  // Action
  uint8_t pad[3];
  uint32_t suppressed;  // decisions of the same rule not recorded (its log_rate, the worker
                        // ceiling, a full queue) since its previous record, all workers
};
static_assert(sizeof(LogRecord) == 64, "one cache line per log record");

// What a dump copies out of a session (control thread's buffer).
struct SessionView {
  CtKey key;
  uint32_t expires_s;
  uint32_t rule_slot;
  uint8_t state, flags;
  uint32_t packets[2];
  uint64_t bytes[2];
};

// Filter of a dump or flush request: 0 / empty fields match everything.
struct SessionFilter {
  uint8_t zone = 0;  // either side
  uint8_t proto = 0;
  uint8_t family = 0;
  uint8_t has_src = 0, has_dst = 0;
  uint8_t src[16] = {}, dst[16] = {};  // exact addresses, either direction
  uint16_t sport = 0, dport = 0;
  uint8_t has_port = 0, port = 0;  // sessions seen on this port, in or out (a removed port)
};

// A control -> worker request. The control thread owns it and waits for `done`; the worker
// works through the table in slices (kRequestSlice sessions per loop).
struct Request {
  enum Kind : uint8_t { kDump, kFlush, kCount } kind = kDump;
  SessionFilter filter;
  SessionView* out = nullptr;  // kDump: room for `max` views
  uint32_t max = 0;
  uint32_t found = 0;   // matches (dump: may exceed max)
  uint32_t cursor = 0;  // worker's progress
  std::atomic<uint32_t> done{0};
};

// The log rate limit of one rule (by counter slot) or zone-pair policy, shared by all workers:
// at most `log_rate` records per second per rule, whichever workers see its connections.
// `window` packs the second (high half) and the records taken in it (low half), so that a
// new second and a record are one compare-and-swap. Only records write here (at most
// `log_rate` per second): a decision over the rate only reads `window` and counts in its own
// worker's row (FwWorkerState::log_supp), so a logged drop rule under a flood shares no
// written cache line between workers.
struct LogLimit {
  std::atomic<uint64_t> window{0};
  // Suppressed decisions (all workers' rows summed) already reported in a record. Only rises
  // (report()), so each suppressed decision is reported by exactly one record.
  std::atomic<uint64_t> reported{0};

  // Whether one more record fits into second `now_s` at `rate` per second. A second older
  // than the one stored (another worker read its clock a little later) counts in the stored
  // one: the window never goes back, which would hand out a second's records twice.
  bool take(uint32_t now_s, uint32_t rate) noexcept {
    uint64_t w = window.load(std::memory_order_relaxed);
    for (;;) {
      const uint32_t sec = static_cast<uint32_t>(w >> 32);
      if (static_cast<int32_t>(now_s - sec) < 0) now_s = sec;
      const uint32_t used = sec == now_s ? static_cast<uint32_t>(w) : 0;
      if (used >= rate) return false;
      const uint64_t next = (static_cast<uint64_t>(now_s) << 32) | (used + 1);
      if (window.compare_exchange_weak(w, next, std::memory_order_relaxed)) return true;
    }
  }
  // For a record: the suppressed decisions since the previous report, given `total`, the
  // sum of the workers' rows read now.
  uint64_t report(uint64_t total) noexcept {
    uint64_t prev = reported.load(std::memory_order_relaxed);
    while (total > prev)
      if (reported.compare_exchange_weak(prev, total, std::memory_order_relaxed))
        return total - prev;
    return 0;
  }
};
static_assert(sizeof(LogLimit) == 16);
// Rules by counter slot, then zone pairs (source zone * kMaxZoneIds + destination zone).
inline constexpr uint32_t kLogLimits = kMaxRuleSlots + kMaxZoneIds * kMaxZoneIds;

// The suppressed log records of `limit`: its column of the workers' rows ([worker][limit],
// FwWorkerState::log_supp_rows), summed.
inline uint64_t log_supp_total(const std::atomic<uint64_t>* rows, uint32_t n_workers,
                               uint32_t limit) noexcept {
  uint64_t total = 0;
  for (uint32_t w = 0; w < n_workers; ++w)
    total += rows[static_cast<size_t>(w) * kLogLimits + limit].load(std::memory_order_relaxed);
  return total;
}

struct RuleCounters {
  vnf::Counter hits;  // connections (and dropped/rejected packets) decided by the rule
  vnf::Counter packets, bytes;
  std::atomic<uint32_t> last_hit_s{0};
};

struct alignas(64) FwCounters {
  vnf::Counter created, closed, expired, recheck_closed, flushed;
  vnf::Counter table_full, zone_limit, related, expectations, expect_full;
  vnf::Counter log_records, log_suppressed, log_ring_full, rejects_sent;
  vnf::Counter flow_hits, flow_misses;  // established lookups: the flow cache's hint held / not
  vnf::Counter zone_created[kMaxZoneIds], zone_closed[kMaxZoneIds];
};

struct alignas(64) FwWorkerState {
  rte_hash* hash = nullptr;
  Session* sessions = nullptr;
  uint32_t capacity = 0;
  // The flow cache, in front of the hash table for established packets: per value of a key's
  // hash (ct_hash & flow_mask), what the table last answered for a key with that hash
  // (flow_entry(); 0: nothing). Only a hint: sessions come and go without
  // telling it, and session_is() confirms it from the session's own key, which is in the
  // session's first line, read anyway. A confirmed hint spares the table's bucket and key
  // lines, a cache miss each in a table larger than the cache.
  uint32_t* flow = nullptr;
  uint32_t flow_mask = 0;
  uint32_t* free_stack = nullptr;
  uint32_t free_top = 0;
  uint32_t sweep_cursor = 0;  // a word of in_use
  // A bit per session slot, set while it is in use: the sweep visits only sessions in use,
  // not every slot's cache line (a table sized for the peak is mostly empty).
  uint64_t* in_use = nullptr;  // [(capacity + 63) / 64]
  uint32_t serial = 0;
  Expectation* expect = nullptr;
  uint32_t expect_mask = 0;  // slots - 1 (power of two)
  uint32_t expect_live = 0;
  uint32_t expect_cursor = 0;  // the expectation slot the sweep visits next
  uint32_t zone_active[kMaxZoneIds] = {};
  rte_ring* log_ring = nullptr;  // LogRecord, SP/SC
  rte_ring* req_ring = nullptr;  // Request*, SP/SC
  Request* current = nullptr;    // request being served
  LogLimit* log_limits = nullptr;  // [kLogLimits], shared by all workers
  // Suppressed log records per limit, one row of kLogLimits per worker, [worker][limit]: a
  // worker writes only its own row (log_supp); a record sums the column.
  std::atomic<uint64_t>* log_supp_rows = nullptr;
  std::atomic<uint64_t>* log_supp = nullptr;  // this worker's row
  uint32_t n_workers = 1;
  // All logged rules together: at most log_ceiling records per second from this worker
  // (conntrack.log_ceiling); what is over counts as its rule's suppressed.
  uint32_t log_ceiling = 0;
  uint32_t log_window_s = 0, log_window_used = 0;
  uint32_t loops = 0;
  int32_t time_offset_s = 0;      // tests: move this worker's clock forward
  RuleCounters* rules = nullptr;  // [kMaxRuleSlots]
  FwCounters counters;
};

// Table operations (worker only).
namespace ct {

// Creates a session for `k` (both directions); returns its index, or -1 with `why` set
// (kFwTableFull, kFwZoneLimit).
// Whether a session for `k` may be created now (zone limit, free entries); changes nothing.
bool admit(const FwWorkerState& st, const FwSnapshot& s, const CtKey& k,
           vnf::DropReason& why) noexcept;
int32_t create(FwWorkerState& st, const FwSnapshot& s, const CtKey& k, uint32_t now_s,
               vnf::DropReason& why) noexcept;
void remove(FwWorkerState& st, uint32_t idx) noexcept;
bool matches(const SessionFilter& f, const CtKey& k) noexcept;
inline bool matches(const SessionFilter& f, const Session& x) noexcept {
  if (f.has_port && x.in_port != f.port && x.out_port != f.port) return false;
  return matches(f, x.key);
}

}  // namespace ct

}  // namespace vfirewall
