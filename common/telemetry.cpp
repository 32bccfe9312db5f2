#include "common/telemetry.h"

#include <map>
#include <mutex>

#include <spdlog/spdlog.h>

namespace vnf::telemetry {
namespace {

std::mutex& mu() {
  static std::mutex m;
  return m;
}
std::map<std::string, Handler>& handlers() {
  static std::map<std::string, Handler> h;
  return h;
}

int trampoline(const char* cmd, const char* params, rte_tel_data* d) {
  Handler h;
  {
    std::lock_guard lock(mu());
    auto it = handlers().find(cmd);
    if (it == handlers().end()) return -ENOENT;
    h = it->second;
  }
  try {
    return h(params ? params : "", d);
  } catch (const std::exception& e) {
    spdlog::warn("telemetry {}: {}", cmd, e.what());
    return -EINVAL;
  }
}

}  // namespace

void add(const std::string& cmd, const std::string& help, Handler h) {
  bool fresh;
  {
    std::lock_guard lock(mu());
    fresh = handlers().count(cmd) == 0;
    handlers()[cmd] = std::move(h);
  }
  // rte_telemetry keeps the callback forever; registering twice would fail, so only once.
  static std::map<std::string, std::string> registered;
  if (fresh && !registered.count(cmd)) {
    registered[cmd] = help;
    if (rte_telemetry_register_cmd(registered.find(cmd)->first.c_str(), trampoline,
                                   registered[cmd].c_str()) != 0)
      spdlog::warn("telemetry: cannot register {}", cmd);
  }
}

void clear() {
  std::lock_guard lock(mu());
  handlers().clear();
}

}  // namespace vnf::telemetry

namespace vnf::telemetry {

std::string key(const std::string& name) {
  std::string k = name;
  for (char& c : k)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '/') c = '_';
  return k;
}

rte_tel_data* new_dict() {
  rte_tel_data* d = rte_tel_data_alloc();
  if (d) rte_tel_data_start_dict(d);
  return d;
}

}  // namespace vnf::telemetry
