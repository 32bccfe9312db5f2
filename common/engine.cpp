#include "common/engine.h"
#include "common/events.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <algorithm>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace vnf {

namespace {

constexpr unsigned kMempoolCache = 256;

void tx_error_cb(rte_mbuf** unsent, uint16_t count, void* userdata) {
  auto* ctx = static_cast<TxErrorCtx*>(userdata);
  WorkerStats& s = ctx->worker->stats;
  s.port[ctx->port].tx_dropped.add(count);
  s.drops[static_cast<unsigned>(DropReason::kTxFull)].add(count);
  // They were counted as tx when buffered; the tx counters report what we handed to the
  // driver, tx_dropped what it refused.
  rte_pktmbuf_free_bulk(unsent, count);
}

std::string join(const std::vector<unsigned>& v) {
  std::string s;
  for (unsigned x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

}  // namespace

std::vector<std::string> eal_arguments(const EngineConfig& cfg,
                                       const std::vector<PortDevice>& ports, const EalOptions& opt,
                                       const std::string& program) {
  std::vector<std::string> a{program};
  const auto& lcores = opt.lcores.empty() ? cfg.lcores : opt.lcores;
  a.insert(a.end(), {"-l", join(lcores), "--main-lcore", std::to_string(lcores.front())});
  a.insert(a.end(), {"--file-prefix", opt.file_prefix.empty() ? cfg.prefix() : opt.file_prefix});
  a.insert(a.end(), {"-m", std::to_string(cfg.memory_mb)});
  if (opt.no_huge || !cfg.hugepages) {
    // --in-memory is refused together with --no-huge; --no-shconf keeps nothing on disk
    // but the telemetry socket.
    a.insert(a.end(), {"--no-huge", "--no-shconf"});
  } else if (!cfg.secondary_processes) {
    a.push_back("--huge-unlink");  // no hugepage files left behind, even after a crash
  }
  bool any_pci = false;
  auto device = [&](const PortDevice& p) {
    if (p.kind == PortKind::kPci) {
      a.insert(a.end(), {"-a", p.device_args()});
      any_pci = true;
    } else if (p.kind != PortKind::kRing) {
      a.insert(a.end(), {"--vdev", p.device_args()});
    }
  };
  for (const auto& p : ports) {
    if (p.kind != PortKind::kBond) {
      device(p);
      continue;
    }
    for (const auto& m : p.bond->members) device(m);  // the bond itself: Engine::create_bond
  }
  if (!any_pci) a.push_back("--no-pci");
  a.insert(a.end(), cfg.eal_args.begin(), cfg.eal_args.end());
  a.insert(a.end(), opt.extra.begin(), opt.extra.end());
  return a;
}

void eal_init(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::vector<std::string> copy = args;  // rte_eal_init may permute argv
  for (auto& s : copy) argv.push_back(s.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0)
    throw std::runtime_error(fmt::format("EAL initialisation failed: {}", rte_strerror(rte_errno)));
}

void remove_stale_sockets(const std::vector<PortDevice>& ports) {
  for (const auto& p : ports) {
    const bool server = (p.kind == PortKind::kVhost && !p.client) ||
                        (p.kind == PortKind::kMemif && p.role != "client");
    if (!server || p.socket.empty()) continue;
    struct stat st {};
    if (::lstat(p.socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", p.socket.c_str());
    const bool refused = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 &&
                         (errno == ECONNREFUSED || errno == ENOENT);
    ::close(fd);
    if (refused && ::unlink(p.socket.c_str()) == 0)
      spdlog::info("port '{}': removed stale socket {} (nothing listening)", p.name, p.socket);
  }
}

Engine::Engine(const EngineConfig& cfg, const std::vector<PortDevice>& ports) : cfg_(cfg) {
  socket_ = static_cast<int>(rte_socket_id());
  // Workers are the lcores after the main one.
  std::vector<unsigned> worker_lcores;
  unsigned lc;
  RTE_LCORE_FOREACH_WORKER(lc) { worker_lcores.push_back(lc); }
  if (worker_lcores.empty()) throw std::runtime_error("no worker lcore: give at least two lcores");
  const unsigned nworkers = static_cast<unsigned>(worker_lcores.size());

  // Resolve ports and size the mempool before creating any queue.
  uint64_t need = 0;
  for (const auto& d : ports) {
    PortState p;
    p.device = d;
    if (d.kind == PortKind::kBond) {
      create_bond(p);
      // The members' queues take the bond's descriptor counts.
      need += static_cast<uint64_t>(d.rx_desc + d.tx_desc) * nworkers * d.bond->members.size();
    }
    resolve_port(p);
    need += static_cast<uint64_t>(d.rx_desc + d.tx_desc) * nworkers;
    ports_.push_back(p);
  }
  // Room for the ports a reload may add (hot_pluggable kinds) at the default descriptor counts.
  need += static_cast<uint64_t>(cfg.spare_ports) * (1024 + 1024) * nworkers;
  need += static_cast<uint64_t>(nworkers) *
          (kBurstMax * (ports_.size() + cfg.spare_ports + 4) + kMempoolCache);
  need += kMempoolCache * 2 + 4096;  // main lcore cache, flood copies in flight, margin
  uint32_t nb_mbufs = cfg.mbufs ? cfg.mbufs : static_cast<uint32_t>(need);
  if (cfg.mbufs && cfg.mbufs < need)
    spdlog::warn("engine.mbufs={} is below the {} the ports' queues can hold: expect rx_nombuf",
                 cfg.mbufs, need);

  // One frame per mbuf on every port: jumbo MTUs make the data room bigger (af_packet also
  // needs room for its whole ring slot).
  uint32_t data_room = RTE_MBUF_DEFAULT_DATAROOM;
  auto room_for = [&data_room](const PortDevice& d, uint16_t rx_desc) {
    const uint32_t mtu = d.port_mtu();
    uint32_t room = mtu > 1500 ? max_frame_len(mtu) + 1 : 0;
    if (d.kind == PortKind::kAfPacket) room = af_packet_geometry(mtu, rx_desc).mbuf_data();
    data_room = std::max(data_room, room);
  };
  for (const auto& d : ports) {
    room_for(d, d.rx_desc);
    if (d.kind == PortKind::kBond)
      for (const auto& m : d.bond->members) room_for(m, m.rx_desc);
  }
  static std::atomic<unsigned> instance{0};  // several engines in one test process
  const std::string pool_name = fmt::format("vnf_pool_{}", instance++);
  pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), nb_mbufs, kMempoolCache, kMbufPrivSize,
                                  static_cast<uint16_t>(data_room + RTE_PKTMBUF_HEADROOM), socket_);
  if (!pool_)
    throw std::runtime_error(
        fmt::format("cannot create a pool of {} mbufs of {} bytes: {} (raise "
                    "engine.memory_mb or lower engine.mbufs)",
                    nb_mbufs, data_room, rte_strerror(rte_errno)));

  // RCU domain: one reader id per worker.
  const size_t sz = rte_rcu_qsbr_get_memsize(nworkers);
  qsbr_ =
      static_cast<rte_rcu_qsbr*>(rte_zmalloc_socket("vnf_qsbr", sz, RTE_CACHE_LINE_SIZE, socket_));
  if (!qsbr_ || rte_rcu_qsbr_init(qsbr_, nworkers) != 0)
    throw std::runtime_error("cannot create the RCU QSBR variable");

  for (unsigned i = 0; i < nworkers; ++i) {
    void* mem = rte_zmalloc_socket("vnf_worker", sizeof(WorkerContext), RTE_CACHE_LINE_SIZE,
                                   static_cast<int>(rte_lcore_to_socket_id(worker_lcores[i])));
    if (!mem) throw std::runtime_error("cannot allocate worker context");
    auto* w = new (mem) WorkerContext();
    w->id = i;
    w->lcore = worker_lcores[i];
    w->socket = static_cast<int>(rte_lcore_to_socket_id(w->lcore));
    w->txq = static_cast<uint16_t>(i);
    w->pool = pool_;
    w->qsbr = qsbr_;
    w->idle_sleep_us = cfg.idle_sleep_us;
    w->tsc_hz = rte_get_tsc_hz();
    w->port_up = port_up_;
    workers_.push_back(w);
  }
  for (auto& p : ports_) setup_port(p, nworkers);
  for (auto& p : ports_) {
    if (!p.bond) continue;
    if (!workers_.front()->ctl_tx) {
      const std::string rname = fmt::format("vnf_ctl_tx_{}", pool_name);
      workers_.front()->ctl_tx =
          rte_ring_create(rname.c_str(), 1024, socket_, RING_F_SP_ENQ | RING_F_SC_DEQ);
      if (!workers_.front()->ctl_tx) throw std::runtime_error("cannot create the control tx ring");
    }
    if (p.device.bond->mode != BondMode::kLacp) continue;
    for (auto* w : workers_) {
      if (w->n_lacp == std::size(w->lacp_ports))
        throw std::runtime_error(fmt::format("at most {} 802.3ad bonds", std::size(w->lacp_ports)));
      w->lacp_ports[w->n_lacp++] = p.id;
    }
  }
  for (auto* w : workers_) w->rx_list.store(&w->rx_lists[0], std::memory_order_release);
  build_rx();
  const bool kernel_ports = std::any_of(ports_.begin(), ports_.end(), [&](const PortState& p) {
    if (p.bond)
      return std::any_of(p.bond->members.begin(), p.bond->members.end(),
                         [&](const BondMemberState& m) { return kernel_backed(m.device); });
    return kernel_backed(p.device);
  });
  if (kernel_ports) {
    links_ = std::make_unique<LinkMonitor>();
    if (links_->fd() < 0)
      spdlog::warn("no rtnetlink link events ({}): link changes of af_packet and tap ports are "
                   "seen by polling only (every 500 ms)",
                   std::strerror(errno));
  }
  poll_links();
  running_ = true;
}

void Engine::resolve_port(PortState& p) const {
  const PortDevice& d = p.device;
  if (rte_eth_dev_get_port_by_name(d.device_name().c_str(), &p.id) != 0)
    throw std::runtime_error(
        fmt::format("{}:{}:{}: port '{}': device {} did not come up (see the EAL messages above)",
                    d.file, d.line, d.column, d.name, d.device_name()));
  if (p.id >= kMaxPorts)
    throw std::runtime_error(fmt::format("port '{}': DPDK port id {} too large", d.name, p.id));
}

void Engine::setup_port(PortState& p, unsigned nworkers) {
  const PortDevice& d = p.device;
  auto fail = [&](const std::string& what, int rc) {
    throw std::runtime_error(fmt::format("{}:{}:{}: port '{}' ({}): {}: {}", d.file, d.line,
                                         d.column, d.name, d.device_name(), what,
                                         rte_strerror(-rc)));
  };
  rte_eth_dev_info info;
  if (int rc = rte_eth_dev_info_get(p.id, &info); rc != 0) fail("device info", rc);
  p.ifindex = static_cast<int>(info.if_index);
  const uint32_t mtu = d.port_mtu();
  set_port_mtu(p, mtu);
  if (info.max_tx_queues < nworkers)
    throw std::runtime_error(fmt::format(
        "port '{}': the {} driver has {} tx queue(s), {} workers need one each; use fewer "
        "workers (engine.lcores)",
        d.name, info.driver_name, info.max_tx_queues, nworkers));
  p.rx_queues = static_cast<uint16_t>(std::min<unsigned>(nworkers, info.max_rx_queues));
  p.tx_queues = static_cast<uint16_t>(nworkers);

  rte_eth_conf conf{};
  // A symmetric Toeplitz key (0x6d5a repeated) sends both directions of a flow to the same
  // queue index, so per-worker state (the firewall's connection tables) sees both. Drivers
  // that refuse a key of their own size get their default key (and a warning).
  std::vector<uint8_t> sym_key(info.hash_key_size);
  for (size_t i = 0; i < sym_key.size(); ++i) sym_key[i] = i % 2 ? 0x5a : 0x6d;
  if (p.rx_queues > 1 && info.flow_type_rss_offloads) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    if (!sym_key.empty()) {
      conf.rx_adv_conf.rss_conf.rss_key = sym_key.data();
      conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(sym_key.size());
    }
  }
  // Offloads that change nothing the appliance does, where the device offers them:
  // - the NIC checks IPv4 header checksums: the router skips its own check for frames marked
  //   good (RTE_MBUF_F_RX_IP_CKSUM_GOOD) and still checks the others;
  // - fast mbuf release: every mbuf sent comes from the engine's one pool with a reference
  //   count of 1 (floods are copies, never clones). Not on a bond: net_bonding sends its LACP
  //   frames from a pool of its own through the members' queues.
  // Virtual devices (af_packet, tap, vhost, pcap, null) offer neither.
  conf.rxmode.offloads |= info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
  if (d.kind != PortKind::kBond)
    conf.txmode.offloads |= info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
  if (conf.rxmode.offloads || conf.txmode.offloads)
    spdlog::info("port '{}': offloads:{}{}", d.name,
                 conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM ? " rx ipv4 checksum" : "",
                 conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE ? " tx fast free" : "");
  int crc = rte_eth_dev_configure(p.id, p.rx_queues, p.tx_queues, &conf);
  if (crc != 0 && conf.rx_adv_conf.rss_conf.rss_key) {
    spdlog::warn("port '{}': symmetric RSS key refused ({}); using the driver's key: the two "
                 "directions of a flow may reach different workers",
                 d.name, rte_strerror(-crc));
    conf.rx_adv_conf.rss_conf.rss_key = nullptr;
    conf.rx_adv_conf.rss_conf.rss_key_len = 0;
    crc = rte_eth_dev_configure(p.id, p.rx_queues, p.tx_queues, &conf);
  }
  if (crc != 0) fail("configure", crc);
  uint16_t nb_rxd = d.rx_desc, nb_txd = d.tx_desc;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(p.id, &nb_rxd, &nb_txd); rc != 0)
    fail("descriptor counts", rc);
  const int sock = rte_eth_dev_socket_id(p.id) < 0 ? socket_ : rte_eth_dev_socket_id(p.id);
  for (uint16_t q = 0; q < p.rx_queues; ++q)
    if (int rc = rte_eth_rx_queue_setup(p.id, q, nb_rxd, sock, nullptr, pool_); rc != 0)
      fail(fmt::format("rx queue {}", q), rc);
  for (uint16_t q = 0; q < p.tx_queues; ++q)
    if (int rc = rte_eth_tx_queue_setup(p.id, q, nb_txd, sock, nullptr); rc != 0)
      fail(fmt::format("tx queue {}", q), rc);

