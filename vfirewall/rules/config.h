// The vfirewall appliance file: engine, ports and wires (the appliance's own part) and the
// rule language (zones, address and service objects, ordered rules, zone-pair policies,
// connection tracking and FTP settings), loaded into plain validated structs. Every
// reference is resolved and every error names file:line:column. docs/firewall.md
// documents every key.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/config_node.h"
#include "common/engine_config.h"
#include "vfirewall/dp/timeouts.h"
#include "vfirewall/rules/address.h"

namespace vfirewall {

enum class Action : uint8_t { kAccept, kDrop, kReject };
const char* action_name(Action a);

// Where something was written, for lint findings and errors found after loading.
struct Pos {
  std::string file;
  int line = 0;
  int column = 0;
  std::string str() const;
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

struct Zone {
  std::string name;
  std::vector<std::string> ports;       // empty: any port
  std::vector<std::string> segments;    // empty: any segment
  std::vector<std::string> networks;    // address references; empty: any address
  Action intra_zone = Action::kAccept;  // default for traffic within the zone
  bool intra_zone_log = false;
  uint32_t conn_limit = 0;  // 0: no limit
  bool window_check = true;
  Timeouts timeouts;
  std::string description;
  Pos pos;
};

struct Rule {
  std::string id;
  std::vector<std::string> from, to;             // zone names; "any"
  std::vector<std::string> source, destination;  // address references / literals; "any"
  std::vector<std::string> service;              // service references / literals; "any"
  Action action = Action::kDrop;
  bool log = false;
  bool cross_segment = false;
  std::string comment;
  Pos pos;
};

struct Policy {
  std::string from, to;  // zone names
  Action action = Action::kDrop;
  bool log = false;
  Pos pos;
};

struct Wire {
  std::string a, b;
};

struct ConntrackSettings {
  uint32_t size = 65536;         // connections per worker, fixed at start-up
  uint32_t expectations = 1024;  // FTP data expectations per worker, fixed at start-up
  bool recheck_established = true;
  uint32_t log_rate = 100;  // log records per second per worker (rule logs)
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

  const Zone* zone(const std::string& name) const;
  const FwSegment* segment(const std::string& name) const;
  const AddressObject* address(const std::string& name) const;
  const ServiceObject* service(const std::string& name) const;
};

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

// Resolution helpers shared by the compiler and the linter (the loader has checked every
// reference, so these do not fail on a loaded config).
AddrSet resolve_addresses(const FirewallConfig& c, const std::vector<std::string>& refs);
std::vector<ServiceEntry> resolve_services(const FirewallConfig& c,
                                           const std::vector<std::string>& refs);
// "tcp/443", "udp/1000-2000", "icmp/echo-request", "icmp6/128", "tcp", "gre", "47"...
// Returns an error, or "" and appends to `out`.
std::string parse_service_literal(const std::string& text, std::vector<ServiceEntry>& out);

}  // namespace vfirewall
