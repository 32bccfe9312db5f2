// gtest main for the dataplane suite: the EAL is initialised once for the whole process.
#include <gtest/gtest.h>
#include <rte_eal.h>

#include "tests/dataplane/harness.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  dptest::init_eal_once();
  const int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return rc;
}
