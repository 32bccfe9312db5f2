// The routing stage in its host-switch deployment (host_mode), on real DPDK ports, with
// stand-ins for the switch's stages around it: ingress sets meta.vlan from the tag (as
// VlanIngress does), "lookup" leaves every frame kNextFlood (the gateway MAC is never
// learned), egress tags frames for meta.vlan (as L2Egress does on a trunk). What this checks
// is the contract vrouter/README.md gives the integration: which frames the stage takes, and
// the verdict, MACs, meta.vlan and TTL of what it routes.
#include <gtest/gtest.h>

#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>

#include <fmt/format.h>

#include "common/app.h"
#include "common/engine.h"
#include "common/telemetry.h"
#include "tests/dataplane/harness.h"
#include "tests/dataplane/router_frames.h"
#include "vrouter/dp/pipeline.h"
#include "vrouter/routing_core.h"

using namespace rtest;
using vnf::DropReason;

namespace {

// Segments core (100) and info (200) on one trunk port "t"; gateways for both.
const char* kHostRouter = R"(interfaces:
  - {name: gw-core, segment: core, ipv4: [10.1.0.1/24], ipv6: ["2001:db8:1::1/64"]}
  - {name: gw-info, segment: info, ipv4: [10.2.0.1/24]}
neighbors: {probe_interval: 100ms, probe_misses: 2}
)";

const Mac kGwCore = mac("02:76:72:00:00:64");  // the default anycast gateway MACs
const Mac kGwInfo = mac("02:76:72:00:00:c8");
const Mac kA = mac("02:00:00:00:00:0a");  // 10.1.0.10 in core
const Mac kB = mac("02:00:00:00:00:0b");  // 10.2.0.11 in info

Bytes tag(const Bytes& f, uint16_t vid) {
  return cat({Bytes(f.begin(), f.begin() + 12),
              Bytes{0x81, 0x00, static_cast<uint8_t>(vid >> 8), static_cast<uint8_t>(vid)},
              Bytes(f.begin() + 12, f.end())});
}

// The switch's stages reduced to what the router depends on.
class HostPipeline final {
 public:
  HostPipeline(vrouter::RoutingCore& core, vnf::WorkerContext& w)
      : pub_(core.published()), routing_(core.neigh_view(), core.worker_state(0), w), w_(w) {}
  void begin() noexcept {
    snap_ = pub_.get();
    vnf::Burst b;
    while ((b.count = routing_.take_injected(b)) != 0) {
      for (uint16_t i = 0; i < b.count; ++i)  // floods (ARP requests, announcements)
        if (b.next[i] == vnf::kNextFlood) b.drop(i, DropReason::kNoDestination);
      egress_.process(b);
      vrouter::dispatch_injected(b, w_);
    }
  }
  void process(vnf::Burst& b) noexcept {
    for (uint16_t i = 0; i < b.count; ++i) {  // "VlanIngress" + "L2Lookup"
      if (!b.live(i)) continue;
      vnf::PacketMeta& m = vnf::meta_of(b.pkts[i]);
      m.vlan = m.outer_tci & 0xFFF;
      m.flags |= vnf::meta_flags::kSegTag;
      b.next[i] = vnf::kNextFlood;
    }
    routing_.process(b, *snap_);
    for (uint16_t i = 0; i < b.count; ++i)  // "flooding" is the switch's business: not here
      if (b.next[i] == vnf::kNextFlood) b.drop(i, DropReason::kNoDestination);
    egress_.process(b);
  }

 private:
  const vnf::Published<vrouter::RouteSnapshot>& pub_;
  const vrouter::RouteSnapshot* snap_ = nullptr;
  vrouter::Routing routing_;
  vrouter::RouterEgress egress_;  // tags every frame with meta.vlan: a trunk
  vnf::WorkerContext& w_;
};

class HostHarness {
 public:
  HostHarness() {
    dptest::init_eal_once();
    static unsigned inst = 0;
    const std::string name = fmt::format("hr{}", inst++);
    in_ =
        rte_ring_create((name + "_in").c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    out_ = rte_ring_create((name + "_out").c_str(), 1024, SOCKET_ID_ANY,
                           RING_F_SP_ENQ | RING_F_SC_DEQ);
    port_name_ = name + "t";
    if (rte_eth_from_rings(port_name_.c_str(), &in_, 1, &out_, 1, rte_socket_id()) < 0)
      throw std::runtime_error("rte_eth_from_rings");
    vnf::EngineConfig ec;
    ec.name = name;
    vnf::PortDevice d;
    d.name = port_name_;
    d.kind = vnf::PortKind::kRing;
    engine_ = std::make_unique<vnf::Engine>(ec, std::vector<vnf::PortDevice>{d});
    const vrouter::HostSegments segs = [](const std::string& n) -> std::optional<uint16_t> {
      if (n == "core") return 100;
      if (n == "info") return 200;
      return std::nullopt;
    };
    auto settings = vrouter::parse_router_settings(
        vnf::config::ConfigNode::load_string(kHostRouter, "host.yaml"), {}, &segs);
    vrouter::CoreEnv env;
    env.name = name;
    env.qsbr = engine_->qsbr();
    env.pool = engine_->pool();
    env.socket = engine_->socket();
    env.workers = {&engine_->worker(0)};
    env.host_mode = true;
    env.tsc_hz = engine_->worker(0).tsc_hz;
    now_ = vnf::monotonic_ms();
    core_ = std::make_unique<vrouter::RoutingCore>(env, settings, now_);
    pipe_ = std::make_unique<HostPipeline>(*core_, engine_->worker(0));
    exchange(Bytes{});  // the start-up announcements
  }
  ~HostHarness() {
    pipe_.reset();
    core_.reset();
    engine_->stop_ports();
    engine_.reset();
    rte_vdev_uninit(("net_ring_" + port_name_).c_str());
    rte_ring_free(in_);
    rte_ring_free(out_);
    vnf::telemetry::clear();
  }
  // Sends `frame` (if any) on the trunk, runs worker, control, worker; returns the trunk's output.
  std::vector<Bytes> exchange(const Bytes& frame) {
    if (!frame.empty()) {
      rte_mbuf* m = rte_pktmbuf_alloc(engine_->pool());
      std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
                  frame.size());
      rte_ring_enqueue(in_, m);
    }
    poll();
    {
      std::lock_guard lock(core_->mutex());
      core_->drain_punts(now_);
      core_->run_timers(now_);
      core_->flush_injects();
    }
    poll();
    std::vector<Bytes> out;
    rte_mbuf* m;
    while (rte_ring_dequeue(out_, reinterpret_cast<void**>(&m)) == 0) {
      Bytes b(m->pkt_len);
      std::memcpy(b.data(), rte_pktmbuf_mtod(m, void*), m->pkt_len);
      out.push_back(std::move(b));
      rte_pktmbuf_free(m);
    }
    return out;
  }
  uint64_t drops(DropReason r) const { return engine_->drop_total(r); }

