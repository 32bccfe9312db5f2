// The Prometheus text format of /metrics (common/metrics.h): escaping, one HELP and TYPE line
// per family with its samples together, the appliance label on every sample; and the
// engine.management keys that turn the endpoint on (common/engine_config.h).
#include <gtest/gtest.h>

#include <string>

#include "common/config_node.h"
#include "common/engine_config.h"
#include "common/metrics.h"
#include "config_expect.h"

using vnf::config::ConfigNode;
namespace m = vnf::metrics;

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(m::escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(m::escape_label_value("plain-name.0"), "plain-name.0");
  EXPECT_EQ(m::escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");  // quotes stay in HELP
}

TEST(Metrics, NamesFollowThePrometheusRules) {
  EXPECT_TRUE(m::valid_metric_name("vnf_port_rx_packets_total"));
  EXPECT_TRUE(m::valid_metric_name("a:b"));
  EXPECT_FALSE(m::valid_metric_name("9lives"));
  EXPECT_FALSE(m::valid_metric_name("vnf-port"));
  EXPECT_FALSE(m::valid_metric_name(""));
  EXPECT_TRUE(m::valid_label_name("port"));
  EXPECT_FALSE(m::valid_label_name("a:b"));
}

TEST(Metrics, FamiliesAreGroupedWithOneHelpAndTypeEach) {
  m::Writer w("host\"1");
  w.counter("vnf_port_rx_packets_total", "Packets received", {{"port", "vm1"}}, 3);
  w.gauge("vnf_port_link_up", "1 when up", {{"port", "vm1"}}, 1);
  w.counter("vnf_port_rx_packets_total", "Packets received", {{"port", "a\\b\"c\nd"}},
            18446744073709551615u);
  w.gauge("vnf_port_link_up", "1 when up", {{"port", "vm2"}}, 0.5);
  EXPECT_EQ(w.text(),
            "# HELP vnf_port_rx_packets_total Packets received\n"
            "# TYPE vnf_port_rx_packets_total counter\n"
            "vnf_port_rx_packets_total{appliance=\"host\\\"1\",port=\"vm1\"} 3\n"
            "vnf_port_rx_packets_total{appliance=\"host\\\"1\",port=\"a\\\\b\\\"c\\nd\"} "
            "18446744073709551615\n"
            "# HELP vnf_port_link_up 1 when up\n"
            "# TYPE vnf_port_link_up gauge\n"
            "vnf_port_link_up{appliance=\"host\\\"1\",port=\"vm1\"} 1\n"
            "vnf_port_link_up{appliance=\"host\\\"1\",port=\"vm2\"} 0.5\n");
}

TEST(Metrics, MisnamedMetricsAreRefused) {
  m::Writer w("a");
  EXPECT_THROW(w.counter("vnf_port_rx_packets", "no _total", {}, 1), std::logic_error);
  EXPECT_THROW(w.gauge("vnf-bad", "h", {}, 1), std::logic_error);
  EXPECT_THROW(w.gauge("vnf_x", "h", {{"appliance", "twice"}}, 1), std::logic_error);
  EXPECT_THROW(w.gauge("vnf_x", "h", {{"bad-label", "v"}}, 1), std::logic_error);
  w.gauge("vnf_y", "h", {}, 1);
  EXPECT_THROW(w.counter("vnf_y", "h", {}, 1), std::logic_error);  // not "vnf_y_total" anyway
}

TEST(Metrics, RenderRunsEveryProducerAndSurvivesOneThatThrows) {
  m::clear();
  m::add("one", [](m::Writer& w) { w.counter("vnf_one_total", "one", {}, 1); });
  m::add("bad", [](m::Writer&) { throw std::runtime_error("broken"); });
  m::add("two", [](m::Writer& w) { w.gauge("vnf_two", "two", {}, 2); });
  m::add("one", [](m::Writer& w) { w.counter("vnf_one_total", "one", {}, 11); });  // replaces
  const std::string text = m::render("x");
  EXPECT_NE(text.find("vnf_one_total{appliance=\"x\"} 11\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vnf_two{appliance=\"x\"} 2\n"), std::string::npos) << text;
  m::clear();
  EXPECT_EQ(m::render("x"), "");
}

namespace {
vnf::EngineConfig engine(const std::string& yaml) {
  return vnf::parse_engine(ConfigNode::load_string(yaml, "a.yaml"));
}
}  // namespace

TEST(Metrics, ManagementKeys) {
  auto c = engine("engine:\n  management: {address: 127.0.0.2, metrics_port: 9464}\n");
  EXPECT_EQ(c.management.address, "127.0.0.2");
  EXPECT_EQ(c.management.metrics_port, 9464);
  c = engine("engine:\n  management:\n    address: fd00::1\n");
  EXPECT_EQ(c.management.address, "fd00::1");
  EXPECT_EQ(c.management.metrics_port, 0);  // an address alone: no endpoint
  EXPECT_EQ(engine("engine: {}\n").management.metrics_port, 0);

  expect_config_error([] { engine("engine:\n  management:\n    address: 0.0.0.0\n"); }, 3, 14,
                      "every address", "a.yaml");
  expect_config_error([] { engine("engine:\n  management:\n    address: '::'\n"); }, 3, 14,
                      "every address");
  expect_config_error([] { engine("engine:\n  management:\n    address: mgmt.example\n"); }, 3, 14,
                      "not an IPv4 or IPv6 address");
  expect_config_error([] { engine("engine:\n  management:\n    address: 10.0.0.1/24\n"); }, 3, 14,
                      "not an IPv4 or IPv6 address");
  expect_config_error([] { engine("engine:\n  management:\n    metrics_port: 9464\n"); }, 3, 19,
                      "needs management.address");
  expect_config_error(
      [] { engine("engine:\n  management:\n    address: 127.0.0.1\n    metrics_port: 0\n"); }, 4,
      19, "metrics_port");
  expect_config_error([] { engine("engine:\n  management:\n    adress: 127.0.0.1\n"); }, 3, 5,
                      "adress");
}

TEST(Metrics, ManagementIsFixedAtStart) {
  const auto a = ConfigNode::load_string(
      "engine:\n  management: {address: 127.0.0.1, metrics_port: 9464}\n", "a.yaml");
  const auto b = ConfigNode::load_string(
      "engine:\n  name: vnf\n  management: {address: 127.0.0.1, metrics_port: 9465}\n", "b.yaml");
  EXPECT_NO_THROW(vnf::check_engine_unchanged(vnf::parse_engine(a), vnf::parse_engine(a), a));
  expect_config_error(
      [&] { vnf::check_engine_unchanged(vnf::parse_engine(a), vnf::parse_engine(b), b); }, 3, 15,
      "engine.management changed", "b.yaml");
}
