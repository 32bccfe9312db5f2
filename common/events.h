// Structured event records: one JSON schema for every kind of event an appliance reports to
// the central log (config applies, link changes, bond failovers, firewall rule logs, traces,
// shipper losses). Every record is one JSON object on one line:
//
//   {"seq": 42, "time": "2026-12-05T20:41:07.123+01:00", "appliance": "fw1",
//    "program": "vfirewall", "kind": "link", "severity": "warning", ...fields of the kind}
//
// Records are made on the control thread (never by a worker: firewall records reach the
// control thread through the workers' rings first) and handed to the shipper's queue; emit()
// never touches the network or the disk. Sequence numbers increase by one per record and
// continue across restarts (the shipper keeps the last one in the state directory).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vnf::events {

// RFC 5424 severities (the syslog PRI is facility * 8 + severity).
enum class Severity : uint8_t {
  kEmergency = 0,
  kAlert,
  kCritical,
  kError,
  kWarning,
  kNotice,
  kInfo,
  kDebug
};
const char* severity_name(Severity s);  // "warning", "info", ...

// The kind-specific part of a record, in the order the fields are added.
class Event {
 public:
  Event(std::string kind, Severity severity) : kind_(std::move(kind)), severity_(severity) {}
  Event& str(std::string_view key, std::string_view value);
  Event& num(std::string_view key, uint64_t value);
  Event& boolean(std::string_view key, bool value);
  Event& raw(std::string_view key, std::string json);  // an already-encoded JSON value

  const std::string& kind() const { return kind_; }
  Severity severity() const { return severity_; }
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::string kind_;
  Severity severity_;
  std::vector<std::pair<std::string, std::string>> fields_;  // key, JSON value
};

// A finished record as the shipper takes it.
struct Record {
  uint64_t seq = 0;
  std::string time;  // RFC 3339, milliseconds, numeric zone
  std::string kind;
  Severity severity = Severity::kInfo;
  std::string json;  // the whole record, one line, no newline
};

// RFC 3339 with milliseconds and the local zone as +hh:mm ("...T20:41:07.123+01:00").
std::string rfc3339_ms(int64_t unix_ms);
std::string rfc3339_ms_now();
// A JSON string literal (quotes included), escaping what RFC 8259 requires.
std::string json_quote(std::string_view s);

// The record of `e` with the envelope fields first (seq, time, appliance, program, kind,
// severity), then the event's own fields. Envelope keys given again by the event are dropped.
Record make_record(uint64_t seq, const std::string& time, const std::string& appliance,
                   const std::string& program, const Event& e);

// Where records go. install() makes the sink current for the process (one appliance per
// process); emit() from anywhere in the control plane then numbers and hands over a record.
class Log {
 public:
  using Sink = std::function<void(Record&&)>;
  Log(std::string appliance, std::string program, uint64_t first_seq, Sink sink)
      : appliance_(std::move(appliance)),
        program_(std::move(program)),
        next_seq_(first_seq),
        sink_(std::move(sink)) {}
  void emit(const Event& e);
  uint64_t next_seq() const;

 private:
  std::string appliance_, program_;
  mutable std::mutex mu_;  // emitters: the control thread (and start-up/shut-down in main)
  uint64_t next_seq_;
  Sink sink_;
};

void install(Log* log);  // nullptr: events are discarded again
void emit(const Event& e);
bool enabled();

}  // namespace vnf::events
