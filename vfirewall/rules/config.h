// The vfirewall appliance file: engine, ports and wires (the appliance's own part) and the
// rule language (zones, address and service objects, ordered rules, zone-pair policies,
// connection tracking and FTP settings), loaded into plain validated structs. Every
// reference is resolved and every error names file:line:column. docs/firewall.md
// documents every key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config_node.h"
#include "common/engine_config.h"
#include "vfirewall/dp/timeouts.h"
#include "vfirewall/rules/address.h"
#include "vfirewall/rules/types.h"

namespace vfirewall {

// Limits of one rule set, checked when the file is loaded (a file beyond them is refused with
// the position of what crosses the limit, before anything is built; docs/firewall.md
// "Limits"). Generous for real rule sets, small enough that a careless or hostile file costs a
// running appliance a refused reload, never its memory.
inline constexpr unsigned kMaxGroupDepth = 16;      // groups of groups of ...: 16 levels
inline constexpr size_t kMaxObjectRanges = 65536;   // address ranges of one object / rule side,
                                                    // after merging overlapping and adjacent ones
inline constexpr size_t kMaxObjectServices = 4096;  // entries of one service object / rule
inline constexpr uint64_t kMaxAclEntries = 262144;  // ACL entries the whole rule set compiles to
                                                    // (measured: ~3 s and ~300 MB to build)


// Where something was written, for lint findings and errors found after loading.
struct Pos {
  std::string file;
  int line = 0;
  int column = 0;
  std::string str() const;
};

// A lint finding (vfirewall/rules/lint.h): what, where, how bad.
struct Finding {
  enum class Severity { kWarning, kError };
  Severity severity = Severity::kWarning;
  Pos pos;
  std::string message;
  std::string str() const;  // "file:line:column: warning|error: message"
};

struct FwSegment {
  std::string name;
  uint16_t vlan = 0;  // 0: untagged frames
};

struct AddressObject {
  std::string name;
  std::vector<AddrRange> ranges;     // literal prefixes / ranges / hosts
  std::vector<std::string> members;  // other address objects (a group)
  std::string description;
  Pos pos;
};

// One protocol/port (or ICMP type) item. ACL fields: sport carries ICMP type << 8 | code.
struct ServiceEntry {
  uint8_t proto = 0;  // 0: any protocol
  bool icmp = false;  // ICMP / ICMPv6: lo..hi range over type << 8 | code (the sport field)
  uint16_t lo = 0, hi = 0xFFFF;  // TCP/UDP: destination ports
  bool operator==(const ServiceEntry&) const = default;
};

struct ServiceObject {
  std::string name;
  std::vector<ServiceEntry> entries;
  std::vector<std::string> members;
  std::string description;
  Pos pos;
};

// How many connections a zone may open at once (all workers together).
struct ConnLimit {
  enum class Kind : uint8_t {
    kDefaultShare,  // not written: the table's capacity divided equally between the zones
    kCount,         // a number of connections
    kPercent,       // a share of the table's capacity
    kUnlimited,     // `unlimited` (or 0): the zone may fill the table
  };
  Kind kind = Kind::kDefaultShare;
  uint32_t value = 0;  // kCount: connections; kPercent: hundredths of a percent (1..10000)
};

struct Zone {
  std::string name;
  std::vector<std::string> ports;       // empty: any port (the key left out)
  std::vector<std::string> segments;    // empty: any segment
  std::vector<std::string> networks;    // address references; empty: any address
  Action intra_zone = Action::kAccept;  // default for traffic within the zone
  bool intra_zone_log = false;
  ConnLimit conn_limit;
  bool window_check = true;
  Timeouts timeouts;
  std::string description;
  Pos pos;        // the name
  Pos limit_pos;  // conn_limit (the name when left out)
  // Anti-spoofing: a zone "lives" where its ports and segments say, and "claims" the
  // addresses of its networks when it lives somewhere. A packet from a claimed address must
  // arrive where a zone claiming it lives (vfirewall/README.md, docs/firewall.md).
  bool lives_somewhere() const { return !ports.empty() || !segments.empty(); }
  bool claims_addresses() const { return lives_somewhere() && !networks.empty(); }
};

struct Rule {
  std::string id;
  std::vector<std::string> from, to;             // zone names; "any"
  std::vector<std::string> source, destination;  // address references / literals; "any"
  std::vector<std::string> service;              // service references / literals; "any"
  Action action = Action::kDrop;
  bool log = false;
  uint32_t log_rate = kLogRateDefault;  // records per second, all workers together
  bool cross_segment = false;
  std::string comment;
  Pos pos;
};

struct Policy {
  std::string from, to;  // zone names
  Action action = Action::kDrop;
  bool log = false;
  uint32_t log_rate = kLogRateDefault;
  Pos pos;
};

struct Wire {
  std::string a, b;
};

struct ConntrackSettings {
  uint32_t size = 65536;         // connections per worker, fixed at start-up
  uint32_t expectations = 1024;  // FTP data expectations per worker, fixed at start-up
  bool recheck_established = true;
  uint32_t log_rate = 100;  // log records per second per rule or policy, unless it sets its own
  uint32_t log_ceiling = 5000;  // log records per second per worker, all rules together
  uint32_t expect_timeout = 60;
};

struct FirewallConfig {
  std::string file;
  std::string hash;
  vnf::EngineConfig engine;
  std::vector<vnf::PortDevice> devices;
  std::vector<Wire> wires;
  std::vector<FwSegment> segments;
  std::vector<Zone> zones;
  std::vector<AddressObject> addresses;
  std::vector<ServiceObject> services;
  std::vector<Rule> rules;
  std::vector<Policy> policies;
  ConntrackSettings conntrack;
  std::vector<uint16_t> ftp_ports{21};
  bool non_ip_accept = true;      // ARP and other non-IP frames pass (an L2 firewall)
  bool ndp_accept = true;         // IPv6 neighbour/router discovery passes without rules
  bool fragments_accept = false;  // non-first fragments (no ports to match)
  // The lint of this config, made once by the loader (parse_policy_sections) so that the
  // programs, the reload and the host switch neither repeat it nor print it twice. Errors
  // among them refuse the config where it is used (throw_on_lint_errors).
  std::vector<Finding> findings;
  bool linted = false;

