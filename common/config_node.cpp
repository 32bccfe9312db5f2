#include "common/config_node.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include "common/audit.h"
#include "common/input_file.h"

namespace vnf::config {

ConfigError::ConfigError(std::string file, int line, int column, std::string path,
                         const std::string& msg)
    : std::runtime_error(path.empty()
                             ? fmt::format("{}:{}:{}: {}", file, line, column, msg)
                             : fmt::format("{}:{}:{}: {}: {}", file, line, column, path, msg)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      path_(std::move(path)) {}

namespace {

std::string join_path(const std::string& base, std::string_view key) {
  return base.empty() ? std::string(key) : base + "." + std::string(key);
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string nearest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (auto c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = std::string(c);
    }
  }
  return best;
}

ConfigNode::ConfigNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path,
                       YAML::Mark mark, bool present)
    : node_(std::move(node)),
      present_(present),
      file_(std::move(file)),
      path_(std::move(path)),
      mark_(mark) {}

namespace {

// A first pass over the parser's events, before any node is built: one document only, a
// bounded nesting depth, and a bounded size with aliases expanded. yaml-cpp shares an aliased
// node instead of copying it, but every loader walks it once per alias: without this bound,
// 30 levels of "a: [*b, *b]" make a file of a few hundred bytes walk 2^30 nodes.
class Prescan final : public YAML::EventHandler {
 public:
  explicit Prescan(const std::string& name) : name_(name) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t a) override { leaf(m, a); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                const std::string&) override {
    leaf(m, a);
  }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t a) override {
    const auto it = sizes_.find(a);
    add(m, it == sizes_.end() ? 1 : it->second);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                       YAML::EmitterStyle::value) override {
    open(m, a);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                  YAML::EmitterStyle::value) override {
    open(m, a);
  }
  void OnMapEnd() override { close(); }

 private:
  void fail(const YAML::Mark& m, const std::string& msg) const {
    throw ConfigError(name_, m.line + 1, m.column + 1, "", msg);
  }
  void add(const YAML::Mark& m, uint64_t n) {
    total_ = n > kMaxYamlNodes ? kMaxYamlNodes + 1 : total_ + n;
    if (total_ > kMaxYamlNodes)
      fail(m, fmt::format("the document expands to more than {} values (aliases counted each "
                          "time they are used): refused",
                          kMaxYamlNodes));
  }
  void leaf(const YAML::Mark& m, YAML::anchor_t a) {
    add(m, 1);
    if (a) sizes_[a] = 1;
  }
  void open(const YAML::Mark& m, YAML::anchor_t a) {
    add(m, 1);
    if (open_.size() >= kMaxYamlDepth)
      fail(m, fmt::format("nested more than {} levels deep: refused", kMaxYamlDepth));
    open_.push_back({a, total_});
  }
  void close() {
    const Open o = open_.back();
    open_.pop_back();
    if (o.anchor) sizes_[o.anchor] = total_ - o.start + 1;
  }

  struct Open {
    YAML::anchor_t anchor;
    uint64_t start;
  };
  const std::string& name_;
  std::vector<Open> open_;
  std::map<YAML::anchor_t, uint64_t> sizes_;
  uint64_t total_ = 0;
};

class SecondDocument final : public YAML::EventHandler {
 public:
  YAML::Mark at;
  void OnDocumentStart(const YAML::Mark& m) override { at = m; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

void prescan(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  Prescan scan(name);
  if (!parser.HandleNextDocument(scan)) return;  // empty: the loaders say what is missing
  SecondDocument second;
  if (parser.HandleNextDocument(second))
    throw ConfigError(name, second.at.line + 1, second.at.column + 1, "",
                      "a second YAML document ('---'): an appliance file holds exactly one");
}

}  // namespace

ConfigNode ConfigNode::load_string(const std::string& text, const std::string& name) {
  auto file = std::make_shared<const std::string>(name);
  YAML::Node root;
  try {
    prescan(text, name);
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(name, e.mark.line + 1, e.mark.column + 1, "", "YAML syntax error: " + e.msg);
  }
  YAML::Mark m = root.IsDefined() && !root.IsNull() ? root.Mark() : YAML::Mark();
  if (m.line < 0) m = YAML::Mark();
  return ConfigNode(root, file, "", m);
}

ConfigNode ConfigNode::load_file(const std::string& file, std::string* hash) {
  std::string text;
  try {
    text = read_input_file(file, kMaxConfigFileBytes);
  } catch (const InputFileError& e) {
    throw ConfigError(file, 1, 1, "", e.what());
  }
  if (hash) *hash = content_hash(text);
  return load_string(text, file);
}

void ConfigNode::fail(const std::string& msg) const {
  throw ConfigError(*file_, mark_.line + 1, mark_.column + 1, path_, msg);
}

void ConfigNode::expect_map() const {
  if (!node_.IsMap()) fail("expected a mapping (key: value)");
}

void ConfigNode::expect_seq() const {
  if (!node_.IsSequence()) fail("expected a list");
}

ConfigNode ConfigNode::operator[](std::string_view key) const {
  if (!node_.IsMap()) return ConfigNode(YAML::Node(), file_, join_path(path_, key), mark_, false);
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      YAML::Mark m = it->second.Mark();
      if (m.line < 0) m = it->first.Mark();
      return ConfigNode(it->second, file_, join_path(path_, key), m);
    }
  }
  return ConfigNode(YAML::Node(), file_, join_path(path_, key), mark_, false);
}

