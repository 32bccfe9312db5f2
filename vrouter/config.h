// The router's configuration: interfaces (a port, or a VLAN on a trunk port; or, inside the
// host vswitch, a segment), static routes with distances, neighbour (ARP/ND) settings, ICMP
// rate limits and the segment policy. Loaded into plain structs and validated in full before
// anything is applied; every error names file:line:column. docs/router.md documents every key.
//
// Two deployments read the same routing section:
//   - the `vrouter` appliance: `interfaces[].port` (+ `vlan`) name a port of the file;
//   - the host vswitch (issue #5 integration): `interfaces[].segment` names a vswitch segment,
//     whose VLAN the caller supplies (HostSegments).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/config_node.h"
#include "common/engine_config.h"
#include "vrouter/addr.h"
#include "vrouter/dp/tables.h"

namespace vrouter {

inline constexpr unsigned kMaxInterfaces = 250;  // ids 0..249; 0xFF = none
inline constexpr unsigned kMaxAddrsPerFamily = 4;  // addresses of one family per interface

// What one file may ask of a running router (docs/router.md, "File limits"). Each is checked
// while loading, before anything is applied; the error names the first item beyond the limit.
inline constexpr uint32_t kMaxStaticRoutes = 4'000'000;  // `routes:` and all route files
inline constexpr unsigned kMaxEcmp = 16;                 // next hops of one prefix at one distance
// Distinct (gateway, interface) pairs of all routes; also at most neighbors.max_entries / 2.
inline constexpr uint32_t kMaxNextHops = 4096;
// route_files entries; together at most vnf::kMaxRouteFileBytes.
inline constexpr unsigned kMaxRouteFiles = 64;

using Mac = std::array<uint8_t, 6>;

struct Interface {
  std::string name;
  std::string port;     // appliance: the port carrying it
  uint16_t vlan = 0;    // appliance: 802.1Q VID on that port, 0 = untagged; host: segment VLAN
  std::string segment;  // policy segment (appliance default: the interface name)
  Mac mac{};
  bool mac_set = false;  // appliance default: the port's MAC
  uint16_t mtu = 1500;
  std::vector<IfAddr> ipv4, ipv6;
  std::string description;
};

struct NextHop {
  IpAddr gw;
  uint8_t iface = kNoIface;  // the interface whose subnet holds gw
  auto operator<=>(const NextHop&) const = default;
  bool operator==(const NextHop&) const = default;
};

// A source position kept compactly (a million routes from route files).
struct Pos {
  uint32_t file = 0;  // index into RouterSettings::files (0: the YAML file)
  uint32_t line = 0;
  uint32_t column = 0;
  uint32_t index = 0;  // YAML: the position in `routes:`
};

struct RouteSpec {
  Prefix prefix;
  uint32_t nh_set = 0;       // index into RouterSettings::nh_sets (gateways, ECMP); 0 = none
  uint8_t iface = kNoIface;  // `interface:` without `via`: on-link route
  uint8_t distance = 1;
  bool blackhole = false;
  bool cross_segment = false;
  Pos pos;
};

struct StaticNeighbor {
  uint8_t iface = kNoIface;
  IpAddr ip;
  Mac mac{};
};

struct NeighborSettings {
  uint32_t probe_interval_ms = 1000;  // resolution retries and next-hop reachability probes
  uint32_t probe_misses = 3;          // unanswered probes before a neighbour counts as failed
  uint32_t reachable_ms = 30000;      // a confirmed entry is REACHABLE this long, then STALE
  uint32_t aging_s = 300;             // an unused STALE entry is removed after this
  uint32_t max_entries = 4096;        // neighbour table size (fixed at start-up)
  uint32_t hold_packets = 4;          // packets held per unresolved neighbour
  uint32_t hold_total = 256;          // packets held in all
  std::vector<StaticNeighbor> statics;
};

struct IcmpSettings {
  uint32_t rate = 100;  // ICMP messages generated per second, per worker (0: none)
  uint32_t burst = 50;
};

struct FibSettings {  // 0: sized from the routes loaded
  uint32_t ipv4_max_routes = 0, ipv4_tbl8_groups = 0;
  uint32_t ipv6_max_routes = 0, ipv6_tbl8_groups = 0;
};

struct RouterSettings {
  std::vector<Interface> interfaces;
  std::vector<std::string> segments;   // distinct interface segments, index = segment id
  std::vector<uint8_t> iface_segment;  // per interface: its segment id
  // apart[a] has bit b set when segments a and b are kept apart by the segment policy.
  std::array<uint64_t, kMaxSegments> apart{};
  std::vector<std::vector<std::string>> apart_groups;  // as written, for diffs and docs
  std::vector<std::vector<NextHop>> nh_sets{{}};       // [0] is the empty set
  std::vector<RouteSpec> routes;
  std::vector<std::string> files;  // Pos::file names (the YAML file first, then route files)
  std::vector<std::string> route_files;
  NeighborSettings neighbors;
  IcmpSettings icmp;
  FibSettings fib;

  const Interface* interface(const std::string& name) const;
  int interface_index(const std::string& name) const;
  // The interface whose subnet holds `a` (kNoIface if none).
  uint8_t iface_for(const IpAddr& a) const;
  bool is_local(const IpAddr& a) const;  // one of our interface addresses
};

// Host deployment: maps a vswitch segment name to its VLAN (nullopt: no such segment).
using HostSegments = std::function<std::optional<uint16_t>(const std::string&)>;

// Reads `interfaces`, `routes`, `route_files`, `neighbors`, `icmp`, `segment_policy` and
// `fib` from the map `n` (the appliance file's root, or the host file's `router:` section).
// `port_names`: the appliance's ports; `host`: set in the host deployment (then interfaces
// name a `segment` instead of a port). Throws vnf::config::ConfigError.
RouterSettings parse_router_settings(const vnf::config::ConfigNode& n,
                                     const std::vector<std::string>& port_names,
                                     const HostSegments* host = nullptr);
// The keys parse_router_settings reads (for the caller's allow_keys).
extern const std::vector<std::string_view> kRouterSettingsKeys;

struct RouterConfig {
  std::string file;
  std::string hash;
  vnf::EngineConfig engine;
  std::vector<vnf::PortDevice> devices;
  RouterSettings settings;
};

RouterConfig load_router_config(const std::string& file);
RouterConfig parse_router_config(const vnf::config::ConfigNode& root);

// A reload may change interfaces' addresses, routes and settings; the engine section, the
// port devices and neighbors.max_entries need a restart.
void check_reloadable(const RouterConfig& running, const RouterConfig& next,
                      const vnf::config::ConfigNode& next_root);
std::vector<std::string> diff(const RouterSettings& a, const RouterSettings& b);

bool parse_mac(const std::string& s, Mac& out);
std::string format_mac(const uint8_t* mac);
// "200ms", "2s", "1m"; a plain number is seconds.
uint32_t parse_millis(const vnf::config::ConfigNode& n, uint32_t min_ms, uint32_t max_ms);

}  // namespace vrouter
