// The control side of the routing stage, the same in both deployments (the vrouter appliance
// and the host vswitch's gateway): it compiles settings into RouteSnapshots and publishes
// them by RCU, owns the neighbour table (single writer), answers ARP/ND, resolves next hops
// and holds packets meanwhile, probes route next hops and moves traffic to backup routes and
// back, and serves telemetry. Everything here runs on the control thread (tick(), apply()) or
// on the telemetry thread under mutex().
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include "common/counter.h"
#include "common/rcu.h"
#include "common/worker.h"
#include "vrouter/config.h"
#include "vrouter/neighbor_table.h"
#include "vrouter/snapshot.h"

namespace vrouter {

struct CoreEnv {
  std::string name = "rt";  // unique prefix for DPDK object names (rings, hash, FIBs)
  rte_rcu_qsbr* qsbr = nullptr;
  rte_mempool* pool = nullptr;  // for the frames the control thread sends (ARP, ND)
  int socket = 0;
  std::vector<vnf::WorkerContext*> workers;
  bool host_mode = false;
  uint64_t tsc_hz = 0;
  // Appliance only: port name -> DPDK port id, a port's MAC, a port's link state.
  std::function<uint16_t(const std::string&)> port_id;
  std::function<Mac(uint16_t)> port_mac;
  std::function<bool(uint16_t)> link_up;
};

struct CoreStats {
  vnf::Counter arp_in, nd_in, arp_replies_sent, na_sent, probes_sent, announcements_sent;
  vnf::Counter held, released, hold_dropped, resolve_failed, table_full;
  vnf::Counter failovers, fallbacks;  // tier changes to a worse / better tier
  vnf::Counter address_conflicts, invalid_control;
  vnf::Counter inject_deferred, inject_lost, no_mbuf;
  vnf::Counter link_changes, link_down_not_sent;  // frames not sent: their port was down
};

class RoutingCore {
 public:
  // Builds and publishes the first snapshot; throws std::runtime_error.
  RoutingCore(CoreEnv env, RouterSettings s, uint64_t now_ms);
  ~RoutingCore();
  RoutingCore(const RoutingCore&) = delete;
  RoutingCore& operator=(const RoutingCore&) = delete;

  // ---- for the workers' stages
  const vnf::Published<RouteSnapshot>& published() const { return pub_; }
  NeighView neigh_view() const { return neigh_->view(); }
  RouterWorkerState& worker_state(unsigned w) { return *states_[w]; }
  unsigned workers() const { return static_cast<unsigned>(states_.size()); }

  // ---- control thread
  bool tick(uint64_t now_ms);  // takes mutex(); true if packets were punted or injected
  // Applies validated settings: new tables are built first (std::runtime_error if they cannot
  // be, with nothing changed), then published; neighbours that no longer fit are flushed.
  // Callers hold mutex(). apply() = commit(prepare()): a host switch prepares every part of a
  // reload before it commits any (nothing is published unless every part compiled).
  struct Staged {
    RouterSettings settings;
    RouteTable table;
    std::shared_ptr<FibTables> fib;
  };
  Staged prepare(RouterSettings next);  // throws; changes nothing
  void commit(Staged st, uint64_t now_ms);
  void apply(RouterSettings next, uint64_t now_ms) { commit(prepare(std::move(next)), now_ms); }
  // The pieces of tick(), callers hold mutex() (tests drive them one by one).
  unsigned drain_punts(uint64_t now_ms, unsigned budget_per_worker = 256);
  void run_timers(uint64_t now_ms);
  void refresh_paths();
  void poll_links();
  void flush_injects();

  // A port's link went down or came up: the engine calls this on a kernel link event (af_packet
  // ports never report one themselves); poll_links() calls it when the driver's own link state
  // changes. Idempotent. On the control thread; takes mutex(). Appliance: the port's interfaces
  // route nothing out (link_down) and their next hops fail at once, so backup routes take over
  // before this returns; their neighbours' held packets are dropped (link_down), ordinary
  // neighbours forgotten, and nothing the control thread generates goes to the port. When it
  // comes back: addresses announced, next hops probed at once (usable at their first answer).
  // Host deployment: the same for the neighbours learned on that port.
  void on_link_change(uint16_t port, bool up, uint64_t now_ms);
  // A bond port's active member changed (appliance): the port's interface addresses announced
  // again (gratuitous ARP, unsolicited NA) out of the new member, so that the upstream switch
  // moves the interfaces' MACs at once. Control thread; takes mutex().
  void announce_port(uint16_t port);

  std::mutex& mutex() const { return mu_; }
  const RouterSettings& settings() const { return s_; }
  const RouteSnapshot& snapshot() const { return *cur_; }
  NeighborTable& neighbors() { return *neigh_; }
  const CoreStats& stats() const { return stats_; }
  uint64_t held_packets() const { return held_total_; }

