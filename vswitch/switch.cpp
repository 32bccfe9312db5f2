#include "vswitch/switch.h"

#include "common/af_packet.h"
#include "common/app.h"
#include "common/reload.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace vswitch {

namespace {

// A RARP request announcing `mac` (as QEMU's announce-self and Open vSwitch's SLB bonds send
// them): the upstream switch learns the MAC on the port the frame arrives on. Tagged with
// (tpid, vlan) when tpid is not 0. Null when the pool is empty.
rte_mbuf* rarp_frame(rte_mempool* pool, const uint8_t mac[6], uint16_t tpid, uint16_t vlan) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (!m) return nullptr;
  const uint16_t len = 60;  // minimum Ethernet frame without FCS
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, tpid ? len + 4 : len));
  std::memset(p, 0, tpid ? len + 4 : len);
  std::memset(p, 0xff, 6);
  std::memcpy(p + 6, mac, 6);
  uint8_t* q = p + 12;
  auto put16 = [&q](uint16_t v) {
    q[0] = static_cast<uint8_t>(v >> 8);
    q[1] = static_cast<uint8_t>(v);
    q += 2;
  };
  if (tpid) {
    put16(tpid);
    put16(vlan);
  }
  put16(0x8035);  // RARP
  put16(1);       // hardware: Ethernet
  put16(0x0800);  // protocol: IPv4
  *q++ = 6;
  *q++ = 4;
  put16(3);                     // reverse request
  std::memcpy(q, mac, 6);       // sender hardware address; sender IP 0
  std::memcpy(q + 10, mac, 6);  // target hardware address; target IP 0
  return m;
}

}  // namespace

// After a bond's failover: a RARP out of the new active member for every MAC behind the other
// ports in the segments the bond carries, so that the upstream switch moves them at once
// instead of sending their traffic into the dead link until it ages out. At most
// kMaxAnnounce frames; the rest are relearned from traffic.
void Switch::announce_macs(const vnf::PortState& bond, std::vector<rte_mbuf*>& out) {
  constexpr size_t kMaxAnnounce = 1024;
  const L2Snapshot& snap = *published_.get();
  const PortPolicy& pol = snap.port[bond.id];
  size_t skipped = 0;
  std::lock_guard lock(macs_->mutex());
  macs_->for_each([&](const MacKey& k, uint16_t port, bool, uint32_t) {
    if (port == bond.id || !pol.allowed[k.vlan & 0xFFF]) return;
    if (out.size() >= kMaxAnnounce) {
      ++skipped;
      return;
    }
    if (rte_mbuf* m = rarp_frame(engine_.pool(), k.mac, pol.egress_tpid(k.vlan), k.vlan))
      out.push_back(m);
  });
  if (skipped)
    spdlog::info(
        "bond '{}': {} more MACs not announced (at most {}): they move upstream with "
        "their next frame",
        bond.device.name, skipped, kMaxAnnounce);
}

namespace {
constexpr unsigned kLearnRingSize = 4096;
constexpr uint64_t kAgePeriodMs = 100;
}  // namespace

