#include "common/engine_config.h"

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
    "name",    "type",        "iface", "socket",  "role", "id",      "client",  "rx_pcap",
    "tx_pcap", "infinite_rx", "pci",   "devargs", "mac",  "rx_desc", "tx_desc", "description",
    "mtu"};

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
      break;
  }
  if (!devargs.empty()) a += "," + devargs;
  return a;
}

bool PortDevice::same_device(const PortDevice& o) const {
  // Compared as configured: a running port's resolved MTU is not a change.
  PortDevice a = *this, b = o;
  a.effective_mtu = b.effective_mtu = 0;
  return name == o.name && kind == o.kind && mtu == o.mtu && a.device_args() == b.device_args() &&
         rx_desc == o.rx_desc && tx_desc == o.tx_desc;
}

void resolve_port_mtus(std::vector<PortDevice>& ports) {
  for (auto& d : ports) {
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

EngineConfig parse_engine(const ConfigNode& root) {
  EngineConfig c;
  ConfigNode e = root["engine"];
  if (!e.defined()) return c;
  e.allow_keys({"name", "lcores", "hugepages", "memory_mb", "mbufs", "idle_sleep_us", "file_prefix",
                "log_level", "log_file", "eal_args"});
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
  return c;
}

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
                    "pcap, ring, null, pci)",
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
  }
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
      {"memory_mb", a.memory_mb == b.memory_mb},
      {"mbufs", a.mbufs == b.mbufs},
      {"idle_sleep_us", a.idle_sleep_us == b.idle_sleep_us},
      {"file_prefix", a.file_prefix == b.file_prefix},
      {"log_level", a.log_level == b.log_level},
      {"log_file", a.log_file == b.log_file},
      {"eal_args", a.eal_args == b.eal_args},
  };
  for (const auto& [key, same] : keys) {
    if (same) continue;
    const ConfigNode e = root["engine"];
    const ConfigNode at = e.defined() && e[key].defined() ? e[key] : (e.defined() ? e : root);
    at.fail(fmt::format("engine.{} changed: the engine section needs a restart, not a reload", key));
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
  for (size_t i = 0; i < ports.size(); ++i) {
    const PortDevice& p = ports[i];
    if (!names.insert(p.name).second) nodes[i]["name"].fail("duplicate port name '" + p.name + "'");
    if (!p.iface.empty() && !ifaces.insert(p.iface).second)
      nodes[i]["iface"].fail("interface '" + p.iface + "' is used by another port");
    if (!p.socket.empty() && p.kind == PortKind::kVhost && !sockets.insert(p.socket).second)
      nodes[i]["socket"].fail("socket '" + p.socket + "' is used by another port");
  }
  if (ports.size() > RTE_MAX_ETHPORTS)
    nodes.back().fail(fmt::format("at most {} ports", RTE_MAX_ETHPORTS));
}

}  // namespace vnf
