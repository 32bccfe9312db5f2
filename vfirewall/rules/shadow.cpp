#include "vfirewall/rules/shadow.h"

#include <algorithm>
#include <bitset>
#include <queue>
#include <unordered_map>

#include <fmt/format.h>

namespace vfirewall {

namespace {

struct ZoneSide {
  bool any = false;
  std::bitset<256> bits;       // zone indices (config order)
  std::vector<uint16_t> list;  // the same, as named
};

ZoneSide zone_side(const std::vector<std::string>& names,
                   const std::unordered_map<std::string, uint16_t>& idx) {
  ZoneSide z;
  for (const auto& n : names) {
    if (n == "any") {
      z.any = true;
      continue;
    }
    if (auto it = idx.find(n); it != idx.end()) {
      z.bits.set(it->second);
      z.list.push_back(it->second);
    }
  }
  return z;
}

bool zone_covers(const ZoneSide& a, const ZoneSide& b) {
  if (a.any) return true;
  if (b.any) return false;
  return (b.bits & ~a.bits).none();
}

unsigned bit_length(u128 x) {
  unsigned n = 0;
  while (x) {
    x >>= 1;
    ++n;
  }
  return n;
}

// The smallest prefix holding [lo, hi] in a space of `bits` bits: IPv4 (space 4, 32 bits),
// IPv6 (6, 128) or the ports / ICMP types of one protocol (256 + proto * 2 + icmp, 16).
struct Block {
  u128 prefix;  // lo >> (bits - len)
  uint16_t space;
  uint8_t len;
  bool operator==(const Block&) const = default;
};
struct BlockHash {
  size_t operator()(const Block& b) const {
    const auto lo = static_cast<uint64_t>(b.prefix), hi = static_cast<uint64_t>(b.prefix >> 64);
    return std::hash<uint64_t>()(lo * 0x9E3779B97F4A7C15ull ^ hi ^ (uint64_t(b.len) << 56) ^
                                 (uint64_t(b.space) << 40));
  }
};

using List = std::vector<uint32_t>;  // rule indices, ascending

// Rules by the prefix around their values in one space (one entry per rule and space).
class BlockIndex {
 public:
  void add(uint32_t rule, uint16_t space, unsigned bits, u128 lo, u128 hi) {
    const unsigned len = bits - bit_length(lo ^ hi);
    auto& l = blocks_[Block{len == 0 ? u128(0) : lo >> (bits - len), space, uint8_t(len)}];
    if (l.empty() || l.back() != rule) l.push_back(rule);
    lens_[space].set(len);
  }
  // The lists of rules whose prefix in `space` holds `p`.
  void lists(uint16_t space, unsigned bits, u128 p, std::vector<const List*>& out) const {
    auto ls = lens_.find(space);
    if (ls == lens_.end()) return;
    for (unsigned len = 0; len <= bits; ++len) {
      if (!ls->second.test(len)) continue;
      auto it = blocks_.find(Block{len == 0 ? u128(0) : p >> (bits - len), space, uint8_t(len)});
      if (it != blocks_.end()) out.push_back(&it->second);
    }
  }

