// Per-VM limits in the host switch (docs/limits.md), on a simulated clock (the worker's
// fixed_tsc): a stream above the rate leaves at the rate within 2 %, policed from and toward
// the VM, as bits/s and packets/s, single- and two-rate; a shaper sends at its rate, holds at
// most its queue and loses nothing of a stream below its rate; a class gets its own meter while
// the VM's other traffic is not limited; a reload that changes one port's limit keeps the
// others' meter state; and 200 k meters on 4,094 segment limits per trunk compile and meter.
#include <gtest/gtest.h>

#include <rte_cycles.h>

#include <chrono>
#include <functional>

#include <fmt/format.h>

#include "common/why_request.h"
#include "tests/common/frames.h"
#include "tests/dataplane/harness.h"

using namespace testing_frames;
using dptest::SwitchHarness;
using vnf::DropReason;

namespace {

const Mac A = mac("02:00:00:00:01:01");  // behind vm1
const Mac B = mac("02:00:00:00:02:02");  // behind vm2

std::string two_ports(const std::string& vm1_limit, const std::string& vm2_limit) {
  std::string y = "engine: {name: dplim}\nsegments:\n  - {name: core, vlan: 100}\nports:\n";
  y += "  - {name: vm1, type: ring, mode: access, segment: core" +
       (vm1_limit.empty() ? "" : ", limit: " + vm1_limit) + "}\n";
  y += "  - {name: vm2, type: ring, mode: access, segment: core" +
       (vm2_limit.empty() ? "" : ", limit: " + vm2_limit) + "}\n";
  return y;
}

// A UDP frame of exactly `len` bytes from A to B.
Bytes frame(size_t len, uint16_t dport = 5201, const Mac& src = A, const Mac& dst = B) {
  const size_t payload = len - 14 - 20 - 8;
  return cat({eth(dst, src, {}, 0x0800),
              ipv4(ip4("10.1.0.10"), ip4("10.1.0.20"), 17, udp(40000, dport, Bytes(payload, 0)))});
}

// Drives the harness on a simulated clock: every `step_us`, `per_step` frames into `in`; what
// `out` transmits is counted, and from `from_s` on also summed (the steady state).
struct Stream {
  SwitchHarness& h;
  uint64_t now;
  uint64_t hz = rte_get_tsc_hz();

  explicit Stream(SwitchHarness& harness) : h(harness), now(1ULL << 40) {
    h.engine().worker(0).fixed_tsc = now;
  }
  ~Stream() { h.engine().worker(0).fixed_tsc = 0; }

  struct Result {
    uint64_t frames = 0, bytes = 0;  // delivered from from_s on
    uint64_t all_frames = 0;         // delivered in all
    double seconds = 0;              // of the steady state
    double bps() const { return bytes * 8 / seconds; }
    double pps() const { return frames / seconds; }
  };

  Result run(const std::string& in, const std::string& out, double seconds, unsigned step_us,
             unsigned per_step, const std::function<Bytes(unsigned)>& make, double from_s,
             uint32_t* max_held = nullptr) {
    Result r;
    const unsigned steps = static_cast<unsigned>(seconds * 1e6 / step_us);
    const unsigned first = static_cast<unsigned>(from_s * 1e6 / step_us);
    unsigned n = 0;
    for (unsigned s = 0; s < steps; ++s) {
      now += hz * step_us / 1000000;
      h.engine().worker(0).fixed_tsc = now;
      for (unsigned k = 0; k < per_step; ++k) h.send(in, make(n++));
      h.poll(2);
      if (max_held) *max_held = std::max(*max_held, h.engine().worker(0).held);
      for (const auto& f : h.recv(out)) {
        ++r.all_frames;
        if (s >= first) {
          ++r.frames;
          r.bytes += f.size();
        }
      }
      h.recv_all();
    }
    r.seconds = (steps - first) * step_us / 1e6;
    return r;
  }
};

// The switch learns both MACs first, so that frames go unicast.
void learn_both(SwitchHarness& h) {
  h.exchange("vm2", frame(64, 9, B, kBroadcast));
  h.exchange("vm1", frame(64, 9, A, kBroadcast));
  h.recv_all();
}

const vswitch::LimitRows::Row* row(SwitchHarness& h, const std::string& port, uint8_t dir,
                                   const std::string& cls = "", const std::string& seg = "") {
  for (const auto& r : h.sw().limits().rows())
    if (r.port == port && r.dir == dir && r.cls == cls && r.segment == seg) return &r;
  return nullptr;
}

uint64_t colour(SwitchHarness& h, const vswitch::LimitRows::Row& r, int c) {
  uint64_t p[3], b[3];
  h.sw().limits().totals(r, p, b);
  return p[c];
}

}  // namespace

