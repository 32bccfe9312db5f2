// vswitch: the host virtual switch. VLAN-separated switching between VM ports and uplinks.
#include <rte_eal.h>

#include <cstdio>
#include <iostream>

#include <spdlog/spdlog.h>

#include "common/app.h"
#include "common/engine.h"
#include "common/log.h"
#include "common/telemetry.h"
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

  vnf::init_logging("vswitch", opts->log_level.empty() ? cfg.engine.log_level : opts->log_level,
                    cfg.engine.log_file);
  vnf::block_signals();
  try {
    const auto args = vnf::eal_arguments(cfg.engine, cfg.devices, opts->eal, "vswitch");
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
    vswitch::Switch sw(engine, cfg);
    sw.register_telemetry();
    vnf::write_pid_file(opts->pid_file);
    rc = vnf::run(engine, sw);
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
