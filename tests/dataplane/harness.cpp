#include "tests/dataplane/harness.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include <rte_eal.h>
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

SwitchHarness::SwitchHarness(const std::string& yaml) {
  init_eal_once();
  cfg_ = vswitch::parse_switch_config(vnf::config::ConfigNode::load_string(yaml, "test.yaml"));
  static unsigned serial = 0;
  file_ = fmt::format("/tmp/vnf-dptest-{}-{}.yaml", getpid(), serial++);
  cfg_.file = file_;
  ports_ = std::make_unique<RingPorts>(cfg_.devices);
  engine_ = std::make_unique<vnf::Engine>(cfg_.engine, cfg_.devices);
  sw_ = std::make_unique<vswitch::Switch>(*engine_, cfg_);
}

SwitchHarness::~SwitchHarness() {
  stop_worker();
  recv_all();
  sw_.reset();
  std::remove(file_.c_str());
  engine_->stop_ports();
  engine_.reset();
  ports_.reset();
  vnf::telemetry::clear();
}

void SwitchHarness::send(const std::string& port, const Bytes& frame) {
  ports_->send(engine_->pool(), port, frame);
}

unsigned SwitchHarness::poll(unsigned rounds) {
  return poll_on_this_thread(engine_->worker(0), sw_->pipeline(0), rounds);
}

std::vector<Bytes> SwitchHarness::recv(const std::string& port) { return ports_->recv(port); }

std::map<std::string, std::vector<Bytes>> SwitchHarness::recv_all() { return ports_->recv_all(); }

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
  next.file = file_;
  vswitch::check_reloadable(sw_->config(), next, root);
  sw_->apply(std::move(next), vnf::Requester{0, 0, "test"});
}

bool SwitchHarness::reload_yaml(const std::string& yaml) {
  {
    std::ofstream f(file_, std::ios::trunc);
    f << yaml;
  }
  const uint64_t before = sw_->audit().attempts();
  sw_->reload(vnf::Requester{0, 0, "test"});
  EXPECT_EQ(sw_->audit().attempts(), before + 1) << "the reload left no audit record";
  return sw_->audit().last().ok;
}

void SwitchHarness::start_worker() { worker_.start(engine_->worker(0), sw_->pipeline(0)); }

void SwitchHarness::stop_worker() { worker_.stop(); }

std::vector<std::string> SwitchHarness::port_names() const { return ports_->names(); }

}  // namespace dptest
