// Bond ports: DPDK's net_bonding over member ports, with the members' link state decided by the
// engine (common/bond.h explains why and how).
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <rte_eth_bond.h>
#include <rte_eth_bond_8023ad.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/engine.h"
#include "common/events.h"

namespace vnf {

namespace {

uint8_t dpdk_mode(BondMode m) {
  switch (m) {
    case BondMode::kActiveBackup:
      return BONDING_MODE_ACTIVE_BACKUP;
    case BondMode::kBalanceXor:
      return BONDING_MODE_BALANCE;
    case BondMode::kLacp:
      return BONDING_MODE_8023AD;
  }
  return BONDING_MODE_ACTIVE_BACKUP;
}

uint8_t dpdk_hash(BondHash h) {
  switch (h) {
    case BondHash::kL2:
      return BALANCE_XMIT_POLICY_LAYER2;
    case BondHash::kL23:
      return BALANCE_XMIT_POLICY_LAYER23;
    case BondHash::kL34:
      return BALANCE_XMIT_POLICY_LAYER34;
  }
  return BALANCE_XMIT_POLICY_LAYER2;
}

std::string rfc3339_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  localtime_r(&ts.tv_sec, &t);
  char buf[64], zone[8];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  strftime(zone, sizeof zone, "%z", &t);  // +0100 -> +01:00
  const std::string z(zone);
  return fmt::format("{}.{:03d}{}", buf, ts.tv_nsec / 1000000,
                     z.size() == 5 ? z.substr(0, 3) + ":" + z.substr(3) : z);
}

// Empties a bond member's receive queues; returns how many frames it freed.
unsigned discard_stale_rx(uint16_t member) {
  rte_eth_dev_info info;
  if (rte_eth_dev_info_get(member, &info) != 0) return 0;
  // At most a few rings' worth: a member that receives at line rate must not hold the control
  // thread here.
  constexpr unsigned kMaxPerQueue = 8192;
  unsigned total = 0;
  rte_mbuf* m[kBurstMax];
  for (uint16_t q = 0; q < info.nb_rx_queues; ++q) {
    unsigned n = 0;
    uint16_t got;
    do {
      got = rte_eth_rx_burst(member, q, m, kBurstMax);
      if (got) rte_pktmbuf_free_bulk(m, got);
      n += got;
    } while (got == kBurstMax && n < kMaxPerQueue);
    total += n;
  }
  return total;
}

}  // namespace

bool kernel_backed(const PortDevice& d) {
  return d.kind == PortKind::kAfPacket || d.kind == PortKind::kTap;
}

