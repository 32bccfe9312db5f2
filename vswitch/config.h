// The vswitch's appliance file: engine, segments (VLAN networks), ports (device + switching
// mode) and MAC learning settings, loaded into plain structs and validated in full before
// anything is applied. docs/config.md documents every key.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config_node.h"
#include "common/engine_config.h"
#include "vrouter/addr.h"
#include "vswitch/limit_config.h"

namespace vfirewall {
struct FirewallConfig;
}
namespace vrouter {
struct RouterSettings;
}

namespace vswitch {

// Ports a reload may add beyond those the switch started with, without a restart: the mbuf
// pool keeps room for their queues (engine.mbufs unset). More can be added while the pool has
// room; beyond that the reload is refused and names engine.mbufs.
inline constexpr unsigned kSparePorts = 4;

enum class PortMode { kAccess, kTrunk };

struct Segment {
  std::string name;
  uint16_t vlan = 0;
  std::string description;
  // Learned MACs the segment may hold (0: no limit). Unless configured, every segment gets an
  // equal share of the table (after static entries), so that a MAC flood in one segment
  // cannot keep the others from learning.
  uint32_t mac_limit = 0;
  bool mac_limit_default = true;
};

// Port security (docs/config.md "Port security"): what a VM may send as. Empty lists check
// nothing; `trusted` lets DHCP server messages and IPv6 router advertisements in.
struct PortSecurity {
  std::vector<std::array<uint8_t, 6>> macs;  // allowed source MACs
  std::vector<vrouter::Prefix> ipv4, ipv6;   // allowed source addresses
  bool trusted = false;                      // access ports: false; trunks: true
  auto operator<=>(const PortSecurity&) const = default;
  bool operator==(const PortSecurity&) const = default;
};
inline constexpr unsigned kMaxSecurityMacs = 16;
inline constexpr unsigned kMaxSecurityPrefixes = 16;

struct SwitchPort {
  std::string name;
  PortMode mode = PortMode::kAccess;
  std::string segment;                // access: its segment
  std::vector<std::string> segments;  // trunk: allowed segments
  std::string native;                 // trunk: segment carried untagged ("" = none)
  uint16_t tpid = 0x8100;             // trunk: TPID of the outer tag
  bool qinq = false;                  // carry customer tags inside the segment tag
  uint32_t mac_limit = 0;             // learned MACs on this port (0 = unlimited)
  PortSecurity security;
  PortLimits limit;  // docs/limits.md
};

struct StaticMac {
  std::string segment;
  std::array<uint8_t, 6> mac{};
  std::string port;
};

struct MacSettings {
  uint32_t table_size = 65536;
  uint32_t aging_s = 300;  // 0: entries never age
  std::vector<StaticMac> statics;
};

inline constexpr uint32_t kDefaultAccessMacLimit = 1024;

struct SwitchConfig {
  std::string file;
  std::string hash;
  vnf::EngineConfig engine;
  std::vector<vnf::PortDevice> devices;  // same order as ports
  std::vector<SwitchPort> ports;
  std::vector<Segment> segments;
  MacSettings mac;
  // The `firewall:` section (east-west filtering between the host's VMs and segments), in the
  // rule language of vfirewall (docs/firewall.md), with the switch's ports and segments.
  std::shared_ptr<const vfirewall::FirewallConfig> firewall;
  // The `router:` section: the segments' gateway (interfaces name segments), in the settings
  // language of vrouter (docs/router.md).
  std::shared_ptr<const vrouter::RouterSettings> router;
  std::vector<std::string> warnings;  // lint findings that do not refuse the file

  const Segment* segment(const std::string& name) const;
  const SwitchPort* port(const std::string& name) const;
  // VLAN IDs the port carries (access: its one; trunk: all allowed incl. native).
  std::vector<uint16_t> port_vlans(const SwitchPort& p) const;
};

// Throws vnf::config::ConfigError (file:line:column: path: message).
SwitchConfig load_switch_config(const std::string& file);
SwitchConfig parse_switch_config(const vnf::config::ConfigNode& root);

// A reload may change segments, port modes and MAC settings; the engine section and the
// port devices need a restart. Throws ConfigError naming the first such difference.
void check_reloadable(const SwitchConfig& running, const SwitchConfig& next,
                      const vnf::config::ConfigNode& next_root);

// One line per difference, for the audit record ("port vm1: segment core -> info").
std::vector<std::string> diff(const SwitchConfig& a, const SwitchConfig& b);

bool parse_mac(const std::string& s, std::array<uint8_t, 6>& out);
std::string format_mac(const uint8_t* mac);

}  // namespace vswitch
