#include "vrouter/routing_core.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <stdexcept>

#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace vrouter {

namespace {
constexpr unsigned kPuntRingSize = 1024;
constexpr unsigned kInjectRingSize = 1024;
constexpr uint64_t kLinkPollMs = 100;

// Whether the route `a` takes in (t, fib) is on-link through interface x at some distance.
bool onlink_route_to(const RouteTable& t, const FibTables& fib, uint8_t x, const IpAddr& a) {
  uint64_t nh = kPathNoRoute;
  if (a.is_v4()) {
    uint32_t ip = a.v4();
    rte_fib_lookup_bulk(fib.v4(), &ip, &nh, 1);
  } else {
    uint8_t ip[1][16];
    std::memcpy(ip[0], a.b.data(), 16);
    rte_fib6_lookup_bulk(fib.v6(), ip, &nh, 1);
  }
  if (nh >= t.paths.size()) return false;
  for (const Tier& tier : t.paths[nh].tiers)
    for (uint32_t id : tier.adjs)
      if (t.adjs[id].kind == AdjKind::kOnLink && t.adjs[id].iface == x) return true;
  return false;
}

}  // namespace

NeighTimers RoutingCore::timers() const {
  NeighTimers t;
  t.probe_interval_ms = s_.neighbors.probe_interval_ms;
  t.probe_misses = s_.neighbors.probe_misses;
  t.reachable_ms = s_.neighbors.reachable_ms;
  t.aging_ms = uint64_t{s_.neighbors.aging_s} * 1000;
  t.stale_check_ms = 1000;
  t.failed_hold_ms = std::max<uint32_t>(3000, s_.neighbors.probe_interval_ms);
  return t;
}

