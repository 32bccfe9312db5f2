// The vswitch function: its pipeline (VLAN ingress -> L2 forward) and its control side
// (learning, aging, reload, telemetry). Plugged into the engine with vnf::run().
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/audit.h"
#include "common/engine.h"
#include "common/rcu.h"
#include "common/why_request.h"
#include "vfirewall/dp/firewall_stage.h"
#include "vfirewall/program/firewall.h"
#include "vrouter/dp/pipeline.h"
#include "vrouter/dp/routing.h"
#include "vrouter/routing_core.h"
#include "vswitch/config.h"
#include "vswitch/dp/l2_lookup.h"
#include "vswitch/dp/port_security.h"
#include "vswitch/dp/vlan.h"
#include "vswitch/l2_build.h"
#include "vswitch/l2_snapshot.h"
#include "vswitch/limit_config.h"
#include "vswitch/mac_table.h"

namespace vswitch {

class SwitchPipeline final {
 public:
  // `fw`, `rt`: the firewall and the router of a host whose file has those sections, or null.
  SwitchPipeline(const vnf::Published<L2Snapshot>& pub, const MacTable& macs, L2WorkerState& st,
                 vnf::WorkerContext& w, vfirewall::Firewall* fw, vrouter::RoutingCore* rt,
                 unsigned worker)
      : pub_(pub),
        w_(w),
        ingress_(st.vlan),
        limits_(*st.lim, w),
        lookup_(macs, st, w),
        egress_(st, w) {
    if (fw) {
      fw_.emplace(fw->published(), fw->worker_state(worker), w);
      fw_probe_.emplace(fw->published(), fw->worker_state(worker), w);
    }
    if (rt) {
      rt_.emplace(rt->neigh_view(), rt->worker_state(worker), w);
      rt_scratch_ = std::make_unique<vrouter::RouterWorkerState>();
      rt_probe_.emplace(rt->neigh_view(), *rt_scratch_, w);
      rpub_ = &rt->published();
    }
  }

  void begin() noexcept {
    snap_ = pub_.get();
    if (w_.held | limits_.busy()) [[unlikely]]
      w_.held = limits_.drain(snap_->limits);  // shaped ports: what their rate allows now
    if (fw_) {
      fw_->set_segment_ports(snap_->vlan_ports);
      fw_->begin();
    }
    if (rt_) {
      rsnap_ = rpub_->get();
      send_injected();
    }
  }
  // Host pipeline order: ingress policy (segment, port security, limits from the VM), L2
  // decision, routing (frames to a segment's gateway MAC move to their egress segment), firewall
  // (judges every frame with its ingress segment, egress segment and egress port known, floods
  // included), egress (limits toward the VM). Nothing leaves before the firewall decides.
  void process(vnf::Burst& b) noexcept {
    const bool suspect = ingress_.process(b, *snap_);
    PortSecurityStage::process(b, *snap_, suspect);
    limits_.rx(b, snap_->limits);
    lookup_.process(b, *snap_);
    if (rt_) rt_->process(b, *rsnap_);
    if (fw_) fw_->process(b);
    egress_.process(b, *snap_);
  }
  // vnfctl why: packet 0 of `b` through the same stages' dry variants (common/why.h), after
  // begin() (the worker serves probes between bursts).
  void probe(vnf::Burst& b, vnf::WhyTrace& t) noexcept {
    vnf::PacketMeta& m = vnf::meta_of(b.pkts[0]);
    const vnf::DropReason r = VlanIngress::classify(snap_->port[b.in_port],
                                                    rte_pktmbuf_mtod(b.pkts[0], const uint8_t*), m);
    if (r != vnf::DropReason::kNone) b.drop(0, r);
    b.in_vlan[0] = m.vlan;
    if (b.live(0)) PortSecurityStage::process(b, *snap_);  // no effects: the same code
    if (b.live(0) && snap_->limits.on[b.in_port][0] &&
        limits_.meter<true>(snap_->limits, b.in_port, 0, b.pkts[0]) == RTE_COLOR_RED)
      b.drop(0, vnf::DropReason::kLimitRx);  // judged on a copy of the meters
    t.record(vnf::WhyStage::kIngress, b);
    if (!b.live(0)) return;
    lookup_.probe(b, *snap_, t);
    t.record(vnf::WhyStage::kL2, b);
    if (rt_probe_) {
      rt_probe_->probe(b, *rsnap_, t);
      t.record(vnf::WhyStage::kRoute, b);
    }
    if (fw_probe_) {
      fw_probe_->set_segment_ports(snap_->vlan_ports);
      fw_probe_->probe(b, t);
      t.record(vnf::WhyStage::kFirewall, b);
    }
    egress_.probe(b, *snap_, t);
    t.record(vnf::WhyStage::kEgress, b);
  }

 private:
  // Frames the router's control thread sends (ARP/ND, packets released after resolution):
  // out through L2Egress in their segment's wire format; they have no ingress port.
  void send_injected() noexcept {
    vnf::Burst ib;
    for (int round = 0; round < 4; ++round) {
      ib.count = rt_->take_injected(ib);
      if (ib.count == 0) return;
      ib.in_port = kNoIngress;
      for (uint16_t i = 0; i < ib.count; ++i) {
        ib.flood_mask[i] = ~0u;
        ib.in_vlan[i] = kNoIngress;
      }
      egress_.process(ib, *snap_);
      vrouter::dispatch_injected(ib, w_);
    }
  }
  static constexpr uint16_t kNoIngress = 0xFFFF;

