#include "common/events.h"

#include <atomic>
#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace vnf::events {

const char* severity_name(Severity s) {
  static constexpr const char* kNames[] = {"emergency", "alert",  "critical", "error",
                                           "warning",   "notice", "info",     "debug"};
  return kNames[static_cast<unsigned>(s) & 7];
}

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += fmt::format("\\u{:04x}", c);
        else
          out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

Event& Event::str(std::string_view key, std::string_view value) {
  fields_.emplace_back(std::string(key), json_quote(value));
  return *this;
}

Event& Event::num(std::string_view key, uint64_t value) {
  fields_.emplace_back(std::string(key), std::to_string(value));
  return *this;
}

Event& Event::boolean(std::string_view key, bool value) {
  fields_.emplace_back(std::string(key), value ? "true" : "false");
  return *this;
}

Event& Event::raw(std::string_view key, std::string json) {
  fields_.emplace_back(std::string(key), std::move(json));
  return *this;
}

std::string rfc3339_ms(int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char date[32], zone[8];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  std::strftime(zone, sizeof zone, "%z", &tm);  // +hhmm
  const std::string z = zone;
  const std::string colon = z.size() == 5 ? z.substr(0, 3) + ":" + z.substr(3) : "Z";
  return fmt::format("{}.{:03d}{}", date, static_cast<int>(unix_ms % 1000), colon);
}

std::string rfc3339_ms_now() {
  return rfc3339_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

Record make_record(uint64_t seq, const std::string& time, const std::string& appliance,
                   const std::string& program, const Event& e) {
  Record r;
  r.seq = seq;
  r.time = time;
  r.kind = e.kind();
  r.severity = e.severity();
  r.json = fmt::format(
      "{{\"seq\": {}, \"time\": {}, \"appliance\": {}, \"program\": {}, \"kind\": {}, "
      "\"severity\": {}",
      seq, json_quote(time), json_quote(appliance), json_quote(program), json_quote(e.kind()),
      json_quote(severity_name(e.severity())));
  for (const auto& [k, v] : e.fields()) {
    if (k == "seq" || k == "time" || k == "appliance" || k == "program" || k == "kind" ||
        k == "severity")
      continue;
    r.json += ", " + json_quote(k) + ": " + v;
  }
  r.json += "}";
  return r;
}

void Log::emit(const Event& e) {
  std::lock_guard lock(mu_);
  sink_(make_record(next_seq_++, rfc3339_ms_now(), appliance_, program_, e));
}

uint64_t Log::next_seq() const {
  std::lock_guard lock(mu_);
  return next_seq_;
}

namespace {
std::atomic<Log*> g_log{nullptr};
}

void install(Log* log) { g_log.store(log, std::memory_order_release); }

void emit(const Event& e) {
  if (Log* l = g_log.load(std::memory_order_acquire)) l->emit(e);
}

bool enabled() { return g_log.load(std::memory_order_acquire) != nullptr; }

}  // namespace vnf::events
