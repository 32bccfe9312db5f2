// YAML access for config loaders: every value read through a ConfigNode knows the file, line
// and column it came from and its path (e.g. "ports[2].segment"), so that every error names
// them. Loaders turn YAML into plain validated structs with these helpers; nothing here
// touches DPDK.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace vnf::config {

inline constexpr unsigned kMaxYamlDepth = 64;
inline constexpr uint64_t kMaxYamlNodes = 4'000'000;

// "file:line:column: path: message" (line and column 1-based, as editors count).
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, int column, std::string path, const std::string& msg);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& path() const { return path_; }

 private:
  std::string file_;
  int line_;
  int column_;
  std::string path_;
};

class ConfigNode {
 public:
  // Parses a file or a string; YAML syntax errors become ConfigErrors with their position.
  // The file must be a regular file of at most kMaxConfigFileBytes (common/input_file.h);
  // the text one YAML document of at most kMaxYamlDepth levels and kMaxYamlNodes values
  // (aliases expanded). `hash`, when given, receives the content hash of exactly the bytes
  // parsed (common/audit.h).
  static ConfigNode load_file(const std::string& file, std::string* hash = nullptr);
  static ConfigNode load_string(const std::string& text, const std::string& name);

  // A key given with an empty or null value ("type: null") is present but not defined.
  bool defined() const { return node_.IsDefined() && !node_.IsNull(); }
  bool present() const { return present_; }
  bool is_map() const { return node_.IsMap(); }
  bool is_seq() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  const std::string& path() const { return path_; }
  const std::string& file() const { return *file_; }
  int line() const { return mark_.line + 1; }
  int column() const { return mark_.column + 1; }

  // Map access. operator[] may return an undefined node (positioned at this map);
  // required() fails with "missing required key".
  ConfigNode operator[](std::string_view key) const;
  ConfigNode required(std::string_view key) const;
  bool has(std::string_view key) const { return (*this)[key].defined(); }

  // Fails on keys not in `allowed` (suggesting the nearest allowed key) and on duplicates.
  void allow_keys(std::initializer_list<std::string_view> allowed) const;
  void allow_keys(const std::vector<std::string_view>& allowed) const;
  void expect_map() const;
  void expect_seq() const;

  std::vector<ConfigNode> items() const;                            // sequence elements
  std::vector<std::pair<std::string, ConfigNode>> entries() const;  // map entries in order

  // Scalars, converted with range checks. str() of a present null value is "null", so that
  // "type: null" names the null port type rather than nothing.
  std::string str() const;
  bool boolean() const;
  uint64_t uint(uint64_t min = 0, uint64_t max = UINT64_MAX) const;     // decimal or 0x hex
  uint32_t seconds(uint32_t min = 0, uint32_t max = UINT32_MAX) const;  // 300, "300s", "5m", "1h"

  std::string str_or(std::string_view key, std::string def) const;
  bool bool_or(std::string_view key, bool def) const;
  uint64_t uint_or(std::string_view key, uint64_t def, uint64_t min = 0,
                   uint64_t max = UINT64_MAX) const;
  uint32_t seconds_or(std::string_view key, uint32_t def, uint32_t min = 0,
                      uint32_t max = UINT32_MAX) const;

  [[noreturn]] void fail(const std::string& msg) const;

 private:
  ConfigNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path,
             YAML::Mark mark, bool present = true);
  YAML::Node node_;
  bool present_ = true;
  std::shared_ptr<const std::string> file_;
  std::string path_;
  YAML::Mark mark_;
};

// Closest candidate by edit distance, for "did you mean" hints (empty if nothing is close).
std::string nearest(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace vnf::config
