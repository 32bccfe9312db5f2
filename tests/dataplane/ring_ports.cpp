#include "tests/dataplane/ring_ports.h"

#include <cstring>
#include <stdexcept>

#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <fmt/format.h>

namespace dptest {

namespace {
unsigned next_instance() {  // ring names are global to the process
  static unsigned n = 0;
  return n++;
}
}  // namespace

RingPorts::RingPorts(const std::vector<vnf::PortDevice>& devices) {
  const unsigned inst = next_instance();
  for (const auto& d : devices) {
    if (d.kind == vnf::PortKind::kBond) continue;  // created by the engine over its members
    if (d.kind != vnf::PortKind::kRing) throw std::invalid_argument("harness ports must be rings");
    Pair p{};
    p.in = rte_ring_create(fmt::format("h{}_{}_in", inst, d.name).c_str(), 1024, SOCKET_ID_ANY,
                           RING_F_SP_ENQ | RING_F_SC_DEQ);
    p.out = rte_ring_create(fmt::format("h{}_{}_out", inst, d.name).c_str(), 4096, SOCKET_ID_ANY,
                            RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!p.in || !p.out) {
      rte_ring_free(p.in);
      rte_ring_free(p.out);
      throw std::runtime_error("ring create failed for " + d.name);
    }
    rings_[d.name] = p;
    // The ring PMD names the port "net_ring_<name>": PortDevice::device_name() for rings.
    if (rte_eth_from_rings(d.name.c_str(), &p.in, 1, &p.out, 1,
                           static_cast<unsigned>(rte_socket_id())) < 0)
      throw std::runtime_error("rte_eth_from_rings failed for " + d.name);
  }
}

RingPorts::~RingPorts() {
  for (auto& [name, p] : rings_) {
    // Closing the port leaves its vdev on the bus; remove it so the next test can reuse the name.
    rte_vdev_uninit(("net_ring_" + name).c_str());
    rte_mbuf* m;
    while (rte_ring_dequeue(p.in, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    while (rte_ring_dequeue(p.out, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(p.in);
    rte_ring_free(p.out);
  }
}

void RingPorts::send(rte_mempool* pool, const std::string& port, const Bytes& frame,
                     uint64_t ol_flags, uint32_t packet_type) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (!m) throw std::runtime_error("mempool empty");
  char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (!d) {
    rte_pktmbuf_free(m);
    throw std::runtime_error("frame larger than an mbuf");
  }
  std::memcpy(d, frame.data(), frame.size());
  m->ol_flags = ol_flags;
  m->packet_type = packet_type;
  if (rte_ring_enqueue(rings_.at(port).in, m) != 0) {
    rte_pktmbuf_free(m);
    throw std::runtime_error("rx ring full");
  }
}

std::vector<Bytes> RingPorts::recv(const std::string& port) {
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

std::map<std::string, std::vector<Bytes>> RingPorts::recv_all() {
  std::map<std::string, std::vector<Bytes>> all;
  for (const auto& [name, p] : rings_) {
    (void)p;
    auto v = recv(name);
    if (!v.empty()) all[name] = std::move(v);
  }
  return all;
}

std::vector<std::string> RingPorts::names() const {
  std::vector<std::string> v;
  for (const auto& [name, p] : rings_) {
    (void)p;
    v.push_back(name);
  }
  return v;
}

}  // namespace dptest
