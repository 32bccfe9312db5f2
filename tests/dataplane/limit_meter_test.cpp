// Unit tests of the limit arithmetic (vswitch/dp/limit.h) on a hand-set clock: rte_meter's
// buckets at boundary rates and bursts as our rows configure them, the colours of the three
// meter kinds, and the shaper queue's bound. (In the dataplane binary: rte_meter reads the
// TSC frequency the EAL measures.)
#include <gtest/gtest.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <memory>

#include "vswitch/dp/limit.h"

using vswitch::LimitCell;
using vswitch::LimitRowDp;
using vswitch::MeterKind;

namespace {

constexpr uint64_t kT0 = 1ULL << 40;

LimitRowDp sr(uint64_t cir_Bps, uint64_t cbs, uint64_t ebs = 0) {
  LimitRowDp r;
  r.bytes = MeterKind::kSrTcm;
  r.stamp = 1;
  rte_meter_srtcm_params p{cir_Bps, cbs, ebs};
  EXPECT_EQ(rte_meter_srtcm_profile_config(&r.bp.sr, &p), 0);
  return r;
}

LimitRowDp tr(uint64_t cir, uint64_t pir, uint64_t cbs, uint64_t pbs) {
  LimitRowDp r;
  r.bytes = MeterKind::kTrTcm;
  r.stamp = 1;
  rte_meter_trtcm_params p{cir, pir, cbs, pbs};
  EXPECT_EQ(rte_meter_trtcm_profile_config(&r.bp.tr, &p), 0);
  return r;
}

// Cycles for `bytes` at `Bps`, rounded up.
uint64_t cycles_for(uint64_t bytes, uint64_t Bps) {
  return (bytes * rte_get_tsc_hz() + Bps - 1) / Bps;
}

rte_color check(LimitCell& c, const LimitRowDp& r, uint64_t t, uint32_t len) {
  return vswitch::limit::check(c, r, t, len);
}

}  // namespace

TEST(LimitMeter, BurstIsExactlyTheCommittedBucket) {
  // cbs 10,000 bytes: ten 1,000-byte frames at one instant are green, the eleventh red.
  const LimitRowDp r = sr(1'250'000, 10'000);  // 10 Mbit/s
  LimitCell c{};
  vswitch::limit::init_cell(c, r, kT0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_GREEN) << i;
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_RED);
  EXPECT_EQ(check(c, r, kT0, 1), RTE_COLOR_RED);  // empty is empty
  // A frame exactly the bucket's size passes a full bucket; one byte more never does.
  LimitCell d{};
  vswitch::limit::init_cell(d, r, kT0);
  EXPECT_EQ(check(d, r, kT0, 10'000), RTE_COLOR_GREEN);
  LimitCell e{};
  vswitch::limit::init_cell(e, r, kT0);
  EXPECT_EQ(check(e, r, kT0, 10'001), RTE_COLOR_RED);
}

TEST(LimitMeter, RefillsAtTheCommittedRate) {
  for (uint64_t bps :
       {1'000ULL, 1'000'000ULL, 50'000'000ULL, 10'000'000'000ULL, 400'000'000'000ULL}) {
    const uint64_t Bps = bps / 8;
    const LimitRowDp r = sr(Bps, 100'000);
    LimitCell c{};
    vswitch::limit::init_cell(c, r, kT0);
    while (check(c, r, kT0, 1000) == RTE_COLOR_GREEN) {
    }
    // Over one simulated second of 1,000-byte frames offered at twice the rate, what passes is
    // the rate. rte_meter adds an integer number of bytes every period of at least 100 TSC
    // cycles (RTE_METER_TB_PERIOD_MIN): above a few Gbit/s that rounding is up to 1 %.
    uint64_t passed = 0;
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t frames = std::max<uint64_t>(2 * Bps / 1000, 2);
    for (uint64_t k = 1; k <= frames; ++k) {
      const uint64_t t = kT0 + hz * k / frames;
      if (check(c, r, t, 1000) == RTE_COLOR_GREEN) passed += 1000;
    }
    const double want = static_cast<double>(Bps);
    EXPECT_NEAR(static_cast<double>(passed), want, std::max(want * 0.01, 1000.0)) << bps;
  }
}

TEST(LimitMeter, OneFrameTimeAfterEmpty) {
  // 1 Mbit/s: a 1,000-byte frame needs 8 ms of tokens. Just before, red; at it, green.
  const uint64_t Bps = 125'000;
  const LimitRowDp r = sr(Bps, 2000);
  LimitCell c{};
  vswitch::limit::init_cell(c, r, kT0);
  ASSERT_EQ(check(c, r, kT0, 2000), RTE_COLOR_GREEN);
  const uint64_t need = cycles_for(1000, Bps);
  EXPECT_EQ(check(c, r, kT0 + need * 99 / 100, 1000), RTE_COLOR_RED);
  EXPECT_EQ(check(c, r, kT0 + need * 101 / 100, 1000), RTE_COLOR_GREEN);
}

TEST(LimitMeter, SingleRateExcessBucketIsYellow) {
  // RFC 2697: tokens overflowing the committed bucket fill the excess bucket.
  const LimitRowDp r = sr(125'000, 2000, 3000);
  LimitCell c{};
  vswitch::limit::init_cell(c, r, kT0);  // both full
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_GREEN);
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_GREEN);
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_YELLOW);
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_YELLOW);
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_YELLOW);
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_RED);
}

TEST(LimitMeter, TwoRateColours) {
  // RFC 2698: above the peak bucket red; within it but above the committed bucket yellow.
  const LimitRowDp r = tr(125'000, 250'000, 2000, 4000);
  LimitCell c{};
  vswitch::limit::init_cell(c, r, kT0);
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_GREEN);
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_GREEN);
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_YELLOW);
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_YELLOW);
  EXPECT_EQ(check(c, r, kT0, 1000), RTE_COLOR_RED);
}

