// The engine's part of an appliance file: the `engine:` section (lcores, memory, logging) and
// the device half of each entry under `ports:` (what DPDK device backs the port). The
// function half of a port (VLAN mode, segment...) is read by the function's own loader.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config_node.h"

namespace vnf {

enum class PortKind { kTap, kAfPacket, kVhost, kMemif, kPcap, kRing, kNull, kPci, kBond };

std::string_view port_kind_name(PortKind k);

struct BondSpec;

struct PortDevice {
  std::string name;  // the port's name in config, logs and telemetry
  PortKind kind = PortKind::kNull;
  std::string iface;             // tap: TAP interface to create; af_packet: interface to attach to
  std::string socket;            // vhost, memif: unix socket path
  std::string role;              // memif: server | client
  uint32_t id = 0;               // memif: interface id
  bool client = false;           // vhost: connect to the socket instead of listening
  std::string rx_pcap, tx_pcap;  // pcap
  bool infinite_rx = false;      // pcap: replay rx_pcap forever
  std::string pci;               // pci: bus address (0000:01:00.0)
  std::string devargs;           // extra driver arguments, appended verbatim
  std::string mac;               // optional MAC for the device (tap)
  // bond: its mode, members and failover settings (common/bond.h has the run-time side).
  std::shared_ptr<const BondSpec> bond;
  uint16_t rx_desc = 1024;
  uint16_t tx_desc = 1024;
  // The port's MTU (68-9000) as configured; 0: the default (af_packet: the interface's MTU
  // when the appliance starts; every other kind: 1500). Frames longer than mtu + Ethernet
  // header + two VLAN tags are dropped on the way in (frame_too_long) and out (egress_too_long).
  uint16_t mtu = 0;
  // The MTU in force, resolved at start-up (resolve_port_mtus); 0 until then.
  uint16_t effective_mtu = 0;

  // Where the port was defined, for errors found after loading.
  std::string file;
  int line = 0;
  int column = 0;

  // DPDK device name: the vdev name (net_<driver>_<name>) or the PCI address.
  std::string device_name() const;
  // The full EAL argument value: "--vdev <this>" for vdevs, "-a <this>" for pci.
  std::string device_args() const;
  // device_args() after the device name: what rte_eal_hotplug_add takes as its arguments.
  std::string device_params() const;
  bool same_device(const PortDevice& o) const;
  // The MTU the engine works with: effective_mtu once resolved, else the configured or
  // default one.
  uint32_t port_mtu() const { return effective_mtu ? effective_mtu : (mtu ? mtu : 1500); }
};

// A bond port (`type: bond`, settings under `bond:`): DPDK's net_bonding over member ports of
// any other kind, which are defined inside the bond and are not ports of their own (no stage
// sees them). The engine chooses the active member from the members' link state, which for
// af_packet and tap members comes from the kernel (netlink): their drivers never report a
// change.
enum class BondMode { kActiveBackup, kBalanceXor, kLacp };
enum class BondHash { kL2, kL23, kL34 };
std::string_view bond_mode_name(BondMode m);
std::string_view bond_hash_name(BondHash h);

struct BondSpec {
  BondMode mode = BondMode::kActiveBackup;
  std::vector<PortDevice> members;  // at least one; names unique among all ports and members
  std::string primary;              // active-backup: the preferred member (default: the first)
  bool revert = true;               // active-backup: back to the primary once it is up again
  BondHash hash = BondHash::kL2;    // balance-xor, 802.3ad: which headers choose the member
  uint32_t up_delay_ms = 0;         // a member is used once its link has been up this long
  uint32_t down_delay_ms = 0;       // ... and given up once its link has been down this long
  uint32_t link_poll_ms = 100;      // members whose link comes neither from netlink nor LSC
  bool operator==(const BondSpec& o) const;
};

// Keys of a port entry that belong to the device. A function's loader accepts these plus its own.
extern const std::vector<std::string_view> kPortDeviceKeys;

// `engine.management`: the management side of the host (the service NICs are separate). The
// metrics endpoint listens on address:metrics_port (both given, or no endpoint); the log
// shipper will send from the same address. Fixed at start-up.
struct ManagementConfig {
  std::string address;        // an IPv4 or IPv6 literal, never a wildcard; empty: none
  uint16_t metrics_port = 0;  // 0: no metrics endpoint
  bool operator==(const ManagementConfig&) const = default;
};

// `engine.events`: where event records go (common/events.h, common/shipper.h). Fixed at
// start-up (a reload that changes it is refused).
struct CollectorConfig {
  enum class Transport : uint8_t { kTcp, kTls, kUdp };
  Transport transport = Transport::kTcp;
  std::string address;        // IPv4 or IPv6 literal
  uint16_t port = 0;          // default 514 (tcp, udp), 6514 (tls)
  std::string ca, cert, key;  // tls: the CA file (required), our certificate and key (optional)
  std::string name;           // tls: the name the collector's certificate must carry
  bool operator==(const CollectorConfig&) const = default;
};

struct EventsConfig {
  bool enabled = false;                // the section is present
  std::string file;                    // JSON lines, appended; empty: none
  uint64_t spool_bytes = 64ull << 20;  // per collector, in the state directory
  uint32_t queue = 65536;              // records between the control thread and the shipper
  std::vector<CollectorConfig> collectors;
  bool operator==(const EventsConfig&) const = default;
};

struct EngineConfig {
  std::string name = "vnf";            // instance name; default file prefix is vnf-<name>
  std::vector<unsigned> lcores{0, 1};  // first: main lcore (control); others: workers
  bool hugepages = true;
  // DPDK secondary processes (dpdk-dumpcap, dpdk-pdump, dpdk-proc-info) may attach: the
  // hugepage files stay in the hugetlbfs mount while the appliance runs (without it they are
  // unlinked at once, and nothing is left behind even after a crash).
  bool secondary_processes = false;
  uint32_t memory_mb = 256;
  uint32_t mbufs = 0;          // 0: computed from ports, queues and descriptors
  uint32_t idle_sleep_us = 0;  // 0: poll without pause (the DPDK way)
  std::string file_prefix;     // default vnf-<name>
  std::string log_level = "info";
  std::string log_file;               // empty: stderr only
  std::vector<std::string> eal_args;  // passed to rte_eal_init verbatim
  ManagementConfig management;
  EventsConfig events;
  // Not a key: set by a program whose reloads add ports (the vswitch). Room in the mbuf pool
  // for that many more ports at the default descriptor counts (when engine.mbufs is unset).
  unsigned spare_ports = 0;

