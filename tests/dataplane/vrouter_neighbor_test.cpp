// Neighbours on real DPDK ports: ARP/ND answers, resolution with the hold queue (bounded,
// counted), failure, and next-hop tracking moving traffic to a backup route and back.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/dataplane/router_frames.h"
#include "tests/dataplane/router_harness.h"

using namespace rtest;
using dptest::RouterHarness;
using vnf::DropReason;
namespace ops = vrouter::ops;

namespace {

bool is_arp_request_for(const Bytes& f, const std::string& tpa, const Mac& from) {
  return f.size() >= 42 && f[12] == 0x08 && f[13] == 0x06 && ops::rd16(f.data() + 20) == 1 &&
         ops::rd32(f.data() + 38) == ip4(tpa) &&
         std::equal(from.begin(), from.end(), f.begin() + 6);
}

unsigned count_arp_requests(const std::vector<Bytes>& frames, const std::string& tpa) {
  unsigned n = 0;
  for (const auto& f : frames)
    n += f.size() >= 42 && f[12] == 0x08 && f[13] == 0x06 && ops::rd16(f.data() + 20) == 1 &&
         ops::rd32(f.data() + 38) == ip4(tpa);
  return n;
}

const Mac kH5 = mac("02:00:00:00:02:05");

// The IPv4 frames (not ARP) a port sent.
std::vector<Bytes> ip_frames(const Out& out, const std::string& port) {
  std::vector<Bytes> v;
  if (out.count(port))
    for (const auto& f : out.at(port))
      if (f[12] == 0x08 && f[13] == 0x00) v.push_back(f);
  return v;
}

}  // namespace

TEST(VrouterNeighbor, AnswersArpForItsAddressesAndLearnsTheAsker) {
  RouterHarness h(kRouter);
  const Out out = h.exchange("p2", arp_request_frame(kH5, "10.2.0.5", "10.2.0.1"));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  Bytes expect = arp_reply(kR2, "10.2.0.1", kH5, "10.2.0.5");
  expect.resize(60, 0);  // padded to the Ethernet minimum
  EXPECT_EQ(out.at("p2").at(0), expect);
  // The asker is cached: traffic to it goes out without a resolution round.
  const Out fwd = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.5"));
  ASSERT_EQ(fwd.count("p2"), 1u) << dump(fwd);
  EXPECT_EQ(fwd.at("p2").at(0), udp4(kH5, kR2, "10.1.0.2", "10.2.0.5", 63));
  // Requests for other addresses are not answered.
  EXPECT_TRUE(h.exchange("p2", arp_request_frame(kH5, "10.2.0.5", "10.2.0.77")).empty());
  EXPECT_EQ(h.drops(DropReason::kArpIgnored), 1u);
}

TEST(VrouterNeighbor, AnswersNeighbourSolicitations) {
  RouterHarness h(kRouter);
  const Out out = h.exchange("p2", ns_frame(kH5, "2001:db8:2::5", "2001:db8:2::1"));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  const Bytes& na = out.at("p2").at(0);
  EXPECT_EQ(Bytes(na.begin(), na.begin() + 6), Bytes(kH5.begin(), kH5.end()));
  EXPECT_EQ(na[14 + 7], 255) << "hop limit";
  EXPECT_EQ(na[54], 136);
  EXPECT_EQ(na[58], 0xE0) << "router, solicited, override";
  EXPECT_EQ(Bytes(na.begin() + 62, na.begin() + 78), addr6("2001:db8:2::1"));
  EXPECT_EQ(verify_icmp6(na.data() + 14, 32), 0);
  // A DAD probe (from ::) for an address that is not ours teaches nothing and gets nothing.
  uint8_t f[128];
  const auto target = ip6("2001:db8:2::9");
  const uint16_t len = ops::build_ns(f, kH5.data(), nullptr, target.data(), nullptr);
  EXPECT_TRUE(h.exchange("p2", Bytes(f, f + len)).empty());
  // An NS with a wrong hop limit is invalid.
  Bytes bad = ns_frame(kH5, "2001:db8:2::5", "2001:db8:2::1");
  bad[14 + 7] = 64;
  EXPECT_TRUE(h.exchange("p2", bad).empty());
  EXPECT_GE(h.core().stats().invalid_control.get(), 1u);
}

