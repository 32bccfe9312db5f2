#include "tests/dataplane/harness.h"

#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/config_node.h"
#include "common/telemetry.h"
#include "common/worker.h"

namespace dptest {

void init_eal_once() {
  static bool done = false;
  if (done) return;
  done = true;
  spdlog::set_level(spdlog::level::warn);
  const std::string prefix = fmt::format("dptest-{}", getpid());
  std::vector<std::string> args = {
      "dataplane_tests", "-l",       "0,1",           "--no-huge", "-m",          "512",
      "--no-shconf",     "--no-pci", "--file-prefix", prefix,      "--log-level", "*:warning"};
  vnf::eal_init(args);
}

namespace {
unsigned next_instance() {
  static unsigned n = 0;
  return n++;
}
}  // namespace

SwitchHarness::SwitchHarness(const std::string& yaml) {
  init_eal_once();
  cfg_ = vswitch::parse_switch_config(vnf::config::ConfigNode::load_string(yaml, "test.yaml"));
  cfg_.file = "test.yaml";
  const unsigned inst = next_instance();
  for (const auto& d : cfg_.devices) {
    if (d.kind != vnf::PortKind::kRing) throw std::invalid_argument("harness ports must be rings");
    RingPort rp;
    rp.to_switch = rte_ring_create(fmt::format("t{}_{}_in", inst, d.name).c_str(), 1024,
                                   SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    rp.from_switch = rte_ring_create(fmt::format("t{}_{}_out", inst, d.name).c_str(), 4096,
                                     SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!rp.to_switch || !rp.from_switch) throw std::runtime_error("ring create failed");
    // The ring PMD names the port "net_ring_<name>": PortDevice::device_name() for rings.
    if (rte_eth_from_rings(d.name.c_str(), &rp.to_switch, 1, &rp.from_switch, 1,
                           static_cast<unsigned>(rte_socket_id())) < 0)
      throw std::runtime_error("rte_eth_from_rings failed for " + d.name);
    rings_[d.name] = rp;
  }
  engine_ = std::make_unique<vnf::Engine>(cfg_.engine, cfg_.devices);
  sw_ = std::make_unique<vswitch::Switch>(*engine_, cfg_);
}

SwitchHarness::~SwitchHarness() {
  stop_worker();
  for (auto& [name, rp] : rings_) {
    (void)name;
    recv_all();
  }
  sw_.reset();
  engine_->stop_ports();
  engine_.reset();
  for (auto& [name, rp] : rings_) {
    // Closing the port leaves its vdev on the bus; remove it so the next test can reuse
    // the name.
    rte_vdev_uninit(("net_ring_" + name).c_str());
    rte_mbuf* m;
    while (rte_ring_dequeue(rp.to_switch, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(rp.to_switch);
    rte_ring_free(rp.from_switch);
  }
  vnf::telemetry::clear();
}

void SwitchHarness::send(const std::string& port, const Bytes& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(engine_->pool());
  if (!m) throw std::runtime_error("mempool empty");
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  std::memcpy(p, frame.data(), frame.size());
  if (rte_ring_enqueue(rings_.at(port).to_switch, m) != 0) {
    rte_pktmbuf_free(m);
    throw std::runtime_error("rx ring full");
  }
}

unsigned SwitchHarness::poll(unsigned rounds) {
  vnf::WorkerContext& w = engine_->worker(0);
  unsigned total = 0;
  rte_rcu_qsbr_thread_register(w.qsbr, w.id);
  for (unsigned i = 0; i < rounds; ++i) {
    rte_rcu_qsbr_thread_online(w.qsbr, w.id);
    total += vnf::poll_once(w, sw_->pipeline(0));
    rte_rcu_qsbr_thread_offline(w.qsbr, w.id);
  }
  return total;
}

std::vector<Bytes> SwitchHarness::recv(const std::string& port) {
  std::vector<Bytes> out;
  rte_mbuf* m;
  while (rte_ring_dequeue(rings_.at(port).from_switch, reinterpret_cast<void**>(&m)) == 0) {
    Bytes b(m->pkt_len);
    const void* d = rte_pktmbuf_read(m, 0, m->pkt_len, b.data());
    if (d != b.data()) std::memcpy(b.data(), d, m->pkt_len);
    out.push_back(std::move(b));
    rte_pktmbuf_free(m);
  }
  return out;
}

std::map<std::string, std::vector<Bytes>> SwitchHarness::recv_all() {
  std::map<std::string, std::vector<Bytes>> all;
  for (const auto& [name, rp] : rings_) {
    (void)rp;
    auto v = recv(name);
    if (!v.empty()) all[name] = std::move(v);
  }
  return all;
}

std::map<std::string, std::vector<Bytes>> SwitchHarness::exchange(const std::string& port,
                                                                  const Bytes& frame) {
  send(port, frame);
  poll();
  learn();
  return recv_all();
}

bool SwitchHarness::mac_on(uint16_t vlan, const std::string& mac, std::string* port) {
  bool found = false;
  const auto want = testing_frames::mac(mac);
  sw_->macs().for_each([&](const vswitch::MacKey& k, uint16_t p, bool, uint32_t) {
    if (k.vlan == vlan && std::memcmp(k.mac, want.data(), 6) == 0) {
      found = true;
      if (port) *port = engine_->port_by_id(p)->device.name;
    }
  });
  return found;
}

void SwitchHarness::apply_yaml(const std::string& yaml) {
  auto root = vnf::config::ConfigNode::load_string(yaml, "test.yaml");
  auto next = vswitch::parse_switch_config(root);
  next.file = "test.yaml";
  vswitch::check_reloadable(sw_->config(), next, root);
  sw_->apply(std::move(next), vnf::Requester{0, 0, "test"});
}

void SwitchHarness::start_worker() {
  running_ = true;
  worker_started_ = true;
  vnf::WorkerContext& w = engine_->worker(0);
  struct Arg {
    vnf::WorkerContext* w;
    vswitch::SwitchPipeline* p;
    std::atomic<bool>* running;
  };
  static Arg arg;
  arg = Arg{&w, &sw_->pipeline(0), &running_};
  if (rte_eal_remote_launch(
          [](void* a) -> int {
            auto* x = static_cast<Arg*>(a);
            return vnf::worker_main(*x->w, *x->p, *x->running);
          },
          &arg, w.lcore) != 0)
    throw std::runtime_error("cannot launch the worker");
}

void SwitchHarness::stop_worker() {
  if (!worker_started_) return;
  running_ = false;
  rte_eal_wait_lcore(engine_->worker(0).lcore);
  worker_started_ = false;
}

std::vector<std::string> SwitchHarness::port_names() const {
  std::vector<std::string> v;
  for (const auto& [n, r] : rings_) {
    (void)r;
    v.push_back(n);
  }
  return v;
}

}  // namespace dptest
