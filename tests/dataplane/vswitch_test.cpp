// The vswitch stages on real DPDK ports (net_ring): frames in, frames out, byte by byte.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "tests/common/frames.h"
#include "tests/dataplane/harness.h"
#include "vswitch/mac_table.h"

using namespace testing_frames;
using dptest::SwitchHarness;
using vnf::DropReason;

namespace {

// vm1, vm2: core (100); vm3: info (200); trunk: core + info, info native;
// trunk2: core + dmz (300), no native; sp: an 802.1ad QinQ trunk carrying dmz.
const char* kHost = R"(engine: {name: dp}
segments:
  - {name: core, vlan: 100}
  - {name: info, vlan: 200}
  - {name: dmz, vlan: 300}
ports:
  - {name: vm1, type: ring, mode: access, segment: core}
  - {name: vm2, type: ring, mode: access, segment: core}
  - {name: vm3, type: ring, mode: access, segment: info}
  - {name: trunk, type: ring, mode: trunk, segments: [core, info], native: info}
  - {name: trunk2, type: ring, mode: trunk, segments: [core, dmz]}
  - {name: sp, type: ring, mode: trunk, segments: [dmz], tpid: 0x88a8, qinq: true}
)";

const Mac A = mac("02:00:00:00:00:0a");
const Mac B = mac("02:00:00:00:00:0b");
const Mac C = mac("02:00:00:00:00:0c");
const Mac D = mac("02:00:00:00:00:0d");

Bytes frame(const Mac& dst, const Mac& src, std::initializer_list<Tag> tags = {}) {
  return udp4_frame(dst, src, tags);
}

// The frame with an outer tag inserted after the MACs.
Bytes tagged(const Bytes& f, uint16_t tpid, uint16_t tci) {
  Bytes t(f.begin(), f.begin() + 12);
  t.push_back(static_cast<uint8_t>(tpid >> 8));
  t.push_back(static_cast<uint8_t>(tpid));
  t.push_back(static_cast<uint8_t>(tci >> 8));
  t.push_back(static_cast<uint8_t>(tci));
  t.insert(t.end(), f.begin() + 12, f.end());
  return t;
}

using Out = std::map<std::string, std::vector<Bytes>>;

std::string dump(const Out& out) {
  std::string s;
  for (const auto& [port, frames] : out) s += port + ":" + std::to_string(frames.size()) + " ";
  return s.empty() ? "(nothing)" : s;
}

}  // namespace

TEST(Vswitch, LearnsSourcesAndForwardsKnownUnicastToOnePort) {
  SwitchHarness h(kHost);
  const Bytes ab = frame(B, A);
  Out out = h.exchange("vm1", ab);  // B unknown: flooded within core
  ASSERT_EQ(out.size(), 3u) << dump(out);
  EXPECT_EQ(out["vm2"], std::vector<Bytes>{ab});
  EXPECT_EQ(out["trunk"], std::vector<Bytes>{tagged(ab, 0x8100, 100)});
  EXPECT_EQ(out["trunk2"], std::vector<Bytes>{tagged(ab, 0x8100, 100)});
  std::string port;
  ASSERT_TRUE(h.mac_on(100, "02:00:00:00:00:0a", &port));
  EXPECT_EQ(port, "vm1");
  EXPECT_FALSE(h.mac_on(200, "02:00:00:00:00:0a")) << "learned in the wrong segment";

  const Bytes ba = frame(A, B);
  out = h.exchange("vm2", ba);  // A known: to vm1 only
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out["vm1"], std::vector<Bytes>{ba});
  ASSERT_TRUE(h.mac_on(100, "02:00:00:00:00:0b", &port));
  EXPECT_EQ(port, "vm2");
  EXPECT_EQ(h.sw().macs().stats().learned.get(), 2u);
}

