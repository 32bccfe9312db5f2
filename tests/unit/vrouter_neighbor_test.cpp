// The neighbour state machine with explicit times: resolution, aging, probing on use,
// failure, monitored next hops (backup-route triggers), static entries.
#include "vrouter/neighbor_fsm.h"

#include <gtest/gtest.h>

using namespace vrouter;

namespace {

NeighTimers timers() {
  NeighTimers t;
  t.probe_interval_ms = 100;
  t.probe_misses = 3;
  t.reachable_ms = 1000;
  t.aging_ms = 5000;
  t.stale_check_ms = 500;
  t.failed_hold_ms = 300;
  return t;
}

// Runs tick() at `now` if due, returns the action.
NeighAction at(NeighFsm& f, uint64_t now, bool used = false) { return f.tick(now, used, timers()); }

}  // namespace

TEST(NeighborFsm, ResolvesWithBroadcastProbesThenFails) {
  const auto t = timers();
  NeighFsm f;
  EXPECT_EQ(f.start(0, t), NeighAction::kProbeBroadcast);
  EXPECT_EQ(f.state, NeighState::kIncomplete);
  EXPECT_FALSE(f.usable());
  EXPECT_TRUE(f.route_usable()) << "a next hop being resolved is not yet a failure";
  EXPECT_EQ(at(f, 50), NeighAction::kNone) << "not due";
  EXPECT_EQ(at(f, 100), NeighAction::kProbeBroadcast);
  EXPECT_EQ(at(f, 200), NeighAction::kProbeBroadcast);
  EXPECT_EQ(at(f, 300), NeighAction::kFail) << "three probes unanswered";
  EXPECT_TRUE(f.failed());
  EXPECT_FALSE(f.route_usable());
  EXPECT_EQ(at(f, 599), NeighAction::kNone);
  EXPECT_EQ(at(f, 600), NeighAction::kRemove) << "a failed ordinary entry goes after failed_hold";
}

TEST(NeighborFsm, ReachableStaleProbeCycle) {
  const auto t = timers();
  NeighFsm f;
  f.start(0, t);
  EXPECT_TRUE(f.confirm(true, false, 10, t)) << "usable now";
  EXPECT_EQ(f.state, NeighState::kReachable);
  EXPECT_TRUE(f.usable());
  EXPECT_EQ(at(f, 1010), NeighAction::kNone);
  EXPECT_EQ(f.state, NeighState::kStale) << "reachable_ms without confirmation";
  EXPECT_TRUE(f.usable()) << "STALE still forwards";
  EXPECT_EQ(at(f, 1510), NeighAction::kNone) << "unused: nothing to do";
  EXPECT_EQ(at(f, 2010, true), NeighAction::kProbeUnicast) << "used while stale: probe it";
  EXPECT_EQ(f.state, NeighState::kProbe);
  EXPECT_TRUE(f.usable());
  f.confirm(true, false, 2050, t);
  EXPECT_EQ(f.state, NeighState::kReachable);
}

TEST(NeighborFsm, UnansweredUnicastProbesFail) {
  const auto t = timers();
  NeighFsm f;
  f.start(0, t);
  f.confirm(true, false, 0, t);
  at(f, 1000);  // -> STALE
  EXPECT_EQ(at(f, 1500, true), NeighAction::kProbeUnicast);
  EXPECT_EQ(at(f, 1600), NeighAction::kProbeUnicast);
  EXPECT_EQ(at(f, 1700), NeighAction::kProbeUnicast);
  EXPECT_EQ(at(f, 1800), NeighAction::kFail);
  EXPECT_FALSE(f.usable());
}

TEST(NeighborFsm, UnusedStaleEntriesAgeOut) {
  const auto t = timers();
  NeighFsm f;
  f.start(0, t);
  f.confirm(true, false, 0, t);
  NeighAction a = NeighAction::kNone;
  uint64_t now = 0;
  while (a != NeighAction::kRemove && now < 20000) {
    now = f.next_ms;
    a = at(f, now);
  }
  EXPECT_EQ(a, NeighAction::kRemove);
  EXPECT_GE(now, 5000u);
  EXPECT_LE(now, 5500u);
}