 private:
  std::unordered_map<Block, List, BlockHash> blocks_;
  std::unordered_map<uint16_t, std::bitset<129>> lens_;
};

void add_addresses(BlockIndex& ix, uint32_t rule, const AddrSet& s) {
  if (!s.v4.empty()) ix.add(rule, 4, 32, s.v4.front().lo, s.v4.back().hi);
  if (!s.v6.empty()) ix.add(rule, 6, 128, s.v6.front().lo, s.v6.back().hi);
}

// Rules whose set may hold the first address of `s` (every set covering `s` holds it); false
// when `s` is empty (every set covers it: no use as a filter).
bool address_lists(const BlockIndex& ix, const AddrSet& s, std::vector<const List*>& out) {
  if (!s.v4.empty()) {
    ix.lists(4, 32, s.v4.front().lo, out);
  } else if (!s.v6.empty()) {
    ix.lists(6, 128, s.v6.front().lo, out);
  } else {
    return false;
  }
  return true;
}

uint16_t service_space(const ServiceEntry& e) {
  return static_cast<uint16_t>(256 + e.proto * 2 + (e.icmp ? 1 : 0));
}

bool whole_protocol(const ServiceEntry& e) { return !e.icmp && e.lo == 0 && e.hi == 0xFFFF; }

size_t earlier(const List& l, uint32_t j) {
  return static_cast<size_t>(std::lower_bound(l.begin(), l.end(), j) - l.begin());
}
size_t earlier(const std::vector<const List*>& ls, uint32_t j) {
  size_t n = 0;
  for (const List* l : ls) n += earlier(*l, j);
  return n;
}

}  // namespace

bool services_cover(const std::vector<ServiceEntry>& a, const std::vector<ServiceEntry>& b) {
  if (a.size() == 1 && a[0].proto == 0) return true;
  auto key = [](const ServiceEntry& e) { return std::tie(e.proto, e.icmp, e.lo); };
  for (const auto& e : b) {
    if (e.proto == 0) return false;
    // Normalised: a whole protocol is the only entry of its protocol.
    ServiceEntry first{e.proto, false, 0, 0};
    auto it = std::lower_bound(a.begin(), a.end(), first,
                               [&](const ServiceEntry& x, const ServiceEntry& y) { return key(x) < key(y); });
    if (it == a.end() || it->proto != e.proto) return false;
    if (!it->icmp && it->lo == 0 && it->hi == 0xFFFF) continue;
    auto jt = std::upper_bound(a.begin(), a.end(), e, [&](const ServiceEntry& x, const ServiceEntry& y) {
      return key(x) < key(y);
    });
    if (jt == a.begin()) return false;
    --jt;
    if (jt->proto != e.proto || jt->icmp != e.icmp || jt->lo > e.lo || jt->hi < e.hi) return false;
  }
  return true;
}

void find_shadowed(const FirewallConfig& c, const std::vector<RuleSets>& sets,
                   const std::vector<bool>& never, std::vector<Finding>& out, uint64_t budget) {
  const size_t n = c.rules.size();
  std::unordered_map<std::string, uint16_t> zidx;
  for (size_t i = 0; i < c.zones.size() && i < 256; ++i)
    zidx.emplace(c.zones[i].name, static_cast<uint16_t>(i));
  std::vector<ZoneSide> from(n), to(n);
  BlockIndex src_idx, dst_idx, svc_idx;
  List from_any, to_any, svc_any;
  std::vector<List> from_zone(256), to_zone(256), svc_whole(256);
  for (uint32_t i = 0; i < n; ++i) {
    from[i] = zone_side(c.rules[i].from, zidx);
    to[i] = zone_side(c.rules[i].to, zidx);
    if (from[i].any) {
      from_any.push_back(i);
    } else {
      for (uint16_t z : from[i].list) from_zone[z].push_back(i);
    }
    if (to[i].any) {
      to_any.push_back(i);
    } else {
      for (uint16_t z : to[i].list) to_zone[z].push_back(i);
    }
    add_addresses(src_idx, i, sets[i].src);
    add_addresses(dst_idx, i, sets[i].dst);
    const auto& sv = sets[i].services;
    if (sv.size() == 1 && sv[0].proto == 0) {
      svc_any.push_back(i);
      continue;
    }
    // Normalised: sorted by (protocol, icmp); a whole protocol is its only entry.
    for (size_t k = 0; k < sv.size();) {
      size_t e = k;
      while (e + 1 < sv.size() && service_space(sv[e + 1]) == service_space(sv[k])) ++e;
      if (whole_protocol(sv[k])) {
        svc_whole[sv[k].proto].push_back(i);
      } else {
        svc_idx.add(i, service_space(sv[k]), 16, sv[k].lo, sv[e].hi);
      }
      k = e + 1;
    }
  }
  for (auto* l : {&from_zone, &to_zone})
    for (auto& x : *l) x.erase(std::unique(x.begin(), x.end()), x.end());

  uint64_t spent = 0;
  std::vector<const List*> best, cand;
  for (uint32_t j = 0; j < n; ++j) {
    if (never[j]) continue;
    // The smallest candidate list: every rule covering j is in each of them.
    size_t best_count = SIZE_MAX;
    best.clear();
    auto consider = [&](std::vector<const List*>& ls) {
      const size_t k = earlier(ls, j);
      if (k < best_count) {
        best_count = k;
        best.swap(ls);
      }
    };
    cand.clear();
    if (address_lists(src_idx, sets[j].src, cand)) consider(cand);
    cand.clear();
    if (address_lists(dst_idx, sets[j].dst, cand)) consider(cand);
    for (const auto& [side, any_list, zone_lists] :
         {std::tuple{&from[j], &from_any, &from_zone}, std::tuple{&to[j], &to_any, &to_zone}}) {
      cand.assign(1, any_list);
      if (!side->any && !side->list.empty()) {
        const List* smallest = &(*zone_lists)[side->list[0]];
        for (uint16_t z : side->list)
          if ((*zone_lists)[z].size() < smallest->size()) smallest = &(*zone_lists)[z];
        cand.push_back(smallest);
      }
      consider(cand);
    }
    // Services: a few of j's entries, each as a filter of its own.
    const auto& sv = sets[j].services;
    if (sv.size() == 1 && sv[0].proto == 0) {
      cand.assign(1, &svc_any);
      consider(cand);
    }
    for (size_t k = 0; k < sv.size() && k < 4 && sv[k].proto != 0; ++k) {
      cand.assign({&svc_any, &svc_whole[sv[k].proto]});
      svc_idx.lists(service_space(sv[k]), 16, sv[k].lo, cand);
      consider(cand);
    }
    if (best_count == 0) continue;

    // Candidates in rule order: the first earlier rule that covers j is the one reported.
    using Head = std::pair<uint32_t, std::pair<const List*, size_t>>;
    std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
    for (const List* l : best)
      if (!l->empty() && (*l)[0] < j) heads.push({(*l)[0], {l, 0}});
    const RuleSets& b = sets[j];
    const uint64_t cost = 1 + b.src.size() + b.dst.size() + b.services.size();
    while (!heads.empty()) {
      const auto [i, where] = heads.top();
      heads.pop();
      if (where.second + 1 < where.first->size() && (*where.first)[where.second + 1] < j)
        heads.push({(*where.first)[where.second + 1], {where.first, where.second + 1}});
      spent += cost;
      if (spent > budget) {
        out.push_back({Finding::Severity::kWarning, c.rules[j].pos,
                       fmt::format("shadow check stopped at rule '{}': comparing the rules pair by "
                                   "pair would take too long (over {} comparisons); this rule and "
                                   "the ones after it were not checked for shadowing",
                                   c.rules[j].id, budget)});
        return;
      }
      const RuleSets& a = sets[i];
      if (!zone_covers(from[i], from[j]) || !zone_covers(to[i], to[j]) || !a.src.covers(b.src) ||
          !a.dst.covers(b.dst) || !services_cover(a.services, b.services))
        continue;
      const Rule& ri = c.rules[i];
      const Rule& rj = c.rules[j];
      out.push_back(
          {Finding::Severity::kWarning, rj.pos,
           fmt::format("rule '{}' is shadowed by rule '{}' (line {}): it can never match{}", rj.id,
                       ri.id, ri.pos.line,
                       ri.action != rj.action
                           ? fmt::format(", and '{}' {}s what it would {}", ri.id,
                                         action_name(ri.action), action_name(rj.action))
                           : "")});
      break;
    }
  }
}

}  // namespace vfirewall
