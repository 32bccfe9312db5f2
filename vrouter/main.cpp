// vrouter: routing between network segments and upstream, IPv4 and IPv6, with backup routes.
#include <iostream>
#include <memory>

#include "common/app.h"
#include "vrouter/config.h"
#include "vrouter/route_table.h"
#include "vrouter/router.h"

int main(int argc, char** argv) {
  int exit_code = 0;
  auto opts = vnf::parse_options(argc, argv, "vrouter",
                                 "Router: interfaces on ports and VLANs, static and backup routes, "
                                 "ARP/ND, ICMP, IPv4 and IPv6, on DPDK.",
                                 exit_code);
  if (!opts) return exit_code;

  vrouter::RouterConfig cfg;
  try {
    cfg = vrouter::load_router_config(opts->config);
    if (opts->check) vrouter::build_route_table(cfg.settings);  // the path-list limit too
  } catch (const vnf::config::ConfigError& e) {
    std::cerr << "vrouter: config error: " << e.what() << "\n";
    return 2;
  }
  if (opts->check) {
    std::cout << opts->config << ": OK (" << cfg.settings.interfaces.size() << " interfaces, "
              << cfg.settings.routes.size() << " static routes)\n";
    return 0;
  }

  return vnf::serve("vrouter", *opts, cfg, [&](vnf::Engine& engine) {
    return std::make_unique<vrouter::Router>(engine, cfg);
  });
}
