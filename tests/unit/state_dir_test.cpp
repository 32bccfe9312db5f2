// The state directory (common/state_dir.h) and the confirm / rollback logic that uses it
// (common/config_control.h): versions written atomically and read back byte for byte, the
// last N kept, a directory others can write refused, and the confirm timer that brings the
// previous version back into the config file when nobody confirms.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "common/audit.h"
#include "common/config_control.h"
#include "common/state_dir.h"

namespace {

namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/vnf-state-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void spit(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

vnf::StoredVersion meta(uint64_t gen, const std::string& bytes) {
  vnf::StoredVersion m;
  m.generation = gen;
  m.time = "2026-12-05T01:00:00+0900";
  m.uid = 1234;
  m.via = "SIGHUP";
  m.hash = vnf::content_hash(bytes);
  return m;
}

// Bytes a text editor would not produce: NUL, CR, no final newline, invalid UTF-8.
std::string odd_bytes(int i) {
  static const char kRaw[] = "engine:\r\n  name: x\0y\xff\xfe tail ";
  std::string s(kRaw, sizeof kRaw - 1);
  s += std::string("\0", 1) + std::to_string(i);
  return s;
}

TEST(StateDir, CreatesThePrivateDirectoryAndReadsVersionsBackByteForByte) {
  TempDir t;
  const std::string dir = t.path + "/a/b";
  vnf::StateDir sd(dir, 5);
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777 & ~0750u, 0u) << std::oct << st.st_mode;
  const std::string a = odd_bytes(1), b = odd_bytes(2);
  const uint64_t va = sd.save(a, meta(1, a));
  const uint64_t vb = sd.save(b, meta(2, b));
  EXPECT_EQ(va, 1u);
  EXPECT_EQ(vb, 2u);
  EXPECT_EQ(sd.read(va), a);
  EXPECT_EQ(sd.read(vb), b);
  const auto l = sd.list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[1].version, 2u);
  EXPECT_EQ(l[1].generation, 2u);
  EXPECT_EQ(l[1].uid, 1234u);
  EXPECT_EQ(l[1].via, "SIGHUP");
  EXPECT_EQ(l[1].hash, vnf::content_hash(b));
  EXPECT_EQ(l[1].bytes, b.size());
  EXPECT_EQ(l[1].time, "2026-12-05T01:00:00+0900");
  // No temp file is left behind.
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(StateDir, KeepsTheLastNAndNumbersGrowAcrossRestarts) {
  TempDir t;
  {
    vnf::StateDir sd(t.path, 3);
    for (int i = 1; i <= 7; ++i) sd.save(odd_bytes(i), meta(i, odd_bytes(i)));
    const auto l = sd.list();
    ASSERT_EQ(l.size(), 3u);
    EXPECT_EQ(l[0].version, 5u);
    EXPECT_EQ(l[2].version, 7u);
    EXPECT_THROW(sd.read(4), std::runtime_error);
    EXPECT_EQ(sd.read(5), odd_bytes(5));
    int files = 0;
    for (const auto& e : fs::directory_iterator(t.path)) (void)e, ++files;
    EXPECT_EQ(files, 6);  // 3 x (yaml + meta)
  }
  vnf::StateDir again(t.path, 3);  // a restart: the next number follows the kept ones
  EXPECT_EQ(again.save("x", meta(1, "x")), 8u);
  EXPECT_EQ(again.list().front().version, 6u);
}

TEST(StateDir, RefusesADirectoryGroupOrOthersCanWrite) {
  TempDir t;
  for (mode_t m : {0770, 0757, 0777}) {
    ASSERT_EQ(::chmod(t.path.c_str(), m), 0);
    try {
      vnf::StateDir sd(t.path, 3);
      ADD_FAILURE() << "mode " << std::oct << m << " accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("writable by other users"), std::string::npos)
          << e.what();
    }
  }
  ASSERT_EQ(::chmod(t.path.c_str(), 0700), 0);
  EXPECT_NO_THROW(vnf::StateDir(t.path, 3));
  // A link to a directory is not followed.
  const std::string link = t.path + "-link";
  ASSERT_EQ(::symlink(t.path.c_str(), link.c_str()), 0);
  EXPECT_THROW(vnf::StateDir(link, 3), std::runtime_error);
  ::unlink(link.c_str());
  EXPECT_THROW(vnf::StateDir(t.path, 1), std::runtime_error);  // keep at least 2
}

TEST(StateDir, AVersionWhoseBytesChangedIsNotRestored) {
  TempDir t;
  vnf::StateDir sd(t.path, 3);
  const uint64_t v = sd.save("a: 1\n", meta(1, "a: 1\n"));
  spit(t.path + "/v00000001.yaml", "a: 2\n");
  EXPECT_THROW(sd.read(v), std::runtime_error);
}

TEST(StateDir, AtomicWriteReplacesALinkInsteadOfFollowingIt) {
  TempDir t;
  const std::string target = t.path + "/target", path = t.path + "/config.yaml";
  spit(target, "untouched");
  ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0);
  vnf::write_file_atomic(path, "new bytes");
  EXPECT_EQ(slurp(target), "untouched");
  EXPECT_EQ(slurp(path), "new bytes");
  EXPECT_FALSE(fs::is_symlink(path));
  EXPECT_THROW(vnf::write_file_atomic(t.path + "/nodir/x", "y"), std::runtime_error);
}

// The appliance side of apply --confirm: the config file as a program would run it.
struct Appliance {
  TempDir t;
  std::string file;
  vnf::ConfigAudit audit;
  std::unique_ptr<vnf::ConfigControl> ctl;
  uint64_t now = 1000;

