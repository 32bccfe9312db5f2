#include "vswitch/limit_config.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <regex>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_malloc.h>

#include "common/engine_config.h"
#include "vswitch/config.h"
#include "vswitch/dp/limit.h"

namespace vswitch {

using vnf::config::ConfigNode;

namespace {

constexpr uint64_t kMinRate = 1000;                // bit/s
constexpr uint64_t kMaxRate = 400'000'000'000ULL;  // 400 Gbit/s
constexpr uint64_t kMinBurst = 1518;               // one full frame
constexpr uint64_t kMaxBurst = 1ULL << 32;         // 4 GiB
constexpr uint64_t kMaxPps = 1'000'000'000ULL;

// "50Mbit", "1.5Gbit", "500kbit", "64000" (bit/s).
uint64_t parse_rate(const ConfigNode& n) {
  static const std::regex re(R"(^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([kKmMgG]?)bit(?:/s)?)?\s*$)");
  const std::string s = n.str();
  std::smatch m;
  if (!std::regex_match(s, m, re))
    n.fail(
        fmt::format("'{}' is not a rate: write bits per second, like 50Mbit, 1Gbit, 500kbit", s));
  double v = std::stod(m[1]);
  const std::string unit = m[2];
  if (!unit.empty()) {
    const char u = static_cast<char>(std::tolower(unit[0]));
    v *= u == 'k' ? 1e3 : u == 'm' ? 1e6 : 1e9;
  }
  if (v < kMinRate || v > kMaxRate)
    n.fail(fmt::format("'{}' is out of range: a rate is between 1kbit and 400Gbit", s));
  return static_cast<uint64_t>(std::llround(v));
}

// "64KB" (64,000), "64KiB" (65,536), "1MB", "1MiB", "9000", "9000B".
uint64_t parse_bytes(const ConfigNode& n, uint64_t min, uint64_t max) {
  static const std::regex re(R"(^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([kKmMgG])(i?)B|B)?\s*$)");
  const std::string s = n.str();
  std::smatch m;
  if (!std::regex_match(s, m, re))
    n.fail(fmt::format("'{}' is not a size: write bytes, like 64KB, 64KiB, 1MB or 9000", s));
  double v = std::stod(m[1]);
  const std::string unit = m[2];
  if (!unit.empty()) {
    const double base = m[3].length() ? 1024.0 : 1000.0;
    const char u = static_cast<char>(std::tolower(unit[0]));
    v *= u == 'k' ? base : u == 'm' ? base * base : base * base * base;
  }
  if (v < static_cast<double>(min) || v > static_cast<double>(max))
    n.fail(fmt::format("'{}' is out of range ({} to {} bytes)", s, min, max));
  return static_cast<uint64_t>(std::llround(v));
}

// A bucket smaller than the port's longest frame would never let such a frame pass.
uint64_t parse_burst(const ConfigNode& n, uint32_t longest) {
  const uint64_t b = parse_bytes(n, kMinBurst, kMaxBurst);
  if (b < longest)
    n.fail(
        fmt::format("{} bytes is less than the port's longest frame ({} bytes): such frames "
                    "would never pass; give at least {}",
                    b, longest, longest));
  return b;
}

// One direction. `shape_ok`: the tx of a port (the only place a shaper sits). `longest`: the
// longest frame the port carries, as far as the file says (its mtu, or 1500).
MeterSpec parse_meter(const ConfigNode& n, bool shape_ok, uint32_t longest) {
  n.expect_map();
  n.allow_keys({"rate", "burst", "peak_rate", "peak_burst", "excess_burst", "pps", "pps_burst",
                "mode", "queue"});
  MeterSpec m;
  if (n.has("mode")) {
    const std::string mode = n["mode"].str();
    if (mode == "shape") {
      if (!shape_ok)
        n["mode"].fail(
            "only a port's tx (toward the VM) can be shaped; classes, segments and rx "
            "are policed");
      m.shape = true;
    } else if (mode != "police") {
      n["mode"].fail(fmt::format("mode is police or shape, got '{}'", mode));
    }
  }
  if (n.has("rate")) m.rate_bps = parse_rate(n["rate"]);
  if (n.has("pps")) m.pps = n["pps"].uint(1, kMaxPps);
  if (!m.defined()) n.fail("a limit needs a rate (bits/s) or pps (packets/s)");
  for (auto k : {"burst", "peak_rate", "peak_burst", "excess_burst"})
    if (n.has(k) && !m.rate_bps) n[k].fail(fmt::format("'{}' needs a 'rate'", k));
  if (n.has("pps_burst") && !m.pps) n["pps_burst"].fail("'pps_burst' needs 'pps'");
  if (m.shape) {
    for (auto k : {"peak_rate", "peak_burst", "excess_burst", "pps", "pps_burst"})
      if (n.has(k))
        n[k].fail(fmt::format("a shaper has a rate and a burst; '{}' is for policing", k));
    if (!m.rate_bps) n.fail("a shaper needs a 'rate'");
    m.burst = n.has("burst") ? parse_burst(n["burst"], longest) : default_shape_burst(m.rate_bps);
    m.queue = static_cast<uint32_t>(n.uint_or("queue", kDefaultShapeQueue, 1, kShapeQueueMax));
    return m;
  }
  if (n.has("queue")) n["queue"].fail("'queue' is for a shaper (mode: shape)");
  if (m.rate_bps) {
    m.burst = n.has("burst") ? parse_burst(n["burst"], longest) : default_police_burst(m.rate_bps);
    if (n.has("peak_rate")) {
      if (n.has("excess_burst"))
        n["excess_burst"].fail(
            "excess_burst is for a single-rate meter (RFC 2697); a two-rate meter has peak_burst");
      m.peak_rate_bps = parse_rate(n["peak_rate"]);
      if (m.peak_rate_bps < m.rate_bps)
        n["peak_rate"].fail("peak_rate must be at least rate (RFC 2698)");
      m.peak_burst = n.has("peak_burst") ? parse_burst(n["peak_burst"], longest) : m.burst;
    } else if (n.has("peak_burst")) {
      n["peak_burst"].fail("peak_burst needs peak_rate");
    }
    if (n.has("excess_burst")) m.excess_burst = parse_bytes(n["excess_burst"], 0, kMaxBurst);
  }
  if (m.pps)
    m.pps_burst = n.has("pps_burst") ? n["pps_burst"].uint(1, kMaxPps) : default_pps_burst(m.pps);
  return m;
}

uint8_t parse_proto(const ConfigNode& n) {
  const std::string s = n.str();
  static const std::map<std::string, uint8_t> names = {
      {"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmpv6", 58}, {"sctp", 132}};
  if (auto it = names.find(s); it != names.end()) return it->second;
  if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit))
    return static_cast<uint8_t>(n.uint(1, 255));
  n.fail(fmt::format("proto is tcp, udp, sctp, icmp, icmpv6 or a number 1-255, got '{}'", s));
}

