#include "vrouter/addr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace vrouter {

IpAddr IpAddr::v4(uint32_t h) {
  IpAddr a;
  a.family = Family::kV4;
  a.b[0] = static_cast<uint8_t>(h >> 24);
  a.b[1] = static_cast<uint8_t>(h >> 16);
  a.b[2] = static_cast<uint8_t>(h >> 8);
  a.b[3] = static_cast<uint8_t>(h);
  return a;
}

IpAddr IpAddr::v6(const uint8_t* bytes) {
  IpAddr a;
  a.family = Family::kV6;
  std::memcpy(a.b.data(), bytes, 16);
  return a;
}

uint32_t IpAddr::v4() const {
  return static_cast<uint32_t>(b[0]) << 24 | static_cast<uint32_t>(b[1]) << 16 |
         static_cast<uint32_t>(b[2]) << 8 | b[3];
}

bool IpAddr::is_zero() const {
  for (auto x : b)
    if (x) return false;
  return true;
}

IpAddr mask(const IpAddr& a, unsigned len) {
  IpAddr m = a;
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned lo = i * 8;
    if (len >= lo + 8) continue;
    const unsigned keep = len > lo ? len - lo : 0;
    m.b[i] &= static_cast<uint8_t>(keep ? 0xFF << (8 - keep) : 0);
  }
  return m;
}

bool Prefix::contains(const IpAddr& a) const {
  return a.family == addr.family && mask(a, len) == addr;
}

bool Prefix::overlaps(const Prefix& o) const {
  if (o.addr.family != addr.family) return false;
  const unsigned l = len < o.len ? len : o.len;
  return mask(addr, l) == mask(o.addr, l);
}

Prefix IfAddr::subnet() const { return Prefix{mask(addr, len), len}; }

std::optional<IpAddr> parse_ip(std::string_view s) {
  const std::string str(s);
  IpAddr a;
  if (str.find(':') != std::string::npos) {
    a.family = Family::kV6;
    if (inet_pton(AF_INET6, str.c_str(), a.b.data()) != 1) return std::nullopt;
    return a;
  }
  in_addr v4{};
  if (inet_pton(AF_INET, str.c_str(), &v4) != 1) return std::nullopt;
  a.family = Family::kV4;
  std::memcpy(a.b.data(), &v4, 4);
  return a;
}

namespace {

std::optional<std::pair<IpAddr, uint8_t>> split(std::string_view s, std::string& err) {
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos) {
    err = fmt::format("'{}' needs a prefix length (e.g. /24)", s);
    return std::nullopt;
  }
  const auto a = parse_ip(s.substr(0, slash));
  if (!a) {
    err = fmt::format("'{}' is not an IPv4 or IPv6 address", s.substr(0, slash));
    return std::nullopt;
  }
  const std::string_view l = s.substr(slash + 1);
  unsigned len = 0;
  auto [p, ec] = std::from_chars(l.data(), l.data() + l.size(), len);
  if (ec != std::errc() || p != l.data() + l.size() || l.empty() || len > a->bits()) {
    err = fmt::format("bad prefix length '/{}' (0-{})", l, a->bits());
    return std::nullopt;
  }
  return std::make_pair(*a, static_cast<uint8_t>(len));
}

}  // namespace

std::optional<Prefix> parse_prefix(std::string_view s, std::string& err) {
  const auto al = split(s, err);
  if (!al) return std::nullopt;
  const Prefix p{mask(al->first, al->second), al->second};
  if (p.addr != al->first) {
    err = fmt::format("'{}' has host bits set (did you mean {}?)", s, to_string(p));
    return std::nullopt;
  }
  return p;
}

std::optional<Prefix> parse_host_or_prefix(std::string_view s, std::string& err) {
  if (s.find('/') != std::string_view::npos) return parse_prefix(s, err);
  const auto a = parse_ip(s);
  if (!a) return std::nullopt;
  return Prefix{*a, static_cast<uint8_t>(a->bits())};
}

std::optional<IfAddr> parse_ifaddr(std::string_view s, std::string& err) {
  const auto al = split(s, err);
  if (!al) return std::nullopt;
  return IfAddr{al->first, al->second};
}

std::string to_string(const IpAddr& a) {
  char buf[INET6_ADDRSTRLEN];
  if (a.is_v4()) {
    inet_ntop(AF_INET, a.b.data(), buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, a.b.data(), buf, sizeof buf);
  }
  return buf;
}

std::string to_string(const Prefix& p) { return fmt::format("{}/{}", to_string(p.addr), p.len); }
std::string to_string(const IfAddr& a) { return fmt::format("{}/{}", to_string(a.addr), a.len); }

IpAddr link_local_from_mac(const std::array<uint8_t, 6>& m) {
  IpAddr a;
  a.family = Family::kV6;
  a.b[0] = 0xfe;
  a.b[1] = 0x80;
  a.b[8] = m[0] ^ 0x02;
  a.b[9] = m[1];
  a.b[10] = m[2];
  a.b[11] = 0xff;
  a.b[12] = 0xfe;
  a.b[13] = m[3];
  a.b[14] = m[4];
  a.b[15] = m[5];
  return a;
}

}  // namespace vrouter