TEST(VrouterNeighbor, ResolutionHoldsPacketsThenReleasesThemInOrder) {
  RouterHarness h(kRouter);
  // Three packets to an unknown neighbour: held, one ARP request goes out.
  for (uint16_t i = 0; i < 3; ++i)
    h.send("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.5", 64, 18, 5000 + i));
  h.poll();
  h.control();
  h.poll();
  Out out = h.recv_all();
  ASSERT_EQ(out.size(), 1u) << dump(out);
  ASSERT_EQ(out.at("p2").size(), 1u);
  Bytes req = out.at("p2")[0];
  EXPECT_TRUE(is_arp_request_for(req, "10.2.0.5", kR2));
  Bytes expect_req =
      cat({eth(kBroadcast, kR2, {}, 0x0806), arp_request(kR2, ip4("10.2.0.1"), ip4("10.2.0.5"))});
  expect_req.resize(60, 0);
  EXPECT_EQ(req, expect_req);
  EXPECT_EQ(h.core().held_packets(), 3u);
  // The answer releases them, rewritten, in the order they came.
  out = h.exchange("p2", arp_reply(kH5, "10.2.0.5", kR2, "10.2.0.1"));
  ASSERT_EQ(out.count("p2"), 1u) << dump(out);
  ASSERT_EQ(out.at("p2").size(), 3u);
  for (uint16_t i = 0; i < 3; ++i)
    EXPECT_EQ(out.at("p2")[i], udp4(kH5, kR2, "10.1.0.2", "10.2.0.5", 63, 18, 5000 + i)) << i;
  EXPECT_EQ(h.core().held_packets(), 0u);
  EXPECT_EQ(h.core().stats().released.get(), 3u);
}

TEST(VrouterNeighbor, HoldQueueIsBoundedAndFailureIsCounted) {
  RouterHarness h(kRouter);  // hold_packets: 3, probe_interval 100 ms, probe_misses 2
  for (uint16_t i = 0; i < 5; ++i)
    h.send("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.6", 64, 18, 6000 + i));
  h.poll();
  h.control();
  h.poll();
  EXPECT_EQ(count_arp_requests(h.recv("p2"), "10.2.0.6"), 1u);
  EXPECT_EQ(h.core().held_packets(), 3u);
  EXPECT_EQ(h.drops(DropReason::kNeighQueueFull), 2u) << "the two oldest made room";
  // Nobody answers: one more request, then the entry fails and the held packets are dropped.
  const Out out = h.run_for(400);
  EXPECT_EQ(count_arp_requests(out.count("p2") ? out.at("p2") : std::vector<Bytes>{}, "10.2.0.6"),
            1u);
  EXPECT_EQ(h.core().held_packets(), 0u);
  EXPECT_EQ(h.drops(DropReason::kNeighUnresolved), 3u);
  // Traffic to the failed neighbour meanwhile: ICMP host unreachable, not queued again.
  const Out unreach = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0.6"));
  ASSERT_EQ(unreach.size(), 1u) << dump(unreach);
  check_icmp4_error(unreach.at("p1").at(0), kH1, kR1, "10.1.0.1", "10.1.0.2", 3, 1);
  EXPECT_EQ(h.drops(DropReason::kNeighUnresolved), 4u);
}

TEST(VrouterNeighbor, Ipv6ResolutionWithNeighbourSolicitation) {
  RouterHarness h(kRouter);
  h.send("p1", udp6(kR1, kH1, "2001:db8:1::2", "2001:db8:2::5"));
  h.poll();
  h.control();
  h.poll();
  Out out = h.recv_all();
  ASSERT_EQ(out.count("p2"), 1u) << dump(out);
  const Bytes& ns = out.at("p2").at(0);
  EXPECT_EQ(Bytes(ns.begin(), ns.begin() + 6), (Bytes{0x33, 0x33, 0xff, 0, 0, 5}));
  EXPECT_EQ(ns[54], 135);
  EXPECT_EQ(verify_icmp6(ns.data() + 14, 32), 0);
  out = h.exchange("p2", na_frame(kH5, kR2, "2001:db8:2::5", "2001:db8:2::1"));
  ASSERT_EQ(out.count("p2"), 1u) << dump(out);
  EXPECT_EQ(out.at("p2").at(0), udp6(kH5, kR2, "2001:db8:1::2", "2001:db8:2::5", 63));
}

