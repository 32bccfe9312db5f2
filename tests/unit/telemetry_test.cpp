// vnf::telemetry::add: a command is registered or the call throws; help texts longer than
// rte_telemetry accepts are cut to fit. (A help text of 148 bytes once made rte_telemetry
// refuse /vnf/fw/zones, and the only trace was a warning in the log.)
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "common/telemetry.h"

TEST(Telemetry, LongHelpIsCutAtAWordToFit) {
  std::string help;
  while (help.size() < 300) help += "word ";
  const std::string h = vnf::telemetry::fit_help(help);
  EXPECT_LT(h.size(), size_t(RTE_TEL_MAX_STRING_LEN));
  EXPECT_EQ(h.substr(h.size() - 3), "...");
  EXPECT_EQ(h.substr(h.size() - 8), " word...") << h;
  EXPECT_EQ(vnf::telemetry::fit_help("short"), "short");
  const std::string exact(RTE_TEL_MAX_STRING_LEN - 1, 'x');
  EXPECT_EQ(vnf::telemetry::fit_help(exact), exact);
  EXPECT_LT(vnf::telemetry::fit_help(exact + "y").size(), size_t(RTE_TEL_MAX_STRING_LEN));
}

TEST(Telemetry, ACommandWithALongHelpIsRegisteredAndARefusedOneThrows) {
  std::string help(400, 'h');
  EXPECT_NO_THROW(vnf::telemetry::add("/vnf/test/long_help", help,
                                      [](const std::string&, rte_tel_data*) { return 0; }));
  EXPECT_THROW(vnf::telemetry::add("not a command", "x",
                                   [](const std::string&, rte_tel_data*) { return 0; }),
               std::runtime_error);
}
