// vswitch metrics: segments (/vnf/segments), limits by colour (/vnf/limits), switch ports
// (/vnf/switchports) and the MAC table (/vnf/mac_stats), read as those telemetry commands
// read them: under the MAC table's mutex, which the control thread holds while it writes the
// table or swaps the config, then the engine's port mutex.
#include <map>
#include <string>

#include "common/metrics.h"
#include "vswitch/switch.h"

namespace vswitch {

void Switch::register_metrics() {
  vnf::metrics::add("vswitch", [this](vnf::metrics::Writer& w) {
    std::lock_guard lock(macs_->mutex());
    std::map<std::string, uint32_t> statics;  // static entries per segment
    for (const auto& sm : cfg_.mac.statics) ++statics[sm.segment];
    for (const Segment& seg : cfg_.segments) {
      const vnf::metrics::Labels l{{"segment", seg.name}, {"vlan", std::to_string(seg.vlan)}};
      w.counter("vnf_segment_rx_packets_total", "Packets received into the segment", l,
                vlan_total(seg.vlan, 0));
      w.counter("vnf_segment_rx_bytes_total", "Bytes received into the segment", l,
                vlan_total(seg.vlan, 1));
      w.counter("vnf_segment_flooded_packets_total",
                "Packets of the segment flooded (broadcast, multicast, unknown unicast)", l,
                vlan_total(seg.vlan, 2));
      w.counter("vnf_segment_dropped_packets_total", "Packets of the segment dropped", l,
                vlan_total(seg.vlan, 3));
      w.gauge("vnf_segment_macs", "MAC addresses in the segment (learned and static)", l,
              macs_->learned_in(seg.vlan) + statics[seg.name]);
      w.gauge("vnf_segment_mac_limit", "MAC addresses the segment may learn", l, seg.mac_limit);
      w.counter("vnf_segment_macs_not_learned_total",
                "New MACs not learned because the segment was at its mac_limit", l,
                segment_limit_refused(seg.vlan));
    }

    std::lock_guard plock(engine_.ports_mutex());
    for (const auto& p : cfg_.ports) {
      const vnf::PortState* ps = engine_.find_port(p.name);
      if (!ps) continue;  // a port whose device a reload is changing
      const vnf::metrics::Labels l{{"port", p.name}};
      w.gauge("vnf_port_macs_learned", "MAC addresses learned behind the port", l,
              macs_->learned_on(ps->id));
      w.gauge("vnf_port_mac_limit", "MAC addresses the port may learn (0: no limit)", l,
              p.mac_limit);
    }

    static const char* const colour[3] = {"green", "yellow", "red"};
    for (const auto& r : limits_->rows()) {
      uint64_t pk[3], by[3];
      limits_->totals(r, pk, by);
      vnf::metrics::Labels l{
          {"port", r.port}, {"segment", r.segment}, {"class", r.cls}, {"dir", r.dir ? "tx" : "rx"}};
      w.gauge("vnf_limit_rate_bits_per_second", "The limit's configured rate (0: none)", l,
              static_cast<double>(r.spec.rate_bps));
      w.gauge("vnf_limit_measured_bits_per_second", "The rate measured over the last interval", l,
              r.bps);
      for (int k = 0; k < 3; ++k) {
        l.emplace_back("colour", colour[k]);
        w.counter("vnf_limit_packets_total",
                  "Packets metered by the limit, by colour (red: dropped or queued over the limit)",
                  l, pk[k]);
        w.counter("vnf_limit_bytes_total", "Bytes metered by the limit, by colour", l, by[k]);
        l.pop_back();
      }
    }

    const auto& s = macs_->stats();
    w.gauge("vnf_mac_table_entries", "Entries in the MAC table", {}, macs_->size());
    w.gauge("vnf_mac_table_capacity", "Entries the MAC table holds", {}, macs_->capacity());
    w.counter("vnf_mac_learned_total", "MACs learned", {}, s.learned.get());
    w.counter("vnf_mac_moved_total", "Learned MACs that moved to another port", {}, s.moved.get());
    w.counter("vnf_mac_aged_total", "MACs aged out", {}, s.aged.get());
    w.counter("vnf_mac_table_full_total", "MACs not learned because the table was full", {},
              s.table_full.get());
  });
}

}  // namespace vswitch