// The primary default route's next hop stops answering: the backup takes over; it answers
// again: the primary takes over again. Traffic follows, counted and logged.
TEST(VrouterNeighbor, BackupRouteTakesOverAndGivesWay) {
  const Mac gw1 = mac("02:00:00:00:02:aa"), gw2 = mac("02:00:00:00:03:bb");
  RouterHarness h(std::string(kRouter) + R"(routes:
  - {prefix: 0.0.0.0/0, via: 10.2.0.254}
  - {prefix: 0.0.0.0/0, via: 10.3.0.254, distance: 10}
)");
  // Both next hops answer their first probes.
  Out probes = h.run_for(20);
  ASSERT_GE(count_arp_requests(probes["p2"], "10.2.0.254"), 1u) << dump(probes);
  ASSERT_GE(count_arp_requests(probes["p3"], "10.3.0.254"), 1u) << dump(probes);
  h.exchange("p2", arp_reply(gw1, "10.2.0.254", kR2, "10.2.0.1"));
  h.exchange("p3", arp_reply(gw2, "10.3.0.254", kR3, "10.3.0.1"));
  auto route_states = [&] {
    std::lock_guard lock(h.core().mutex());
    std::vector<std::string> v;
    for (const auto& l : h.core().route_lines(0, 1000, nullptr))
      if (l.rfind("0.0.0.0/0 ", 0) == 0) v.push_back(l);
    return v;
  };
  EXPECT_EQ(route_states(), (std::vector<std::string>{
                                "0.0.0.0/0 via 10.2.0.254 dev lan2 distance 1 static active",
                                "0.0.0.0/0 via 10.3.0.254 dev up distance 10 static backup"}));
  Out out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "198.51.100.7"));
  ASSERT_EQ(ip_frames(out, "p2").size(), 1u) << "primary: " << dump(out);
  EXPECT_EQ(ip_frames(out, "p2")[0], udp4(gw1, kR2, "10.1.0.2", "198.51.100.7", 63));

  // gw1 goes silent; gw2 keeps answering every probe.
  bool failed_over = false;
  for (int step = 0; step < 100 && !failed_over; ++step) {
    const Out o = h.run_for(10);
    if (o.count("p3"))
      for (const auto& f : o.at("p3"))
        if (is_arp_request_for(f, "10.3.0.254", kR3))
          h.exchange("p3", arp_reply(gw2, "10.3.0.254", kR3, "10.3.0.1"));
    out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "198.51.100.7"));
    failed_over = !ip_frames(out, "p3").empty();
  }
  ASSERT_TRUE(failed_over) << "the backup never took over";
  EXPECT_EQ(ip_frames(out, "p3").at(0), udp4(gw2, kR3, "10.1.0.2", "198.51.100.7", 63));
  EXPECT_TRUE(ip_frames(out, "p2").empty()) << "nothing to the failed primary any more";
  EXPECT_EQ(h.core().stats().failovers.get(), 1u);
  EXPECT_EQ(route_states(), (std::vector<std::string>{
                                "0.0.0.0/0 via 10.2.0.254 dev lan2 distance 1 static down",
                                "0.0.0.0/0 via 10.3.0.254 dev up distance 10 static active"}));

  // gw1 answers a probe again: the primary takes over again.
  bool back = false;
  for (int step = 0; step < 100 && !back; ++step) {
    const Out o = h.run_for(10);
    if (o.count("p2"))
      for (const auto& f : o.at("p2"))
        if (is_arp_request_for(f, "10.2.0.254", kR2))
          h.exchange("p2", arp_reply(gw1, "10.2.0.254", kR2, "10.2.0.1"));
    out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "198.51.100.7"));
    back = !ip_frames(out, "p2").empty();
  }
  ASSERT_TRUE(back) << "the primary never took over again";
  EXPECT_EQ(ip_frames(out, "p2").at(0), udp4(gw1, kR2, "10.1.0.2", "198.51.100.7", 63));
  EXPECT_EQ(h.core().stats().fallbacks.get(), 1u);
  EXPECT_EQ(route_states()[0], "0.0.0.0/0 via 10.2.0.254 dev lan2 distance 1 static active");
}

