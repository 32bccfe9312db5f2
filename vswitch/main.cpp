// vswitch: the host virtual switch. VLAN-separated switching between VM ports and uplinks.
#include <iostream>
#include <memory>

#include "common/app.h"
#include "vswitch/config.h"
#include "vswitch/switch.h"

int main(int argc, char** argv) {
  int exit_code = 0;
  auto opts = vnf::parse_options(argc, argv, "vswitch",
                                 "Host virtual switch: VLAN segments, MAC learning, access and "
                                 "trunk ports, on DPDK.",
                                 exit_code);
  if (!opts) return exit_code;

  vswitch::SwitchConfig cfg;
  try {
    cfg = vswitch::load_switch_config(opts->config);
  } catch (const vnf::config::ConfigError& e) {
    std::cerr << "vswitch: config error: " << e.what() << "\n";
    return 2;
  }
  for (const auto& w : cfg.warnings) std::cerr << w << "\n";
  if (opts->check) {
    std::cout << opts->config << ": OK (" << cfg.segments.size() << " segments, "
              << cfg.ports.size() << " ports" << (cfg.firewall ? ", firewall" : "")
              << (cfg.router ? ", router" : "") << ")\n";
    return 0;
  }

  return vnf::serve("vswitch", *opts, cfg, [&](vnf::Engine& engine) {
    return std::make_unique<vswitch::Switch>(engine, cfg);
  });
}
