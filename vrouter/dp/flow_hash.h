// The ECMP flow hash. Symmetric: both directions of a flow (addresses and ports swapped)
// hash the same, so that where two routers (or a router and a firewall pair) balance the two
// directions over the same members, a connection stays on one path. Ordering the two
// endpoints (address, port) before mixing makes it symmetric; the mixer is the 64-bit
// finaliser of MurmurHash3.
//
// Fragments hash on addresses and protocol only (later fragments have no ports), so every
// fragment of a datagram takes the same member. ICMP hashes on addresses and protocol too
// (an echo request and its reply differ in type).
#pragma once

#include <cstdint>
#include <cstring>

namespace vrouter {

inline uint64_t mix64(uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// Endpoints (address, port) ordered, so that (a:p -> b:q) and (b:q -> a:p) mix the same words.
inline uint32_t combine(uint64_t a, uint16_t p, uint64_t b, uint16_t q, uint8_t proto) noexcept {
  const bool swap = a > b || (a == b && p > q);
  const uint64_t lo = swap ? b : a, hi = swap ? a : b;
  const uint16_t lp = swap ? q : p, hp = swap ? p : q;
  uint64_t x = mix64(lo ^ 0x9E3779B97F4A7C15ULL);
  x = mix64(x ^ hi);
  x = mix64(x ^ (static_cast<uint64_t>(lp) << 32 | static_cast<uint64_t>(hp) << 16 | proto));
  return static_cast<uint32_t>(x >> 32);
}

inline uint32_t flow_hash4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t sport,
                           uint16_t dport) noexcept {
  return combine(src, sport, dst, dport, proto);
}

inline uint64_t fold6(const uint8_t* a) noexcept {
  uint64_t x, y;
  std::memcpy(&x, a, 8);
  std::memcpy(&y, a + 8, 8);
  return x ^ mix64(y);
}

inline uint32_t flow_hash6(const uint8_t* src, const uint8_t* dst, uint8_t proto, uint16_t sport,
                           uint16_t dport) noexcept {
  return combine(fold6(src), sport, fold6(dst), dport, proto);
}

// Bucket of a hash: the top bits (the low bits of some NIC RSS hashes correlate with queues).
inline unsigned hash_bucket(uint32_t h) noexcept { return h >> 26; }  // 64 buckets

}  // namespace vrouter
