// The one check of a refused config, shared by the unit tests: load() throws ConfigError
// whose message holds `what`, at `line` (and `column` when > 0), and starts with "FILE:" when
// `file` is given.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "common/config_node.h"

template <class Load>
void expect_config_error(Load&& load, int line, int column, const std::string& what,
                         const std::string& file = "") {
  try {
    load();
    ADD_FAILURE() << "accepted, expected '" << what << "'";
  } catch (const vnf::config::ConfigError& e) {
    EXPECT_EQ(e.line(), line) << e.what();
    if (column > 0) {
      EXPECT_EQ(e.column(), column) << e.what();
    }
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    if (!file.empty()) {
      EXPECT_EQ(std::string(e.what()).rfind(file + ":", 0), 0u) << e.what();
    }
  }
}
