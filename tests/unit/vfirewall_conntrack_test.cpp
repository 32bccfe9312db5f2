// vfirewall connection tracking logic without DPDK: the TCP state machine's transition
// table, the sequence window check (Rooij / Linux conntrack), and timeouts.
#include <gtest/gtest.h>

#include <random>

#include "tests/unit/key_compare_expect.h"
#include "vfirewall/dp/conntrack.h"
#include "vfirewall/dp/tcp_state.h"
#include "vfirewall/dp/timeouts.h"

using namespace vfirewall;

namespace {
constexpr uint8_t FIN = kTcpFin, SYN = kTcpSyn, RST = kTcpRst, ACK = kTcpAck, PSH = kTcpPsh;
using S = TcpState;
using E = TcpEvent;

struct Step {
  int dir;
  E ev;
  TcpVerdict v;
  S next;
};

void expect(S s, const Step& st) {
  const auto t = tcp_transition(s, st.ev, st.dir);
  EXPECT_EQ(t.verdict, st.v) << kTcpStateNames[static_cast<int>(s)] << " dir " << st.dir
                             << " event " << static_cast<int>(st.ev);
  if (t.verdict != TcpVerdict::kInvalid) {
    EXPECT_EQ(t.next, st.next) << kTcpStateNames[static_cast<int>(s)] << " -> "
                               << kTcpStateNames[static_cast<int>(t.next)];
  }
}
}  // namespace

TEST(VfirewallTcp, EventsFromFlags) {
  EXPECT_EQ(tcp_event(SYN), E::kSyn);
  EXPECT_EQ(tcp_event(SYN | ACK), E::kSynAck);
  EXPECT_EQ(tcp_event(FIN | ACK), E::kFin);
  EXPECT_EQ(tcp_event(ACK | PSH), E::kAck);
  EXPECT_EQ(tcp_event(RST | ACK), E::kRst);
  EXPECT_EQ(tcp_event(SYN | FIN), E::kNone);
  EXPECT_EQ(tcp_event(0), E::kNone);
  EXPECT_EQ(tcp_event(PSH), E::kNone);
}

TEST(VfirewallTcp, TransitionTable) {
  using V = TcpVerdict;
  // Opening and the three-way handshake.
  expect(S::kNone, {0, E::kSyn, V::kMove, S::kSynSent});
  expect(S::kNone, {0, E::kAck, V::kInvalid, S::kNone});
  expect(S::kNone, {1, E::kSynAck, V::kInvalid, S::kNone});
  expect(S::kSynSent, {0, E::kSyn, V::kMove, S::kSynSent});  // retransmission
  expect(S::kSynSent, {1, E::kSynAck, V::kMove, S::kSynRecv});
  expect(S::kSynSent, {1, E::kSyn, V::kInvalid, S::kNone});  // no simultaneous open
  expect(S::kSynSent, {0, E::kAck, V::kInvalid, S::kNone});
  expect(S::kSynSent, {0, E::kSynAck, V::kInvalid, S::kNone});
  expect(S::kSynRecv, {1, E::kSynAck, V::kIgnore, S::kSynRecv});
  expect(S::kSynRecv, {0, E::kAck, V::kMove, S::kEstablished});
  // Established.
  expect(S::kEstablished, {0, E::kAck, V::kMove, S::kEstablished});
  expect(S::kEstablished, {1, E::kAck, V::kMove, S::kEstablished});
  expect(S::kEstablished, {0, E::kSyn, V::kIgnore, S::kEstablished});
  expect(S::kEstablished, {1, E::kSyn, V::kInvalid, S::kNone});
  expect(S::kEstablished, {0, E::kSynAck, V::kInvalid, S::kNone});
  // Teardown: FIN, ACK of it, the other FIN, its ACK.
  expect(S::kEstablished, {0, E::kFin, V::kMove, S::kFinWait});
  expect(S::kFinWait, {1, E::kAck, V::kMove, S::kCloseWait});
  expect(S::kFinWait, {1, E::kFin, V::kMove, S::kLastAck});
  expect(S::kCloseWait, {1, E::kFin, V::kMove, S::kLastAck});
  expect(S::kLastAck, {0, E::kAck, V::kMove, S::kTimeWait});
  expect(S::kTimeWait, {0, E::kAck, V::kMove, S::kTimeWait});
  // Reset from anywhere once open; a SYN reopens time_wait / close.
  for (S s : {S::kSynSent, S::kSynRecv, S::kEstablished, S::kFinWait, S::kCloseWait, S::kLastAck,
              S::kTimeWait})
    for (int dir : {0, 1}) expect(s, {dir, E::kRst, V::kMove, S::kClose});
  expect(S::kNone, {0, E::kRst, V::kInvalid, S::kNone});
  expect(S::kTimeWait, {0, E::kSyn, V::kMove, S::kSynSent});
  expect(S::kClose, {0, E::kSyn, V::kMove, S::kSynSent});
  expect(S::kClose, {1, E::kSyn, V::kInvalid, S::kNone});
  // Segments without SYN/ACK/FIN/RST are never valid.
  for (int s = 0; s < static_cast<int>(S::kCount); ++s)
    for (int dir : {0, 1}) expect(S(s), {dir, E::kNone, V::kInvalid, S::kNone});
}