TEST(Vswitch, FloodingStaysInsideTheSegment) {
  SwitchHarness h(kHost);
  // Broadcast from an info VM: only the trunk carries info (untagged: it is the native one).
  const Bytes bc = frame(kBroadcast, C);
  Out out = h.exchange("vm3", bc);
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out["trunk"], std::vector<Bytes>{bc});

  // Broadcast tagged 100 from the trunk: core ports only, untagged on access.
  const Bytes bc_core = frame(kBroadcast, D);
  out = h.exchange("trunk", tagged(bc_core, 0x8100, 100));
  ASSERT_EQ(out.size(), 3u) << dump(out);
  EXPECT_EQ(out["vm1"], std::vector<Bytes>{bc_core});
  EXPECT_EQ(out["vm2"], std::vector<Bytes>{bc_core});
  EXPECT_EQ(out["trunk2"], std::vector<Bytes>{tagged(bc_core, 0x8100, 100)});
  EXPECT_EQ(out.count("vm3"), 0u);

  // Unknown unicast and multicast flood the same way.
  const Bytes mc = frame(mac("01:00:5e:00:00:fb"), A);
  out = h.exchange("vm1", mc);
  EXPECT_EQ(out.size(), 3u) << dump(out);
  EXPECT_EQ(out.count("vm3"), 0u);
  EXPECT_EQ(h.sw().vlan_total(100, 2), 2u);  // two floods in core
  EXPECT_EQ(h.sw().vlan_total(200, 2), 1u);
}

TEST(Vswitch, TagsArePushedAndPoppedByEgressPortMode) {
  SwitchHarness h(kHost);
  h.exchange("trunk", tagged(frame(kBroadcast, B), 0x8100, 100));   // B behind trunk, core
  h.exchange("trunk2", tagged(frame(kBroadcast, D), 0x8100, 100));  // D behind trunk2, core
  h.exchange("vm1", frame(kBroadcast, A));                          // A on vm1
  h.exchange("vm3", frame(kBroadcast, C));                          // C on vm3 (info)
  h.recv_all();

  // access -> trunk: push tag 100.
  const Bytes ab = frame(B, A);
  Out out = h.exchange("vm1", ab);
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out["trunk"], std::vector<Bytes>{tagged(ab, 0x8100, 100)});

  // trunk -> access: pop the tag (PCP 3 in the tag is dropped with it).
  const Bytes ba = frame(A, B);
  out = h.exchange("trunk", tagged(ba, 0x8100, 0x6000 | 100));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out["vm1"], std::vector<Bytes>{ba});

  // trunk -> trunk: the tag is rewritten in place, PCP kept.
  const Bytes bd = frame(D, B);
  out = h.exchange("trunk", tagged(bd, 0x8100, 0x6000 | 100));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out["trunk2"], std::vector<Bytes>{tagged(bd, 0x8100, 0x6000 | 100)});

  // Native segment: untagged from the trunk reaches info, and back untagged.
  h.exchange("trunk", frame(kBroadcast, mac("02:00:00:00:00:1e")));
  h.recv_all();
  const Bytes ec = frame(C, mac("02:00:00:00:00:1e"));
  out = h.exchange("trunk", ec);
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out["vm3"], std::vector<Bytes>{ec});
  const Bytes ce = frame(mac("02:00:00:00:00:1e"), C);
  out = h.exchange("vm3", ce);
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out["trunk"], std::vector<Bytes>{ce});

  // A priority-tagged frame (VID 0) on an access port belongs to the port's segment; on a
  // trunk it leaves with the segment's VID and its PCP.
  const Bytes prio_ab = tagged(ab, 0x8100, 0xA000);
  out = h.exchange("vm1", prio_ab);
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out["trunk"], std::vector<Bytes>{tagged(ab, 0x8100, 0xA000 | 100)});
}

TEST(Vswitch, QinQTrunkCarriesCustomerTagsAsPayload) {
  SwitchHarness h(kHost);
  // An 802.1ad frame on the QinQ trunk: S-tag 300 (dmz), customer tag 5 inside.
  const Bytes inner = tagged(frame(kBroadcast, A), 0x8100, 5);
  Out out = h.exchange("sp", tagged(inner, 0x88A8, 300));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  // trunk2 speaks 802.1Q: the S-tag is rewritten to 0x8100/300, the customer tag follows.
  EXPECT_EQ(out["trunk2"], std::vector<Bytes>{tagged(inner, 0x8100, 300)});
}