TEST(LimitMeter, PacketMeterBesideTheByteMeterWorstColourWins) {
  LimitRowDp r = sr(1'000'000'000, 1'000'000);  // bytes: plenty
  r.packets = 1;
  rte_meter_srtcm_params p{100, 3, 0};  // 100 packets/s, burst 3
  ASSERT_EQ(rte_meter_srtcm_profile_config(&r.pp, &p), 0);
  LimitCell c{};
  vswitch::limit::init_cell(c, r, kT0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(check(c, r, kT0, 64), RTE_COLOR_GREEN);
  EXPECT_EQ(check(c, r, kT0, 64), RTE_COLOR_RED);
  EXPECT_EQ(check(c, r, kT0 + rte_get_tsc_hz() / 100 + 1, 64), RTE_COLOR_GREEN);
}

TEST(LimitMeter, ShaperQueueHoldsAtMostItsBound) {
  rte_mempool* pool = rte_pktmbuf_pool_create("limq_test", 8191, 0, 0, 256, SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr);
  auto st = std::make_unique<vswitch::LimitWorkerState>();
  auto w = std::make_unique<vnf::WorkerContext>();
  w->now_tsc = kT0;
  std::vector<rte_mbuf*> ring(vswitch::kShapeQueueMax);
  st->shape[3].ring = ring.data();
  std::vector<LimitCell> cells(vswitch::kRowChunk);
  st->chunk[0] = cells.data();
  vswitch::LimitsDp l;
  l.present[3] = 0;  // drain() then frees what is held
  l.shaped[3] = 1;
  vswitch::LimitPointDp pt;
  pt.dir[1].row = 0;
  l.points.push_back(pt);
  l.port_point[3] = 0;
  for (uint32_t bound : {1u, 100u, static_cast<uint32_t>(vswitch::kShapeQueueMax)}) {
    l.rows.clear();
    LimitRowDp r = sr(125'000, 16384);
    r.slot = 0;
    r.shape = 1;
    r.queue_limit = static_cast<uint16_t>(bound);
    r.stamp = bound;
    l.rows.push_back(r);
    vswitch::LimitStage stage(*st, *w);
    // Twice round the ring, so the indices wrap.
    for (int round = 0; round < 2; ++round) {
      uint32_t taken = 0;
      for (uint32_t k = 0; k < bound + 10; ++k) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        ASSERT_NE(m, nullptr);
        if (stage.enqueue(l, 3, m))
          ++taken;
        else
          rte_pktmbuf_free(m);
      }
      EXPECT_EQ(taken, bound);
      EXPECT_EQ(st->shape[3].count.load(), bound);
      EXPECT_EQ(cells[0].pkts[2].get(), 10u * (round + 1));  // refused, counted as red
      EXPECT_EQ(stage.drain(l), 0u);                         // a port that is gone: freed
      EXPECT_EQ(st->shape[3].count.load(), 0u);
    }
    EXPECT_EQ(rte_mempool_in_use_count(pool), 0u);
  }
  rte_mempool_free(pool);
}
