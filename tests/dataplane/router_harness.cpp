#include "tests/dataplane/router_harness.h"

#include <cstring>
#include <stdexcept>

#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>
#include <rte_launch.h>
#include <rte_mbuf.h>

#include <fmt/format.h>

#include "common/app.h"
#include "common/config_node.h"
#include "common/telemetry.h"
#include "common/worker.h"
#include "tests/dataplane/harness.h"

namespace dptest {

namespace {
unsigned next_instance() {
  static unsigned n = 0;
  return n++;
}
}  // namespace

RouterHarness::RouterHarness(const std::string& yaml) {
  init_eal_once();
  cfg_ = vrouter::parse_router_config(vnf::config::ConfigNode::load_string(yaml, "test.yaml"));
  cfg_.file = "test.yaml";
  const unsigned inst = next_instance();
  for (const auto& d : cfg_.devices) {
    if (d.kind != vnf::PortKind::kRing) throw std::invalid_argument("harness ports must be rings");
    RingPort rp;
    rp.to_dev = rte_ring_create(fmt::format("r{}_{}_in", inst, d.name).c_str(), 1024, SOCKET_ID_ANY,
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
    rp.from_dev = rte_ring_create(fmt::format("r{}_{}_out", inst, d.name).c_str(), 4096,
                                  SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!rp.to_dev || !rp.from_dev) throw std::runtime_error("ring create failed");
    if (rte_eth_from_rings(d.name.c_str(), &rp.to_dev, 1, &rp.from_dev, 1,
                           static_cast<unsigned>(rte_socket_id())) < 0)
      throw std::runtime_error("rte_eth_from_rings failed for " + d.name);
    rings_[d.name] = rp;
  }
  engine_ = std::make_unique<vnf::Engine>(cfg_.engine, cfg_.devices);
  router_ = std::make_unique<vrouter::Router>(*engine_, cfg_);
  now_ = vnf::monotonic_ms();  // the router's first timers were set on this clock
  poll();                      // sends the start-up announcements
  recv_all();
}

RouterHarness::~RouterHarness() {
  stop_worker();
  recv_all();
  router_.reset();
  engine_->stop_ports();
  engine_.reset();
  for (auto& [name, rp] : rings_) {
    rte_vdev_uninit(("net_ring_" + name).c_str());
    rte_mbuf* m;
    while (rte_ring_dequeue(rp.to_dev, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    while (rte_ring_dequeue(rp.from_dev, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(rp.to_dev);
    rte_ring_free(rp.from_dev);
  }
  vnf::telemetry::clear();
}

void RouterHarness::send(const std::string& port, const Bytes& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(engine_->pool());
  if (!m) throw std::runtime_error("mempool empty");
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  std::memcpy(p, frame.data(), frame.size());
  if (rte_ring_enqueue(rings_.at(port).to_dev, m) != 0) {
    rte_pktmbuf_free(m);
    throw std::runtime_error("rx ring full");
  }
}

unsigned RouterHarness::poll(unsigned rounds) {
  vnf::WorkerContext& w = engine_->worker(0);
  unsigned total = 0;
  rte_rcu_qsbr_thread_register(w.qsbr, w.id);
  for (unsigned i = 0; i < rounds; ++i) {
    rte_rcu_qsbr_thread_online(w.qsbr, w.id);
    total += vnf::poll_once(w, router_->pipeline(0));
    rte_rcu_qsbr_thread_offline(w.qsbr, w.id);
  }
  return total;
}

void RouterHarness::control() {
  auto& core = router_->core();
  std::lock_guard lock(core.mutex());
  core.flush_injects();
  core.drain_punts(now_);
  core.run_timers(now_);
  core.refresh_paths();
  core.flush_injects();
}

std::vector<Bytes> RouterHarness::recv(const std::string& port) {
  std::vector<Bytes> out;
  rte_mbuf* m;
  while (rte_ring_dequeue(rings_.at(port).from_dev, reinterpret_cast<void**>(&m)) == 0) {
    Bytes b(m->pkt_len);
    const void* d = rte_pktmbuf_read(m, 0, m->pkt_len, b.data());
    if (d != b.data()) std::memcpy(b.data(), d, m->pkt_len);
    out.push_back(std::move(b));
    rte_pktmbuf_free(m);
  }
  return out;
}

std::map<std::string, std::vector<Bytes>> RouterHarness::recv_all() {
  std::map<std::string, std::vector<Bytes>> all;
  for (const auto& [name, rp] : rings_) {
    (void)rp;
    auto v = recv(name);
    if (!v.empty()) all[name] = std::move(v);
  }
  return all;
}

std::map<std::string, std::vector<Bytes>> RouterHarness::exchange(const std::string& port,
                                                                  const Bytes& frame) {
  send(port, frame);
  poll();
  control();
  poll();
  return recv_all();
}

std::map<std::string, std::vector<Bytes>> RouterHarness::run_for(uint64_t ms, uint64_t step) {
  std::map<std::string, std::vector<Bytes>> all;
  for (uint64_t t = 0; t < ms; t += step) {
    advance(step);
    control();
    poll();
    for (auto& [port, frames] : recv_all())
      for (auto& f : frames) all[port].push_back(std::move(f));
  }
  return all;
}

void RouterHarness::apply_yaml(const std::string& yaml) {
  auto root = vnf::config::ConfigNode::load_string(yaml, "test.yaml");
  auto next = vrouter::parse_router_config(root);
  next.file = "test.yaml";
  vrouter::check_reloadable(router_->config(), next, root);
  router_->apply(std::move(next), vnf::Requester{0, 0, "test"}, now_);
}

void RouterHarness::start_worker() {
  running_ = true;
  worker_started_ = true;
  vnf::WorkerContext& w = engine_->worker(0);
  struct Arg {
    vnf::WorkerContext* w;
    vrouter::RouterPipeline* p;
    std::atomic<bool>* running;
  };
  static Arg arg;
  arg = Arg{&w, &router_->pipeline(0), &running_};
  if (rte_eal_remote_launch(
          [](void* a) -> int {
            auto* x = static_cast<Arg*>(a);
            return vnf::worker_main(*x->w, *x->p, *x->running);
          },
          &arg, w.lcore) != 0)
    throw std::runtime_error("cannot launch the worker");
}

void RouterHarness::stop_worker() {
  if (!worker_started_) return;
  running_ = false;
  rte_eal_wait_lcore(engine_->worker(0).lcore);
  worker_started_ = false;
}

}  // namespace dptest