  const vnf::Published<L2Snapshot>& pub_;
  const L2Snapshot* snap_ = nullptr;
  vnf::WorkerContext& w_;
  VlanIngress ingress_;
  LimitStage limits_;
  L2Lookup lookup_;
  std::optional<vrouter::Routing> rt_;
  const vnf::Published<vrouter::RouteSnapshot>* rpub_ = nullptr;
  const vrouter::RouteSnapshot* rsnap_ = nullptr;
  std::optional<vfirewall::FirewallStage> fw_;
  L2Egress egress_;
  // Dry variants for probes; the router's writes its counters to a scratch state.
  std::unique_ptr<vrouter::RouterWorkerState> rt_scratch_;
  std::optional<vrouter::RoutingProbe> rt_probe_;
  std::optional<vfirewall::FirewallProbe> fw_probe_;
};

// The per-worker state of the L2 stages, allocated on the worker's socket (start-up only).
L2WorkerState* create_l2_state(const std::string& name, int socket);
void destroy_l2_state(L2WorkerState* st);

class Switch {
 public:
  using Pipeline = SwitchPipeline;

  Switch(vnf::Engine& engine, SwitchConfig cfg);
  ~Switch();
  Switch(const Switch&) = delete;
  Switch& operator=(const Switch&) = delete;

  Pipeline& pipeline(unsigned worker) { return *pipelines_[worker]; }
  L2WorkerState& l2_state(unsigned worker) { return *states_[worker]; }

  // Control thread.
  bool tick(uint64_t now_ms);              // true if it learned, aged or had something to do
  void reload(const vnf::Requester& who);  // re-reads the config file; a bad one changes nothing
  // Applies an already validated config (reload() and tests). Returns after the new tables
  // are live and no worker can see the old ones.
  void apply(SwitchConfig next, const vnf::Requester& who);
  unsigned drain_learn_events(unsigned budget_per_worker = 4096);
  unsigned age(uint32_t now_s, unsigned budget);

  void register_telemetry();  // and the metrics (register_metrics)
  void register_metrics();    // vswitch/metrics.cpp
  vnf::WhyHooks why_hooks();  // names and defaults for /vnf/why (common/why_request.h)

  const SwitchConfig& config() const { return cfg_; }
  const L2Snapshot& snapshot() const { return *published_.get(); }
  MacTable& macs() { return *macs_; }
  const vnf::ConfigAudit& audit() const { return audit_; }
  vfirewall::Firewall* firewall() { return fw_.get(); }
  vrouter::RoutingCore* router() { return rt_.get(); }
  uint64_t vlan_total(uint16_t vlan,
                      int which) const;  // 0 rx pkts, 1 rx bytes, 2 flooded, 3 dropped
  // New MACs not learned because their segment was at its limit (workers and control
  // thread); one segment's, or all (vlan < 0).
  uint64_t segment_limit_refused(int vlan = -1) const;
  uint64_t learn_requests() const;
  uint64_t learn_ring_full() const;
  const LimitRows& limits() const { return *limits_; }

 private:
  // Ports a reload adds, removes or gives another device (tap and vhost only: see
  // check_reloadable). stage_ports adds the new ones (not yet polled) and removes the changed
  // ones before anything is compiled; unstage_ports undoes that when a part fails to compile.
  struct PortChanges {
    std::vector<std::string> gone;         // removed from the file
    std::vector<vnf::PortDevice> changed;  // the running device of a port whose device changed
    std::vector<vnf::PortDevice> fresh;    // new ports and the new devices of changed ones
    std::vector<uint16_t> old_ids;         // ids of gone and changed ports: flush behind them
  };
  PortChanges stage_ports(const SwitchConfig& next);
  void unstage_ports(const PortChanges& pc, bool fresh_added);
  void sync_static_and_limits();
  void announce_macs(const vnf::PortState& bond, std::vector<rte_mbuf*>& out);
  // The L2 snapshot of `c` with its limits compiled (not yet committed: limits_->commit()
  // after it is published, limits_->abort() if it is not).
  std::unique_ptr<L2Snapshot> build_snapshot(const SwitchConfig& c, uint64_t gen);
  void log_table_pressure(uint64_t now_ms);

  vnf::Engine& engine_;
  SwitchConfig cfg_;
  vnf::ConfigAudit audit_;
  std::unique_ptr<MacTable> macs_;
  std::unique_ptr<vfirewall::Firewall> fw_;   // when the file has a `firewall:` section
  std::unique_ptr<vrouter::RoutingCore> rt_;  // when the file has a `router:` section
  vnf::Published<L2Snapshot> published_;
  std::vector<L2WorkerState*> states_;
  std::unique_ptr<LimitRows> limits_;  // meter slots and stamps across reloads
  uint64_t next_limit_sample_ms_ = 0;
  std::vector<std::unique_ptr<SwitchPipeline>> pipelines_;
  uint64_t next_age_ms_ = 0;
  uint64_t next_pressure_log_ms_ = 0;
  uint64_t logged_full_ = 0, logged_limit_ = 0, logged_ring_full_ = 0, logged_segment_limit_ = 0;
};

}  // namespace vswitch