Switch::Switch(vnf::Engine& engine, SwitchConfig cfg)
    : engine_(engine), cfg_(std::move(cfg)), published_(engine.qsbr()) {
  static std::atomic<unsigned> instance{0};
  const unsigned inst = instance++;
  macs_ = std::make_unique<MacTable>(fmt::format("vsw_mac_{}", inst), cfg_.mac.table_size,
                                     engine.qsbr(), engine.socket());
  if (cfg_.firewall) fw_ = std::make_unique<vfirewall::Firewall>(engine, *cfg_.firewall);
  if (cfg_.router) {
    vrouter::CoreEnv env;
    env.name = fmt::format("vswrt{}", inst);
    env.qsbr = engine.qsbr();
    env.pool = engine.pool();
    env.socket = engine.socket();
    env.host_mode = true;
    env.tsc_hz = rte_get_tsc_hz();
    for (unsigned i = 0; i < engine.worker_count(); ++i) env.workers.push_back(&engine.worker(i));
    rt_ = std::make_unique<vrouter::RoutingCore>(env, *cfg_.router, vnf::monotonic_ms());
  }
  for (unsigned i = 0; i < engine.worker_count(); ++i) {
    vnf::WorkerContext& w = engine.worker(i);
    L2WorkerState* st = create_l2_state(fmt::format("vsw_learn_{}_{}", inst, i), w.socket);
    states_.push_back(st);
    pipelines_.push_back(
        std::make_unique<SwitchPipeline>(published_, *macs_, *st, w, fw_.get(), rt_.get(), i));
  }
  std::vector<LimitWorkerState*> lim;
  for (L2WorkerState* st : states_) lim.push_back(st->lim);
  limits_ = std::make_unique<LimitRows>(std::move(lim));
  // A port whose link went down (a VM shut down or migrating away): what was learned behind
  // it is forgotten at once, so that traffic to those MACs floods and finds them wherever
  // they come up again (as the Linux bridge does on carrier loss).
  engine.set_bond_announcer([this](const vnf::PortState& bond, std::vector<rte_mbuf*>& out) {
    announce_macs(bond, out);
  });
  engine.add_link_listener([this](const vnf::PortState& p) {
    if (rt_) rt_->on_link_change(p.id, p.link_up, vnf::monotonic_ms());
    if (p.link_up) return;
    std::lock_guard lock(macs_->mutex());
    const unsigned n = macs_->remove_if(
        [&](const MacKey&, uint16_t port, bool is_static) { return port == p.id && !is_static; });
    if (n) spdlog::info("port '{}': link down: {} learned MACs flushed", p.device.name, n);
  });
  std::lock_guard lock(macs_->mutex());
  published_.publish(build_snapshot(cfg_, 1));
  limits_->commit();
  sync_static_and_limits();
  audit_.applied(1, cfg_.file, cfg_.hash, vnf::Requester{},
                 fmt::format("{} segments, {} ports", cfg_.segments.size(), cfg_.ports.size()));
}

Switch::~Switch() {
  engine_.clear_link_listeners();
  engine_.set_bond_announcer({});
  for (auto* st : states_) destroy_l2_state(st);
}

L2WorkerState* create_l2_state(const std::string& name, int socket) {
  void* mem =
      rte_zmalloc_socket("vsw_l2_state", sizeof(L2WorkerState), RTE_CACHE_LINE_SIZE, socket);
  if (!mem) throw std::runtime_error("cannot allocate vswitch worker state");
  auto* st = new (mem) L2WorkerState();
  st->vlan = static_cast<VlanCounters*>(rte_zmalloc_socket(
      "vsw_vlan_counters", sizeof(VlanCounters) * 4096, RTE_CACHE_LINE_SIZE, socket));
  st->dst_cache = static_cast<DstCacheEntry*>(
      rte_malloc_socket("vsw_dst_cache", sizeof(DstCacheEntry) * L2WorkerState::kDstCache,
                        RTE_CACHE_LINE_SIZE, socket));
  st->src_cache = static_cast<SrcCacheEntry*>(
      rte_malloc_socket("vsw_src_cache", sizeof(SrcCacheEntry) * L2WorkerState::kSrcCache,
                        RTE_CACHE_LINE_SIZE, socket));
  st->learn_ring = rte_ring_create_elem(name.c_str(), sizeof(LearnEvent), kLearnRingSize, socket,
                                        RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (void* lm =
          rte_zmalloc_socket("vsw_limits", sizeof(LimitWorkerState), RTE_CACHE_LINE_SIZE, socket))
    st->lim = new (lm) LimitWorkerState();
  if (!st->vlan || !st->dst_cache || !st->src_cache || !st->learn_ring || !st->lim) {
    destroy_l2_state(st);
    throw std::runtime_error("cannot allocate vswitch worker state (" + name + ")");
  }
  for (unsigned k = 0; k < L2WorkerState::kDstCache; ++k)
    st->dst_cache[k] = DstCacheEntry{kEmptyKey, 0, 0, 0};
  for (unsigned k = 0; k < L2WorkerState::kSrcCache; ++k)
    st->src_cache[k] = SrcCacheEntry{kEmptyKey, 0, 0, 0, -1, 0};
  return st;
}

void destroy_l2_state(L2WorkerState* st) {
  if (!st) return;
  rte_ring_free(st->learn_ring);
  rte_free(st->vlan);
  rte_free(st->dst_cache);
  rte_free(st->src_cache);
  if (LimitWorkerState* l = st->lim) {
    for (auto& q : l->shape) {
      const uint32_t n = q.count.load(std::memory_order_relaxed);
      for (uint32_t k = 0; k < n; ++k) rte_pktmbuf_free(q.ring[(q.head + k) % kShapeQueueMax]);
      rte_free(q.ring);
    }
    for (LimitCell* c : l->chunk) rte_free(c);
    l->~LimitWorkerState();
    rte_free(l);
  }
  st->~L2WorkerState();
  rte_free(st);
}

void Switch::sync_static_and_limits() {
  // Static entries: drop those no longer configured, (re)install the configured ones.
  std::vector<MacKey> wanted;
  std::unordered_set<uint64_t> wanted_bits;  // O(1) membership: 100 k static entries happen
  for (const auto& sm : cfg_.mac.statics) {
    MacKey k{cfg_.segment(sm.segment)->vlan, {}};
    std::copy(sm.mac.begin(), sm.mac.end(), k.mac);
    wanted.push_back(k);
    wanted_bits.insert(key_bits(k));
  }
  macs_->remove_if([&](const MacKey& k, uint16_t, bool is_static) {
    return is_static && !wanted_bits.count(key_bits(k));
  });
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (!macs_->add_static(wanted[i], engine_.port_id(cfg_.mac.statics[i].port)))
      spdlog::error("MAC table full: static entry {} not installed", format_mac(wanted[i].mac));
  }
  for (const auto& p : cfg_.ports) macs_->set_limit(engine_.port_id(p.name), p.mac_limit);
  for (uint16_t v = 0; v < 4096; ++v) macs_->set_vlan_limit(v, 0);
  for (const auto& seg : cfg_.segments) macs_->set_vlan_limit(seg.vlan, seg.mac_limit);
}

