// The vfirewall function: the standalone pipeline (WireIngress -> FirewallStage) and the
// control side: per-worker connection tables allocated at start-up, rule compile + lint +
// publish (RCU), reload with recheck, log draining, control->worker requests (dump, flush)
// and telemetry. Plugged into the engine with vnf::run().
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/audit.h"
#include "common/engine.h"
#include "common/events.h"
#include "common/rcu.h"
#include "vfirewall/dp/conntrack.h"
#include "vfirewall/dp/firewall_stage.h"
#include "vfirewall/dp/wire.h"
#include "vfirewall/rules/compile.h"
#include "vfirewall/rules/config.h"
#include "vfirewall/rules/lint.h"

namespace vfirewall {

class FwPipeline final {
 public:
  FwPipeline(const vnf::Published<FwSnapshot>& pub, FwWorkerState& st, vnf::WorkerContext& w)
      : fw_(pub, st, w), probe_(pub, st, w), w_(w) {}
  void begin() noexcept { fw_.begin(); }
  void process(vnf::Burst& b) noexcept {
    wire_.process(b, fw_.snapshot());
    fw_.process(b);
  }
  // vnfctl why (common/why.h): the wire, the firewall's dry variant, the egress port's checks.
  void probe(vnf::Burst& b, vnf::WhyTrace& t) noexcept {
    wire_.process(b, fw_.snapshot());
    t.record(vnf::WhyStage::kIngress, b);
    if (!b.live(0) && b.next[0] >= vnf::kMaxPorts) return;
    probe_.probe(b, t);
    t.record(vnf::WhyStage::kFirewall, b);
    vnf::probe_egress(b, w_, t);
    t.record(vnf::WhyStage::kEgress, b);
  }
  FirewallStage& stage() { return fw_; }

 private:
  WireIngress wire_;
  FirewallStage fw_;
  FirewallProbe probe_;
  vnf::WorkerContext& w_;
};

struct RuleStats {
  uint64_t hits = 0, packets = 0, bytes = 0;
  uint32_t last_hit_s = 0;  // worker seconds; 0: never
};

class Firewall {
 public:
  using Pipeline = FwPipeline;

  // Allocates the per-worker tables, compiles and publishes the rules. Throws
  // vnf::config::ConfigError for lint errors, std::runtime_error for resource failures.
  Firewall(vnf::Engine& engine, FirewallConfig cfg);
  ~Firewall();
  Firewall(const Firewall&) = delete;
  Firewall& operator=(const Firewall&) = delete;

  Pipeline& pipeline(unsigned worker) { return *pipelines_[worker]; }

  // Control thread.
  bool tick(uint64_t now_ms);  // true if it had log records to ship
  void reload(const vnf::Requester& who);
  // Applies a validated config (lint errors throw ConfigError before anything changes).
  // apply() = commit(prepare()): a host switch prepares every part of a reload before it
  // commits any, so nothing is published unless every part compiled.
  struct Staged {
    FirewallConfig cfg;
    std::vector<Finding> findings;
    std::unique_ptr<FwSnapshot> snap;
    std::vector<std::string> changes;
    uint64_t generation = 0;
  };
  Staged prepare(FirewallConfig next);  // throws; the workers see nothing of it
  void commit(Staged st, const vnf::Requester& who);
  void apply(FirewallConfig next, const vnf::Requester& who);
  unsigned drain_logs(unsigned budget_per_worker = 256);

  // Runs a dump or flush on every worker and waits for all of them. `pump` is called while
  // waiting (tests that play the worker pass their poll); without it the workers must be
  // running. Returns false on timeout.
  bool run_request(Request::Kind kind, const SessionFilter& f, uint32_t max,
                   std::vector<SessionView>& out, uint32_t& found,
                   const std::function<void()>& pump = {}, unsigned timeout_ms = 2000);

  // A port removed by reload: its connections go (a port id that comes back must not find
  // another VM's connections). Returns how many, or -1 when the workers did not answer.
  long flush_port(uint16_t port, const std::function<void()>& pump = {});

  // /vnf/fw/...; with_program_commands adds /vnf/info, /vnf/config and the engine's
  // commands (false when the firewall is embedded in another program, e.g. the vswitch).
  // Also registers the metrics (register_metrics, program/metrics.cpp).
  void register_telemetry(bool with_program_commands = true);
  void register_metrics();

