// vfirewall telemetry: /vnf/fw/rules, /vnf/fw/rule, /vnf/fw/zones, /vnf/fw/conns,
// /vnf/fw/stats, /vnf/fw/flush. Rule and zone counters are per-worker counters summed here;
// connection dumps and flushes are requests the workers serve (the tables have one writer).
#include <arpa/inet.h>

#include <cstdlib>

#include <rte_cycles.h>

#include <fmt/format.h>

#include "common/telemetry.h"
#include "common/why_request.h"
#include "vfirewall/program/firewall.h"

namespace vfirewall {

namespace {

constexpr size_t kRulePage = 50;
constexpr size_t kZonePage = 50;
constexpr uint32_t kConnPage = 100;

std::map<std::string, std::string> kv(const std::string& params) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= params.size() && !params.empty()) {
    const size_t comma = params.find(',', pos);
    const std::string item =
        params.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const size_t eq = item.find('=');
    if (!item.empty()) out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// zone=NAME, proto=tcp|udp|icmp|icmp6|N, src=ADDR, dst=ADDR, sport=N, dport=N.
bool parse_filter(const Firewall& fw, const std::map<std::string, std::string>& p,
                  SessionFilter& f) {
  for (const auto& [k, v] : p) {
    if (k == "zone") {
      f.zone = fw.zone_id(v);
      if (!f.zone) return false;
    } else if (k == "proto") {
      f.proto = v == "tcp"     ? 6
                : v == "udp"   ? 17
                : v == "icmp"  ? 1
                : v == "icmp6" ? 58
                               : static_cast<uint8_t>(std::atoi(v.c_str()));
      if (!f.proto) return false;
    } else if (k == "src" || k == "dst") {
      uint8_t* a = k == "src" ? f.src : f.dst;
      uint8_t fam = 0;
      if (inet_pton(AF_INET, v.c_str(), a) == 1) {
        fam = 4;
      } else if (inet_pton(AF_INET6, v.c_str(), a) == 1) {
        fam = 6;
      } else {
        return false;
      }
      if (f.family && f.family != fam) return false;
      f.family = fam;
      (k == "src" ? f.has_src : f.has_dst) = 1;
    } else if (k == "sport" || k == "dport") {
      const long n = std::atol(v.c_str());
      if (n <= 0 || n > 65535) return false;
      (k == "sport" ? f.sport : f.dport) = static_cast<uint16_t>(n);
    } else if (k != "offset" && k != "all") {
      return false;
    }
  }
  return true;
}

}  // namespace

void Firewall::register_telemetry(bool with_program_commands) {
  if (with_program_commands) {
    vnf::register_program_telemetry("vfirewall", engine_, audit_);
    vnf::register_engine_telemetry(engine_);
    vnf::WhyHooks why;
    why.macs_matter = false;  // a wire forwards whatever MACs the frame has
    vnf::register_why_telemetry(engine_, std::move(why));
  }
  register_metrics();

  vnf::telemetry::add(
      "/vnf/fw/rules",
      "Rules in order with hits, packets, bytes, seconds since the last hit. Param: offset "
      "(50 per page)",
      [this](const std::string& params, rte_tel_data* d) {
        std::lock_guard lock(mu_);
        const size_t offset = params.empty() ? 0 : std::strtoul(params.c_str(), nullptr, 10);
        const uint32_t now = static_cast<uint32_t>(rte_rdtsc() / rte_get_tsc_hz());
        rte_tel_data_start_dict(d);
        rte_tel_data_add_dict_u64(d, "count", cfg_.rules.size());
        rte_tel_data_add_dict_u64(d, "offset", offset);
        for (size_t i = offset; i < cfg_.rules.size() && i < offset + kRulePage; ++i) {
          const Rule& r = cfg_.rules[i];
          const RuleStats st = rule_stats(r.id);
          rte_tel_data* c = vnf::telemetry::new_dict();
          rte_tel_data_add_dict_string(c, "id", r.id.c_str());
          rte_tel_data_add_dict_u64(c, "position", i + 1);
          rte_tel_data_add_dict_string(c, "action", action_name(r.action));
          if (r.log)  // records per second for this rule, all workers together
            rte_tel_data_add_dict_u64(
                c, "log_rate",
                r.log_rate == kLogRateDefault ? cfg_.conntrack.log_rate : r.log_rate);
          rte_tel_data_add_dict_u64(c, "hits", st.hits);
          rte_tel_data_add_dict_u64(c, "packets", st.packets);
          rte_tel_data_add_dict_u64(c, "bytes", st.bytes);
          rte_tel_data_add_dict_int(c, "last_hit_s_ago",
                                    st.last_hit_s ? static_cast<int>(now - st.last_hit_s) : -1);
          rte_tel_data_add_dict_container(d, vnf::telemetry::key(r.id).c_str(), c, 0);
        }
        if (offset + kRulePage < cfg_.rules.size())
          rte_tel_data_add_dict_u64(d, "next_offset", offset + kRulePage);
        return 0;
      });

  vnf::telemetry::add(
      "/vnf/fw/zones",
      "Zones: active and created connections, conn_limit in force and its origin. Param: offset "
      "(50 per page)",
      [this](const std::string& params, rte_tel_data* d) {
        std::lock_guard lock(mu_);
        // 250 zones would not fit one answer (16 kB): pages, as the rules.
        const size_t offset = params.empty() ? 0 : std::strtoul(params.c_str(), nullptr, 10);
        rte_tel_data_start_dict(d);
        rte_tel_data_add_dict_u64(d, "offset", offset);
        for (size_t zi = offset; zi < cfg_.zones.size() && zi < offset + kZonePage; ++zi) {
          const Zone& z = cfg_.zones[zi];
          const uint8_t id = zone_id(z.name);
          const uint64_t created = zone_created_sum(id) - zone_created_base_[id];
          rte_tel_data* c = vnf::telemetry::new_dict();
          rte_tel_data_add_dict_string(c, "name", z.name.c_str());
          rte_tel_data_add_dict_u64(c, "active", active(z.name));
          rte_tel_data_add_dict_u64(c, "created", created);
          // The limit in force (all workers; 0: none) and where it comes from.
          rte_tel_data_add_dict_u64(c, "conn_limit", effective_conn_limit(cfg_, z));
          const char* kind = "default_share";
          if (z.conn_limit.kind == ConnLimit::Kind::kUnlimited) kind = "unlimited";
          if (z.conn_limit.kind == ConnLimit::Kind::kCount) kind = "configured";
          if (z.conn_limit.kind == ConnLimit::Kind::kPercent) kind = "configured_share";
          rte_tel_data_add_dict_string(c, "limit", kind);
          rte_tel_data_add_dict_string(c, "window_check", z.window_check ? "yes" : "no");
          rte_tel_data_add_dict_container(d, vnf::telemetry::key(z.name).c_str(), c, 0);
        }
        if (offset + kZonePage < cfg_.zones.size())
          rte_tel_data_add_dict_u64(d, "next_offset", offset + kZonePage);
        return 0;
      });

  vnf::telemetry::add("/vnf/fw/stats",
                      "Connection table: size, capacity and counters (all workers)",
                      [this](const std::string&, rte_tel_data* d) {
                        rte_tel_data_start_dict(d);
                        rte_tel_data_add_dict_u64(d, "connections", sessions_in_use());
                        rte_tel_data_add_dict_u64(d, "capacity_per_worker", cfg_.conntrack.size);
                        rte_tel_data_add_dict_u64(d, "workers", workers());
                        const std::pair<const char*, vnf::Counter FwCounters::*> cs[] = {
                            {"created", &FwCounters::created},
                            {"closed", &FwCounters::closed},
                            {"expired", &FwCounters::expired},
                            {"recheck_closed", &FwCounters::recheck_closed},
                            {"flushed", &FwCounters::flushed},
                            {"table_full", &FwCounters::table_full},
                            {"zone_limit", &FwCounters::zone_limit},
                            {"related", &FwCounters::related},
                            {"expectations", &FwCounters::expectations},
                            {"expectations_full", &FwCounters::expect_full},
                            {"log_records", &FwCounters::log_records},
                            {"log_suppressed", &FwCounters::log_suppressed},
                            {"log_queue_full", &FwCounters::log_ring_full},
                            {"rejects_sent", &FwCounters::rejects_sent},
                            {"flow_cache_hits", &FwCounters::flow_hits},
                            {"flow_cache_misses", &FwCounters::flow_misses}};
                        for (const auto& [name, c] : cs)
                          rte_tel_data_add_dict_u64(d, name, counter(c));
                        return 0;
                      });

  vnf::telemetry::add(
      "/vnf/fw/conns",
      "Connections. Params: zone=Z,proto=P,src=A,dst=A,sport=N,dport=N,offset=N (100 per page)",
      [this](const std::string& params, rte_tel_data* d) {
        const auto p = kv(params);
        SessionFilter f;
        if (!parse_filter(*this, p, f)) return -EINVAL;
        const uint32_t offset =
            p.count("offset") ? static_cast<uint32_t>(std::atol(p.at("offset").c_str())) : 0;
        std::vector<SessionView> out;
        uint32_t found = 0;
        if (!run_request(Request::kDump, f, offset + kConnPage, out, found)) return -EBUSY;
        std::lock_guard lock(mu_);
        const FwSnapshot& s = *published_.get();
        rte_tel_data_start_dict(d);
        rte_tel_data_add_dict_u64(d, "count", found);
        rte_tel_data_add_dict_u64(d, "offset", offset);
        rte_tel_data* arr = rte_tel_data_alloc();
        rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
        for (uint32_t i = offset; i < out.size(); ++i) {
          const SessionView& v = out[i];
          const char* state = v.key.proto == kProtoTcp              ? kTcpStateNames[v.state]
                              : (v.flags & session_flags::kReplied) ? "replied"
                                                                    : "unreplied";
          const std::string row =
              fmt::format("{} zones {}->{} {}{} expires {}s pkts {}/{} bytes {}/{}",
                          format_key(v.key), s.zone_names[v.key.zsrc], s.zone_names[v.key.zdst],
                          state, (v.flags & session_flags::kRelated) ? " related" : "", v.expires_s,
                          v.packets[0], v.packets[1], v.bytes[0], v.bytes[1]);
          rte_tel_data_add_array_string(arr, row.c_str());
        }
        rte_tel_data_add_dict_container(d, "entries", arr, 0);
        if (offset + kConnPage < found)
          rte_tel_data_add_dict_u64(d, "next_offset", offset + kConnPage);
        return 0;
      });

  vnf::telemetry::add("/vnf/fw/flush",
                      "Close connections. Params as /vnf/fw/conns (zone=Z or a 5-tuple), or 'all'",
                      [this](const std::string& params, rte_tel_data* d) {
                        const auto p = kv(params);
                        if (p.empty()) return -EINVAL;  // never flush everything by accident
                        SessionFilter f;
                        if (!parse_filter(*this, p, f)) return -EINVAL;
                        std::vector<SessionView> out;
                        uint32_t found = 0;
                        if (!run_request(Request::kFlush, f, 0, out, found)) return -EBUSY;
                        rte_tel_data_start_dict(d);
                        rte_tel_data_add_dict_u64(d, "flushed", found);
                        return 0;
                      });
}

}  // namespace vfirewall