Switch::PortChanges Switch::stage_ports(const SwitchConfig& next) {
  PortChanges pc;
  for (const auto& r : cfg_.devices) {
    const auto it = std::find_if(next.devices.begin(), next.devices.end(),
                                 [&](const vnf::PortDevice& d) { return d.name == r.name; });
    if (it == next.devices.end()) {
      pc.gone.push_back(r.name);
    } else if (!r.same_device(*it) &&
               !(r.kind == vnf::PortKind::kBond && it->kind == vnf::PortKind::kBond)) {
      // (A bond stays: its members change in place, Engine::add_bond_members/settle_bonds.)
      pc.changed.push_back(r);
      pc.fresh.push_back(*it);
    } else {
      continue;
    }
    pc.old_ids.push_back(engine_.port_id(r.name));
  }
  for (const auto& d : next.devices)
    if (std::none_of(cfg_.devices.begin(), cfg_.devices.end(),
                     [&](const vnf::PortDevice& r) { return r.name == d.name; }))
      pc.fresh.push_back(d);
  // A changed device goes before its replacement comes: they may use the same interface or
  // socket. Its frames are dropped (link_down) until the new config is live.
  std::vector<std::string> changed;
  for (const auto& d : pc.changed) changed.push_back(d.name);
  engine_.remove_ports(changed);
  try {
    engine_.add_ports(pc.fresh);  // set up and started; not polled before publish_rx()
  } catch (...) {
    unstage_ports(pc, false);
    throw;
  }
  return pc;
}

void Switch::unstage_ports(const PortChanges& pc, bool fresh_added) {
  if (fresh_added) {
    std::vector<std::string> names;
    for (const auto& d : pc.fresh) names.push_back(d.name);
    engine_.remove_ports(names);
  }
  if (pc.changed.empty()) return;
  try {
    engine_.add_ports(pc.changed);
    engine_.publish_rx();
  } catch (const std::exception& e) {
    spdlog::error("the reload failed and a changed port could not be brought back: {}", e.what());
  }
}

