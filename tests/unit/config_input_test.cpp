// What an operator can point an appliance at, and what a file may hold: every path and every
// text here once hung, exhausted or silently misread a running appliance (issue #9). Each is
// refused at once, with file:line:column, by the real loaders.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/app.h"
#include "common/config_node.h"
#include "common/input_file.h"
#include "vfirewall/rules/config.h"
#include "vrouter/config.h"
#include "vswitch/config.h"

using vnf::config::ConfigError;
using vnf::config::ConfigNode;

namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vnf-config-input.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(*this / name) << text;
    return *this / name;
  }

 private:
  std::string path_;
};

const char* kSwitch = R"(engine: {name: t}
segments: [{name: core, vlan: 100}]
ports: [{name: vm1, type: ring, mode: access, segment: core}]
)";

// Runs f, which must throw a ConfigError within a second whose text contains `what`.
template <class F>
std::string expect_refused(F&& f, const std::string& what) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string msg;
  try {
    f();
    ADD_FAILURE() << "accepted, expected '" << what << "'";
  } catch (const ConfigError& e) {
    msg = e.what();
    EXPECT_NE(msg.find(what), std::string::npos) << msg << "\n  expected: " << what;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1)) << msg;
  return msg;
}

}  // namespace

TEST(InputFile, RegularFileIsRead) {
  TempDir d;
  const std::string p = d.write("host.yaml", kSwitch);
  std::string hash;
  const auto c = vswitch::parse_switch_config(ConfigNode::load_file(p, &hash));
  EXPECT_EQ(c.ports.size(), 1u);
  EXPECT_EQ(hash.size(), 16u);
  // A symlink to a regular file (how /etc files are often deployed) is followed.
  fs::create_symlink(p, d / "link.yaml");
  EXPECT_NO_THROW(ConfigNode::load_file(d / "link.yaml"));
}

TEST(InputFile, FifoIsRefusedWithoutBlocking) {
  TempDir d;
  ASSERT_EQ(::mkfifo((d / "fifo.yaml").c_str(), 0600), 0);
  // Before the fix the open() blocked forever waiting for a writer.
  const auto msg = expect_refused([&] { vswitch::load_switch_config(d / "fifo.yaml"); },
                                  "is a FIFO (named pipe), not a regular file");
  EXPECT_EQ(msg.rfind(d / "fifo.yaml" + ":1:1: ", 0), 0u) << msg;
}

TEST(InputFile, DevicesDirectoriesAndSocketsAreRefused) {
  TempDir d;
  expect_refused([] { vswitch::load_switch_config("/dev/zero"); }, "is a character device");
  expect_refused([] { vrouter::load_router_config("/dev/null"); }, "is a character device");
  expect_refused([&] { vfirewall::load_firewall_config(d / ""); }, "is a directory");
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", (d / "sock").c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  expect_refused([&] { vswitch::load_switch_config(d / "sock"); }, "is a socket");
  ::close(s);
  expect_refused([&] { vswitch::load_switch_config(d / "missing.yaml"); },
                 "cannot open: No such file or directory");
}

TEST(InputFile, SizeCap) {
  TempDir d;
  const std::string p = d / "big.yaml";
  {
    std::ofstream out(p);
    out << kSwitch << "# ";
    out << std::string(vnf::kMaxConfigFileBytes, 'x');
  }
  expect_refused([&] { vswitch::load_switch_config(p); }, "larger than the limit of 32 MiB");
  // Exactly at the limit is read.
  fs::resize_file(p, vnf::kMaxConfigFileBytes);
  EXPECT_EQ(vnf::read_input_file(p, vnf::kMaxConfigFileBytes).size(), vnf::kMaxConfigFileBytes);
}

TEST(InputFile, RouteFilesAreRegularFilesToo) {
  TempDir d;
  ::mkdir((d / "routes.d").c_str(), 0700);
  ASSERT_EQ(::mkfifo((d / "routes.fifo").c_str(), 0600), 0);
  for (const std::string& bad : std::vector<std::string>{"/dev/zero", d / "routes.d", d / "routes.fifo"}) {
    const std::string yaml = std::string(R"(engine: {name: r}
ports: [{name: p0, type: ring}]
interfaces: [{name: if0, port: p0, ipv4: [10.0.0.1/24]}]
route_files: [)") + bad + "]\n";
    const std::string cfg = d.write("rt.yaml", yaml);
    // The error points at the list entry that named the file (line 4, column 15).
    const auto msg = expect_refused([&] { vrouter::load_router_config(cfg); }, "not a regular file");
    EXPECT_EQ(msg.rfind(cfg + ":4:15: route_files[0]: route file " + bad, 0), 0u) << msg;
  }
}

TEST(YamlBounds, SecondDocumentIsRefused) {
  expect_refused([] { ConfigNode::load_string(std::string(kSwitch) + "---\nengine: {name: u}\n", "h.yaml"); },
                 "h.yaml:4:1: a second YAML document");
}

