// The vrouter appliance: the engine's ports as router interfaces (untagged or 802.1Q VLANs),
// the routing stage and its control side (RoutingCore), reloads and the audit trail.
// Plugged into the engine with vnf::run().
#pragma once

#include <memory>
#include <vector>

#include "common/audit.h"
#include "common/engine.h"
#include "vrouter/config.h"
#include "vrouter/dp/pipeline.h"
#include "vrouter/routing_core.h"

namespace vrouter {

class Router {
 public:
  using Pipeline = RouterPipeline;

  Router(vnf::Engine& engine, RouterConfig cfg);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  Pipeline& pipeline(unsigned worker) { return *pipelines_[worker]; }

  // Control thread.
  // A port's link changed (the engine's kernel link events): RoutingCore::on_link_change.
  void on_link_change(uint16_t port, bool up);
  bool tick(uint64_t now_ms);              // true if it had packets to handle
  void reload(const vnf::Requester& who);  // a bad file, or tables that cannot be built: no change
  // Applies a validated config (reload() and tests). Throws std::runtime_error when the
  // tables cannot be built; the running config is unchanged then.
  void apply(RouterConfig next, const vnf::Requester& who, uint64_t now_ms = 0);
  void register_telemetry();

  const RouterConfig& config() const { return cfg_; }
  RoutingCore& core() { return *core_; }
  const vnf::ConfigAudit& audit() const { return audit_; }

 private:
  vnf::Engine& engine_;
  RouterConfig cfg_;
  vnf::ConfigAudit audit_;
  std::unique_ptr<RoutingCore> core_;
  std::vector<std::unique_ptr<RouterWorkerState>> scratch_;  // the pipelines' vnfctl why counters
  std::vector<std::unique_ptr<RouterPipeline>> pipelines_;
  uint64_t next_pressure_log_ms_ = 0;
  uint64_t logged_hold_drops_ = 0, logged_punt_full_ = 0, logged_table_full_ = 0;
};

}  // namespace vrouter
