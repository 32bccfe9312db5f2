// vrouter metrics: interfaces (/vnf/interfaces) and the router summary (/vnf/router), read as
// those telemetry commands read them: under the core's mutex, which the control thread holds
// while it changes state; per-worker counters summed.
#include <string>

#include "common/metrics.h"
#include "vrouter/routing_core.h"

namespace vrouter {

void RoutingCore::register_metrics() {
  vnf::metrics::add("vrouter", [this](vnf::metrics::Writer& w) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < s_.interfaces.size(); ++i) {
      const Interface& itf = s_.interfaces[i];
      const auto t = iface_totals(static_cast<uint8_t>(i));
      const vnf::metrics::Labels l{{"interface", itf.name}, {"segment", itf.segment}};
      w.counter("vnf_router_interface_rx_packets_total", "Packets the interface received", l, t[0]);
      w.counter("vnf_router_interface_rx_bytes_total", "Bytes the interface received", l, t[1]);
      w.counter("vnf_router_interface_routed_out_packets_total",
                "Packets routed out of the interface", l, t[2]);
      w.counter("vnf_router_interface_routed_out_bytes_total", "Bytes routed out of the interface",
                l, t[3]);
      w.counter("vnf_router_interface_icmp_sent_total", "ICMP errors sent from the interface", l,
                t[4]);
      w.counter("vnf_router_interface_arp_nd_in_total", "ARP and ND packets the interface took in",
                l, t[5]);
      w.counter("vnf_router_interface_dropped_total", "Packets of the interface dropped", l, t[6]);
      w.gauge("vnf_router_interface_up", "1 when the interface's link is up", l,
              iface_up(static_cast<uint8_t>(i)) ? 1 : 0);
    }
    w.gauge("vnf_router_prefixes", "Prefixes in the routing table", {{"family", "ipv4"}},
            static_cast<double>(cur_->table.v4.size()));
    w.gauge("vnf_router_prefixes", "Prefixes in the routing table", {{"family", "ipv6"}},
            static_cast<double>(cur_->table.v6.size()));
    w.gauge("vnf_router_neighbors", "Entries in the ARP/ND cache", {},
            static_cast<double>(neigh_->size()));
    w.gauge("vnf_router_neighbor_capacity", "Entries the ARP/ND cache holds", {},
            static_cast<double>(neigh_->capacity()));
    w.gauge("vnf_router_held_packets", "Packets waiting for a neighbour to resolve", {},
            static_cast<double>(held_total_));
    auto c = [&w](const char* name, const char* help, uint64_t v) { w.counter(name, help, {}, v); };
    c("vnf_router_failovers_total", "Routes that failed over to a backup next hop",
      stats_.failovers.get());
    c("vnf_router_resolve_failed_total", "Neighbour resolutions that failed",
      stats_.resolve_failed.get());
    c("vnf_router_hold_dropped_total", "Packets dropped while waiting for a neighbour",
      stats_.hold_dropped.get());
    c("vnf_router_neighbor_table_full_total", "Neighbours not added because the cache was full",
      stats_.table_full.get());
    c("vnf_router_address_conflicts_total", "Another host answered for one of our addresses",
      stats_.address_conflicts.get());
    c("vnf_router_punted_total", "Packets the workers handed to the control thread",
      worker_total(&RouterWorkerState::punted));
    c("vnf_router_punt_queue_full_total", "Packets not handed over: the punt queue was full",
      worker_total(&RouterWorkerState::punt_full));
    c("vnf_router_icmp_sent_total", "ICMP errors sent",
      worker_total(&RouterWorkerState::icmp_sent));
    c("vnf_router_icmp_rate_limited_total", "ICMP errors not sent (rate limit)",
      worker_total(&RouterWorkerState::icmp_suppressed));
  });
}

}  // namespace vrouter