void Switch::apply(SwitchConfig next, const vnf::Requester& who) {
  // Ports first: those the file adds (or whose device it changes) must exist for the router,
  // the firewall and L2 to name them.
  const PortChanges pc = stage_ports(next);
  try {
    engine_.add_bond_members(next.devices);  // members a bond gains (all or nothing)
  } catch (...) {
    unstage_ports(pc, true);
    throw;
  }
  const auto bond_changes = vnf::diff_bonds(cfg_.devices, next.devices);
  // Every part compiles before any is published: the router's tables, the firewall's rules,
  // the L2 snapshot. A part that throws leaves the whole host as it was (the log's "running
  // config unchanged" is then true; ports it added are removed again); only then are they
  // published, router, L2, firewall.
  std::unique_lock<std::mutex> rlock;
  std::optional<vrouter::RoutingCore::Staged> rs;
  std::optional<vfirewall::Firewall::Staged> fs;
  std::unique_ptr<L2Snapshot> l2;
  std::unique_lock<std::mutex> lock(macs_->mutex(), std::defer_lock);
  uint64_t gen = 0;
  try {
    if (rt_ && next.router) {
      rlock = std::unique_lock<std::mutex>(rt_->mutex());
      rs = rt_->prepare(*next.router);
    }
    if (fw_ && next.firewall) fs = fw_->prepare(*next.firewall);
    lock.lock();
    gen = audit_.next_generation();
    l2 = build_snapshot(next, gen);
  } catch (...) {
    limits_->abort();
    if (lock.owns_lock()) lock.unlock();
    if (rlock.owns_lock()) rlock.unlock();
    engine_.settle_bonds(cfg_.devices);  // the members this reload added leave again
    unstage_ports(pc, true);
    throw;
  }

  if (rs) rt_->commit(std::move(*rs), vnf::monotonic_ms());
  if (rlock.owns_lock()) rlock.unlock();
  const auto changes = diff(cfg_, next);
  cfg_ = std::move(next);
  published_.publish(std::move(l2));
  limits_->commit();  // meter slots of rows gone are free again
  // The workers now use the new tables. Entries learned on ports that no longer carry their
  // segment would send traffic where it may not go: flush them now.
  // A port removed or with a new device: what was learned behind it goes too (its id may come
  // back for another VM).
  const L2Snapshot& s = *published_.get();
  const auto old_port = [&](uint16_t port) {
    return std::find(pc.old_ids.begin(), pc.old_ids.end(), port) != pc.old_ids.end();
  };
  const unsigned flushed = macs_->remove_if([&](const MacKey& k, uint16_t port, bool is_static) {
    return !is_static && (!s.port[port].allowed.test(k.vlan) || old_port(port));
  });
  sync_static_and_limits();
  lock.unlock();
  // The firewall's new rules, compiled above, published by its own RCU swap; established
  // connections are rechecked (recheck_established).
  if (fs) fw_->commit(std::move(*fs), who);
  long conns = 0;
  if (fw_)
    for (uint16_t id : pc.old_ids) {
      const long n = fw_->flush_port(id);
      if (n < 0) spdlog::warn("port id {}: the workers did not flush its connections", id);
      conns += std::max(n, 0L);
    }
  // Now the workers poll the new ports, and stop polling the removed ones (which are closed).
  if (!pc.gone.empty())
    engine_.remove_ports(pc.gone);
  else if (!pc.fresh.empty())
    engine_.publish_rx();
  // Members the file no longer lists leave their bonds; new primary, revert and delays apply.
  engine_.settle_bonds(cfg_.devices);
  std::string detail;
  for (const auto& c : changes) detail += (detail.empty() ? "" : "; ") + c;
  for (const auto& c : bond_changes) detail += (detail.empty() ? "" : "; ") + c;
  const auto names = [](const auto& v, auto name) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ", ") + name(x);
    return out;
  };
  const auto dev_name = [](const vnf::PortDevice& d) { return d.name; };
  const auto str = [](const std::string& n) { return n; };
  const auto part = [&detail](const std::string& what) {
    detail += (detail.empty() ? "" : "; ") + what;
  };
  std::vector<vnf::PortDevice> added;  // fresh holds the new devices of changed ports too
  for (const auto& d : pc.fresh)
    if (std::none_of(pc.changed.begin(), pc.changed.end(),
                     [&](const vnf::PortDevice& c) { return c.name == d.name; }))
      added.push_back(d);
  if (!added.empty()) part("ports added: " + names(added, dev_name));
  if (!pc.gone.empty()) part("ports removed: " + names(pc.gone, str));
  if (!pc.changed.empty()) part("devices changed: " + names(pc.changed, dev_name));
  if (detail.empty()) detail = "no changes";
  if (flushed) detail += fmt::format("; {} learned MACs flushed", flushed);
  if (conns) detail += fmt::format("; {} connections flushed", conns);
  audit_.applied(gen, cfg_.file, cfg_.hash, who, detail);
}

