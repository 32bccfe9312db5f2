// /vnf/ports, /vnf/drops, /vnf/workers: counters summed over workers, plus the driver's own
// counters (rte_eth_stats) beside ours.
#include <rte_cycles.h>
#include <rte_eth_bond.h>
#include <rte_eth_bond_8023ad.h>
#include <rte_ethdev.h>

#include <cctype>
#include <cstdlib>

#include "common/engine.h"
#include "common/telemetry.h"

namespace vnf {

namespace {

// LACP actor/partner state bits (IEEE 802.1AX 6.4.2.3) as words, as `ovs-appctl lacp/show`
// and the Linux bonding driver print them.
std::string lacp_state(uint8_t s) {
  static const char* const names[] = {"activity",   "timeout",      "aggregation", "synchronized",
                                      "collecting", "distributing", "defaulted",   "expired"};
  std::string out;
  for (int i = 0; i < 8; ++i)
    if (s & (1u << i)) out += (out.empty() ? "" : " ") + std::string(names[i]);
  return out;
}

std::string mac_text(const rte_ether_addr& a) {
  char buf[RTE_ETHER_ADDR_FMT_SIZE];
  rte_ether_format_addr(buf, sizeof buf, &a);
  std::string s(buf);
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;  // lower case, as the MAC table and `ip link` print them
}

void bond_members(const PortState& p, rte_tel_data* d) {
  const BondState& b = *p.bond;
  const BondSpec& spec = *p.device.bond;
  uint16_t active[RTE_MAX_ETHPORTS];
  const int nactive = rte_eth_bond_active_slaves_get(p.id, active, RTE_MAX_ETHPORTS);
  for (size_t i = 0; i < b.members.size(); ++i) {
    const BondMemberState& m = b.members[i];
    rte_tel_data* c = telemetry::new_dict();
    rte_tel_data_add_dict_string(c, "bond", p.device.name.c_str());
    rte_tel_data_add_dict_string(c, "name", m.device.name.c_str());
    rte_tel_data_add_dict_string(c, "type", std::string(port_kind_name(m.device.kind)).c_str());
    rte_tel_data_add_dict_string(c, "iface", m.device.iface.c_str());
    rte_tel_data_add_dict_int(c, "port_id", m.id);
    rte_tel_data_add_dict_string(c, "link", m.link ? "up" : "down");
    rte_tel_data_add_dict_int(c, "usable", m.up ? 1 : 0);
    bool carrying = false;
    if (spec.mode == BondMode::kActiveBackup) {
      // What the driver sends on (the engine's choice, unless the driver has not taken it yet).
      carrying = b.active >= 0 && rte_eth_bond_primary_get(p.id) == m.id;
    } else {
      for (int k = 0; k < nactive; ++k) carrying |= active[k] == m.id;
    }
    rte_tel_data_add_dict_int(c, "active", carrying ? 1 : 0);
    rte_tel_data_add_dict_int(c, "in_bond", m.in_bond ? 1 : 0);
    rte_tel_data_add_dict_u64(c, "link_changes", m.link_changes);
    rte_eth_stats es{};
    rte_eth_stats_get(m.id, &es);
    rte_tel_data_add_dict_u64(c, "rx_packets", es.ipackets);
    rte_tel_data_add_dict_u64(c, "tx_packets", es.opackets);
    rte_tel_data_add_dict_u64(c, "rx_bytes", es.ibytes);
    rte_tel_data_add_dict_u64(c, "tx_bytes", es.obytes);
    struct rte_eth_bond_8023ad_slave_info info {};
    if (spec.mode == BondMode::kLacp && m.in_bond &&
        rte_eth_bond_8023ad_slave_info(p.id, m.id, &info) == 0) {
      static const char* const sel[] = {"unselected", "standby", "selected"};
      rte_tel_data_add_dict_string(c, "lacp_selected",
                                   info.selected <= 2 ? sel[info.selected] : "?");
      rte_tel_data_add_dict_string(c, "actor_state", lacp_state(info.actor_state).c_str());
      rte_tel_data_add_dict_string(c, "actor_system", mac_text(info.actor.system).c_str());
      rte_tel_data_add_dict_int(c, "actor_key", rte_be_to_cpu_16(info.actor.key));
      rte_tel_data_add_dict_int(c, "actor_port", rte_be_to_cpu_16(info.actor.port_number));
      rte_tel_data_add_dict_string(c, "partner_state", lacp_state(info.partner_state).c_str());
      rte_tel_data_add_dict_string(c, "partner_system", mac_text(info.partner.system).c_str());
      rte_tel_data_add_dict_int(c, "partner_system_priority",
                                rte_be_to_cpu_16(info.partner.system_priority));
      rte_tel_data_add_dict_int(c, "partner_key", rte_be_to_cpu_16(info.partner.key));
      rte_tel_data_add_dict_int(c, "partner_port", rte_be_to_cpu_16(info.partner.port_number));
    }
    rte_tel_data_add_dict_container(d, telemetry::key(p.device.name + "/" + m.device.name).c_str(),
                                    c, 0);
  }
}

}  // namespace

void register_engine_telemetry(Engine& engine) {
  register_engine_metrics(engine);
  telemetry::add(
      "/vnf/bonds",
      "Bonds: mode, active member, failovers and the last one. Param: bond name "
      "(optional)",
      [&engine](const std::string& params, rte_tel_data* d) {
        rte_tel_data_start_dict(d);
        std::lock_guard lock(engine.ports_mutex());
        for (const auto& p : engine.ports()) {
          if (!p.bond || p.removing) continue;
          if (!params.empty() && params != p.device.name) continue;
          const BondState& b = *p.bond;
          const BondSpec& spec = *p.device.bond;
          rte_tel_data* c = telemetry::new_dict();
          rte_tel_data_add_dict_string(c, "name", p.device.name.c_str());
          rte_tel_data_add_dict_string(c, "mode", std::string(bond_mode_name(spec.mode)).c_str());
          rte_tel_data_add_dict_string(c, "link", p.link_up ? "up" : "down");
          std::string members, up;
          for (const auto& m : b.members) {
            members += (members.empty() ? "" : ",") + m.device.name;
            if (m.up) up += (up.empty() ? "" : ",") + m.device.name;
          }
          rte_tel_data_add_dict_string(c, "members", members.c_str());
          rte_tel_data_add_dict_string(c, "members_up", up.c_str());
          if (spec.mode == BondMode::kActiveBackup) {
            rte_tel_data_add_dict_string(c, "primary", spec.primary.c_str());
            rte_tel_data_add_dict_string(c, "revert", spec.revert ? "always" : "never");
            rte_tel_data_add_dict_string(
                c, "active", b.active >= 0 ? b.members[b.active].device.name.c_str() : "");
          } else {
            rte_tel_data_add_dict_string(c, "hash", std::string(bond_hash_name(spec.hash)).c_str());
          }
          rte_tel_data_add_dict_u64(c, "up_delay_ms", spec.up_delay_ms);
          rte_tel_data_add_dict_u64(c, "down_delay_ms", spec.down_delay_ms);
          rte_tel_data_add_dict_u64(c, "failovers", b.failovers);
          rte_tel_data_add_dict_string(c, "last_failover", b.last_failover.c_str());
          rte_tel_data_add_dict_string(c, "last_from", b.last_from.c_str());
          rte_tel_data_add_dict_string(c, "last_to", b.last_to.c_str());
          rte_tel_data_add_dict_string(c, "last_reason", b.last_reason.c_str());
          rte_tel_data_add_dict_u64(c, "announced", b.announced);
          rte_tel_data_add_dict_u64(c, "announce_lost", b.announce_lost);
          rte_tel_data_add_dict_container(d, telemetry::key(p.device.name).c_str(), c, 0);
        }
        return 0;
      });
  telemetry::add("/vnf/bond_members",
                 "Bond members: link, whether they carry traffic, counters, LACP actor and "
                 "partner. Param: bond name (optional)",
                 [&engine](const std::string& params, rte_tel_data* d) {
                   rte_tel_data_start_dict(d);
                   std::lock_guard lock(engine.ports_mutex());
                   for (const auto& p : engine.ports())
                     if (p.bond && !p.removing && (params.empty() || params == p.device.name))
                       bond_members(p, d);
                   return 0;
                 });
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
  register_program_metrics(program, engine, audit);
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