TEST(VfirewallTcp, WindowTracksAHandshakeAndData) {
  TcpWindow w[2];
  // SYN (isn 1000, window 64240, wscale 7), SYN-ACK (isn 5000, 65160, wscale 7), ACK.
  ASSERT_TRUE(tcp_window_update(w[0], w[1], {1000, 0, 64240, 0, SYN, 7}, true));
  EXPECT_EQ(w[0].end, 1001u);
  ASSERT_TRUE(tcp_window_update(w[1], w[0], {5000, 1001, 65160, 0, SYN | ACK, 7}, true));
  EXPECT_EQ(w[1].end, 5001u);
  EXPECT_EQ(w[0].scale, 7);
  EXPECT_EQ(w[0].maxend, 1001u + 65160u);
  ASSERT_TRUE(tcp_window_update(w[0], w[1], {1001, 5001, 502, 0, ACK, -1}, true));
  EXPECT_EQ(w[1].maxend, 5001u + (502u << 7));  // scaled window
  // Data inside the window passes and moves the edge.
  ASSERT_TRUE(tcp_window_update(w[0], w[1], {1001, 5001, 502, 1400, ACK | PSH, -1}, true));
  EXPECT_EQ(w[0].end, 2401u);
  // Beyond what the receiver allowed: refused, nothing learnt.
  EXPECT_FALSE(tcp_window_update(w[0], w[1], {1001 + 200000, 5001, 502, 10, ACK, -1}, true));
  EXPECT_EQ(w[0].end, 2401u);
  // Acknowledging data the other side never sent: refused.
  EXPECT_FALSE(tcp_window_update(w[1], w[0], {5001, 2401 + 70000, 509, 0, ACK, -1}, true));
  // A retransmission of old data passes.
  EXPECT_TRUE(tcp_window_update(w[0], w[1], {1001, 5001, 502, 1400, ACK | PSH, -1}, true));
  // Far in the past (older than the receiver's window): refused.
  EXPECT_FALSE(tcp_window_update(w[0], w[1], {1001u - 500000u, 5001, 502, 10, ACK, -1}, true));
  // With checking off the same segment is accepted.
  EXPECT_TRUE(tcp_window_update(w[0], w[1], {1001u - 500000u, 5001, 502, 10, ACK, -1}, false));
}

TEST(VfirewallTcp, WindowScaleNeedsBothSides) {
  TcpWindow w[2];
  ASSERT_TRUE(tcp_window_update(w[0], w[1], {1, 0, 1000, 0, SYN, 7}, true));
  ASSERT_TRUE(tcp_window_update(w[1], w[0], {9, 2, 1000, 0, SYN | ACK, -1}, true));  // no option
  EXPECT_EQ(w[0].scale, 0);
  EXPECT_EQ(w[1].scale, 0);
  // Sequence numbers wrap around 2^32.
  TcpWindow x[2];
  ASSERT_TRUE(tcp_window_update(x[0], x[1], {0xFFFFFF00u, 0, 65535, 0, SYN, -1}, true));
  ASSERT_TRUE(tcp_window_update(x[1], x[0], {77, 0xFFFFFF01u, 65535, 0, SYN | ACK, -1}, true));
  ASSERT_TRUE(tcp_window_update(x[0], x[1], {0xFFFFFF01u, 78, 65535, 0x200, ACK, -1}, true));
  EXPECT_EQ(x[0].end, 0x101u);
  EXPECT_TRUE(seq_after(0x10, 0xFFFFFFF0u));
  EXPECT_TRUE(seq_before(0xFFFFFFF0u, 0x10));
}

