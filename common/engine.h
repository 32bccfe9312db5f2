// The engine: EAL start-up, ports, mempool, worker contexts, the RCU domain, and the run
// loop that launches the workers and runs the control thread. Functions (vswitch, vfirewall,
// vrouter) plug their pipeline and their control hooks into it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include "common/af_packet.h"
#include "common/bond.h"
#include "common/engine_config.h"
#include "common/link_monitor.h"
#include "common/worker.h"

namespace vnf {

struct EalOptions {  // command-line overrides of the engine section
  bool no_huge = false;
  std::string file_prefix;
  std::vector<unsigned> lcores;
  std::vector<std::string> extra;  // after "--"
};

// Builds the rte_eal_init argument list for an appliance (exposed for tests and for logging).
std::vector<std::string> eal_arguments(const EngineConfig& cfg,
                                       const std::vector<PortDevice>& ports, const EalOptions& opt,
                                       const std::string& program);
// rte_eal_init with those arguments; throws std::runtime_error on failure.
void eal_init(const std::vector<std::string>& args);

// Before start-up: removes the unix socket of a vhost or memif server port when nothing
// answers on it (left behind by a crash), so that the driver can bind it again. A socket
// something still listens on is left alone (the driver then reports it in use).
void remove_stale_sockets(const std::vector<PortDevice>& ports);

struct PortState {
  PortDevice device;
  uint16_t id = 0;  // DPDK port id
  uint16_t rx_queues = 0;
  uint16_t tx_queues = 0;
  bool link_up = false;
  uint32_t link_speed = 0;
  uint64_t link_changes = 0;
  int ifindex = 0;       // af_packet, tap: the kernel interface
  int promisc_fd = -1;   // af_packet: the socket holding PACKET_MR_PROMISC
  uint32_t kernel_mtu = 0;  // af_packet, tap: the interface's MTU as last reported
  std::shared_ptr<AfPacketRing> ring;  // af_packet: the driver's ring, read by the worker
  bool removing = false;               // remove_ports: on its way out
  std::shared_ptr<BondState> bond;     // bond: its members and failovers (common/bond.h)
};

class Engine {
 public:
  // Call after eal_init(). Sets up the mempool, the ports (one tx queue per worker and up to
  // one rx queue per worker), the worker contexts and the RCU domain; throws on failure.
  Engine(const EngineConfig& cfg, const std::vector<PortDevice>& ports);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineConfig& config() const { return cfg_; }
  unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }
  WorkerContext& worker(unsigned i) { return *workers_[i]; }
  const WorkerContext& worker(unsigned i) const { return *workers_[i]; }
  rte_rcu_qsbr* qsbr() const { return qsbr_; }
  rte_mempool* pool() const { return pool_; }
  int socket() const { return socket_; }

  // The ports, in the order they were set up. Changed only by the control thread
  // (add_ports, remove_ports), under ports_mutex(): other threads (telemetry) hold it while
  // they read.
  const std::vector<PortState>& ports() const { return ports_; }
  std::mutex& ports_mutex() const { return ports_mu_; }
  // Port name <-> DPDK port id. Throws for unknown names.
  uint16_t port_id(const std::string& name) const;
  const PortState* port_by_id(uint16_t id) const;
  const PortState* find_port(const std::string& name) const;  // null: no such port

  // Ports added and removed while the workers run (a VM's tap or vhost-user port; see
  // hot_pluggable()). Control thread.
  //
  // add_ports: each device is probed (a hot-plugged vdev), its queues are set up and it is
  // started, but no worker polls it until publish_rx(). All or nothing: when one fails, those
  // already added are removed again and the error is thrown (file:line:column of the port).
  void add_ports(const std::vector<PortDevice>& devices);
  // remove_ports: nothing is sent to the ports any more and the workers stop polling them
  // (publish_rx and a grace period), then the devices are stopped, closed and removed. The
  // caller has already published tables that no longer name them; it flushes what was
  // learned behind them afterwards. A port id that comes back later starts its counters at 0.
  void remove_ports(const std::vector<std::string>& names);
  // Rebuilds every worker's rx list from ports_ and returns once no worker polls the old one.
  void publish_rx();
  static bool hot_pluggable(PortKind k) { return k == PortKind::kTap || k == PortKind::kVhost; }

  // Link polling (control thread): logs and counts changes. Returns true if any changed.
  bool poll_links();
  // Kernel-backed ports (af_packet, tap): link changes as rtnetlink reports them, at once.
  // The control loop polls link_fd() (-1: none) and calls handle_link_events() when it is
  // readable. Returns true if a port's link changed.
  int link_fd() const { return links_ ? links_->fd() : -1; }
  bool handle_link_events();
  // Called on the control thread after a port's link went up or down (functions flush what
  // was learned behind it, routers stop using next hops behind it).
  void add_link_listener(std::function<void(const PortState&)> f) {
    link_listeners_.push_back(std::move(f));
  }
  void clear_link_listeners() { link_listeners_.clear(); }
  bool link_up(uint16_t port) const { return port_up_[port].load(std::memory_order_relaxed); }

