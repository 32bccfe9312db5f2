// The /metrics endpoint: libmicrohttpd on one thread of its own, bound to exactly the
// management address and port of the engine section (never a wildcard address). GET /metrics
// answers metrics::render(); every other path is 404, every other method on /metrics 405.
// Scrapes are served one at a time (the producers take control-plane locks; a second scrape
// would only wait for them).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/engine_config.h"

struct MHD_Daemon;

namespace vnf {

class MetricsServer {
 public:
  // Throws std::runtime_error when the address cannot be bound (in use, not on this host).
  MetricsServer(const std::string& address, uint16_t port, std::string appliance);
  ~MetricsServer();  // stops the thread; no producer runs after it returns
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  const std::string& appliance() const { return appliance_; }

 private:
  std::string appliance_;
  MHD_Daemon* daemon_ = nullptr;
};

// The server of a starting appliance, or null when engine.management has no metrics_port.
std::unique_ptr<MetricsServer> open_metrics_server(const EngineConfig& cfg);

}  // namespace vnf
