// Building rte_fib (IPv4, DIR24_8) and rte_fib6 (IPv6, TRIE) from the route table plan.
// Next-hop values are path-list ids in 2-byte entries: a tbl24 of 32 MB per family.
#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_fib6.h>

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "vrouter/config.h"
#include "vrouter/snapshot.h"

namespace vrouter {

namespace {

constexpr size_t kTbl24Entries = size_t{1} << 24;
// Next hops of 2 bytes keep the tbl24 at 32 MB but allow at most 32767 tbl8 groups (the
// group index is stored in the entry); beyond that the table uses 4-byte entries.
constexpr uint32_t kMaxTbl8With2B = 32767;

template <class Keep>
uint32_t distinct_at(const std::vector<std::pair<Prefix, uint32_t>>& v, unsigned bits, Keep keep) {
  std::vector<IpAddr> k;
  for (const auto& [p, id] : v)
    if (keep(p)) k.push_back(mask(p.addr, bits));
  std::sort(k.begin(), k.end());
  return static_cast<uint32_t>(std::unique(k.begin(), k.end()) - k.begin());
}

}  // namespace

uint32_t tbl8_groups_v4(const RouteTable& t) {
  return distinct_at(t.v4, 24, [](const Prefix& p) { return p.len > 24; });
}

// rte_fib6's TRIE reserves, for each prefix longer than /24, one group per byte past the
// 24th (with no covering route: the worst case, and the common one), whether or not the groups
// end up shared.
uint32_t tbl8_groups_v6(const RouteTable& t) {
  uint64_t n = 0;
  for (const auto& [p, id] : t.v6)
    if (p.len > 24) n += (static_cast<unsigned>(p.len) + 7) / 8 - 3;
  return static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX));
}

FibTables::FibTables(const std::string& name, const RouteTable& t, const FibSettings& fs,
                     int socket) {
  auto fail = [&](const char* what, const std::string& hint) {
    const std::string err = rte_strerror(rte_errno);
    rte_fib_free(v4_);
    rte_fib6_free(v6_);
    throw std::runtime_error(fmt::format("cannot build the {} FIB: {} ({})", what, err, hint));
  };
  const uint32_t n4 = static_cast<uint32_t>(t.v4.size());
  const uint32_t n6 = static_cast<uint32_t>(t.v6.size());
  const uint32_t want4 = tbl8_groups_v4(t), want6 = tbl8_groups_v6(t);
  rte_fib_conf c4{};
  c4.type = RTE_FIB_DIR24_8;
  c4.default_nh = kPathNoRoute;
  c4.max_routes = static_cast<int>(fs.ipv4_max_routes ? fs.ipv4_max_routes : n4 + 1024);
  c4.rib_ext_sz = 0;
  c4.dir24_8.num_tbl8 = fs.ipv4_tbl8_groups ? fs.ipv4_tbl8_groups : want4 + want4 / 8 + 64;
  c4.dir24_8.nh_sz =
      c4.dir24_8.num_tbl8 <= kMaxTbl8With2B ? RTE_FIB_DIR24_8_2B : RTE_FIB_DIR24_8_4B;
  if (static_cast<uint32_t>(c4.max_routes) < n4)
    throw std::runtime_error(
        fmt::format("{} IPv4 prefixes but fib.ipv4_max_routes is {}", n4, c4.max_routes));
  if (c4.dir24_8.num_tbl8 < want4)
    throw std::runtime_error(
        fmt::format("the IPv4 prefixes need {} tbl8 groups, "
                    "fib.ipv4_tbl8_groups is {}",
                    want4, c4.dir24_8.num_tbl8));
  rte_fib6_conf c6{};
  c6.type = RTE_FIB6_TRIE;
  c6.default_nh = kPathNoRoute;
  c6.max_routes = static_cast<int>(fs.ipv6_max_routes ? fs.ipv6_max_routes : n6 + 1024);
  c6.rib_ext_sz = 0;
  c6.trie.num_tbl8 = fs.ipv6_tbl8_groups ? fs.ipv6_tbl8_groups : want6 + want6 / 8 + 64;
  c6.trie.nh_sz = c6.trie.num_tbl8 <= kMaxTbl8With2B ? RTE_FIB6_TRIE_2B : RTE_FIB6_TRIE_4B;
  if (static_cast<uint32_t>(c6.max_routes) < n6)
    throw std::runtime_error(
        fmt::format("{} IPv6 prefixes but fib.ipv6_max_routes is {}", n6, c6.max_routes));
  if (c6.trie.num_tbl8 < want6)
    throw std::runtime_error(
        fmt::format("the IPv6 prefixes need {} tbl8 groups, "
                    "fib.ipv6_tbl8_groups is {}",
                    want6, c6.trie.num_tbl8));
  v4_ = rte_fib_create((name + "4").c_str(), socket, &c4);
  if (!v4_)
    fail("IPv4", fmt::format("{} routes, {} tbl8 groups: raise engine.memory_mb", c4.max_routes,
                             c4.dir24_8.num_tbl8));
  const size_t e4 = c4.dir24_8.nh_sz == RTE_FIB_DIR24_8_2B ? 2 : 4;
  bytes_ += (kTbl24Entries + size_t{c4.dir24_8.num_tbl8} * 256) * e4;
  v6_ = rte_fib6_create((name + "6").c_str(), socket, &c6);
  if (!v6_)
    fail("IPv6", fmt::format("{} routes, {} tbl8 groups: raise engine.memory_mb", c6.max_routes,
                             c6.trie.num_tbl8));
  const size_t e6 = c6.trie.nh_sz == RTE_FIB6_TRIE_2B ? 2 : 4;
  bytes_ += (kTbl24Entries + size_t{c6.trie.num_tbl8} * 256) * e6;

  for (const auto& [p, id] : t.v4)
    if (rte_fib_add(v4_, p.addr.v4(), p.len, id) != 0)
      fail("IPv4", fmt::format("adding {}: raise fib.ipv4_tbl8_groups or memory", to_string(p)));
  for (const auto& [p, id] : t.v6)
    if (rte_fib6_add(v6_, p.addr.b.data(), p.len, id) != 0)
      fail("IPv6", fmt::format("adding {}: raise fib.ipv6_tbl8_groups or memory", to_string(p)));
}

FibTables::~FibTables() {
  rte_fib_free(v4_);
  rte_fib6_free(v6_);
  v4_ = nullptr;
  v6_ = nullptr;
}

}  // namespace vrouter
