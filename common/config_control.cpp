#include "common/config_control.h"

#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/input_file.h"
#include "common/telemetry.h"

namespace vnf {

ConfigControl::ConfigControl(std::unique_ptr<StateDir> dir, std::string config_path)
    : dir_(std::move(dir)), config_path_(std::move(config_path)) {}

void ConfigControl::record_applied(const ConfigAudit& audit, const Requester& who) {
  std::lock_guard lock(mu_);
  if (!dir_) return;
  const ApplyRecord last = audit.last();
  try {
    // The file is read again: its hash must be the one of the bytes that were parsed, or
    // it changed in between and this copy would not be what runs.
    const std::string bytes = read_input_file(config_path_, kMaxConfigFileBytes);
    if (content_hash(bytes) != last.hash)
      throw std::runtime_error(fmt::format("{} changed since it was read (hash {}, applied {})",
                                           config_path_, content_hash(bytes), last.hash));
    StoredVersion m;
    m.generation = audit.generation();
    m.time = last.time.empty() ? now_iso8601() : last.time;
    m.uid = who.uid;
    m.pid = who.pid;
    m.via = who.via;
    m.hash = last.hash;
    current_ = dir_->save(bytes, m);
    spdlog::info("config version {} kept in {} (generation {}, hash {})", current_, dir_->path(),
                 m.generation, m.hash);
  } catch (const std::exception& e) {
    current_ = 0;
    spdlog::error("config generation {} is running but not kept in the state directory: {}",
                  audit.generation(), e.what());
  }
}

bool ConfigControl::restore_locked(uint64_t version) {
  try {
    write_file_atomic(config_path_, dir_->read(version));
    return true;
  } catch (const std::exception& e) {
    spdlog::error("cannot restore config version {} into {}: {}", version, config_path_, e.what());
    return false;
  }
}

bool ConfigControl::before_reload(Requester& who, uint64_t now_ms) {
  std::lock_guard lock(mu_);
  taken_ = intent_;
  intent_ = Intent{};
  if (taken_.kind != Intent::kNone && now_ms - taken_.set_ms > kIntentTtlMs) {
    spdlog::warn("a vnfctl request older than {} s was not followed by its SIGHUP: ignored",
                 kIntentTtlMs / 1000);
    taken_ = Intent{};
  }
  if (taken_.kind != Intent::kRollback) return true;
  who.via = "rollback";
  spdlog::info("rollback to config version {} (uid {} pid {})", taken_.value, who.uid, who.pid);
  if (!restore_locked(taken_.value)) return false;
  // An explicit rollback settles a pending confirm.
  confirm_deadline_ms_ = 0;
  rollback_to_ = 0;
  return true;
}

void ConfigControl::after_reload(const ConfigAudit& audit, uint64_t generation_before,
                                 const Requester& who, uint64_t now_ms) {
  if (audit.generation() == generation_before) {
    std::lock_guard lock(mu_);
    if (who.via == "automatic rollback" || who.via == "rollback")
      spdlog::error(
          "{} rejected: {} holds the restored version, the running config is "
          "unchanged (version {})",
          who.via, config_path_, current_);
    if (taken_.kind == Intent::kArm)
      spdlog::warn("confirm timer not started: the reload was rejected, nothing changed");
    taken_ = Intent{};
    return;
  }
  uint64_t before;
  {
    std::lock_guard lock(mu_);
    before = current_;
  }
  record_applied(audit, who);
  std::lock_guard lock(mu_);
  if (taken_.kind == Intent::kArm) {
    if (before == 0) {
      spdlog::error(
          "confirm timer not started: the previous config is not kept (state "
          "directory unusable); the new config stays");
    } else {
      // A confirm already pending keeps its target: the version before the first
      // unconfirmed apply.
      if (confirm_deadline_ms_ == 0) rollback_to_ = before;
      confirm_seconds_ = taken_.value;
      trial_by_ = who;
      confirm_deadline_ms_ = now_ms + taken_.value * 1000;
      spdlog::warn(
          "config version {} applied on trial: 'vnfctl confirm' within {} s keeps it, "
          "otherwise version {} comes back by itself",
          current_, taken_.value, rollback_to_);
    }
  }
  taken_ = Intent{};
}

std::optional<uint64_t> ConfigControl::take_expired(uint64_t now_ms) {
  std::lock_guard lock(mu_);
  if (confirm_deadline_ms_ == 0 || now_ms < confirm_deadline_ms_) return std::nullopt;
  const uint64_t v = rollback_to_;
  confirm_deadline_ms_ = 0;
  rollback_to_ = 0;
  spdlog::warn(
      "automatic rollback: no 'vnfctl confirm' within {} s; restoring config version {} "
      "(the version on trial was applied by {} pid {} via {})",
      confirm_seconds_, v, user_label(trial_by_.uid), trial_by_.pid, trial_by_.via);
  if (!restore_locked(v)) return std::nullopt;
  return v;
}

std::string ConfigControl::arm_confirm(unsigned seconds, uint64_t now_ms) {
  std::lock_guard lock(mu_);
  if (!dir_ || current_ == 0)
    return "the running config is not kept in a state directory: nothing to roll back to";
  if (seconds < 1 || seconds > 86400) return "seconds: 1 to 86400";
  intent_ = Intent{Intent::kArm, seconds, now_ms};
  return "";
}

std::string ConfigControl::confirm(uint64_t& version, const Requester& who) {
  std::lock_guard lock(mu_);
  if (confirm_deadline_ms_ == 0) return "nothing to confirm: no confirm timer is running";
  confirm_deadline_ms_ = 0;
  rollback_to_ = 0;
  version = current_;
  ConfigAudit::event(fmt::format("config version {} confirmed (applied on trial by {}): the "
                                 "confirm timer is stopped",
                                 current_, user_label(trial_by_.uid)),
                     who);
  return "";
}

std::string ConfigControl::request_rollback(uint64_t& version, uint64_t now_ms) {
  std::lock_guard lock(mu_);
  if (!dir_) return "no state directory: no versions kept";
  const auto kept = dir_->list();
  if (version == 0) {
    for (const auto& k : kept)
      if (k.version < current_ || current_ == 0) version = k.version;
    if (version == 0) return "no earlier version kept";
  }
  bool found = false;
  for (const auto& k : kept) found |= k.version == version;
  if (!found)
    return kept.empty() ? fmt::format("no version {}: none kept", version)
                        : fmt::format("no version {} (kept: {} to {})", version,
                                      kept.front().version, kept.back().version);
  intent_ = Intent{Intent::kRollback, version, now_ms};
  return "";
}

std::pair<std::string, std::string> ConfigControl::running_bytes() const {
  std::lock_guard lock(mu_);
  if (!dir_ || current_ == 0)
    throw std::runtime_error("the running config is not kept in a state directory (see the log)");
  return {dir_->read(current_), fmt::format("{}/v{:08d}.yaml", dir_->path(), current_)};
}

uint64_t ConfigControl::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

uint64_t ConfigControl::pending_rollback_to() const {
  std::lock_guard lock(mu_);
  return confirm_deadline_ms_ ? rollback_to_ : 0;
}

}  // namespace vnf