void Switch::reload(const vnf::Requester& who) {
  vnf::reload_file<SwitchConfig>(
      cfg_.file, audit_, who, parse_switch_config,
      [&](const SwitchConfig& next, const auto& root) { check_reloadable(cfg_, next, root); },
      [&](SwitchConfig next) { apply(std::move(next), who); });
}

unsigned Switch::drain_learn_events(unsigned budget) {
  const L2Snapshot& s = *published_.get();
  unsigned n = 0;
  LearnEvent ev[64];
  for (auto* st : states_) {
    unsigned left = budget;
    while (left) {
      const unsigned got = rte_ring_sc_dequeue_burst_elem(st->learn_ring, ev, sizeof(LearnEvent),
                                                          std::min(left, 64u), nullptr);
      if (got == 0) break;
      left -= got;
      for (unsigned i = 0; i < got; ++i) {
        // Requests made before a reload may name a port that no longer carries the VLAN.
        if (ev[i].port >= vnf::kMaxPorts || !s.port[ev[i].port].allowed.test(ev[i].key.vlan))
          continue;
        macs_->learn(ev[i].key, ev[i].port, ev[i].now_s);
        ++n;
      }
    }
  }
  return n;
}

unsigned Switch::age(uint32_t now_s, unsigned budget) {
  return macs_->age(now_s, cfg_.mac.aging_s, budget);
}

bool Switch::tick(uint64_t now_ms) {
  bool busy = fw_ && fw_->tick(now_ms);
  if (rt_) busy |= rt_->tick(now_ms);
  std::lock_guard lock(macs_->mutex());
  busy |= drain_learn_events() > 0;
  if (now_ms >= next_age_ms_) {
    // A full sweep about every second, in slices.
    busy |= age(coarse_seconds(), std::max<unsigned>(1024, macs_->capacity() / 10)) > 0;
    next_age_ms_ = now_ms + kAgePeriodMs;
  }
  log_table_pressure(now_ms);
  if (now_ms >= next_limit_sample_ms_) {
    limits_->sample(now_ms);  // measured rates for show limits
    next_limit_sample_ms_ = now_ms + 1000;
  }
  return busy;
}

std::unique_ptr<L2Snapshot> Switch::build_snapshot(const SwitchConfig& c, uint64_t gen) {
  const auto port_id = [&](const std::string& n) { return engine_.port_id(n); };
  auto s = build_l2_snapshot(c, gen, port_id);
  const auto rx_share = [&](uint16_t id) -> unsigned {
    const vnf::PortState* p = engine_.port_by_id(id);
    return p ? std::min<unsigned>(p->rx_queues, engine_.worker_count()) : 1;
  };
  // Frames a shaper holds are mbufs the ports cannot receive into: shaper queues may take at
  // most a quarter of the pool, so that a shaped VM cannot starve the others' rx.
  uint64_t held = 0;
  for (const auto& p : c.ports)
    if (p.limit.tx.shape) held += uint64_t{p.limit.tx.queue} * engine_.worker_count();
  const uint64_t budget = engine_.pool()->size / 4;
  if (held > budget)
    throw std::runtime_error(fmt::format(
        "shaper queues could hold {} mbufs ({} workers), more than a quarter of the pool ({} of "
        "{}): lower limit.tx.queue or raise engine.mbufs (a restart)",
        held, engine_.worker_count(), budget, engine_.pool()->size));
  // The file's check assumed the configured MTU (or 1500); an af_packet port takes its
  // interface's, which may be larger: a bucket smaller than a frame never lets it pass.
  for (size_t i = 0; i < c.ports.size(); ++i) {
    const PortLimits& l = c.ports[i].limit;
    if (!l.any()) continue;
    const vnf::PortState* ps = engine_.find_port(c.ports[i].name);
    const uint32_t mtu = ps ? ps->device.port_mtu() : c.devices[i].port_mtu();
    const uint64_t longest = vnf::max_frame_len(mtu);
    auto check = [&](const MeterSpec& m, const std::string& what) {
      const uint64_t b = m.peak_rate_bps ? std::min(m.burst, m.peak_burst) : m.burst;
      if (m.rate_bps && !m.shape && b < longest)
        throw std::runtime_error(fmt::format(
            "port {}: limit {}: a burst of {} bytes is less than the port's longest frame ({} "
            "bytes at mtu {}): such frames would never pass",
            c.ports[i].name, what, b, longest, mtu));
    };
    check(l.rx, "rx");
    check(l.tx, "tx");
    for (const auto& k : l.classes) {
      check(k.rx, "class " + k.name + " rx");
      check(k.tx, "class " + k.name + " tx");
    }
    for (const auto& g : l.segments) {
      check(g.rx, "segment " + g.segment + " rx");
      check(g.tx, "segment " + g.segment + " tx");
    }
  }
  limits_->compile(c, port_id, rx_share, rte_get_tsc_hz(), s->limits);
  return s;
}

