#include "common/audit.h"

#include <pwd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/events.h"
#include "common/input_file.h"

namespace vnf {

std::string content_hash(const std::string& bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

std::string file_hash(const std::string& path) {
  try {
    return content_hash(read_input_file(path, kMaxConfigFileBytes));
  } catch (const InputFileError&) {
    return "";
  }
}

std::string user_name(uint32_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return "";
  return found->pw_name;
}

std::string user_label(uint32_t uid) {
  const std::string name = user_name(uid);
  return name.empty() ? fmt::format("uid {}", uid) : fmt::format("uid {} ({})", uid, name);
}

std::string now_iso8601() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
  return buf;
}

void ConfigAudit::record(ApplyRecord r) {
  std::lock_guard lock(mu_);
  if (r.ok) generation_ = r.generation;
  r.generation = generation_;
  r.seq = ++attempts_;
  if (r.who.user.empty()) r.who.user = user_name(r.who.uid);
  spdlog::info("audit: config {} file={} hash={} generation={} via={} uid={} user={} pid={}: {}",
               r.ok ? "applied" : "rejected", r.file, r.hash, r.generation, r.who.via, r.who.uid,
               r.who.user.empty() ? "?" : r.who.user, r.who.pid, r.detail);
  const bool rollback = r.who.via.find("rollback") != std::string::npos;
  events::Event e(!r.ok      ? "config_rejected"
                  : rollback ? "rollback"
                             : "config_applied",
                  r.ok ? events::Severity::kNotice : events::Severity::kWarning);
  e.num("generation", r.generation)
      .num("attempt", r.seq)
      .str("file", r.file)
      .str("hash", r.hash)
      .str("via", r.who.via)
      .num("uid", r.who.uid)
      .str("user", r.who.user)
      .num("pid", static_cast<uint64_t>(std::max(r.who.pid, 0)))
      .str(r.ok ? "changes" : "error", r.detail);
  events::emit(e);
  history_.push_back(std::move(r));
  if (history_.size() > 64) history_.pop_front();
}

void ConfigAudit::applied(uint64_t generation, const std::string& file, const std::string& hash,
                          const Requester& who, const std::string& detail) {
  ApplyRecord r;
  r.generation = generation;
  r.time = now_iso8601();
  r.file = file;
  r.hash = hash;
  r.who = who;
  r.ok = true;
  r.detail = detail;
  record(std::move(r));
}

void ConfigAudit::rejected(const std::string& file, const std::string& hash, const Requester& who,
                           const std::string& error) {
  ApplyRecord r;
  r.time = now_iso8601();
  r.file = file;
  r.hash = hash;
  r.who = who;
  r.ok = false;
  r.detail = error;
  record(std::move(r));
}

void ConfigAudit::event(const std::string& what, const Requester& who) {
  const std::string user = who.user.empty() ? user_name(who.uid) : who.user;
  spdlog::info("audit: {} via={} uid={} user={} pid={}", what, who.via, who.uid,
               user.empty() ? "?" : user, who.pid);
}

ApplyRecord ConfigAudit::last() const {
  std::lock_guard lock(mu_);
  return history_.empty() ? ApplyRecord{} : history_.back();
}

uint64_t ConfigAudit::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

uint64_t ConfigAudit::attempts() const {
  std::lock_guard lock(mu_);
  return attempts_;
}

std::deque<ApplyRecord> ConfigAudit::history() const {
  std::lock_guard lock(mu_);
  return history_;
}

}  // namespace vnf
