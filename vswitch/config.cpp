#include "vswitch/config.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/af_packet.h"
#include "common/audit.h"
#include "common/telemetry.h"
#include "vfirewall/rules/config.h"
#include "vfirewall/rules/lint.h"
#include "vrouter/config.h"

namespace vswitch {

using vnf::config::ConfigError;
using vnf::config::ConfigNode;

namespace {

const std::vector<std::string_view> kSwitchPortKeys = {
    "mode", "segment", "segments", "native", "tpid", "qinq", "mac_limit", "security", "limit"};

// security: {macs: [...], ipv4: [...], ipv6: [...], trusted: BOOL}
void parse_security(const ConfigNode& n, PortSecurity& sec) {
  n.expect_map();
  n.allow_keys({"macs", "ipv4", "ipv6", "trusted"});
  if (n.has("macs")) {
    const ConfigNode list = n["macs"];
    list.expect_seq();
    for (const auto& item : list.items()) {
      std::array<uint8_t, 6> m{};
      if (!parse_mac(item.str(), m))
        item.fail(fmt::format("'{}' is not a MAC address", item.str()));
      if ((m[0] & 1) || m == std::array<uint8_t, 6>{})
        item.fail(fmt::format("{} is a group or zero address: no VM sends from it", item.str()));
      if (std::find(sec.macs.begin(), sec.macs.end(), m) != sec.macs.end())
        item.fail(fmt::format("{} listed twice", item.str()));
      sec.macs.push_back(m);
    }
    if (sec.macs.empty())
      list.fail("an empty list would allow no MAC at all; leave macs out to check none");
    if (sec.macs.size() > kMaxSecurityMacs)
      list.fail(fmt::format("at most {} MACs per port", kMaxSecurityMacs));
  }
  for (const char* key : {"ipv4", "ipv6"}) {
    if (!n.has(key)) continue;
    const bool v4 = key[3] == '4';
    auto& out = v4 ? sec.ipv4 : sec.ipv6;
    const ConfigNode list = n[key];
    list.expect_seq();
    for (const auto& item : list.items()) {
      const std::string text = item.str();
      std::string err;
      const std::optional<vrouter::Prefix> pfx = vrouter::parse_host_or_prefix(text, err);
      if (!pfx && !err.empty()) item.fail(fmt::format("'{}': {}", text, err));
      if (!pfx) item.fail(fmt::format("'{}' is not an address or prefix", text));
      if (pfx->addr.is_v4() != v4)
        item.fail(fmt::format("'{}' is not an {} address", text, v4 ? "IPv4" : "IPv6"));
      if (std::find(out.begin(), out.end(), *pfx) != out.end())
        item.fail(fmt::format("'{}' listed twice", text));
      out.push_back(*pfx);
    }
    if (out.empty())
      list.fail(fmt::format(
          "an empty list would allow no address at all; leave {} out to check none", key));
    if (out.size() > kMaxSecurityPrefixes)
      list.fail(fmt::format("at most {} addresses or prefixes per port", kMaxSecurityPrefixes));
  }
  sec.trusted = n.bool_or("trusted", sec.trusted);
}

std::string suggest(const std::string& word, const std::vector<std::string>& names) {
  std::vector<std::string_view> v(names.begin(), names.end());
  const std::string n = vnf::config::nearest(word, v);
  return n.empty() ? "" : fmt::format(" (did you mean '{}'?)", n);
}

// Two names that map to the same telemetry key would shadow each other in /vnf/... output.
void check_key_collisions(const std::vector<std::pair<std::string, ConfigNode>>& named,
                          const char* what) {
  std::map<std::string, std::string> seen;
  for (const auto& [name, node] : named) {
    auto [it, fresh] = seen.emplace(vnf::telemetry::key(name), name);
    if (!fresh)
      node.fail(fmt::format("{} names '{}' and '{}' differ only in '-'/'.' vs '_'", what,
                            it->second, name));
  }
}

Segment parse_segment(const ConfigNode& n) {
  n.allow_keys({"name", "vlan", "description", "mac_limit"});
  Segment s;
  s.name = n.required("name").str();
  if (!vnf::valid_name(s.name)) n["name"].fail("segment name must match [A-Za-z0-9_.-]{1,31}");
  s.vlan = static_cast<uint16_t>(n.required("vlan").uint(1, 4094));
  s.description = n.str_or("description", "");
  if (n.has("mac_limit")) {
    s.mac_limit_default = false;
    const ConfigNode l = n["mac_limit"];
    s.mac_limit = l.str() == "unlimited" ? 0 : static_cast<uint32_t>(l.uint(1, 1u << 24));
  }
  return s;
}

// Every segment without its own mac_limit gets an equal share of what the static entries
// leave of the table: the shares add up to at most the table, so each segment can always
// learn its share whatever another segment does. Limits written by hand may promise more
// than the table holds: then that guarantee is gone, and the file says so.
void set_segment_mac_limits(SwitchConfig& c, const ConfigNode& root) {
  const uint32_t dynamic = c.mac.table_size - static_cast<uint32_t>(c.mac.statics.size());
  const uint32_t share = std::max<uint32_t>(1, dynamic / static_cast<uint32_t>(c.segments.size()));
  uint64_t promised = 0;
  std::string unlimited;
  const auto nodes = root["segments"].items();
  for (size_t i = 0; i < c.segments.size(); ++i) {
    Segment& s = c.segments[i];
    if (s.mac_limit_default) s.mac_limit = share;
    promised += s.mac_limit ? s.mac_limit : dynamic;
    if (!s.mac_limit_default && s.mac_limit == 0) {
      const ConfigNode& n = nodes[i]["mac_limit"];
      c.warnings.push_back(fmt::format(
          "{}:{}:{}: warning: segments[{}].mac_limit: segment '{}' may fill the whole MAC table: "
          "a MAC flood there keeps every other segment from learning",
          n.file(), n.line(), n.column(), i, s.name));
    }
  }
  if (promised > dynamic && c.segments.size() > 1) {
    const ConfigNode& n = root["segments"];
    c.warnings.push_back(fmt::format(
        "{}:{}:{}: warning: segments: the segments' MAC limits add up to {} but the table holds "
        "{} learned MACs (mac.table_size {} minus {} static): a segment at its limit can keep "
        "others from learning their share",
        n.file(), n.line(), n.column(), promised, dynamic, c.mac.table_size, c.mac.statics.size()));
  }
}

SwitchPort parse_switch_port(const ConfigNode& n, const std::map<std::string, uint16_t>& segs,
                             const vnf::PortDevice& dev) {
  SwitchPort p;
  p.name = n.required("name").str();
  std::vector<std::string> seg_names;
  for (const auto& [k, v] : segs) seg_names.push_back(k);
  auto seg_ref = [&](const ConfigNode& ref) {
    const std::string s = ref.str();
    if (!segs.count(s)) ref.fail(fmt::format("unknown segment '{}'{}", s, suggest(s, seg_names)));
    return s;
  };
  const ConfigNode mode = n.required("mode");
  const std::string m = mode.str();
  if (m == "access") {
    p.mode = PortMode::kAccess;
    for (auto k : {"segments", "native", "tpid"})
      if (n.has(k)) n[k].fail(fmt::format("'{}' applies to trunk ports only", k));
    p.segment = seg_ref(n.required("segment"));
    p.mac_limit = kDefaultAccessMacLimit;
  } else if (m == "trunk") {
    p.mode = PortMode::kTrunk;
    if (n.has("segment"))
      n["segment"].fail("a trunk port lists 'segments' (and optionally 'native'), not 'segment'");
    const ConfigNode list = n.required("segments");
    list.expect_seq();
    std::set<std::string> seen;
    for (const auto& s : list.items()) {
      const std::string name = seg_ref(s);
      if (!seen.insert(name).second) s.fail(fmt::format("segment '{}' listed twice", name));
      p.segments.push_back(name);
    }
    if (p.segments.empty()) list.fail("a trunk carries at least one segment");
    if (n.has("native")) {
      p.native = seg_ref(n["native"]);
      if (!seen.count(p.native))
        n["native"].fail(
            fmt::format("native segment '{}' must also be listed in 'segments'", p.native));
    }
    p.tpid = static_cast<uint16_t>(n.uint_or("tpid", 0x8100, 0, 0xFFFF));
    if (p.tpid != 0x8100 && p.tpid != 0x88A8 && p.tpid != 0x9100)
      n["tpid"].fail("tpid must be 0x8100 (802.1Q), 0x88a8 (802.1ad) or 0x9100");
  } else {
    mode.fail(fmt::format("mode must be access or trunk, got '{}'", m));
  }
  p.qinq = n.bool_or("qinq", false);
  p.mac_limit = static_cast<uint32_t>(n.uint_or("mac_limit", p.mac_limit, 0, 1u << 24));
  // DHCP servers and IPv6 routers sit behind uplinks, not behind a VM's access port.
  p.security.trusted = p.mode == PortMode::kTrunk;
  if (n.has("security")) parse_security(n["security"], p.security);
  if (n.has("limit")) {
    const std::vector<std::string> carried =
        p.mode == PortMode::kTrunk ? p.segments : std::vector<std::string>{p.segment};
    p.limit = parse_port_limits(
        n["limit"], p.mode == PortMode::kTrunk,
        [&](const std::string& s) {
          return std::find(carried.begin(), carried.end(), s) != carried.end();
        },
        vnf::max_frame_len(dev.port_mtu()));
  }
  return p;
}

// A qinq port (access dot1q-tunnel, or a trunk carrying inner tags) lets a tenant's own tags
// into its segment as payload. Wherever that segment leaves a port untagged, the tenant's tag
// becomes the outermost one on the wire: on a trunk (the native segment) the upstream switch
// would then deliver the frame into the VLAN the tenant chose. Refused; on an access port it
// stays inside the segment, but the device there sees the tenant's tags: a warning.
void check_tunnel_segments(SwitchConfig& c, const std::vector<ConfigNode>& port_nodes) {
  std::map<std::string, std::vector<std::string>> qinq_ports;  // segment -> qinq ports in it
  for (const auto& p : c.ports) {
    if (!p.qinq) continue;
    if (p.mode == PortMode::kAccess) qinq_ports[p.segment].push_back(p.name);
    for (const auto& s : p.segments) qinq_ports[s].push_back(p.name);
  }
  // The first qinq port of `segment` other than `self`, or "".
  const auto tunnel_from = [&](const std::string& segment, const std::string& self) {
    for (const auto& q : qinq_ports[segment])
      if (q != self) return q;
    return std::string();
  };
  for (size_t i = 0; i < c.ports.size(); ++i) {
    const SwitchPort& p = c.ports[i];
    // A qinq trunk's own inner tags never leave by that trunk: only other qinq ports count.
    if (p.mode == PortMode::kTrunk && !p.native.empty()) {
      const std::string q = tunnel_from(p.native, p.name);
      if (!q.empty())
        port_nodes[i]["native"].fail(fmt::format(
            "segment '{}' carries tenant-supplied VLAN tags (qinq port '{}'): untagged on this "
            "trunk, a tenant's tag would be the outermost one on the wire and the upstream "
            "switch would put the frame into that VLAN; carry '{}' tagged here, or remove qinq",
            p.native, q, p.native));
    }
    if (p.mode == PortMode::kAccess && !p.qinq) {
      const std::string q = tunnel_from(p.segment, p.name);
      if (q.empty()) continue;
      const ConfigNode& n = port_nodes[i];
      c.warnings.push_back(fmt::format(
          "{}:{}:{}: warning: ports[{}]: access port '{}' is in segment '{}' with qinq port "
          "'{}': frames leave it with that tenant's VLAN tags outermost (make it qinq too if it "
          "is the other end of the tunnel)",
          n.file(), n.line(), n.column(), i, p.name, p.segment, q));
    }
  }
}

}  // namespace

bool parse_mac(const std::string& s, std::array<uint8_t, 6>& out) {
  if (s.size() != 17) return false;
  for (size_t i = 0; i < 6; ++i) {
    const size_t o = i * 3;
    if (i < 5 && s[o + 2] != ':' && s[o + 2] != '-') return false;
    unsigned v = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = s[o + j];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<unsigned>(c - 'A' + 10);
      else
        return false;
    }
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

std::string format_mac(const uint8_t* m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4],
                     m[5]);
}

