// STYLE.md rule 4, checked: the per-packet files allocate nothing, lock nothing, throw
// nothing and log nothing. A token found here fails the build's tests with its file and line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace {

// The fast path: the engine's per-packet code and every function's dp/ folder.
std::vector<std::filesystem::path> fast_path_files() {
  namespace fs = std::filesystem;
  const fs::path top(VNF_SOURCE_DIR);
  std::vector<fs::path> files = {top / "common/worker.h", top / "common/parser.h",
                                 top / "common/burst.h", top / "common/packet_meta.h",
                                 top / "common/counter.h"};
  for (const char* fn : {"vswitch", "vfirewall", "vrouter"}) {
    const fs::path dp = top / fn / "dp";
    if (!fs::exists(dp)) continue;
    for (const auto& e : fs::recursive_directory_iterator(dp))
      if (e.is_regular_file()) files.push_back(e.path());
  }
  return files;
}

struct Rule {
  const char* what;
  std::regex pattern;
};

}  // namespace

TEST(FastPathLint, NoAllocationLockThrowOrLog) {
  const std::vector<Rule> rules = {
      {"heap allocation",
       std::regex(
           R"(\bnew\s+[A-Za-z_(]|\bmalloc\s*\(|\bcalloc\s*\(|\brte_malloc|\brte_zmalloc|make_unique|make_shared)")},
      {"growing container or std::string",
       std::regex(R"(std::(string|vector|map|unordered_map|set|list|deque|function)\b)")},
      {"exception", std::regex(R"(\bthrow\b|\btry\s*\{)")},
      {"lock", std::regex(R"(mutex|lock_guard|unique_lock|rte_spinlock|rte_rwlock|pthread_)")},
      {"logging", std::regex(R"(spdlog|RTE_LOG|printf\s*\(|std::cout|std::cerr)")},
      {"function-local static (guarded initialisation)",
       std::regex(R"(^\s+static\s+(const\s+)?[A-Za-z0-9_:<>]+\s+\w+\s*(=|\{))")},
  };
  size_t files = 0;
  for (const auto& f : fast_path_files()) {
    std::ifstream in(f);
    ASSERT_TRUE(in) << f;
    ++files;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      const auto code = line.substr(0, line.find("//"));
      for (const auto& r : rules)
        if (std::regex_search(code, r.pattern))
          ADD_FAILURE() << f.string() << ":" << n << ": " << r.what
                        << " on the fast path: " << line;
    }
  }
  EXPECT_GE(files, 7u);
}
