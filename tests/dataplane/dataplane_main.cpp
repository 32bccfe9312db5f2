// gtest main for the dataplane suite: the EAL is initialised once for the whole process.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/dataplane/harness.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  dptest::init_eal_once();
  const int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  // The EAL keeps its (now empty) runtime directory; this process's prefix is its own.
  std::error_code ec;
  std::filesystem::remove_all("/var/run/dpdk/dptest-" + std::to_string(getpid()), ec);
  return rc;
}