TEST(Vswitch, FramesNotAllowedOnThePortAreDroppedWithAReason) {
  SwitchHarness h(kHost);
  struct Case {
    const char* port;
    Bytes frame;
    DropReason reason;
  } cases[] = {
      {"trunk", tagged(frame(kBroadcast, A), 0x8100, 300), DropReason::kVlanNotAllowed},
      {"trunk", tagged(frame(kBroadcast, A), 0x8100, 999), DropReason::kVlanNotAllowed},
      {"vm1", tagged(frame(kBroadcast, A), 0x8100, 200), DropReason::kTaggedOnAccess},
      {"trunk2", frame(kBroadcast, A), DropReason::kUntaggedNotAllowed},
      {"trunk", tagged(frame(kBroadcast, A), 0x88A8, 100), DropReason::kUnexpectedTpid},
      {"trunk", tagged(tagged(frame(kBroadcast, A), 0x8100, 7), 0x8100, 100),
       DropReason::kStackedVlan},
      {"vm1", tagged(tagged(frame(kBroadcast, A), 0x8100, 7), 0x8100, 0), DropReason::kStackedVlan},
      {"vm1", frame(B, mac("01:00:00:00:00:01")), DropReason::kBadSrcMac},
      {"vm1", frame(B, mac("00:00:00:00:00:00")), DropReason::kBadSrcMac},
      {"vm1", frame(mac("01:80:c2:00:00:00"), A), DropReason::kLinkLocal},
      {"vm1",
       [] {
         Bytes f = frame(B, A);
         f.resize(14 + 12);
         return f;
       }(),
       DropReason::kIpv4Truncated},
      {"vm1", Bytes(10, 0x02), DropReason::kEthTruncated},
  };
  for (const auto& c : cases) {
    const uint64_t before = h.drops(c.reason);
    const Out out = h.exchange(c.port, c.frame);
    EXPECT_TRUE(out.empty()) << vnf::drop_reason_name(c.reason) << " leaked: " << dump(out);
    EXPECT_EQ(h.drops(c.reason), before + 1) << vnf::drop_reason_name(c.reason);
  }
  EXPECT_EQ(h.sw().macs().size(), 0u) << "dropped frames must not teach the table";
}

TEST(Vswitch, IdleEntriesAgeOutAndFloodingResumes) {
  SwitchHarness h(kHost);  // aging: 300 s (default)
  h.exchange("vm1", frame(kBroadcast, A));
  ASSERT_TRUE(h.mac_on(100, "02:00:00:00:00:0a"));
  const uint32_t now = vswitch::coarse_seconds();
  EXPECT_EQ(h.sw().age(now + 200, 1u << 20), 0u);
  EXPECT_TRUE(h.mac_on(100, "02:00:00:00:00:0a")) << "aged before its time";
  EXPECT_EQ(h.sw().age(now + 302, 1u << 20), 1u);
  EXPECT_FALSE(h.mac_on(100, "02:00:00:00:00:0a"));
  EXPECT_EQ(h.sw().macs().stats().aged.get(), 1u);
  const Out out = h.exchange("vm2", frame(A, B));  // A unknown again: flooded
  EXPECT_EQ(out.size(), 3u) << dump(out);
}

