// Config versions and the audit trail of applies. Every load (start-up or reload) gets a
// generation number and a content hash; every attempt, accepted or rejected, is an audit
// record with who asked (uid, pid from the signal), when, and what changed.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace vnf {

struct Requester {
  uint32_t uid = 0;
  int32_t pid = 0;
  std::string via = "start";  // start | SIGHUP | reload | apply | rollback | automatic rollback
  std::string user;           // the uid's user name; filled in by ConfigAudit::record
};

// The user name of a uid ("" when the host has none: the uid alone then names it).
std::string user_name(uint32_t uid);
// "uid 1001 (bob)", or "uid 1001" when the uid has no name.
std::string user_label(uint32_t uid);

struct ApplyRecord {
  uint64_t generation = 0;  // of the config running after this attempt
  uint64_t seq = 0;         // attempt number, 1 for the start-up load
  std::string time;         // ISO 8601 local time
  std::string file;
  std::string hash;  // fnv1a64 of the file's bytes, hex
  Requester who;
  bool ok = false;
  std::string detail;  // the change summary, or the error
};

std::string content_hash(const std::string& bytes);  // FNV-1a 64, 16 hex digits
std::string file_hash(const std::string& path);      // "" if unreadable or not a regular file
std::string now_iso8601();

class ConfigAudit {
 public:
  // Logs the record as one "audit:" line (uid and user name) and keeps the last 64 for telemetry.
  void record(ApplyRecord r);
  void applied(uint64_t generation, const std::string& file, const std::string& hash,
               const Requester& who, const std::string& detail);
  void rejected(const std::string& file, const std::string& hash, const Requester& who,
                const std::string& error);
  // An audit line that is not an apply attempt (a confirm): logged with who, not kept.
  static void event(const std::string& what, const Requester& who);
  ApplyRecord last() const;
  uint64_t generation() const;
  uint64_t next_generation() const { return generation() + 1; }
  uint64_t attempts() const;
  std::deque<ApplyRecord> history() const;

 private:
  mutable std::mutex mu_;
  std::deque<ApplyRecord> history_;
  uint64_t generation_ = 0;
  uint64_t attempts_ = 0;
};

}  // namespace vnf
