// vfirewall: the stateful firewall appliance, bump-in-the-wire between pairs of ports.
#include <iostream>
#include <memory>

#include "common/app.h"
#include "vfirewall/program/firewall.h"
#include "vfirewall/rules/lint.h"

int main(int argc, char** argv) {
  int exit_code = 0;
  auto opts = vnf::parse_options(argc, argv, "vfirewall",
                                 "Stateful firewall between zones (tenants, segments), "
                                 "bump-in-the-wire between port pairs, on DPDK.",
                                 exit_code);
  if (!opts) return exit_code;

  vfirewall::FirewallConfig cfg;
  std::vector<vfirewall::Finding> findings;
  try {
    cfg = vfirewall::load_firewall_config(opts->config);  // linted once, here
    findings = cfg.findings;
    vfirewall::throw_on_lint_errors(findings);
  } catch (const vnf::config::ConfigError& e) {
    std::cerr << "vfirewall: config error: " << e.what() << "\n";
    return 2;
  }
  if (opts->check) {
    for (const auto& f : findings) std::cout << f.str() << "\n";
    std::cout << opts->config << ": OK (" << cfg.zones.size() << " zones, " << cfg.rules.size()
              << " rules, " << findings.size() << " warnings)\n";
    return 0;
  }

  for (const auto& f : findings) std::cerr << f.str() << "\n";  // reloads log theirs
  return vnf::serve("vfirewall", *opts, cfg, [&](vnf::Engine& engine) {
    return std::make_unique<vfirewall::Firewall>(engine, cfg);
  });
}
