// Cycles per packet of each vswitch stage, in process, on the real stage classes.
//
// Bursts of 32 frames are made the way a driver makes them (mbufs from the pool, frame bytes
// copied in: not timed), then each stage runs on the burst with rte_rdtsc() around it:
// parse, VlanIngress, L2Lookup, L2Egress, and dispatch to a net_null port (tx + free). The
// figures are TSC ticks per packet, the same unit as bench/run.sh's cycles_per_packet.
//
//   stage_bench --macs 1000 [--broadcast 0.1] [--flood-ports 4] [--bursts 200000]
//               [--capture 'udp dst port 7' [--match-every 100]]
// --capture runs a trace (vnfctl trace: rx and tx points, that filter, JIT) beside the stages:
// the rx copy is timed as the "capture_rx" stage, the tx copy inside dispatch_tx; one frame in
// --match-every is sent to UDP port 7 (0: none). What a writer thread would take off the ring
// is taken off after each burst, untimed.
// Prints a table and, last, one JSON line.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/program_options.hpp>

#include "bench/micro/micro.h"
#include "common/capture_manager.h"
#include "common/engine.h"
#include "common/worker.h"
#include "vswitch/config.h"
#include "vswitch/switch.h"

namespace po = boost::program_options;

namespace {

std::vector<uint8_t> make_frame(uint32_t i, bool broadcast, bool to_port7) {
  std::vector<uint8_t> f(60, 0);
  const uint8_t dst[6] = {0x02,
                          0,
                          0,
                          static_cast<uint8_t>(i >> 16),
                          static_cast<uint8_t>(i >> 8),
                          static_cast<uint8_t>(i)};
  if (broadcast)
    std::memset(f.data(), 0xff, 6);
  else
    std::memcpy(f.data(), dst, 6);
  const uint8_t src[6] = {0x02, 0xaa, 0, 0, 0, 1};
  std::memcpy(f.data() + 6, src, 6);
  f[12] = 0x08;
  f[14] = 0x45;  // IPv4, 20 bytes
  f[16] = 0;
  f[17] = 46;  // total length
  f[22] = 64;  // ttl
  f[23] = 17;  // udp
  f[34 + 4] = 0;
  f[34 + 5] = 26;  // udp length
  f[34 + 1] = 9;
  if (to_port7) f[34 + 3] = 7;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t macs = 1000;
  double broadcast = 0;
  unsigned flood_ports = 1;
  uint64_t bursts = 200000;
  std::string capture;
  unsigned match_every = 0;
  uint64_t churn_every = 0;
  po::options_description desc("stage_bench options");
  desc.add_options()("macs", po::value(&macs))("broadcast", po::value(&broadcast))(
      "flood-ports", po::value(&flood_ports))("bursts", po::value(&bursts))(
      "capture", po::value(&capture))("match-every", po::value(&match_every))(
      "churn-every", po::value(&churn_every))("help", "help");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::printf(
        "stage_bench --macs N [--broadcast F] [--flood-ports N] [--bursts N] [--churn-every B]\n"
        "  --churn-every B: every B bursts (untimed) one MAC entry changes, as a move, an "
        "aged-out\n"
        "  or a re-learned entry does: the MAC table's epoch moves on\n");
    return 0;
  }
  spdlog::set_level(spdlog::level::warn);

  // One trunk output (null) and flood_ports-1 more access outputs, like bench/scenarios.
  vswitch::SwitchConfig cfg;
  cfg.engine.name = "stagebench";
  cfg.segments.push_back({"core", 100, ""});
  vnf::PortDevice in;
  in.name = "in0";
  in.kind = vnf::PortKind::kNull;
  in.devargs = "no-rx=1";
  cfg.devices.push_back(in);
  vswitch::SwitchPort pin;
  pin.name = "in0";
  pin.segment = "core";
  pin.mac_limit = 0;
  cfg.ports.push_back(pin);
  for (unsigned i = 0; i < flood_ports; ++i) {
    vnf::PortDevice d = in;
    d.name = "out" + std::to_string(i);
    cfg.devices.push_back(d);
    vswitch::SwitchPort p;
    p.name = d.name;
    if (i == 0) {
      p.mode = vswitch::PortMode::kTrunk;
      p.segments = {"core"};
    } else {
      p.segment = "core";
    }
    cfg.ports.push_back(p);
  }
  cfg.mac.table_size = 65536;
  while (cfg.mac.table_size < 2 * macs) cfg.mac.table_size *= 2;
  cfg.mac.aging_s = 0;
  for (uint32_t i = 0; i < macs; ++i) {
    vswitch::StaticMac s;
    s.segment = "core";
    s.mac = {0x02,
             0,
             0,
             static_cast<uint8_t>(i >> 16),
             static_cast<uint8_t>(i >> 8),
             static_cast<uint8_t>(i)};
    s.port = "out0";
    cfg.mac.statics.push_back(s);
  }