TEST(VswitchLimits, PolicedFromTheVmLeavesAtTheRate) {
  SwitchHarness h(two_ports("{rx: {rate: 10Mbit}}", ""));
  learn_both(h);
  Stream s(h);
  // 20 Mbit/s offered (1,000-byte frames, 5 every 2 ms) against 10 Mbit/s.
  const auto r = s.run(
      "vm1", "vm2", 4.0, 2000, 5, [](unsigned) { return frame(1000); }, 1.0);
  EXPECT_NEAR(r.bps(), 10e6, 10e6 * 0.02) << r.bytes << " bytes in " << r.seconds << " s";
  EXPECT_GT(h.drops(DropReason::kLimitRx), 4000u);
  const auto* rw = row(h, "vm1", 0);
  ASSERT_NE(rw, nullptr);
  EXPECT_EQ(colour(h, *rw, 2), h.drops(DropReason::kLimitRx));  // red = dropped
  EXPECT_EQ(h.drops(DropReason::kLimitTx), 0u);
}

TEST(VswitchLimits, PolicedTowardTheVmLeavesAtTheRate) {
  SwitchHarness h(two_ports("", "{tx: {rate: 10Mbit, burst: 20KB}}"));
  learn_both(h);
  Stream s(h);
  const auto r = s.run(
      "vm1", "vm2", 4.0, 2000, 5, [](unsigned) { return frame(1000); }, 1.0);
  EXPECT_NEAR(r.bps(), 10e6, 10e6 * 0.02);
  EXPECT_GT(h.drops(DropReason::kLimitTx), 4000u);
  EXPECT_EQ(h.drops(DropReason::kLimitRx), 0u);
  // The other direction is not limited: vm2 -> vm1 at 20 Mbit/s all arrives.
  const auto back = s.run(
      "vm2", "vm1", 1.0, 2000, 5, [](unsigned) { return frame(1000, 5201, B, A); }, 0.0);
  EXPECT_EQ(back.all_frames, 2500u);
}

TEST(VswitchLimits, FloodCopiesAreMeteredPerEgressPort) {
  // Broadcasts from vm1 reach vm2 (limited toward it) and vm3 (not).
  SwitchHarness h(two_ports("", "{tx: {rate: 10Mbit}}") +
                  "  - {name: vm3, type: ring, mode: access, segment: core}\n");
  Stream s(h);
  const auto to2 = s.run(
      "vm1", "vm2", 3.0, 2000, 5, [](unsigned) { return frame(1000, 5201, A, kBroadcast); }, 1.0);
  EXPECT_NEAR(to2.bps(), 10e6, 10e6 * 0.02);
  EXPECT_GT(h.drops(DropReason::kLimitTx), 2000u);
}

TEST(VswitchLimits, PacketRate) {
  SwitchHarness h(two_ports("{rx: {pps: 1000}}", ""));
  learn_both(h);
  Stream s(h);
  // 2,500 frames/s offered, 64 bytes: the byte rate is nothing, the packet rate is the limit.
  const auto r = s.run(
      "vm1", "vm2", 4.0, 2000, 5, [](unsigned) { return frame(64); }, 1.0);
  EXPECT_NEAR(r.pps(), 1000, 1000 * 0.02);
}

TEST(VswitchLimits, TwoRateThreeColour) {
  // RFC 2698: committed 5 Mbit/s, peak 10 Mbit/s. 8 Mbit/s offered all passes, about 3/8 of it
  // yellow; 20 Mbit/s offered passes at the peak rate.
  SwitchHarness h(
      two_ports("{rx: {rate: 5Mbit, burst: 20KB, peak_rate: 10Mbit, peak_burst: 20KB}}", ""));
  learn_both(h);
  Stream s(h);
  const auto r8 = s.run(
      "vm1", "vm2", 4.0, 1000, 1, [](unsigned) { return frame(1000); }, 0.0);
  EXPECT_EQ(r8.all_frames, 4000u);  // nothing red
  const auto* rw = row(h, "vm1", 0);
  ASSERT_NE(rw, nullptr);
  const double yellow = static_cast<double>(colour(h, *rw, 1)) / 4000;
  EXPECT_NEAR(yellow, 3.0 / 8, 0.02);
  const auto r20 = s.run(
      "vm1", "vm2", 4.0, 2000, 5, [](unsigned) { return frame(1000); }, 1.0);
  EXPECT_NEAR(r20.bps(), 10e6, 10e6 * 0.02);
}

