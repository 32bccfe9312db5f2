// vfirewall metrics: rules (/vnf/fw/rules), zones (/vnf/fw/zones) and the connection table
// (/vnf/fw/stats), read as those telemetry commands read them: rules and zones under mu_
// (the control thread holds it while it swaps the config), per-worker counters summed.
#include <string>

#include "common/metrics.h"
#include "vfirewall/program/firewall.h"

namespace vfirewall {

void Firewall::register_metrics() {
  vnf::metrics::add("vfirewall", [this](vnf::metrics::Writer& w) {
    {
      std::lock_guard lock(mu_);
      for (const Rule& r : cfg_.rules) {
        const RuleStats st = rule_stats(r.id);
        const vnf::metrics::Labels l{{"rule", r.id}};
        w.counter("vnf_fw_rule_hits_total", "Connections (or stateless packets) the rule decided",
                  l, st.hits);
        w.counter("vnf_fw_rule_packets_total", "Packets of the connections the rule decided", l,
                  st.packets);
        w.counter("vnf_fw_rule_bytes_total", "Bytes of the connections the rule decided", l,
                  st.bytes);
      }
      for (const Zone& z : cfg_.zones) {
        const vnf::metrics::Labels l{{"zone", z.name}};
        w.gauge("vnf_fw_zone_connections", "Connections of the zone now", l,
                static_cast<double>(active(z.name)));
        w.counter("vnf_fw_zone_connections_created_total", "Connections the zone opened", l,
                  zone_created(z.name));
      }
    }
    w.gauge("vnf_fw_connections", "Connections in the table (all workers)", {},
            static_cast<double>(sessions_in_use()));
    const std::pair<const char*, vnf::Counter FwCounters::*> cs[] = {
        {"vnf_fw_connections_created_total", &FwCounters::created},
        {"vnf_fw_connections_closed_total", &FwCounters::closed},
        {"vnf_fw_connections_expired_total", &FwCounters::expired},
        {"vnf_fw_connections_flushed_total", &FwCounters::flushed},
        {"vnf_fw_connection_table_full_total", &FwCounters::table_full},
        {"vnf_fw_zone_limit_total", &FwCounters::zone_limit},
        {"vnf_fw_log_records_total", &FwCounters::log_records},
        {"vnf_fw_log_suppressed_total", &FwCounters::log_suppressed},
        {"vnf_fw_rejects_sent_total", &FwCounters::rejects_sent}};
    for (const auto& [name, c] : cs)
      w.counter(name, "Connection tracking counter (as /vnf/fw/stats)", {}, counter(c));
  });
}

}  // namespace vfirewall
