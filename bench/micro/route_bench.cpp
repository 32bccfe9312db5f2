// Cycles per packet of each vrouter stage, in process, on the real stage classes: parse,
// routing (checks, FIB lookup, next hop, TTL and checksum, MAC rewrite), egress (wire format)
// and dispatch to a net_null port (tx + free), as route-1k / route6 run them.
//
// The router is the real appliance built from a generated config: interfaces lan (in0) and
// wan (out0), N random prefixes (/24 or /48) via one static neighbour on wan, loaded from a
// route file. Bursts of 32 frames to random destinations inside them are made the way a driver
// makes them (not timed); each stage runs with rte_rdtsc() around it.
//
//   route_bench [--routes 1000] [--family 4|6] [--bursts 200000]
// Prints a table and, last, one JSON line.
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/program_options.hpp>

#include "bench/micro/micro.h"
#include "common/config_node.h"
#include "common/engine.h"
#include "common/worker.h"
#include "vrouter/config.h"
#include "vrouter/router.h"

namespace po = boost::program_options;

namespace {

constexpr uint8_t kLanMac[6] = {0x02, 0, 0, 0, 0, 0x01};

// An Ethernet/IPv4/UDP frame of 60 bytes (64 on the wire) or Ethernet/IPv6/UDP of 74 (78).
std::vector<uint8_t> make_frame(int family, uint64_t prefix, uint32_t host, uint16_t id) {
  std::vector<uint8_t> f(family == 4 ? 60 : 74, 0);
  std::memcpy(f.data(), kLanMac, 6);
  const uint8_t src_mac[6] = {0x02, 0xaa, 0, 0, 0, 2};
  std::memcpy(f.data() + 6, src_mac, 6);
  uint8_t* ip = f.data() + 14;
  if (family == 4) {
    f[12] = 0x08;
    const uint32_t dst = static_cast<uint32_t>(prefix) | (host & 0xFF);
    const uint8_t hdr[20] = {0x45,
                             0,
                             0,
                             46,
                             static_cast<uint8_t>(id >> 8),
                             static_cast<uint8_t>(id),
                             0,
                             0,
                             64,
                             17,
                             0,
                             0,
                             10,
                             0,
                             0,
                             2,
                             static_cast<uint8_t>(dst >> 24),
                             static_cast<uint8_t>(dst >> 16),
                             static_cast<uint8_t>(dst >> 8),
                             static_cast<uint8_t>(dst)};
    std::memcpy(ip, hdr, 20);
    micro::set_ipv4_checksum(ip);
    uint8_t* udp = ip + 20;
    udp[0] = static_cast<uint8_t>(4 + (id >> 8));
    udp[1] = static_cast<uint8_t>(id);
    udp[3] = 9;
    udp[5] = 26;
  } else {
    f[12] = 0x86;
    f[13] = 0xdd;
    ip[0] = 0x60;
    ip[5] = 20;  // payload: UDP header + 12 bytes
    ip[6] = 17;
    ip[7] = 64;
    const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    std::memcpy(ip + 8, src, 16);
    uint8_t* dst = ip + 24;
    for (int b = 0; b < 6; ++b) dst[b] = static_cast<uint8_t>(prefix >> (40 - 8 * b));
    dst[15] = static_cast<uint8_t>(host | 1);
    dst[14] = static_cast<uint8_t>(host >> 8);
    uint8_t* udp = ip + 40;
    udp[0] = static_cast<uint8_t>(4 + (id >> 8));
    udp[1] = static_cast<uint8_t>(id);
    udp[3] = 9;
    udp[5] = 20;
    // The UDP checksum is left 0: the router does not read it (and IPv6 receivers would).
  }
  return f;
}

std::string prefix_text(int family, uint64_t p) {
  if (family == 4) return fmt::format("{}.{}.{}.0/24", p >> 24, (p >> 16) & 0xFF, (p >> 8) & 0xFF);
  return fmt::format("2001:db8:{:x}::/48", p & 0xFFFF);
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t routes = 1000;
  int family = 4;
  uint64_t bursts = 200000;
  po::options_description desc("route_bench options");
  desc.add_options()("routes", po::value(&routes))("family", po::value(&family))(
      "bursts", po::value(&bursts))("help", "help");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  po::notify(vm);
  if (vm.count("help") || (family != 4 && family != 6) || routes == 0 ||
      (family == 6 && routes > 65535) || bursts < 100) {
    std::printf("route_bench [--routes N] [--family 4|6] [--bursts N>=100]\n");
    return vm.count("help") ? 0 : 2;
  }
  spdlog::set_level(spdlog::level::warn);

  // Random prefixes as route-1k draws them: IPv4 /24s in 16.0.0.0-223.255.255.0 outside 127/8
  // and our 10/8; IPv6 /48s under 2001:db8::/32 (2001:db8:0::/48 and :ff:: are ours).
  std::mt19937_64 rng(42);
  std::set<uint64_t> picks;
  while (picks.size() < routes) {
    if (family == 4) {
      const uint64_t k = 16 * 65536 + rng() % ((224 - 16) * 65536);
      if ((k >> 16) != 10 && (k >> 16) != 127) picks.insert(k << 8);
    } else {
      const uint64_t k = 0x100 + rng() % 0xFE00;
      picks.insert((0x20010db8ULL << 16) | k);
    }
  }
  const std::vector<uint64_t> prefixes(picks.begin(), picks.end());
  char dir_tmpl[] = "/tmp/route-bench.XXXXXX";
  const char* dir = mkdtemp(dir_tmpl);
  if (!dir) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string route_file = std::string(dir) + "/routes.txt";
  {
    std::ofstream rf(route_file);
    for (uint64_t p : prefixes)
      rf << prefix_text(family, p) << " via " << (family == 4 ? "10.255.0.2" : "2001:db8:ff::2")
         << "\n";
  }
  const std::string yaml = fmt::format(R"(engine:
  name: routebench
  lcores: [1, 0]
  memory_mb: 1024
  mbufs: 16384
ports:
  - {{name: in0, type: null, devargs: "no-rx=1"}}
  - {{name: out0, type: null, devargs: "no-rx=1"}}
interfaces:
  - {{name: lan, port: in0, mac: "02:00:00:00:00:01", ipv4: [10.0.0.1/24], ipv6: ["2001:db8::1/64"]}}
  - {{name: wan, port: out0, mac: "02:00:00:00:00:02", ipv4: [10.255.0.1/24], ipv6: ["2001:db8:ff::1/64"]}}
route_files: [{}]
neighbors:
  static:
    - {{interface: wan, ip: 10.255.0.2, mac: "02:00:00:00:ff:02"}}
    - {{interface: wan, ip: "2001:db8:ff::2", mac: "02:00:00:00:ff:02"}}
fib: {{ipv4_max_routes: {}}}
)",
                                       route_file, std::max<uint32_t>(65536, routes + 1024));
  vrouter::RouterConfig cfg;
  try {
    cfg = vrouter::parse_router_config(
        vnf::config::ConfigNode::load_string(yaml, "route_bench.yaml"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "route_bench: config: %s\n", e.what());
    return 1;
  }
  std::remove(route_file.c_str());
  rmdir(dir);

  // Main lcore 1 (CPU 1, the forwarding core of bench/run.sh); lcore 0 only gives the engine
  // its worker context, which this thread drives.
  if (!micro::init_eal(cfg.engine, cfg.devices, "route_bench", true)) return 1;

  int rc = 0;
  {
    vnf::Engine engine(cfg.engine, cfg.devices);
    vrouter::Router router(engine, cfg);
    vnf::WorkerContext& w = engine.worker(0);
    rte_rcu_qsbr_thread_register(w.qsbr, w.id);
    rte_rcu_qsbr_thread_online(w.qsbr, w.id);
    vrouter::RouterPipeline& pipe = router.pipeline(0);

    std::vector<std::vector<uint8_t>> frames;
    const uint32_t nframes = std::max<uint32_t>(routes, 4096);
    for (uint32_t i = 0; i < nframes; ++i)
      frames.push_back(make_frame(family, prefixes[rng() % prefixes.size()],
                                  static_cast<uint32_t>(1 + rng() % 254),
                                  static_cast<uint16_t>(i)));

    const uint16_t in_port = engine.port_id("in0");
    const uint16_t out_port = engine.port_id("out0");
    constexpr unsigned kStages = 4;
    micro::Chunks<kStages> chunks((bursts - bursts / 10) / 20 * vnf::kBurstMax);  // 20 chunks
    uint64_t routed = 0, measured = 0;
    uint32_t next_frame = 0;
    for (uint64_t it = 0; it < bursts; ++it) {
      vnf::Burst b;
      if (!micro::fill_burst(b, w.pool, in_port, frames, next_frame)) {
        rc = 1;
        break;
      }
      w.now_tsc = rte_rdtsc();
      pipe.begin();  // the snapshot, and what the control thread queued (nothing here)
      const uint64_t t0 = rte_rdtsc();
      vnf::parse_burst(b, w);
      const uint64_t t1 = rte_rdtsc();
      pipe.route(b);
      const uint64_t t2 = rte_rdtsc();
      pipe.egress(b);
      const uint64_t t3 = rte_rdtsc();
      uint16_t to_wan = 0;
      for (uint16_t i = 0; i < b.count; ++i) to_wan += b.next[i] == out_port;
      const uint64_t t3b = rte_rdtsc();
      vnf::dispatch(b, w);
      vnf::flush_tx(w);
      const uint64_t t4 = rte_rdtsc();
      if (it >= bursts / 10) {  // the first tenth warms caches and tables
        routed += to_wan;
        measured += b.count;
        chunks.add({t1 - t0, t2 - t1, t3 - t2, t4 - t3b}, b.count);
      }
      rte_rcu_qsbr_quiescent(w.qsbr, w.id);
    }
    rte_rcu_qsbr_thread_offline(w.qsbr, w.id);
    // Every frame must have been routed to wan: a figure for dropped frames would flatter us.
    if (rc == 0 && routed != measured) {
      std::fprintf(stderr, "route_bench: only %lu of %lu frames were routed to wan\n",
                   static_cast<unsigned long>(routed), static_cast<unsigned long>(measured));
      rc = 1;
    }
    if (rc == 0 && !chunks.empty()) {
      const char* names[kStages] = {"parse", "routing", "egress", "dispatch_tx"};
      double best[kStages], med[kStages], best_total = 0, med_total = 0;
      for (unsigned k = 0; k < kStages; ++k) {
        best[k] = chunks.best(k);
        med[k] = chunks.median(k);
        best_total += best[k];
        med_total += med[k];
      }
      std::printf(
          "stage cycles per packet (TSC %.2f GHz), IPv%d, %u routes: best of %zu chunks (median)\n",
          static_cast<double>(rte_get_tsc_hz()) / 1e9, family, routes, chunks.size());
      for (unsigned k = 0; k < kStages; ++k)
        std::printf("  %-13s %6.1f  (%5.1f)\n", names[k], best[k], med[k]);
      std::printf("  %-13s %6.1f  (%5.1f)\n", "total", best_total, med_total);
      std::printf(
          "{\"parse\": %.1f, \"routing\": %.1f, \"egress\": %.1f, \"dispatch_tx\": %.1f, "
          "\"total\": %.1f, \"median_total\": %.1f, \"routes\": %u, \"family\": %d}\n",
          best[0], best[1], best[2], best[3], best_total, med_total, routes, family);
    }
    engine.stop_ports();
  }
  rte_eal_cleanup();
  return rc;
}
