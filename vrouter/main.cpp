// vrouter: routing between network segments and upstream, IPv4 and IPv6, with backup routes.
#include <rte_eal.h>

#include <cstdio>
#include <iostream>

#include <spdlog/spdlog.h>

#include "common/app.h"
#include "common/engine.h"
#include "common/log.h"
#include "common/telemetry.h"
#include "vrouter/config.h"
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
  } catch (const vnf::config::ConfigError& e) {
    std::cerr << "vrouter: config error: " << e.what() << "\n";
    return 2;
  }
  if (opts->check) {
    std::cout << opts->config << ": OK (" << cfg.settings.interfaces.size() << " interfaces, "
              << cfg.settings.routes.size() << " static routes)\n";
    return 0;
  }

  vnf::init_logging("vrouter", opts->log_level.empty() ? cfg.engine.log_level : opts->log_level,
                    cfg.engine.log_file);
  vnf::block_signals();
  try {
    const auto args = vnf::eal_arguments(cfg.engine, cfg.devices, opts->eal, "vrouter");
    std::string line;
    for (const auto& a : args) line += " " + a;
    spdlog::info("starting: config {} (hash {}), EAL:{}", cfg.file, cfg.hash, line);
    vnf::remove_stale_sockets(cfg.devices);
    vnf::eal_init(args);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }

  int rc = 0;
  try {
    vnf::Engine engine(cfg.engine, cfg.devices);
    vrouter::Router router(engine, cfg);
    router.register_telemetry();
    vnf::write_pid_file(opts->pid_file);
    rc = vnf::run(engine, router);
    vnf::telemetry::clear();
    engine.stop_ports();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    rc = 1;
  }
  if (!opts->pid_file.empty()) std::remove(opts->pid_file.c_str());
  rte_eal_cleanup();
  spdlog::info("stopped");
  return rc;
}
