#include "common/why_request.h"

#include <arpa/inet.h>

#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <fmt/format.h>

#include "common/engine.h"
#include "common/telemetry.h"

namespace vnf {

namespace {

[[noreturn]] void bad(const std::string& key, const std::string& what) {
  throw std::invalid_argument(fmt::format("{}: {}", key, what));
}

long number(const std::string& key, const std::string& v, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(v.c_str(), &end, 0);
  if (v.empty() || *end || errno || n < lo || n > hi)
    bad(key, fmt::format("'{}' is not a number from {} to {}", v, lo, hi));
  return n;
}

WhyMac parse_mac(const std::string& key, const std::string& v) {
  WhyMac m{};
  unsigned b[6];
  char tail;
  if (std::sscanf(v.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &tail) != 6)
    bad(key, fmt::format("'{}' is not a MAC address (aa:bb:cc:dd:ee:ff)", v));
  for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(b[i]);
  return m;
}

uint8_t parse_addr(const std::string& key, const std::string& v, uint8_t* out) {
  if (inet_pton(AF_INET, v.c_str(), out) == 1) return 4;
  if (inet_pton(AF_INET6, v.c_str(), out) == 1) return 6;
  bad(key, fmt::format("'{}' is not an IPv4 or IPv6 address", v));
}

uint8_t parse_flags(const std::string& v) {
  uint8_t f = 0;
  for (char c : v) {
    switch (c) {
      case 'F':
        f |= 0x01;
        break;
      case 'S':
        f |= 0x02;
        break;
      case 'R':
        f |= 0x04;
        break;
      case 'P':
        f |= 0x08;
        break;
      case 'A':
        f |= 0x10;
        break;
      case 'U':
        f |= 0x20;
        break;
      case 'E':
        f |= 0x40;
        break;
      case 'C':
        f |= 0x80;
        break;
      case '.':
        break;
      default:
        bad("flags",
            fmt::format("'{}': TCP flags are letters of FSRPAUEC (e.g. S, SA, A, FA, R)", v));
    }
  }
  return f;
}

std::string mac_str(const uint8_t* m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4],
                     m[5]);
}

std::string addr_str(uint8_t family, const uint8_t* a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, a, buf, sizeof buf);
  return buf;
}

std::string flags_str(uint8_t f) {
  std::string s;
  const char* names = "FSRPAUEC";
  for (int i = 0; i < 8; ++i)
    if (f & (1 << i)) s += names[i];
  return s.empty() ? "." : s;
}

void put16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
  v[at] = static_cast<uint8_t>(x >> 8);
  v[at + 1] = static_cast<uint8_t>(x);
}

}  // namespace