RoutingCore::RoutingCore(CoreEnv env, RouterSettings s, uint64_t now_ms)
    : env_(std::move(env)), pub_(env_.qsbr), now_ms_(now_ms) {
  neigh_ = std::make_unique<NeighborTable>(env_.name + "_nb", s.neighbors.max_entries, env_.qsbr,
                                           env_.socket);
  for (size_t i = 0; i < env_.workers.size(); ++i) {
    vnf::WorkerContext& w = *env_.workers[i];
    void* mem = rte_zmalloc_socket("vrouter_worker", sizeof(RouterWorkerState), RTE_CACHE_LINE_SIZE,
                                   w.socket);
    if (!mem) throw std::runtime_error("cannot allocate router worker state");
    auto* st = new (mem) RouterWorkerState();
    states_.push_back(st);
    st->punt =
        rte_ring_create_elem(fmt::format("{}_punt{}", env_.name, i).c_str(), sizeof(PuntItem),
                             kPuntRingSize, w.socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    st->inject = rte_ring_create(fmt::format("{}_inj{}", env_.name, i).c_str(), kInjectRingSize,
                                 w.socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!st->punt || !st->inject) throw std::runtime_error("cannot create the router's rings");
  }
  pending_.resize(states_.size());
  std::lock_guard lock(mu_);
  apply(std::move(s), now_ms);
}

RoutingCore::~RoutingCore() {
  // Held and queued packets go back to the pool.
  for (int32_t pos = 0; neigh_ && pos < static_cast<int32_t>(neigh_->slots()); ++pos)
    for (auto& h : neigh_->ctl(pos).hold) rte_pktmbuf_free(h.m);
  for (auto& q : pending_)
    for (auto* m : q) rte_pktmbuf_free(m);
  for (auto* st : states_) {
    PuntItem it;
    while (st->punt && rte_ring_sc_dequeue_elem(st->punt, &it, sizeof it) == 0)
      rte_pktmbuf_free(it.m);
    rte_mbuf* m;
    while (st->inject && rte_ring_sc_dequeue(st->inject, reinterpret_cast<void**>(&m)) == 0)
      rte_pktmbuf_free(m);
    rte_ring_free(st->punt);
    rte_ring_free(st->inject);
    st->~RouterWorkerState();
    rte_free(st);
  }
}

void RoutingCore::fill_interfaces(RouteSnapshot& snap, const RouterSettings& s) {
  for (auto& row : snap.iface_of) std::memset(row, kDpNoIface, sizeof row);
  snap.n_iface = static_cast<uint8_t>(s.interfaces.size());
  for (size_t i = 0; i < s.interfaces.size(); ++i) {
    const Interface& itf = s.interfaces[i];
    IfaceDp& d = snap.iface[i];
    Mac mac = itf.mac;
    if (!env_.host_mode) {
      d.port = env_.port_id(itf.port);
      if (!itf.mac_set) mac = env_.port_mac(d.port);
      snap.iface_of[d.port][itf.vlan] = static_cast<uint8_t>(i);
    } else {
      d.port = 0;
      snap.iface_of[0][itf.vlan] = static_cast<uint8_t>(i);
    }
    std::memcpy(d.mac, mac.data(), 6);
    d.vlan = itf.vlan;
    d.mtu = itf.mtu;
    d.seg = s.iface_segment[i];
    d.n4 = static_cast<uint8_t>(itf.ipv4.size());
    d.n6 = static_cast<uint8_t>(itf.ipv6.size());
    for (size_t k = 0; k < itf.ipv4.size(); ++k) d.ip4[k] = itf.ipv4[k].addr.v4();
    for (size_t k = 0; k < itf.ipv6.size(); ++k)
      std::memcpy(d.ip6[k], itf.ipv6[k].addr.b.data(), 16);
    std::memcpy(d.ll6, link_local_from_mac(mac).b.data(), 16);
  }
  snap.apart = s.apart;
}

std::unique_ptr<RouteSnapshot> RoutingCore::build(const RouterSettings& s, const RouteTable& t,
                                                  std::shared_ptr<FibTables> fib, uint64_t gen) {
  auto snap = std::make_unique<RouteSnapshot>();
  snap->generation = gen;
  snap->host_mode = env_.host_mode;
  snap->fib = std::move(fib);
  snap->fib4 = snap->fib->v4();
  snap->fib6 = snap->fib->v6();
  if (s.icmp.rate) {
    snap->icmp_cost = std::max<uint64_t>(1, env_.tsc_hz / s.icmp.rate);
    snap->icmp_cap = snap->icmp_cost * s.icmp.burst;
  }
  fill_interfaces(*snap, s);
  for (size_t i = 0; i < iface_up_.size() && i < kDpMaxIfaces; ++i)
    snap->iface_down[i].store(iface_up_[i] ? 0 : 1, std::memory_order_relaxed);
  snap->table = t;
  snap->n_adj = static_cast<uint32_t>(t.adjs.size());
  snap->adj = std::make_unique<AdjDp[]>(snap->n_adj);
  snap->adj_neigh.assign(snap->n_adj, -1);
  for (uint32_t a = 0; a < snap->n_adj; ++a) {
    const AdjSpec& spec = t.adjs[a];
    AdjDp& d = snap->adj[a];
    d.kind = static_cast<uint8_t>(spec.kind);
    d.iface = spec.iface;
    d.family = spec.gw.is_v4() ? kFamV4 : kFamV6;
    d.neigh = -1;
    std::memcpy(d.gw, spec.gw.b.data(), 16);
    if (spec.kind == AdjKind::kGateway) {
      d.neigh = neigh_->find(make_key(spec.iface, spec.gw));
      snap->adj_neigh[a] = d.neigh;
    }
  }
  snap->n_path = static_cast<uint32_t>(t.paths.size());
  snap->path = std::make_unique<PathDp[]>(snap->n_path);
  snap->selection.assign(snap->n_path, Selection{});
  for (uint32_t p = 0; p < snap->n_path; ++p) {
    snap->path[p].cross = t.paths[p].cross_segment;
    const Selection sel =
        select_active(t.paths[p], [&](uint32_t a) { return adj_usable(*snap, a); });
    set_selection(*snap, p, sel, false);
  }
  return snap;
}

bool RoutingCore::adj_usable(const RouteSnapshot& snap, uint32_t a) const {
  const AdjSpec& spec = snap.table.adjs[a];
  switch (spec.kind) {
    case AdjKind::kGateway: {
      if (!iface_up(spec.iface)) return false;
      const int32_t pos = snap.adj_neigh[a];
      return pos < 0 || neigh_->ctl(pos).fsm.route_usable();
    }
    case AdjKind::kOnLink:
      return iface_up(spec.iface);
    default:
      return true;
  }
}

void RoutingCore::set_selection(RouteSnapshot& snap, uint32_t p, const Selection& sel, bool keep) {
  PathDp& d = snap.path[p];
  std::array<uint16_t, kBuckets> b{};
  for (unsigned k = 0; k < kBuckets; ++k) b[k] = d.bucket[k].load(std::memory_order_relaxed);
  fill_buckets(b, sel.active, keep);
  for (unsigned k = 0; k < kBuckets; ++k) d.bucket[k].store(b[k], std::memory_order_relaxed);
  d.members.store(static_cast<uint8_t>(std::min<size_t>(sel.active.size(), 255)),
                  std::memory_order_release);
  snap.selection[p] = sel;
}

void RoutingCore::sync_neighbors(const RouterSettings& next, const RouteTable& t,
                                 const FibTables& fib, uint64_t now_ms) {
  // Entries the new config no longer explains: removed or renumbered interfaces, addresses
  // outside every subnet of their interface that no on-link route leads to through it, static
  // entries no longer configured.
  for (int32_t pos = 0; pos < static_cast<int32_t>(neigh_->slots()); ++pos) {
    NeighCtl& c = neigh_->ctl(pos);
    if (!c.in_use) continue;
    const uint8_t x = c.key.iface;
    bool keep = x < next.interfaces.size() && x < s_.interfaces.size() &&
                next.interfaces[x].name == s_.interfaces[x].name;
    if (keep) {
      const IpAddr a = key_addr(c.key);
      const bool ll = !a.is_v4() && a.b[0] == 0xfe && (a.b[1] & 0xc0) == 0x80;
      bool on_link = ll;
      for (const auto& ia : a.is_v4() ? next.interfaces[x].ipv4 : next.interfaces[x].ipv6)
        on_link |= ia.subnet().contains(a);
      // Outside the subnets: still a neighbour when an on-link route leads there through x.
      keep = on_link || onlink_route_to(t, fib, x, a);
    }
    if (keep && c.is_static) {
      keep = std::any_of(next.neighbors.statics.begin(), next.neighbors.statics.end(),
                         [&](const StaticNeighbor& sn) {
                           return sn.iface == x &&
                                  make_key(sn.iface, sn.ip).family == c.key.family &&
                                  std::memcmp(make_key(sn.iface, sn.ip).addr, c.key.addr, 16) == 0;
                         });
    }
    if (!keep) erase_neighbor(pos, vnf::DropReason::kNeighUnresolved);
  }
  make_room(next, t);
  // Static neighbours: permanent, with the interface's port where the appliance knows it.
  for (const auto& sn : next.neighbors.statics) {
    const NeighKey k = make_key(sn.iface, sn.ip);
    int32_t pos = neigh_->find(k);
    if (pos < 0) pos = neigh_->insert(k);
    if (pos < 0) {
      spdlog::error("neighbour table full: static neighbour {} not installed", to_string(sn.ip));
      continue;
    }
    NeighCtl& c = neigh_->ctl(pos);
    c.is_static = true;
    c.mac = pack_mac(sn.mac.data());
    c.port = env_.host_mode ? nw::kPortUnknown
                            : static_cast<uint8_t>(env_.port_id(next.interfaces[sn.iface].port));
    c.fsm.make_permanent();
    neigh_->publish(pos);
    if (!c.hold.empty()) release(pos);
  }
  // Route next hops: monitored entries, created now so that adjacencies can point at them.
  for (int32_t pos = 0; pos < static_cast<int32_t>(neigh_->slots()); ++pos)
    if (neigh_->ctl(pos).in_use) neigh_->ctl(pos).pins = 0;
  for (const AdjSpec& a : t.adjs) {
    if (a.kind != AdjKind::kGateway) continue;
    const NeighKey k = make_key(a.iface, a.gw);
    int32_t pos = neigh_->find(k);
    if (pos < 0) pos = create_neighbor(k, now_ms, false);
    if (pos < 0) {
      spdlog::error("neighbour table full: next hop {} cannot be tracked", to_string(a.gw));
      continue;
    }
    ++neigh_->ctl(pos).pins;
  }
  for (int32_t pos = 0; pos < static_cast<int32_t>(neigh_->slots()); ++pos) {
    NeighCtl& c = neigh_->ctl(pos);
    if (!c.in_use) continue;
    c.fsm.set_monitored(c.pins > 0, now_ms);
    neigh_->schedule(pos);
  }
}

// The entries the new config needs (static neighbours, route next hops; the loader keeps them
// within the table) always get one: when ordinary entries fill the table (traffic to many
// unresolved addresses), the unresolved ones, then the others, make room, their held packets
// dropped as neigh_table_full. One pass over the table; a grace period before the slots are
// reused (the hash defers their reuse until no worker can still read them).
void RoutingCore::make_room(const RouterSettings& next, const RouteTable& t) {
  auto bytes = [](const NeighKey& k) {
    return std::string(reinterpret_cast<const char*>(&k), sizeof k);
  };
  std::set<std::string> needed;
  size_t missing = 0;
  auto need = [&](const NeighKey& k) {
    if (needed.insert(bytes(k)).second && neigh_->find(k) < 0) ++missing;
  };
  for (const auto& sn : next.neighbors.statics) need(make_key(sn.iface, sn.ip));
  for (const AdjSpec& a : t.adjs)
    if (a.kind == AdjKind::kGateway) need(make_key(a.iface, a.gw));
  const size_t free = neigh_->capacity() - neigh_->size();
  if (missing <= free) return;
  size_t evict = missing - free;
  for (const bool any_state : {false, true}) {
    for (int32_t pos = 0; evict && pos < static_cast<int32_t>(neigh_->slots()); ++pos) {
      const NeighCtl& c = neigh_->ctl(pos);
      if (!c.in_use || c.is_static || needed.count(bytes(c.key))) continue;
      if (!any_state && c.fsm.state != NeighState::kIncomplete && !c.fsm.failed()) continue;
      erase_neighbor(pos, vnf::DropReason::kNeighTableFull);
      --evict;
    }
  }
  rte_rcu_qsbr_synchronize(env_.qsbr, RTE_QSBR_THRID_INVALID);
}

RoutingCore::Staged RoutingCore::prepare(RouterSettings next) {
  Staged st;
  st.table = build_route_table(next);  // may throw: nothing changed yet
  if (cur_ && cur_->table.same_fib(st.table)) {
    st.fib = cur_->fib;  // a million routes are not rebuilt for an MTU change
  } else {
    st.fib = std::make_shared<FibTables>(fmt::format("{}_f{}_", env_.name, fib_serial_++),
                                         st.table, next.fib, env_.socket);
  }
  st.settings = std::move(next);
  return st;
}

void RoutingCore::commit(Staged st, uint64_t now_ms) {
  now_ms_ = now_ms;
  RouterSettings next = std::move(st.settings);
  const RouteTable& t = st.table;
  std::shared_ptr<FibTables> fib = std::move(st.fib);
  const RouterSettings old = s_;
  const bool first = cur_ == nullptr;
  // Link state: what the port was last told (on_link_change) or polled; a port seen for the
  // first time starts from the driver's state.
  iface_up_.assign(next.interfaces.size(), true);
  if (!env_.host_mode)
    for (size_t i = 0; i < next.interfaces.size(); ++i) {
      const uint16_t p = env_.port_id(next.interfaces[i].port);
      if (p < polled_up_.size() && polled_up_[p] < 0 && env_.link_up) {
        polled_up_[p] = env_.link_up(p) ? 1 : 0;
        port_down_[p] = polled_up_[p] ? 0 : 1;
      }
      iface_up_[i] = !port_down(p);
    }
  sync_neighbors(next, t, *fib, now_ms);
  s_ = std::move(next);
  auto snap = build(s_, t, std::move(fib), ++generation_);
  cur_ = snap.get();
  pub_.publish(std::move(snap));  // returns once no worker can see the old tables

  path_example_.assign(t.paths.size(), "");
  path_prefixes_.assign(t.paths.size(), 0);
  for (const auto* list : {&t.v4, &t.v6})
    for (const auto& [p, id] : *list) {
      if (path_prefixes_[id]++ == 0) path_example_[id] = to_string(p);
    }
  // Announce addresses that are new or moved (gratuitous ARP, unsolicited NA, DAD probe).
  for (size_t i = 0; i < s_.interfaces.size(); ++i) {
    const Interface& itf = s_.interfaces[i];
    const Interface* o = old.interface(itf.name);
    if (first || !o || o->ipv4.size() != itf.ipv4.size() || o->ipv6.size() != itf.ipv6.size() ||
        o->mac != itf.mac || o->port != itf.port || o->vlan != itf.vlan ||
        !std::equal(o->ipv4.begin(), o->ipv4.end(), itf.ipv4.begin(),
                    [](const IfAddr& a, const IfAddr& b) { return a.addr == b.addr; }) ||
        !std::equal(o->ipv6.begin(), o->ipv6.end(), itf.ipv6.begin(),
                    [](const IfAddr& a, const IfAddr& b) { return a.addr == b.addr; }))
      announce(static_cast<uint8_t>(i));
  }
  routes_dirty_ = false;
}

void RoutingCore::refresh_paths() {
  routes_dirty_ = false;
  RouteSnapshot& snap = *cur_;
  for (uint32_t p = 0; p < snap.n_path; ++p) {
    const PathListSpec& spec = snap.table.paths[p];
    const Selection sel = select_active(spec, [&](uint32_t a) { return adj_usable(snap, a); });
    const Selection old = snap.selection[p];
    if (sel == old) continue;
    if (sel.tier == old.tier && sel.active == old.active) {  // same buckets, other health
      snap.selection[p] = sel;
      continue;
    }
    set_selection(snap, p, sel, sel.tier == old.tier);
    if (sel.tier == old.tier && sel.degraded == old.degraded) {
      spdlog::info(
          "route {}{}: ECMP members {} -> {}", path_example_[p],
          path_prefixes_[p] > 1 ? fmt::format(" (+{} prefixes)", path_prefixes_[p] - 1) : "",
          old.active.size(), sel.active.size());
      continue;
    }
    std::string via;
    for (uint32_t a : sel.active)
      via += (via.empty() ? "" : ", ") + describe_adj(s_, snap.table.adjs[a]);
    const auto& tier = spec.tiers[static_cast<size_t>(sel.tier)];
    const std::string what = fmt::format(
        "route {}{}: distance {} {} ({})", path_example_[p],
        path_prefixes_[p] > 1 ? fmt::format(" (+{} prefixes)", path_prefixes_[p] - 1) : "",
        tier.distance, via,
        sel.degraded ? "no usable next hop at any distance: keeping the best" : "now active");
    if (sel.tier > old.tier || sel.degraded) {
      stats_.failovers.add();
      spdlog::warn("{}", what);
    } else {
      stats_.fallbacks.add();
      spdlog::info("{}", what);
    }
  }
}

// The driver's link state, as the engine refreshes it: only its changes count, so that a
// driver that always says "up" (af_packet) never overrides what on_link_change was told.
void RoutingCore::poll_links() {
  if (env_.host_mode || !env_.link_up) return;
  for (const Interface& itf : s_.interfaces) {
    const uint16_t p = env_.port_id(itf.port);
    if (p >= polled_up_.size()) continue;
    const int8_t up = env_.link_up(p) ? 1 : 0;
    if (up == polled_up_[p]) continue;
    polled_up_[p] = up;
    set_link(p, up != 0, now_ms_);
  }
}

void RoutingCore::on_link_change(uint16_t port, bool up, uint64_t now_ms) {
  std::lock_guard lock(mu_);
  now_ms_ = now_ms;
  set_link(port, up, now_ms);
  if (routes_dirty_) refresh_paths();  // backups take over now, not at the next tick
  flush_injects();
}

void RoutingCore::announce_port(uint16_t port) {
  std::lock_guard lock(mu_);
  if (env_.host_mode) return;
  for (size_t i = 0; i < s_.interfaces.size(); ++i)
    if (env_.port_id(s_.interfaces[i].port) == port) announce(static_cast<uint8_t>(i));
  flush_injects();
}

void RoutingCore::set_link(uint16_t port, bool up, uint64_t now_ms) {
  if (port >= port_down_.size() || port_down_[port] == !up) return;
  port_down_[port] = !up;
  stats_.link_changes.add();
  std::vector<uint8_t> on_port;  // appliance: the port's interfaces
  if (!env_.host_mode)
    for (size_t i = 0; i < s_.interfaces.size(); ++i)
      if (env_.port_id(s_.interfaces[i].port) == port) on_port.push_back(static_cast<uint8_t>(i));
  for (uint8_t x : on_port) {
    iface_up_[x] = up;
    cur_->iface_down[x].store(up ? 0 : 1, std::memory_order_relaxed);  // workers: link_down
    spdlog::log(up ? spdlog::level::info : spdlog::level::warn, "interface '{}': link {}",
                s_.interfaces[x].name, up ? "up" : "down");
  }
  // The neighbours behind the port: on its interfaces (appliance), learned on it (host).
  const NeighTimers t = timers();
  for (int32_t pos = 0; pos < static_cast<int32_t>(neigh_->slots()); ++pos) {
    NeighCtl& c = neigh_->ctl(pos);
    if (!c.in_use) continue;
    const bool behind =
        env_.host_mode ? c.port == port
                       : std::find(on_port.begin(), on_port.end(), c.key.iface) != on_port.end();
    if (!behind) continue;
    if (!up) {
      drop_held(pos, vnf::DropReason::kLinkDown);
      if (c.is_static) continue;  // permanent; nothing is routed out of a down interface
      if (!c.pins) {              // forgotten, as the kernel does on carrier loss
        neigh_->erase(pos);
        continue;
      }
      if (c.fsm.route_usable())
        spdlog::warn("next hop {} dev {}: link down: unreachable", to_string(key_addr(c.key)),
                     s_.interfaces[c.key.iface].name);
      c.fsm.link_down(now_ms, t);
      neigh_->publish(pos);
      neigh_->schedule(pos);
    } else if (c.pins && c.fsm.link_up(now_ms, t)) {
      neigh_->schedule(pos);
      send_probe(pos, false);
    }
  }
  if (up)
    for (uint8_t x : on_port) announce(x);
  routes_dirty_ = true;
}

void RoutingCore::run_timers(uint64_t now_ms) {
  now_ms_ = now_ms;
  for (int32_t pos : neigh_->due(now_ms, 4096)) tick_entry(pos, now_ms);
}

void RoutingCore::flush_injects() {
  for (size_t w = 0; w < pending_.size(); ++w) {
    auto& q = pending_[w];
    while (!q.empty() && rte_ring_sp_enqueue(states_[w]->inject, q.front()) == 0) q.pop_front();
  }
}

bool RoutingCore::tick(uint64_t now_ms) {
  std::lock_guard lock(mu_);
  now_ms_ = now_ms;
  flush_injects();
  const bool busy = drain_punts(now_ms) > 0;
  run_timers(now_ms);
  if (now_ms >= next_link_poll_ms_) {
    poll_links();
    next_link_poll_ms_ = now_ms + kLinkPollMs;
  }
  if (routes_dirty_) refresh_paths();
  flush_injects();
  return busy;
}

const Selection* RoutingCore::selection_for(const Prefix& p) const {
  const auto& list = p.addr.is_v4() ? cur_->table.v4 : cur_->table.v6;
  const auto it = std::lower_bound(list.begin(), list.end(), std::make_pair(p, 0u),
                                   [](const auto& a, const auto& b) { return a.first < b.first; });
  if (it == list.end() || it->first != p) return nullptr;
  return &cur_->selection[it->second];
}

uint64_t RoutingCore::worker_total(vnf::Counter RouterWorkerState::*c) const {
  uint64_t t = 0;
  for (const auto* st : states_) t += (st->*c).get();
  return t;
}

std::array<uint64_t, 7> RoutingCore::iface_totals(uint8_t x) const {
  std::array<uint64_t, 7> t{};
  for (const auto* st : states_) {
    const IfaceCounters& c = st->iface[x];
    t[0] += c.rx_packets.get();
    t[1] += c.rx_bytes.get();
    t[2] += c.out_packets.get();
    t[3] += c.out_bytes.get();
    t[4] += c.icmp_out.get();
    t[5] += c.control_in.get();
    t[6] += c.dropped.get();
  }
  return t;
}

std::vector<std::string> RoutingCore::route_lines(size_t offset, size_t limit,
                                                  size_t* total) const {
  std::vector<std::string> out;
  const RouteSnapshot& snap = *cur_;
  size_t n = 0;
  for (const auto* list : {&snap.table.v4, &snap.table.v6}) {
    for (const auto& [prefix, id] : *list) {
      const PathListSpec& p = snap.table.paths[id];
      const Selection& sel = snap.selection[id];
      for (size_t t = 0; t < p.tiers.size(); ++t) {
        for (uint32_t a : p.tiers[t].adjs) {
          if (n++ < offset || out.size() >= limit) continue;
          const AdjSpec& spec = snap.table.adjs[a];
          const char* kind = p.tiers[t].distance == 0
                                 ? (spec.kind == AdjKind::kLocal       ? "local"
                                    : spec.kind == AdjKind::kNotRouted ? "broadcast"
                                                                       : "connected")
                                 : "static";
          const bool active =
              static_cast<int>(t) == sel.tier && !sel.degraded &&
              std::find(sel.active.begin(), sel.active.end(), a) != sel.active.end();
          const char* state = active ? "active" : adj_usable(snap, a) ? "backup" : "down";
          out.push_back(fmt::format("{} {} distance {} {} {}{}", to_string(prefix),
                                    describe_adj(s_, spec), p.tiers[t].distance, kind, state,
                                    p.cross_segment ? " cross_segment" : ""));
        }
      }
    }
  }
  if (total) *total = n;
  return out;
}

std::vector<std::string> RoutingCore::neighbor_lines(uint64_t now_ms) const {
  std::vector<std::string> out;
  for (int32_t pos = 0; pos < static_cast<int32_t>(neigh_->slots()); ++pos) {
    const NeighCtl& c = neigh_->ctl(pos);
    if (!c.in_use) continue;
    uint8_t mac[6];
    unpack_mac(c.mac, mac);
    const uint8_t x = c.key.iface;
    std::string flags;
    if (c.pins) flags += " nexthop";
    if (c.is_static) flags += " static";
    if (!c.hold.empty()) flags += fmt::format(" held={}", c.hold.size());
    const uint64_t age = c.fsm.confirmed_ms && now_ms > c.fsm.confirmed_ms
                             ? (now_ms - c.fsm.confirmed_ms) / 1000
                             : 0;
    out.push_back(fmt::format("{} {} dev {} {} confirmed {}s ago{}", to_string(key_addr(c.key)),
                              c.fsm.has_mac ? format_mac(mac) : std::string("-"),
                              x < s_.interfaces.size() ? s_.interfaces[x].name : "?",
                              neigh_state_name(c.fsm.state), age, flags));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace vrouter