 private:
  void poll() {
    vnf::WorkerContext& w = engine_->worker(0);
    rte_rcu_qsbr_thread_register(w.qsbr, w.id);
    rte_rcu_qsbr_thread_online(w.qsbr, w.id);
    vnf::poll_once(w, *pipe_);
    rte_rcu_qsbr_thread_offline(w.qsbr, w.id);
  }
  rte_ring* in_ = nullptr;
  rte_ring* out_ = nullptr;
  std::string port_name_;
  std::unique_ptr<vnf::Engine> engine_;
  std::unique_ptr<vrouter::RoutingCore> core_;
  std::unique_ptr<HostPipeline> pipe_;
  uint64_t now_ = 0;
};

}  // namespace

TEST(VrouterHost, GatewayRoutesBetweenSegmentsOfTheSwitch) {
  HostHarness h;
  // A (core) asks for its gateway: the answer comes from the anycast gateway MAC, in core.
  std::vector<Bytes> out = h.exchange(tag(arp_request_frame(kA, "10.1.0.10", "10.1.0.1"), 100));
  ASSERT_EQ(out.size(), 1u);
  Bytes reply = arp_reply(kGwCore, "10.1.0.1", kA, "10.1.0.10");
  reply.resize(60, 0);
  EXPECT_EQ(out[0], tag(reply, 100));
  // B (info) too.
  out = h.exchange(tag(arp_request_frame(kB, "10.2.0.11", "10.2.0.1"), 200));
  ASSERT_EQ(out.size(), 1u);
  // A -> B through the gateway: onto segment info, B's MAC, TTL - 1, same port (the trunk).
  out = h.exchange(tag(udp4(kGwCore, kA, "10.1.0.10", "10.2.0.11"), 100));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], tag(udp4(kB, kGwInfo, "10.1.0.10", "10.2.0.11", 63), 200));
  // And back.
  out = h.exchange(tag(udp4(kGwInfo, kB, "10.2.0.11", "10.1.0.10"), 200));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], tag(udp4(kA, kGwCore, "10.2.0.11", "10.1.0.10", 63), 100));
}

TEST(VrouterHost, FramesNotForTheGatewayKeepTheirSwitchVerdict) {
  HostHarness h;
  const uint64_t before = h.drops(DropReason::kNoDestination);
  // Unicast between two VMs of core, ARP for another VM, a broadcast: the switch's to handle
  // (they reach this stand-in's "flood" and are counted there, untouched by the router).
  EXPECT_TRUE(h.exchange(tag(udp4(kB, kA, "10.1.0.10", "10.1.0.11"), 100)).empty());
  EXPECT_TRUE(h.exchange(tag(arp_request_frame(kA, "10.1.0.10", "10.1.0.11"), 100)).empty());
  EXPECT_TRUE(h.exchange(tag(udp4(kBroadcast, kA, "10.1.0.10", "10.1.0.255"), 100)).empty());
  // A segment without a gateway (300): nothing for the router either.
  EXPECT_TRUE(h.exchange(tag(udp4(kGwCore, kA, "10.1.0.10", "10.2.0.11"), 300)).empty());
  EXPECT_EQ(h.drops(DropReason::kNoDestination), before + 4);
  EXPECT_EQ(h.drops(DropReason::kNotForRouter), 0u);
  EXPECT_EQ(h.drops(DropReason::kArpIgnored), 0u);
}

TEST(VrouterHost, UnknownNeighbourIsResolvedInItsSegment) {
  HostHarness h;
  h.exchange(tag(arp_request_frame(kA, "10.1.0.10", "10.1.0.1"), 100));
  const uint64_t before = h.drops(DropReason::kNoDestination);
  // B never spoke: the packet waits, an ARP request goes out (a flood in segment info).
  std::vector<Bytes> out = h.exchange(tag(udp4(kGwCore, kA, "10.1.0.10", "10.2.0.11"), 100));
  EXPECT_TRUE(out.empty()) << "a flood verdict: the switch's L2Egress would send it";
  EXPECT_EQ(h.drops(DropReason::kNoDestination), before + 1) << "the ARP request, a flood";
  // B answers (to the gateway MAC): the held packet leaves for B's port.
  out = h.exchange(tag(arp_reply(kB, "10.2.0.11", kGwInfo, "10.2.0.1"), 200));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], tag(udp4(kB, kGwInfo, "10.1.0.10", "10.2.0.11", 63), 200));
}
