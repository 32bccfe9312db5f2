#include "vfirewall/rules/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

namespace vfirewall {

namespace {

u128 max_of(uint8_t family) { return family == 4 ? u128(0xFFFFFFFFu) : ~u128(0); }

void normalize_list(std::vector<AddrRange>& v) {
  std::sort(v.begin(), v.end(), [](const AddrRange& a, const AddrRange& b) { return a.lo < b.lo; });
  std::vector<AddrRange> out;
  for (const auto& r : v) {
    if (!out.empty() && (r.lo <= out.back().hi ||
                         (out.back().hi != max_of(r.family) && r.lo == out.back().hi + 1))) {
      out.back().hi = std::max(out.back().hi, r.hi);
    } else {
      out.push_back(r);
    }
  }
  v = std::move(out);
}

std::vector<AddrRange> merge_lists(const std::vector<AddrRange>& a,
                                   const std::vector<AddrRange>& b) {
  std::vector<AddrRange> m;
  m.reserve(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(m),
             [](const AddrRange& x, const AddrRange& y) { return x.lo < y.lo; });
  std::vector<AddrRange> out;
  out.reserve(m.size());
  for (const auto& r : m) {
    if (!out.empty() && (r.lo <= out.back().hi ||
                         (out.back().hi != max_of(r.family) && r.lo == out.back().hi + 1))) {
      out.back().hi = std::max(out.back().hi, r.hi);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

bool list_covers(const std::vector<AddrRange>& a, const std::vector<AddrRange>& b) {
  // a and b normalised: each range of b must lie inside one range of a (the last one that
  // starts at or before it). O(|b| log |a|): the lint compares a few ranges with many.
  for (const auto& r : b) {
    auto it = std::upper_bound(a.begin(), a.end(), r.lo,
                               [](u128 lo, const AddrRange& x) { return lo < x.lo; });
    if (it == a.begin()) return false;
    --it;
    if (it->hi < r.hi) return false;
  }
  return true;
}

// The first range both sorted lists hold (their overlap there), if any; linear.
std::optional<AddrRange> list_first_common(const std::vector<AddrRange>& a,
                                           const std::vector<AddrRange>& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].hi < b[j].lo) {
      ++i;
    } else if (b[j].hi < a[i].lo) {
      ++j;
    } else {
      return AddrRange{a[i].family, std::max(a[i].lo, b[j].lo), std::min(a[i].hi, b[j].hi)};
    }
  }
  return std::nullopt;
}

bool parse_one(const std::string& s, uint8_t& family, u128& v) {
  in6_addr a6{};
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    family = 4;
    v = ntohl(a4.s_addr);
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    family = 6;
    v = ip6_u128(a6.s6_addr);
    return true;
  }
  return false;
}

}  // namespace

u128 ip6_u128(const uint8_t* b) {
  u128 v = 0;
  for (int i = 0; i < 16; ++i) v = v << 8 | b[i];
  return v;
}

AddrSet AddrSet::any() {
  AddrSet s;
  s.v4.push_back({4, 0, max_of(4)});
  s.v6.push_back({6, 0, max_of(6)});
  return s;
}

void AddrSet::add(const AddrRange& r) { (r.family == 4 ? v4 : v6).push_back(r); }

void AddrSet::add(const AddrSet& s) {
  v4.insert(v4.end(), s.v4.begin(), s.v4.end());
  v6.insert(v6.end(), s.v6.begin(), s.v6.end());
}

void AddrSet::normalize() {
  normalize_list(v4);
  normalize_list(v6);
}

void AddrSet::merge(const AddrSet& o) {
  if (!o.v4.empty()) v4 = v4.empty() ? o.v4 : merge_lists(v4, o.v4);
  if (!o.v6.empty()) v6 = v6.empty() ? o.v6 : merge_lists(v6, o.v6);
}

bool AddrSet::covers(const AddrSet& o) const {
  return list_covers(v4, o.v4) && list_covers(v6, o.v6);
}

bool AddrSet::intersects(const AddrSet& o) const { return first_common(o).has_value(); }

std::optional<AddrRange> AddrSet::first_common(const AddrSet& o) const {
  if (auto r = list_first_common(v4, o.v4)) return r;
  return list_first_common(v6, o.v6);
}

bool AddrSet::contains(uint8_t family, u128 a) const {
  for (const auto& r : family == 4 ? v4 : v6)
    if (r.lo <= a && a <= r.hi) return true;
  return false;
}

