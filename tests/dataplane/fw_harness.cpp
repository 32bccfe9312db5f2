#include "tests/dataplane/fw_harness.h"

#include <cstring>
#include <stdexcept>

#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>

#include <fmt/format.h>

#include "common/config_node.h"
#include "common/telemetry.h"
#include "common/worker.h"
#include "tests/dataplane/harness.h"

namespace dptest {

namespace {
unsigned next_fw_instance() {
  static unsigned n = 0;
  return n++;
}
}  // namespace

FwHarness::FwHarness(const std::string& yaml) {
  init_eal_once();
  cfg_ = vfirewall::parse_firewall_config(vnf::config::ConfigNode::load_string(yaml, "fw.yaml"));
  cfg_.file = "fw.yaml";
  const unsigned inst = next_fw_instance();
  for (const auto& d : cfg_.devices) {
    if (d.kind != vnf::PortKind::kRing) throw std::invalid_argument("harness ports must be rings");
    RingPort rp;
    rp.in = rte_ring_create(fmt::format("f{}_{}_in", inst, d.name).c_str(), 1024, SOCKET_ID_ANY,
                            RING_F_SP_ENQ | RING_F_SC_DEQ);
    rp.out = rte_ring_create(fmt::format("f{}_{}_out", inst, d.name).c_str(), 4096, SOCKET_ID_ANY,
                             RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!rp.in || !rp.out) throw std::runtime_error("ring create failed");
    if (rte_eth_from_rings(d.name.c_str(), &rp.in, 1, &rp.out, 1,
                           static_cast<unsigned>(rte_socket_id())) < 0)
      throw std::runtime_error("rte_eth_from_rings failed for " + d.name);
    rings_[d.name] = rp;
  }
  engine_ = std::make_unique<vnf::Engine>(cfg_.engine, cfg_.devices);
  fw_ = std::make_unique<vfirewall::Firewall>(*engine_, cfg_);
}

FwHarness::~FwHarness() {
  recv_all();
  fw_.reset();
  engine_->stop_ports();
  engine_.reset();
  for (auto& [name, rp] : rings_) {
    rte_vdev_uninit(("net_ring_" + name).c_str());
    rte_mbuf* m;
    while (rte_ring_dequeue(rp.in, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    while (rte_ring_dequeue(rp.out, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(rp.in);
    rte_ring_free(rp.out);
  }
  vnf::telemetry::clear();
}

void FwHarness::send(const std::string& port, const Bytes& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(engine_->pool());
  if (!m) throw std::runtime_error("mempool empty");
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  std::memcpy(p, frame.data(), frame.size());
  if (rte_ring_enqueue(rings_.at(port).in, m) != 0) {
    rte_pktmbuf_free(m);
    throw std::runtime_error("rx ring full");
  }
}

unsigned FwHarness::poll(unsigned rounds) {
  vnf::WorkerContext& w = engine_->worker(0);
  unsigned total = 0;
  rte_rcu_qsbr_thread_register(w.qsbr, w.id);
  for (unsigned i = 0; i < rounds; ++i) {
    rte_rcu_qsbr_thread_online(w.qsbr, w.id);
    total += vnf::poll_once(w, fw_->pipeline(0));
    rte_rcu_qsbr_thread_offline(w.qsbr, w.id);
  }
  return total;
}

std::vector<Bytes> FwHarness::recv(const std::string& port) {
  std::vector<Bytes> out;
  rte_mbuf* m;
  while (rte_ring_dequeue(rings_.at(port).out, reinterpret_cast<void**>(&m)) == 0) {
    Bytes b(m->pkt_len);
    const void* d = rte_pktmbuf_read(m, 0, m->pkt_len, b.data());
    if (d != b.data()) std::memcpy(b.data(), d, m->pkt_len);
    out.push_back(std::move(b));
    rte_pktmbuf_free(m);
  }
  return out;
}

std::map<std::string, std::vector<Bytes>> FwHarness::recv_all() {
  std::map<std::string, std::vector<Bytes>> all;
  for (const auto& [name, rp] : rings_) {
    (void)rp;
    auto v = recv(name);
    if (!v.empty()) all[name] = std::move(v);
  }
  return all;
}

std::map<std::string, std::vector<Bytes>> FwHarness::exchange(const std::string& port,
                                                              const Bytes& frame) {
  send(port, frame);
  poll();
  return recv_all();
}

void FwHarness::apply_yaml(const std::string& yaml) {
  auto root = vnf::config::ConfigNode::load_string(yaml, "fw.yaml");
  auto next = vfirewall::parse_firewall_config(root);
  next.file = "fw.yaml";
  vfirewall::check_reloadable(fw_->config(), next, root);
  fw_->apply(std::move(next), vnf::Requester{0, 0, "test"});
}

std::vector<vfirewall::SessionView> FwHarness::dump(const vfirewall::SessionFilter& f) {
  std::vector<vfirewall::SessionView> out;
  uint32_t found = 0;
  if (!fw_->run_request(vfirewall::Request::kDump, f, 100000, out, found, [this] { poll(); }))
    throw std::runtime_error("dump timed out");
  return out;
}

uint32_t FwHarness::flush(const vfirewall::SessionFilter& f) {
  std::vector<vfirewall::SessionView> out;
  uint32_t found = 0;
  if (!fw_->run_request(vfirewall::Request::kFlush, f, 0, out, found, [this] { poll(); }))
    throw std::runtime_error("flush timed out");
  return found;
}

}  // namespace dptest