LimitClass parse_class(const ConfigNode& n, uint32_t longest) {
  n.expect_map();
  n.allow_keys({"name", "match", "rx", "tx"});
  LimitClass c;
  c.name = n.required("name").str();
  if (!vnf::valid_name(c.name))
    n["name"].fail("class name must match [A-Za-z0-9_.-]{1,31}, starting with a letter or digit");
  const ConfigNode m = n.required("match");
  m.expect_map();
  m.allow_keys({"remote", "proto", "ports"});
  if (!m.has("remote") && !m.has("proto") && !m.has("ports"))
    m.fail("a class matches on at least one of remote, proto, ports");
  if (m.has("remote")) {
    const std::string text = m["remote"].str();
    std::string err;
    c.remote = vrouter::parse_host_or_prefix(text, err);
    if (!c.remote)
      m["remote"].fail(
          fmt::format("'{}' is not an address or prefix{}", text, err.empty() ? "" : ": " + err));
  }
  if (m.has("proto")) c.proto = parse_proto(m["proto"]);
  if (m.has("ports")) {
    if (c.proto && c.proto != 6 && c.proto != 17 && c.proto != 132)
      m["ports"].fail("ports apply to tcp, udp and sctp");
    const ConfigNode p = m["ports"];
    static const std::regex re(R"(^\s*([0-9]{1,5})\s*(?:-\s*([0-9]{1,5}))?\s*$)");
    const std::string s = p.str();
    std::smatch r;
    if (!std::regex_match(s, r, re))
      p.fail(fmt::format("'{}' is not a port or a range like 5201-5210", s));
    const unsigned lo = std::stoul(r[1]), hi = r[2].length() ? std::stoul(r[2]) : lo;
    if (lo > 65535 || hi > 65535 || lo > hi)
      p.fail(fmt::format("'{}': ports are 0-65535, low to high", s));
    c.port_lo = static_cast<uint16_t>(lo);
    c.port_hi = static_cast<uint16_t>(hi);
  }
  if (n.has("rx")) c.rx = parse_meter(n["rx"], false, longest);
  if (n.has("tx")) c.tx = parse_meter(n["tx"], false, longest);
  if (!c.rx.defined() && !c.tx.defined()) n.fail("a class limits rx, tx or both");
  return c;
}