TEST(Vswitch, StaticEntriesNeverAgeNorMove) {
  SwitchHarness h(std::string(kHost) +
                  "mac:\n  static:\n    - {segment: core, mac: '02:00:00:00:00:0a', port: vm1}\n");
  ASSERT_TRUE(h.mac_on(100, "02:00:00:00:00:0a"));
  EXPECT_EQ(h.sw().age(vswitch::coarse_seconds() + 100000, 1u << 20), 0u);
  EXPECT_TRUE(h.mac_on(100, "02:00:00:00:00:0a"));
  // The static MAC claimed from another port: dropped, the entry stays.
  const Out out = h.exchange("vm2", frame(kBroadcast, A));
  EXPECT_TRUE(out.empty()) << dump(out);
  EXPECT_EQ(h.drops(DropReason::kStaticMacViolation), 1u);
  std::string port;
  ASSERT_TRUE(h.mac_on(100, "02:00:00:00:00:0a", &port));
  EXPECT_EQ(port, "vm1");
  // Unicast to it goes to vm1 without flooding.
  const Out uni = h.exchange("vm2", frame(A, B));
  ASSERT_EQ(uni.size(), 1u) << dump(uni);
  EXPECT_EQ(uni.count("vm1"), 1u);
}

TEST(Vswitch, PortMacLimitRefusesNewSourcesOnly) {
  std::string yaml = kHost;
  yaml.replace(yaml.find("segment: core}"), 14, "segment: core, mac_limit: 2}");
  SwitchHarness h(yaml);
  h.exchange("vm1", frame(kBroadcast, A));
  h.exchange("vm1", frame(kBroadcast, B));
  ASSERT_TRUE(h.sw().macs().at_limit(h.id("vm1")));
  const Out refused = h.exchange("vm1", frame(kBroadcast, C));
  EXPECT_TRUE(refused.empty()) << dump(refused);
  EXPECT_EQ(h.drops(DropReason::kMacLimit), 1u);
  EXPECT_FALSE(h.mac_on(100, "02:00:00:00:00:0c"));
  // Known sources keep working.
  const Out ok = h.exchange("vm1", frame(kBroadcast, A));
  EXPECT_EQ(ok.size(), 3u) << dump(ok);
  // Other ports are not limited by vm1's limit.
  EXPECT_EQ(h.exchange("vm2", frame(kBroadcast, C)).size(), 3u);
}

// Issue #9: a MAC flood on a trunk (no port limit) in one segment used to fill the shared
// table, and new hosts in every other segment were flooded instead of learned. Each segment
// now has an equal share of the table by default.
TEST(Vswitch, MacFloodInOneSegmentLeavesTheOthersTheirShare) {
  std::string yaml = kHost;
  yaml += "mac: {table_size: 1024}\n";  // 3 segments: 341 learned MACs each
  SwitchHarness h(yaml);
  for (const auto& seg : h.sw().config().segments) {
    EXPECT_EQ(seg.mac_limit, 1024u / 3) << seg.name;
    EXPECT_TRUE(seg.mac_limit_default);
  }
  // 2000 new sources tagged core from the trunk: forwarded, but learned only up to the limit.
  for (unsigned n = 0; n < 2000; ++n) {
    Mac src = mac("02:10:00:00:00:00");
    src[4] = static_cast<uint8_t>(n >> 8);
    src[5] = static_cast<uint8_t>(n);
    const Out out = h.exchange("trunk", tagged(frame(kBroadcast, src), 0x8100, 100));
    ASSERT_EQ(out.size(), 3u) << "frames of a segment at its limit are still forwarded";
  }
  EXPECT_EQ(h.sw().macs().learned_in(100), 1024u / 3);
  EXPECT_TRUE(h.sw().macs().vlan_at_limit(100));
  EXPECT_EQ(h.sw().segment_limit_refused(100) + h.sw().macs().stats().segment_limit_refused.get(),
            2000u - 1024u / 3);
  // A new host in another segment is learned at once, and traffic to it is no longer flooded.
  h.exchange("vm3", frame(kBroadcast, C));
  ASSERT_TRUE(h.mac_on(200, "02:00:00:00:00:0c")) << "info could not learn while core was flooded";
  const Out to_c = h.exchange("trunk", frame(C, D));  // untagged on the trunk: info (native)
  ASSERT_EQ(to_c.size(), 1u) << dump(to_c);
  EXPECT_EQ(to_c.count("vm3"), 1u);
}