TEST(YamlBounds, AliasExpansionIsBounded) {
  // 30 levels, each naming the previous one twice: 2^30 values once expanded.
  std::string y = "a0: &a0 [x, y]\n";
  for (int i = 1; i <= 30; ++i)
    y += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) +
         ", *a" + std::to_string(i - 1) + "]\n";
  expect_refused([&] { ConfigNode::load_string(y, "bomb.yaml"); },
                 "expands to more than 4000000 values");
  // Aliases that stay small are fine.
  EXPECT_NO_THROW(ConfigNode::load_string("a: &x [1, 2]\nb: *x\nc: *x\n", "ok.yaml"));
}

TEST(YamlBounds, NestingDepthIsBounded) {
  const std::string deep = std::string(200, '[') + std::string(200, ']') + "\n";
  expect_refused([&] { ConfigNode::load_string(deep, "deep.yaml"); }, "nested more than 64 levels");
  // yaml-cpp's own recursion (thousands of levels) never gets to run out of stack.
  const std::string deeper = std::string(100000, '[') + "\n";
  expect_refused([&] { ConfigNode::load_string(deeper, "deeper.yaml"); }, "deeper.yaml:");
}

TEST(YamlBounds, DurationsNeverWrap) {
  // 5124095576030432 h = 2^64 + 3584 s: it used to run as 3584 s.
  expect_refused(
      [] { vswitch::parse_switch_config(ConfigNode::load_string(std::string(kSwitch) + "mac: {aging: 5124095576030432h}\n", "h.yaml")); },
      "h.yaml:4:14: mac.aging: duration '5124095576030432h' is out of range");
  expect_refused(
      [] { vswitch::parse_switch_config(ConfigNode::load_string(std::string(kSwitch) + "mac: {aging: 99999999999999999999999}\n", "h.yaml")); },
      "is out of range");
  const auto c = vswitch::parse_switch_config(
      ConfigNode::load_string(std::string(kSwitch) + "mac: {aging: 11d}\n", "h.yaml"));
  EXPECT_EQ(c.mac.aging_s, 11u * 86400);
}

// --pid-file: the file is created fresh, never through a link another user planted, and only
// in a directory nobody else can write to (issue #9: it followed a link planted at FILE.tmp).
TEST(PidFile, NeverWritesThroughAPlantedLink) {
  TempDir d;
  const std::string victim = d.write("victim", "precious\n");
  const std::string pid = d / "vs.pid";
  for (const std::string& planted :
       {pid + ".tmp", pid + ".tmp." + std::to_string(::getpid()), pid})
    fs::create_symlink(victim, planted);
  vnf::write_pid_file(pid);
  std::ifstream v(victim);
  std::string text((std::istreambuf_iterator<char>(v)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "precious\n");
  EXPECT_FALSE(fs::is_symlink(pid));
  std::ifstream p(pid);
  long got = 0;
  p >> got;
  EXPECT_EQ(got, ::getpid());
  EXPECT_FALSE(fs::exists(fs::symlink_status(pid + ".tmp." + std::to_string(::getpid()))));
}

TEST(PidFile, RefusesADirectoryOthersCanWrite) {
  TempDir d;
  ::mkdir((d / "shared").c_str(), 01777);
  ::chmod((d / "shared").c_str(), 01777);
  try {
    vnf::write_pid_file(d / "shared/vs.pid");
    ADD_FAILURE() << "accepted a world-writable directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is writable by other users"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(d / "shared/vs.pid"));
}

// The same class of defect in the other paths a file names: the log file and a pcap input.
TEST(InputFile, LogFileAndPcapInputMustBeRegularFilesInSafePlaces) {
  TempDir d;
  ASSERT_EQ(::mkfifo((d / "log.fifo").c_str(), 0600), 0);
  ::mkdir((d / "shared").c_str(), 0777);
  ::chmod((d / "shared").c_str(), 01777);
  const auto load = [](const std::string& yaml) {
    return vswitch::parse_switch_config(ConfigNode::load_string(yaml, "h.yaml"));
  };
  const std::string base = "segments: [{name: core, vlan: 100}]\nports: [{name: vm1, type: ring, "
                           "mode: access, segment: core}]\n";
  expect_refused([&] { load("engine: {log_file: " + d / "log.fifo" + "}\n" + base); },
                 "exists and is not a regular file");
  expect_refused([&] { load("engine: {log_file: " + d / "shared/vs.log" + "}\n" + base); },
                 "is writable by other users");
  expect_refused([&] { load("engine: {log_file: vs.log}\n" + base); }, "absolute path");
  EXPECT_NO_THROW(load("engine: {log_file: " + d / "vs.log" + "}\n" + base));
  expect_refused(
      [&] {
        load("segments: [{name: core, vlan: 100}]\nports: [{name: p, type: pcap, rx_pcap: " +
             d / "log.fifo" + ", mode: access, segment: core}]\n");
      },
      "exists and is not a regular file");
}
