#include "tests/dataplane/router_harness.h"

#include <cstring>
#include <stdexcept>

#include <rte_launch.h>
#include <rte_mbuf.h>

#include <fmt/format.h>

#include "common/app.h"
#include "common/config_node.h"
#include "common/telemetry.h"
#include "common/worker.h"
#include "tests/dataplane/harness.h"

namespace dptest {

RouterHarness::RouterHarness(const std::string& yaml) {
  init_eal_once();
  cfg_ = vrouter::parse_router_config(vnf::config::ConfigNode::load_string(yaml, "test.yaml"));
  cfg_.file = "test.yaml";
  ports_ = std::make_unique<RingPorts>(cfg_.devices);
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
  ports_.reset();
  vnf::telemetry::clear();
}

void RouterHarness::send(const std::string& port, const Bytes& frame, uint64_t ol_flags,
                         uint32_t packet_type) {
  ports_->send(engine_->pool(), port, frame, ol_flags, packet_type);
}

unsigned RouterHarness::poll(unsigned rounds) {
  return poll_on_this_thread(engine_->worker(0), router_->pipeline(0), rounds);
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

std::vector<Bytes> RouterHarness::recv(const std::string& port) { return ports_->recv(port); }

std::map<std::string, std::vector<Bytes>> RouterHarness::recv_all() { return ports_->recv_all(); }

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

void RouterHarness::start_worker() { worker_.start(engine_->worker(0), router_->pipeline(0)); }

void RouterHarness::stop_worker() { worker_.stop(); }

}  // namespace dptest
