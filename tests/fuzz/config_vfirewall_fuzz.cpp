// libFuzzer target: the vfirewall appliance file (vfirewall::parse_firewall_config, then the
// lint that start-up and --check run) from a YAML string. Only ConfigError may come out; a
// file that loads must be reloadable onto itself with no differences.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_common.h"
#include "vfirewall/rules/config.h"
#include "vfirewall/rules/lint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_config_errors([&] {
    const auto root = vnf::config::ConfigNode::load_string(text, "fuzz-vfirewall.yaml");
    const vfirewall::FirewallConfig c = vfirewall::parse_firewall_config(root);
    const auto findings = vfirewall::lint(c);
    for (const auto& f : findings) fuzz::require(!f.str().empty(), "empty lint finding");
    vfirewall::throw_on_lint_errors(findings);
    try {
      vfirewall::check_reloadable(c, c, root);
    } catch (const vnf::config::ConfigError& e) {
      fuzz::finding("a loaded config is not reloadable onto itself", e.what());
    }
    const auto d = vfirewall::diff(c, c);
    fuzz::require(d.empty(), "diff of a config with itself is not empty", d.empty() ? "" : d[0]);
  });
  return 0;
}