WhyPacket parse_why(const std::string& params) {
  WhyPacket p;
  std::map<std::string, std::string> kv;
  size_t pos = 0;
  while (pos < params.size()) {
    size_t comma = params.find(',', pos);
    if (comma == std::string::npos) comma = params.size();
    const std::string item = params.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) bad(item, "expected KEY=VALUE");
    const std::string k = item.substr(0, eq);
    if (kv.count(k)) bad(k, "given twice");
    kv[k] = item.substr(eq + 1);
  }
  std::string proto;
  for (const auto& [k, v] : kv) {
    if (k == "port") {
      p.port = v;
    } else if (k == "vlan") {
      p.vlan = static_cast<uint16_t>(number(k, v, 0, 4094));
      p.tagged = true;
    } else if (k == "tpid") {
      p.tpid = static_cast<uint16_t>(number(k, v, 0x600, 0xFFFF));
    } else if (k == "src_mac") {
      p.src_mac = parse_mac(k, v);
    } else if (k == "dst_mac") {
      if (v == "gw")
        p.dst_gw = true;
      else
        p.dst_mac = parse_mac(k, v);
    } else if (k == "src" || k == "dst") {
      const uint8_t fam = parse_addr(k, v, k == "src" ? p.src : p.dst);
      if (p.family && p.family != fam) bad(k, "src and dst must be of one family");
      p.family = fam;
      (k == "src" ? p.has_src : p.has_dst) = true;
    } else if (k == "proto") {
      proto = v;
    } else if (k == "sport" || k == "dport") {
      (k == "sport" ? p.sport : p.dport) = static_cast<uint16_t>(number(k, v, 0, 65535));
    } else if (k == "flags") {
      p.tcp_flags = parse_flags(v);
    } else if (k == "seq" || k == "ack") {
      const auto n = static_cast<uint32_t>(number(k, v, 0, 0xFFFFFFFFL));
      if (k == "seq") {
        p.seq = n;
      } else {
        p.ack = n;
        p.ack_set = true;
      }
    } else if (k == "ttl") {
      p.ttl = static_cast<uint8_t>(number(k, v, 0, 255));
    } else if (k == "type") {
      p.icmp_type = static_cast<int>(number(k, v, 0, 255));
    } else if (k == "code") {
      p.icmp_code = static_cast<int>(number(k, v, 0, 255));
    } else if (k == "len") {
      p.len = static_cast<uint32_t>(number(k, v, 14, 9216));
    } else if (k == "op") {
      if (v != "request" && v != "reply") bad(k, "request or reply");
      p.arp_op = v == "request" ? 1 : 2;
    } else {
      bad(k,
          "unknown parameter (known: port vlan tpid src_mac dst_mac src dst proto sport "
          "dport flags seq ack ttl type code len op)");
    }
  }
  if (p.port.empty()) bad("port", "required: the port the packet enters by");
  if (proto.empty()) proto = kv.count("dport") ? "tcp" : (p.family == 6 ? "icmp6" : "icmp");
  if (proto == "arp") {
    p.arp = true;
    if (p.family == 6) bad("proto", "arp takes IPv4 addresses (src: sender, dst: target)");
  } else if (proto == "tcp") {
    p.proto = 6;
  } else if (proto == "udp") {
    p.proto = 17;
  } else if (proto == "icmp") {
    p.proto = 1;
  } else if (proto == "icmp6") {
    p.proto = 58;
  } else {
    p.proto = static_cast<uint8_t>(number("proto", proto, 0, 255));
  }
  if (!p.has_src || !p.has_dst) bad(p.has_src ? "dst" : "src", "required (an address)");
  if (p.arp) p.family = 4;
  if ((p.proto == 6 || p.proto == 17) && !kv.count("dport"))
    bad("dport", "required for tcp and udp");
  if (p.proto == 1 && p.family == 6) bad("proto", "icmp with IPv6 addresses: use icmp6");
  if (p.proto == 58 && p.family == 4) bad("proto", "icmp6 with IPv4 addresses: use icmp");
  if (p.icmp_type < 0) p.icmp_type = p.proto == 58 ? 128 : 8;  // echo request
  return p;
}