  // Bonds (common/bond.h). bond_tick: members' delays and driver link polls, from the control
  // loop; returns true while a delay is pending (call again soon).
  bool bond_tick(uint64_t now_ms);
  // Frames to send out of a bond's new active member after a failover (gratuitous ARP,
  // unsolicited NA, RARP for MACs learned behind other ports), so that the upstream switch
  // moves its entries at once. The function appends mbufs from pool(); the engine sends them.
  using BondAnnouncer = std::function<void(const PortState& bond, std::vector<rte_mbuf*>& out)>;
  void set_bond_announcer(BondAnnouncer f) { announcer_ = std::move(f); }
  // Reloads that change a bond's members or settings (check_restart_only has allowed them):
  // add_bond_members creates the members `next` adds and joins them to their bonds (all or
  // nothing: throws, having removed those it added); after the reload is committed,
  // settle_bonds(next) takes out the members `next` no longer lists and applies the new
  // settings (primary, revert, delays). A reload that fails after add_bond_members calls
  // settle_bonds(running) to take the added members out again. Control thread.
  void add_bond_members(const std::vector<PortDevice>& next);
  void settle_bonds(const std::vector<PortDevice>& target);

  // vnfctl trace's verdict point: the firewall's words for a verdict record ("accept rule=web
  // from=office to=servers"). The firewall sets it while it exists; any thread may ask.
  // Empty: this appliance decides no verdicts.
  using VerdictDescriber = std::function<std::string(const CaptureVerdict&)>;
  void set_verdict_describer(VerdictDescriber f) {
    std::lock_guard lock(verdict_mu_);
    verdict_describer_ = std::move(f);
  }
  bool decides_verdicts() const {
    std::lock_guard lock(verdict_mu_);
    return static_cast<bool>(verdict_describer_);
  }
  std::string describe_verdict(const CaptureVerdict& v) const {
    std::lock_guard lock(verdict_mu_);
    return verdict_describer_ ? verdict_describer_(v) : std::string();
  }

  // Totals over workers.
  uint64_t drop_total(DropReason r) const;
  void sum_port(uint16_t id, uint64_t out[6]) const;

  // Stops and closes the ports (idempotent). Workers must have stopped.
  void stop_ports();

 private:
  void resolve_port(PortState& p) const;
  void setup_port(PortState& p, unsigned workers);
  void close_port(PortState& p);
  void build_rx();  // the workers' unused rx list copies, then the pointers swapped
  void set_port_mtu(PortState& p, uint32_t mtu);
  void set_link(PortState& p, bool up, uint32_t speed, const char* source);
  // Bonds (engine_bond.cpp).
  void create_bond(PortState& p);
  void close_bond(PortState& p);
  void member_link(PortState& p, BondMemberState& m, bool link, const char* source, uint64_t now);
  bool bond_evaluate(PortState& p, uint64_t now_ms, const std::string& reason);
  void bond_failover(PortState& p, int to, const std::string& reason);
  void bond_announce(PortState& p);
  EngineConfig cfg_;
  std::vector<PortState> ports_;
  mutable std::mutex ports_mu_;
  // Counter values when a port id was (re)used by its present port: sum_port subtracts them.
  std::vector<std::array<uint64_t, 6>> port_base_ = std::vector<std::array<uint64_t, 6>>(kMaxPorts);
  std::vector<WorkerContext*> workers_;
  rte_mempool* pool_ = nullptr;
  rte_rcu_qsbr* qsbr_ = nullptr;
  int socket_ = 0;
  bool ports_stopped_ = false;
  std::unique_ptr<LinkMonitor> links_;
  std::vector<std::function<void(const PortState&)>> link_listeners_;
  BondAnnouncer announcer_;
  mutable std::mutex verdict_mu_;
  VerdictDescriber verdict_describer_;
  bool running_ = false;
  // A bond member's driver reported a link change (link-status interrupt, DPDK's interrupt
  // thread): bond_tick polls the members at once instead of at their next link_poll_ms.
  std::atomic<bool> member_lsc_{false};
  static int member_lsc_cb(
      uint16_t port, rte_eth_event_type type, void* arg,
      void* out);  // set at the end of the constructor: bond choices after it are failovers
  // What the workers read before sending to a port: its link is up.
  std::atomic<uint8_t> port_up_[kMaxPorts] = {};
};

// Registers the engine's telemetry commands (/vnf/ports, /vnf/drops, /vnf/workers) and its
// metrics (register_engine_metrics: ports, drop reasons, bonds, workers; common/metrics.h).
void register_engine_telemetry(Engine& engine);
void register_engine_metrics(Engine& engine);

}  // namespace vnf

namespace vnf {
class ConfigAudit;
// /vnf/info (program, version, instance, pid, workers, config generation and hash) and
// /vnf/config (the last apply attempts, accepted or rejected, with who and what).
void register_program_telemetry(const std::string& program, Engine& engine,
                                const ConfigAudit& audit);
// vnf_info, vnf_workers, vnf_config_generation (called by register_program_telemetry).
void register_program_metrics(const std::string& program, Engine& engine, const ConfigAudit& audit);
}  // namespace vnf