  if (d.kind == PortKind::kAfPacket) {
    // The outer VLAN tag's TPID as the kernel reported it (common/af_packet.h).
    auto ring = std::make_shared<AfPacketRing>();
    std::string why;
    if (p.rx_queues == 1 &&
        map_af_packet_ring(p.ifindex, af_packet_geometry(mtu, d.rx_desc), *ring, why)) {
      p.ring = ring;
    } else {
      spdlog::warn("port '{}': cannot read the driver's ring ({}): 802.1ad outer tags will "
                   "arrive as 0x8100",
                   d.name, p.rx_queues == 1 ? why : "more than one queue");
    }
  }
  for (unsigned i = 0; i < nworkers; ++i) {
    WorkerContext& w = *workers_[i];
    w.max_frame[p.id] = max_frame_len(mtu);
    if (w.txbuf[p.id]) continue;  // the id was used before: its (empty) buffer is reused
    auto* buf = static_cast<rte_eth_dev_tx_buffer*>(rte_zmalloc_socket(
        "vnf_txbuf", RTE_ETH_TX_BUFFER_SIZE(kBurstMax), RTE_CACHE_LINE_SIZE, w.socket));
    if (!buf) throw std::runtime_error("cannot allocate tx buffer");
    rte_eth_tx_buffer_init(buf, kBurstMax);
    w.tx_err[p.id] = TxErrorCtx{&w, p.id};
    rte_eth_tx_buffer_set_err_callback(buf, tx_error_cb, &w.tx_err[p.id]);
    w.txbuf[p.id] = buf;
    if (w.nb_ports.load(std::memory_order_relaxed) <= p.id)
      w.nb_ports.store(static_cast<uint16_t>(p.id + 1), std::memory_order_release);
  }
  // A switch port sees every frame. Drivers without the notion (ring, null) say ENOTSUP.
  // af_packet: a membership of our own socket instead of the driver's IFF_PROMISC, so that
  // the kernel takes it back however the process ends (a SIGKILL included).
  if (d.kind == PortKind::kBond) {
    // The driver passes promiscuous mode to the current primary only (active-backup); the
    // engine makes every af_packet member promiscuous through its own socket (see below).
    for (auto& m : p.bond->members) {
      if (m.device.kind != PortKind::kAfPacket) continue;
      m.promisc_fd = join_promiscuous(m.ifindex);
      if (m.promisc_fd < 0)
        spdlog::warn("bond '{}': member '{}': promiscuous mode: {}", d.name, m.device.name,
                     std::strerror(errno));
    }
  }
  if (d.kind == PortKind::kAfPacket) {
    p.promisc_fd = join_promiscuous(p.ifindex);
    if (p.promisc_fd < 0)
      spdlog::warn("port '{}': promiscuous mode: {}", d.name, std::strerror(errno));
  } else if (int rc = rte_eth_promiscuous_enable(p.id); rc != 0 && rc != -ENOTSUP) {
    spdlog::warn("port '{}': promiscuous mode: {}", d.name, rte_strerror(-rc));
  }
  if (int rc = rte_eth_dev_start(p.id); rc != 0) fail("start", rc);
  spdlog::info("port '{}': {} ({}), port id {}, {} rx / {} tx queues, mtu {}", d.name,
               port_kind_name(d.kind), d.device_args(), p.id, p.rx_queues, p.tx_queues, mtu);
}