TEST(VrouterNeighbor, StaticNeighboursSurviveAndUnknownReplyIsIgnored) {
  RouterHarness h(kRouter);
  // An unsolicited ARP reply for an address we never asked about creates nothing.
  EXPECT_TRUE(h.exchange("p2", arp_reply(kH5, "10.2.0.44", kR2, "10.2.0.1")).empty());
  {
    std::lock_guard lock(h.core().mutex());
    for (const auto& l : h.core().neighbor_lines(h.now()))
      EXPECT_EQ(l.find("10.2.0.44"), std::string::npos) << l;
  }
  // A reply claiming our own address is a conflict, not a neighbour.
  h.exchange("p2", arp_reply(kH5, "10.2.0.1", kR2, "10.2.0.1"));
  EXPECT_EQ(h.core().stats().address_conflicts.get(), 1u);
}

// Reloads and failovers while the real worker forwards a stream: not one packet of the
// stream is lost or reordered, and every one is rewritten correctly. (The control side runs
// on this thread, the worker loop on lcore 1.)
TEST(VrouterNeighbor, ReloadsAndFailoversNeverPauseForwarding) {
  const std::string base = std::string(kRouter) + R"(routes:
  - {prefix: 10.77.0.0/16, via: 10.2.0.254}
  - {prefix: 10.77.0.0/16, via: 10.200.0.2, distance: 10}
)";
  RouterHarness h(base);
  h.start_worker();
  constexpr uint32_t kFrames = 20000;
  std::atomic<uint32_t> received{0};
  std::atomic<bool> done{false};
  std::thread gen([&] {
    for (uint32_t i = 0; i < kFrames; ++i) {
      while (i - received.load() > 256) std::this_thread::yield();
      Bytes f = udp4(kR1, kH1, "10.1.0.2", "10.2.0.2");
      std::memcpy(f.data() + f.size() - 4, &i, 4);
      for (;;) {
        try {
          h.send("p1", f);
          break;
        } catch (const std::runtime_error&) {
          std::this_thread::yield();
        }
      }
    }
    done = true;
  });
  std::vector<uint32_t> seqs;
  const Bytes expect = udp4(kH2, kR2, "10.1.0.2", "10.2.0.2", 63);
  auto drain = [&] {
    for (const auto& f : h.recv("p2")) {
      if (f[12] != 0x08 || f[13] != 0x00) continue;  // ARP probes of the 10.77 next hop
      EXPECT_EQ(Bytes(f.begin(), f.end() - 4), Bytes(expect.begin(), expect.end() - 4));
      uint32_t s;
      std::memcpy(&s, f.data() + f.size() - 4, 4);
      seqs.push_back(s);
      ++received;
    }
  };
  // Meanwhile: reloads that add and remove routes (a new FIB each time), and the 10.77 next
  // hop failing over to its backup (buckets rewritten in place) as its probes go unanswered.
  unsigned reloads = 0;
  while (!done) {
    drain();
    h.advance(50);
    h.control();
    if (received > kFrames / 10 * (reloads + 1) && reloads < 6) {
      try {
        h.apply_yaml(reloads % 2 ? base : base + "  - {prefix: 10.99.0.0/16, via: 10.2.0.2}\n");
      } catch (const std::exception& e) {
        ADD_FAILURE() << "reload " << reloads << ": " << e.what();
      }
      ++reloads;
    }
  }
  for (int i = 0; i < 100 && received < kFrames; ++i) {
    drain();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  gen.join();
  h.stop_worker();
  drain();
  EXPECT_EQ(reloads, 6u);
  EXPECT_GE(h.core().stats().failovers.get(), 1u) << "the backup never took over meanwhile";
  ASSERT_EQ(seqs.size(), kFrames) << "packets lost while the control side worked";
  for (uint32_t i = 0; i < kFrames; ++i) ASSERT_EQ(seqs[i], i) << "reordered at " << i;
  EXPECT_EQ(h.drops(DropReason::kTxFull), 0u);
}

