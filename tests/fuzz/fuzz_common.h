// Shared by the libFuzzer targets: what counts as a finding besides a crash or a sanitizer
// report. A config loader may throw vnf::config::ConfigError and nothing else; any other
// exception is reported here with its type and message, then abort() makes libFuzzer keep
// the input as a crash-* file.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include "common/config_node.h"

namespace fuzz {

[[noreturn]] inline void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "==FUZZ FINDING== %s: %s\n", what, detail.c_str());
  std::abort();
}

inline void require(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) finding(what, detail);
}

// Runs `load` (which parses `text` as `name`); a ConfigError must name a position (line and
// column from 1) and say something. Returns true when the text loaded.
template <class Load>
bool expect_only_config_errors(Load&& load) {
  try {
    load();
    return true;
  } catch (const vnf::config::ConfigError& e) {
    const std::string msg = e.what();
    require(e.line() >= 1 && e.column() >= 1, "ConfigError without a position", msg);
    require(!msg.empty(), "ConfigError without a message");
    return false;
  } catch (const std::exception& e) {
    finding("exception other than ConfigError", std::string(typeid(e).name()) + ": " + e.what());
  } catch (...) {
    finding("exception other than ConfigError", "not a std::exception");
  }
}

}  // namespace fuzz