  unsigned workers() const { return static_cast<unsigned>(lcores.size() - 1); }
  std::string prefix() const { return file_prefix.empty() ? "vnf-" + name : file_prefix; }
};

// Parses `engine:` (optional: defaults apply).
EngineConfig parse_engine(const config::ConfigNode& root);
// Parses the device keys of one `ports:` entry (the caller has checked the key set).
PortDevice parse_port_device(const config::ConfigNode& port);
// Before the EAL starts (which creates the devices): the MTU of every port. af_packet without
// `mtu`: the interface's current MTU (throws if it cannot be read or is above 9000).
void resolve_port_mtus(std::vector<PortDevice>& ports);

// What a reload changes in the bonds, one line each ("bond uplink: members added: eth2").
std::vector<std::string> diff_bonds(const std::vector<PortDevice>& running,
                                    const std::vector<PortDevice>& next);

// Checks names are unique and devices don't collide (same iface/socket twice).
void validate_port_devices(const std::vector<PortDevice>& ports,
                           const std::vector<config::ConfigNode>& nodes);

// The engine section is fixed at start-up: throws ConfigError, naming the first key that
// differs, when `next` changes anything in it (a reload must not silently ignore a change).
void check_engine_unchanged(const EngineConfig& running, const EngineConfig& next,
                            const config::ConfigNode& next_root);

// A value fixed at start-up (a table size...): `same` false refuses the reload at `at`.
struct FixedAtStart {
  bool same;
  config::ConfigNode at;
  std::string what;  // "mac.table_size"
};

// The one restart-only check of every program: the engine section (check_engine_unchanged),
// the ports (one added, removed, or with another device needs a restart, except tap and vhost
// ports where `hot_plug`: the program adds and removes those live), then the program's own
// values fixed at start-up. Throws ConfigError at the first difference.
void check_restart_only(const EngineConfig& running_engine,
                        const std::vector<PortDevice>& running_ports,
                        const EngineConfig& next_engine, const std::vector<PortDevice>& next_ports,
                        const config::ConfigNode& next_root,
                        const std::vector<FixedAtStart>& fixed = {}, bool hot_plug = false);

bool valid_name(std::string_view s);  // [A-Za-z0-9_.-]{1,31}, starts with a letter or digit

}  // namespace vnf