TEST(Vswitch, SegmentMacLimitFromTheFile) {
  std::string yaml = kHost;
  yaml.replace(yaml.find("{name: core, vlan: 100}"), 23, "{name: core, vlan: 100, mac_limit: 2}");
  SwitchHarness h(yaml);
  h.exchange("vm1", frame(kBroadcast, A));
  h.exchange("vm2", frame(kBroadcast, B));
  const Out out = h.exchange("vm1", frame(kBroadcast, C));  // a third MAC in core
  EXPECT_EQ(out.size(), 3u) << dump(out);
  EXPECT_FALSE(h.mac_on(100, "02:00:00:00:00:0c"));
  EXPECT_EQ(h.drops(DropReason::kMacLimit), 0u) << "a segment limit refuses learning, not frames";
  // Aging (or a flush) makes room again.
  h.sw().macs().remove_if([](const vswitch::MacKey&, uint16_t, bool) { return true; });
  EXPECT_FALSE(h.sw().macs().vlan_at_limit(100));
  h.exchange("vm1", frame(kBroadcast, C));
  EXPECT_TRUE(h.mac_on(100, "02:00:00:00:00:0c"));
}

TEST(Vswitch, MacMoveRelearnsOnTheNewPortAndIsCounted) {
  SwitchHarness h(kHost);
  h.exchange("vm1", frame(kBroadcast, A));
  h.exchange("trunk", tagged(frame(kBroadcast, D), 0x8100, 100));
  // A migrates: it now speaks from the trunk (another host).
  h.exchange("trunk", tagged(frame(kBroadcast, A), 0x8100, 100));
  std::string port;
  ASSERT_TRUE(h.mac_on(100, "02:00:00:00:00:0a", &port));
  EXPECT_EQ(port, "trunk");
  EXPECT_EQ(h.sw().macs().stats().moved.get(), 1u);
  const Bytes da = frame(A, D);
  const Out out = h.exchange("trunk2", tagged(da, 0x8100, 100));
  ASSERT_EQ(out.size(), 1u) << dump(out);
  EXPECT_EQ(out.at("trunk"), std::vector<Bytes>{tagged(da, 0x8100, 100)});
}

TEST(Vswitch, FrameToAMacBehindItsOwnPortIsFiltered) {
  SwitchHarness h(kHost);
  h.exchange("trunk", tagged(frame(kBroadcast, A), 0x8100, 100));
  const Out out = h.exchange("trunk", tagged(frame(A, B), 0x8100, 100));
  EXPECT_TRUE(out.empty()) << dump(out);
  EXPECT_EQ(h.drops(DropReason::kSamePort), 1u);
}