namespace {

// Walks the minimal prefixes of [lo, hi]; `emit(addr, len)` for each.
template <class Emit>
void walk_prefixes(u128 lo, u128 hi, unsigned bits, Emit&& emit) {
  const u128 top = bits == 128 ? ~u128(0) : ((u128(1) << bits) - 1);
  if (lo > hi || hi > top) return;
  if (lo == 0 && hi == top) {
    emit(u128(0), 0u);
    return;
  }
  for (;;) {
    // The largest block aligned at lo that does not pass hi (never the whole space here).
    unsigned size = 0;
    while (size + 1 < bits && ((lo >> size) & 1) == 0) ++size;
    if (lo == 0) size = bits - 1;
    while (size > 0 && lo + ((u128(1) << size) - 1) > hi) --size;
    emit(lo, bits - size);
    const u128 last = lo + ((u128(1) << size) - 1);
    if (last >= hi) break;
    lo = last + 1;
  }
}

}  // namespace

std::vector<Prefix> range_to_prefixes(u128 lo, u128 hi, unsigned bits) {
  std::vector<Prefix> out;
  walk_prefixes(lo, hi, bits, [&](u128 a, unsigned len) { out.push_back({a, len}); });
  return out;
}

size_t range_prefix_count(u128 lo, u128 hi, unsigned bits) {
  size_t n = 0;
  walk_prefixes(lo, hi, bits, [&](u128, unsigned) { ++n; });
  return n;
}

std::optional<std::string> parse_address(const std::string& text, AddrRange& out) {
  const auto dash = text.find('-');
  const auto slash = text.find('/');
  uint8_t fam = 0, fam2 = 0;
  u128 a = 0, b = 0;
  if (dash != std::string::npos) {
    if (!parse_one(text.substr(0, dash), fam, a) || !parse_one(text.substr(dash + 1), fam2, b))
      return fmt::format("'{}': expected an address range like 10.0.0.1-10.0.0.9", text);
    if (fam != fam2) return fmt::format("'{}': both ends of a range must be of one family", text);
    if (a > b) return fmt::format("'{}': the range ends before it starts", text);
    out = {fam, a, b};
    return std::nullopt;
  }
  if (slash != std::string::npos) {
    if (!parse_one(text.substr(0, slash), fam, a))
      return fmt::format("'{}': expected a prefix like 10.0.0.0/8 or 2001:db8::/32", text);
    const std::string len_s = text.substr(slash + 1);
    const unsigned bits = fam == 4 ? 32 : 128;
    unsigned len = 0;
    if (len_s.empty() || len_s.size() > 3 ||
        !std::all_of(len_s.begin(), len_s.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        (len = static_cast<unsigned>(std::stoul(len_s))) > bits)
      return fmt::format("'{}': prefix length must be 0-{}", text, bits);
    const u128 host = len == bits ? 0 : (len == 0 ? max_of(fam) : ((u128(1) << (bits - len)) - 1));
    if (a & host)
      return fmt::format("'{}': host bits are set (did you mean {}/{}?)", text,
                         format_addr(fam, a & ~host & max_of(fam)), len);
    out = {fam, a, a | host};
    return std::nullopt;
  }
  if (!parse_one(text, fam, a))
    return fmt::format("'{}' is not an IPv4/IPv6 address, prefix or range", text);
  out = {fam, a, a};
  return std::nullopt;
}

std::string format_addr(uint8_t family, u128 a) {
  char buf[INET6_ADDRSTRLEN];
  if (family == 4) {
    in_addr x{htonl(static_cast<uint32_t>(a))};
    inet_ntop(AF_INET, &x, buf, sizeof buf);
  } else {
    uint8_t b[16];
    for (int i = 15; i >= 0; --i) {
      b[i] = static_cast<uint8_t>(a);
      a >>= 8;
    }
    inet_ntop(AF_INET6, b, buf, sizeof buf);
  }
  return buf;
}

std::string format_range(const AddrRange& r) {
  if (r.lo == r.hi) return format_addr(r.family, r.lo);
  const auto p = range_to_prefixes(r.lo, r.hi, r.family == 4 ? 32 : 128);
  if (p.size() == 1) return fmt::format("{}/{}", format_addr(r.family, r.lo), p[0].len);
  return format_addr(r.family, r.lo) + "-" + format_addr(r.family, r.hi);
}

}  // namespace vfirewall