// ---- on-link routes to addresses outside every subnet of the interface (issue #9)

namespace {

// kRouter plus an on-link route to 198.51.100.0/24 through 'up' (subnet 10.3.0.0/24).
const std::string kOnLinkRouter = std::string(kRouter) + R"(routes:
  - {prefix: 198.51.100.0/24, interface: up}
)";

bool has_neighbor(RouterHarness& h, const std::string& addr) {
  std::lock_guard lock(h.core().mutex());
  for (const auto& l : h.core().neighbor_lines(h.now()))
    if (l.rfind(addr + " ", 0) == 0) return true;
  return false;
}

// Resolves 198.51.100.7 (kH5 on p3) the way a packet to it does, and checks it was delivered.
void resolve_onlink_host(RouterHarness& h) {
  h.send("p1", udp4(kR1, kH1, "10.1.0.2", "198.51.100.7"));
  h.poll();
  h.control();
  h.poll();
  Out out = h.recv_all();
  ASSERT_EQ(out.count("p3"), 1u) << dump(out);
  ASSERT_EQ(count_arp_requests(out.at("p3"), "198.51.100.7"), 1u);
  // The request goes out from the interface's own address, like the kernel's.
  EXPECT_EQ(ops::rd32(out.at("p3")[0].data() + 28), ip4("10.3.0.1"));
  EXPECT_EQ(h.core().held_packets(), 1u);
  out = h.exchange("p3", arp_reply(kH5, "198.51.100.7", kR3, "10.3.0.1"));
  ASSERT_EQ(ip_frames(out, "p3").size(), 1u) << "the held packet was not released: " << dump(out);
  EXPECT_EQ(ip_frames(out, "p3")[0], udp4(kH5, kR3, "10.1.0.2", "198.51.100.7", 63));
  EXPECT_EQ(h.core().held_packets(), 0u);
}

}  // namespace

// The router asks for a host outside the interface's subnets (an on-link route points there):
// the host's answer is accepted and the held packet delivered; the next one goes at once.
TEST(VrouterNeighbor, OnLinkRouteOutsideTheSubnetResolvesIpv4) {
  RouterHarness h(kOnLinkRouter);
  resolve_onlink_host(h);
  EXPECT_TRUE(has_neighbor(h, "198.51.100.7"));
  const Out out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "198.51.100.7"));
  ASSERT_EQ(ip_frames(out, "p3").size(), 1u) << dump(out);
  EXPECT_EQ(ip_frames(out, "p3")[0], udp4(kH5, kR3, "10.1.0.2", "198.51.100.7", 63));
  EXPECT_EQ(h.drops(DropReason::kNeighUnresolved), 0u);
}

// ARP the router did not ask for, for addresses outside the interface's subnets, creates no
// entry: gratuitous ARP (request and reply form) and unsolicited replies, inside the on-link
// prefix or not, and a request for our address from such a sender. (A hostile station cannot
// fill the cache or pre-empt a resolution with them.)
TEST(VrouterNeighbor, UnsolicitedArpOutsideTheSubnetCreatesNothing) {
  RouterHarness h(kOnLinkRouter);
  const Mac evil = mac("02:00:00:00:0e:01");
  auto garp_request = [&](const std::string& a) {
    return cat({eth(kBroadcast, evil, {}, 0x0806), arp_request(evil, ip4(a), ip4(a))});
  };
  h.exchange("p3", arp_reply(evil, "198.51.100.8", kR3, "10.3.0.1"));
  h.exchange("p3", arp_reply(evil, "198.51.100.9", kBroadcast, "198.51.100.9"));
  h.exchange("p3", garp_request("198.51.100.10"));
  h.exchange("p3", arp_reply(evil, "203.0.113.5", kR3, "10.3.0.1"));
  h.exchange("p2", arp_reply(evil, "198.51.100.11", kR2, "10.2.0.1"));
  const Out answered = h.exchange("p3", arp_request_frame(evil, "198.51.100.12", "10.3.0.1"));
  EXPECT_EQ(answered.count("p3"), 1u) << "a request for our address is still answered";
  for (const char* a : {"198.51.100.8", "198.51.100.9", "198.51.100.10", "203.0.113.5",
                        "198.51.100.11", "198.51.100.12"})
    EXPECT_FALSE(has_neighbor(h, a)) << a;
  // Traffic to such an address still resolves it properly (the spoofed MAC is not used).
  h.send("p1", udp4(kR1, kH1, "10.1.0.2", "198.51.100.8"));
  h.poll();
  h.control();
  h.poll();
  Out out = h.recv_all();
  EXPECT_TRUE(ip_frames(out, "p3").empty()) << "sent to an unconfirmed MAC";
  EXPECT_EQ(count_arp_requests(out["p3"], "198.51.100.8"), 1u);
}

