#include "tests/dataplane/fw_harness.h"

#include <cstring>
#include <stdexcept>

#include <rte_mbuf.h>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "common/config_node.h"
#include "common/telemetry.h"
#include "common/worker.h"
#include "tests/dataplane/harness.h"

namespace dptest {

FwHarness::FwHarness(const std::string& yaml) {
  init_eal_once();
  cfg_ = vfirewall::parse_firewall_config(vnf::config::ConfigNode::load_string(yaml, "fw.yaml"));
  cfg_.file = "fw.yaml";
  ports_ = std::make_unique<RingPorts>(cfg_.devices);
  engine_ = std::make_unique<vnf::Engine>(cfg_.engine, cfg_.devices);
  fw_ = std::make_unique<vfirewall::Firewall>(*engine_, cfg_);
}

FwHarness::~FwHarness() {
  recv_all();
  fw_.reset();
  engine_->stop_ports();
  engine_.reset();
  ports_.reset();
  vnf::telemetry::clear();
}

void FwHarness::send(const std::string& port, const Bytes& frame) {
  ports_->send(engine_->pool(), port, frame);
}

unsigned FwHarness::poll(unsigned rounds) {
  return poll_on_this_thread(engine_->worker(0), fw_->pipeline(0), rounds);
}

std::vector<Bytes> FwHarness::recv(const std::string& port) { return ports_->recv(port); }

std::map<std::string, std::vector<Bytes>> FwHarness::recv_all() { return ports_->recv_all(); }

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

std::string describe(const Out& out) {
  std::string s;
  for (const auto& [port, frames] : out) s += port + ":" + std::to_string(frames.size()) + " ";
  return s.empty() ? "(nothing)" : s;
}

void expect_pass(FwHarness& h, const std::string& in, const std::string& out_port, const Bytes& f,
                 const char* what) {
  const Out out = h.exchange(in, f);
  ASSERT_EQ(out.size(), 1u) << what << ": " << describe(out);
  ASSERT_EQ(out.count(out_port), 1u) << what << ": " << describe(out);
  EXPECT_EQ(out.at(out_port), std::vector<Bytes>{f}) << what;
}

void expect_drop(FwHarness& h, const std::string& in, const Bytes& f, vnf::DropReason r,
                 const char* what) {
  const uint64_t before = h.drops(r);
  const Out out = h.exchange(in, f);
  EXPECT_TRUE(out.empty()) << what << " leaked: " << describe(out);
  EXPECT_EQ(h.drops(r), before + 1) << what << ": expected " << vnf::drop_reason_name(r);
}

}  // namespace dptest
