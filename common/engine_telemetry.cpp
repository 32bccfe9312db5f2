// /vnf/ports, /vnf/drops, /vnf/workers: counters summed over workers, plus the driver's own
// counters (rte_eth_stats) beside ours.
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <cstdlib>

#include "common/engine.h"
#include "common/telemetry.h"

namespace vnf {

void register_engine_telemetry(Engine& engine) {
  telemetry::add("/vnf/ports", "Ports with link state and counters. Param: port name (optional)",
                 [&engine](const std::string& params, rte_tel_data* d) {
                   rte_tel_data_start_dict(d);
                   std::lock_guard lock(engine.ports_mutex());  // a reload may add or remove
                   for (const auto& p : engine.ports()) {
                     if (!params.empty() && params != p.device.name) continue;
                     rte_tel_data* c = telemetry::new_dict();
                     uint64_t s[6];
                     engine.sum_port(p.id, s);
                     rte_eth_stats es{};
                     rte_eth_stats_get(p.id, &es);
                     rte_tel_data_add_dict_string(c, "name", p.device.name.c_str());
                     rte_tel_data_add_dict_string(
                         c, "type", std::string(port_kind_name(p.device.kind)).c_str());
                     rte_tel_data_add_dict_string(c, "device", p.device.device_name().c_str());
                     rte_tel_data_add_dict_int(c, "port_id", p.id);
                     rte_tel_data_add_dict_string(c, "link", p.link_up ? "up" : "down");
                     rte_tel_data_add_dict_u64(c, "link_speed_mbps", p.link_speed);
                     rte_tel_data_add_dict_u64(c, "link_changes", p.link_changes);
                     rte_tel_data_add_dict_u64(c, "rx_packets", s[0]);
                     rte_tel_data_add_dict_u64(c, "rx_bytes", s[1]);
                     rte_tel_data_add_dict_u64(c, "tx_packets", s[2]);
                     rte_tel_data_add_dict_u64(c, "tx_bytes", s[3]);
                     rte_tel_data_add_dict_u64(c, "tx_dropped", s[4]);
                     rte_tel_data_add_dict_u64(c, "rx_dropped", s[5]);
                     rte_tel_data_add_dict_u64(c, "dev_ipackets", es.ipackets);
                     rte_tel_data_add_dict_u64(c, "dev_opackets", es.opackets);
                     rte_tel_data_add_dict_u64(c, "dev_imissed", es.imissed);
                     rte_tel_data_add_dict_u64(c, "dev_ierrors", es.ierrors);
                     rte_tel_data_add_dict_u64(c, "dev_oerrors", es.oerrors);
                     rte_tel_data_add_dict_u64(c, "dev_rx_nombuf", es.rx_nombuf);
                     rte_tel_data_add_dict_container(d, telemetry::key(p.device.name).c_str(), c,
                                                     0);
                   }
                   return 0;
                 });
  telemetry::add("/vnf/drops", "Dropped packets by reason (all reasons, zeros included)",
                 [&engine](const std::string&, rte_tel_data* d) {
                   rte_tel_data_start_dict(d);
                   for (size_t r = 1; r < kDropReasonCount; ++r)
                     rte_tel_data_add_dict_u64(d, std::string(kDropReasonNames[r]).c_str(),
                                               engine.drop_total(static_cast<DropReason>(r)));
                   return 0;
                 });
  telemetry::add("/vnf/workers", "Workers: lcore, rx queues, loops and busy loops",
                 [&engine](const std::string&, rte_tel_data* d) {
                   rte_tel_data_start_dict(d);
                   for (unsigned i = 0; i < engine.worker_count(); ++i) {
                     const WorkerContext& w = engine.worker(i);
                     rte_tel_data* c = telemetry::new_dict();
                     rte_tel_data_add_dict_int(c, "lcore", static_cast<int>(w.lcore));
                     rte_tel_data_add_dict_int(c, "rx_queues", w.rx_list.load()->count);
                     rte_tel_data_add_dict_u64(c, "loops", w.stats.loops.get());
                     rte_tel_data_add_dict_u64(c, "busy_loops", w.stats.busy_loops.get());
                     rte_tel_data_add_dict_container(d, ("worker" + std::to_string(i)).c_str(), c,
                                                     0);
                   }
                   return 0;
                 });
}

}  // namespace vnf

#include <unistd.h>

#include "common/audit.h"

namespace vnf {

void register_program_telemetry(const std::string& program, Engine& engine,
                                const ConfigAudit& audit) {
  telemetry::add("/vnf/info", "Program, version, instance, pid, workers, config generation",
                 [program, &engine, &audit](const std::string&, rte_tel_data* d) {
                   const ApplyRecord last = audit.last();
                   rte_tel_data_start_dict(d);
                   rte_tel_data_add_dict_string(d, "program", program.c_str());
                   rte_tel_data_add_dict_string(d, "version", VNF_VERSION);
                   rte_tel_data_add_dict_string(d, "instance", engine.config().name.c_str());
                   rte_tel_data_add_dict_int(d, "pid", getpid());
                   rte_tel_data_add_dict_u64(d, "tsc_hz", rte_get_tsc_hz());
                   rte_tel_data_add_dict_int(d, "workers", static_cast<int>(engine.worker_count()));
                   {
                     std::lock_guard lock(engine.ports_mutex());
                     rte_tel_data_add_dict_int(d, "ports", static_cast<int>(engine.ports().size()));
                   }
                   rte_tel_data_add_dict_u64(d, "config_generation", audit.generation());
                   rte_tel_data_add_dict_string(d, "config_file", last.file.c_str());
                   return 0;
                 });
  telemetry::add("/vnf/config", "Config generation and the last apply attempts (newest last)",
                 [&audit](const std::string&, rte_tel_data* d) {
                   rte_tel_data_start_dict(d);
                   rte_tel_data_add_dict_u64(d, "generation", audit.generation());
                   rte_tel_data_add_dict_u64(d, "attempts", audit.attempts());
                   const auto hist = audit.history();
                   size_t i = hist.size() > 8 ? hist.size() - 8 : 0;
                   for (; i < hist.size(); ++i) {
                     const ApplyRecord& r = hist[i];
                     rte_tel_data* c = telemetry::new_dict();
                     rte_tel_data_add_dict_u64(c, "seq", r.seq);
                     rte_tel_data_add_dict_string(c, "time", r.time.c_str());
                     rte_tel_data_add_dict_string(c, "result", r.ok ? "applied" : "rejected");
                     rte_tel_data_add_dict_u64(c, "generation", r.generation);
                     rte_tel_data_add_dict_string(c, "hash", r.hash.c_str());
                     rte_tel_data_add_dict_string(c, "via", r.who.via.c_str());
                     rte_tel_data_add_dict_int(c, "uid", static_cast<int>(r.who.uid));
                     rte_tel_data_add_dict_string(c, "user", r.who.user.c_str());
                     rte_tel_data_add_dict_int(c, "pid", r.who.pid);
                     std::string detail = r.detail.substr(0, RTE_TEL_MAX_STRING_LEN - 1);
                     rte_tel_data_add_dict_string(c, "detail", detail.c_str());
                     rte_tel_data_add_dict_container(d, ("attempt" + std::to_string(r.seq)).c_str(),
                                                     c, 0);
                   }
                   return 0;
                 });
}

}  // namespace vnf