ConfigNode ConfigNode::required(std::string_view key) const {
  expect_map();
  ConfigNode n = (*this)[key];
  if (!n.present()) fail(fmt::format("missing required key '{}'", key));
  return n;
}

void ConfigNode::allow_keys(std::initializer_list<std::string_view> allowed) const {
  allow_keys(std::vector<std::string_view>(allowed));
}

void ConfigNode::allow_keys(const std::vector<std::string_view>& all) const {
  expect_map();
  std::set<std::string> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const YAML::Mark m = it->first.Mark();
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
    auto err = [&](const std::string& msg) {
      throw ConfigError(*file_, m.line + 1, m.column + 1, join_path(path_, key), msg);
    };
    if (!it->first.IsScalar()) err("keys must be plain strings");
    if (!seen.insert(key).second) err("duplicate key");
    if (std::find(all.begin(), all.end(), key) == all.end()) {
      const std::string hint = nearest(key, all);
      err(hint.empty() ? "unknown key" : fmt::format("unknown key (did you mean '{}'?)", hint));
    }
  }
}

std::vector<ConfigNode> ConfigNode::items() const {
  std::vector<ConfigNode> out;
  if (!defined()) return out;
  expect_seq();
  size_t i = 0;
  for (auto it = node_.begin(); it != node_.end(); ++it, ++i) {
    YAML::Mark m = it->Mark();
    if (m.line < 0) m = mark_;
    out.push_back(ConfigNode(*it, file_, fmt::format("{}[{}]", path_, i), m));
  }
  return out;
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::entries() const {
  std::vector<std::pair<std::string, ConfigNode>> out;
  if (!defined()) return out;
  expect_map();
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.Scalar();
    YAML::Mark m = it->second.Mark();
    if (m.line < 0) m = it->first.Mark();
    out.emplace_back(key, ConfigNode(it->second, file_, join_path(path_, key), m));
  }
  return out;
}

std::string ConfigNode::str() const {
  if (present_ && node_.IsNull()) return "null";
  if (!node_.IsScalar()) fail("expected a single value");
  return node_.Scalar();
}

bool ConfigNode::boolean() const {
  const std::string s = str();
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  fail(fmt::format("expected true or false, got '{}'", s));
}

uint64_t ConfigNode::uint(uint64_t min, uint64_t max) const {
  const std::string s = str();
  uint64_t v = 0;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    b += 2;
    base = 16;
  }
  auto [p, ec] = std::from_chars(b, e, v, base);
  if (ec != std::errc() || p != e || b == e)
    fail(fmt::format("expected a non-negative integer, got '{}'", s));
  if (v < min || v > max) fail(fmt::format("{} is out of range [{}, {}]", v, min, max));
  return v;
}

uint32_t ConfigNode::seconds(uint32_t min, uint32_t max) const {
  const std::string s = str();
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if ((ec != std::errc() && ec != std::errc::result_out_of_range) || p == s.data())
    fail(fmt::format("expected a duration (300, 300s, 5m, 1h), got '{}'", s));
  if (ec == std::errc::result_out_of_range)
    fail(fmt::format("duration '{}' is out of range [{}, {}] s", s, min, max));
  const std::string_view unit(p, s.data() + s.size() - p);
  uint64_t scale = 1;
  if (unit == "m") {
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else if (unit == "d") {
    scale = 86400;
  } else if (!unit.empty() && unit != "s") {
    fail(fmt::format("unknown duration unit '{}' (use s, m, h or d)", unit));
  }
  if (__builtin_mul_overflow(v, scale, &v))
    fail(fmt::format("duration '{}' is out of range [{}, {}] s", s, min, max));
  if (v < min || v > max) fail(fmt::format("{} s is out of range [{}, {}] s", v, min, max));
  return static_cast<uint32_t>(v);
}

std::string ConfigNode::str_or(std::string_view key, std::string def) const {
  ConfigNode n = (*this)[key];
  return n.defined() ? n.str() : def;
}

bool ConfigNode::bool_or(std::string_view key, bool def) const {
  ConfigNode n = (*this)[key];
  return n.defined() ? n.boolean() : def;
}

uint64_t ConfigNode::uint_or(std::string_view key, uint64_t def, uint64_t min, uint64_t max) const {
  ConfigNode n = (*this)[key];
  return n.defined() ? n.uint(min, max) : def;
}

uint32_t ConfigNode::seconds_or(std::string_view key, uint32_t def, uint32_t min,
                                uint32_t max) const {
  ConfigNode n = (*this)[key];
  return n.defined() ? n.seconds(min, max) : def;
}

}  // namespace vnf::config
