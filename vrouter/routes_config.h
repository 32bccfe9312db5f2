// Static routes: the `routes:` list of the YAML file and the plain-text route files
// (`route_files:`, one route per line in `ip route` style, for tables of a million prefixes).
// Both go through one validator, so a route means the same wherever it is written.
#pragma once

#include <cstdint>
#include <string>

#include "common/config_node.h"
#include "vrouter/config.h"

namespace vrouter {

// Reads `routes` and `route_files` from `n` into s.routes (interfaces, segment policy and
// neighbour settings must be parsed already). Throws vnf::config::ConfigError.
void load_routes(const vnf::config::ConfigNode& n, RouterSettings& s);

// A content hash of the routes (order-sensitive), for change detection.
uint64_t route_fingerprint(const RouterSettings& s);

}  // namespace vrouter
