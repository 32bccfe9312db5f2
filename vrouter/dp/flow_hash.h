// The ECMP flow hash. Symmetric: both directions of a flow (addresses and ports swapped)
// hash the same, so that where two routers (or a router and a firewall pair) balance the two
// directions over the same members, a connection stays on one path. Sorting each pair before
// mixing makes it symmetric; the mixer is the 64-bit finaliser of MurmurHash3.
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

inline uint32_t combine(uint64_t lo, uint64_t hi, uint8_t proto, uint16_t p, uint16_t q) noexcept {
  const uint16_t pl = p < q ? p : q;
  const uint16_t ph = p < q ? q : p;
  const uint64_t ports = static_cast<uint64_t>(pl) << 24 | static_cast<uint64_t>(ph) << 8 | proto;
  return static_cast<uint32_t>(mix64(mix64(lo) ^ hi ^ mix64(ports + 0x9E3779B97F4A7C15ULL)) >> 32);
}

inline uint32_t flow_hash4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t sport,
                           uint16_t dport) noexcept {
  const uint32_t lo = src < dst ? src : dst;
  const uint32_t hi = src < dst ? dst : src;
  return combine(lo, static_cast<uint64_t>(hi) << 32 | lo, proto, sport, dport);
}

inline uint64_t fold6(const uint8_t* a) noexcept {
  uint64_t x, y;
  std::memcpy(&x, a, 8);
  std::memcpy(&y, a + 8, 8);
  return x ^ mix64(y);
}

inline uint32_t flow_hash6(const uint8_t* src, const uint8_t* dst, uint8_t proto, uint16_t sport,
                           uint16_t dport) noexcept {
  const uint64_t a = fold6(src);
  const uint64_t b = fold6(dst);
  return combine(a < b ? a : b, a < b ? b : a, proto, sport, dport);
}

// Bucket of a hash: the top bits (the low bits of some NIC RSS hashes correlate with queues).
inline unsigned hash_bucket(uint32_t h) noexcept { return h >> 26; }  // 64 buckets

}  // namespace vrouter
