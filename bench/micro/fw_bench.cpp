// The firewall stage in process: cycles per packet for established flows, and the rate of new
// connections one core sets up (every packet a new UDP 5-tuple), on the real vfirewall
// pipeline (WireIngress -> FirewallStage) with N rules.
//
//   fw_bench --rules 1000 --flows 10000            established: cycles/packet
//   fw_bench --rules 1000 --new-connections 400000 new connections: per second, cycles each
//   fw_bench --rules 1000 --log-drops               every packet dropped by a logged rule:
//                                                    the cost of a log decision over its rate
//   fw_bench --rules 1000 --sources 1000 --bursts 1 each rule with 1000 source hosts (1 M
//                                                    ACL entries): the rule set's build time
// Bursts are built like a driver builds them (not timed); parse, the firewall pipeline and
// dispatch to net_null are timed with rte_rdtsc. Prints a summary and, last, one JSON line.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/program_options.hpp>

#include "bench/micro/micro.h"
#include "common/config_node.h"
#include "common/engine.h"
#include "common/worker.h"
#include "vfirewall/program/firewall.h"
#include "vfirewall/rules/config.h"

namespace po = boost::program_options;

namespace {

// UDP 10.0.x.y:sport -> 10.128.x.y:9 for flow f (as bench/lib/genpcap.py), 60 bytes.
void write_udp(uint8_t* f, uint32_t flow) {
  std::memset(f, 0, 60);
  const uint8_t dst[6] = {2, 0, 0, 0, 0, 1}, src[6] = {2, 0xaa, 0, 0, 0, 1};
  std::memcpy(f, dst, 6);
  std::memcpy(f + 6, src, 6);
  f[12] = 0x08;
  uint8_t* ip = f + 14;
  ip[0] = 0x45;
  ip[3] = 46;
  ip[8] = 64;
  ip[9] = 17;
  ip[12] = 10;
  ip[13] = static_cast<uint8_t>(flow >> 24);
  ip[14] = static_cast<uint8_t>(flow >> 16);
  ip[15] = static_cast<uint8_t>(flow >> 8);
  ip[16] = 10;
  ip[17] = 128;
  ip[18] = static_cast<uint8_t>(flow >> 8);
  ip[19] = static_cast<uint8_t>(flow);
  micro::set_ipv4_checksum(ip);
  uint8_t* udp = ip + 20;
  const uint16_t sport = static_cast<uint16_t>(1024 + (flow & 0x7FFF));
  udp[0] = static_cast<uint8_t>(sport >> 8);
  udp[1] = static_cast<uint8_t>(sport);
  udp[3] = 9;
  udp[5] = 26;
}

// conn_mode: every connection comes from `inside`, which may then take the whole table (the
// default share would be half of it).
std::string config_yaml(unsigned rules, uint32_t conns, bool conn_mode, unsigned sources,
                        bool log_drops) {
  std::string y = fmt::format(
      "engine: {{name: fwbench, lcores: [1, 0], memory_mb: 1024}}\n"
      "ports:\n  - {{name: in0, type: null, devargs: \"no-rx=1\"}}\n"
      "  - {{name: out0, type: null, devargs: \"no-rx=1\"}}\n"
      "wires:\n  - [in0, out0]\n"
      "zones:\n  - {{name: inside, ports: [in0]{}}}\n  - {{name: outside, ports: [out0]}}\n"
      "conntrack: {{size: {}}}\nrules:\n",
      conn_mode ? ", conn_limit: unlimited" : "", conns);
  for (unsigned i = 0; i + 1 < rules; ++i) {
    std::string src = fmt::format("'172.{}.{}.{}/32'", 16 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
    for (unsigned k = 1; k < sources; ++k)  // more hosts, not adjacent: one ACL entry each
      src += fmt::format(", '192.{}.{}.{}'", 168 + (k >> 15), (k >> 7) & 0xff, (k & 0x7f) * 2);
    y += fmt::format(
        "  - {{id: r{}, from: inside, to: outside, source: [{}], service: ['tcp/{}'], action: "
        "accept}}\n",
        i, src, 1 + i % 60000);
  }
  y += log_drops
           ? "  - {id: bulk-udp, from: inside, to: outside, service: [udp], action: drop, "
             "log: true}\n"
           : "  - {id: bulk-udp, from: inside, to: outside, service: [udp], action: accept}\n";
  return y;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned rules = 1000;
  uint32_t flows = 10000;
  uint64_t new_conns = 0;
  uint64_t bursts = 100000;
  unsigned sources = 1;
  bool log_drops = false;
  po::options_description desc("fw_bench options");
  desc.add_options()("rules", po::value(&rules))("flows", po::value(&flows))(
      "new-connections", po::value(&new_conns))("bursts", po::value(&bursts))(
      "sources", po::value(&sources))("log-drops", po::bool_switch(&log_drops))("help", "help");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::printf(
        "fw_bench --rules N [--flows N | --new-connections N | --log-drops] [--bursts N] "
        "[--sources N]\n");
    return 0;
  }
  spdlog::set_level(spdlog::level::warn);
  const bool conn_mode = new_conns > 0;
  const uint32_t table =
      conn_mode ? static_cast<uint32_t>(new_conns + 4096) : std::max(65536u, 4 * flows);

  vfirewall::FirewallConfig cfg;
  try {
    cfg = vfirewall::parse_firewall_config(vnf::config::ConfigNode::load_string(
        config_yaml(rules, table, conn_mode, sources, log_drops), "fw_bench.yaml"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  cfg.engine.mbufs = 16384;
  cfg.engine.memory_mb = 256 + table / 2048;
  // Hugepages, as the program runs: with --no-huge, first touches of the connection table
  // page-fault and the new-connection figure measures the kernel.
  if (!micro::init_eal(cfg.engine, cfg.devices, "fw_bench", false)) return 1;
  int rc = 0;
  {
    vnf::Engine engine(cfg.engine, cfg.devices);
    const uint64_t build0 = rte_rdtsc();
    vfirewall::Firewall fw(engine, cfg);
    const vfirewall::FwSnapshot& snap = fw.snapshot();
    std::printf("rule set: %u rules, %zu IPv4 + %zu IPv6 ACL entries, compiled and built in %.2f s\n",
                rules, snap.acl4_entries, snap.acl6_entries,
                static_cast<double>(rte_rdtsc() - build0) / static_cast<double>(rte_get_tsc_hz()));
    vnf::WorkerContext& w = engine.worker(0);
    rte_rcu_qsbr_thread_register(w.qsbr, w.id);
    rte_rcu_qsbr_thread_online(w.qsbr, w.id);
    auto& pipe = fw.pipeline(0);
    const uint16_t in_port = engine.port_id("in0");

    const uint64_t total_bursts =
        conn_mode ? (new_conns + vnf::kBurstMax - 1) / vnf::kBurstMax : bursts;
    micro::Chunks<1> chunks(total_bursts / 20 * vnf::kBurstMax);  // 20 chunks
    uint64_t all_pkts = 0;
    uint32_t next_flow = 0;
    for (uint64_t it = 0; it < total_bursts; ++it) {
      vnf::Burst b;
      b.in_port = in_port;
      b.count = vnf::kBurstMax;
      if (rte_pktmbuf_alloc_bulk(w.pool, b.pkts, b.count) != 0) {
        std::fprintf(stderr, "mempool empty\n");
        rc = 1;
        break;
      }
      for (uint16_t i = 0; i < b.count; ++i) {
        // Established: cycle over `flows` flows. New connections: every packet a new flow.
        const uint32_t f = conn_mode ? next_flow++ : (next_flow++ % flows);
        char* data = rte_pktmbuf_append(b.pkts[i], 60);
        if (data) write_udp(reinterpret_cast<uint8_t*>(data), f);
      }
      w.now_tsc = rte_rdtsc();
      const uint64_t t0 = rte_rdtsc();
      vnf::parse_burst(b, w);
      pipe.begin();
      pipe.process(b);
      vnf::dispatch(b, w);
      vnf::flush_tx(w);
      const uint64_t t1 = rte_rdtsc();
      // Established mode: the first pass over the flows creates them, not measured.
      const bool measured = conn_mode || it * vnf::kBurstMax >= 2ull * flows;
      if (measured) {
        chunks.add({t1 - t0}, b.count);
        all_pkts += b.count;
      }
    }
    rte_rcu_qsbr_thread_offline(w.qsbr, w.id);
    const uint64_t dropped = engine.drop_total(vnf::DropReason::kFwTableFull) +
                             engine.drop_total(vnf::DropReason::kFwZoneLimit) +
                             engine.drop_total(vnf::DropReason::kFwPolicyDrop) +
                             engine.drop_total(vnf::DropReason::kFwRuleDrop);
    if (!chunks.empty()) {
      const double best = chunks.best(0), med = chunks.median(0);
      const double hz = static_cast<double>(rte_get_tsc_hz());
      if (conn_mode) {
        std::printf(
            "new connections, %u rules: %.0f cycles each (median %.0f), %.2f M/s per core; "
            "%lu set up, %lu refused\n",
            rules, best, med, hz / best / 1e6, static_cast<unsigned long>(all_pkts),
            static_cast<unsigned long>(dropped));
        std::printf(
            "{\"mode\": \"new-connections\", \"rules\": %u, \"cycles_per_connection\": %.1f, "
            "\"median_cycles_per_connection\": %.1f, \"connections_per_s\": %.0f, "
            "\"connections\": %lu, \"refused\": %lu}\n",
            rules, best, med, hz / best, static_cast<unsigned long>(all_pkts),
            static_cast<unsigned long>(dropped));
      } else {
        const char* mode = log_drops ? "logged-drop" : "established";
        std::printf("%s, %u rules, %u flows: %.1f cycles/packet parse+firewall+tx (median %.1f)\n",
                    mode, rules, flows, best, med);
        std::printf(
            "{\"mode\": \"%s\", \"rules\": %u, \"flows\": %u, \"cycles_per_packet\": "
            "%.1f, \"median_cycles_per_packet\": %.1f, \"refused\": %lu}\n",
            mode, rules, flows, best, med, static_cast<unsigned long>(dropped));
      }
    }
    engine.stop_ports();
  }
  rte_eal_cleanup();
  return rc;
}
