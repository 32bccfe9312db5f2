// What the in-process microbenchmarks (stage_bench, fw_bench, route_bench) share: EAL
// start-up on the appliance's own arguments, bursts built the way a driver builds them, and
// the chunked statistics that keep a shared host's noise out of the figures.
#pragma once

#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/burst.h"
#include "common/engine.h"

namespace micro {

// rte_eal_init with the arguments the appliance itself would use (lcores, memory, ports),
// quiet logs, and with `no_huge` no hugepages (nothing to reserve, no files left behind) for
// figures that do not depend on them. Prints the error and returns false on failure.
inline bool init_eal(const vnf::EngineConfig& engine, const std::vector<vnf::PortDevice>& devices,
                     const std::string& name, bool no_huge) {
  vnf::EalOptions eo;
  auto eal = vnf::eal_arguments(engine, devices, eo, name);
  if (no_huge) {
    eal.insert(eal.end(), {"--no-huge", "--no-shconf"});
    eal.erase(std::remove(eal.begin(), eal.end(), std::string("--huge-unlink")), eal.end());
  }
  eal.insert(eal.end(), {"--log-level", "*:warning"});
  try {
    vnf::eal_init(eal);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
    return false;
  }
  return true;
}

// A full burst of mbufs from `pool` holding frames[next++ % frames.size()], as received on
// `in_port` (not timed). False when the pool is empty.
inline bool fill_burst(vnf::Burst& b, rte_mempool* pool, uint16_t in_port,
                       const std::vector<std::vector<uint8_t>>& frames, uint32_t& next) {
  b.in_port = in_port;
  b.count = vnf::kBurstMax;
  if (rte_pktmbuf_alloc_bulk(pool, b.pkts, b.count) != 0) {
    std::fprintf(stderr, "mempool empty\n");
    return false;
  }
  for (uint16_t i = 0; i < b.count; ++i) {
    const auto& f = frames[next++ % frames.size()];
    std::memcpy(rte_pktmbuf_append(b.pkts[i], static_cast<uint16_t>(f.size())), f.data(), f.size());
  }
  return true;
}

// The header checksum of the IPv4 header at `ip` (20 bytes, checksum field zero), written in
// place by DPDK's own rte_ipv4_cksum.
inline void set_ipv4_checksum(uint8_t* ip) {
  const uint16_t c = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip));
  std::memcpy(ip + 10, &c, 2);
}

// Ticks per packet of N stages over chunks of a run: each stage's figure is its best chunk
// (the one least disturbed by other work on a shared host), with the median chunk beside it.
template <unsigned N>
class Chunks {
 public:
  explicit Chunks(uint64_t packets_per_chunk)
      : per_chunk_(std::max<uint64_t>(1, packets_per_chunk)) {}

  void add(const uint64_t (&ticks)[N], uint64_t packets) {
    for (unsigned k = 0; k < N; ++k) acc_[k] += ticks[k];
    pkts_ += packets;
    if (pkts_ < per_chunk_) return;
    std::array<double, N> c{};
    for (unsigned k = 0; k < N; ++k) {
      c[k] = static_cast<double>(acc_[k]) / static_cast<double>(pkts_);
      acc_[k] = 0;
    }
    chunks_.push_back(c);
    pkts_ = 0;
  }

  bool empty() const { return chunks_.empty(); }
  size_t size() const { return chunks_.size(); }
  double best(unsigned k) const { return sorted(k).front(); }
  double median(unsigned k) const {
    const auto v = sorted(k);
    return v[v.size() / 2];
  }

 private:
  std::vector<double> sorted(unsigned k) const {
    std::vector<double> v;
    for (const auto& c : chunks_) v.push_back(c[k]);
    std::sort(v.begin(), v.end());
    return v;
  }

  uint64_t per_chunk_;
  uint64_t acc_[N] = {};
  uint64_t pkts_ = 0;
  std::vector<std::array<double, N>> chunks_;
};

}  // namespace micro