// A reload moves vm2 from core to info while two broadcast streams flow (vm1 in core, vm3
// in info). Nothing may be lost on the unaffected streams, vm2 must see core traffic only
// before the reload completes and info traffic only after it starts, and what vm2 learned
// in core must be flushed.
TEST(Vswitch, ReloadMovesAPortBetweenSegmentsWhileTrafficFlows) {
  const std::string base =
      std::string(kHost) + "  - {name: vm4, type: ring, mode: access, segment: info}\n";
  SwitchHarness h(base);
  h.exchange("vm2", frame(kBroadcast, B));  // vm2's MAC learned in core
  ASSERT_TRUE(h.mac_on(100, "02:00:00:00:00:0b"));
  h.recv_all();

  auto seq_frame = [](const Mac& src, uint32_t seq) {
    Bytes payload(18, 0);
    std::memcpy(payload.data(), &seq, 4);
    return cat({eth(kBroadcast, src, {}, 0x0800),
                ipv4(ip4("10.0.0.1"), ip4("10.0.0.255"), 17, udp(9, 9, payload))});
  };
  auto seq_of = [](const Bytes& f) {
    uint32_t s;
    std::memcpy(&s, f.data() + f.size() - 18, 4);
    return s;
  };
  constexpr uint32_t kFrames = 20000;
  constexpr uint32_t kInFlight = 256;  // frames the generator may be ahead of the switch
  std::atomic<uint32_t> sent{0};
  std::atomic<uint32_t> delivered{0};  // core frames seen on the trunk
  std::atomic<bool> done{false};
  h.start_worker();
  std::thread gen([&] {
    for (uint32_t i = 0; i < kFrames; ++i) {
      // At most kInFlight frames in flight: the output rings (4096) never overflow while the
      // test thread is busy applying the reload.
      while (i - delivered.load() > kInFlight) std::this_thread::yield();
      for (;;) {
        try {
          h.send("vm1", seq_frame(A, i));
          break;
        } catch (const std::runtime_error&) {
          std::this_thread::yield();  // rx ring full: the worker catches up
        }
      }
      for (;;) {
        try {
          h.send("vm3", seq_frame(C, i));
          break;
        } catch (const std::runtime_error&) {
          std::this_thread::yield();
        }
      }
      sent = i + 1;
    }
    done = true;
  });

  std::map<std::string, std::vector<std::pair<Mac, uint32_t>>> seen;
  auto drain = [&] {  // returns how many frames it took
    size_t n = 0;
    for (auto& [port, frames] : h.recv_all())
      for (const auto& f : frames) {
        Mac src;
        std::copy(f.begin() + 6, f.begin() + 12, src.begin());
        seen[port].emplace_back(src, seq_of(f));
        if (port == "trunk" && src == A) ++delivered;
        ++n;
      }
    return n;
  };
  while (sent < kFrames / 3) drain();
  const uint32_t reload_start = sent;
  std::string moved = base;
  moved.replace(moved.find("{name: vm2, type: ring, mode: access, segment: core}"), 52,
                "{name: vm2, type: ring, mode: access, segment: info}");
  h.apply_yaml(moved);
  const uint32_t reload_end = sent;
  while (!done) drain();
  // Let the worker empty its rx rings: drain until nothing new has come for 200 ms (at most
  // 10 s), rather than one guessed pause.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto quiet_since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - quiet_since < std::chrono::milliseconds(200) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (drain()) quiet_since = std::chrono::steady_clock::now();
  }
  gen.join();
  h.stop_worker();
  drain();

  uint32_t core_to_vm2 = 0, info_to_vm2 = 0, a_to_trunk = 0, c_to_trunk = 0, c_to_vm4 = 0;
  for (const auto& [src, seq] : seen["vm2"]) {
    if (src == A) {
      ++core_to_vm2;
      EXPECT_LE(seq, reload_end) << "core frame reached vm2 after the reload";
      EXPECT_EQ(info_to_vm2, 0u) << "core frame reached vm2 after an info frame";
    } else if (src == C) {
      // A frame sent shortly before the reload began may still be queued when the new config
      // is published: at most kInFlight (+ one burst) of them.
      ++info_to_vm2;
      // Frames sent before the reload began may still wait in the rx ring (up to kInFlight
      // of them, plus a burst not yet drained) when the new tables are published: the switch
      // rightly handles them with the new config.
      EXPECT_GE(seq + kInFlight + vnf::kBurstMax, reload_start)
          << "info frame reached vm2 before the reload";
    }
  }
  for (const auto& [src, seq] : seen["trunk"]) (src == A ? a_to_trunk : c_to_trunk) += 1;
  for (const auto& [src, seq] : seen["vm4"]) c_to_vm4 += (src == C);
  EXPECT_GT(core_to_vm2, 0u);
  EXPECT_GT(info_to_vm2, 0u);
  EXPECT_EQ(a_to_trunk, kFrames) << "core stream lost frames across the reload";
  EXPECT_EQ(c_to_trunk, kFrames) << "info stream lost frames across the reload";
  EXPECT_EQ(c_to_vm4, kFrames);
  EXPECT_EQ(seen["vm3"].size(), 0u);
  EXPECT_EQ(h.drops(DropReason::kTxFull), 0u);
  EXPECT_FALSE(h.mac_on(100, "02:00:00:00:00:0b")) << "vm2's core MAC survived the move";
  EXPECT_EQ(h.sw().audit().generation(), 2u);
  EXPECT_NE(h.sw().audit().last().detail.find("port vm2: access core -> access info"),
            std::string::npos)
      << h.sw().audit().last().detail;
}