void Engine::set_port_mtu(PortState& p, uint32_t mtu) {
  const PortDevice& d = p.device;
  // Kernel-backed ports: the interface itself (DPDK's af_packet and tap drivers refuse MTUs
  // above 1500). af_packet without `mtu` took the interface's own at start-up: nothing to do.
  if (d.kind == PortKind::kAfPacket || d.kind == PortKind::kTap) {
    const std::string iface = d.kind == PortKind::kTap && d.iface.empty() ? d.name : d.iface;
    const uint32_t now = interface_mtu(iface);
    if (now == mtu) return;
    try {
      set_interface_mtu(iface, mtu);
    } catch (const std::exception& e) {
      throw std::runtime_error(
          fmt::format("{}:{}:{}: port '{}': {}", d.file, d.line, d.column, d.name, e.what()));
    }
    spdlog::info("port '{}': interface {} MTU {} -> {} (the port's mtu)", d.name, iface, now, mtu);
    return;
  }
  // Other drivers: set it where the port asks for a non-default MTU; the worker enforces it
  // in any case.
  if (d.mtu == 0) return;
  const int rc = rte_eth_dev_set_mtu(p.id, static_cast<uint16_t>(mtu));
  if (rc == -ENOTSUP) return;
  if (rc != 0)
    throw std::runtime_error(fmt::format("{}:{}:{}: port '{}': the {} driver cannot take mtu {}: {}",
                                         d.file, d.line, d.column, d.name,
                                         port_kind_name(d.kind), mtu, rte_strerror(-rc)));
}

