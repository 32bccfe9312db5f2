#include "common/engine_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include <rte_config.h>

#include <fmt/format.h>

#include "common/af_packet.h"

namespace vnf {

using config::ConfigNode;

const std::vector<std::string_view> kPortDeviceKeys = {
    "name",   "type",    "iface",   "socket",      "role", "id",
    "client", "rx_pcap", "tx_pcap", "infinite_rx", "pci",  "devargs",
    "mac",    "rx_desc", "tx_desc", "description", "mtu",  "bond"};

namespace {

struct KindName {
  PortKind kind;
  std::string_view name;
  std::string_view driver;
};
constexpr KindName kKinds[] = {
    {PortKind::kTap, "tap", "net_tap"},       {PortKind::kAfPacket, "af_packet", "net_af_packet"},
    {PortKind::kVhost, "vhost", "net_vhost"}, {PortKind::kMemif, "memif", "net_memif"},
    {PortKind::kPcap, "pcap", "net_pcap"},    {PortKind::kRing, "ring", "net_ring"},
    {PortKind::kNull, "null", "net_null"},    {PortKind::kPci, "pci", ""},
    {PortKind::kBond, "bond", "net_bonding"},
};

const KindName& kind_info(PortKind k) {
  for (const auto& e : kKinds)
    if (e.kind == k) return e;
  return kKinds[0];
}

bool valid_mac(std::string_view s) {
  if (s.size() != 17) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2) {
      if (s[i] != ':') return false;
    } else if (!isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

// A Linux interface name as the kernel takes it (dev_valid_name: 1-15 bytes, not "." or "..",
// no '/', ':' or white space), narrowed to characters that cannot end or extend a driver
// argument list ("iface=a,mac=..."): letters, digits and _ . + -.
bool valid_ifname(std::string_view s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  for (char c : s)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '+' && c != '-')
      return false;
  return true;
}

// A PCI address as the EAL takes it: [domain:]bus:device.function, hex.
bool valid_pci(std::string_view s) {
  auto hex = [](std::string_view x, size_t n) {
    return x.size() == n &&
           std::all_of(x.begin(), x.end(), [](char c) { return isxdigit(static_cast<unsigned char>(c)); });
  };
  if (s.size() == 12) {
    if (s[4] != ':' || !hex(s.substr(0, 4), 4)) return false;
    s.remove_prefix(5);
  }
  return s.size() == 7 && s[2] == ':' && s[5] == '.' && hex(s.substr(0, 2), 2) &&
         hex(s.substr(3, 2), 2) && s[6] >= '0' && s[6] <= '7';
}

// Paths and names go into the EAL's device argument string, where ',' separates arguments:
// one in a value would add an argument of its own.
void no_devarg_separator(const ConfigNode& n, const std::string& v) {
  if (v.find(',') != std::string::npos)
    n.fail(fmt::format("'{}' contains ',', which would split the driver's argument list", v));
}

// A unix socket path: absolute (the appliance's working directory is nobody's business) and
// short enough for sockaddr_un.
std::string socket_path(const ConfigNode& n) {
  const std::string v = n.str();
  if (v.empty() || v[0] != '/') n.fail(fmt::format("'{}': give the socket's absolute path", v));
  if (v.size() >= 108) n.fail("socket path longer than 107 bytes (the unix socket limit)");
  no_devarg_separator(n, v);
  return v;
}

// The log is appended to by root for as long as the appliance runs: a FIFO would block the
// start, a device swallow it, and a directory others can write lets them swap the file for a
// link to anything root can write.
void check_log_file(const ConfigNode& n, const std::string& path) {
  if (path[0] != '/') n.fail(fmt::format("'{}': give the log file's absolute path", path));
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    n.fail(fmt::format("'{}' exists and is not a regular file", path));
  const std::string dir = path.substr(0, std::max<size_t>(1, path.rfind('/')));
  if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    n.fail(fmt::format("directory {} is writable by other users: put the log in a directory only "
                       "root can write, e.g. /var/log/vnf",
                       dir));
}

std::vector<std::string_view> managed_devargs(PortKind k) {
  switch (k) {
    case PortKind::kTap:
      return {"iface", "mac"};
    case PortKind::kAfPacket:
      return {"iface", "qpairs", "blocksz", "framesz", "framecnt", "qdisc_bypass"};
    case PortKind::kVhost:
      return {"iface", "client"};
    case PortKind::kMemif:
      return {"role", "id", "socket", "socket-abstract"};
    case PortKind::kPcap:
      return {"rx_pcap", "tx_pcap", "infinite_rx"};
    default:
      return {};
  }
}

}  // namespace

std::string_view port_kind_name(PortKind k) { return kind_info(k).name; }

std::string_view bond_mode_name(BondMode m) {
  switch (m) {
    case BondMode::kActiveBackup:
      return "active-backup";
    case BondMode::kBalanceXor:
      return "balance-xor";
    case BondMode::kLacp:
      return "802.3ad";
  }
  return "?";
}

std::string_view bond_hash_name(BondHash h) {
  switch (h) {
    case BondHash::kL2:
      return "l2";
    case BondHash::kL23:
      return "l23";
    case BondHash::kL34:
      return "l34";
  }
  return "?";
}

bool BondSpec::operator==(const BondSpec& o) const {
  if (mode != o.mode || primary != o.primary || revert != o.revert || hash != o.hash ||
      up_delay_ms != o.up_delay_ms || down_delay_ms != o.down_delay_ms ||
      link_poll_ms != o.link_poll_ms || members.size() != o.members.size())
    return false;
  for (size_t i = 0; i < members.size(); ++i)
    if (!members[i].same_device(o.members[i])) return false;
  return true;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 31 || !isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') return false;
  return true;
}

std::string PortDevice::device_name() const {
  if (kind == PortKind::kPci) return pci;
  return fmt::format("{}_{}", kind_info(kind).driver, name);
}

std::string PortDevice::device_args() const {
  std::string a = device_name();
  auto add = [&a](std::string_view k, const std::string& v) {
    if (!v.empty()) a += fmt::format(",{}={}", k, v);
  };
  switch (kind) {
    case PortKind::kTap:
      add("iface", iface.empty() ? name : iface);
      add("mac", mac);
      break;
    case PortKind::kAfPacket: {
      add("iface", iface);
      a += ",qdisc_bypass=1";
      const AfPacketGeometry g = af_packet_geometry(port_mtu(), rx_desc);
      a += fmt::format(",framesz={},blocksz={},framecnt={}", g.frame_size, g.block_size,
                       g.frame_count);
      break;
    }
    case PortKind::kVhost:
      add("iface", socket);
      if (client) a += ",client=1";
      break;
    case PortKind::kMemif:
      add("role", role.empty() ? std::string("server") : role);
      add("id", std::to_string(id));
      add("socket", socket);
      a += ",socket-abstract=no";  // a real file: visible, with file permissions
      break;
    case PortKind::kPcap:
      add("rx_pcap", rx_pcap);
      add("tx_pcap", tx_pcap);
      if (infinite_rx) a += ",infinite_rx=1";
      break;
    case PortKind::kNull:
    case PortKind::kRing:
    case PortKind::kPci:
    case PortKind::kBond:  // created by the engine (rte_eth_bond_create), not by the EAL
      break;
  }
  if (!devargs.empty()) a += "," + devargs;
  return a;
}

std::string PortDevice::device_params() const {
  const std::string a = device_args();
  const size_t comma = a.find(',');
  return comma == std::string::npos ? std::string() : a.substr(comma + 1);
}

bool PortDevice::same_device(const PortDevice& o) const {
  // Compared as configured: a running port's resolved MTU is not a change.
  PortDevice a = *this, b = o;
  a.effective_mtu = b.effective_mtu = 0;
  if (kind == PortKind::kBond && kind == o.kind && !(bond && o.bond && *bond == *o.bond))
    return false;
  return name == o.name && kind == o.kind && mtu == o.mtu && a.device_args() == b.device_args() &&
         rx_desc == o.rx_desc && tx_desc == o.tx_desc;
}

void resolve_port_mtus(std::vector<PortDevice>& ports) {
  for (auto& d : ports) {
    if (d.kind == PortKind::kBond) {
      // The members carry the bond's mtu; without one, the smallest of theirs.
      auto spec = std::make_shared<BondSpec>(*d.bond);
      for (auto& m : spec->members) m.mtu = d.mtu;
      resolve_port_mtus(spec->members);
      uint32_t least = 9000;
      for (const auto& m : spec->members) least = std::min<uint32_t>(least, m.port_mtu());
      d.effective_mtu = static_cast<uint16_t>(d.mtu ? d.mtu : least);
      for (auto& m : spec->members) m.effective_mtu = d.effective_mtu;
      d.bond = spec;
      continue;
    }
    if (d.kind != PortKind::kAfPacket || d.mtu) {
      d.effective_mtu = static_cast<uint16_t>(d.port_mtu());
      continue;
    }
    const uint32_t m = interface_mtu(d.iface);
    if (m == 0)
      throw std::runtime_error(fmt::format(
          "{}:{}:{}: port '{}': cannot read the MTU of interface {} (does it exist?)", d.file,
          d.line, d.column, d.name, d.iface));
    if (m < 68 || m > 9000)
      throw std::runtime_error(fmt::format(
          "{}:{}:{}: port '{}': interface {} has MTU {}; an af_packet port carries 68-9000: set "
          "the port's mtu (the appliance then sets the interface's)",
          d.file, d.line, d.column, d.name, d.iface, m));
    d.effective_mtu = static_cast<uint16_t>(m);
  }
}

namespace {

// engine.management: {address, metrics_port}.
ManagementConfig parse_management(const ConfigNode& m) {
  m.expect_map();
  m.allow_keys({"address", "metrics_port"});
  ManagementConfig c;
  if (m.has("address")) {
    const ConfigNode a = m["address"];
    c.address = a.str();
    in6_addr v6{};
    in_addr v4{};
    if (inet_pton(AF_INET, c.address.c_str(), &v4) == 1) {
      if (v4.s_addr == 0) a.fail("0.0.0.0 is every address: give the management address itself");
    } else if (inet_pton(AF_INET6, c.address.c_str(), &v6) == 1) {
      if (IN6_IS_ADDR_UNSPECIFIED(&v6))
        a.fail(":: is every address: give the management address itself");
      if (IN6_IS_ADDR_V4MAPPED(&v6)) a.fail("an IPv4-mapped IPv6 address: give the IPv4 address");
    } else {
      a.fail(fmt::format("'{}' is not an IPv4 or IPv6 address (no names, no prefix length)",
                         c.address));
    }
  }
  if (m.has("metrics_port")) {
    c.metrics_port = static_cast<uint16_t>(m["metrics_port"].uint(1, 65535));
    if (c.address.empty())
      m["metrics_port"].fail("the metrics endpoint needs management.address to listen on");
  }
  return c;
}

// engine.events: {file, spool_bytes, queue, collectors: [{transport, address, port, ca, cert,
// key, name}]}. Collectors are reached from management.address only.
EventsConfig parse_events(const ConfigNode& ev, const ManagementConfig& mgmt) {
  ev.expect_map();
  ev.allow_keys({"file", "spool_bytes", "queue", "collectors"});
  EventsConfig c;
  c.enabled = true;
  c.file = ev.str_or("file", "");
  if (!c.file.empty()) check_log_file(ev["file"], c.file);
  c.spool_bytes = ev.uint_or("spool_bytes", c.spool_bytes, 0, 1ull << 40);
  c.queue = static_cast<uint32_t>(ev.uint_or("queue", c.queue, 16, 1u << 24));
  if (!ev.has("collectors")) return c;
  ev["collectors"].expect_seq();
  for (const auto& n : ev["collectors"].items()) {
    n.expect_map();
    n.allow_keys({"transport", "address", "port", "ca", "cert", "key", "name"});
    CollectorConfig k;
    const std::string t = n.str_or("transport", "tcp");
    if (t == "tcp")
      k.transport = CollectorConfig::Transport::kTcp;
    else if (t == "tls")
      k.transport = CollectorConfig::Transport::kTls;
    else if (t == "udp")
      k.transport = CollectorConfig::Transport::kUdp;
    else
      n["transport"].fail(fmt::format("'{}': transport is tcp, tls or udp", t));
    const ConfigNode a = n.required("address");
    k.address = a.str();
    in_addr v4{};
    in6_addr v6{};
    const bool is4 = inet_pton(AF_INET, k.address.c_str(), &v4) == 1;
    const bool is6 = !is4 && inet_pton(AF_INET6, k.address.c_str(), &v6) == 1;
    if (!is4 && !is6)
      a.fail(fmt::format("'{}' is not an IPv4 or IPv6 address (no names)", k.address));
    const uint16_t def = k.transport == CollectorConfig::Transport::kTls ? 6514 : 514;
    k.port = static_cast<uint16_t>(n.uint_or("port", def, 1, 65535));
    const bool tls = k.transport == CollectorConfig::Transport::kTls;
    for (const char* f : {"ca", "cert", "key", "name"}) {
      if (!n.has(f)) continue;
      if (!tls) n[f].fail(fmt::format("{} is for transport: tls", f));
      const std::string v = n[f].str();
      if (std::string_view(f) != "name" && (v.empty() || v[0] != '/'))
        n[f].fail(fmt::format("'{}': give the file's absolute path", v));
    }
    if (tls) {
      k.ca = n.required("ca").str();
      k.cert = n.str_or("cert", "");
      k.key = n.str_or("key", "");
      k.name = n.str_or("name", "");
      if (k.cert.empty() != k.key.empty())
        n[k.cert.empty() ? "key" : "cert"].fail("cert and key go together");
    }
    if (mgmt.address.empty())
      a.fail("collectors are reached from the management address: set engine.management.address");
    in_addr m4{};
    const bool mgmt4 = inet_pton(AF_INET, mgmt.address.c_str(), &m4) == 1;
    if (mgmt4 != is4)
      a.fail(fmt::format("{} and the management address {} are not of one address family",
                         k.address, mgmt.address));
    c.collectors.push_back(std::move(k));
  }
  return c;
}

}  // namespace

EngineConfig parse_engine(const ConfigNode& root) {
  EngineConfig c;
  ConfigNode e = root["engine"];
  if (!e.defined()) return c;
  e.allow_keys({"name", "lcores", "hugepages", "memory_mb", "mbufs", "idle_sleep_us", "file_prefix",
                "log_level", "log_file", "eal_args", "secondary_processes", "management",
                "events"});
  c.name = e.str_or("name", c.name);
  if (!valid_name(c.name)) e["name"].fail("instance name must match [A-Za-z0-9_.-]{1,31}");
  if (e.has("lcores")) {
    c.lcores.clear();
    std::set<unsigned> seen;
    for (const auto& n : e["lcores"].items()) {
      const auto v = static_cast<unsigned>(n.uint(0, RTE_MAX_LCORE - 1));
      if (!seen.insert(v).second) n.fail(fmt::format("lcore {} listed twice", v));
      c.lcores.push_back(v);
    }
    if (c.lcores.size() < 2)
      e["lcores"].fail("need at least two lcores: the main (control) lcore and one worker");
  }
  c.hugepages = e.bool_or("hugepages", c.hugepages);
  c.secondary_processes = e.bool_or("secondary_processes", c.secondary_processes);
  c.memory_mb = static_cast<uint32_t>(e.uint_or("memory_mb", c.memory_mb, 64, 1 << 20));
  c.mbufs = static_cast<uint32_t>(e.uint_or("mbufs", 0, 0, 1u << 26));
  if (c.mbufs != 0 && c.mbufs < 1024) e["mbufs"].fail("at least 1024 mbufs (or 0 for automatic)");
  c.idle_sleep_us = static_cast<uint32_t>(e.uint_or("idle_sleep_us", 0, 0, 100000));
  c.file_prefix = e.str_or("file_prefix", "");
  if (!c.file_prefix.empty() && !valid_name(c.file_prefix))
    e["file_prefix"].fail("file prefix must match [A-Za-z0-9_.-]{1,31}");
  c.log_level = e.str_or("log_level", c.log_level);
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical"};
  if (!levels.count(c.log_level))
    e["log_level"].fail("log level must be one of trace, debug, info, warn, error, critical");
  c.log_file = e.str_or("log_file", "");
  if (!c.log_file.empty()) check_log_file(e["log_file"], c.log_file);
  for (const auto& n : e["eal_args"].items()) c.eal_args.push_back(n.str());
  if (e.has("management")) c.management = parse_management(e["management"]);
  if (e.has("events")) c.events = parse_events(e["events"], c.management);
  return c;
}

namespace {

std::shared_ptr<const BondSpec> parse_bond(const ConfigNode& b, const PortDevice& bond) {
  b.expect_map();
  b.allow_keys({"mode", "members", "primary", "revert", "hash", "lacp_rate", "up_delay_ms",
                "down_delay_ms", "link_poll_ms"});
  auto spec = std::make_shared<BondSpec>();
  const std::string mode = b.required("mode").str();
  if (mode == "active-backup") {
    spec->mode = BondMode::kActiveBackup;
  } else if (mode == "balance-xor") {
    spec->mode = BondMode::kBalanceXor;
  } else if (mode == "802.3ad") {
    spec->mode = BondMode::kLacp;
  } else {
    b["mode"].fail(
        fmt::format("unknown bond mode '{}' (one of active-backup, balance-xor, "
                    "802.3ad)",
                    mode));
  }
  const ConfigNode members = b.required("members");
  members.expect_seq();
  std::vector<std::string_view> keys;
  for (auto k : kPortDeviceKeys)
    if (k != "bond" && k != "mtu") keys.push_back(k);
  std::set<std::string> names;
  for (const auto& m : members.items()) {
    m.expect_map();
    if (m.has("mtu")) m["mtu"].fail("a member carries its bond's mtu: set mtu on the bond");
    if (m.has("type") && m["type"].str() == "bond")
      m["type"].fail("a bond's member cannot be a bond");
    m.allow_keys(keys);
    PortDevice d = parse_port_device(m);
    if (d.name == bond.name) m["name"].fail("a member cannot have its bond's name");
    if (!names.insert(d.name).second)
      m["name"].fail(fmt::format("member '{}' listed twice", d.name));
    spec->members.push_back(std::move(d));
  }
  if (spec->members.empty()) members.fail("a bond needs at least one member");
  if (spec->members.size() > 8) members.fail("at most 8 members");
  if (b.has("primary")) {
    spec->primary = b["primary"].str();
    if (spec->mode != BondMode::kActiveBackup)
      b["primary"].fail("'primary' applies to active-backup bonds");
    if (!names.count(spec->primary))
      b["primary"].fail(fmt::format("'{}' is not a member of this bond", spec->primary));
  } else {
    spec->primary = spec->members.front().name;
  }
  if (b.has("revert")) {
    if (spec->mode != BondMode::kActiveBackup)
      b["revert"].fail("'revert' applies to active-backup bonds");
    const std::string r = b["revert"].str();
    if (r != "always" && r != "never")
      b["revert"].fail("revert is always (back to the primary when it is up again) or never");
    spec->revert = r == "always";
  }
  if (b.has("hash")) {
    if (spec->mode == BondMode::kActiveBackup)
      b["hash"].fail("'hash' applies to balance-xor and 802.3ad bonds");
    const std::string h = b["hash"].str();
    if (h == "l2") {
      spec->hash = BondHash::kL2;
    } else if (h == "l23") {
      spec->hash = BondHash::kL23;
    } else if (h == "l34") {
      spec->hash = BondHash::kL34;
    } else {
      b["hash"].fail(fmt::format("unknown hash '{}' (one of l2, l23, l34)", h));
    }
  }
  if (b.has("lacp_rate")) {
    if (spec->mode != BondMode::kLacp) b["lacp_rate"].fail("'lacp_rate' applies to 802.3ad bonds");
    const std::string r = b["lacp_rate"].str();
    if (r == "fast")
      b["lacp_rate"].fail(
          "lacp_rate fast is not available: DPDK 22.11's net_bonding never asks its partner for "
          "fast LACPDUs (it does send fast when the partner asks). A member's link loss is seen "
          "at once from its link state, not from LACP timeouts");
    if (r != "slow") b["lacp_rate"].fail("lacp_rate is slow");
  }
  spec->up_delay_ms = static_cast<uint32_t>(b.uint_or("up_delay_ms", 0, 0, 600000));
  spec->down_delay_ms = static_cast<uint32_t>(b.uint_or("down_delay_ms", 0, 0, 600000));
  spec->link_poll_ms = static_cast<uint32_t>(b.uint_or("link_poll_ms", 100, 10, 10000));
  return spec;
}

}  // namespace

PortDevice parse_port_device(const ConfigNode& n) {
  PortDevice d;
  d.file = n.file();
  d.line = n.line();
  d.column = n.column();
  d.name = n.required("name").str();
  if (!valid_name(d.name)) n["name"].fail("port name must match [A-Za-z0-9_.-]{1,31}");
  const std::string type = n.required("type").str();
  bool found = false;
  for (const auto& k : kKinds) {
    if (k.name == type) {
      d.kind = k.kind;
      found = true;
    }
  }
  if (!found) {
    std::vector<std::string_view> names;
    for (const auto& k : kKinds) names.push_back(k.name);
    const std::string hint = config::nearest(type, names);
    n["type"].fail(
        fmt::format("unknown port type '{}'{} (one of tap, af_packet, vhost, memif, "
                    "pcap, ring, null, pci, bond)",
                    type, hint.empty() ? "" : fmt::format(", did you mean '{}'?", hint)));
  }
  auto need = [&](std::string_view key) { return n.required(key).str(); };
  auto forbid_others = [&](std::initializer_list<std::string_view> allowed) {
    static const std::vector<std::string_view> specific = {
        "iface",   "socket",  "role",        "id",  "client",
        "rx_pcap", "tx_pcap", "infinite_rx", "pci", "mac"};
    for (auto k : specific) {
      bool ok = false;
      for (auto a : allowed) ok |= (a == k);
      if (!ok && n.has(k)) n[k].fail(fmt::format("'{}' does not apply to a {} port", k, type));
    }
  };
  auto ifname = [&](const ConfigNode& at, const std::string& v) {
    if (!valid_ifname(v))
      at.fail(fmt::format("'{}' is not an interface name: 1-15 characters of A-Z a-z 0-9 _ . + -",
                          v));
    return v;
  };
  switch (d.kind) {
    case PortKind::kTap:
      forbid_others({"iface", "mac"});
      d.iface = ifname(n.has("iface") ? n["iface"] : n["name"], n.str_or("iface", d.name));
      d.mac = n.str_or("mac", "");
      if (!d.mac.empty() && !valid_mac(d.mac))
        n["mac"].fail("expected a MAC like 02:00:00:00:00:01");
      break;
    case PortKind::kAfPacket:
      forbid_others({"iface"});
      d.iface = ifname(n["iface"], need("iface"));
      break;
    case PortKind::kVhost:
      forbid_others({"socket", "client"});
      need("socket");
      d.socket = socket_path(n["socket"]);
      d.client = n.bool_or("client", false);
      break;
    case PortKind::kMemif:
      forbid_others({"socket", "role", "id"});
      need("socket");
      d.socket = socket_path(n["socket"]);
      d.role = n.str_or("role", "server");
      if (d.role != "server" && d.role != "client") n["role"].fail("role is server or client");
      d.id = static_cast<uint32_t>(n.uint_or("id", 0, 0, UINT32_MAX));
      break;
    case PortKind::kPcap:
      forbid_others({"rx_pcap", "tx_pcap", "infinite_rx"});
      d.rx_pcap = n.str_or("rx_pcap", "");
      d.tx_pcap = n.str_or("tx_pcap", "");
      if (n.has("rx_pcap")) {
        no_devarg_separator(n["rx_pcap"], d.rx_pcap);
        struct stat st {};  // a FIFO would block the driver's start-up in pcap_open_offline
        if (::stat(d.rx_pcap.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
          n["rx_pcap"].fail(fmt::format("'{}' exists and is not a regular file", d.rx_pcap));
      }
      if (n.has("tx_pcap")) no_devarg_separator(n["tx_pcap"], d.tx_pcap);
      d.infinite_rx = n.bool_or("infinite_rx", false);
      if (d.rx_pcap.empty() && d.tx_pcap.empty())
        n.fail("a pcap port needs rx_pcap, tx_pcap or both");
      break;
    case PortKind::kPci:
      forbid_others({"pci"});
      d.pci = need("pci");
      if (!valid_pci(d.pci))
        n["pci"].fail(fmt::format("'{}' is not a PCI address like 0000:03:00.0", d.pci));
      break;
    case PortKind::kRing:
    case PortKind::kNull:
      forbid_others({});
      break;
    case PortKind::kBond:
      forbid_others({});
      if (n.has("devargs")) n["devargs"].fail("a bond takes no devargs: give them to its members");
      d.bond = parse_bond(n.required("bond"), d);
      break;
  }
  if (d.kind != PortKind::kBond && n.has("bond"))
    n["bond"].fail(fmt::format("'bond' applies to a port of type bond, not {}", type));
  d.devargs = n.str_or("devargs", "");
  // Arguments the port's own keys set: given twice, which one the driver takes is its choice.
  for (const auto& arg : managed_devargs(d.kind)) {
    const std::string key = std::string(arg) + "=";
    for (size_t at = 0; (at = d.devargs.find(key, at)) != std::string::npos; at += key.size())
      if (at == 0 || d.devargs[at - 1] == ',')
        n["devargs"].fail(fmt::format("'{}' is set by the port's own keys; it may not appear in "
                                      "devargs",
                                      arg));
  }
  d.mtu = static_cast<uint16_t>(n.uint_or("mtu", 0, 68, 9000));
  d.rx_desc = static_cast<uint16_t>(n.uint_or("rx_desc", d.rx_desc, 64, 32768));
  d.tx_desc = static_cast<uint16_t>(n.uint_or("tx_desc", d.tx_desc, 64, 32768));
  return d;
}

void check_engine_unchanged(const EngineConfig& a, const EngineConfig& b, const ConfigNode& root) {
  const std::pair<const char*, bool> keys[] = {
      {"name", a.name == b.name},
      {"lcores", a.lcores == b.lcores},
      {"hugepages", a.hugepages == b.hugepages},
      {"secondary_processes", a.secondary_processes == b.secondary_processes},
      {"memory_mb", a.memory_mb == b.memory_mb},
      {"mbufs", a.mbufs == b.mbufs},
      {"idle_sleep_us", a.idle_sleep_us == b.idle_sleep_us},
      {"file_prefix", a.file_prefix == b.file_prefix},
      {"log_level", a.log_level == b.log_level},
      {"log_file", a.log_file == b.log_file},
      {"eal_args", a.eal_args == b.eal_args},
      {"management", a.management == b.management},
      {"events", a.events == b.events},
  };
  for (const auto& [key, same] : keys) {
    if (same) continue;
    const ConfigNode e = root["engine"];
    const ConfigNode at = e.defined() && e[key].defined() ? e[key] : (e.defined() ? e : root);
    at.fail(fmt::format("engine.{} changed: the engine section needs a restart, not a reload", key));
  }
}

std::vector<std::string> diff_bonds(const std::vector<PortDevice>& running,
                                    const std::vector<PortDevice>& next) {
  std::vector<std::string> out;
  for (const auto& n : next) {
    if (n.kind != PortKind::kBond) continue;
    const auto r = std::find_if(running.begin(), running.end(),
                                [&](const PortDevice& x) { return x.name == n.name; });
    if (r == running.end() || r->kind != PortKind::kBond || *r->bond == *n.bond) continue;
    const BondSpec& a = *r->bond;
    const BondSpec& b = *n.bond;
    auto names = [](const std::vector<PortDevice>& from, const std::vector<PortDevice>& not_in) {
      std::string s;
      for (const auto& m : from)
        if (std::none_of(not_in.begin(), not_in.end(),
                         [&](const PortDevice& x) { return x.name == m.name; }))
          s += (s.empty() ? "" : ", ") + m.name;
      return s;
    };
    std::string line = "bond " + n.name + ":";
    const std::string plus = names(b.members, a.members), minus = names(a.members, b.members);
    if (!plus.empty()) line += " members added: " + plus + ";";
    if (!minus.empty()) line += " members removed: " + minus + ";";
    if (a.primary != b.primary) line += fmt::format(" primary {} -> {};", a.primary, b.primary);
    if (a.revert != b.revert) line += fmt::format(" revert {};", b.revert ? "always" : "never");
    if (a.up_delay_ms != b.up_delay_ms || a.down_delay_ms != b.down_delay_ms)
      line += fmt::format(" delays up {} ms, down {} ms;", b.up_delay_ms, b.down_delay_ms);
    if (a.link_poll_ms != b.link_poll_ms) line += fmt::format(" link_poll_ms {};", b.link_poll_ms);
    if (line.back() == ';') line.pop_back();
    out.push_back(line);
  }
  return out;
}

void check_bond_reload(const PortDevice& r, const PortDevice& d, const ConfigNode& at) {
  const BondSpec& a = *r.bond;
  const BondSpec& b = *d.bond;
  const ConfigNode bn = at["bond"];
  auto restart = [&](const ConfigNode& where, const std::string& what) {
    where.fail(
        fmt::format("bond '{}': {} changed: that needs a restart (members, primary, revert "
                    "and the delays change by reload)",
                    d.name, what));
  };
  if (a.mode != b.mode) restart(bn["mode"], "its mode");
  if (a.hash != b.hash) restart(bn.has("hash") ? bn["hash"] : bn, "its hash");
  if (r.mtu != d.mtu || r.rx_desc != d.rx_desc || r.tx_desc != d.tx_desc)
    restart(at, "its mtu or descriptor counts");
  const auto items = bn["members"].items();
  for (size_t k = 0; k < b.members.size(); ++k) {
    const PortDevice& m = b.members[k];
    const ConfigNode mat = k < items.size() ? items[k] : bn;
    const auto old = std::find_if(a.members.begin(), a.members.end(),
                                  [&](const PortDevice& x) { return x.name == m.name; });
    if (old == a.members.end()) {
      if (m.kind == PortKind::kPci)
        mat.fail(fmt::format("bond '{}': new pci member '{}': adding a NIC needs a restart", d.name,
                             m.name));
      continue;
    }
    if (!old->same_device(m))
      mat.fail(
          fmt::format("bond '{}': member '{}': its device changed ({} -> {}): remove it in "
                      "one reload and add it back in the next",
                      d.name, m.name, old->device_args(), m.device_args()));
  }
}

void check_restart_only(const EngineConfig& running_engine,
                        const std::vector<PortDevice>& running_ports,
                        const EngineConfig& next_engine, const std::vector<PortDevice>& next_ports,
                        const ConfigNode& root, const std::vector<FixedAtStart>& fixed,
                        bool hot_plug) {
  check_engine_unchanged(running_engine, next_engine, root);
  // Only a VM's ports come and go by reload, and only in a program that says it can.
  const auto pluggable = [hot_plug](PortKind k) {
    return hot_plug && (k == PortKind::kTap || k == PortKind::kVhost);
  };
  const std::string which = hot_plug ? " (only tap and vhost ports are added and removed by "
                                       "reload)"
                                     : "";
  const auto items = root["ports"].items();
  for (size_t i = 0; i < next_ports.size(); ++i) {
    const PortDevice& d = next_ports[i];
    const auto it = std::find_if(running_ports.begin(), running_ports.end(),
                                 [&](const PortDevice& r) { return r.name == d.name; });
    const ConfigNode at = i < items.size() ? items[i] : root["ports"];
    if (it == running_ports.end()) {
      if (pluggable(d.kind)) continue;
      at["name"].fail(fmt::format("new {} port '{}': adding it needs a restart{}",
                                  port_kind_name(d.kind), d.name, which));
    }
    if (it->kind == PortKind::kBond && d.kind == PortKind::kBond) {
      check_bond_reload(*it, d, at);
      continue;
    }
    if (!it->same_device(d) && !(pluggable(it->kind) && pluggable(d.kind)))
      at.fail(fmt::format("port '{}': its device changed ({} -> {}): that needs a restart{}",
                          d.name, it->device_args(), d.device_args(), which));
  }
  for (const auto& r : running_ports) {
    const bool kept = std::any_of(next_ports.begin(), next_ports.end(),
                                  [&](const PortDevice& d) { return d.name == r.name; });
    if (!kept && !pluggable(r.kind))
      root["ports"].fail(fmt::format("{} port '{}' was removed: removing it needs a restart{}",
                                     port_kind_name(r.kind), r.name, which));
  }
  for (const auto& f : fixed)
    if (!f.same) f.at.fail(fmt::format("{} is fixed at start-up: restart to change it", f.what));
}

void validate_port_devices(const std::vector<PortDevice>& ports,
                           const std::vector<ConfigNode>& nodes) {
  std::set<std::string> names, ifaces, sockets;
  auto check = [&](const PortDevice& p, const ConfigNode& at) {
    if (!names.insert(p.name).second) at["name"].fail("duplicate port name '" + p.name + "'");
    if (!p.iface.empty() && !ifaces.insert(p.iface).second)
      at["iface"].fail("interface '" + p.iface + "' is used by another port");
    if (!p.socket.empty() && p.kind == PortKind::kVhost && !sockets.insert(p.socket).second)
      at["socket"].fail("socket '" + p.socket + "' is used by another port");
  };
  for (size_t i = 0; i < ports.size(); ++i) {
    check(ports[i], nodes[i]);
    if (ports[i].kind != PortKind::kBond) continue;
    const auto items = nodes[i]["bond"]["members"].items();
    for (size_t k = 0; k < ports[i].bond->members.size() && k < items.size(); ++k)
      check(ports[i].bond->members[k], items[k]);
  }
  if (ports.size() > RTE_MAX_ETHPORTS)
    nodes.back().fail(fmt::format("at most {} ports", RTE_MAX_ETHPORTS));
}

}  // namespace vnf
