// vswitch telemetry: /vnf/segments, /vnf/switchports, /vnf/macs, /vnf/mac_stats.
// Handlers take the MAC table's mutex, which the control thread holds while it writes the
// table or swaps the config.
#include <cstdlib>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "common/telemetry.h"
#include "common/why_request.h"
#include "vswitch/switch.h"

namespace vswitch {

namespace {
constexpr size_t kMacPage = 200;  // entries per /vnf/macs answer (telemetry's 16 kB limit)
constexpr size_t kLimitPage = 16;
constexpr size_t kSegmentPage = 64;  // segments per /vnf/segments answer (the same limit)

std::string vlan_list(const SwitchConfig& c, const SwitchPort& p) {
  std::string s;
  for (uint16_t v : c.port_vlans(p)) s += (s.empty() ? "" : ",") + std::to_string(v);
  return s;
}
}  // namespace

vnf::WhyHooks Switch::why_hooks() {
  // vnfctl why: the segment a frame on (port, tag) enters, for defaults and names.
  auto segment_of = [this](uint16_t port, uint16_t tag) -> int {
    const vnf::PortState* ps = engine_.port_by_id(port);
    const SwitchPort* p = ps ? cfg_.port(ps->device.name) : nullptr;
    if (!p) return -1;
    if (p->mode == PortMode::kAccess) return cfg_.segment(p->segment)->vlan;
    if (tag) return tag;
    return p->native.empty() ? -1 : cfg_.segment(p->native)->vlan;
  };
  vnf::WhyHooks why;
  why.learned_mac = [this, segment_of](uint16_t port, uint16_t tag) -> std::optional<vnf::WhyMac> {
    std::lock_guard lock(macs_->mutex());
    std::lock_guard plock(engine_.ports_mutex());
    const int vlan = segment_of(port, tag);
    std::optional<vnf::WhyMac> found;
    macs_->for_each([&](const MacKey& k, uint16_t p, bool, uint32_t) {
      if (found || p != port || k.vlan != vlan) return;
      vnf::WhyMac m;
      std::memcpy(m.data(), k.mac, 6);
      found = m;
    });
    return found;
  };
  if (rt_) {
    why.gateway_mac = [this, segment_of](uint16_t port,
                                         uint16_t tag) -> std::optional<vnf::WhyMac> {
      int vlan;
      {
        std::lock_guard lock(macs_->mutex());
        std::lock_guard plock(engine_.ports_mutex());
        vlan = segment_of(port, tag);
      }
      if (vlan < 0) return std::nullopt;
      std::lock_guard rlock(rt_->mutex());
      const vrouter::RouteSnapshot& rs = rt_->snapshot();
      const uint8_t x = rs.iface_of[0][vlan & 0xFFF];
      if (x == vrouter::kDpNoIface) return std::nullopt;
      vnf::WhyMac m;
      std::memcpy(m.data(), rs.iface[x].mac, 6);
      return m;
    };
    why.interface = [this](uint8_t x) -> std::string {
      std::lock_guard rlock(rt_->mutex());
      const auto& ifs = rt_->settings().interfaces;
      return x < ifs.size() ? ifs[x].name : "";
    };
  }
  why.segment = [this](uint16_t vlan) -> std::string {
    std::lock_guard lock(macs_->mutex());
    for (const auto& seg : cfg_.segments)
      if (seg.vlan == vlan) return seg.name;
    return "";
  };
  return why;
}

void Switch::register_telemetry() {
  vnf::register_program_telemetry("vswitch", engine_, audit_);
  vnf::register_engine_telemetry(engine_);
  if (fw_) fw_->register_telemetry(false);  // /vnf/fw/...: rules, zones, connections
  if (rt_) rt_->register_telemetry();       // /vnf/interfaces, routes, neighbors, router

  vnf::register_why_telemetry(engine_, why_hooks());
  register_metrics();

  vnf::telemetry::add(
      "/vnf/segments",
      "Segments: VLAN, ports, learned MACs, limits, counters. Params: [<offset>]; 64 a page, "
      "next_offset when there are more",
      [this](const std::string& params, rte_tel_data* d) {
        std::lock_guard lock(macs_->mutex());
        const size_t offset = params.empty() ? 0 : std::strtoul(params.c_str(), nullptr, 10);
        std::map<std::string, uint32_t> statics;  // static entries per segment
        for (const auto& sm : cfg_.mac.statics) ++statics[sm.segment];
        rte_tel_data_start_dict(d);
        for (size_t i = offset; i < cfg_.segments.size() && i < offset + kSegmentPage; ++i) {
          const Segment& seg = cfg_.segments[i];
          rte_tel_data* c = vnf::telemetry::new_dict();
          std::string ports;
          for (const auto& p : cfg_.ports) {
            const auto v = cfg_.port_vlans(p);
            if (std::find(v.begin(), v.end(), seg.vlan) != v.end())
              ports += (ports.empty() ? "" : ",") + p.name;
          }
          rte_tel_data_add_dict_string(c, "name", seg.name.c_str());
          rte_tel_data_add_dict_int(c, "vlan", seg.vlan);
          rte_tel_data_add_dict_string(c, "ports", ports.c_str());
          rte_tel_data_add_dict_u64(c, "macs", macs_->learned_in(seg.vlan) + statics[seg.name]);
          rte_tel_data_add_dict_u64(c, "mac_limit", seg.mac_limit);
          rte_tel_data_add_dict_string(c, "mac_limit_from",
                                       seg.mac_limit_default ? "default share" : "config");
          rte_tel_data_add_dict_string(c, "at_mac_limit",
                                       macs_->vlan_at_limit(seg.vlan) ? "yes" : "no");
          rte_tel_data_add_dict_u64(c, "macs_not_learned", segment_limit_refused(seg.vlan));
          rte_tel_data_add_dict_u64(c, "rx_packets", vlan_total(seg.vlan, 0));
          rte_tel_data_add_dict_u64(c, "rx_bytes", vlan_total(seg.vlan, 1));
          rte_tel_data_add_dict_u64(c, "flooded", vlan_total(seg.vlan, 2));
          rte_tel_data_add_dict_u64(c, "dropped", vlan_total(seg.vlan, 3));
          rte_tel_data_add_dict_container(d, vnf::telemetry::key(seg.name).c_str(), c, 0);
        }
        rte_tel_data_add_dict_u64(d, "count", cfg_.segments.size());
        if (offset + kSegmentPage < cfg_.segments.size())
          rte_tel_data_add_dict_u64(d, "next_offset", offset + kSegmentPage);
        return 0;
      });

  vnf::telemetry::add(
      "/vnf/limits",
      "Limits (docs/limits.md): per port, segment and class and direction, the configured rate, "
      "the measured rate, packets and bytes by colour, the shaper queue. Params: "
      "[port=<name>][,<offset>]; 16 a page, next_offset when there are more",
      [this](const std::string& params, rte_tel_data* d) {
        std::lock_guard lock(macs_->mutex());
        std::lock_guard plock(engine_.ports_mutex());  // find_port
        size_t offset = 0;
        std::string port;  // only this port's rows
        for (size_t at = 0; at <= params.size() && !params.empty();) {
          const size_t end = std::min(params.find(',', at), params.size());
          const std::string tok = params.substr(at, end - at);
          if (tok.rfind("port=", 0) == 0) {
            port = tok.substr(5);
          } else if (!tok.empty() && std::all_of(tok.begin(), tok.end(), ::isdigit)) {
            offset = std::strtoul(tok.c_str(), nullptr, 10);
          } else {
            return -EINVAL;  // the telemetry client reports a bad parameter
          }
          at = end + 1;
        }
        std::vector<const LimitRows::Row*> rows;
        for (const auto& r : limits_->rows())
          if (port.empty() || r.port == port) rows.push_back(&r);
        rte_tel_data_start_dict(d);
        for (size_t i = offset; i < rows.size() && i < offset + kLimitPage; ++i) {
          const LimitRows::Row& r = *rows[i];
          rte_tel_data* c = vnf::telemetry::new_dict();
          rte_tel_data_add_dict_string(c, "port", r.port.c_str());
          rte_tel_data_add_dict_string(c, "segment", r.segment.c_str());
          rte_tel_data_add_dict_string(c, "class", r.cls.c_str());
          rte_tel_data_add_dict_string(c, "dir", r.dir ? "tx" : "rx");
          rte_tel_data_add_dict_string(c, "mode", r.spec.shape ? "shape" : "police");
          rte_tel_data_add_dict_u64(c, "rate_bps", r.spec.rate_bps);
          rte_tel_data_add_dict_u64(c, "burst", r.spec.burst);
          if (r.spec.peak_rate_bps) {
            rte_tel_data_add_dict_u64(c, "peak_rate_bps", r.spec.peak_rate_bps);
            rte_tel_data_add_dict_u64(c, "peak_burst", r.spec.peak_burst);
          }
          if (r.spec.excess_burst)
            rte_tel_data_add_dict_u64(c, "excess_burst", r.spec.excess_burst);
          rte_tel_data_add_dict_u64(c, "pps", r.spec.pps);
          if (r.spec.pps) rte_tel_data_add_dict_u64(c, "pps_burst", r.spec.pps_burst);
          rte_tel_data_add_dict_u64(c, "workers", r.share);
          rte_tel_data_add_dict_u64(c, "measured_bps", static_cast<uint64_t>(r.bps));
          rte_tel_data_add_dict_u64(c, "measured_pps", static_cast<uint64_t>(r.pps));
          uint64_t pk[3], by[3];
          limits_->totals(r, pk, by);
          static const char* const colour[3] = {"green", "yellow", "red"};
          for (int k = 0; k < 3; ++k) {
            rte_tel_data_add_dict_u64(c, fmt::format("{}_packets", colour[k]).c_str(), pk[k]);
            rte_tel_data_add_dict_u64(c, fmt::format("{}_bytes", colour[k]).c_str(), by[k]);
          }
          if (r.spec.shape) {
            const vnf::PortState* ps = engine_.find_port(r.port);
            rte_tel_data_add_dict_u64(c, "queue_depth", ps ? limits_->queue_depth(ps->id) : 0);
            rte_tel_data_add_dict_u64(c, "queue_limit", r.spec.queue);
            rte_tel_data_add_dict_u64(c, "queue_drops", pk[2]);
          }
          rte_tel_data_add_dict_container(d, fmt::format("{}", i).c_str(), c, 0);
        }
        rte_tel_data_add_dict_u64(d, "count", rows.size());
        if (offset + kLimitPage < rows.size())
          rte_tel_data_add_dict_u64(d, "next_offset", offset + kLimitPage);
        return 0;
      });

  vnf::telemetry::add(
      "/vnf/switchports", "Ports: mode, VLANs, learned MACs and limit",
      [this](const std::string&, rte_tel_data* d) {
        std::lock_guard lock(macs_->mutex());
        std::lock_guard plock(engine_.ports_mutex());
        rte_tel_data_start_dict(d);
        for (const auto& p : cfg_.ports) {
          // A port whose device a reload is changing is missing for a moment: skipped.
          const vnf::PortState* ps = engine_.find_port(p.name);
          if (!ps) continue;
          const uint16_t id = ps->id;
          rte_tel_data* c = vnf::telemetry::new_dict();
          rte_tel_data_add_dict_string(c, "name", p.name.c_str());
          rte_tel_data_add_dict_string(c, "mode", p.mode == PortMode::kAccess ? "access" : "trunk");
          rte_tel_data_add_dict_string(c, "vlans", vlan_list(cfg_, p).c_str());
          if (!p.native.empty())
            rte_tel_data_add_dict_int(c, "native_vlan", cfg_.segment(p.native)->vlan);
          if (p.mode == PortMode::kTrunk)
            rte_tel_data_add_dict_string(c, "tpid", fmt::format("0x{:04x}", p.tpid).c_str());
          rte_tel_data_add_dict_string(c, "qinq", p.qinq ? "yes" : "no");
          rte_tel_data_add_dict_u64(c, "macs_learned", macs_->learned_on(id));
          rte_tel_data_add_dict_u64(c, "mac_limit", p.mac_limit);
          rte_tel_data_add_dict_string(c, "at_mac_limit", macs_->at_limit(id) ? "yes" : "no");
          rte_tel_data_add_dict_container(d, vnf::telemetry::key(p.name).c_str(), c, 0);
        }
        return 0;
      });

  vnf::telemetry::add(
      "/vnf/macs",
      "MAC table of one segment. Params: <segment>[,<offset>]. Entries are "
      "\"mac port static|dynamic idle_seconds\", 200 per page",
      [this](const std::string& params, rte_tel_data* d) {
        std::lock_guard lock(macs_->mutex());
        const size_t comma = params.find(',');
        const std::string seg_name = params.substr(0, comma);
        const size_t offset =
            comma == std::string::npos ? 0 : std::strtoul(params.c_str() + comma + 1, nullptr, 10);
        const Segment* seg = cfg_.segment(seg_name);
        if (!seg) return -EINVAL;
        std::vector<std::string> rows;
        const uint32_t now = coarse_seconds();
        std::lock_guard plock(engine_.ports_mutex());
        macs_->for_each([&](const MacKey& k, uint16_t port, bool is_static, uint32_t seen) {
          if (k.vlan != seg->vlan) return;
          const auto* ps = engine_.port_by_id(port);
          rows.push_back(fmt::format("{} {} {} {}", format_mac(k.mac), ps ? ps->device.name : "?",
                                     is_static ? "static" : "dynamic", is_static ? 0 : now - seen));
        });
        std::sort(rows.begin(), rows.end());
        rte_tel_data_start_dict(d);
        rte_tel_data_add_dict_string(d, "segment", seg->name.c_str());
        rte_tel_data_add_dict_int(d, "vlan", seg->vlan);
        rte_tel_data_add_dict_u64(d, "count", rows.size());
        rte_tel_data_add_dict_u64(d, "offset", offset);
        rte_tel_data* arr = rte_tel_data_alloc();
        rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
        for (size_t i = offset; i < rows.size() && i < offset + kMacPage; ++i)
          rte_tel_data_add_array_string(arr, rows[i].c_str());
        rte_tel_data_add_dict_container(d, "entries", arr, 0);
        if (offset + kMacPage < rows.size())
          rte_tel_data_add_dict_u64(d, "next_offset", offset + kMacPage);
        return 0;
      });

  vnf::telemetry::add("/vnf/mac_stats", "MAC table: size, capacity, learn/move/age counters",
                      [this](const std::string&, rte_tel_data* d) {
                        std::lock_guard lock(macs_->mutex());
                        const auto& s = macs_->stats();
                        rte_tel_data_start_dict(d);
                        rte_tel_data_add_dict_u64(d, "size", macs_->size());
                        rte_tel_data_add_dict_u64(d, "capacity", macs_->capacity());
                        rte_tel_data_add_dict_u64(d, "aging_seconds", cfg_.mac.aging_s);
                        rte_tel_data_add_dict_u64(d, "learned", s.learned.get());
                        rte_tel_data_add_dict_u64(d, "moved", s.moved.get());
                        rte_tel_data_add_dict_u64(d, "aged", s.aged.get());
                        rte_tel_data_add_dict_u64(d, "flushed", s.flushed.get());
                        rte_tel_data_add_dict_u64(d, "table_full", s.table_full.get());
                        rte_tel_data_add_dict_u64(d, "limit_refused", s.limit_refused.get());
                        rte_tel_data_add_dict_u64(d, "segment_limit_refused",
                                                  segment_limit_refused());
                        rte_tel_data_add_dict_u64(d, "static_conflicts", s.static_conflicts.get());
                        rte_tel_data_add_dict_u64(d, "learn_requests", learn_requests());
                        rte_tel_data_add_dict_u64(d, "learn_queue_full", learn_ring_full());
                        return 0;
                      });
}

}  // namespace vswitch
