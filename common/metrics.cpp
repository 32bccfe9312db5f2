#include "common/metrics.h"

#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace vnf::metrics {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view h) {
  std::string out;
  out.reserve(h.size());
  for (char c : h) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {
bool name_chars(std::string_view n, bool colon) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}
}  // namespace

bool valid_metric_name(std::string_view n) { return name_chars(n, true); }
bool valid_label_name(std::string_view n) { return name_chars(n, false); }

Writer::Family& Writer::family(std::string_view name, std::string_view help, Type t) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    Family& f = families_[it->second].second;
    if (f.type != t) throw std::logic_error(fmt::format("metric {}: counter and gauge", name));
    return f;
  }
  if (!valid_metric_name(name)) throw std::logic_error(fmt::format("bad metric name {}", name));
  if (t == Type::kCounter && (name.size() < 6 || name.substr(name.size() - 6) != "_total"))
    throw std::logic_error(fmt::format("counter {} does not end in _total", name));
  index_.emplace(std::string(name), families_.size());
  families_.emplace_back(std::string(name), Family{std::string(help), t, {}});
  return families_.back().second;
}

void Writer::sample(Family& f, std::string_view name, const Labels& labels,
                    const std::string& value) {
  std::string& s = f.samples;
  s += name;
  s += "{appliance=\"";
  s += escape_label_value(appliance_);
  s += '"';
  for (const auto& [k, v] : labels) {
    if (!valid_label_name(k) || k == "appliance")
      throw std::logic_error(fmt::format("metric {}: bad label name {}", name, k));
    s += ',';
    s += k;
    s += "=\"";
    s += escape_label_value(v);
    s += '"';
  }
  s += "} ";
  s += value;
  s += '\n';
}

void Writer::counter(std::string_view name, std::string_view help, const Labels& labels,
                     uint64_t v) {
  sample(family(name, help, Type::kCounter), name, labels, std::to_string(v));
}

void Writer::gauge(std::string_view name, std::string_view help, const Labels& labels, double v) {
  // Integers print as integers (a gauge of 3 ports reads "3", not "3.0").
  sample(family(name, help, Type::kGauge), name, labels, fmt::format("{}", v));
}

std::string Writer::text() const {
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(f.help), name,
                       f.type == Type::kCounter ? "counter" : "gauge");
    out += f.samples;
  }
  return out;
}

namespace {
// Held for a whole scrape, so that clear() returns only when no producer runs any more.
std::mutex& mu() {
  static std::mutex m;
  return m;
}
std::vector<std::pair<std::string, Producer>>& producers() {
  static std::vector<std::pair<std::string, Producer>> p;
  return p;
}
}  // namespace

void add(const std::string& name, Producer p) {
  std::lock_guard lock(mu());
  for (auto& [n, q] : producers()) {
    if (n == name) {
      q = std::move(p);
      return;
    }
  }
  producers().emplace_back(name, std::move(p));
}

void clear() {
  std::lock_guard lock(mu());
  producers().clear();
}

std::string render(const std::string& appliance) {
  std::lock_guard lock(mu());
  Writer w(appliance);
  for (const auto& [name, p] : producers()) {
    try {
      p(w);
    } catch (const std::exception& e) {
      spdlog::warn("metrics {}: {}", name, e.what());
    }
  }
  return w.text();
}

}  // namespace vnf::metrics
