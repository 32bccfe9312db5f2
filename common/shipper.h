// The event shipper: a thread of its own that takes event records (common/events.h) from a
// bounded in-memory queue filled by the control thread, and writes them to
//   - a local JSON-lines file (engine.events.file), one record per line;
//   - collectors: RFC 5424 syslog over TCP with octet-counting framing (RFC 6587), over TLS
//     (RFC 5425, GnuTLS), or over UDP (RFC 5426, one message per datagram). The MSG part is
//     the record's JSON; MSGID is the record's kind; STRUCTURED-DATA is "-".
// Connections leave from engine.management.address (bound before connect).
//
// While a TCP/TLS collector is unreachable its records go to a spool file in the state
// directory (bounded by spool_bytes), replayed in order once it is reachable again, before
// any newer record. Once a record does not fit, every later record is refused too until the
// spool has been replayed (so the loss is one range of sequence numbers); the loss is then
// announced by a shipper_loss event. UDP has no spool: what cannot be sent is counted as lost.
// The control thread only takes a lock to append to the queue; a full queue drops the record
// (counted, and announced like a spool loss).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/engine_config.h"
#include "common/events.h"

namespace vnf {

// RFC 5424 message for a record: "<PRI>1 TIMESTAMP HOST APP PROCID KIND - JSON"
// (facility local0; no newline).
std::string syslog_message(const events::Record& r, const std::string& host, const std::string& app,
                           int procid);
// RFC 6587 octet counting: "LEN SP MSG".
std::string octet_frame(const std::string& msg);

// A bounded file of lines (one message per line), kept across restarts.
class Spool {
 public:
  Spool(std::string path, uint64_t max_bytes);  // loads what an earlier run left
  bool append(const std::string& line);         // false when it would exceed max_bytes
  std::vector<std::string> read_all() const;
  void replace(const std::vector<std::string>& lines);  // what is left after a partial replay
  void clear();
  uint64_t bytes() const { return bytes_; }
  uint64_t records() const { return records_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  uint64_t max_bytes_;
  uint64_t bytes_ = 0, records_ = 0;
};

// state_dir/events.seq: "SHIPPED RESERVED". SHIPPED: the last record written, delivered or
// spooled; RESERVED: every number up to it may have been given to a record (push() reserves a
// block ahead before it queues a record). A clean stop writes "LAST LAST"; after a crash
// RESERVED > SHIPPED, and the next run starts above RESERVED: a number is never used twice.
inline constexpr uint64_t kSeqReserve = 1024;
// The last sequence number that may have been used (the next run starts after it); 0: none.
uint64_t load_last_seq(const std::string& state_dir);

struct ShipperLoss {
  std::string collector;  // "tcp 192.0.2.1:514", or "queue"
  uint64_t count = 0, first_seq = 0, last_seq = 0;
};

class Shipper {
 public:
  Shipper(const EventsConfig& cfg, std::string source_address, std::string state_dir,
          std::string app);
  ~Shipper();  // ships what the queue holds (as far as it can), then stops the thread
  Shipper(const Shipper&) = delete;
  Shipper& operator=(const Shipper&) = delete;

  // Control thread: never waits for the network or the disk.
  void push(events::Record&& r);
  // The number the first record of this run gets (above everything a previous run reserved):
  // start the events::Log with it, so that the file is read once.
  uint64_t first_seq() const { return first_seq_; }
  // Control thread, every loop: emits a shipper_loss event for each loss announced by the
  // thread since the last call.
  void tick();
  void register_telemetry();
  std::string status_json() const;

  struct Collector;  // shipper.cpp

 private:
  void run();
  void deliver(Collector& c, const events::Record& r, const std::string& msg);
  void maintain(Collector& c, uint64_t now_ms);
  void persist_seq(uint64_t seq);
  void write_file(const std::vector<events::Record>& batch);

  EventsConfig cfg_;
  std::string source_, state_dir_, app_, host_;
  int procid_;
  int file_fd_ = -1;
  std::vector<std::unique_ptr<Collector>> collectors_;  // owned by the thread after start

  mutable std::mutex mu_;  // queue_, losses_, the status fields below, each Collector's status
  std::condition_variable cv_;
  std::deque<events::Record> queue_;
  bool stop_ = false;
  uint64_t queued_ = 0, queue_dropped_ = 0, file_written_ = 0, file_errors_ = 0;
  ShipperLoss queue_loss_;
  std::vector<ShipperLoss> losses_;
  std::atomic<bool> has_losses_{false};
  std::atomic<uint64_t> persisted_seq_{0};
  uint64_t reserved_seq_ = 0;  // mu_: numbers up to it are recorded as possibly used
  uint64_t last_pushed_ = 0;   // mu_
  // mu_: events.seq reservations that failed (disk full, read-only), the next retry.
  uint64_t seq_errors_ = 0, seq_retry_ms_ = 0;
  bool seq_failing_ = false;
  bool renew_ = false;
  uint64_t first_seq_ = 1;  // mu_: half the reservation is used; the shipper thread renews it
  void seq_result_locked(bool ok, uint64_t reserved, const std::string& err, uint64_t now);
  // events.seq. kSync: the file and its directory synced; kExact: synced, and written as
  // given (a clean stop); otherwise neither number on disk goes back. Written with
  // write_file_atomic (common/state_dir.h). True when the file holds the numbers; err: why
  // not. Takes file_mu_ (never mu_: callers may hold it).
  enum class SeqWrite { kNoSync, kSync, kExact };
  bool write_seq_file(uint64_t shipped, uint64_t reserved, SeqWrite how, std::string& err);
  std::mutex file_mu_;
  uint64_t file_shipped_ = 0, file_reserved_ = 0;  // file_mu_: what the file holds
  std::thread thread_;
};

}  // namespace vnf