  // The active adjacencies of the path list a prefix maps to (exact prefix), or nullptr.
  const Selection* selection_for(const Prefix& p) const;
  // One line per (prefix, next hop): "10.0.0.0/8 via 10.1.0.2 dev lan distance 1 static active".
  std::vector<std::string> route_lines(size_t offset, size_t limit, size_t* total) const;
  std::vector<std::string> neighbor_lines(uint64_t now_ms) const;
  // Counters of one interface summed over workers: rx_packets, rx_bytes, out_packets,
  // out_bytes, icmp_out, control_in, dropped.
  std::array<uint64_t, 7> iface_totals(uint8_t iface) const;
  uint64_t worker_total(vnf::Counter RouterWorkerState::*c) const;
  bool iface_up(uint8_t x) const { return x < iface_up_.size() && iface_up_[x]; }

  // /vnf/interfaces, /vnf/routes, /vnf/neighbors, /vnf/router.
  void register_telemetry();  // and the metrics (register_metrics, vrouter/metrics.cpp)
  void register_metrics();

 private:
  std::unique_ptr<RouteSnapshot> build(const RouterSettings& s, const RouteTable& t,
                                       std::shared_ptr<FibTables> fib, uint64_t gen);
  void sync_neighbors(const RouterSettings& next, const RouteTable& t, const FibTables& fib,
                      uint64_t now_ms);
  void make_room(const RouterSettings& next, const RouteTable& t);
  bool adj_usable(const RouteSnapshot& snap, uint32_t a) const;
  void set_selection(RouteSnapshot& snap, uint32_t p, const Selection& sel, bool keep);
  void fill_interfaces(RouteSnapshot& snap, const RouterSettings& s);

  // Neighbour work (neighbor_io.cpp).
  void handle_punt(unsigned w, const PuntItem& it, uint64_t now_ms);
  void handle_arp(unsigned w, rte_mbuf* m, uint8_t x, uint64_t now_ms);
  void handle_nd(unsigned w, rte_mbuf* m, uint8_t x, uint64_t now_ms);
  void handle_hold(unsigned w, const PuntItem& it, uint64_t now_ms);
  void learn(int32_t pos, const uint8_t* mac, uint8_t port, bool solicited, uint64_t now_ms);
  void tick_entry(int32_t pos, uint64_t now_ms);
  void send_probe(int32_t pos, bool unicast);
  void announce(uint8_t x);
  void release(int32_t pos);
  void drop_held(int32_t pos, vnf::DropReason r);
  void erase_neighbor(int32_t pos, vnf::DropReason r);
  int32_t create_neighbor(const NeighKey& k, uint64_t now_ms, bool probe);
  // Frames the control thread sends go out through a worker's inject ring.
  void send_frame(unsigned w, const uint8_t* frame, uint16_t len, uint16_t out, uint16_t vlan,
                  uint16_t in_port);
  void inject(unsigned w, rte_mbuf* m);
  void return_drop(unsigned w, rte_mbuf* m, vnf::DropReason r);
  uint16_t out_port(uint8_t x, const NeighCtl* c) const;
  void set_link(uint16_t port, bool up, uint64_t now_ms);  // callers hold mutex()
  bool port_down(uint16_t port) const { return port < port_down_.size() && port_down_[port]; }
  void log_conflict(const std::string& what);
  NeighTimers timers() const;

  CoreEnv env_;
  RouterSettings s_;
  std::unique_ptr<NeighborTable> neigh_;
  vnf::Published<RouteSnapshot> pub_;
  RouteSnapshot* cur_ = nullptr;  // what pub_ holds (the control thread may write its buckets)
  std::vector<RouterWorkerState*> states_;
  std::vector<std::deque<rte_mbuf*>> pending_;  // per worker: inject ring was full
  std::vector<bool> iface_up_;
  // Appliance: per DPDK port, its link as last told (on_link_change) and as last polled from
  // the driver (-1: not yet); a reload keeps what it was told.
  std::vector<uint8_t> port_down_ = std::vector<uint8_t>(vnf::kMaxPorts, 0);
  std::vector<int8_t> polled_up_ = std::vector<int8_t>(vnf::kMaxPorts, -1);
  std::vector<std::string> path_example_;  // per path list: a prefix using it (for logs)
  std::vector<uint32_t> path_prefixes_;    // per path list: how many prefixes use it
  uint64_t generation_ = 0;
  uint64_t held_total_ = 0;
  uint64_t now_ms_ = 0;
  uint64_t next_link_poll_ms_ = 0;
  uint64_t next_conflict_log_ms_ = 0;
  unsigned fib_serial_ = 0;
  bool routes_dirty_ = false;
  CoreStats stats_;
  mutable std::mutex mu_;
};

}  // namespace vrouter