Engine::~Engine() {
  stop_ports();
  for (auto* w : workers_) {
    for (auto* b : w->txbuf) rte_free(b);
    if (w->ctl_tx) {
      rte_mbuf* m = nullptr;
      while (rte_ring_dequeue(w->ctl_tx, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
      rte_ring_free(w->ctl_tx);
    }
    w->~WorkerContext();
    rte_free(w);
  }
  if (pool_) rte_mempool_free(pool_);
  rte_free(qsbr_);
}

void Engine::stop_ports() {
  if (ports_stopped_) return;
  ports_stopped_ = true;
  for (auto& p : ports_) close_port(p);
}

void Engine::close_port(PortState& p) {
  // Drop what is still buffered before the queues go away.
  for (auto* w : workers_) {
    if (w->txbuf[p.id] && w->txbuf[p.id]->length) {
      rte_pktmbuf_free_bulk(w->txbuf[p.id]->pkts, w->txbuf[p.id]->length);
      w->txbuf[p.id]->length = 0;
    }
  }
  // Leave host interfaces as we found them.
  if (p.promisc_fd >= 0) {
    ::close(p.promisc_fd);
    p.promisc_fd = -1;
  } else if (p.device.kind != PortKind::kAfPacket) {
    rte_eth_promiscuous_disable(p.id);
  }
  if (int rc = rte_eth_dev_stop(p.id); rc != 0)
    spdlog::warn("port '{}': stop: {}", p.device.name, rte_strerror(-rc));
  if (p.ring) unmap_af_packet_ring(*p.ring);
  rte_eth_dev_close(p.id);
  if (p.bond) close_bond(p);
}

void Engine::build_rx() {
  for (unsigned i = 0; i < workers_.size(); ++i) {
    WorkerContext& w = *workers_[i];
    // The copy the worker does not read (after the last publish_rx's grace period, it reads
    // only the other one).
    const RxList* cur = w.rx_list.load(std::memory_order_acquire);
    RxList& next = cur == &w.rx_lists[0] ? w.rx_lists[1] : w.rx_lists[0];
    next.count = 0;
    for (const auto& p : ports_)
      if (!p.removing && i < p.rx_queues)
        next.q[next.count++] = RxQueue{p.id, static_cast<uint16_t>(i), p.ring.get()};
    w.rx_list.store(&next, std::memory_order_release);
  }
}

void Engine::publish_rx() {
  build_rx();
  rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
}

void Engine::add_ports(const std::vector<PortDevice>& devices) {
  std::vector<std::string> added;
  try {
    for (const auto& d : devices) {
      if (!hot_pluggable(d.kind))
        throw std::runtime_error(fmt::format("{}:{}:{}: port '{}': {} ports need a restart", d.file,
                                             d.line, d.column, d.name, port_kind_name(d.kind)));
      PortState p;
      p.device = d;
      p.device.effective_mtu = static_cast<uint16_t>(d.port_mtu());
      const uint32_t room = rte_pktmbuf_data_room_size(pool_) - RTE_PKTMBUF_HEADROOM;
      if (max_frame_len(p.device.port_mtu()) > room)
        throw std::runtime_error(fmt::format(
            "{}:{}:{}: port '{}': mtu {} needs {}-byte buffers, the pool's hold {}: a port with "
            "this mtu needs a restart",
            d.file, d.line, d.column, d.name, p.device.port_mtu(),
            max_frame_len(p.device.port_mtu()), room));
      // What the new queues take out of the pool (the tap driver fills its rx ring at once),
      // with a burst per worker and queue to spare for the traffic already flowing.
      const uint64_t want = static_cast<uint64_t>(d.rx_desc + kBurstMax * 2) * workers_.size();
      const unsigned avail = rte_mempool_avail_count(pool_);
      if (avail < want + 2048)
        throw std::runtime_error(fmt::format(
            "{}:{}:{}: port '{}': the mbuf pool has {} buffers free, the port's queues need {} "
            "and traffic needs room: raise engine.mbufs (or lower rx_desc) and restart",
            d.file, d.line, d.column, d.name, avail, want));
      remove_stale_sockets({d});
      const std::string name = d.device_name();
      if (int rc = rte_eal_hotplug_add("vdev", name.c_str(), d.device_params().c_str()); rc != 0)
        throw std::runtime_error(fmt::format("{}:{}:{}: port '{}': device {} cannot be added: {}",
                                             d.file, d.line, d.column, d.name, d.device_args(),
                                             rte_strerror(-rc)));
      try {
        resolve_port(p);
        setup_port(p, static_cast<unsigned>(workers_.size()));
      } catch (...) {
        close_port(p);
        rte_eal_hotplug_remove("vdev", name.c_str());
        throw;
      }
      for (int k = 0; k < 6; ++k) port_base_[p.id][k] = 0;
      uint64_t raw[6];
      sum_port(p.id, raw);
      for (int k = 0; k < 6; ++k) port_base_[p.id][k] = raw[k];
      {
        std::lock_guard lock(ports_mu_);
        ports_.push_back(std::move(p));
      }
      added.push_back(d.name);
      spdlog::info("port '{}': added by reload", d.name);
      if (d.kind == PortKind::kTap && !links_) links_ = std::make_unique<LinkMonitor>();
    }
  } catch (...) {
    remove_ports(added);
    throw;
  }
  poll_links();
}

void Engine::remove_ports(const std::vector<std::string>& names) {
  if (names.empty()) return;
  {
    std::lock_guard lock(ports_mu_);  // telemetry skips a port on its way out
    for (auto& p : ports_) {
      if (std::find(names.begin(), names.end(), p.device.name) == names.end()) continue;
      p.removing = true;
      port_up_[p.id].store(0, std::memory_order_relaxed);  // nothing more is sent to it
    }
  }
  publish_rx();  // and the grace period: no worker polls or sends to them any more
  for (auto& p : ports_) {
    if (!p.removing) continue;
    close_port(p);
    for (auto* w : workers_) w->max_frame[p.id] = 0;
    if (p.device.kind != PortKind::kPci) {
      if (int rc = rte_eal_hotplug_remove("vdev", p.device.device_name().c_str()); rc != 0)
        spdlog::warn("port '{}': removing device {}: {}", p.device.name, p.device.device_name(),
                     rte_strerror(-rc));
    }
    spdlog::info("port '{}': removed by reload (port id {})", p.device.name, p.id);
  }
  std::lock_guard lock(ports_mu_);
  ports_.erase(
      std::remove_if(ports_.begin(), ports_.end(), [](const PortState& p) { return p.removing; }),
      ports_.end());
}

uint16_t Engine::port_id(const std::string& name) const {
  for (const auto& p : ports_)
    if (p.device.name == name) return p.id;
  throw std::out_of_range("unknown port '" + name + "'");
}

const PortState* Engine::find_port(const std::string& name) const {
  for (const auto& p : ports_)
    if (p.device.name == name && !p.removing) return &p;
  return nullptr;
}

const PortState* Engine::port_by_id(uint16_t id) const {
  for (const auto& p : ports_)
    if (p.id == id) return &p;
  return nullptr;
}

void Engine::set_link(PortState& p, bool up, uint32_t speed, const char* source) {
  port_up_[p.id].store(up ? 1 : 0, std::memory_order_relaxed);
  if (up == p.link_up && (!up || speed == p.link_speed)) return;
  const bool changed = up != p.link_up;
  spdlog::info("port '{}': link {}{} ({})", p.device.name, up ? "up" : "down",
               up && speed ? fmt::format(" {} Mbps", speed) : "", source);
  p.link_up = up;
  p.link_speed = speed;
  if (!changed) return;
  ++p.link_changes;
  events::Event e("link", up ? events::Severity::kNotice : events::Severity::kWarning);
  e.str("port", p.device.name).str("state", up ? "up" : "down").str("source", source);
  if (up && speed) e.num("speed_mbps", speed);
  events::emit(e);
  for (const auto& f : link_listeners_) f(p);
}

bool Engine::poll_links() {
  bool changed = false;
  for (auto& p : ports_) {
    if (p.bond) {  // the bond's link follows its members
      for (auto& m : p.bond->members) member_link(p, m, member_link_now(m), "poll", steady_ms());
      continue;
    }
    rte_eth_link link{};
    const bool known = rte_eth_link_get_nowait(p.id, &link) == 0;
    bool up = known && link.link_status == RTE_ETH_LINK_UP;
    const uint32_t speed = up ? link.link_speed : 0;
    // The af_packet driver says "up" from start to stop: ask the kernel. A tap interface that
    // left our namespace (into a VM's, in the tests) is the VM's business: its fd still
    // carries frames.
    if (p.device.kind == PortKind::kAfPacket) {
      up = interface_link_up(p.device.iface).value_or(false);
    } else if (p.device.kind == PortKind::kTap) {
      up = interface_link_up(p.device.iface.empty() ? p.device.name : p.device.iface)
               .value_or(true);
    } else if (!known) {
      continue;
    }
    const bool before = p.link_up;
    set_link(p, up, speed, "poll");
    changed |= before != p.link_up;
  }
  return changed;
}

bool Engine::handle_link_events() {
  if (!links_) return false;
  bool changed = false;
  links_->drain([&](const KernelLink& l) {
    for (auto& p : ports_) {
      if (p.bond) {
        for (auto& m : p.bond->members)
          if (m.ifindex == l.ifindex) {
            member_link(p, m, l.up && !l.gone, "netlink", steady_ms());
            changed = true;
          }
        continue;
      }
      if (p.ifindex != l.ifindex) continue;
      if (p.device.kind != PortKind::kAfPacket && p.device.kind != PortKind::kTap) continue;
      const bool up = l.gone ? p.device.kind == PortKind::kTap : l.up;
      const bool before = p.link_up;
      set_link(p, up, p.link_speed, "netlink");
      changed |= before != p.link_up;
      if (l.mtu == 0 || l.mtu == p.kernel_mtu) continue;
      p.kernel_mtu = l.mtu;
      if (p.device.kind == PortKind::kAfPacket && l.mtu > p.device.port_mtu())
        spdlog::warn("port '{}': interface {} now has MTU {}, the port's mtu is {}: longer "
                     "frames are dropped (frame_too_long)",
                     p.device.name, p.device.iface, l.mtu, p.device.port_mtu());
    }
  });
  return changed;
}

uint64_t Engine::drop_total(DropReason r) const {
  uint64_t t = 0;
  for (const auto* w : workers_) t += w->stats.drops[static_cast<unsigned>(r)].get();
  return t;
}

void Engine::sum_port(uint16_t id, uint64_t out[6]) const {
  for (int i = 0; i < 6; ++i) out[i] = 0 - port_base_[id][i];
  for (const auto* w : workers_) {
    const PortCounters& c = w->stats.port[id];
    out[0] += c.rx_packets.get();
    out[1] += c.rx_bytes.get();
    out[2] += c.tx_packets.get();
    out[3] += c.tx_bytes.get();
    out[4] += c.tx_dropped.get();
    out[5] += c.dropped.get();
  }
}

}  // namespace vnf
