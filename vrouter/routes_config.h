// Static routes: the `routes:` list of the YAML file and the plain-text route files
// (`route_files:`, one route per line in `ip route` style, for tables of a million prefixes).
// Both go through one validator, so a route means the same wherever it is written.
#pragma once

#include <cstdint>
#include <string>

#include "common/config_node.h"
#include "common/input_file.h"
#include "vrouter/config.h"

namespace vrouter {

// The file limits of routes (config.h); tests pass smaller ones.
struct RouteLimits {
  uint32_t max_routes = kMaxStaticRoutes;
  unsigned max_route_files = kMaxRouteFiles;
  size_t max_route_file_bytes = vnf::kMaxRouteFileBytes;  // all route files together
};

// Reads `routes` and `route_files` from `n` into s.routes (interfaces, segment policy,
// neighbour and fib settings must be parsed already). Throws vnf::config::ConfigError, naming
// the first route (or file) beyond a limit.
void load_routes(const vnf::config::ConfigNode& n, RouterSettings& s,
                 const RouteLimits& limits = {});

// A content hash of the routes (order-sensitive), for change detection.
uint64_t route_fingerprint(const RouterSettings& s);

}  // namespace vrouter
