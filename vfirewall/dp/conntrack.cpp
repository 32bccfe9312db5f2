#include "vfirewall/dp/conntrack.h"

#include <cstring>

namespace vfirewall::ct {

bool admit(const FwWorkerState& st, const FwSnapshot& s, const CtKey& k,
           vnf::DropReason& why) noexcept {
  const uint32_t limit = s.zone[k.zsrc].conn_limit;
  if (limit && st.zone_active[k.zsrc] >= limit) {
    why = vnf::DropReason::kFwZoneLimit;
    return false;
  }
  if (st.free_top == 0) {
    why = vnf::DropReason::kFwTableFull;
    return false;
  }
  return true;
}

int32_t create(FwWorkerState& st, const FwSnapshot& s, const CtKey& k, uint32_t now_s,
               vnf::DropReason& why) noexcept {
  if (!admit(st, s, k, why)) {
    (why == vnf::DropReason::kFwZoneLimit ? st.counters.zone_limit : st.counters.table_full).add();
    return -1;
  }
  const uint32_t idx = st.free_stack[--st.free_top];
  Session& x = st.sessions[idx];
  const CtKey rev = reverse_key(k);
  if (rte_hash_add_key_data(st.hash, &k, reinterpret_cast<void*>(uintptr_t(idx) << 1)) < 0) {
    st.free_stack[st.free_top++] = idx;
    st.counters.table_full.add();
    why = vnf::DropReason::kFwTableFull;
    return -1;
  }
  if (rte_hash_add_key_data(st.hash, &rev, reinterpret_cast<void*>(uintptr_t(idx) << 1 | 1)) < 0) {
    rte_hash_del_key(st.hash, &k);
    st.free_stack[st.free_top++] = idx;
    st.counters.table_full.add();
    why = vnf::DropReason::kFwTableFull;
    return -1;
  }
  std::memset(static_cast<void*>(&x), 0, sizeof x);
  x.key = k;
  x.expires_s = now_s;
  x.epoch = static_cast<uint32_t>(s.generation);
  x.serial = ++st.serial;
  x.flags = session_flags::kInUse;
  st.in_use[idx / 64] |= uint64_t(1) << (idx % 64);
  ++st.zone_active[k.zsrc];
  st.counters.created.add();
  st.counters.zone_created[k.zsrc].add();
  return static_cast<int32_t>(idx);
}

void remove(FwWorkerState& st, uint32_t idx) noexcept {
  Session& x = st.sessions[idx];
  if (!(x.flags & session_flags::kInUse)) return;
  const CtKey rev = reverse_key(x.key);
  rte_hash_del_key(st.hash, &x.key);
  rte_hash_del_key(st.hash, &rev);
  x.flags = 0;
  st.in_use[idx / 64] &= ~(uint64_t(1) << (idx % 64));
  if (st.zone_active[x.key.zsrc]) --st.zone_active[x.key.zsrc];
  st.counters.closed.add();
  st.counters.zone_closed[x.key.zsrc].add();
  st.free_stack[st.free_top++] = idx;
}

bool matches(const SessionFilter& f, const CtKey& k) noexcept {
  if (f.zone && k.zsrc != f.zone && k.zdst != f.zone) return false;
  if (f.proto && k.proto != f.proto) return false;
  if (f.family && k.family != f.family) return false;
  const size_t n = k.family == 4 ? 4 : 16;
  auto eq = [n](const uint8_t* a, const uint8_t* b) { return std::memcmp(a, b, n) == 0; };
  if (f.has_src && f.has_dst) {
    const bool fwd = eq(f.src, k.src) && eq(f.dst, k.dst);
    const bool rev = eq(f.src, k.dst) && eq(f.dst, k.src);
    if (!fwd && !rev) return false;
  } else if (f.has_src) {
    if (!eq(f.src, k.src) && !eq(f.src, k.dst)) return false;
  } else if (f.has_dst) {
    if (!eq(f.dst, k.src) && !eq(f.dst, k.dst)) return false;
  }
  if (f.sport && k.sport != f.sport && k.dport != f.sport) return false;
  if (f.dport && k.dport != f.dport && k.sport != f.dport) return false;
  return true;
}

}  // namespace vfirewall::ct