  Appliance() {
    file = t.path + "/app.yaml";
    spit(file, "version: one\n");
    ctl = std::make_unique<vnf::ConfigControl>(
        std::make_unique<vnf::StateDir>(t.path + "/state", 5), file);
    load(vnf::Requester{});
    ctl->record_applied(audit, vnf::Requester{});
  }
  // What a program's reload does to the audit trail: the file's bytes applied.
  void load(const vnf::Requester& who) {
    audit.applied(audit.next_generation(), file, vnf::content_hash(slurp(file)), who, "");
  }
  // The run loop's reload_versioned (common/app.h), `accept` deciding the reload's fate.
  void reload(vnf::Requester who, bool accept = true) {
    const uint64_t before = audit.generation();
    if (!ctl->before_reload(who, now)) return;
    if (accept) load(who);
    ctl->after_reload(audit, before, who, now);
  }
};

TEST(ConfigControl, WithoutConfirmThePreviousVersionComesBackByteForByte) {
  Appliance a;
  EXPECT_EQ(a.ctl->current(), 1u);
  const std::string one = slurp(a.file);
  ASSERT_EQ(a.ctl->arm_confirm(3, a.now), "");
  spit(a.file, "version: two\n");
  a.reload(vnf::Requester{0, 42, "SIGHUP"});
  EXPECT_EQ(a.ctl->current(), 2u);
  EXPECT_EQ(a.ctl->pending_rollback_to(), 1u);
  EXPECT_FALSE(a.ctl->take_expired(a.now + 2999));
  const auto v = a.ctl->take_expired(a.now + 3000);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 1u);
  EXPECT_EQ(slurp(a.file), one);
  a.reload(vnf::Requester{0, 1, "automatic rollback"});
  EXPECT_EQ(a.audit.generation(), 3u);
  EXPECT_EQ(a.ctl->current(), 3u);
  EXPECT_EQ(a.ctl->state()->list().back().via, "automatic rollback");
  EXPECT_EQ(a.ctl->pending_rollback_to(), 0u);
  EXPECT_FALSE(a.ctl->take_expired(a.now + 100000));  // once only
}

TEST(ConfigControl, ConfirmKeepsTheNewVersion) {
  Appliance a;
  uint64_t v = 0;
  EXPECT_NE(a.ctl->confirm(v, vnf::Requester{}), "");  // nothing to confirm
  ASSERT_EQ(a.ctl->arm_confirm(5, a.now), "");
  spit(a.file, "version: two\n");
  a.reload(vnf::Requester{0, 42, "SIGHUP"});
  EXPECT_EQ(a.ctl->confirm(v, vnf::Requester{}), "");
  EXPECT_EQ(v, 2u);
  EXPECT_FALSE(a.ctl->take_expired(a.now + 100000));
  EXPECT_EQ(slurp(a.file), "version: two\n");
}

TEST(ConfigControl, ARejectedReloadStartsNoTimer) {
  Appliance a;
  ASSERT_EQ(a.ctl->arm_confirm(3, a.now), "");
  a.reload(vnf::Requester{0, 42, "SIGHUP"}, false);
  EXPECT_EQ(a.ctl->pending_rollback_to(), 0u);
  EXPECT_EQ(a.ctl->current(), 1u);
  // The intent was used up: the next reload is not on trial.
  spit(a.file, "version: two\n");
  a.reload(vnf::Requester{0, 42, "SIGHUP"});
  EXPECT_EQ(a.ctl->pending_rollback_to(), 0u);
}

TEST(ConfigControl, RollbackRestoresAKeptVersionAndRefusesUnknownOnes) {
  Appliance a;
  const std::string one = slurp(a.file);
  spit(a.file, "version: two\n");
  a.reload(vnf::Requester{0, 42, "SIGHUP"});
  spit(a.file, "version: three\n");
  a.reload(vnf::Requester{0, 42, "SIGHUP"});
  uint64_t v = 99;
  EXPECT_NE(a.ctl->request_rollback(v, a.now), "");
  v = 0;  // the previous one
  ASSERT_EQ(a.ctl->request_rollback(v, a.now), "");
  EXPECT_EQ(v, 2u);
  v = 1;
  ASSERT_EQ(a.ctl->request_rollback(v, a.now), "");  // the last request counts
  vnf::Requester who{0, 7, "SIGHUP"};
  ASSERT_TRUE(a.ctl->before_reload(who, a.now));
  EXPECT_EQ(who.via, "rollback");
  EXPECT_EQ(slurp(a.file), one);
}

TEST(ConfigControl, AnIntentNotFollowedByItsSignalExpires) {
  Appliance a;
  uint64_t v = 1;
  ASSERT_EQ(a.ctl->request_rollback(v, a.now), "");
  spit(a.file, "version: two\n");
  a.now += vnf::ConfigControl::kIntentTtlMs + 1;
  vnf::Requester who{0, 7, "SIGHUP"};
  ASSERT_TRUE(a.ctl->before_reload(who, a.now));
  EXPECT_EQ(who.via, "SIGHUP");
  EXPECT_EQ(slurp(a.file), "version: two\n");
}

TEST(ConfigControl, AFileChangedAfterItWasParsedIsNotKeptAsThatVersion) {
  Appliance a;
  a.load(vnf::Requester{});  // applied with the hash of "version: one"
  spit(a.file, "version: edited meanwhile\n");
  a.ctl->record_applied(a.audit, vnf::Requester{});
  EXPECT_EQ(a.ctl->current(), 0u);
  EXPECT_EQ(a.ctl->state()->list().size(), 1u);
}

}  // namespace
