// libFuzzer target: the vrouter appliance file (vrouter::parse_router_config) from a YAML
// string. Only ConfigError may come out; a file that loads must be reloadable onto itself with
// no differences. (Route files named by `route_files` are resolved relative to the working
// directory; the route_file target fuzzes their content.)
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_common.h"
#include "vrouter/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_config_errors([&] {
    const auto root = vnf::config::ConfigNode::load_string(text, "fuzz-vrouter.yaml");
    const vrouter::RouterConfig c = vrouter::parse_router_config(root);
    try {
      vrouter::check_reloadable(c, c, root);
    } catch (const vnf::config::ConfigError& e) {
      fuzz::finding("a loaded config is not reloadable onto itself", e.what());
    }
    const auto d = vrouter::diff(c.settings, c.settings);
    fuzz::require(d.empty(), "diff of a config with itself is not empty", d.empty() ? "" : d[0]);
  });
  return 0;
}
