// Dataplane harness for the router: the real engine, the real vrouter pipeline and its real
// control side on net_ring ports, under --no-huge. The test thread plays the worker (poll())
// and the control thread (control(), with a simulated clock), so every step is deterministic.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/engine.h"
#include "tests/common/frames.h"
#include "tests/dataplane/ring_ports.h"
#include "vrouter/config.h"
#include "vrouter/router.h"

namespace dptest {

using testing_frames::Bytes;

class RouterHarness {
 public:
  // `yaml`: a vrouter appliance file whose ports are all `type: ring`.
  explicit RouterHarness(const std::string& yaml);
  ~RouterHarness();

  void send(const std::string& port, const Bytes& frame, uint64_t ol_flags = 0,
            uint32_t packet_type = 0);
  unsigned poll(unsigned rounds = 1);                // the worker loop, on this thread
  std::vector<Bytes> recv(const std::string& port);  // everything the port transmitted
  std::map<std::string, std::vector<Bytes>> recv_all();

  // The control thread's work at the simulated time now(): ARP/ND and held packets from the
  // workers, neighbour timers, route selection, frames to send (sent by the next poll()).
  void control();
  void advance(uint64_t ms) { now_ += ms; }
  uint64_t now() const { return now_; }
  // send + poll + control + poll: one frame in, what came out.
  std::map<std::string, std::vector<Bytes>> exchange(const std::string& port, const Bytes& frame);
  // Advances the clock in `step` increments, running control + poll each time, for `ms`.
  std::map<std::string, std::vector<Bytes>> run_for(uint64_t ms, uint64_t step = 10);

  uint64_t drops(vnf::DropReason r) const { return engine_->drop_total(r); }
  uint16_t id(const std::string& port) const { return engine_->port_id(port); }
  void apply_yaml(const std::string& yaml);  // a reload, as SIGHUP would do it

  // The real worker loop on lcore 1 (for tests that act on the control side meanwhile).
  void start_worker();
  void stop_worker();

  vrouter::Router& router() { return *router_; }
  vrouter::RoutingCore& core() { return router_->core(); }
  vnf::Engine& engine() { return *engine_; }

 private:
  vrouter::RouterConfig cfg_;
  std::unique_ptr<RingPorts> ports_;  // before engine_: outlives it
  std::unique_ptr<vnf::Engine> engine_;
  std::unique_ptr<vrouter::Router> router_;
  uint64_t now_ = 0;
  WorkerThread worker_;
};

}  // namespace dptest
