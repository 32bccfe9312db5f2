// libFuzzer target: the frame parser (common/parser.h parse_frame: the straight-line fast path
// and the general parser) and the vswitch's VLAN ingress classification
// (vswitch/dp/vlan.h VlanIngress::classify) on arbitrary bytes. No EAL, no mbuf: the parser
// reads a byte array, so the input itself is the frame (ASan catches any read past it).
//
// Besides crashes and sanitizer reports, these must hold (a violation aborts):
//   - offsets and lengths of a well-formed frame lie inside the frame (headers inside the
//     first segment), L4 fields only with kHasL4, tags <= 2;
//   - the fast path and the general parser agree whenever the fast path accepts a frame;
//   - the same frame split into two segments parses the same or as headers_not_contiguous,
//     and the parser never reads past the first segment;
//   - classification: a frame admitted on a trunk carries an allowed VID with the trunk's
//     TPID, or is untagged/priority-tagged and goes to the native segment; on an access port
//     it goes to the access segment, tagged only with qinq; nothing but vlan/flags changes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/parser.h"
#include "vswitch/dp/vlan.h"

namespace {

using vnf::DropReason;
using vnf::PacketMeta;
namespace mf = vnf::meta_flags;

[[noreturn]] void violated(const char* what, const uint8_t* d, size_t n) {
  std::fprintf(stderr, "==FUZZ FINDING== invariant violated: %s (frame of %zu bytes)\n", what, n);
  for (size_t i = 0; i < n && i < 128; ++i) std::fprintf(stderr, "%02x%s", d[i], i % 16 == 15 ? "\n" : " ");
  std::fprintf(stderr, "\n");
  std::abort();
}

#define EXPECT(cond)                              \
  do {                                            \
    if (!(cond)) violated(#cond, frame, size);    \
  } while (0)

bool is_parser_reason(DropReason r) {
  return r >= DropReason::kEthTruncated && r <= DropReason::kHeadersNotContiguous;
}

uint64_t hash_bytes(const uint8_t* d, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; ++i) h = (h ^ d[i]) * 1099511628211ULL;
  return h;
}

// Checks a parse result against the frame it came from (seg_len bytes readable of pkt_len).
void check_meta(DropReason r, const PacketMeta& m, uint32_t seg_len, uint32_t pkt_len,
                const uint8_t* frame, size_t size) {
  EXPECT(r == DropReason::kNone || is_parser_reason(r));
  EXPECT(m.in_port == 7 && m.out_port == 0xFFFF);
  if (seg_len == pkt_len) EXPECT(r != DropReason::kHeadersNotContiguous);
  if (r != DropReason::kNone) return;
  EXPECT(m.tags <= 2);
  EXPECT((m.tags == 0) == (m.outer_tpid == 0));
  if (m.tags) EXPECT(vnf::is_vlan_tpid(m.outer_tpid));
  EXPECT(m.l3_off == 14u + 4u * m.tags);
  EXPECT(m.l3 != vnf::L3::kNone);
  EXPECT(!vnf::is_vlan_tpid(m.ether_type));
  if (m.flags & mf::kLaterFragment) EXPECT(m.flags & mf::kFragment);
  switch (m.l3) {
    case vnf::L3::kIpv4:
      EXPECT(m.ether_type == RTE_ETHER_TYPE_IPV4);
      EXPECT(m.l3_off + 20u <= seg_len && m.l3_len >= 20 && m.l3_off + m.l3_len <= pkt_len);
      break;
    case vnf::L3::kIpv6:
      EXPECT(m.ether_type == RTE_ETHER_TYPE_IPV6);
      EXPECT(m.l3_off + 40u <= seg_len && m.l3_len >= 40 && m.l3_off + m.l3_len <= pkt_len);
      break;
    case vnf::L3::kArp:
      EXPECT(m.ether_type == RTE_ETHER_TYPE_ARP);
      EXPECT(m.l3_len >= 8 && m.l3_off + m.l3_len <= seg_len);
      break;
    default:
      EXPECT(m.l3_len == 0 && !(m.flags & (mf::kFragment | mf::kIpOptions)));
      break;
  }
  if (!(m.flags & mf::kHasL4)) {
    EXPECT(m.sport == 0 && m.dport == 0);
    return;
  }
  EXPECT(m.l3 == vnf::L3::kIpv4 || m.l3 == vnf::L3::kIpv6);
  EXPECT(!(m.flags & mf::kLaterFragment));
  EXPECT(m.l4_proto == 6 || m.l4_proto == 17 || m.l4_proto == 1 || m.l4_proto == 58);
  EXPECT(m.l4_off >= m.l3_off + (m.l3 == vnf::L3::kIpv4 ? 20u : 40u));
  EXPECT(m.l4_off + m.l4_len == m.l3_off + m.l3_len);
  const uint8_t* l4 = frame + m.l4_off;
  if (m.l4_proto == 6) {
    EXPECT(m.l4_off + 20u <= seg_len && m.l4_len >= 20);
    const uint32_t doff = (l4[12] >> 4) * 4u;
    EXPECT(doff >= 20 && doff <= m.l4_len);
  } else {
    EXPECT(m.l4_off + 8u <= seg_len && m.l4_len >= 8);
    if (m.l4_proto == 17) {
      const uint16_t ulen = vnf::rd16(l4 + 4);
      EXPECT(ulen >= 8 && ulen <= m.l4_len);
    }
  }
  EXPECT(m.sport == vnf::rd16(l4) && m.dport == vnf::rd16(l4 + (m.l4_proto == 6 || m.l4_proto == 17 ? 2 : 4)));
}

vswitch::PortPolicy access(uint16_t vlan, bool qinq) {
  vswitch::PortPolicy p;
  p.mode = vswitch::L2Mode::kAccess;
  p.qinq = qinq;
  p.access_vlan = vlan;
  p.allowed.set(vlan);
  return p;
}

vswitch::PortPolicy trunk(uint16_t tpid, bool qinq, uint16_t native,
                          std::initializer_list<uint16_t> vlans) {
  vswitch::PortPolicy p;
  p.mode = vswitch::L2Mode::kTrunk;
  p.qinq = qinq;
  p.tpid = tpid;
  p.native_vlan = native;
  if (native) p.allowed.set(native);
  for (uint16_t v : vlans)
    if (v >= 1 && v <= 4094) p.allowed.set(v);
  return p;
}

void check_classify(const vswitch::PortPolicy& pol, const PacketMeta& parsed, const uint8_t* frame,
                    size_t size) {
  PacketMeta m = parsed;
  const DropReason r = vswitch::VlanIngress::classify(pol, frame, m);
  // Only vlan and flags (kSegTag) may change.
  PacketMeta rest = m;
  rest.vlan = parsed.vlan;
  rest.flags = parsed.flags;
  EXPECT(std::memcmp(&rest, &parsed, sizeof rest) == 0);
  EXPECT((m.flags & ~mf::kSegTag) == (parsed.flags & ~mf::kSegTag));
  if (pol.mode == vswitch::L2Mode::kNone) {
    EXPECT(r == DropReason::kPortNotSwitched);
    return;
  }
  if (vswitch::bad_source(frame + 6)) EXPECT(r == DropReason::kBadSrcMac);
  if (r != DropReason::kNone) {
    EXPECT(r == DropReason::kBadSrcMac || r == DropReason::kLinkLocal ||
           r == DropReason::kUntaggedNotAllowed || r == DropReason::kTaggedOnAccess ||
           r == DropReason::kVlanNotAllowed || r == DropReason::kUnexpectedTpid ||
           r == DropReason::kStackedVlan);
    return;
  }
  EXPECT(!vswitch::is_link_local_group(frame));
  EXPECT(m.vlan >= 1 && m.vlan <= 4094 && pol.allowed[m.vlan]);
  const bool priority =
      m.tags && m.outer_tpid == vnf::kTpid8021Q && (m.outer_tci & 0xFFF) == 0;
  if (pol.mode == vswitch::L2Mode::kAccess) {
    EXPECT(m.vlan == pol.access_vlan);
    if (!pol.qinq) EXPECT(m.tags == 0 || (priority && m.tags == 1));
    return;
  }
  // Trunk.
  if (m.tags == 2) EXPECT(pol.qinq);
  if (m.tags && !priority) {
    EXPECT(m.outer_tpid == pol.tpid && m.vlan == (m.outer_tci & 0xFFF));
    EXPECT(m.flags & mf::kSegTag);
  } else {
    EXPECT(pol.native_vlan != 0 && m.vlan == pol.native_vlan);
    EXPECT(bool(m.flags & mf::kSegTag) == priority);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* frame, size_t size) {
  if (size > 65535) return 0;  // one mbuf's data_len is 16 bits
  const uint32_t n = static_cast<uint32_t>(size);

  // The fast path and the general parser on the whole frame.
  PacketMeta fast{}, general{}, m{};
  fast.in_port = general.in_port = m.in_port = 7;
  const bool took_fast = vnf::parse_fast(frame, n, n, fast);
  const DropReason rg = vnf::parse_general(frame, n, n, general);
  const DropReason r = vnf::parse_frame(frame, n, n, m);
  if (took_fast) {
    EXPECT(rg == DropReason::kNone);
    EXPECT(std::memcmp(&fast, &general, sizeof fast) == 0);
  }
  EXPECT(r == rg);
  if (r == DropReason::kNone) EXPECT(std::memcmp(&m, &general, sizeof m) == 0);
  check_meta(r, m, n, n, frame, size);

  // The same frame with only its first `seg` bytes readable (a chained mbuf): an exact-size
  // copy, so that a read past the first segment is a heap overflow.
  const uint64_t h = hash_bytes(frame, size);
  if (size > 0) {
    const uint32_t seg = static_cast<uint32_t>(h % size);
    std::unique_ptr<uint8_t[]> first(new uint8_t[seg ? seg : 1]);
    std::memcpy(first.get(), frame, seg);
    PacketMeta s{};
    s.in_port = 7;
    const DropReason rs = vnf::parse_frame(first.get(), seg, n, s);
    EXPECT(rs == r || rs == DropReason::kHeadersNotContiguous);
    if (rs == DropReason::kNone) EXPECT(std::memcmp(&s, &m, sizeof s) == 0);
    if (rs != DropReason::kNone && rs != DropReason::kHeadersNotContiguous)
      check_meta(rs, s, seg, n, frame, size);
  }

  // The frame as the first segment of a longer chain (up to 64 KB: l3_len and the offsets
  // are 16 bits, and no port is configured for TSO/LRO, so no mbuf chain is longer):
  // lengths must still be consistent.
  if (((h >> 40) & 1) && n < 65535) {
    const uint32_t total = n + 1 + static_cast<uint32_t>((h >> 41) % (65535 - n));
    PacketMeta l{};
    l.in_port = 7;
    const DropReason rl = vnf::parse_frame(frame, n, total, l);
    check_meta(rl, l, n, total, frame, size);
  }

  if (r != DropReason::kNone) return 0;

  // Classification against the port modes, VLANs partly taken from the frame (so that its own
  // VID is allowed on some trunks and not on others).
  const uint16_t vid = m.outer_tci & 0xFFF;
  const uint16_t a = static_cast<uint16_t>(1 + (h >> 8) % 4094);
  const uint16_t native = (h >> 24) & 1 ? static_cast<uint16_t>(1 + (h >> 32) % 4094) : 0;
  const uint16_t own = (h >> 25) & 1 ? vid : 100;
  const vswitch::PortPolicy policies[] = {
      vswitch::PortPolicy{},  // not switched
      access(a, false),
      access(a, true),
      trunk(vnf::kTpid8021Q, false, native ? native : 1, {own, 200}),
      trunk(vnf::kTpid8021Q, false, 0, {own, 4094}),
      trunk(vnf::kTpid8021ad, true, native, {own, 300}),
      trunk(vnf::kTpidQinQLegacy, true, 0, {own}),
  };
  for (const auto& pol : policies) check_classify(pol, m, frame, size);
  return 0;
}
