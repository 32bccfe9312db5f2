// vfirewall: the stateful firewall appliance, bump-in-the-wire between pairs of ports.
#include <rte_eal.h>

#include <cstdio>
#include <iostream>

#include <spdlog/spdlog.h>

#include "common/app.h"
#include "common/engine.h"
#include "common/log.h"
#include "common/telemetry.h"
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
    cfg = vfirewall::load_firewall_config(opts->config);
    findings = vfirewall::lint(cfg);
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

  vnf::init_logging("vfirewall", opts->log_level.empty() ? cfg.engine.log_level : opts->log_level,
                    cfg.engine.log_file);
  vnf::block_signals();
  try {
    const auto args = vnf::eal_arguments(cfg.engine, cfg.devices, opts->eal, "vfirewall");
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
    vfirewall::Firewall fw(engine, cfg);
    fw.register_telemetry();
    vnf::write_pid_file(opts->pid_file);
    rc = vnf::run(engine, fw);
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