TEST(VfirewallTcp, WindowScaleOptionIsParsedSafely) {
  const uint8_t syn[] = {0, 1, 0, 2,    0, 0, 0, 1,  0, 0, 0, 0, 0x80, SYN, 0xff, 0xff, 0, 0, 0, 0,
                         2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0,    0,   0,    0,    1, 3, 3, 7};
  EXPECT_EQ(tcp_wscale_option(syn, sizeof syn), 7);
  const uint8_t truncated[] = {
      0,    1,   0,    2,    0, 0, 0, 1, 0, 0, 0, 0,
      0x60, SYN, 0xff, 0xff, 0, 0, 0, 0, 1, 1, 3, 9};  // length 9 runs past the header
  EXPECT_EQ(tcp_wscale_option(truncated, sizeof truncated), -1);
  const uint8_t zero_len[] = {0,    1,   0,    2,    0, 0, 0, 1, 0, 0, 0, 0,
                              0x60, SYN, 0xff, 0xff, 0, 0, 0, 0, 8, 0, 3, 3};
  EXPECT_EQ(tcp_wscale_option(zero_len, sizeof zero_len), -1);
}

TEST(VfirewallTimeouts, PerProtocolAndState) {
  Timeouts t;
  EXPECT_EQ(timeout_for(t, kProtoTcp, S::kSynSent, false), 120u);
  EXPECT_EQ(timeout_for(t, kProtoTcp, S::kSynRecv, true), 120u);
  EXPECT_EQ(timeout_for(t, kProtoTcp, S::kEstablished, true), 432000u);
  EXPECT_EQ(timeout_for(t, kProtoTcp, S::kFinWait, true), 120u);
  EXPECT_EQ(timeout_for(t, kProtoTcp, S::kLastAck, true), 120u);
  EXPECT_EQ(timeout_for(t, kProtoTcp, S::kTimeWait, true), 120u);
  EXPECT_EQ(timeout_for(t, kProtoTcp, S::kClose, true), 10u);
  EXPECT_EQ(timeout_for(t, kProtoUdp, S::kNone, false), 30u);
  EXPECT_EQ(timeout_for(t, kProtoUdp, S::kNone, true), 120u);
  EXPECT_EQ(timeout_for(t, kProtoIcmp, S::kNone, false), 30u);
  EXPECT_EQ(timeout_for(t, kProtoIcmp6, S::kNone, true), 30u);
  EXPECT_EQ(timeout_for(t, 47, S::kNone, false), 30u);
  EXPECT_EQ(timeout_for(t, 47, S::kNone, true), 600u);
  t.tcp_established = 3600;
  t.udp_replied = 5;
  EXPECT_EQ(timeout_for(t, kProtoTcp, S::kEstablished, true), 3600u);
  EXPECT_EQ(timeout_for(t, kProtoUdp, S::kNone, true), 5u);
}

// The hash of a key's reverse, computed without building it, is the hash of reverse_key: for
// both families, TCP, UDP, ICMP queries (whose reverse holds the reply type), other ICMP and
// other protocols, in every zone pair.
TEST(VfirewallConntrack, ReverseHashIsTheHashOfTheReverseKey) {
  std::mt19937 rng(11);
  const uint8_t protos[] = {6, 17, 1, 58, 47, 132};
  const uint8_t types[] = {8, 13, 15, 17, 0, 3, 128, 139, 129, 255};
  for (int round = 0; round < 20000; ++round) {
    CtKey k{};
    k.family = round % 3 == 0 ? 6 : 4;
    for (int i = 0; i < (k.family == 4 ? 4 : 16); ++i) {
      k.src[i] = static_cast<uint8_t>(rng());
      k.dst[i] = static_cast<uint8_t>(rng());
    }
    k.proto = protos[rng() % 6];
    k.sport = static_cast<uint16_t>(rng());
    k.dport = (k.proto == 1 || k.proto == 58) ? types[rng() % 10] : static_cast<uint16_t>(rng());
    k.zsrc = static_cast<uint8_t>(rng());
    k.zdst = static_cast<uint8_t>(rng());
    const CtKey r = reverse_key(k);
    ASSERT_EQ(ct_hash_reverse(k), ct_hash(&r, sizeof r, 0))
        << "round " << round << " family " << int(k.family) << " proto " << int(k.proto);
  }
}