TEST(NeighborFsm, UnsolicitedInformationDoesNotConfirm) {
  const auto t = timers();
  NeighFsm f;
  f.start(0, t);
  // An ARP request from it (or an NS with its link-layer address): we know its MAC now, but
  // not that it hears us: STALE, forwardable, probed on use.
  EXPECT_TRUE(f.confirm(false, false, 10, t));
  EXPECT_EQ(f.state, NeighState::kStale);
  EXPECT_TRUE(f.usable());
  f.confirm(true, false, 20, t);
  EXPECT_EQ(f.state, NeighState::kReachable);
  // The same MAC unsolicited: no change. A new MAC unsolicited: STALE with it.
  EXPECT_FALSE(f.confirm(false, false, 30, t));
  EXPECT_EQ(f.state, NeighState::kReachable);
  f.confirm(false, true, 40, t);
  EXPECT_EQ(f.state, NeighState::kStale);
}

TEST(NeighborFsm, MonitoredNextHopFailsAndRecovers) {
  const auto t = timers();
  NeighFsm f;
  f.state = NeighState::kIncomplete;
  f.next_ms = 0;
  f.set_monitored(true, 0);
  EXPECT_EQ(at(f, 0), NeighAction::kProbeBroadcast);
  f.confirm(true, false, 5, t);
  EXPECT_TRUE(f.usable());
  // Probed every interval even without traffic; answers keep it reachable.
  uint64_t now = 0;
  for (int k = 0; k < 9; ++k) {
    now = f.next_ms;
    EXPECT_EQ(at(f, now), NeighAction::kProbeUnicast) << now;
    f.confirm(true, false, now + 1, t);
  }
  // The link goes: three probes unanswered, then FAILED (routes give way to backups).
  now = f.next_ms;
  EXPECT_EQ(at(f, now), NeighAction::kProbeUnicast);
  EXPECT_TRUE(f.route_usable());
  EXPECT_EQ(at(f, now + 100), NeighAction::kProbeBroadcast);
  EXPECT_EQ(at(f, now + 200), NeighAction::kProbeBroadcast);
  EXPECT_TRUE(f.usable()) << "still forwarding while misses < probe_misses";
  EXPECT_EQ(at(f, now + 300), NeighAction::kFail);
  EXPECT_FALSE(f.route_usable());
  // A failed next hop is never removed and keeps being probed (broadcast).
  for (uint64_t later = now + 400; later < now + 2000; later += 100)
    EXPECT_EQ(at(f, later), NeighAction::kProbeBroadcast);
  // It answers: usable for routes again (the primary takes over again).
  EXPECT_TRUE(f.confirm(true, false, now + 2001, t));
  EXPECT_TRUE(f.route_usable());
  EXPECT_EQ(f.state, NeighState::kReachable);
}

TEST(NeighborFsm, PermanentEntriesNeverChange) {
  const auto t = timers();
  NeighFsm f;
  f.make_permanent();
  EXPECT_TRUE(f.usable());
  EXPECT_FALSE(f.confirm(true, true, 5, t));
  EXPECT_EQ(at(f, 1000000, true), NeighAction::kNone);
  EXPECT_EQ(f.state, NeighState::kPermanent);
}

// A monitored next hop whose link goes down fails at once, without waiting for probe_misses
// probes; when the link comes back it is probed at once and usable at its first answer.
TEST(NeighborFsm, LinkDownFailsAMonitoredNextHopAtOnce) {
  const auto t = timers();
  NeighFsm f;
  f.state = NeighState::kIncomplete;
  f.next_ms = 0;
  f.set_monitored(true, 0);
  EXPECT_EQ(at(f, 0), NeighAction::kProbeBroadcast);
  f.confirm(true, false, 5, t);
  ASSERT_TRUE(f.usable());
  f.link_down(50, t);
  EXPECT_FALSE(f.route_usable());
  EXPECT_FALSE(f.usable());
  EXPECT_TRUE(f.failed());
  // Still probed every interval meanwhile (the caller does not send them to a down link).
  EXPECT_EQ(at(f, 150), NeighAction::kProbeBroadcast);
  EXPECT_FALSE(f.route_usable());
  // The link comes back: probe now, the next one an interval later; the answer counts.
  EXPECT_TRUE(f.link_up(170, t));
  EXPECT_EQ(f.next_ms, 270u);
  EXPECT_TRUE(f.confirm(f.unanswered > 0, false, 171, t));
  EXPECT_TRUE(f.route_usable());
  EXPECT_EQ(f.state, NeighState::kReachable);
  EXPECT_FALSE(f.link_up(180, t)) << "a usable entry needs no extra probe";
  // Permanent entries and unmonitored ones are not touched by link_up.
  NeighFsm p;
  p.make_permanent();
  p.link_down(10, t);
  EXPECT_EQ(p.state, NeighState::kPermanent);
  EXPECT_FALSE(p.link_up(20, t));
}