std::vector<uint8_t> build_why_frame(const WhyPacket& p) {
  std::vector<uint8_t> f(14);
  std::memcpy(f.data(), p.dst_mac->data(), 6);
  std::memcpy(f.data() + 6, p.src_mac->data(), 6);
  size_t et = 12;
  if (p.tagged) {
    f.resize(18);
    put16(f, 12, p.tpid);
    put16(f, 14, p.vlan);
    et = 16;
  }
  const size_t l3 = f.size();
  if (p.arp) {
    put16(f, et, RTE_ETHER_TYPE_ARP);
    f.resize(l3 + 28);
    put16(f, l3, 1);
    put16(f, l3 + 2, RTE_ETHER_TYPE_IPV4);
    f[l3 + 4] = 6;
    f[l3 + 5] = 4;
    put16(f, l3 + 6, p.arp_op);
    std::memcpy(&f[l3 + 8], p.src_mac->data(), 6);
    std::memcpy(&f[l3 + 14], p.src, 4);
    if (p.arp_op == 2) std::memcpy(&f[l3 + 18], p.dst_mac->data(), 6);
    std::memcpy(&f[l3 + 24], p.dst, 4);
  } else {
    const bool v4 = p.family == 4;
    put16(f, et, v4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
    const size_t iph = v4 ? 20 : 40;
    const size_t l4h = p.proto == 6 ? 20 : (p.proto == 17 || p.proto == 1 || p.proto == 58) ? 8 : 0;
    size_t total = l3 + iph + l4h;
    if (p.len > total) total = p.len;
    f.resize(total);
    const size_t l4 = l3 + iph;
    const size_t l4len = total - l4;
    if (p.proto == 6) {
      put16(f, l4, p.sport);
      put16(f, l4 + 2, p.dport);
      put16(f, l4 + 4, static_cast<uint16_t>(p.seq >> 16));
      put16(f, l4 + 6, static_cast<uint16_t>(p.seq));
      if (p.tcp_flags & 0x10) {
        const uint32_t ack = p.ack_set ? p.ack : 2;  // as if the other side's SYN had seq 1
        put16(f, l4 + 8, static_cast<uint16_t>(ack >> 16));
        put16(f, l4 + 10, static_cast<uint16_t>(ack));
      }
      f[l4 + 12] = 5 << 4;
      f[l4 + 13] = p.tcp_flags;
      put16(f, l4 + 14, 65535);
    } else if (p.proto == 17) {
      put16(f, l4, p.sport);
      put16(f, l4 + 2, p.dport);
      put16(f, l4 + 4, static_cast<uint16_t>(l4len));
    } else if (p.proto == 1 || p.proto == 58) {
      f[l4] = static_cast<uint8_t>(p.icmp_type);
      f[l4 + 1] = static_cast<uint8_t>(p.icmp_code);
      put16(f, l4 + 4, 0x4242);  // identifier
      put16(f, l4 + 6, 1);       // sequence
    }
    if (v4) {
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(&f[l3]);
      ip->version_ihl = 0x45;
      ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(iph + l4len));
      ip->time_to_live = p.ttl;
      ip->next_proto_id = p.proto;
      std::memcpy(&ip->src_addr, p.src, 4);
      std::memcpy(&ip->dst_addr, p.dst, 4);
      ip->hdr_checksum = rte_ipv4_cksum(ip);
      if (p.proto == 6 || p.proto == 17) {
        const uint16_t c = rte_ipv4_udptcp_cksum(ip, &f[l4]);
        put16(f, l4 + (p.proto == 6 ? 16 : 6), rte_be_to_cpu_16(c));
      } else if (p.proto == 1) {
        const uint16_t c = static_cast<uint16_t>(~rte_raw_cksum(&f[l4], l4len));
        std::memcpy(&f[l4 + 2], &c, 2);
      }
    } else {
      auto* ip = reinterpret_cast<rte_ipv6_hdr*>(&f[l3]);
      ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
      ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(l4len));
      ip->proto = p.proto;
      ip->hop_limits = p.ttl;
      std::memcpy(ip->src_addr, p.src, 16);
      std::memcpy(ip->dst_addr, p.dst, 16);
      if (p.proto == 6 || p.proto == 17 || p.proto == 58) {
        const uint16_t c = rte_ipv6_udptcp_cksum(ip, &f[l4]);
        const size_t at = p.proto == 6 ? 16 : p.proto == 17 ? 6 : 2;
        put16(f, l4 + at, rte_be_to_cpu_16(c));
      }
    }
  }
  if (f.size() < 60) f.resize(60);
  return f;
}

std::string describe_why_packet(const WhyPacket& p) {
  std::string s = p.port;
  if (p.tagged) s += fmt::format(" vlan {}", p.vlan);
  s += fmt::format(" {} > {}", p.src_mac ? mac_str(p.src_mac->data()) : "?",
                   p.dst_mac ? mac_str(p.dst_mac->data()) : "?");
  if (p.arp)
    return s + fmt::format(" arp {} {} from {}", p.arp_op == 1 ? "who-has" : "reply",
                           addr_str(4, p.dst), addr_str(4, p.src));
  const std::string src = addr_str(p.family, p.src), dst = addr_str(p.family, p.dst);
  if (p.proto == 6 || p.proto == 17)
    return s + fmt::format(" {} {}:{} > {}:{}{}", p.proto == 6 ? "tcp" : "udp", src, p.sport, dst,
                           p.dport, p.proto == 6 ? " [" + flags_str(p.tcp_flags) + "]" : "");
  if (p.proto == 1 || p.proto == 58)
    return s + fmt::format(" {} {} > {} type {} code {}", p.proto == 1 ? "icmp" : "icmp6", src, dst,
                           p.icmp_type, p.icmp_code);
  return s + fmt::format(" proto {} {} > {}", p.proto, src, dst);
}