bool member_link_now(const BondMemberState& m) {
  if (kernel_backed(m.device))
    return interface_link_up(m.device.iface.empty() ? m.device.name : m.device.iface)
        .value_or(false);
  rte_eth_link link{};
  return rte_eth_link_get_nowait(m.id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

void Engine::create_bond(PortState& p) {
  const PortDevice& d = p.device;
  const BondSpec& spec = *d.bond;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(
        fmt::format("{}:{}:{}: bond '{}': {}", d.file, d.line, d.column, d.name, what));
  };
  auto st = std::make_shared<BondState>();
  for (const auto& md : spec.members) {
    BondMemberState m;
    m.device = md;
    if (rte_eth_dev_get_port_by_name(md.device_name().c_str(), &m.id) != 0)
      fail(fmt::format("member '{}': device {} did not come up (see the EAL messages above)",
                       md.name, md.device_name()));
    rte_eth_dev_info info;
    if (rte_eth_dev_info_get(m.id, &info) == 0) m.ifindex = static_cast<int>(info.if_index);
    if (md.name == spec.primary) st->primary = static_cast<int>(st->members.size());
    st->members.push_back(std::move(m));
  }
  const int id = rte_eth_bond_create(d.device_name().c_str(), dpdk_mode(spec.mode),
                                     static_cast<uint8_t>(socket_));
  if (id < 0) fail(fmt::format("cannot create the bonding device: {}", rte_strerror(rte_errno)));
  for (const auto& m : st->members)
    if (rte_eth_bond_slave_add(static_cast<uint16_t>(id), m.id) != 0)
      fail(
          fmt::format("member '{}' cannot join the bond (see the bonding driver's message "
                      "above)",
                      m.device.name));
  // Members whose driver has link-status interrupts: the engine looks at once.
  for (const auto& m : st->members)
    rte_eth_dev_callback_register(m.id, RTE_ETH_EVENT_INTR_LSC, member_lsc_cb, this);
  // The driver's own polling of members without link interrupts (it cannot see af_packet or
  // tap links change; the engine handles those).
  rte_eth_bond_link_monitoring_set(static_cast<uint16_t>(id), spec.link_poll_ms);
  // (Members whose driver reports link changes itself are also followed by the bonding driver,
  // which takes them out at once: Debian's librte_net_bond 22.11 does not export
  // rte_eth_bond_link_{up,down}_prop_delay_set, so the delays are the engine's only.)
  if (spec.mode == BondMode::kActiveBackup) {
    rte_eth_bond_primary_set(static_cast<uint16_t>(id), st->members[st->primary].id);
  } else {
    if (rte_eth_bond_xmit_policy_set(static_cast<uint16_t>(id), dpdk_hash(spec.hash)) != 0)
      fail("cannot set the transmit hash");
  }
  if (spec.mode == BondMode::kLacp) {
    // LACP frames on a queue of their own where every member can steer them there (rte_flow);
    // otherwise they share the data queues and the workers' bursts carry them.
    if (rte_eth_bond_8023ad_dedicated_queues_enable(static_cast<uint16_t>(id)) == 0) {
      spdlog::info("bond '{}': LACP on a dedicated queue pair", d.name);
    } else {
      spdlog::info(
          "bond '{}': the members cannot steer LACP frames to a queue of their own "
          "(no rte_flow support): LACP shares the data queues",
          d.name);
    }
  }
  p.bond = st;
}

int Engine::member_lsc_cb(uint16_t, rte_eth_event_type, void* arg, void*) {
  static_cast<Engine*>(arg)->member_lsc_.store(true, std::memory_order_release);
  return 0;
}

void Engine::close_bond(PortState& p) {
  for (const auto& m : p.bond->members)
    rte_eth_dev_callback_unregister(m.id, RTE_ETH_EVENT_INTR_LSC, member_lsc_cb, this);
  // rte_eth_dev_close on the bond has removed the members; close them and let go of their
  // promiscuous memberships.
  for (auto& m : p.bond->members) {
    if (m.promisc_fd >= 0) {
      ::close(m.promisc_fd);
      m.promisc_fd = -1;
    }
    rte_eth_dev_stop(m.id);
    rte_eth_dev_close(m.id);
  }
  rte_eth_bond_free(p.device.device_name().c_str());
}

void Engine::member_link(PortState& p, BondMemberState& m, bool link, const char* source,
                         uint64_t now) {
  if (link == m.link && m.link_at_ms != 0) return;
  const bool first = m.link_at_ms == 0;
  {
    std::lock_guard lock(ports_mu_);
    m.link = link;
    m.link_at_ms = now;
    if (first) m.up = link;  // the state found at start-up (or when added): no delay
    if (!first) ++m.link_changes;
  }
  if (!first)
    spdlog::info("bond '{}': member '{}': link {} ({})", p.device.name, m.device.name,
                 link ? "up" : "down", source);
  bond_evaluate(p, now, fmt::format("{} link {}", m.device.name, link ? "up" : "down"));
}

bool Engine::bond_tick(uint64_t now_ms) {
  bool pending = false;
  const bool lsc = member_lsc_.exchange(false, std::memory_order_acq_rel);
  for (auto& p : ports_) {
    if (!p.bond || p.removing) continue;
    for (auto& m : p.bond->members) {
      if (kernel_backed(m.device) || (now_ms < m.next_poll_ms && !lsc)) continue;
      m.next_poll_ms = now_ms + p.device.bond->link_poll_ms;
      member_link(p, m, member_link_now(m), lsc ? "link interrupt" : "poll", now_ms);
    }
    if (p.bond->pending) pending |= bond_evaluate(p, now_ms, "");
  }
  return pending;
}

bool Engine::bond_evaluate(PortState& p, uint64_t now, const std::string& why) {
  BondState& b = *p.bond;
  const BondSpec& spec = *p.device.bond;
  bool pending = false;
  std::string reason = why;
  // With no member usable, the first link to come up is used without its up delay.
  const bool any_usable = std::any_of(b.members.begin(), b.members.end(),
                                      [](const BondMemberState& m) { return m.up; });
  for (auto& m : b.members) {
    if (m.up == m.link) continue;
    const uint32_t delay = m.link ? spec.up_delay_ms : spec.down_delay_ms;
    if (now < m.link_at_ms + delay && (any_usable || !m.link)) {
      pending = true;
      continue;
    }
    {
      std::lock_guard lock(ports_mu_);
      m.up = m.link;
    }
    if (reason.empty())
      reason = fmt::format("{} link {} for {} ms", m.device.name, m.link ? "up" : "down", delay);
  }
  // balance-xor, 802.3ad: a member is in the DPDK bond exactly while it is usable, so that no
  // flow hashes to a dead link (the drivers of af_packet and tap members always say "up").
  // Checked on every evaluation: a member found down at start-up, or a removal that failed,
  // is taken care of too.
  for (auto& m : b.members) {
    if (spec.mode == BondMode::kActiveBackup || m.up == m.in_bond) continue;
    const std::string why_m =
        reason.empty() ? fmt::format("{} link {}", m.device.name, m.up ? "up" : "down") : reason;
    if (!m.up) {
      if (rte_eth_bond_slave_remove(p.id, m.id) != 0) {
        spdlog::error("bond '{}': member '{}' cannot be taken out of the bond (retrying)",
                      p.device.name, m.device.name);
        pending = true;
        continue;
      }
      // No worker is still inside a burst that copied the member list before the removal.
      rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
      std::lock_guard lock(ports_mu_);
      m.in_bond = false;
      if (running_) {
        ++b.failovers;
        b.last_failover = rfc3339_now();
        b.last_from = m.device.name;
        b.last_to.clear();
        b.last_reason = why_m;
      }
    } else {
      if (rte_eth_bond_slave_add(p.id, m.id) != 0) {
        spdlog::error("bond '{}': member '{}' cannot rejoin the bond (retrying)", p.device.name,
                      m.device.name);
        pending = true;
        continue;
      }
      std::lock_guard lock(ports_mu_);
      m.in_bond = true;
    }
    spdlog::warn("bond '{}': member '{}' {} the bond ({})", p.device.name, m.device.name,
                 m.up ? "rejoined" : "left", why_m);
  }
  const bool any = std::any_of(b.members.begin(), b.members.end(),
                               [](const BondMemberState& m) { return m.up; });
  // A bond coming back up is up before its failover queues the announcements: worker 0 sends
  // nothing to a port whose link is down, and would drop them (link_down).
  if (any) set_link(p, true, p.link_speed, "bond members");
  if (spec.mode == BondMode::kActiveBackup) {
    int want = b.active >= 0 && b.members[b.active].up ? b.active : -1;
    if (b.members[b.primary].up && (spec.revert || want < 0)) want = b.primary;
    for (size_t i = 0; want < 0 && i < b.members.size(); ++i)
      if (b.members[i].up) want = static_cast<int>(i);
    if (want != b.active) bond_failover(p, want, reason);
  }
  {
    std::lock_guard lock(ports_mu_);
    b.pending = pending;
  }
  set_link(p, any, p.link_speed, "bond members");
  return pending;
}

void Engine::bond_failover(PortState& p, int to, const std::string& reason) {
  BondState& b = *p.bond;
  const int from = b.active;
  if (to >= 0) {
    // What reached the new member while it was a backup has waited in its receive queues
    // (the bonding driver receives on the active member only) and is stale now: broadcasts the
    // upstream switch flooded to it, our own announcements for a VM looped back, which would
    // teach the vswitch that the VM lives behind the bond. Discarded, as the Linux bonding
    // driver drops what an inactive slave receives; only while no worker polls the member (the
    // driver's current primary is another one).
    const uint16_t mid = b.members[to].id;
    if (rte_eth_bond_primary_get(p.id) != mid) {
      if (const unsigned n = discard_stale_rx(mid))
        spdlog::info("bond '{}': {} frame(s) that reached '{}' while it was a backup discarded",
                     p.device.name, n, b.members[to].device.name);
    }
    rte_eth_bond_primary_set(p.id, mid);
    // The driver takes it only for a member it has activated itself.
    if (rte_eth_bond_primary_get(p.id) != b.members[to].id)
      spdlog::warn(
          "bond '{}': the bonding driver did not make '{}' its primary (it sends on "
          "port id {}); it will once it sees the member's link",
          p.device.name, b.members[to].device.name, rte_eth_bond_primary_get(p.id));
  }
  std::string from_name = from >= 0 ? b.members[from].device.name : "none";
  if (from < 0 && !b.gone_active.empty()) from_name = b.gone_active;
  b.gone_active.clear();
  const std::string to_name = to >= 0 ? b.members[to].device.name : "none";
  const bool starting = !running_;  // the first choice at start-up is no failover
  {
    std::lock_guard lock(ports_mu_);
    b.active = to;
    if (!starting) {
      ++b.failovers;
      b.last_failover = rfc3339_now();
      b.last_from = from_name;
      b.last_to = to_name;
      b.last_reason = reason;
    }
  }
  if (starting) {
    spdlog::info("bond '{}': active member '{}'", p.device.name, to_name);
    return;
  }
  spdlog::warn("bond '{}': failover at {}: active member {} -> {} ({})", p.device.name,
               b.last_failover, from_name, to_name, reason);
  events::emit(events::Event("bond_failover", events::Severity::kWarning)
                   .str("bond", p.device.name)
                   .str("from", from_name)
                   .str("to", to_name)
                   .str("reason", reason));
  if (to >= 0) bond_announce(p);
}

void Engine::bond_announce(PortState& p) {
  if (!announcer_ || !workers_.front()->ctl_tx) return;
  std::vector<rte_mbuf*> frames;
  announcer_(p, frames);
  unsigned sent = 0, lost = 0;
  for (rte_mbuf* m : frames) {
    m->port = p.id;
    if (rte_ring_sp_enqueue(workers_.front()->ctl_tx, m) == 0) {
      ++sent;
    } else {
      rte_pktmbuf_free(m);
      ++lost;
    }
  }
  {
    std::lock_guard lock(ports_mu_);
    p.bond->announced += sent;
    p.bond->announce_lost += lost;
  }
  if (!frames.empty())
    spdlog::info("bond '{}': {} announcement(s) sent out of the new active member{}", p.device.name,
                 sent, lost ? fmt::format(", {} without room", lost) : "");
}

}  // namespace vnf

