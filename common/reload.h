// The one reload path of every program (issue #10): read and parse the file, validate it
// against the running config (vnf::check_restart_only and the program's own checks), then
// the program's apply(), which compiles every part before it publishes any. Whatever throws
// before the publish leaves the running config as it was; the log and the audit trail say
// so, with the hash of exactly the bytes that were parsed.
#pragma once

#include <exception>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/audit.h"
#include "common/config_node.h"

namespace vnf {

// Config: the program's config struct (has `hash`). parse(root) -> Config; check(next, root)
// throws ConfigError; apply(Config&&) compiles and publishes. Returns true when applied.
template <class Config, class Parse, class Check, class Apply>
bool reload_file(const std::string& file, ConfigAudit& audit, const Requester& who, Parse&& parse,
                 Check&& check, Apply&& apply) {
  std::string hash;
  try {
    const auto root = config::ConfigNode::load_file(file, &hash);
    Config next = parse(root);
    next.hash = hash;
    check(next, root);
    apply(std::move(next));
    return true;
  } catch (const std::exception& e) {
    spdlog::error("reload rejected, running config unchanged: {}", e.what());
    audit.rejected(file, hash.empty() ? file_hash(file) : hash, who, e.what());
    return false;
  }
}

}  // namespace vnf
