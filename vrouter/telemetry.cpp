// vrouter telemetry: /vnf/interfaces, /vnf/routes, /vnf/neighbors, /vnf/router.
// Handlers take the core's mutex, which the control thread holds while it changes state.
#include <cstdlib>

#include <fmt/format.h>

#include "common/app.h"
#include "common/telemetry.h"
#include "vrouter/routing_core.h"

namespace vrouter {

namespace {
constexpr size_t kPage = 100;  // lines per answer (telemetry answers are at most 16 kB)

size_t offset_param(const std::string& params) {
  return params.empty() ? 0 : std::strtoul(params.c_str(), nullptr, 10);
}

void add_lines(rte_tel_data* d, const std::vector<std::string>& lines, size_t total,
               size_t offset) {
  rte_tel_data_add_dict_u64(d, "count", total);
  rte_tel_data_add_dict_u64(d, "offset", offset);
  rte_tel_data* arr = rte_tel_data_alloc();
  rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
  for (const auto& l : lines)
    rte_tel_data_add_array_string(arr, l.substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
  rte_tel_data_add_dict_container(d, "entries", arr, 0);
  if (offset + lines.size() < total) rte_tel_data_add_dict_u64(d, "next_offset", offset + kPage);
}
}  // namespace

void RoutingCore::register_telemetry() {
  register_metrics();
  vnf::telemetry::add(
      "/vnf/interfaces", "Router interfaces: port, VLAN, MAC, MTU, addresses, counters",
      [this](const std::string&, rte_tel_data* d) {
        std::lock_guard lock(mu_);
        rte_tel_data_start_dict(d);
        for (size_t i = 0; i < s_.interfaces.size(); ++i) {
          const Interface& itf = s_.interfaces[i];
          const IfaceDp& I = cur_->iface[i];
          rte_tel_data* c = vnf::telemetry::new_dict();
          rte_tel_data_add_dict_string(c, "name", itf.name.c_str());
          if (!env_.host_mode) rte_tel_data_add_dict_string(c, "port", itf.port.c_str());
          rte_tel_data_add_dict_int(c, "vlan", itf.vlan);
          rte_tel_data_add_dict_string(c, "segment", itf.segment.c_str());
          rte_tel_data_add_dict_string(c, "mac", format_mac(I.mac).c_str());
          rte_tel_data_add_dict_int(c, "mtu", itf.mtu);
          std::string v4, v6;
          for (const auto& a : itf.ipv4) v4 += (v4.empty() ? "" : ",") + to_string(a);
          for (const auto& a : itf.ipv6) v6 += (v6.empty() ? "" : ",") + to_string(a);
          rte_tel_data_add_dict_string(c, "ipv4", v4.c_str());
          rte_tel_data_add_dict_string(c, "ipv6", v6.c_str());
          rte_tel_data_add_dict_string(c, "link_local", to_string(IpAddr::v6(I.ll6)).c_str());
          rte_tel_data_add_dict_string(c, "link",
                                       iface_up(static_cast<uint8_t>(i)) ? "up" : "down");
          const auto t = iface_totals(static_cast<uint8_t>(i));
          rte_tel_data_add_dict_u64(c, "rx_packets", t[0]);
          rte_tel_data_add_dict_u64(c, "rx_bytes", t[1]);
          rte_tel_data_add_dict_u64(c, "routed_out_packets", t[2]);
          rte_tel_data_add_dict_u64(c, "routed_out_bytes", t[3]);
          rte_tel_data_add_dict_u64(c, "icmp_sent", t[4]);
          rte_tel_data_add_dict_u64(c, "arp_nd_in", t[5]);
          rte_tel_data_add_dict_u64(c, "dropped", t[6]);
          rte_tel_data_add_dict_container(d, vnf::telemetry::key(itf.name).c_str(), c, 0);
        }
        return 0;
      });

  vnf::telemetry::add(
      "/vnf/routes",
      "Routes, one line per next hop: prefix, next hop, distance, kind, active|backup|down. "
      "Param: offset (100 lines per page)",
      [this](const std::string& params, rte_tel_data* d) {
        std::lock_guard lock(mu_);
        const size_t offset = offset_param(params);
        size_t total = 0;
        const auto lines = route_lines(offset, kPage, &total);
        rte_tel_data_start_dict(d);
        rte_tel_data_add_dict_u64(d, "ipv4_prefixes", cur_->table.v4.size());
        rte_tel_data_add_dict_u64(d, "ipv6_prefixes", cur_->table.v6.size());
        add_lines(d, lines, total, offset);
        return 0;
      });

  vnf::telemetry::add(
      "/vnf/neighbors",
      "ARP/ND cache: address, MAC, interface, state, flags. Param: offset (100 per page)",
      [this](const std::string& params, rte_tel_data* d) {
        std::lock_guard lock(mu_);
        const size_t offset = offset_param(params);
        const auto all = neighbor_lines(vnf::monotonic_ms());
        std::vector<std::string> page;
        for (size_t i = offset; i < all.size() && page.size() < kPage; ++i) page.push_back(all[i]);
        rte_tel_data_start_dict(d);
        rte_tel_data_add_dict_u64(d, "capacity", neigh_->capacity());
        add_lines(d, page, all.size(), offset);
        return 0;
      });

  vnf::telemetry::add(
      "/vnf/router", "Router summary: tables, neighbour and ICMP counters, failovers",
      [this](const std::string&, rte_tel_data* d) {
        std::lock_guard lock(mu_);
        rte_tel_data_start_dict(d);
        auto u = [d](const char* k, uint64_t v) { rte_tel_data_add_dict_u64(d, k, v); };
        u("generation", cur_->generation);
        u("ipv4_prefixes", cur_->table.v4.size());
        u("ipv6_prefixes", cur_->table.v6.size());
        u("path_lists", cur_->n_path);
        u("adjacencies", cur_->n_adj);
        u("fib_memory_bytes", cur_->fib->memory_bytes());
        u("neighbors", neigh_->size());
        u("neighbor_capacity", neigh_->capacity());
        u("held_packets", held_total_);
        u("held", stats_.held.get());
        u("released", stats_.released.get());
        u("hold_dropped", stats_.hold_dropped.get());
        u("resolve_failed", stats_.resolve_failed.get());
        u("neighbor_table_full", stats_.table_full.get());
        u("arp_in", stats_.arp_in.get());
        u("nd_in", stats_.nd_in.get());
        u("arp_replies_sent", stats_.arp_replies_sent.get());
        u("na_sent", stats_.na_sent.get());
        u("probes_sent", stats_.probes_sent.get());
        u("announcements_sent", stats_.announcements_sent.get());
        u("failovers", stats_.failovers.get());
        u("fallbacks", stats_.fallbacks.get());
        u("address_conflicts", stats_.address_conflicts.get());
        u("invalid_arp_nd", stats_.invalid_control.get());
        u("punted", worker_total(&RouterWorkerState::punted));
        u("punt_queue_full", worker_total(&RouterWorkerState::punt_full));
        u("injected", worker_total(&RouterWorkerState::injected));
        u("inject_deferred", stats_.inject_deferred.get());
        u("inject_lost", stats_.inject_lost.get());
        u("icmp_sent", worker_total(&RouterWorkerState::icmp_sent));
        u("icmp_rate_limited", worker_total(&RouterWorkerState::icmp_suppressed));
        u("no_mbuf", stats_.no_mbuf.get());
        u("link_changes", stats_.link_changes.get());
        u("link_down_not_sent", stats_.link_down_not_sent.get());
        return 0;
      });
}

}  // namespace vrouter
