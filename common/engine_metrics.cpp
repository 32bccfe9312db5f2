// The engine's metrics: vnf_info, ports, drop reasons, bonds, workers. The same numbers as
// /vnf/info, /vnf/ports, /vnf/drops, /vnf/bonds, /vnf/bond_members and /vnf/workers
// (common/engine_telemetry.cpp), read the same way: the port list under ports_mutex() (a
// reload may add or remove ports), per-worker counters summed on read.
#include <rte_ethdev.h>

#include <string>

#include "common/audit.h"
#include "common/engine.h"
#include "common/metrics.h"

namespace vnf {

void register_engine_metrics(Engine& engine) {
  metrics::add("engine", [&engine](metrics::Writer& w) {
    {
      std::lock_guard lock(engine.ports_mutex());
      for (const auto& p : engine.ports()) {
        uint64_t s[6];
        engine.sum_port(p.id, s);
        rte_eth_stats es{};
        rte_eth_stats_get(p.id, &es);
        const metrics::Labels l{{"port", p.device.name}};
        w.counter("vnf_port_rx_packets_total", "Packets received on the port", l, s[0]);
        w.counter("vnf_port_rx_bytes_total", "Bytes received on the port", l, s[1]);
        w.counter("vnf_port_tx_packets_total", "Packets handed to the port's driver to send", l,
                  s[2]);
        w.counter("vnf_port_tx_bytes_total", "Bytes handed to the port's driver to send", l, s[3]);
        w.counter("vnf_port_tx_dropped_total",
                  "Packets for the port that were not sent (link down, queue full)", l, s[4]);
        w.counter("vnf_port_rx_dropped_total",
                  "Packets received on the port and dropped (any reason, see vnf_drops_total)", l,
                  s[5]);
        w.counter("vnf_port_rx_missed_total",
                  "Packets the NIC dropped because no rx descriptor was free (driver imissed)", l,
                  es.imissed);
        w.gauge("vnf_port_link_up", "1 when the port's link is up", l, p.link_up ? 1 : 0);
        w.counter("vnf_port_link_changes_total", "Link state changes of the port", l,
                  p.link_changes);
        if (!p.bond || p.removing) continue;
        const BondState& b = *p.bond;
        const metrics::Labels bl{{"bond", p.device.name}};
        w.counter("vnf_bond_failovers_total",
                  "Failovers of the bond: its active member changed, or the set that carries", bl,
                  b.failovers);
        for (const auto& m : b.members) {
          const metrics::Labels ml{{"bond", p.device.name}, {"member", m.device.name}};
          w.gauge("vnf_bond_member_up",
                  "1 when the bond member is usable (link up for longer than up_delay_ms)", ml,
                  m.up ? 1 : 0);
          w.counter("vnf_bond_member_link_changes_total", "Link state changes of the bond member",
                    ml, m.link_changes);
        }
      }
    }
    for (size_t r = 1; r < kDropReasonCount; ++r)
      w.counter("vnf_drops_total",
                "Packets dropped, by reason (docs/operations.md lists the reasons)",
                {{"reason", std::string(kDropReasonNames[r])}},
                engine.drop_total(static_cast<DropReason>(r)));
    for (unsigned i = 0; i < engine.worker_count(); ++i) {
      const WorkerContext& wc = engine.worker(i);
      const metrics::Labels l{{"worker", std::to_string(i)}};
      w.counter("vnf_worker_loops_total", "Poll loops of the worker", l, wc.stats.loops.get());
      w.counter("vnf_worker_busy_loops_total", "Poll loops that received at least one packet", l,
                wc.stats.busy_loops.get());
    }
  });
}

void register_program_metrics(const std::string& program, Engine& engine,
                              const ConfigAudit& audit) {
  metrics::add("program", [program, &engine, &audit](metrics::Writer& w) {
    w.gauge("vnf_info", "The appliance's program and version (always 1)",
            {{"program", program}, {"version", VNF_VERSION}}, 1);
    w.gauge("vnf_workers", "Worker lcores", {}, engine.worker_count());
    w.gauge("vnf_config_generation", "Generation of the running config (1 at start-up)", {},
            static_cast<double>(audit.generation()));
    w.counter("vnf_config_apply_attempts_total", "Config loads and reloads, applied or rejected",
              {}, audit.attempts());
  });
}

}  // namespace vnf