WhyResult run_why(Engine& e, const WhyHooks& h, const std::string& params,
                  const std::function<void()>& pump, unsigned timeout_ms) {
  static std::mutex one_at_a_time;  // one probe in flight per process
  std::lock_guard serial(one_at_a_time);
  WhyResult r;
  try {
    r.packet = parse_why(params);
  } catch (const std::invalid_argument& ex) {
    r.error = ex.what();
    return r;
  }
  WhyPacket& p = r.packet;
  uint16_t port = 0;
  int worker = -1;
  {
    std::lock_guard lock(e.ports_mutex());
    const PortState* ps = e.find_port(p.port);
    if (!ps || ps->removing) {
      r.error = fmt::format("port: no port '{}'", p.port);
      return r;
    }
    port = ps->id;
    for (unsigned w = 0; w < e.worker_count() && worker < 0; ++w) {
      const RxList* rx = e.worker(w).rx_list.load(std::memory_order_acquire);
      for (uint16_t q = 0; rx && q < rx->count; ++q)
        if (rx->q[q].port == port) {
          worker = static_cast<int>(w);
          break;
        }
    }
  }
  if (worker < 0) {
    r.error = fmt::format("port: no worker polls '{}'", p.port);
    return r;
  }
  const uint16_t seg_vlan = p.tagged ? p.vlan : 0;
  if (!p.src_mac && h.learned_mac) p.src_mac = h.learned_mac(port, seg_vlan);
  if (!p.src_mac) p.src_mac = WhyMac{0x02, 0, 0, 0, 0, 0x01};
  if (p.arp && !p.dst_mac && !p.dst_gw) p.dst_mac = WhyMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  if ((p.dst_gw || !p.dst_mac) && h.gateway_mac) {
    if (auto gw = h.gateway_mac(port, seg_vlan)) p.dst_mac = *gw;
  }
  if (!p.dst_mac && !h.macs_matter) p.dst_mac = WhyMac{0x02, 0, 0, 0, 0, 0x02};
  if (!p.dst_mac) {
    r.error = p.dst_gw ? "dst_mac: no router interface where the packet enters"
                       : "dst_mac: required (no router interface where the packet enters to "
                         "send it to): give the destination MAC";
    return r;
  }
  const std::vector<uint8_t> frame = build_why_frame(p);
  rte_mbuf* m = rte_pktmbuf_alloc(e.pool());
  if (!m) {
    r.error = "no mbuf free for the probe";
    return r;
  }
  char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (!d) {
    rte_pktmbuf_free(m);
    r.error = fmt::format("len: {} bytes do not fit in one mbuf", frame.size());
    return r;
  }
  std::memcpy(d, frame.data(), frame.size());
  auto probe = std::make_unique<Probe>();
  probe->m = m;
  probe->in_port = port;
  WorkerContext& w = e.worker(static_cast<unsigned>(worker));
  w.probe.store(probe.get(), std::memory_order_release);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!probe->done.load(std::memory_order_acquire)) {
    if (pump) pump();
    if (std::chrono::steady_clock::now() > deadline) {
      Probe* mine = probe.get();
      if (w.probe.compare_exchange_strong(mine, nullptr)) {  // never taken: safe to free
        rte_pktmbuf_free(m);
        r.error = fmt::format("worker {} did not answer within {} ms", worker, timeout_ms);
        return r;
      }
      // Taken: it finishes the one packet.
    }
    if (!pump) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  rte_pktmbuf_free(probe->m);
  r.trace = probe->trace;
  return r;
}

namespace {

std::string reason_text(DropReason r) { return std::string(drop_reason_name(r)); }

const WhyStep* step_of(const WhyTrace& t, WhyStage s) {
  for (unsigned i = 0; i < t.nstep; ++i)
    if (t.step[i].stage == s) return &t.step[i];
  return nullptr;
}

}  // namespace