// make_key writes the key a field at a time would give (the rest zero) and returns its
// ct_hash: for both families, whatever bytes follow an IPv4 address in the packet.
TEST(VfirewallConntrack, MakeKeyIsTheKeyAndItsHash) {
  std::mt19937 rng(12);
  for (int round = 0; round < 20000; ++round) {
    const uint8_t family = round % 3 == 0 ? 6 : 4;
    uint8_t src[16], dst[16];
    for (int i = 0; i < 16; ++i) {
      src[i] = static_cast<uint8_t>(rng());
      dst[i] = static_cast<uint8_t>(rng());
    }
    CtKey want;
    std::memset(&want, 0, sizeof want);
    std::memcpy(want.src, src, family == 4 ? 4 : 16);
    std::memcpy(want.dst, dst, family == 4 ? 4 : 16);
    want.sport = static_cast<uint16_t>(rng());
    want.dport = static_cast<uint16_t>(rng());
    want.proto = static_cast<uint8_t>(rng());
    want.family = family;
    want.zsrc = static_cast<uint8_t>(rng());
    want.zdst = static_cast<uint8_t>(rng());
    CtKey k;
    std::memset(&k, 0xA5, sizeof k);  // what the stack held before
    const uint32_t h =
        make_key(k, family, src, dst,
                 key_tail(want.sport, want.dport, want.proto, family, want.zsrc, want.zdst));
    ASSERT_EQ(std::memcmp(&k, &want, sizeof k), 0) << "round " << round;
    ASSERT_EQ(h, ct_hash(&want, sizeof want, 0)) << "round " << round;
  }
}

// ct_hash is CRC-32C as DPDK computes it (rte_hash_crc's steps, whichever the CPU runs): an
// IPv6 key over its 40 bytes, an IPv4 key over its addresses' 4 bytes and its last 8. The
// table's stored signatures and the packets' keys must agree on every machine.
TEST(VfirewallConntrack, CtHashIsDpdksCrc) {
  std::mt19937_64 rng(13);
  for (int round = 0; round < 20000; ++round) {
    CtKey k{};
    k.family = round % 2 ? 6 : 4;
    for (int i = 0; i < (k.family == 4 ? 4 : 16); ++i) {
      k.src[i] = static_cast<uint8_t>(rng());
      k.dst[i] = static_cast<uint8_t>(rng());
    }
    k.sport = static_cast<uint16_t>(rng());
    k.dport = static_cast<uint16_t>(rng());
    k.proto = static_cast<uint8_t>(rng());
    k.zsrc = static_cast<uint8_t>(rng());
    k.zdst = static_cast<uint8_t>(rng());
    const uint32_t init = round % 3 ? 0 : static_cast<uint32_t>(rng());
    uint32_t want;
    if (k.family == 6) {
      want = rte_hash_crc(&k, sizeof k, init);
    } else {
      uint32_t s, d;
      uint64_t tail;
      std::memcpy(&s, k.src, 4);
      std::memcpy(&d, k.dst, 4);
      std::memcpy(&tail, &k.sport, 8);
      want = rte_hash_crc_8byte(tail, rte_hash_crc_4byte(d, rte_hash_crc_4byte(s, init)));
    }
    ASSERT_EQ(ct_hash(&k, sizeof k, init), want) << "round " << round;
  }
}

// ct_key_cmp (the table's compare and the flow cache's confirmation) tells keys apart that
// differ in any one byte, and finds equal keys equal.
TEST(VfirewallConntrack, KeyCompareSeesEveryByte) {
  expect_compare_sees_every_byte<CtKey>(ct_key_cmp, 14);
}