TEST(VswitchLimits, ShaperSendsAtTheRateAndHoldsAtMostItsQueue) {
  SwitchHarness h(two_ports("", "{tx: {rate: 10Mbit, mode: shape, queue: 200}}"));
  learn_both(h);
  Stream s(h);
  uint32_t max_held = 0;
  const auto r = s.run(
      "vm1", "vm2", 4.0, 2000, 5, [](unsigned) { return frame(1000); }, 1.0, &max_held);
  EXPECT_NEAR(r.bps(), 10e6, 10e6 * 0.02);
  EXPECT_EQ(max_held, 200u);  // full, never beyond
  EXPECT_GT(h.drops(DropReason::kShapeQueueFull), 4000u);
  EXPECT_EQ(h.drops(DropReason::kLimitTx), 0u);
  const auto* rw = row(h, "vm2", 1);
  ASSERT_NE(rw, nullptr);
  EXPECT_EQ(colour(h, *rw, 2), h.drops(DropReason::kShapeQueueFull));
  EXPECT_EQ(h.sw().limits().queue_depth(h.id("vm2")), 200u);
}

TEST(VswitchLimits, ShaperDelaysBurstsBelowItsRateWithoutLoss) {
  // 8 Mbit/s on average, in bursts of 100 frames every 100 ms, through a 10 Mbit/s shaper: the
  // bursts wait in the queue, nothing is lost, and no burst leaves faster than the rate.
  SwitchHarness h(two_ports("", "{tx: {rate: 10Mbit, mode: shape}}"));
  learn_both(h);
  Stream s(h);
  h.poll();
  h.recv_all();  // learn_both's broadcast to vm2, through the shaper
  uint64_t sent = 0, got = 0, most_in_a_ms = 0;
  for (unsigned burst = 0; burst < 20; ++burst) {
    for (unsigned k = 0; k < 100; ++k) h.send("vm1", frame(1000));
    sent += 100;
    for (unsigned ms = 0; ms < 100; ++ms) {
      s.now += s.hz / 1000;
      h.engine().worker(0).fixed_tsc = s.now;
      h.poll(4);
      const uint64_t n = h.recv("vm2").size();
      got += n;
      most_in_a_ms = std::max(most_in_a_ms, n);
    }
  }
  EXPECT_EQ(got, sent);
  EXPECT_EQ(h.drops(DropReason::kShapeQueueFull), 0u);
  // 10 Mbit/s is 1.25 frames per ms; the bucket (16 KiB) lets at most ~17 frames go at once.
  EXPECT_LE(most_in_a_ms, 18u);
}

TEST(VswitchLimits, ClassHasItsOwnMeterAndOtherTrafficIsNotLimited) {
  SwitchHarness h(two_ports(
      "{classes: [{name: bulk, match: {proto: udp, ports: 5300-5310}, rx: {rate: 2Mbit}}]}", ""));
  learn_both(h);
  Stream s(h);
  const auto bulk = s.run(
      "vm1", "vm2", 3.0, 2000, 5, [](unsigned) { return frame(1000, 5301); }, 1.0);
  EXPECT_NEAR(bulk.bps(), 2e6, 2e6 * 0.02);
  const auto other = s.run(
      "vm1", "vm2", 1.0, 2000, 5, [](unsigned) { return frame(1000, 5201); }, 0.0);
  EXPECT_EQ(other.all_frames, 2500u);
  ASSERT_NE(row(h, "vm1", 0, "bulk"), nullptr);
  EXPECT_EQ(row(h, "vm1", 0), nullptr);  // no port-wide row
}

TEST(VswitchLimits, ClassInsideThePortLimit) {
  // A class's traffic counts against the port's limit too: bulk at its own 8 Mbit/s cap leaves
  // the rest of the port's 10 Mbit/s to the other traffic.
  SwitchHarness h(
      two_ports("{rx: {rate: 10Mbit, burst: 20KB}, classes: [{name: bulk, match: "
                "{remote: 10.1.0.0/24, ports: 5300-5310}, rx: {rate: 8Mbit, "
                "burst: 20KB}}]}",
                ""));
  learn_both(h);
  Stream s(h);
  const auto r = s.run(
      "vm1", "vm2", 3.0, 2000, 5, [](unsigned n) { return frame(1000, n % 2 ? 5301 : 5201); }, 1.0);
  EXPECT_NEAR(r.bps(), 10e6, 10e6 * 0.02);
  const auto* bulk = row(h, "vm1", 0, "bulk");
  ASSERT_NE(bulk, nullptr);
  EXPECT_GT(colour(h, *bulk, 2), 0u);
}