WhySummary summarize(const WhyTrace& t) {
  WhySummary s;
  const WhyStep& last = t.step[t.nstep - 1];
  if (last.next == kNextDrop) {
    s.verdict = "drop";
    s.reason = std::string(drop_reason_name(last.drop));
  } else if (last.next == kNextConsumed) {
    s.verdict = "control";  // handed to the control thread (ARP/ND, held for resolution)
  } else if (t.rt == why::Route::kIcmpError && t.nout) {
    // The router turned the packet into an ICMP error back to its sender.
    s.verdict = "drop";
    s.reason = std::string(drop_reason_name(t.rt_icmp_reason));
    s.icmp_error_out = t.out[0];
  } else if (t.nout) {
    s.verdict = t.rt == why::Route::kAnswered ? "answer"
                : last.next == kNextFlood     ? "flood"
                                              : "forward";
    s.egress.assign(t.out, t.out + t.nout);
  } else {
    s.verdict = "drop";
    s.reason = "no_verdict";
  }
  return s;
}

void why_to_telemetry(const Engine& e, const WhyHooks& h, const WhyResult& r, rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  if (!r.error.empty()) {
    rte_tel_data_add_dict_string(d, "error", r.error.c_str());
    return;
  }
  const WhyTrace& t = r.trace;
  const WhyPacket& p = r.packet;
  // Port names first, under the ports' lock alone (the hooks take their owners' locks).
  std::vector<std::string> names(kMaxPorts);
  {
    std::lock_guard lock(e.ports_mutex());
    for (uint16_t id = 0; id < kMaxPorts; ++id)
      if (const PortState* ps = e.port_by_id(id)) names[id] = ps->device.name;
  }
  auto port_name = [&](uint16_t id) -> std::string {
    return id < kMaxPorts && !names[id].empty() ? names[id] : fmt::format("port{}", id);
  };
  auto seg_name = [&](uint16_t vlan) {
    const std::string n = h.segment ? h.segment(vlan) : "";
    return n.empty() ? fmt::format("VLAN {}", vlan) : fmt::format("{} (VLAN {})", n, vlan);
  };
  auto iface_name = [&](uint8_t x) {
    const std::string n = h.interface ? h.interface(x) : "";
    return n.empty() ? fmt::format("interface #{}", x) : n;
  };
  const WhySummary sum = summarize(t);
  if (sum.icmp_error_out >= 0)
    rte_tel_data_add_dict_string(d, "icmp_error_out", port_name(sum.icmp_error_out).c_str());
  const std::string& verdict = sum.verdict;
  const std::string& reason = sum.reason;
  std::vector<std::string> egress;
  for (uint16_t id : sum.egress) egress.push_back(port_name(id));

  rte_tel_data_add_dict_string(d, "packet", describe_why_packet(p).c_str());
  rte_tel_data_add_dict_int(d, "worker", t.worker);
  rte_tel_data_add_dict_string(d, "verdict", verdict.c_str());
  if (!reason.empty()) {
    rte_tel_data_add_dict_string(d, "reason", reason.c_str());
    for (size_t i = 0; i < kDropReasonCount; ++i)
      if (kDropReasonNames[i] == reason)
        rte_tel_data_add_dict_string(
            d, "reason_help",
            std::string(kDropReasonHelp[i]).substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
  }
  rte_tel_data* arr = rte_tel_data_alloc();
  rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
  for (const auto& n : egress) rte_tel_data_add_array_string(arr, n.c_str());
  rte_tel_data_add_dict_container(d, "egress", arr, 0);

  rte_tel_data* st = telemetry::new_dict();
  auto stage = [&](const char* key, const std::string& text) {
    rte_tel_data_add_dict_string(st, key, text.substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
  };
  auto dropped = [](const WhyStep* s) { return s && s->next == kNextDrop; };

  if (const WhyStep* s = step_of(t, WhyStage::kParse))
    stage("parse", dropped(s) ? "dropped: " + reason_text(s->drop) : "ok");
  if (const WhyStep* s = step_of(t, WhyStage::kIngress)) {
    if (dropped(s)) {
      stage("ingress", "dropped: " + reason_text(s->drop));
    } else if (s->next < kMaxPorts && !step_of(t, WhyStage::kL2)) {
      stage("ingress", fmt::format("wire: out by {}", port_name(s->next)));
    } else {
      stage("ingress", "segment " + seg_name(s->vlan));
      rte_tel_data_add_dict_string(d, "segment", seg_name(s->vlan).c_str());
    }
  }
  if (const WhyStep* s = step_of(t, WhyStage::kL2)) {
    const std::string smac = mac_str(p.src_mac->data()), dmac = mac_str(p.dst_mac->data());
    std::string src, dst;
    switch (t.l2_src) {
      case why::Src::kKnown:
        src = fmt::format("source {} learned on {}", smac, p.port);
        break;
      case why::Src::kLearn:
        src = fmt::format("source {} not in the table: would be learned", smac);
        break;
      case why::Src::kMove:
        src = fmt::format("source {} learned on {}: would move to {}", smac,
                          port_name(t.l2_src_port), p.port);
        break;
      case why::Src::kSegmentFull:
        src = fmt::format("source {} not learned: the segment is at its MAC limit", smac);
        break;
      case why::Src::kMacLimit:
        src = fmt::format("source {} is new and {} is at its MAC limit", smac, p.port);
        break;
      case why::Src::kStatic:
        src = fmt::format("source {} is a static entry of {}", smac, port_name(t.l2_src_port));
        break;
      case why::Src::kNone:
        break;
    }
    switch (t.l2_dst) {
      case why::Dst::kGroup:
        dst = fmt::format("destination {} is a group address: flooded", dmac);
        break;
      case why::Dst::kKnown:
        dst = fmt::format("destination {} learned on {}", dmac, port_name(t.l2_dst_port));
        break;
      case why::Dst::kUnknown:
        dst = t.rt != why::Route::kNone
                  ? fmt::format("destination {} is the router's ({})", dmac, iface_name(t.rt_in_if))
                  : fmt::format("destination {} unknown in this segment: flooded within it", dmac);
        break;
      case why::Dst::kStale:
        dst = fmt::format("destination {} on {}, which no longer carries the segment: flooded",
                          dmac, port_name(t.l2_dst_port));
        break;
      case why::Dst::kSamePort:
        dst = fmt::format("destination {} is behind {} itself", dmac, p.port);
        break;
      case why::Dst::kNone:
        break;
    }
    std::string text = src + (dst.empty() ? "" : "; " + dst);
    if (dropped(s)) text += "; dropped: " + reason_text(s->drop);
    stage("l2", text);
    if (!src.empty()) rte_tel_data_add_dict_string(d, "l2_src", src.c_str());
    if (!dst.empty()) rte_tel_data_add_dict_string(d, "l2_dst", dst.c_str());
  }
  if (const WhyStep* s = step_of(t, WhyStage::kRoute)) {
    std::string text;
    std::string nh;
    if (t.rt_out_if != 0xFF) {
      nh = fmt::format("{} {}", t.rt_gateway ? "via" : "to", addr_str(t.rt_family, t.rt_nh));
      rte_tel_data_add_dict_string(d, "route_out", iface_name(t.rt_out_if).c_str());
      rte_tel_data_add_dict_string(d, "next_hop", addr_str(t.rt_family, t.rt_nh).c_str());
    }
    switch (t.rt) {
      case why::Route::kNone:
        text = "not for the router";
        break;
      case why::Route::kTaken:
        text = fmt::format("taken by {}", iface_name(t.rt_in_if));
        break;
      case why::Route::kForwarded:
        text = fmt::format("routed from {} out of {} {} (neighbour {}), segment {}",
                           iface_name(t.rt_in_if), iface_name(t.rt_out_if), nh,
                           mac_str(t.rt_nh_mac), seg_name(s->vlan));
        break;
      case why::Route::kHold:
        text = fmt::format(
            "routed from {} out of {} {}: the neighbour is {}: held while the "
            "router resolves it",
            iface_name(t.rt_in_if), iface_name(t.rt_out_if), nh,
            t.rt_neigh == 3 ? "being resolved" : "not known yet");
        break;
      case why::Route::kControl:
        text = fmt::format("ARP/ND for {}: handled by the router's control thread",
                           iface_name(t.rt_in_if));
        break;
      case why::Route::kAnswered:
        text = fmt::format("echo request to {}: answered", iface_name(t.rt_in_if));
        break;
      case why::Route::kIcmpError:
        text = fmt::format("{}: {}, ICMP error back to the sender (rate limit permitting)",
                           iface_name(t.rt_in_if), reason_text(t.rt_icmp_reason));
        break;
    }
    if (t.rt == why::Route::kTaken && t.rt_out_if != 0xFF)
      text += fmt::format(", route out of {} {}", iface_name(t.rt_out_if), nh);
    if (dropped(s) && t.rt != why::Route::kIcmpError) text += "; dropped: " + reason_text(s->drop);
    stage("route", text);
    rte_tel_data_add_dict_string(d, "route", text.substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
  }
  if (const WhyStep* s = step_of(t, WhyStage::kFirewall)) {
    std::string text;
    const std::string zones = fmt::format("zone {} -> {}", t.fw_zsrc_name, t.fw_zdst_name);
    const std::string rule =
        t.fw_rule ? fmt::format("rule {}", t.fw_rule_id) : fmt::format("policy {}", zones);
    switch (t.fw) {
      case why::Fw::kNone:
        text = "not judged (dropped or taken before)";
        break;
      case why::Fw::kSkipped:
        text =
            "not judged: not a forwarded IP packet between zones (non-IP, fragment, ND/MLD, the "
            "router's own)";
        break;
      case why::Fw::kRelatedError:
        text = zones + ": ICMP error about a tracked connection";
        break;
      case why::Fw::kSession:
        text = fmt::format(
            "{}: {} of a tracked connection{}{}", zones, t.fw_dir ? "reply" : "original direction",
            t.fw_state_before_name && t.fw_state_before != t.fw_state_after
                ? fmt::format(", {} -> {}", t.fw_state_before_name, t.fw_state_after_name)
            : t.fw_state_before_name && t.fw_state_before
                ? fmt::format(", {}", t.fw_state_before_name)
                : "",
            t.fw_rule ? fmt::format(" (opened by rule {})", t.fw_rule_id) : "");
        break;
      case why::Fw::kExpected:
        text = zones + ": FTP data connection announced on its control connection";
        break;
      case why::Fw::kRule:
      case why::Fw::kPolicy:
        text = fmt::format("{}: new connection, {}: {}", zones, rule,
                           t.fw_action_name ? t.fw_action_name : "?");
        break;
      case why::Fw::kDropped:
        text = t.fw_zsrc ? zones : "no zone";
        break;
    }
    if (t.fw_creates) text += ", connection would be created";
    if (t.fw_log) text += ", logged";
    if (dropped(s)) text += "; dropped: " + reason_text(s->drop);
    stage("firewall", text);
    if (t.fw_zsrc) rte_tel_data_add_dict_string(d, "zone_src", t.fw_zsrc_name);
    if (t.fw_zdst) rte_tel_data_add_dict_string(d, "zone_dst", t.fw_zdst_name);
    if (t.fw_rule) rte_tel_data_add_dict_string(d, "rule", t.fw_rule_id);
    const char* kinds[] = {"none",     "not_judged", "related_error", "connection",
                           "expected", "rule",       "policy",        "dropped"};
    rte_tel_data_add_dict_string(d, "firewall", kinds[static_cast<int>(t.fw)]);
    if (t.fw == why::Fw::kSession && t.fw_state_before_name)
      rte_tel_data_add_dict_string(d, "connection_state", t.fw_state_before_name);
  }
  if (const WhyStep* s = step_of(t, WhyStage::kEgress)) {
    std::string text;
    if (dropped(s)) {
      text = "dropped: " + reason_text(s->drop);
    } else if (t.nout) {
      for (uint16_t i = 0; i < t.nout; ++i) text += (i ? ", " : "") + port_name(t.out[i]);
      text = (s->next == kNextFlood ? "flooded to " : "out of ") + text;
    } else {
      text = "nothing sent";
    }
    stage("egress", text);
  }
  rte_tel_data_add_dict_container(d, "stages", st, 0);
}

void register_why_telemetry(Engine& e, WhyHooks h) {
  telemetry::add("/vnf/why",
                 "Why: a described packet through the live tables, without effects. Params: port=P,"
                 "src=A,dst=A[,proto=tcp|udp|icmp|icmp6|arp][,sport=N,dport=N][,flags=S][,vlan=N]"
                 "[,src_mac=M][,dst_mac=M|gw][,seq=N,ack=N][,ttl=N][,len=N][,type=N,code=N][,op="
                 "request|reply]",
                 [&e, h = std::move(h)](const std::string& params, rte_tel_data* d) {
                   why_to_telemetry(e, h, run_why(e, h, params), d);
                   return 0;
                 });
}

}  // namespace vnf