  // Main lcore 1 (CPU 1, the forwarding core of bench/run.sh); lcore 0 only gives the engine
  // its worker context, which this thread drives.
  cfg.engine.lcores = {1, 0};
  cfg.engine.memory_mb = 1024;
  if (!micro::init_eal(cfg.engine, cfg.devices, "stage_bench", true)) return 1;

  int rc = 0;
  {
    cfg.engine.mbufs = 16384;
    vnf::Engine engine(cfg.engine, cfg.devices);
    vswitch::Switch sw(engine, cfg);
    vnf::WorkerContext& w = engine.worker(0);
    rte_rcu_qsbr_thread_register(w.qsbr, w.id);
    rte_rcu_qsbr_thread_online(w.qsbr, w.id);

    // The stages, exactly as SwitchPipeline chains them.
    const vswitch::L2Snapshot* snap = &sw.snapshot();
    vswitch::L2WorkerState& st = sw.l2_state(0);  // its learn ring is the one the switch drains
    vswitch::VlanIngress ingress(st.vlan);
    vswitch::L2Lookup lookup(sw.macs(), st, w);
    vswitch::L2Egress egress(st, w);

    const unsigned bcast_every = broadcast > 0 ? static_cast<unsigned>(1.0 / broadcast + 0.5) : 0;
    std::vector<std::vector<uint8_t>> frames;
    const uint32_t nframes = std::max<uint32_t>(macs, 1024);
    for (uint32_t i = 0; i < nframes; ++i)
      frames.push_back(make_frame(i % macs, bcast_every && i % bcast_every == bcast_every - 1,
                                  match_every && i % match_every == 0));

    // A trace as vnfctl trace starts one (CaptureManager::start), on this worker only.
    vnf::CaptureSession* cap = nullptr;
    if (!capture.empty()) {
      cap = new vnf::CaptureSession();
      cap->points =
          vnf::capture_bit(vnf::CapturePoint::kRx) | vnf::capture_bit(vnf::CapturePoint::kTx);
      cap->ports = ~0u;
      cap->snaplen = vnf::kMaxTraceSnaplen;
      const std::string err =
          vnf::compile_capture_filter(capture, cap->snaplen, cap->bpf, cap->jit);
      if (!err.empty()) {
        std::fprintf(stderr, "--capture '%s': %s\n", capture.c_str(), err.c_str());
        return 1;
      }
      cap->pool = rte_pktmbuf_pool_create("bench_cap", 8191, 32, 0,
                                          RTE_PKTMBUF_HEADROOM + 16 + cap->snaplen, 0);
      cap->ring[0] = rte_ring_create("bench_cap", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (!cap->pool || !cap->ring[0]) {
        std::fprintf(stderr, "--capture: no memory for the pool or ring\n");
        return 1;
      }
      w.capture.store(cap);
      w.cap = cap;
    }

    const uint16_t in_port = engine.port_id("in0");
    const uint16_t out0 = engine.port_id("out0");
    uint64_t churned = 0;
    constexpr unsigned kStages = 6;
    micro::Chunks<kStages> chunks((bursts - bursts / 10) / 20 * vnf::kBurstMax);  // 20 chunks
    std::vector<uint32_t> burst_ticks;  // time a full burst spends from parse to tx hand-off
    burst_ticks.reserve(bursts);
    uint32_t next_frame = 0;
    for (uint64_t it = 0; it < bursts; ++it) {
      vnf::Burst b;
      if (!micro::fill_burst(b, w.pool, in_port, frames, next_frame)) {
        rc = 1;
        break;
      }
      w.now_tsc = rte_rdtsc();
      const uint64_t tc = rte_rdtsc();
      if (w.cap)
        w.cap->copy_burst(w.id, b.pkts, b.count, b.in_port, vnf::CapturePoint::kRx, w.now_tsc);
      const uint64_t t0 = rte_rdtsc();
      vnf::parse_burst(b, w);
      const uint64_t t1 = rte_rdtsc();
      ingress.process(b, *snap);
      const uint64_t t2 = rte_rdtsc();
      lookup.process(b, *snap);
      const uint64_t t3 = rte_rdtsc();
      egress.process(b, *snap);
      const uint64_t t4 = rte_rdtsc();
      vnf::dispatch(b, w);
      vnf::flush_tx(w);
      const uint64_t t5 = rte_rdtsc();
      if (it >= bursts / 10) {  // the first tenth warms caches and the table
        burst_ticks.push_back(static_cast<uint32_t>(t5 - tc));
        chunks.add({t0 - tc, t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4}, b.count);
      }
      if (cap) {  // the writer thread's part, untimed
        rte_mbuf* m[64];
        unsigned n;
        while ((n = rte_ring_sc_dequeue_burst(cap->ring[0], reinterpret_cast<void**>(m), 64,
                                              nullptr)) != 0)
          rte_pktmbuf_free_bulk(m, n);
      }
      if ((it & 1023) == 0) sw.drain_learn_events();
      if (churn_every && it % churn_every == churn_every - 1) {  // untimed, the control side
        const uint32_t i = static_cast<uint32_t>((it / churn_every) % macs);
        const vswitch::MacKey k{100,
                                {0x02, 0, 0, static_cast<uint8_t>(i >> 16),
                                 static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)}};
        sw.macs().add_static(k, out0);  // re-pointed (to the same port): the epoch moves
        ++churned;
      }
    }
    rte_rcu_qsbr_thread_offline(w.qsbr, w.id);
    const double hit_rate = static_cast<double>(st.cache_hits.get()) /
                            static_cast<double>(st.cache_hits.get() + st.cache_misses.get() + 1);
    if (!chunks.empty()) {
      const char* names[kStages] = {"capture_rx", "parse",     "vlan_ingress",
                                    "l2_lookup",  "l2_egress", "dispatch_tx"};
      double best[kStages], med[kStages], best_total = 0, med_total = 0;
      for (unsigned k = 0; k < kStages; ++k) {
        best[k] = chunks.best(k);
        med[k] = chunks.median(k);
        best_total += best[k];
        med_total += med[k];
      }
      std::printf(
          "stage cycles per packet (TSC %.2f GHz), %u MACs, %.0f%% broadcast, %u flood ports, "
          "MAC cache hit rate %.0f%%, %llu MAC changes (one every %llu bursts): best of %zu chunks "
          "(median)\n",
          static_cast<double>(rte_get_tsc_hz()) / 1e9, macs, broadcast * 100, flood_ports,
          hit_rate * 100, static_cast<unsigned long long>(churned),
          static_cast<unsigned long long>(churn_every), chunks.size());
      for (unsigned k = 0; k < kStages; ++k)
        std::printf("  %-13s %6.1f  (%5.1f)\n", names[k], best[k], med[k]);
      std::printf("  %-13s %6.1f  (%5.1f)\n", "total", best_total, med_total);
      std::sort(burst_ticks.begin(), burst_ticks.end());
      const double us = 1e6 / static_cast<double>(rte_get_tsc_hz());
      auto pct = [&](double q) {
        const size_t i =
            std::min(burst_ticks.size() - 1, static_cast<size_t>(q * burst_ticks.size()));
        return burst_ticks[i] * us;
      };
      std::printf(
          "  a burst of 32 from parse to tx hand-off: p50 %.2f us, p99 %.2f us, p99.9 %.2f us\n",
          pct(0.5), pct(0.99), pct(0.999));
      std::printf(
          "{\"capture_rx\": %.1f, \"parse\": %.1f, \"vlan_ingress\": %.1f, \"l2_lookup\": %.1f, "
          "\"l2_egress\": %.1f, \"dispatch_tx\": %.1f, \"total\": %.1f, \"median_total\": %.1f, "
          "\"macs\": %u, \"broadcast\": %.3f, \"cache_hit_rate\": %.3f, \"churn_every\": %llu, "
          "\"capture\": \"%s\", \"captured\": %llu, \"capture_matched\": %llu, "
          "\"burst_latency_us\": {\"p50\": %.3f, \"p99\": %.3f, \"p999\": %.3f}}\n",
          best[0], best[1], best[2], best[3], best[4], best[5], best_total, med_total, macs,
          broadcast, hit_rate, static_cast<unsigned long long>(churn_every), capture.c_str(),
          static_cast<unsigned long long>(cap ? cap->stats[0].matched.get() -
                                                    cap->stats[0].ring_full.get() -
                                                    cap->stats[0].no_mbuf.get()
                                              : 0),
          static_cast<unsigned long long>(cap ? cap->stats[0].matched.get() : 0), pct(0.5),
          pct(0.99), pct(0.999));
    }
    engine.stop_ports();
  }
  rte_eal_cleanup();
  return rc;
}
