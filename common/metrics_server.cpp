#include "common/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <microhttpd.h>
#include <spdlog/spdlog.h>

#include "common/metrics.h"

namespace vnf {

namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

MHD_Result reply(MHD_Connection* c, unsigned status, const std::string& body, const char* type) {
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                    MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET, HEAD");
  const MHD_Result rc = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return rc;
}

MHD_Result handle(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                  const char*, size_t* upload_size, void** con_cls) {
  auto* self = static_cast<MetricsServer*>(cls);
  // First call per request: headers only. Answer on the next one (a body, if any, is ignored).
  if (*con_cls == nullptr) {
    *con_cls = self;
    return MHD_YES;
  }
  if (*upload_size != 0) {
    *upload_size = 0;  // a body on a GET: discarded
    return MHD_YES;
  }
  if (std::strcmp(url, "/metrics") != 0)
    return reply(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n", "text/plain");
  if (std::strcmp(method, MHD_HTTP_METHOD_GET) != 0 && std::strcmp(method, "HEAD") != 0)
    return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n", "text/plain");
  return reply(c, MHD_HTTP_OK, metrics::render(self->appliance()), kContentType);
}

// libmicrohttpd's own errors (a connection refused at the limit, a socket error) into our log.
void mhd_log(void*, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::string msg(buf);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
  spdlog::warn("metrics: {}", msg);
}

}  // namespace

MetricsServer::MetricsServer(const std::string& address, uint16_t port, std::string appliance)
    : appliance_(std::move(appliance)) {
  sockaddr_storage ss{};
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
  if (inet_pton(AF_INET, address.c_str(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
  } else if (inet_pton(AF_INET6, address.c_str(),
                       &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr) == 1) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    flags |= MHD_USE_IPv6;
  } else {
    throw std::runtime_error(fmt::format("metrics: '{}' is not an IP address", address));
  }
  // The logger first: libmicrohttpd uses its own for anything said before it is set.
  daemon_ = MHD_start_daemon(flags, port, nullptr, nullptr, &handle, this,
                             MHD_OPTION_EXTERNAL_LOGGER, &mhd_log, nullptr, MHD_OPTION_SOCK_ADDR,
                             reinterpret_cast<sockaddr*>(&ss), MHD_OPTION_CONNECTION_LIMIT, 16u,
                             MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  if (!daemon_) {
    const int err = errno;
    throw std::runtime_error(fmt::format("metrics: cannot listen on {}: {}",
                                         address.find(':') == std::string::npos
                                             ? fmt::format("{}:{}", address, port)
                                             : fmt::format("[{}]:{}", address, port),
                                         err ? std::strerror(err) : "libmicrohttpd refused"));
  }
}

MetricsServer::~MetricsServer() {
  if (daemon_) MHD_stop_daemon(daemon_);
}

std::unique_ptr<MetricsServer> open_metrics_server(const EngineConfig& cfg) {
  if (cfg.management.metrics_port == 0) return nullptr;
  auto s = std::make_unique<MetricsServer>(cfg.management.address, cfg.management.metrics_port,
                                           cfg.name);
  const std::string& a = cfg.management.address;
  spdlog::info("metrics: http://{}:{}/metrics",
               a.find(':') == std::string::npos ? a : "[" + a + "]", cfg.management.metrics_port);
  return s;
}

}  // namespace vnf