std::string format_bytes(uint64_t b) {
  if (b >= 1024 * 1024 && b % (1024 * 1024) == 0) return fmt::format("{}MiB", b >> 20);
  if (b >= 1024 && b % 1024 == 0) return fmt::format("{}KiB", b >> 10);
  if (b >= 1'000'000 && b % 1000 == 0) return fmt::format("{:g}MB", b / 1e6);
  if (b >= 1000) return fmt::format("{:g}KB", b / 1e3);
  return fmt::format("{}B", b);
}

}  // namespace

uint64_t default_police_burst(uint64_t rate_bps) {
  return std::max<uint64_t>(rate_bps / 8 / 2, 64 * 1024);
}
uint64_t default_shape_burst(uint64_t rate_bps) {
  return std::max<uint64_t>(rate_bps / 8 / 100, 16 * 1024);
}
uint64_t default_pps_burst(uint64_t pps) { return std::max<uint64_t>(pps / 2, 64); }

std::string format_rate(uint64_t bps) {
  if (bps >= 1'000'000'000) return fmt::format("{:g}Gbit", bps / 1e9);
  if (bps >= 1'000'000) return fmt::format("{:g}Mbit", bps / 1e6);
  if (bps >= 1000) return fmt::format("{:g}kbit", bps / 1e3);
  return fmt::format("{}bit", bps);
}

std::string describe(const MeterSpec& m) {
  if (!m.defined()) return "none";
  std::string s;
  if (m.rate_bps)
    s = fmt::format("rate {} burst {}", format_rate(m.rate_bps), format_bytes(m.burst));
  if (m.peak_rate_bps)
    s += fmt::format(" peak {} burst {}", format_rate(m.peak_rate_bps), format_bytes(m.peak_burst));
  if (m.excess_burst) s += " excess " + format_bytes(m.excess_burst);
  if (m.pps) s += fmt::format("{}pps {} burst {}", s.empty() ? "" : " ", m.pps, m.pps_burst);
  s += m.shape ? fmt::format(" shape queue {}", m.queue) : " police";
  return s;
}

PortLimits parse_port_limits(const ConfigNode& n, bool trunk,
                             const std::function<bool(const std::string&)>& segment_ok,
                             uint32_t longest) {
  n.expect_map();
  n.allow_keys({"rx", "tx", "classes", "segments"});
  PortLimits l;
  if (n.has("rx")) l.rx = parse_meter(n["rx"], false, longest);
  if (n.has("tx")) l.tx = parse_meter(n["tx"], true, longest);
  if (n.has("classes")) {
    const ConfigNode list = n["classes"];
    list.expect_seq();
    std::set<std::string> names;
    for (const auto& item : list.items()) {
      LimitClass c = parse_class(item, longest);
      if (!names.insert(c.name).second)
        item["name"].fail(fmt::format("class '{}' defined twice", c.name));
      l.classes.push_back(std::move(c));
    }
    if (l.classes.size() > kMaxLimitClasses)
      list.fail(fmt::format("at most {} classes per port", kMaxLimitClasses));
  }
  if (n.has("segments")) {
    const ConfigNode segs = n["segments"];
    if (!trunk)
      segs.fail(
          "per-segment limits are for trunk ports; an access port's limit is its "
          "segment's");
    segs.expect_map();
    for (const auto& [name, v] : segs.entries()) {
      if (!segment_ok(name)) v.fail(fmt::format("the port does not carry segment '{}'", name));
      v.expect_map();
      v.allow_keys({"rx", "tx"});
      SegmentLimit s;
      s.segment = name;
      if (v.has("rx")) s.rx = parse_meter(v["rx"], false, longest);
      if (v.has("tx")) s.tx = parse_meter(v["tx"], false, longest);
      if (!s.rx.defined() && !s.tx.defined()) v.fail("a segment limit has rx, tx or both");
      l.segments.push_back(std::move(s));
    }
  }
  if (!l.any()) n.fail("an empty limit: give rx, tx, classes or segments (or leave limit out)");
  return l;
}

void diff_limits(const std::string& port, const PortLimits& a, const PortLimits& b,
                 std::vector<std::string>& out) {
  if (a == b) return;
  auto dir = [&](const char* what, const MeterSpec& x, const MeterSpec& y) {
    if (!(x == y))
      out.push_back(
          fmt::format("port {}: limit {} {} -> {}", port, what, describe(x), describe(y)));
  };
  dir("rx", a.rx, b.rx);
  dir("tx", a.tx, b.tx);
  if (a.classes != b.classes)
    out.push_back(fmt::format("port {}: limit classes changed ({} -> {})", port, a.classes.size(),
                              b.classes.size()));
  if (a.segments != b.segments)
    out.push_back(fmt::format("port {}: per-segment limits changed ({} -> {})", port,
                              a.segments.size(), b.segments.size()));
}

// ---- LimitRows --------------------------------------------------------------------------

std::string LimitRows::key(const Row& r) {
  return fmt::format("{}|{}|{}|{}", r.port, r.segment, r.cls, r.dir);
}

void LimitRows::ensure_chunks(uint32_t slots) {
  const uint32_t need = (slots + kRowChunk - 1) / kRowChunk;
  if (need > kRowChunks)
    throw std::runtime_error(fmt::format("more than {} limit meters", kMaxRows));
  for (; chunks_ < need; ++chunks_)
    for (LimitWorkerState* w : workers_) {
      if (w->chunk[chunks_]) continue;
      void* mem =
          rte_zmalloc("vsw_limit_cells", sizeof(LimitCell) * kRowChunk, RTE_CACHE_LINE_SIZE);
      if (!mem)
        throw std::runtime_error(
            fmt::format("cannot allocate memory for limit meters ({} bytes per worker)",
                        sizeof(LimitCell) * kRowChunk));
      auto* cells = static_cast<LimitCell*>(mem);
      for (unsigned k = 0; k < kRowChunk; ++k) new (&cells[k]) LimitCell{};
      w->chunk[chunks_] = cells;  // published to the worker with the snapshot that uses it
    }
}

void LimitRows::compile(const SwitchConfig& cfg,
                        const std::function<uint16_t(const std::string&)>& port_id,
                        const std::function<unsigned(uint16_t)>& rx_share, uint64_t tsc_hz,
                        LimitsDp& out) {
  (void)tsc_hz;  // rte_meter reads rte_get_tsc_hz() itself
  pending_.clear();
  std::map<std::string, const Row*> old;
  for (const auto& r : rows_) old[key(r)] = &r;
  std::vector<uint32_t> free_slots = free_;
  uint32_t next_slot = next_slot_;
  const unsigned workers = static_cast<unsigned>(std::max<size_t>(workers_.size(), 1));

  auto add_row = [&](Row r) -> uint32_t {
    const auto it = old.find(key(r));
    if (it != old.end()) {
      const Row& o = *it->second;
      r.slot = o.slot;
      if (o.spec == r.spec && o.share == r.share) {
        r.stamp = o.stamp;  // unchanged: the state carries on
        r.last_pkts = o.last_pkts;
        r.last_bytes = o.last_bytes;
        r.last_ms = o.last_ms;
        r.bps = o.bps;
        r.pps = o.pps;
      } else {
        r.stamp = next_stamp_++;
      }
    } else {
      if (!free_slots.empty()) {
        r.slot = free_slots.back();
        free_slots.pop_back();
      } else {
        r.slot = next_slot++;
      }
      r.stamp = next_stamp_++;
    }
    const MeterSpec& m = r.spec;
    const uint64_t div = r.share;
    LimitRowDp d;
    d.slot = r.slot;
    d.stamp = r.stamp;
    // Each worker meters its share; a share's burst still holds a jumbo frame.
    auto share_burst = [&](uint64_t b) {
      return std::max<uint64_t>(b / div, std::min<uint64_t>(b, 9216));
    };
    const uint64_t cir = std::max<uint64_t>(m.rate_bps / 8 / div, 1);
    int rc = 0;
    if (m.shape) {
      d.bytes = MeterKind::kSrTcm;
      d.shape = 1;
      d.queue_limit = static_cast<uint16_t>(std::min<uint32_t>(m.queue, kShapeQueueMax));
      rte_meter_srtcm_params p{cir, std::max<uint64_t>(share_burst(m.burst), 16 * 1024), 0};
      rc = rte_meter_srtcm_profile_config(&d.bp.sr, &p);
    } else if (m.rate_bps && m.peak_rate_bps) {
      d.bytes = MeterKind::kTrTcm;
      rte_meter_trtcm_params p{cir, std::max<uint64_t>(m.peak_rate_bps / 8 / div, 1),
                               share_burst(m.burst), share_burst(m.peak_burst)};
      rc = rte_meter_trtcm_profile_config(&d.bp.tr, &p);
    } else if (m.rate_bps) {
      d.bytes = MeterKind::kSrTcm;
      rte_meter_srtcm_params p{cir, share_burst(m.burst),
                               m.excess_burst ? share_burst(m.excess_burst) : 0};
      rc = rte_meter_srtcm_profile_config(&d.bp.sr, &p);
    }
    if (rc == 0 && m.pps) {
      d.packets = 1;
      rte_meter_srtcm_params p{std::max<uint64_t>(m.pps / div, 1),
                               std::max<uint64_t>(m.pps_burst / div, 1), 0};
      rc = rte_meter_srtcm_profile_config(&d.pp, &p);
    }
    if (rc != 0)
      throw std::runtime_error(
          fmt::format("limit of port {}: rte_meter refused {} ({})", r.port, describe(m), rc));
    out.rows.push_back(d);
    pending_.push_back(std::move(r));
    return static_cast<uint32_t>(out.rows.size() - 1);
  };

  auto dir_of = [&](LimitPointDp& pt, uint8_t dir, const std::string& port, const std::string& seg,
                    const MeterSpec& spec, unsigned share, const std::vector<LimitClass>* classes) {
    LimitDirDp& d = pt.dir[dir];
    if (spec.defined()) d.row = add_row(Row{port, seg, "", dir, spec, share});
    d.first_class = static_cast<uint32_t>(out.classes.size());
    if (!classes) return;
    for (const auto& c : *classes) {
      const MeterSpec& cs = dir ? c.tx : c.rx;
      if (!cs.defined()) continue;
      LimitClassDp k;
      k.proto = c.proto;
      k.port_lo = c.port_lo;
      k.port_hi = c.port_hi;
      if (c.remote) {
        k.family = c.remote->addr.is_v4() ? 4 : 6;
        k.plen = c.remote->len;
        // A Prefix has its host bits zero and IPv4 in b[0..3], network order: as matched.
        std::memcpy(k.addr, c.remote->addr.b.data(), 16);
        if (k.family == 4) k.mask4 = rte_cpu_to_be_32(k.plen ? ~0u << (32 - k.plen) : 0);
      }
      k.row = add_row(Row{port, seg, c.name, dir, cs, share});
      out.classes.push_back(k);
      ++d.n_classes;
    }
  };

  for (const auto& p : cfg.ports) {
    const uint16_t id = port_id(p.name);
    out.present[id] = 1;
    const PortLimits& l = p.limit;
    if (!l.any()) continue;
    const unsigned shares[2] = {std::max(rx_share(id), 1u), workers};
    if (l.rx.defined() || l.tx.defined() || !l.classes.empty()) {
      LimitPointDp pt;
      for (uint8_t dir = 0; dir < 2; ++dir)
        dir_of(pt, dir, p.name, "", dir ? l.tx : l.rx, shares[dir], &l.classes);
      out.port_point[id] = static_cast<uint32_t>(out.points.size());
      out.points.push_back(pt);
      for (uint8_t dir = 0; dir < 2; ++dir) out.on[id][dir] |= pt.dir[dir].any();
      out.shaped[id] = l.tx.shape;
      out.on[id][1] |= out.shaped[id];
    }
    if (!l.segments.empty()) {
      out.seg_base[id] = static_cast<uint32_t>(out.seg_point.size());
      out.seg_point.resize(out.seg_point.size() + 4096, kNoPoint);
      for (const auto& s : l.segments) {
        LimitPointDp pt;
        for (uint8_t dir = 0; dir < 2; ++dir)
          dir_of(pt, dir, p.name, s.segment, dir ? s.tx : s.rx, shares[dir], nullptr);
        out.seg_point[out.seg_base[id] + cfg.segment(s.segment)->vlan] =
            static_cast<uint32_t>(out.points.size());
        out.points.push_back(pt);
        for (uint8_t dir = 0; dir < 2; ++dir) out.on[id][dir] |= pt.dir[dir].any();
      }
    }
  }
  for (uint16_t id = 0; id < vnf::kMaxPorts; ++id) out.any_tx |= out.on[id][1] != 0;
  try {
    ensure_chunks(next_slot);
    for (uint16_t id = 0; id < vnf::kMaxPorts; ++id) {
      if (!out.shaped[id]) continue;
      for (LimitWorkerState* w : workers_) {
        if (w->shape[id].ring) continue;
        void* mem =
            rte_zmalloc("vsw_shape_queue", sizeof(rte_mbuf*) * kShapeQueueMax, RTE_CACHE_LINE_SIZE);
        if (!mem) throw std::runtime_error("cannot allocate a shaper queue");
        w->shape[id].ring = static_cast<rte_mbuf**>(mem);
      }
    }
  } catch (...) {
    pending_.clear();
    throw;
  }
  // Slots taken from the free list or beyond next_slot_ are committed with the rows.
  staged_free_ = std::move(free_slots);
  staged_next_slot_ = next_slot;
}

void LimitRows::commit() {
  std::set<uint32_t> kept;
  for (const auto& r : pending_) kept.insert(r.slot);
  free_ = staged_free_;
  for (const auto& r : rows_)
    if (!kept.count(r.slot)) free_.push_back(r.slot);  // no worker sees the old rows any more
  next_slot_ = staged_next_slot_;
  rows_ = std::move(pending_);
  pending_.clear();
}

void LimitRows::totals(const Row& r, uint64_t pkts[3], uint64_t bytes[3]) const {
  for (int c = 0; c < 3; ++c) pkts[c] = bytes[c] = 0;
  for (const LimitWorkerState* w : workers_) {
    const LimitCell* chunk = w->chunk[r.slot >> kRowChunkBits];
    if (!chunk) continue;
    const LimitCell& cell = chunk[r.slot & (kRowChunk - 1)];
    if (__atomic_load_n(&cell.stamp, __ATOMIC_RELAXED) != r.stamp) continue;  // not yet used
    for (int c = 0; c < 3; ++c) {
      pkts[c] += cell.pkts[c].get();
      bytes[c] += cell.bytes[c].get();
    }
  }
}

uint32_t LimitRows::queue_depth(uint16_t port) const {
  uint32_t n = 0;
  for (const LimitWorkerState* w : workers_)
    n += w->shape[port].count.load(std::memory_order_relaxed);
  return n;
}

void LimitRows::sample(uint64_t now_ms) {
  for (auto& r : rows_) {
    if (r.last_ms && now_ms - r.last_ms < 1000) continue;
    uint64_t pkts[3], bytes[3];
    totals(r, pkts, bytes);
    const uint64_t p = pkts[0] + pkts[1], b = bytes[0] + bytes[1];  // what passed
    if (r.last_ms && p >= r.last_pkts && b >= r.last_bytes) {
      const double s = static_cast<double>(now_ms - r.last_ms) / 1000.0;
      r.bps = static_cast<double>(b - r.last_bytes) * 8 / s;
      r.pps = static_cast<double>(p - r.last_pkts) / s;
    } else {
      r.bps = r.pps = 0;
    }
    r.last_pkts = p;
    r.last_bytes = b;
    r.last_ms = now_ms;
  }
}

}  // namespace vswitch
