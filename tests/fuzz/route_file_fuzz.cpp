// libFuzzer target: the router's plain-text route files (`route_files:`, one route per line,
// vrouter/routes_config.cpp). The input is the content of a route file; a fixed vrouter config
// (interfaces in kept-apart segments, IPv4, IPv6, a VLAN, a YAML route) names it. The file is
// an in-memory file (memfd) read through its /proc/self/fd path, exactly as the loader reads
// any route file (vnf::read_input_file), so nothing in vrouter/ needs a hook.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_common.h"
#include "vrouter/config.h"

namespace {

int route_fd() {
  static const int fd = memfd_create("fuzz-routes", MFD_CLOEXEC);
  if (fd < 0) fuzz::finding("harness", "memfd_create failed");
  return fd;
}

std::string base_config(const std::string& route_file) {
  return R"(engine: {name: fuzz-rt, lcores: [0, 1]}
ports:
  - {name: p1, type: null}
  - {name: p2, type: null}
  - {name: p3, type: null}
interfaces:
  - {name: in, port: p1, ipv4: [10.0.0.1/24], ipv6: ["2001:db8::1/64"]}
  - {name: out1, port: p2, segment: dmz, ipv4: [10.1.0.1/24], ipv6: ["2001:db8:1::1/64"]}
  - {name: out2, port: p2, vlan: 20, segment: mynumber, ipv4: [10.2.0.1/24]}
  - {name: v6only, port: p3, ipv6: ["2001:db8:3::1/64"]}
segment_policy:
  apart:
    - [dmz, mynumber]
routes:
  - {prefix: 100.64.0.0/24, via: 10.0.0.2}
  - {prefix: "2001:db8:100::/48", via: "2001:db8::2", distance: 5}
route_files: [")" + route_file + R"("]
)";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = route_fd();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))
    fuzz::finding("harness", "cannot write the route file");
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const std::string yaml = base_config(path);
  fuzz::expect_only_config_errors([&] {
    const auto root = vnf::config::ConfigNode::load_string(yaml, "fuzz-routes.yaml");
    const vrouter::RouterConfig c = vrouter::parse_router_config(root);
    const auto& s = c.settings;
    fuzz::require(s.routes.size() >= 2, "the YAML routes are missing");
    for (const auto& r : s.routes) {
      fuzz::require(r.pos.file < s.files.size(), "route position names no file");
      fuzz::require(r.nh_set < s.nh_sets.size(), "route names no next-hop set");
      fuzz::require(r.iface == vrouter::kNoIface || r.iface < s.interfaces.size(),
                    "route names no interface");
      fuzz::require(r.distance >= 1, "route distance 0");
      fuzz::require(r.blackhole || r.nh_set != 0 || r.iface != vrouter::kNoIface,
                    "route without next hop, interface or blackhole");
      for (const auto& nh : s.nh_sets[r.nh_set])
        fuzz::require(nh.iface < s.interfaces.size(), "next hop on no interface");
    }
    try {
      vrouter::check_reloadable(c, c, root);
    } catch (const vnf::config::ConfigError& e) {
      fuzz::finding("a loaded config is not reloadable onto itself", e.what());
    }
    fuzz::require(vrouter::diff(s, s).empty(), "diff of a config with itself is not empty");
  });
  return 0;
}
