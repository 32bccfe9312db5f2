// The operator docs name every drop reason and every config key the loaders accept, so a
// new counter or key cannot ship undocumented.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/drop_reason.h"
#include "common/engine_config.h"

namespace {
std::string read(const std::string& rel) {
  std::ifstream in(std::string(VNF_SOURCE_DIR) + "/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST(Docs, OperationsListsEveryDropReason) {
  const std::string doc = read("docs/operations.md");
  ASSERT_FALSE(doc.empty());
  for (size_t i = 1; i < vnf::kDropReasonCount; ++i)
    EXPECT_NE(doc.find("| `" + std::string(vnf::kDropReasonNames[i]) + "` |"), std::string::npos)
        << vnf::kDropReasonNames[i] << " is not in docs/operations.md";
}

TEST(Docs, ConfigReferenceListsEveryKey) {
  const std::string doc = read("docs/config.md");
  ASSERT_FALSE(doc.empty());
  std::vector<std::string_view> keys = vnf::kPortDeviceKeys;
  for (auto k :
       {"mode",         "segment",      "segments",      "native",      "tpid",       "qinq",
        "mac_limit",    "table_size",   "aging",         "static",      "lcores",     "hugepages",
        "memory_mb",    "mbufs",        "idle_sleep_us", "file_prefix", "log_level",  "log_file",
        "eal_args",     "vlan",         "limit",         "rate",        "burst",      "peak_rate",
        "peak_burst",   "excess_burst", "pps",           "pps_burst",   "queue",      "classes",
        "match",        "remote",       "proto",         "ports",       "management", "address",
        "metrics_port", "events",       "spool_bytes",   "collectors",  "transport",  "ca",
        "cert",         "key",          "name",          "file"})
    keys.push_back(k);
  for (auto k : keys)
    EXPECT_NE(doc.find("`" + std::string(k) + "`"), std::string::npos)
        << k << " is not in docs/config.md";
}
