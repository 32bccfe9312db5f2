#include "vrouter/router.h"

#include <cstring>

#include <rte_ethdev.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/app.h"
#include "common/reload.h"
#include "common/telemetry.h"
#include "common/why_request.h"

namespace vrouter {

Router::Router(vnf::Engine& engine, RouterConfig cfg) : engine_(engine), cfg_(std::move(cfg)) {
  static std::atomic<unsigned> instance{0};  // several routers in one test process
  CoreEnv env;
  env.name = fmt::format("rt{}", instance++);
  env.qsbr = engine.qsbr();
  env.pool = engine.pool();
  env.socket = engine.socket();
  for (unsigned i = 0; i < engine.worker_count(); ++i) env.workers.push_back(&engine.worker(i));
  env.host_mode = false;
  env.tsc_hz = engine.worker_count() ? engine.worker(0).tsc_hz : 0;
  env.port_id = [&engine](const std::string& n) { return engine.port_id(n); };
  env.port_mac = [](uint16_t port) {
    rte_ether_addr a{};
    rte_eth_macaddr_get(port, &a);
    Mac m;
    std::copy(a.addr_bytes, a.addr_bytes + 6, m.begin());
    return m;
  };
  env.link_up = [&engine](uint16_t port) {
    const vnf::PortState* p = engine.port_by_id(port);
    return p == nullptr || p->link_up;
  };
  core_ = std::make_unique<RoutingCore>(std::move(env), cfg_.settings, vnf::monotonic_ms());
  // The engine's link events (rtnetlink for af_packet and tap): next hops behind a port that
  // went down fail over at once instead of at the next poll.
  engine.add_link_listener([this](const vnf::PortState& p) { on_link_change(p.id, p.link_up); });
  // A bond's failover: the interfaces on it announce themselves out of the new active member
  // (through the router's own inject path, not the engine's frame list).
  engine.set_bond_announcer([this](const vnf::PortState& bond, std::vector<rte_mbuf*>&) {
    core_->announce_port(bond.id);
  });
  for (unsigned i = 0; i < engine.worker_count(); ++i) {
    scratch_.push_back(std::make_unique<RouterWorkerState>());
    pipelines_.push_back(std::make_unique<RouterPipeline>(core_->published(), core_->neigh_view(),
                                                          core_->worker_state(i), *scratch_.back(),
                                                          engine.worker(i)));
  }
  const auto& s = cfg_.settings;
  audit_.applied(1, cfg_.file, cfg_.hash, vnf::Requester{},
                 fmt::format("{} interfaces, {} static routes, {} IPv4 / {} IPv6 prefixes",
                             s.interfaces.size(), s.routes.size(),
                             core_->snapshot().table.v4.size(), core_->snapshot().table.v6.size()));
}

Router::~Router() {
  engine_.clear_link_listeners();
  engine_.set_bond_announcer({});
}

void Router::apply(RouterConfig next, const vnf::Requester& who, uint64_t now_ms) {
  // Bond members the file adds join first (all or nothing); those it drops leave once the
  // reload is committed, and the added ones leave again when it is not. Outside the core's
  // lock: a failover calls back into the core.
  engine_.add_bond_members(next.devices);
  auto changes = diff(cfg_.settings, next.settings);
  for (auto& c : vnf::diff_bonds(cfg_.devices, next.devices)) changes.push_back(std::move(c));
  {
    std::unique_lock lock(core_->mutex());
    const uint64_t gen = audit_.next_generation();
    try {
      // Throws before changing anything.
      core_->apply(next.settings, now_ms ? now_ms : vnf::monotonic_ms());
    } catch (...) {
      lock.unlock();
      engine_.settle_bonds(cfg_.devices);
      throw;
    }
    cfg_ = std::move(next);
    std::string detail = changes.empty() ? "no changes" : "";
    for (const auto& c : changes) detail += (detail.empty() ? "" : "; ") + c;
    audit_.applied(gen, cfg_.file, cfg_.hash, who, detail);
  }
  engine_.settle_bonds(cfg_.devices);
}

void Router::reload(const vnf::Requester& who) {
  vnf::reload_file<RouterConfig>(
      cfg_.file, audit_, who, parse_router_config,
      [&](const RouterConfig& next, const auto& root) { check_reloadable(cfg_, next, root); },
      [&](RouterConfig next) { apply(std::move(next), who); });
}

void Router::on_link_change(uint16_t port, bool up) {
  core_->on_link_change(port, up, vnf::monotonic_ms());
}

bool Router::tick(uint64_t now_ms) {
  const bool busy = core_->tick(now_ms);
  if (now_ms < next_pressure_log_ms_) return busy;
  next_pressure_log_ms_ = now_ms + 10000;  // at most one line per kind every 10 s
  const auto& st = core_->stats();
  if (st.hold_dropped.get() != logged_hold_drops_) {
    spdlog::warn("neighbour hold queues full: {} packets dropped in the last 10 s",
                 st.hold_dropped.get() - logged_hold_drops_);
    logged_hold_drops_ = st.hold_dropped.get();
  }
  const uint64_t pf = core_->worker_total(&RouterWorkerState::punt_full);
  if (pf != logged_punt_full_) {
    spdlog::warn("control queue full: {} ARP/ND/held packets dropped in the last 10 s",
                 pf - logged_punt_full_);
    logged_punt_full_ = pf;
  }
  if (st.table_full.get() != logged_table_full_) {
    spdlog::warn("neighbour table full ({} entries): {} new neighbours refused in the last 10 s",
                 core_->neighbors().capacity(), st.table_full.get() - logged_table_full_);
    logged_table_full_ = st.table_full.get();
  }
  return busy;
}

void Router::register_telemetry() {
  vnf::register_program_telemetry("vrouter", engine_, audit_);
  vnf::register_engine_telemetry(engine_);
  core_->register_telemetry();
  vnf::WhyHooks why;
  why.gateway_mac = [this](uint16_t port, uint16_t tag) -> std::optional<vnf::WhyMac> {
    std::lock_guard lock(core_->mutex());
    const RouteSnapshot& rs = core_->snapshot();
    const uint8_t x = rs.iface_of[port][tag & 0xFFF];
    if (x == kDpNoIface) return std::nullopt;
    vnf::WhyMac m;
    std::memcpy(m.data(), rs.iface[x].mac, 6);
    return m;
  };
  why.interface = [this](uint8_t x) -> std::string {
    std::lock_guard lock(core_->mutex());
    const auto& ifs = core_->settings().interfaces;
    return x < ifs.size() ? ifs[x].name : "";
  };
  vnf::register_why_telemetry(engine_, std::move(why));
}

}  // namespace vrouter