const Segment* SwitchConfig::segment(const std::string& name) const {
  for (const auto& s : segments)
    if (s.name == name) return &s;
  return nullptr;
}

const SwitchPort* SwitchConfig::port(const std::string& name) const {
  for (const auto& p : ports)
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<uint16_t> SwitchConfig::port_vlans(const SwitchPort& p) const {
  std::vector<uint16_t> v;
  if (p.mode == PortMode::kAccess) {
    v.push_back(segment(p.segment)->vlan);
  } else {
    for (const auto& s : p.segments) v.push_back(segment(s)->vlan);
  }
  return v;
}

SwitchConfig parse_switch_config(const ConfigNode& root) {
  root.expect_map();
  root.allow_keys({"engine", "segments", "ports", "mac", "firewall", "router"});
  SwitchConfig c;
  c.file = root.file();
  c.engine = vnf::parse_engine(root);
  c.engine.spare_ports = kSparePorts;

  // Segments first: ports refer to them.
  std::map<std::string, uint16_t> seg_vlan;
  std::map<uint16_t, std::string> vlan_seg;
  std::vector<std::pair<std::string, ConfigNode>> named;
  const ConfigNode segs = root.required("segments");
  segs.expect_seq();
  for (const auto& n : segs.items()) {
    Segment s = parse_segment(n);
    if (seg_vlan.count(s.name)) n["name"].fail(fmt::format("duplicate segment '{}'", s.name));
    if (vlan_seg.count(s.vlan))
      n["vlan"].fail(fmt::format("VLAN {} is already segment '{}'", s.vlan, vlan_seg[s.vlan]));
    seg_vlan[s.name] = s.vlan;
    vlan_seg[s.vlan] = s.name;
    named.emplace_back(s.name, n["name"]);
    c.segments.push_back(std::move(s));
  }
  if (c.segments.empty()) segs.fail("define at least one segment");
  check_key_collisions(named, "segment");

  const ConfigNode ports = root.required("ports");
  ports.expect_seq();
  std::vector<std::string_view> keys = vnf::kPortDeviceKeys;
  keys.insert(keys.end(), kSwitchPortKeys.begin(), kSwitchPortKeys.end());
  std::vector<ConfigNode> port_nodes = ports.items();
  named.clear();
  for (const auto& n : port_nodes) {
    n.expect_map();
    n.allow_keys(keys);
    c.devices.push_back(vnf::parse_port_device(n));
    c.ports.push_back(parse_switch_port(n, seg_vlan, c.devices.back()));
    named.emplace_back(c.ports.back().name, n["name"]);
  }
  if (c.ports.empty()) ports.fail("define at least one port");
  vnf::validate_port_devices(c.devices, port_nodes);
  check_key_collisions(named, "port");
  check_tunnel_segments(c, port_nodes);

  const ConfigNode mac = root["mac"];
  if (mac.defined()) {
    mac.allow_keys({"table_size", "aging", "static"});
    c.mac.table_size =
        static_cast<uint32_t>(mac.uint_or("table_size", c.mac.table_size, 1024, 1u << 24));
    c.mac.aging_s = mac.seconds_or("aging", c.mac.aging_s, 0, 1000000);
    if (c.mac.aging_s != 0 && c.mac.aging_s < 10)
      mac["aging"].fail("aging is 0 (never) or at least 10 seconds");
    std::set<std::pair<std::string, std::array<uint8_t, 6>>> seen;
    for (const auto& n : mac["static"].items()) {
      n.allow_keys({"segment", "mac", "port"});
      StaticMac s;
      s.segment = n.required("segment").str();
      if (!seg_vlan.count(s.segment)) {
        std::vector<std::string> names;
        for (const auto& [k, v] : seg_vlan) names.push_back(k);
        n["segment"].fail(
            fmt::format("unknown segment '{}'{}", s.segment, suggest(s.segment, names)));
      }
      const std::string mac_str = n.required("mac").str();
      if (!parse_mac(mac_str, s.mac)) n["mac"].fail("expected a MAC like 02:00:00:00:00:01");
      if (s.mac[0] & 1) n["mac"].fail("a static entry needs a unicast MAC");
      if (std::all_of(s.mac.begin(), s.mac.end(), [](uint8_t b) { return b == 0; }))
        n["mac"].fail("00:00:00:00:00:00 is not a station address");
      s.port = n.required("port").str();
      const SwitchPort* p = c.port(s.port);
      if (!p) n["port"].fail(fmt::format("unknown port '{}'", s.port));
      const auto vlans = c.port_vlans(*p);
      if (std::find(vlans.begin(), vlans.end(), seg_vlan[s.segment]) == vlans.end())
        n["port"].fail(fmt::format("port '{}' does not carry segment '{}'", s.port, s.segment));
      if (!seen.insert({s.segment, s.mac}).second)
        n["mac"].fail(
            fmt::format("{} already has a static entry in segment '{}'", mac_str, s.segment));
      c.mac.statics.push_back(s);
    }
    if (c.mac.statics.size() > c.mac.table_size / 2)
      mac["static"].fail("static entries may use at most half of table_size");
  }
  set_segment_mac_limits(c, root);
  const ConfigNode fw = root["firewall"];
  if (fw.defined()) {
    // The rule language of vfirewall; zones name this switch's ports and segments.
    fw.allow_keys(
        {"zones", "addresses", "services", "rules", "policies", "conntrack", "ftp", "options"});
    auto f = std::make_shared<vfirewall::FirewallConfig>();
    f->file = c.file;
    f->engine = c.engine;
    f->devices = c.devices;
    for (const auto& s : c.segments) f->segments.push_back(vfirewall::FwSegment{s.name, s.vlan});
    vfirewall::parse_policy_sections(fw, *f);
    const auto& findings = f->findings;  // linted by parse_policy_sections
    vfirewall::throw_on_lint_errors(findings);
    for (const auto& x : findings) c.warnings.push_back(x.str());
    c.firewall = std::move(f);
  }
  const ConfigNode rt = root["router"];
  if (rt.defined()) {
    // The gateway of the host's segments: interfaces name a segment; the gateway MAC is the
    // same on every host (anycast), so VMs keep it when they migrate.
    rt.allow_keys(vrouter::kRouterSettingsKeys);
    const vrouter::HostSegments host = [&c](const std::string& name) -> std::optional<uint16_t> {
      const Segment* s = c.segment(name);
      return s ? std::optional<uint16_t>(s->vlan) : std::nullopt;
    };
    c.router =
        std::make_shared<vrouter::RouterSettings>(vrouter::parse_router_settings(rt, {}, &host));
  }
  return c;
}

SwitchConfig load_switch_config(const std::string& file) {
  std::string hash;
  SwitchConfig c = parse_switch_config(ConfigNode::load_file(file, &hash));
  c.hash = hash;
  return c;
}

void check_reloadable(const SwitchConfig& running, const SwitchConfig& next,
                      const ConfigNode& next_root) {
  std::vector<vnf::FixedAtStart> fixed = {
      {running.mac.table_size == next.mac.table_size, next_root["mac"]["table_size"],
       "mac.table_size"}};
  if (running.firewall && next.firewall) {
    const auto ct = next_root["firewall"]["conntrack"];
    fixed.push_back({running.firewall->conntrack.size == next.firewall->conntrack.size,
                     ct["size"], "firewall.conntrack.size"});
    fixed.push_back(
        {running.firewall->conntrack.expectations == next.firewall->conntrack.expectations,
         ct["expectations"], "firewall.conntrack.expectations"});
  }
  if (running.router && next.router)
    fixed.push_back(
        {running.router->neighbors.max_entries == next.router->neighbors.max_entries,
         next_root["router"]["neighbors"]["max_entries"], "router.neighbors.max_entries"});
  vnf::check_restart_only(running.engine, running.devices, next.engine, next.devices, next_root,
                          fixed, /*hot_plug=*/true);
  // The firewall and router stages are built at start-up, with their table sizes: a reload
  // changes their rules and routes, not whether they exist or how big their tables are.
  const auto section_kept = [&](bool was, bool is, const char* key) {
    if (was == is) return;
    (is ? next_root[key] : next_root)
        .fail(fmt::format("{} the {}: section needs a restart", is ? "adding" : "removing", key));
  };
  section_kept(bool(running.firewall), bool(next.firewall), "firewall");
  section_kept(bool(running.router), bool(next.router), "router");
}

std::vector<std::string> diff(const SwitchConfig& a, const SwitchConfig& b) {
  std::vector<std::string> out;
  for (const auto& s : b.segments) {
    const Segment* o = a.segment(s.name);
    if (!o)
      out.push_back(fmt::format("segment {} added (vlan {})", s.name, s.vlan));
    else if (o->vlan != s.vlan)
      out.push_back(fmt::format("segment {}: vlan {} -> {}", s.name, o->vlan, s.vlan));
  }
  for (const auto& s : b.segments) {
    const Segment* o = a.segment(s.name);
    if (o && o->mac_limit != s.mac_limit)
      out.push_back(fmt::format("segment {}: mac_limit {} -> {}", s.name, o->mac_limit, s.mac_limit));
  }
  for (const auto& s : a.segments)
    if (!b.segment(s.name)) out.push_back(fmt::format("segment {} removed", s.name));
  auto describe = [](const SwitchPort& p) {
    if (p.mode == PortMode::kAccess) return fmt::format("access {}", p.segment);
    std::string s = "trunk ";
    for (size_t i = 0; i < p.segments.size(); ++i) s += (i ? "," : "") + p.segments[i];
    if (!p.native.empty()) s += " native " + p.native;
    return s;
  };
  for (const auto& p : b.ports) {
    const SwitchPort* o = a.port(p.name);
    if (!o) continue;
    if (describe(*o) != describe(p))
      out.push_back(fmt::format("port {}: {} -> {}", p.name, describe(*o), describe(p)));
    if (o->mac_limit != p.mac_limit)
      out.push_back(fmt::format("port {}: mac_limit {} -> {}", p.name, o->mac_limit, p.mac_limit));
    if (o->qinq != p.qinq || o->tpid != p.tpid)
      out.push_back(fmt::format("port {}: tpid/qinq changed", p.name));
    if (o->security.macs != p.security.macs)
      out.push_back(fmt::format("port {}: security.macs changed", p.name));
    if (o->security.ipv4 != p.security.ipv4 || o->security.ipv6 != p.security.ipv6)
      out.push_back(fmt::format("port {}: security addresses changed", p.name));
    diff_limits(p.name, o->limit, p.limit, out);
    if (o->security.trusted != p.security.trusted)
      out.push_back(fmt::format("port {}: security.trusted {} -> {}", p.name, o->security.trusted,
                                p.security.trusted));
  }
  if (a.mac.aging_s != b.mac.aging_s)
    out.push_back(fmt::format("mac aging {} s -> {} s", a.mac.aging_s, b.mac.aging_s));
  if (a.mac.statics.size() != b.mac.statics.size())
    out.push_back(fmt::format("static MACs {} -> {}", a.mac.statics.size(), b.mac.statics.size()));
  if (a.firewall && b.firewall)
    for (const auto& d : vfirewall::diff(*a.firewall, *b.firewall)) out.push_back("firewall " + d);
  if (a.router && b.router &&
      (a.router->routes.size() != b.router->routes.size() ||
       a.router->interfaces.size() != b.router->interfaces.size()))
    out.push_back(fmt::format("router: {} interfaces, {} routes -> {} interfaces, {} routes",
                              a.router->interfaces.size(), a.router->routes.size(),
                              b.router->interfaces.size(), b.router->routes.size()));
  return out;
}

}  // namespace vswitch
