// Prometheus metrics (text exposition format 0.0.4) of an appliance, served on /metrics by
// common/metrics_server.h.
//
// Producers are registered beside the telemetry commands that show the same numbers, and read
// them the same way: under the same control-plane locks, per-worker counters summed on read.
// They run on the metrics server's thread, as telemetry handlers run on DPDK's telemetry
// thread; nothing on the fast path knows about either.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vnf::metrics {

enum class Type { kCounter, kGauge };

using Labels = std::vector<std::pair<std::string_view, std::string>>;

// Escaping per the text format: label values escape backslash, double quote and newline;
// HELP text escapes backslash and newline.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view h);
// [a-zA-Z_:][a-zA-Z0-9_:]* (metric names), [a-zA-Z_][a-zA-Z0-9_]* (label names).
bool valid_metric_name(std::string_view n);
bool valid_label_name(std::string_view n);

// Collects samples and writes them grouped by family (one HELP and one TYPE line each), in
// the order the families were first used, whatever order the producers add them in. Every
// sample carries the appliance label first. Counter names end in _total.
class Writer {
 public:
  explicit Writer(std::string appliance) : appliance_(std::move(appliance)) {}

  void counter(std::string_view name, std::string_view help, const Labels& labels, uint64_t v);
  void gauge(std::string_view name, std::string_view help, const Labels& labels, double v);

  std::string text() const;

 private:
  struct Family {
    std::string help;
    Type type;
    std::string samples;  // "name{labels} value\n" lines
  };
  Family& family(std::string_view name, std::string_view help, Type t);
  void sample(Family& f, std::string_view name, const Labels& labels, const std::string& value);

  std::string appliance_;
  std::vector<std::pair<std::string, Family>> families_;
  std::map<std::string, size_t, std::less<>> index_;
};

// A producer adds its samples to the writer. It may throw: the scrape then lacks its samples
// and the error is logged.
using Producer = std::function<void(Writer&)>;

// Registers (or replaces) the producer `name`; clear() removes all (before the objects they
// read are destroyed). Thread safe.
void add(const std::string& name, Producer p);
void clear();

// Runs every producer, in the order of registration, and returns the exposition.
std::string render(const std::string& appliance);

}  // namespace vnf::metrics