// A reload keeps neighbours still reachable through an on-link route (no new resolution, no
// packet held), and flushes them once no route explains them any more.
TEST(VrouterNeighbor, ReloadKeepsNeighboursOfOnLinkRoutes) {
  RouterHarness h(kOnLinkRouter);
  resolve_onlink_host(h);
  h.apply_yaml(kOnLinkRouter + "  - {prefix: 10.99.0.0/16, via: 10.2.0.2}\n");
  EXPECT_TRUE(has_neighbor(h, "198.51.100.7")) << "flushed by the reload";
  const Out out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "198.51.100.7"));
  ASSERT_EQ(ip_frames(out, "p3").size(), 1u) << dump(out);
  EXPECT_EQ(ip_frames(out, "p3")[0], udp4(kH5, kR3, "10.1.0.2", "198.51.100.7", 63));
  EXPECT_EQ(
      count_arp_requests(out.count("p3") ? out.at("p3") : std::vector<Bytes>{}, "198.51.100.7"),
      0u);
  // The route now leads through another interface: the entry on 'up' is no longer explained.
  h.apply_yaml(std::string(kRouter) + "routes:\n  - {prefix: 198.51.100.0/24, interface: lan2}\n");
  EXPECT_FALSE(has_neighbor(h, "198.51.100.7"));
}

// A station fills the neighbour table with addresses nobody answers for; a reload then adds
// a route: its next hop still gets an entry (an unresolved ordinary one makes room), is
// probed and carries the route, instead of staying untracked until the next reload.
TEST(VrouterNeighbor, ReloadTracksNewNextHopsWhenTheTableIsFull) {
  std::string cfg = kRouter;
  cfg.replace(cfg.find("  hold_packets: 3\n"), 17, "  hold_packets: 3\n  max_entries: 64\n");
  RouterHarness h(cfg);
  for (int i = 0; i < 60; ++i) {  // 6 static entries + 58 fill the table; 2 are refused
    h.send("p1", udp4(kR1, kH1, "10.1.0.2", "10.2.0." + std::to_string(100 + i)));
    if (i % 16 == 15) h.poll();
  }
  h.poll();
  h.control();
  h.poll();
  h.recv_all();
  ASSERT_EQ(h.core().neighbors().size(), 64u);
  ASSERT_EQ(h.drops(DropReason::kNeighTableFull), 2u);
  h.apply_yaml(cfg + "routes:\n  - {prefix: 198.51.100.0/24, via: 10.3.0.254}\n");
  const Out probes = h.run_for(20);
  EXPECT_EQ(h.drops(DropReason::kNeighTableFull), 3u) << "one unresolved entry made room";
  ASSERT_EQ(probes.count("p3"), 1u) << "the next hop is not probed: " << dump(probes);
  EXPECT_EQ(count_arp_requests(probes.at("p3"), "10.3.0.254"), 1u);
  h.exchange("p3", arp_reply(mac("02:00:00:00:03:bb"), "10.3.0.254", kR3, "10.3.0.1"));
  const Out out = h.exchange("p1", udp4(kR1, kH1, "10.1.0.2", "198.51.100.7"));
  ASSERT_EQ(ip_frames(out, "p3").size(), 1u) << dump(out);
  EXPECT_EQ(ip_frames(out, "p3")[0],
            udp4(mac("02:00:00:00:03:bb"), kR3, "10.1.0.2", "198.51.100.7", 63));
  EXPECT_EQ(h.drops(DropReason::kNeighTableFull), 3u);
}