namespace vnf {

namespace {

const PortDevice* find_device(const std::vector<PortDevice>& v, const std::string& name) {
  for (const auto& d : v)
    if (d.name == name) return &d;
  return nullptr;
}

}  // namespace

void Engine::add_bond_members(const std::vector<PortDevice>& next) {
  std::vector<std::pair<PortState*, std::string>> added;
  try {
    for (auto& p : ports_) {
      if (!p.bond) continue;
      const PortDevice* nd = find_device(next, p.device.name);
      if (!nd || nd->kind != PortKind::kBond) continue;
      for (const PortDevice& md : nd->bond->members) {
        const bool known =
            std::any_of(p.bond->members.begin(), p.bond->members.end(),
                        [&](const BondMemberState& m) { return m.device.name == md.name; });
        if (known) continue;
        PortDevice dev = md;
        dev.effective_mtu = p.device.effective_mtu;  // a member carries its bond's mtu
        const uint64_t want =
            static_cast<uint64_t>(p.device.rx_desc + kBurstMax * 2) * workers_.size();
        if (rte_mempool_avail_count(pool_) < want + 2048)
          throw std::runtime_error(fmt::format(
              "{}:{}:{}: bond '{}': member '{}': the mbuf pool has no room for its queues: raise "
              "engine.mbufs and restart",
              md.file, md.line, md.column, p.device.name, md.name));
        const std::string name = dev.device_name();
        if (int rc = rte_eal_hotplug_add("vdev", name.c_str(), dev.device_params().c_str());
            rc != 0)
          throw std::runtime_error(
              fmt::format("{}:{}:{}: bond '{}': member '{}': device {} cannot "
                          "be added: {}",
                          md.file, md.line, md.column, p.device.name, md.name, dev.device_args(),
                          rte_strerror(-rc)));
        BondMemberState m;
        m.device = dev;
        if (rte_eth_dev_get_port_by_name(name.c_str(), &m.id) != 0 ||
            rte_eth_bond_slave_add(p.id, m.id) != 0) {
          rte_eal_hotplug_remove("vdev", name.c_str());
          throw std::runtime_error(fmt::format(
              "{}:{}:{}: bond '{}': member '{}' cannot join the bond (see the bonding driver's "
              "message above)",
              md.file, md.line, md.column, p.device.name, md.name));
        }
        rte_eth_dev_info info;
        if (rte_eth_dev_info_get(m.id, &info) == 0) m.ifindex = static_cast<int>(info.if_index);
        if (dev.kind == PortKind::kAfPacket) m.promisc_fd = join_promiscuous(m.ifindex);
        rte_eth_dev_callback_register(m.id, RTE_ETH_EVENT_INTR_LSC, member_lsc_cb, this);
        {
          std::lock_guard lock(ports_mu_);
          p.bond->members.push_back(std::move(m));
        }
        added.emplace_back(&p, md.name);
        if (kernel_backed(dev) && !links_) links_ = std::make_unique<LinkMonitor>();
        spdlog::info("bond '{}': member '{}' added by reload ({})", p.device.name, md.name,
                     dev.device_args());
        // Its link is looked at by settle_bonds, once the reload is committed: a reload that
        // fails later must not have failed anything over.
      }
    }
  } catch (...) {
    // Take out what this call added: the running spec does not list them.
    std::vector<PortDevice> running;
    for (const auto& p : ports_) running.push_back(p.device);
    settle_bonds(running);
    throw;
  }
}

void Engine::settle_bonds(const std::vector<PortDevice>& target) {
  for (auto& p : ports_) {
    if (!p.bond || p.removing) continue;
    const PortDevice* nd = find_device(target, p.device.name);
    if (!nd || nd->kind != PortKind::kBond) continue;
    BondState& b = *p.bond;
    const std::string active_name = b.active >= 0 ? b.members[b.active].device.name : "";
    std::string gone;
    for (size_t i = 0; i < b.members.size();) {
      BondMemberState& m = b.members[i];
      const bool kept = std::any_of(nd->bond->members.begin(), nd->bond->members.end(),
                                    [&](const PortDevice& d) { return d.name == m.device.name; });
      if (kept) {
        ++i;
        continue;
      }
      // Out of the list first (telemetry reads it under the lock), then closed.
      BondMemberState gone_m;
      {
        std::lock_guard lock(ports_mu_);
        gone_m = std::move(m);
        b.members.erase(b.members.begin() + static_cast<std::ptrdiff_t>(i));
      }
      if (gone_m.in_bond) rte_eth_bond_slave_remove(p.id, gone_m.id);
      // No worker is inside a burst that copied the member list before it left.
      rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
      if (gone_m.promisc_fd >= 0) ::close(gone_m.promisc_fd);
      rte_eth_dev_callback_unregister(gone_m.id, RTE_ETH_EVENT_INTR_LSC, member_lsc_cb, this);
      rte_eth_dev_stop(gone_m.id);
      rte_eth_dev_close(gone_m.id);
      if (gone_m.device.kind != PortKind::kPci)
        rte_eal_hotplug_remove("vdev", gone_m.device.device_name().c_str());
      spdlog::info("bond '{}': member '{}' removed by reload", p.device.name, gone_m.device.name);
      gone += (gone.empty() ? "" : ", ") + gone_m.device.name;
      if (gone_m.device.name == active_name) b.gone_active = active_name;
    }
    // The new settings; indices by name again.
    {
      std::lock_guard lock(ports_mu_);
      p.device.bond = nd->bond;
      b.active = -1;
      b.primary = 0;
      for (size_t i = 0; i < b.members.size(); ++i) {
        if (b.members[i].device.name == active_name) b.active = static_cast<int>(i);
        if (b.members[i].device.name == nd->bond->primary) b.primary = static_cast<int>(i);
      }
    }
    if (p.device.bond->mode == BondMode::kActiveBackup && b.active >= 0)
      rte_eth_bond_primary_set(p.id, b.members[b.active].id);
    rte_eth_bond_link_monitoring_set(p.id, p.device.bond->link_poll_ms);
    // Members this reload added: their first link report now that it is committed.
    for (auto& m : b.members)
      if (m.link_at_ms == 0) member_link(p, m, member_link_now(m), "reload", steady_ms());
    bond_evaluate(p, steady_ms(),
                  gone.empty() ? std::string("reload") : fmt::format("{} removed by reload", gone));
  }
}

}  // namespace vnf
