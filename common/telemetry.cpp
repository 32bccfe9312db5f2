#include "common/telemetry.h"

#include <map>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
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
    registered[cmd] = fit_help(help);
    if (rte_telemetry_register_cmd(registered.find(cmd)->first.c_str(), trampoline,
                                   registered[cmd].c_str()) != 0) {
      // A command that is not there is a defect, never a warning nobody reads (a help text
      // too long for rte_telemetry once hid /vnf/fw/zones).
      registered.erase(cmd);
      throw std::runtime_error(fmt::format("telemetry: cannot register {}", cmd));
    }
  }
}

std::string fit_help(const std::string& help) {
  constexpr size_t kMax = RTE_TEL_MAX_STRING_LEN - 1;  // rte_telemetry refuses longer ones
  if (help.size() <= kMax) return help;
  size_t cut = help.rfind(' ', kMax - 3);
  if (cut == std::string::npos || cut == 0) cut = kMax - 3;
  return help.substr(0, cut) + "...";
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