TEST(VswitchLimits, ReloadKeepsTheMetersItDoesNotChange) {
  SwitchHarness h(two_ports("{rx: {rate: 10Mbit}}", "{rx: {rate: 10Mbit}}"));
  learn_both(h);
  Stream s(h);
  s.run(
      "vm1", "vm2", 1.0, 2000, 5, [](unsigned) { return frame(1000); }, 0.0);
  s.run(
      "vm2", "vm1", 1.0, 2000, 5, [](unsigned) { return frame(1000, 5201, B, A); }, 0.0);
  const auto before1 = *row(h, "vm1", 0);
  const auto before2 = *row(h, "vm2", 0);
  const uint64_t green1 = colour(h, before1, 0), green2 = colour(h, before2, 0);
  ASSERT_GT(green1, 1000u);
  ASSERT_GT(green2, 1000u);

  h.apply_yaml(two_ports("{rx: {rate: 10Mbit}}", "{rx: {rate: 4Mbit}}"));
  const auto after1 = *row(h, "vm1", 0);
  const auto after2 = *row(h, "vm2", 0);
  EXPECT_EQ(after1.slot, before1.slot);
  EXPECT_EQ(after1.stamp, before1.stamp);
  EXPECT_EQ(colour(h, after1, 0), green1);  // vm1's meter carries on
  EXPECT_NE(after2.stamp, before2.stamp);
  EXPECT_EQ(colour(h, after2, 0), 0u);  // vm2's starts afresh, at its new rate
  // Both go on at their rates (vm1's bucket refilled while vm2 ran: measured after it drains).
  const auto r1 = s.run(
      "vm1", "vm2", 2.0, 2000, 5, [](unsigned) { return frame(1000); }, 0.5);
  EXPECT_NEAR(r1.bps(), 10e6, 10e6 * 0.02);
  const auto r2 = s.run(
      "vm2", "vm1", 3.0, 2000, 5, [](unsigned) { return frame(1000, 5201, B, A); }, 1.0);
  EXPECT_NEAR(r2.bps(), 4e6, 4e6 * 0.02);
  // Removing vm2's limit frees its slot for the next new meter.
  h.apply_yaml(two_ports("{rx: {rate: 10Mbit}}", ""));
  EXPECT_EQ(row(h, "vm2", 0), nullptr);
  h.apply_yaml(two_ports("{rx: {rate: 10Mbit}}", "{tx: {rate: 1Mbit}}"));
  EXPECT_EQ(row(h, "vm2", 1)->slot, before2.slot);
}

TEST(VswitchLimits, ScaleTwoHundredThousandMeters) {
  // 25 trunks, each with a limit in both directions on each of 4,094 segments: 204,700 meters.
  // One config, compiled and published; a frame in the last segment meets its own meter; a
  // reload that changes one segment's limit keeps every other meter's state.
  constexpr unsigned kTrunks = 25, kSegs = 4094;
  auto yaml = [&](const std::string& last_rate) {
    std::string y = "engine: {name: dplimscale}\nsegments:\n";
    for (unsigned v = 1; v <= kSegs; ++v) y += fmt::format("  - {{name: s{}, vlan: {}}}\n", v, v);
    y += "ports:\n";
    std::string segs = "[";
    for (unsigned v = 1; v <= kSegs; ++v) segs += fmt::format("{}s{}", v > 1 ? "," : "", v);
    segs += "]";
    for (unsigned t = 0; t < kTrunks; ++t) {
      y += fmt::format("  - name: t{}\n    type: ring\n    mode: trunk\n    segments: {}\n", t,
                       segs);
      y += "    limit:\n      segments:\n";
      for (unsigned v = 1; v <= kSegs; ++v)
        y += fmt::format("        s{}: {{rx: {{rate: {}}}, tx: {{rate: 20Mbit}}}}\n", v,
                         t == 0 && v == kSegs ? last_rate : "10Mbit");
    }
    return y;
  };
  const auto t0 = std::chrono::steady_clock::now();
  SwitchHarness h(yaml("1Mbit"));
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(h.sw().limits().rows().size(), 2u * kTrunks * kSegs);
  // A frame in segment s4094 from t0 to t1 meets t0's rx meter of that segment and t1's tx.
  const Bytes f = udp4_frame(B, A, {{0x8100, kSegs}});
  h.send("t0", f);
  h.poll();
  const auto* rx_last = row(h, "t0", 0, "", fmt::format("s{}", kSegs));
  ASSERT_NE(rx_last, nullptr);
  EXPECT_EQ(colour(h, *rx_last, 0), 1u);
  EXPECT_EQ(colour(h, *row(h, "t1", 1, "", fmt::format("s{}", kSegs)), 0), 1u);
  EXPECT_EQ(colour(h, *row(h, "t0", 0, "", "s1"), 0), 0u);
  const uint64_t stamp_other = row(h, "t1", 1, "", fmt::format("s{}", kSegs))->stamp;
  const uint64_t stamp_last = rx_last->stamp;
  h.apply_yaml(yaml("2Mbit"));
  const auto t2 = std::chrono::steady_clock::now();
  EXPECT_NE(row(h, "t0", 0, "", fmt::format("s{}", kSegs))->stamp, stamp_last);
  EXPECT_EQ(row(h, "t1", 1, "", fmt::format("s{}", kSegs))->stamp, stamp_other);
  EXPECT_EQ(colour(h, *row(h, "t1", 1, "", fmt::format("s{}", kSegs)), 0), 1u);
  using ms = std::chrono::milliseconds;
  std::printf("[ scale    ] 204,700 meters: start-up %lld ms, reload %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<ms>(t1 - t0).count()),
              static_cast<long long>(std::chrono::duration_cast<ms>(t2 - t1).count()));
}

