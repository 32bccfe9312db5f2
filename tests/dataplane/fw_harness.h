// Dataplane harness for vfirewall: the real engine, WireIngress and FirewallStage on net_ring
// ports under --no-huge. The test thread plays the worker (poll()) and the control thread
// (apply_yaml(), dump(), drain_logs()), so every step is deterministic; advance() moves the
// worker's clock for timeout tests.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/engine.h"
#include "tests/common/frames.h"
#include "tests/dataplane/ring_ports.h"
#include "vfirewall/program/firewall.h"

namespace dptest {

using testing_frames::Bytes;

class FwHarness {
 public:
  // `yaml`: a vfirewall appliance file whose ports are all `type: ring`.
  explicit FwHarness(const std::string& yaml);
  ~FwHarness();

  void send(const std::string& port, const Bytes& frame);
  unsigned poll(unsigned rounds = 1);
  std::vector<Bytes> recv(const std::string& port);
  std::map<std::string, std::vector<Bytes>> recv_all();
  // send + poll + recv_all.
  std::map<std::string, std::vector<Bytes>> exchange(const std::string& port, const Bytes& frame);

  uint64_t drops(vnf::DropReason r) const { return engine_->drop_total(r); }
  void apply_yaml(const std::string& yaml);
  void advance(int seconds) { fw_->worker_state(0).time_offset_s += seconds; }
  // Enough worker loops for the incremental sweep to visit every session once.
  void sweep_all() { poll(fw_->config().conntrack.size / vfirewall::kSweepPerLoop + 2); }
  std::vector<vfirewall::SessionView> dump(const vfirewall::SessionFilter& f = {});
  uint32_t flush(const vfirewall::SessionFilter& f);

  vfirewall::Firewall& fw() { return *fw_; }
  vnf::Engine& engine() { return *engine_; }

 private:
  vfirewall::FirewallConfig cfg_;
  std::unique_ptr<RingPorts> ports_;  // before engine_: outlives it
  std::unique_ptr<vnf::Engine> engine_;
  std::unique_ptr<vfirewall::Firewall> fw_;
};

using Out = std::map<std::string, std::vector<Bytes>>;
std::string describe(const Out& out);  // "pb:1 " per port, or "(nothing)"

// Expects `f` sent on `in` to come out unchanged on `out_port` and nowhere else.
void expect_pass(FwHarness& h, const std::string& in, const std::string& out_port, const Bytes& f,
                 const char* what);
// Expects `f` sent on `in` to come out nowhere, counted once under `r`.
void expect_drop(FwHarness& h, const std::string& in, const Bytes& f, vnf::DropReason r,
                 const char* what);

}  // namespace dptest
