// DPDK telemetry commands for our appliances (/vnf/...). Readable with dpdk-telemetry.py and
// with vnfctl. Handlers run on DPDK's telemetry thread: they must only read state that is
// safe to read concurrently (counters) or take the owner's control-plane lock.
#pragma once

#include <functional>
#include <string>

#include <rte_telemetry.h>

namespace vnf::telemetry {

// Handler: fill `d`; return 0, or a negative errno (the client then sees null).
using Handler = std::function<int(const std::string& params, rte_tel_data* d)>;

// Registers cmd (once per process; later calls replace the handler); safe before and after
// rte_eal_init. Throws when
// rte_telemetry refuses it. help longer than rte_telemetry takes is cut (fit_help).
void add(const std::string& cmd, const std::string& help, Handler h);
std::string fit_help(const std::string& help);  // at most RTE_TEL_MAX_STRING_LEN - 1 bytes
// Removes every handler (tests build and destroy several appliances in one process).
void clear();

}  // namespace vnf::telemetry

namespace vnf::telemetry {

// Telemetry dict keys may hold only [A-Za-z0-9_/]: other characters become '_'. Loaders
// reject names that collide after this mapping.
std::string key(const std::string& name);

// A fresh dict container (freed by the library once added with keep=0).
rte_tel_data* new_dict();

}  // namespace vnf::telemetry
