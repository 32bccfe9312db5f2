// Per-VM bandwidth limits, control side: the `limit:` key of a switch port (docs/limits.md),
// parsed into plain structs, and compiled into the fast path's tables (vswitch/dp/limit.h)
// with the meter state kept across reloads (LimitRows).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config_node.h"
#include "vrouter/addr.h"

namespace vswitch {

struct LimitsDp;
struct LimitWorkerState;
struct SwitchConfig;

// One direction of a limit. Rates in bits/s of Ethernet frames (header and payload, no FCS or
// preamble), bursts in bytes; a packet rate in packets/s.
struct MeterSpec {
  uint64_t rate_bps = 0;  // 0: no byte meter
  uint64_t burst = 0;
  uint64_t peak_rate_bps = 0;  // > 0: two-rate three-colour (RFC 2698)
  uint64_t peak_burst = 0;
  uint64_t excess_burst = 0;  // single-rate three-colour's excess bucket (RFC 2697)
  uint64_t pps = 0;           // 0: no packet meter
  uint64_t pps_burst = 0;
  bool shape = false;  // tx of a port: shaped, not policed
  uint32_t queue = 0;  // shape: packets held at most (per worker)
  bool defined() const { return rate_bps || pps; }
  bool operator==(const MeterSpec&) const = default;
};

struct LimitClass {
  std::string name;
  uint8_t proto = 0;                       // 0: any
  std::optional<vrouter::Prefix> remote;   // the other end's address
  uint16_t port_lo = 0, port_hi = 0xFFFF;  // the other end's port
  MeterSpec rx, tx;
  bool operator==(const LimitClass&) const = default;
};

struct SegmentLimit {
  std::string segment;
  MeterSpec rx, tx;
  bool operator==(const SegmentLimit&) const = default;
};

struct PortLimits {
  MeterSpec rx, tx;  // rx: from the VM; tx: toward it
  std::vector<LimitClass> classes;
  std::vector<SegmentLimit> segments;  // trunks
  bool any() const { return rx.defined() || tx.defined() || !classes.empty() || !segments.empty(); }
  bool operator==(const PortLimits&) const = default;
};

inline constexpr unsigned kMaxLimitClasses = 64;  // per port
inline constexpr uint32_t kDefaultShapeQueue = 1024;

// Defaults (docs/limits.md "Bursts"): a policer's burst holds 500 ms at the rate (what TCP
// needs to reach the rate through a policer), at least 64 KiB; a shaper's bucket 10 ms (what a
// worker preempted for that long does not lose), at least 16 KiB (a jumbo frame always fits); a
// packet meter's burst 500 ms, at least 64.
uint64_t default_police_burst(uint64_t rate_bps);
uint64_t default_shape_burst(uint64_t rate_bps);
uint64_t default_pps_burst(uint64_t pps);

// `n` is ports[i].limit. `segment_ok(name)` tells whether the port carries that segment;
// `longest` is the longest frame the port carries as far as the file says (bursts below it
// are refused). Throws vnf::config::ConfigError.
PortLimits parse_port_limits(const vnf::config::ConfigNode& n, bool trunk,
                             const std::function<bool(const std::string&)>& segment_ok,
                             uint32_t longest);

// "rate 50Mbit burst 312.5KB police" (for diffs and logs).
std::string describe(const MeterSpec& m);
std::string format_rate(uint64_t bps);
// One line per difference between two ports' limits, prefixed with "port NAME: ".
void diff_limits(const std::string& port, const PortLimits& a, const PortLimits& b,
                 std::vector<std::string>& out);

// The control side of the meter state. Each meter row (a port's or segment's or class's
// direction) has a slot in every worker's LimitWorkerState and a stamp of its parameters; a
// row whose key and parameters survive a reload keeps both, hence its state.
class LimitRows {
 public:
  struct Row {
    std::string port, segment, cls;  // segment and cls empty for the port's own row
    uint8_t dir = 0;                 // 0 rx, 1 tx
    MeterSpec spec;
    unsigned share = 1;  // the workers the rate is divided among
    uint32_t slot = 0;
    uint64_t stamp = 0;
    // Measured by sample(): rates over the last interval.
    uint64_t last_pkts = 0, last_bytes = 0, last_ms = 0;
    double bps = 0, pps = 0;
  };

  explicit LimitRows(std::vector<LimitWorkerState*> workers) : workers_(std::move(workers)) {}

  // Compiles `cfg`'s limits into `out`, allocating the worker cells new slots need. The new
  // rows take effect with commit(); abort() forgets them. `rx_share(port id)`: the workers
  // polling the port; tx rows are shared by every worker. Throws std::runtime_error when
  // memory runs out.
  void compile(const SwitchConfig& cfg, const std::function<uint16_t(const std::string&)>& port_id,
               const std::function<unsigned(uint16_t)>& rx_share, uint64_t tsc_hz, LimitsDp& out);
  // After the snapshot compiled last is published and no worker sees the old one.
  void commit();
  void abort() { pending_.clear(); }

  const std::vector<Row>& rows() const { return rows_; }
  // Totals of a row over the workers: packets and bytes by colour (0 green, 1 yellow, 2 red).
  void totals(const Row& r, uint64_t pkts[3], uint64_t bytes[3]) const;
  uint32_t queue_depth(uint16_t port) const;  // packets held toward `port`, all workers
  void sample(uint64_t now_ms);               // updates the rows' measured rates
  size_t slots_in_use() const { return rows_.size(); }

 private:
  static std::string key(const Row& r);
  void ensure_chunks(uint32_t slots);

  std::vector<LimitWorkerState*> workers_;
  std::vector<Row> rows_, pending_;
  std::vector<uint32_t> free_;  // slots free for rows of the next compile
  uint32_t next_slot_ = 0;
  std::vector<uint32_t> staged_free_;  // free_ and next_slot_ once the compiled rows commit
  uint32_t staged_next_slot_ = 0;
  uint64_t next_stamp_ = 1;
  uint32_t chunks_ = 0;  // allocated in every worker
};

}  // namespace vswitch