void Switch::log_table_pressure(uint64_t now_ms) {
  if (now_ms < next_pressure_log_ms_) return;
  next_pressure_log_ms_ = now_ms + 10000;  // at most one line per kind every 10 s
  const auto& st = macs_->stats();
  if (st.table_full.get() != logged_full_) {
    spdlog::warn("MAC table full ({} entries): {} new MACs refused in the last 10 s",
                 macs_->capacity(), st.table_full.get() - logged_full_);
    logged_full_ = st.table_full.get();
  }
  const uint64_t seg_refused = segment_limit_refused();
  if (seg_refused != logged_segment_limit_) {
    std::string segs;
    for (const auto& seg : cfg_.segments)
      if (macs_->vlan_at_limit(seg.vlan)) segs += (segs.empty() ? "" : ", ") + seg.name;
    spdlog::warn("segment MAC limits: {} new MACs not learned in the last 10 s (at their limit: "
                 "{}; see /vnf/segments)",
                 seg_refused - logged_segment_limit_, segs.empty() ? "none now" : segs);
    logged_segment_limit_ = seg_refused;
  }
  if (st.limit_refused.get() != logged_limit_) {
    spdlog::warn("port MAC limits: {} new MACs refused in the last 10 s (see /vnf/switchports)",
                 st.limit_refused.get() - logged_limit_);
    logged_limit_ = st.limit_refused.get();
  }
  if (learn_ring_full() != logged_ring_full_) {
    spdlog::warn("learn queue full: {} learn requests lost in the last 10 s",
                 learn_ring_full() - logged_ring_full_);
    logged_ring_full_ = learn_ring_full();
  }
}

uint64_t Switch::vlan_total(uint16_t vlan, int which) const {
  uint64_t t = 0;
  for (const auto* st : states_) {
    const VlanCounters& c = st->vlan[vlan & 0xFFF];
    t += which == 0   ? c.rx_packets.get()
         : which == 1 ? c.rx_bytes.get()
         : which == 2 ? c.flooded.get()
                      : c.dropped.get();
  }
  return t;
}

uint64_t Switch::segment_limit_refused(int vlan) const {
  uint64_t t = 0;
  for (const auto* st : states_) {
    if (vlan >= 0) {
      t += st->vlan[vlan & 0xFFF].not_learned.get();
    } else {
      for (unsigned v = 0; v < 4096; ++v) t += st->vlan[v].not_learned.get();
    }
  }
  return vlan >= 0 ? t : t + macs_->stats().segment_limit_refused.get();
}

uint64_t Switch::learn_requests() const {
  uint64_t t = 0;
  for (const auto* st : states_) t += st->learn_requests.get();
  return t;
}

uint64_t Switch::learn_ring_full() const {
  uint64_t t = 0;
  for (const auto* st : states_) t += st->learn_ring_full.get();
  return t;
}

}  // namespace vswitch
