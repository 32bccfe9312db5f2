// Address and port arithmetic for the rule compiler: IPv4/IPv6 ranges as 128-bit integers,
// normalised range sets, range -> prefix decomposition, textual parsing. Pure logic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vfirewall {

__extension__ typedef unsigned __int128 u128;

struct AddrRange {
  uint8_t family = 4;  // 4 or 6
  u128 lo = 0, hi = 0;
  bool operator==(const AddrRange&) const = default;
};

// A set of addresses of both families, as sorted, disjoint, non-adjacent ranges.
struct AddrSet {
  std::vector<AddrRange> v4, v6;
  static AddrSet any();
  void add(const AddrRange& r);
  void add(const AddrSet& s);
  void normalize();
  // Union with another normalised set, linear; stays normalised.
  void merge(const AddrSet& o);
  size_t size() const { return v4.size() + v6.size(); }
  bool empty() const { return v4.empty() && v6.empty(); }
  bool covers(const AddrSet& o) const;  // every address of o is in this set
  bool intersects(const AddrSet& o) const;
  std::optional<AddrRange> first_common(const AddrSet& o) const;  // IPv4 first
  bool contains(uint8_t family, u128 a) const;
};

struct Prefix {
  u128 addr;
  unsigned len;  // 0..32 (IPv4) or 0..128
};

// The minimal list of prefixes covering exactly [lo, hi] in a space of `bits` bits.
std::vector<Prefix> range_to_prefixes(u128 lo, u128 hi, unsigned bits);
// How many prefixes range_to_prefixes would return, without building them.
size_t range_prefix_count(u128 lo, u128 hi, unsigned bits);

// "10.0.0.0/8", "10.0.0.1", "10.0.0.1-10.0.0.9", "2001:db8::/32", "2001:db8::1-2001:db8::ff".
// Returns an error message, or nullopt and fills `out`.
std::optional<std::string> parse_address(const std::string& text, AddrRange& out);

std::string format_addr(uint8_t family, u128 a);
std::string format_range(const AddrRange& r);

inline u128 ip4_u128(uint32_t host_order) { return host_order; }
u128 ip6_u128(const uint8_t* bytes16);

}  // namespace vfirewall