TEST(VswitchLimits, ShaperQueuesCannotTakeThePool) {
  // Held frames are mbufs the ports cannot receive into: a file whose shaper queues could hold
  // more than a quarter of the pool is refused, and the running limits stay.
  SwitchHarness h(two_ports("", "{tx: {rate: 10Mbit, mode: shape, queue: 100}}"));
  const uint32_t pool = h.engine().pool()->size;
  std::string big = "{tx: {rate: 10Mbit, mode: shape, queue: 4096}}";
  std::string yaml = two_ports(big, big);
  for (unsigned k = 3; uint64_t{4096} * (k - 1) <= pool / 4; ++k)
    yaml += fmt::format("  - {{name: vm{}, type: ring, mode: access, segment: core, limit: {}}}\n",
                        k, big);
  try {
    h.apply_yaml(yaml);
    ADD_FAILURE() << "accepted shaper queues beyond a quarter of a pool of " << pool;
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("more than a quarter of the pool"), std::string::npos)
        << e.what();
  }
  ASSERT_NE(row(h, "vm2", 1), nullptr);
  EXPECT_EQ(row(h, "vm2", 1)->spec.queue, 100u);
  EXPECT_EQ(row(h, "vm1", 1), nullptr);
}

TEST(VswitchLimits, WhyJudgesOnACopyOfTheMeters) {
  // With vm1's bucket empty, vnfctl why says the frame would be dropped (limit_rx) and spends
  // nothing: the meter's counters do not move; once the bucket refilled, it would pass.
  SwitchHarness h(two_ports("{rx: {rate: 10Mbit, burst: 20KB}}", "{tx: {rate: 10Mbit}}"));
  learn_both(h);
  Stream s(h);
  s.run(
      "vm1", "vm2", 0.5, 2000, 5, [](unsigned) { return frame(1000); }, 0.0);
  const auto* rx = row(h, "vm1", 0);
  ASSERT_NE(rx, nullptr);
  const uint64_t green = colour(h, *rx, 0), red = colour(h, *rx, 2);
  const std::string q =
      "port=vm1,dst_mac=02:00:00:00:02:02,src=10.1.0.10,dst=10.1.0.20,proto=udp,dport=5201,len="
      "1000";
  auto ask = [&] { return vnf::run_why(h.engine(), h.sw().why_hooks(), q, [&] { h.poll(); }); };
  const vnf::WhyResult w = ask();
  ASSERT_EQ(w.error, "");
  EXPECT_EQ(vnf::summarize(w.trace).reason, "limit_rx");
  EXPECT_EQ(colour(h, *rx, 0), green);
  EXPECT_EQ(colour(h, *rx, 2), red);
  s.now += s.hz;  // a second later the bucket is full again
  h.engine().worker(0).fixed_tsc = s.now;
  const vnf::WhyResult later = ask();
  ASSERT_EQ(later.error, "");
  EXPECT_EQ(vnf::summarize(later.trace).verdict, "forward");
  EXPECT_EQ(colour(h, *rx, 0), green);
}
