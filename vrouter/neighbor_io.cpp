// The control thread's neighbour work: ARP and ND messages handed over by the workers,
// resolution with a bounded hold queue, probing, announcements. Part of RoutingCore.
#include <cstring>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "vrouter/dp/forward.h"
#include "vrouter/dp/packet_ops.h"
#include "vrouter/routing_core.h"

namespace vrouter {

using vnf::DropReason;

namespace {

constexpr size_t kMaxPendingInjects = 4096;
constexpr uint8_t kBroadcastMac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr uint8_t kZeroMac[6] = {};
constexpr uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr uint8_t kAllNodesMac[6] = {0x33, 0x33, 0, 0, 0, 1};

bool unspecified(const uint8_t* a) {
  for (int i = 0; i < 16; ++i)
    if (a[i]) return false;
  return true;
}

bool on_link(const Interface& itf, const IpAddr& a) {
  if (!a.is_v4() && a.b[0] == 0xfe && (a.b[1] & 0xc0) == 0x80) return true;
  for (const auto& x : a.is_v4() ? itf.ipv4 : itf.ipv6)
    if (x.subnet().contains(a)) return true;
  return false;
}

}  // namespace

// ---- frames out

void RoutingCore::inject(unsigned w, rte_mbuf* m) {
  auto& q = pending_[w];
  if (q.empty() && rte_ring_sp_enqueue(states_[w]->inject, m) == 0) return;
  // The worker has not caught up: keep the order, retry on the next tick.
  stats_.inject_deferred.add();
  q.push_back(m);
  if (q.size() > kMaxPendingInjects) {
    rte_pktmbuf_free(q.front());
    q.pop_front();
    stats_.inject_lost.add();
  }
}

void RoutingCore::return_drop(unsigned w, rte_mbuf* m, DropReason r) {
  vnf::PacketMeta& meta = vnf::meta_of(m);
  meta.out_port = vnf::kNextDrop;
  meta.drop = r;
  inject(w, m);
}

void RoutingCore::send_frame(unsigned w, const uint8_t* frame, uint16_t len, uint16_t out,
                             uint16_t vlan, uint16_t in_port) {
  if (!env_.host_mode && port_down(out)) {  // probes, announcements, answers: not to a down link
    stats_.link_down_not_sent.add();
    return;
  }
  rte_mbuf* m = rte_pktmbuf_alloc(env_.pool);
  if (!m) {
    stats_.no_mbuf.add();
    return;
  }
  char* p = rte_pktmbuf_append(m, len);
  std::memcpy(p, frame, len);
  vnf::PacketMeta& meta = vnf::meta_of(m);
  meta = vnf::PacketMeta{};
  meta.in_port = in_port < vnf::kMaxPorts ? in_port : 0;
  meta.vlan = vlan;
  meta.out_port = out;
  inject(w, m);
}

uint16_t RoutingCore::out_port(uint8_t x, const NeighCtl* c) const {
  if (!env_.host_mode) return cur_->iface[x].port;
  return c && c->port != nw::kPortUnknown ? c->port : vnf::kNextFlood;
}

void RoutingCore::log_conflict(const std::string& what) {
  stats_.address_conflicts.add();
  if (now_ms_ < next_conflict_log_ms_) return;
  next_conflict_log_ms_ = now_ms_ + 10000;  // at most one line per 10 s
  spdlog::error("address conflict: {}", what);
}

// ---- neighbours

int32_t RoutingCore::create_neighbor(const NeighKey& k, uint64_t now_ms, bool probe) {
  const int32_t pos = neigh_->insert(k);
  if (pos < 0) {
    stats_.table_full.add();
    return pos;
  }
  NeighCtl& c = neigh_->ctl(pos);
  if (probe) {
    c.fsm.start(now_ms, timers());
    send_probe(pos, false);
  } else {
    c.fsm.state = NeighState::kIncomplete;
    c.fsm.unanswered = 0;
    c.fsm.next_ms = now_ms;
  }
  neigh_->publish(pos);
  neigh_->schedule(pos);
  return pos;
}

void RoutingCore::learn(int32_t pos, const uint8_t* mac, uint8_t port, bool solicited,
                        uint64_t now_ms) {
  NeighCtl& c = neigh_->ctl(pos);
  if (c.is_static) return;
  const uint64_t pm = pack_mac(mac);
  const bool mac_changed = c.fsm.has_mac && c.mac != pm;
  const bool was = c.fsm.route_usable();
  c.mac = pm;
  c.port = port;
  const bool changed = c.fsm.confirm(solicited, mac_changed, now_ms, timers());
  neigh_->publish(pos);
  neigh_->schedule(pos);
  if (c.fsm.usable() && !c.hold.empty()) release(pos);
  if (changed && c.pins) {
    routes_dirty_ = true;
    if (!was && c.fsm.route_usable())
      spdlog::info("next hop {} dev {}: answers again", to_string(key_addr(c.key)),
                   s_.interfaces[c.key.iface].name);
  }
}

void RoutingCore::release(int32_t pos) {
  NeighCtl& c = neigh_->ctl(pos);
  if (env_.host_mode ? port_down(c.port) : !iface_up(c.key.iface)) {
    drop_held(pos, DropReason::kLinkDown);
    return;
  }
  const uint64_t word = nw::kUsable | static_cast<uint64_t>(c.port) << nw::kPortShift | c.mac;
  const IfaceDp& out = cur_->iface[c.key.iface];
  for (const HeldPacket& h : c.hold) {
    vnf::PacketMeta& meta = vnf::meta_of(h.m);
    meta.out_port = forward_rewrite(h.m, meta, out, word);
    inject(h.worker, h.m);
    stats_.released.add();
    --held_total_;
  }
  c.hold.clear();
}

void RoutingCore::drop_held(int32_t pos, DropReason r) {
  NeighCtl& c = neigh_->ctl(pos);
  for (const HeldPacket& h : c.hold) {
    return_drop(h.worker, h.m, r);
    --held_total_;
  }
  c.hold.clear();
}

void RoutingCore::erase_neighbor(int32_t pos, DropReason r) {
  drop_held(pos, r);
  neigh_->erase(pos);
}

void RoutingCore::tick_entry(int32_t pos, uint64_t now_ms) {
  NeighCtl& c = neigh_->ctl(pos);
  const bool used = neigh_->take_used(pos);
  const bool was = c.fsm.route_usable();
  switch (c.fsm.tick(now_ms, used, timers())) {
    case NeighAction::kProbeBroadcast:
      send_probe(pos, false);
      break;
    case NeighAction::kProbeUnicast:
      send_probe(pos, true);
      break;
    case NeighAction::kFail:
      stats_.resolve_failed.add();
      drop_held(pos, DropReason::kNeighUnresolved);
      if (c.pins)
        spdlog::warn("next hop {} dev {}: {} probes unanswered: unreachable",
                     to_string(key_addr(c.key)), s_.interfaces[c.key.iface].name,
                     s_.neighbors.probe_misses);
      break;
    case NeighAction::kRemove:
      if (!c.pins && !c.is_static) {
        erase_neighbor(pos, DropReason::kNeighUnresolved);
        return;
      }
      break;
    case NeighAction::kNone:
      break;
  }
  if (c.pins && was != c.fsm.route_usable()) routes_dirty_ = true;
  neigh_->publish(pos);
  neigh_->schedule(pos);
}

void RoutingCore::send_probe(int32_t pos, bool unicast) {
  const NeighCtl& c = neigh_->ctl(pos);
  const uint8_t x = c.key.iface;
  if (x >= cur_->n_iface) return;
  const IfaceDp& I = cur_->iface[x];
  const Interface& itf = s_.interfaces[x];
  const IpAddr target = key_addr(c.key);
  uint8_t mac[6];
  unpack_mac(c.mac, mac);
  uint8_t f[128];
  uint16_t len;
  if (target.is_v4()) {
    if (itf.ipv4.empty()) return;
    uint32_t spa = itf.ipv4[0].addr.v4();
    for (const auto& a : itf.ipv4)
      if (a.subnet().contains(target)) spa = a.addr.v4();
    len = ops::build_arp(f, unicast ? mac : kBroadcastMac, I.mac, ops::kArpRequest, I.mac, spa,
                         kZeroMac, target.v4());
  } else {
    const uint8_t* src = I.ll6;
    for (size_t k = 0; k < itf.ipv6.size(); ++k)
      if (itf.ipv6[k].subnet().contains(target)) src = I.ip6[k];
    len = ops::build_ns(f, I.mac, src, c.key.addr, unicast ? mac : nullptr);
  }
  const uint16_t out = out_port(x, unicast ? &c : nullptr);
  send_frame(0, f, len, out, I.vlan, out);
  stats_.probes_sent.add();
}

void RoutingCore::announce(uint8_t x) {
  const IfaceDp& I = cur_->iface[x];
  const uint16_t out = out_port(x, nullptr);
  uint8_t f[128];
  for (unsigned k = 0; k < I.n4; ++k) {  // gratuitous ARP (request form, RFC 5227)
    const uint16_t len = ops::build_arp(f, kBroadcastMac, I.mac, ops::kArpRequest, I.mac, I.ip4[k],
                                        kZeroMac, I.ip4[k]);
    send_frame(0, f, len, out, I.vlan, out);
    stats_.announcements_sent.add();
  }
  auto na = [&](const uint8_t* addr) {
    const uint16_t len =
        ops::build_na(f, I.mac, kAllNodesMac, kAllNodes, addr, ops::kNaRouter | ops::kNaOverride);
    send_frame(0, f, len, out, I.vlan, out);
    stats_.announcements_sent.add();
  };
  if (I.n6) na(I.ll6);
  for (unsigned k = 0; k < I.n6; ++k) {
    // A DAD probe: another station answering it has our address (logged as a conflict).
    const uint16_t len = ops::build_ns(f, I.mac, nullptr, I.ip6[k], nullptr);
    send_frame(0, f, len, out, I.vlan, out);
    na(I.ip6[k]);
  }
}

// ---- from the workers

unsigned RoutingCore::drain_punts(uint64_t now_ms, unsigned budget) {
  now_ms_ = now_ms;
  unsigned n = 0;
  PuntItem items[32];
  for (unsigned w = 0; w < states_.size(); ++w) {
    unsigned left = budget;
    while (left) {
      const unsigned got = rte_ring_sc_dequeue_burst_elem(states_[w]->punt, items, sizeof(PuntItem),
                                                          std::min(left, 32u), nullptr);
      if (got == 0) break;
      left -= got;
      n += got;
      for (unsigned i = 0; i < got; ++i) handle_punt(w, items[i], now_ms);
    }
  }
  return n;
}

void RoutingCore::handle_punt(unsigned w, const PuntItem& it, uint64_t now_ms) {
  switch (static_cast<PuntKind>(it.kind)) {
    case PuntKind::kArp:
      handle_arp(w, it.m, it.iface, now_ms);
      return;
    case PuntKind::kNd:
      handle_nd(w, it.m, it.iface, now_ms);
      return;
    case PuntKind::kHold:
      handle_hold(w, it, now_ms);
      return;
  }
  rte_pktmbuf_free(it.m);
}

void RoutingCore::handle_hold(unsigned w, const PuntItem& it, uint64_t now_ms) {
  rte_mbuf* m = it.m;
  if (it.iface >= cur_->n_iface) {  // the interface went away in a reload meanwhile
    return_drop(w, m, DropReason::kNeighUnresolved);
    return;
  }
  if (!env_.host_mode && !iface_up(it.iface)) {  // its link went down meanwhile
    return_drop(w, m, DropReason::kLinkDown);
    return;
  }
  NeighKey k{};
  k.iface = it.iface;
  k.family = it.family;
  std::memcpy(k.addr, it.addr, 16);
  int32_t pos = neigh_->find(k);
  if (pos < 0) {
    pos = create_neighbor(k, now_ms, true);
    if (pos < 0) {
      return_drop(w, m, DropReason::kNeighTableFull);
      return;
    }
  }
  NeighCtl& c = neigh_->ctl(pos);
  if (c.fsm.usable()) {  // resolved while the packet was on its way
    c.hold.push_back(HeldPacket{m, static_cast<uint16_t>(w)});
    ++held_total_;
    release(pos);
    return;
  }
  if (c.fsm.failed()) {
    return_drop(w, m, DropReason::kNeighUnresolved);
    return;
  }
  if (c.hold.size() >= s_.neighbors.hold_packets) {  // keep the newest, like Linux
    const HeldPacket old = c.hold.front();
    c.hold.pop_front();
    --held_total_;
    stats_.hold_dropped.add();
    return_drop(old.worker, old.m, DropReason::kNeighQueueFull);
  }
  if (held_total_ >= s_.neighbors.hold_total) {
    stats_.hold_dropped.add();
    return_drop(w, m, DropReason::kNeighQueueFull);
    return;
  }
  c.hold.push_back(HeldPacket{m, static_cast<uint16_t>(w)});
  ++held_total_;
  stats_.held.add();
}

void RoutingCore::handle_arp(unsigned w, rte_mbuf* m, uint8_t x, uint64_t now_ms) {
  stats_.arp_in.add();
  const vnf::PacketMeta& meta = vnf::meta_of(m);
  const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint8_t* a = d + meta.l3_off;
  if (x >= cur_->n_iface || meta.l3_len < 28 || ops::rd16(a) != 1 || ops::rd16(a + 2) != 0x0800 ||
      a[4] != 6 || a[5] != 4 || (a[8] & 1) || std::memcmp(a + 8, kZeroMac, 6) == 0) {
    stats_.invalid_control.add();
    rte_pktmbuf_free(m);
    return;
  }
  const IfaceDp& I = cur_->iface[x];
  const uint16_t op = ops::rd16(a + 6);
  const uint8_t* sha = a + 8;
  const uint32_t spa = ops::rd32(a + 14);
  const uint32_t tpa = ops::rd32(a + 24);
  const bool for_us = has_ip4(I, tpa);
  if (spa != 0 && has_ip4(I, spa)) {
    if (std::memcmp(sha, I.mac, 6) != 0)
      log_conflict(fmt::format("{} claims {} (ours, interface '{}')", format_mac(sha),
                               to_string(IpAddr::v4(spa)), s_.interfaces[x].name));
    rte_pktmbuf_free(m);
    return;
  }
  const IpAddr sip = IpAddr::v4(spa);
  // An entry exists only for an address the router resolves on this interface: a packet or a
  // route needed it (on-link routes may lead outside the interface's subnets), or it asked us
  // before. Its answers and updates are taken like the kernel takes them for entries it has.
  // A new entry comes only from a request for our address by a station in one of our subnets:
  // unsolicited ARP for any other address creates nothing. spa 0: an ARP probe, nothing to learn.
  if (spa != 0) {
    int32_t pos = neigh_->find(make_key(x, sip));
    if (pos >= 0) {
      const NeighCtl& c = neigh_->ctl(pos);
      const bool solicited =
          op == ops::kArpReply && (c.fsm.unanswered > 0 || c.fsm.state == NeighState::kIncomplete);
      learn(pos, sha, static_cast<uint8_t>(meta.in_port), solicited, now_ms);
    } else if (for_us && op == ops::kArpRequest && on_link(s_.interfaces[x], sip)) {
      // It will talk to us: cache it (RFC 826), STALE until confirmed.
      pos = create_neighbor(make_key(x, sip), now_ms, false);
      if (pos >= 0) learn(pos, sha, static_cast<uint8_t>(meta.in_port), false, now_ms);
    }
  }
  if (op == ops::kArpRequest && for_us) {
    uint8_t f[ops::kArpFrameLen];
    const uint16_t len = ops::build_arp(f, sha, I.mac, ops::kArpReply, I.mac, tpa, sha, spa);
    send_frame(w, f, len, meta.in_port, I.vlan, meta.in_port);
    stats_.arp_replies_sent.add();
  }
  rte_pktmbuf_free(m);
}

void RoutingCore::handle_nd(unsigned w, rte_mbuf* m, uint8_t x, uint64_t now_ms) {
  stats_.nd_in.add();
  const vnf::PacketMeta& meta = vnf::meta_of(m);
  const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint8_t* ip = d + meta.l3_off;
  const uint8_t* l4 = d + meta.l4_off;
  const uint32_t len = meta.l4_len;
  auto invalid = [&] {
    stats_.invalid_control.add();
    rte_pktmbuf_free(m);
  };
  // RFC 4861 §7.1: hop limit 255 (not forwarded), code 0, long enough, checksum right.
  if (x >= cur_->n_iface || ip[7] != 255 || len < 24 || l4[1] != 0 ||
      ops::ipv6_l4_cksum(ip, l4, len, ops::kProtoIcmp6) != 0)
    return invalid();
  const IfaceDp& I = cur_->iface[x];
  const uint8_t* src = ip + 8;
  const uint8_t* dst = ip + 24;
  const uint8_t* target = l4 + 8;
  bool bad = false;
  if (l4[0] == ops::kNdNs) {
    const uint8_t* slla = ops::nd_find_lla(l4 + 24, len - 24, ops::kOptSrcLla, &bad);
    if (bad || target[0] == 0xff || !has_ip6(I, target)) return invalid();
    if (unspecified(src)) {
      // Duplicate address detection by another station, for our address: defend it.
      if (slla) return invalid();
      log_conflict(fmt::format("{} probes (DAD) for {}, ours on interface '{}'", format_mac(d + 6),
                               to_string(IpAddr::v6(target)), s_.interfaces[x].name));
      uint8_t f[128];
      const uint16_t flen = ops::build_na(f, I.mac, kAllNodesMac, kAllNodes, target,
                                          ops::kNaRouter | ops::kNaOverride);
      send_frame(w, f, flen, env_.host_mode ? vnf::kNextFlood : meta.in_port, I.vlan, meta.in_port);
      stats_.na_sent.add();
      rte_pktmbuf_free(m);
      return;
    }
    const IpAddr sip = IpAddr::v6(src);
    if (slla) {  // as for ARP: entries we have learn; new ones only from our subnets
      int32_t pos = neigh_->find(make_key(x, sip));
      if (pos < 0 && on_link(s_.interfaces[x], sip))
        pos = create_neighbor(make_key(x, sip), now_ms, false);
      if (pos >= 0) learn(pos, slla, static_cast<uint8_t>(meta.in_port), false, now_ms);
    }
    uint8_t f[128];
    const uint16_t flen = ops::build_na(f, I.mac, slla ? slla : d + 6, src, target,
                                        ops::kNaRouter | ops::kNaSolicited | ops::kNaOverride);
    send_frame(w, f, flen, meta.in_port, I.vlan, meta.in_port);
    stats_.na_sent.add();
    rte_pktmbuf_free(m);
    return;
  }
  if (l4[0] != ops::kNdNa) return invalid();
  const uint8_t flags = l4[4];
  if (target[0] == 0xff || (dst[0] == 0xff && (flags & ops::kNaSolicited))) return invalid();
  const uint8_t* tlla = ops::nd_find_lla(l4 + 24, len - 24, ops::kOptTgtLla, &bad);
  if (bad) return invalid();
  if (has_ip6(I, target)) {
    if (!tlla || std::memcmp(tlla, I.mac, 6) != 0)
      log_conflict(fmt::format("{} advertises {}, ours on interface '{}'", format_mac(d + 6),
                               to_string(IpAddr::v6(target)), s_.interfaces[x].name));
    rte_pktmbuf_free(m);
    return;
  }
  const int32_t pos = neigh_->find(make_key(x, IpAddr::v6(target)));
  if (pos >= 0) {
    const NeighCtl& c = neigh_->ctl(pos);
    uint8_t cur[6];
    unpack_mac(c.mac, cur);
    const uint8_t* mac = tlla ? tlla : cur;
    const bool changed = c.fsm.has_mac && std::memcmp(mac, cur, 6) != 0;
    // RFC 4861 §7.2.5: no link-layer address to go by, or a different one without the
    // override flag: the cached address stays.
    if ((tlla || c.fsm.has_mac) && !(changed && !(flags & ops::kNaOverride)))
      learn(pos, mac, static_cast<uint8_t>(meta.in_port), (flags & ops::kNaSolicited) != 0, now_ms);
  }
  rte_pktmbuf_free(m);
}

}  // namespace vrouter
