// IPv4 / IPv6 addresses and prefixes for the router's control plane: parsing, printing,
// containment and overlap. Pure logic (no DPDK), shared by the config loader, the route
// table builder and telemetry.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vrouter {

enum class Family : uint8_t { kV4 = 4, kV6 = 6 };

struct IpAddr {
  Family family = Family::kV4;
  std::array<uint8_t, 16> b{};  // network byte order; IPv4 uses b[0..3], the rest stays zero

  static IpAddr v4(uint32_t host_order);
  static IpAddr v6(const uint8_t* bytes);
  uint32_t v4() const;  // host order
  bool is_v4() const { return family == Family::kV4; }
  unsigned bits() const { return is_v4() ? 32 : 128; }
  bool bit(unsigned i) const { return (b[i / 8] >> (7 - i % 8)) & 1; }
  bool is_zero() const;

  auto operator<=>(const IpAddr&) const = default;
  bool operator==(const IpAddr&) const = default;
};

struct Prefix {
  IpAddr addr;  // host bits are zero
  uint8_t len = 0;

  bool contains(const IpAddr& a) const;
  bool overlaps(const Prefix& o) const;
  auto operator<=>(const Prefix&) const = default;
  bool operator==(const Prefix&) const = default;
};

// An address configured on an interface: the address itself (host bits set) and its prefix
// length, e.g. 10.1.0.1/24.
struct IfAddr {
  IpAddr addr;
  uint8_t len = 0;
  Prefix subnet() const;
};

IpAddr mask(const IpAddr& a, unsigned len);

// "10.0.0.1", "2001:db8::1". nullopt when not an address.
std::optional<IpAddr> parse_ip(std::string_view s);
// "10.0.0.0/8". `err` says why not (bad address, bad length, host bits set...).
std::optional<Prefix> parse_prefix(std::string_view s, std::string& err);
// "10.0.0.1" (a host prefix, /32 or /128) or "10.0.0.0/8". `err` says why a prefix is not one
// (it stays empty when a text without '/' is not an address).
std::optional<Prefix> parse_host_or_prefix(std::string_view s, std::string& err);
// "10.1.0.1/24": host bits are the point here.
std::optional<IfAddr> parse_ifaddr(std::string_view s, std::string& err);

std::string to_string(const IpAddr& a);
std::string to_string(const Prefix& p);
std::string to_string(const IfAddr& a);

// fe80::/64 + modified EUI-64 of the MAC (RFC 4291 appendix A).
IpAddr link_local_from_mac(const std::array<uint8_t, 6>& mac);

}  // namespace vrouter