  const FirewallConfig& config() const { return cfg_; }
  const FwSnapshot& snapshot() const { return *published_.get(); }
  // For embedding: a FirewallStage per worker is built from this and worker_state(i).
  const vnf::Published<FwSnapshot>& published() const { return published_; }
  const vnf::ConfigAudit& audit() const { return audit_; }
  FwWorkerState& worker_state(unsigned i) { return *states_[i]; }
  unsigned workers() const { return static_cast<unsigned>(states_.size()); }
  RuleStats rule_stats(const std::string& id) const;
  uint64_t active(const std::string& zone) const;  // connections now, all workers
  uint64_t zone_created(const std::string& zone) const;  // connections it opened
  uint64_t counter(vnf::Counter FwCounters::*c) const;
  uint64_t sessions_in_use() const;
  const std::vector<Finding>& findings() const { return findings_; }
  uint8_t zone_id(const std::string& zone) const;

  // Log line for a record (exposed for tests).
  std::string format_log(const LogRecord& r) const;
  // A verdict capture record in words ("accept rule=web from=office to=servers"), with the
  // names of the generation that decided it (the capture writer's thread; never waits for a
  // reload's build).
  std::string describe_verdict(const vnf::CaptureVerdict& v) const;
  // The rules' and zones' names of one generation, kept for the last kNamesKept generations:
  // a record written before a reload is named as it was decided.
  struct Names {
    uint32_t generation = 0;  // as records carry it
    std::vector<std::string> rule_ids, zone_names;
  };
  static constexpr size_t kNamesKept = 8;
  std::shared_ptr<const Names> names_of(uint32_t generation) const;
  // The name of rule index + 1 `rule` of rules generation `generation`: its id, "#N@genG" when
  // that generation's names are no longer kept, "policy" for 0 (a zone-pair policy).
  std::string log_rule(uint32_t rule, uint32_t generation) const;
  // Zone `z` of generation `generation`: its name, "#Z@genG" when no longer kept.
  std::string log_zone(uint8_t z, uint32_t generation) const;
  int64_t log_time_ms(const LogRecord& r) const;
  // The fw_log event record of r (common/events.h).
  vnf::events::Event log_event(const LogRecord& r) const;

 private:
  std::unique_ptr<FwSnapshot> build(const FirewallConfig& c, uint64_t generation);
  void remember_names(const FwSnapshot& s);         // before publishing s
  mutable std::mutex names_mu_;                     // names_ only, held for a pointer copy
  std::deque<std::shared_ptr<const Names>> names_;  // oldest first
  RuleStats rule_sum(uint32_t slot) const;          // all workers, since start-up
  uint64_t zone_created_sum(uint32_t zone) const;  // all workers, since start-up
  void log_pressure(uint64_t now_ms);

  vnf::Engine& engine_;
  FirewallConfig cfg_;
  vnf::ConfigAudit audit_;
  IdRegistry zone_ids_, rule_slots_;
  // Counter values when a zone number or rule slot was given to its present owner.
  std::vector<RuleStats> rule_base_ = std::vector<RuleStats>(kMaxRuleSlots);
  std::vector<uint64_t> zone_created_base_ = std::vector<uint64_t>(kMaxZoneIds);
  std::vector<Finding> findings_;
  vnf::Published<FwSnapshot> published_;
  std::vector<FwWorkerState*> states_;
  LogLimit* log_limits_ = nullptr;  // [kLogLimits], the workers' shared rule log limits
  std::atomic<uint64_t>* log_supp_rows_ = nullptr;  // [workers][kLogLimits], FwWorkerState
  // A reused rule slot or zone id: its suppressed records so far are not its new owner's.
  void reset_log_limit(uint32_t limit) {
    log_limits_[limit].reported.store(
        log_supp_total(log_supp_rows_, static_cast<uint32_t>(states_.size()), limit),
        std::memory_order_relaxed);
  }
  std::vector<std::unique_ptr<FwPipeline>> pipelines_;
  mutable std::mutex mu_;  // config, registries and the request rings' producer side
  uint64_t next_pressure_ms_ = 0;
  uint64_t logged_full_ = 0, logged_limit_ = 0, logged_suppressed_ = 0, logged_ring_ = 0;
  uint64_t tsc_hz_ = 0;
};

std::string format_key(const CtKey& k);

}  // namespace vfirewall