  const Zone* zone(const std::string& name) const;
  const FwSegment* segment(const std::string& name) const;
  const AddressObject* address(const std::string& name) const;  // linear: see Resolver
  const ServiceObject* service(const std::string& name) const;
};

// Connections the whole table holds: conntrack.size per worker, times the workers.
uint64_t table_capacity(const FirewallConfig& c);
// A zone's limit for all workers together: its conn_limit, or by default its equal share of
// the table (table_capacity / zones); 0: none (`unlimited`).
uint64_t effective_conn_limit(const FirewallConfig& c, const Zone& z);


// Throws vnf::config::ConfigError (file:line:column: path: message).
FirewallConfig load_firewall_config(const std::string& file);
FirewallConfig parse_firewall_config(const vnf::config::ConfigNode& root);

// The rule-language sections (segments, zones, addresses, services, rules, policies,
// conntrack, ftp, options) of `root` into `c`, whose devices (and segments, when the host
// vswitch supplies them) are already set. The host vswitch calls this on its `firewall:`
// section; parse_firewall_config calls it on the whole vfirewall file.
void parse_policy_sections(const vnf::config::ConfigNode& root, FirewallConfig& c);

// A reload may change everything but the engine section, the ports and conntrack sizes.
void check_reloadable(const FirewallConfig& running, const FirewallConfig& next,
                      const vnf::config::ConfigNode& next_root);
std::vector<std::string> diff(const FirewallConfig& a, const FirewallConfig& b);

// Resolves address and service references, each object once (memoised), so a DAG of groups
// with shared members costs O(objects + edges), not one walk per path. Shared by the loader
// (which checks the limits above with it), the compiler and the linter. A loaded config has
// no unknown reference, no cycle and no group deeper than kMaxGroupDepth; on other input the
// resolver does not loop (a cycle or too deep a group resolves to what was reached).
// A set that passes `cap` ranges / entries stops growing there (the loader refuses it), so
// no intermediate result is ever much larger than the limit.
class Resolver {
 public:
  explicit Resolver(const FirewallConfig& c, size_t range_cap = kMaxObjectRanges,
                    size_t service_cap = kMaxObjectServices);

  // refs: object names, literals, "any"; empty: any address / any service.
  AddrSet addresses(const std::vector<std::string>& refs);
  std::vector<ServiceEntry> services(const std::vector<std::string>& refs);
  const AddrSet& address_object(size_t index);  // index into c.addresses
  const std::vector<ServiceEntry>& service_object(size_t index);

  const AddressObject* address(const std::string& name) const;  // O(1)
  const ServiceObject* service(const std::string& name) const;
  std::optional<size_t> address_index(const std::string& name) const;
  std::optional<size_t> service_index(const std::string& name) const;

 private:
  const FirewallConfig& c_;
  size_t range_cap_, service_cap_;
  std::unordered_map<std::string, size_t> addr_idx_, svc_idx_;
  std::vector<std::optional<AddrSet>> addr_;
  std::vector<std::optional<std::vector<ServiceEntry>>> svc_;
  std::vector<uint8_t> addr_busy_, svc_busy_;  // on the resolution path (cycle guard)
};

// Merges service entries: one `any` stands for all; a whole protocol absorbs its ports or
// types; overlapping and adjacent ranges of one protocol become one. Sorted.
void normalize_services(std::vector<ServiceEntry>& v);

// One-shot helpers (a fresh Resolver each call: fine for one rule, use a Resolver for many).
AddrSet resolve_addresses(const FirewallConfig& c, const std::vector<std::string>& refs);
std::vector<ServiceEntry> resolve_services(const FirewallConfig& c,
                                           const std::vector<std::string>& refs);
// "tcp/443", "udp/1000-2000", "icmp/echo-request", "icmp6/128", "tcp", "gre", "47"...
// Returns an error, or "" and appends to `out`.
std::string parse_service_literal(const std::string& text, std::vector<ServiceEntry>& out);

}  // namespace vfirewall
