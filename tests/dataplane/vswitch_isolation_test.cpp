// Segment isolation as a property of every config the validator accepts (issue #9): for a
// family of host configs (access ports with and without qinq, trunks with and without native
// segment, 802.1Q and 802.1ad, qinq trunks), every frame a tenant can send (no tag, one or two
// tags of every TPID, VIDs of every segment, of none, and 0) goes through the real switch
// stages, and every frame that leaves a trunk is read back as the upstream switch would read
// it: the outermost tag with the trunk's TPID names the VLAN, anything else is the native
// VLAN. That VLAN must be the frame's own segment. A config the validator refuses is skipped;
// before the fix, "qinq access port in a segment that is native on a trunk" was accepted and
// a tenant's tag 200 reached the upstream switch outermost.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/config_node.h"
#include "tests/common/frames.h"
#include "tests/dataplane/harness.h"
#include "vswitch/config.h"

using namespace testing_frames;

namespace {

struct Stack {
  std::vector<Tag> tags;  // outermost first
  std::string str() const {
    std::string s;
    for (const auto& t : tags) s += fmt::format("[{:04x} {}]", t.tpid, t.tci & 0xFFF);
    return s.empty() ? "untagged" : s;
  }
};

std::vector<Stack> all_stacks() {
  std::vector<Tag> one;
  for (uint16_t tpid : {0x8100, 0x88A8, 0x9100})
    for (uint16_t vid : {0, 100, 200, 300}) one.push_back({tpid, vid});
  std::vector<Stack> out{{}};
  for (const auto& a : one) {
    out.push_back({{a}});
    for (const auto& b : one) out.push_back({{a, b}});
  }
  return out;
}

Bytes with_tags(const Bytes& f, const std::vector<Tag>& tags) {
  Bytes t(f.begin(), f.begin() + 12);
  for (const auto& g : tags)
    for (uint16_t v : {g.tpid, g.tci}) {
      t.push_back(static_cast<uint8_t>(v >> 8));
      t.push_back(static_cast<uint8_t>(v));
    }
  t.insert(t.end(), f.begin() + 12, f.end());
  return t;
}

uint16_t rd16(const Bytes& f, size_t off) {
  return static_cast<uint16_t>(f[off] << 8 | f[off + 1]);
}

// The segment (VLAN) a neighbour configured like `p` puts a frame from the wire in, or
// nullopt when it would refuse the frame.
std::optional<uint16_t> wire_vlan(const vswitch::SwitchConfig& c, const vswitch::SwitchPort& p,
                                  const Bytes& f) {
  if (p.mode == vswitch::PortMode::kAccess) return c.segment(p.segment)->vlan;
  const uint16_t native = p.native.empty() ? 0 : c.segment(p.native)->vlan;
  if (rd16(f, 12) == p.tpid && (rd16(f, 14) & 0xFFF) != 0) {
    const uint16_t vid = rd16(f, 14) & 0xFFF;
    for (const auto& s : p.segments)
      if (c.segment(s)->vlan == vid) return vid;
    return std::nullopt;
  }
  if (native) return native;  // untagged, priority-tagged, or a TPID it does not read as a tag
  return std::nullopt;
}

std::string config(bool q1, bool q2, int t_native, uint16_t t_tpid, bool t_qinq, bool t2_native,
                   bool t2_qinq) {
  const char* natives[] = {"", ", native: core", ", native: info"};
  return fmt::format(R"(engine: {{name: iso}}
segments:
  - {{name: core, vlan: 100}}
  - {{name: info, vlan: 200}}
ports:
  - {{name: p1, type: ring, mode: access, segment: core, qinq: {}}}
  - {{name: p2, type: ring, mode: access, segment: info, qinq: {}}}
  - {{name: t, type: ring, mode: trunk, segments: [core, info]{}, tpid: {:#x}, qinq: {}}}
  - {{name: t2, type: ring, mode: trunk, segments: [core, info]{}, qinq: {}}}
mac: {{table_size: 4096}}
)",
                     q1, q2, natives[t_native], t_tpid, t_qinq, t2_native ? ", native: core" : "",
                     t2_qinq);
}

}  // namespace

TEST(VswitchIsolation, NoAcceptedConfigLetsATenantTagChooseTheSegment) {
  const std::vector<Stack> stacks = all_stacks();
  unsigned accepted = 0, refused = 0, frames_out = 0;
  for (int bits = 0; bits < 2 * 2 * 3 * 2 * 2 * 2 * 2; ++bits) {
    int b = bits;
    auto take = [&b](int n) {
      const int v = b % n;
      b /= n;
      return v;
    };
    const std::string yaml = config(take(2), take(2), take(3), take(2) ? 0x88A8 : 0x8100,
                                    take(2), take(2), take(2));
    vswitch::SwitchConfig cfg;
    try {
      cfg = vswitch::parse_switch_config(vnf::config::ConfigNode::load_string(yaml, "iso.yaml"));
    } catch (const vnf::config::ConfigError&) {
      ++refused;
      continue;
    }
    ++accepted;
    dptest::SwitchHarness h(yaml);
    unsigned n = 0;
    for (const auto& in : cfg.ports) {
      for (const auto& st : stacks) {
        Mac src = mac("02:00:00:00:00:00");
        src[4] = static_cast<uint8_t>(n >> 8);
        src[5] = static_cast<uint8_t>(n++);
        const Bytes f = with_tags(udp4_frame(kBroadcast, src), st.tags);
        // The segment the switch must have put it in, read the same way as the output.
        const auto seg = in.mode == vswitch::PortMode::kAccess
                             ? std::optional<uint16_t>(cfg.segment(in.segment)->vlan)
                             : wire_vlan(cfg, in, f);
        const auto out = h.exchange(in.name, f);
        for (const auto& [port, got] : out) {
          const vswitch::SwitchPort& p = *cfg.port(port);
          for (const auto& g : got) {
            ++frames_out;
            const auto v = wire_vlan(cfg, p, g);
            ASSERT_TRUE(seg && v && *v == *seg)
                << "config:\n"
                << yaml << "frame " << st.str() << " from " << in.name << " (segment "
                << (seg ? std::to_string(*seg) : "none") << ") left " << port
                << " where the neighbour reads it as "
                << (v ? "VLAN " + std::to_string(*v) : "refused");
          }
        }
      }
    }
  }
  std::printf("%u configs accepted, %u refused, %u frames checked\n", accepted, refused, frames_out);
  // The family holds both kinds, and traffic flowed: the property was really exercised.
  EXPECT_GT(accepted, 50u);
  EXPECT_GT(refused, 10u);
  EXPECT_GT(frames_out, 10000u);
}
