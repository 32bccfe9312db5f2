// Dataplane test harness: the real engine and the real vswitch stages on net_ring ports,
// under --no-huge. The test thread plays the worker (poll()) and the control thread
// (learn(), age(), apply()), so every step is deterministic; start_worker() runs the real
// worker loop on lcore 1 for tests that need traffic while the control side acts.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/engine.h"
#include "tests/common/frames.h"
#include "tests/dataplane/ring_ports.h"
#include "vswitch/config.h"
#include "vswitch/switch.h"

namespace dptest {

using testing_frames::Bytes;

// Initialises the EAL once per process (gtest Environment in dataplane_main.cpp).
void init_eal_once();

class SwitchHarness {
 public:
  // `yaml`: a vswitch appliance file whose ports are all `type: ring`.
  explicit SwitchHarness(const std::string& yaml);
  ~SwitchHarness();

  void send(const std::string& port, const Bytes& frame);
  unsigned poll(unsigned rounds = 1);                // runs the worker loop on this thread
  std::vector<Bytes> recv(const std::string& port);  // everything the port transmitted
  unsigned learn() { return sw_->drain_learn_events(); }
  // send + poll + learn: one frame in, learning applied.
  std::map<std::string, std::vector<Bytes>> exchange(const std::string& port, const Bytes& frame);
  std::map<std::string, std::vector<Bytes>> recv_all();

  uint64_t drops(vnf::DropReason r) const { return engine_->drop_total(r); }
  bool mac_on(uint16_t vlan, const std::string& mac, std::string* port = nullptr);
  uint16_t id(const std::string& port) const { return engine_->port_id(port); }

  void apply_yaml(const std::string& yaml);  // a reload, as SIGHUP would do it
  // The real reload path (Switch::reload, as on SIGHUP): yaml is written to the switch's
  // config file first. True when applied; the audit trail says what happened.
  bool reload_yaml(const std::string& yaml);

  void start_worker();
  void stop_worker();

  vswitch::Switch& sw() { return *sw_; }
  vnf::Engine& engine() { return *engine_; }
  std::vector<std::string> port_names() const;

 private:
  vswitch::SwitchConfig cfg_;
  std::unique_ptr<RingPorts> ports_;  // before engine_: outlives it
  std::unique_ptr<vnf::Engine> engine_;
  std::unique_ptr<vswitch::Switch> sw_;
  WorkerThread worker_;
  std::string file_;  // the switch's config file (a temporary file)
};

}  // namespace dptest
