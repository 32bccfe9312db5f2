// libFuzzer target: the host switch's appliance file (vswitch::parse_switch_config, which also
// reads the `firewall:` and `router:` sections) from a YAML string. Only ConfigError may come
// out; a file that loads must be reloadable onto itself with no differences.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_common.h"
#include "vswitch/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_config_errors([&] {
    const auto root = vnf::config::ConfigNode::load_string(text, "fuzz-vswitch.yaml");
    const vswitch::SwitchConfig c = vswitch::parse_switch_config(root);
    try {
      vswitch::check_reloadable(c, c, root);
    } catch (const vnf::config::ConfigError& e) {
      fuzz::finding("a loaded config is not reloadable onto itself", e.what());
    }
    const auto d = vswitch::diff(c, c);
    fuzz::require(d.empty(), "diff of a config with itself is not empty", d.empty() ? "" : d[0]);
  });
  return 0;
}
