#include "common/audit.h"

#include <chrono>
#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

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
  spdlog::info("audit: config {} file={} hash={} generation={} via={} uid={} pid={}: {}",
               r.ok ? "applied" : "rejected", r.file, r.hash, r.generation, r.who.via, r.who.uid,
               r.who.pid, r.detail);
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
