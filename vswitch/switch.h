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
#include "vfirewall/dp/firewall_stage.h"
#include "vfirewall/program/firewall.h"
#include "vswitch/config.h"
#include "vswitch/dp/l2_lookup.h"
#include "vswitch/dp/vlan.h"
#include "vswitch/l2_snapshot.h"
#include "vswitch/mac_table.h"

namespace vswitch {

class SwitchPipeline final {
 public:
  // `fw`: the firewall of a host whose file has a `firewall:` section, or null.
  SwitchPipeline(const vnf::Published<L2Snapshot>& pub, const MacTable& macs, L2WorkerState& st,
                 vnf::WorkerContext& w, vfirewall::Firewall* fw, unsigned worker)
      : pub_(pub), ingress_(st.vlan), lookup_(macs, st, w), egress_(st, w) {
    if (fw) fw_.emplace(fw->published(), fw->worker_state(worker), w);
  }

  void begin() noexcept {
    snap_ = pub_.get();
    if (fw_) fw_->begin();
  }
  // Host pipeline order (DESIGN.md §3): ingress policy, L2 decision, firewall (sees every
  // frame with its destination known, floods included), [routing: issue #5], egress.
  void process(vnf::Burst& b) noexcept {
    ingress_.process(b, *snap_);
    lookup_.process(b, *snap_);
    if (fw_) fw_->process(b);
    egress_.process(b, *snap_);
  }

 private:
  const vnf::Published<L2Snapshot>& pub_;
  const L2Snapshot* snap_ = nullptr;
  VlanIngress ingress_;
  L2Lookup lookup_;
  std::optional<vfirewall::FirewallStage> fw_;
  L2Egress egress_;
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

  void register_telemetry();

  const SwitchConfig& config() const { return cfg_; }
  const L2Snapshot& snapshot() const { return *published_.get(); }
  MacTable& macs() { return *macs_; }
  const vnf::ConfigAudit& audit() const { return audit_; }
  vfirewall::Firewall* firewall() { return fw_.get(); }
  uint64_t vlan_total(uint16_t vlan,
                      int which) const;  // 0 rx pkts, 1 rx bytes, 2 flooded, 3 dropped
  uint64_t learn_requests() const;
  uint64_t learn_ring_full() const;

 private:
  void sync_static_and_limits();
  void log_table_pressure(uint64_t now_ms);

  vnf::Engine& engine_;
  SwitchConfig cfg_;
  vnf::ConfigAudit audit_;
  std::unique_ptr<MacTable> macs_;
  std::unique_ptr<vfirewall::Firewall> fw_;  // when the file has a `firewall:` section
  vnf::Published<L2Snapshot> published_;
  std::vector<L2WorkerState*> states_;
  std::vector<std::unique_ptr<SwitchPipeline>> pipelines_;
  uint64_t next_age_ms_ = 0;
  uint64_t next_pressure_log_ms_ = 0;
  uint64_t logged_full_ = 0, logged_limit_ = 0, logged_ring_full_ = 0;
};

}  // namespace vswitch
