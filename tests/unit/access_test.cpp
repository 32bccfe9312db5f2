// Who may do what on the control socket (common/control_socket.h), and how a requester is
// named in the audit (common/audit.h).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "common/audit.h"
#include "common/control_socket.h"

namespace vnf {
namespace {

AccessGroups groups() {
  AccessGroups g;  // names vnf-admin, vnf-read
  g.admin = 900;
  g.read = 901;
  return g;
}

Peer peer(uint32_t uid, uint32_t gid, std::vector<uint32_t> sup = {}) {
  Peer p;
  p.uid = uid;
  p.gid = gid;
  p.pid = 4242;
  p.groups = std::move(sup);
  return p;
}

TEST(Access, RootMayDoEverythingEvenWithoutTheGroups) {
  AccessGroups none;  // neither group exists on the host
  EXPECT_EQ(access_of(peer(0, 0), none), Access::kAdmin);
  EXPECT_EQ(check_access(peer(0, 0), none, CommandClass::kWrite), "");
}

TEST(Access, AdminGroupReadsAndWrites) {
  const auto g = groups();
  const Peer supplementary = peer(1001, 1001, {27, 900});
  const Peer primary = peer(1001, 900);
  for (const Peer& p : {supplementary, primary}) {
    EXPECT_EQ(access_of(p, g), Access::kAdmin);
    EXPECT_EQ(check_access(p, g, CommandClass::kRead), "");
    EXPECT_EQ(check_access(p, g, CommandClass::kWrite), "");
  }
}

TEST(Access, ReadGroupReadsOnly) {
  const auto g = groups();
  const Peer p = peer(1002, 1002, {901});
  EXPECT_EQ(access_of(p, g), Access::kRead);
  EXPECT_EQ(check_access(p, g, CommandClass::kRead), "");
  const std::string err = check_access(p, g, CommandClass::kWrite);
  EXPECT_EQ(err.rfind("permission denied: ", 0), 0u) << err;
  EXPECT_NE(err.find("not in vnf-admin"), std::string::npos) << err;
  EXPECT_NE(err.find("uid 1002"), std::string::npos) << err;
}

TEST(Access, NeitherGroupNothing) {
  const auto g = groups();
  const Peer p = peer(1003, 1003, {27, 100});
  EXPECT_EQ(access_of(p, g), Access::kNone);
  for (auto c : {CommandClass::kRead, CommandClass::kWrite}) {
    const std::string err = check_access(p, g, c);
    EXPECT_NE(err.find("is in neither vnf-admin nor vnf-read"), std::string::npos) << err;
  }
}

TEST(Access, MissingGroupsGrantNothing) {
  AccessGroups g;  // no gids: a peer whose groups happen to be any number gets nothing
  EXPECT_EQ(access_of(peer(1004, 0 + 1004, {900, 901}), g), Access::kNone);
  g.read = 901;
  EXPECT_EQ(access_of(peer(1004, 1004, {900, 901}), g), Access::kRead);
}

TEST(Access, AllowedTable) {
  EXPECT_TRUE(allowed(Access::kAdmin, CommandClass::kWrite));
  EXPECT_TRUE(allowed(Access::kAdmin, CommandClass::kRead));
  EXPECT_TRUE(allowed(Access::kRead, CommandClass::kRead));
  EXPECT_FALSE(allowed(Access::kRead, CommandClass::kWrite));
  EXPECT_FALSE(allowed(Access::kNone, CommandClass::kRead));
  EXPECT_FALSE(allowed(Access::kNone, CommandClass::kWrite));
}

TEST(Access, RelayedCommandClasses) {
  EXPECT_EQ(relay_class("/vnf/ports"), CommandClass::kRead);
  EXPECT_EQ(relay_class("/vnf/macs,core,0"), CommandClass::kRead);
  EXPECT_EQ(relay_class("/"), CommandClass::kRead);
  EXPECT_EQ(relay_class("/vnf/fw/flush"), CommandClass::kWrite);
  // The apply workflow's telemetry commands only through the audited verbs.
  EXPECT_EQ(relay_class("/vnf/confirm"), std::nullopt);
  EXPECT_EQ(relay_class("/vnf/confirm_timer,5"), std::nullopt);
  EXPECT_EQ(relay_class("/vnf/rollback,3"), std::nullopt);
  EXPECT_EQ(relay_class("vnf/ports"), std::nullopt);
  EXPECT_EQ(relay_class(""), std::nullopt);
}

TEST(Access, UserNaming) {
  EXPECT_EQ(user_name(0), "root");
  EXPECT_EQ(user_label(0), "uid 0 (root)");
  // A uid with no passwd entry is named by its number alone.
  EXPECT_EQ(user_name(3999999999u), "");
  EXPECT_EQ(user_label(3999999999u), "uid 3999999999");
  const std::string err =
      check_access(peer(3999999999u, 3999999999u), groups(), CommandClass::kRead);
  EXPECT_NE(err.find("permission denied: uid 3999999999 is in neither"), std::string::npos) << err;
}

TEST(Access, AuditRecordNamesTheUser) {
  ConfigAudit audit;
  audit.applied(1, "f.yaml", "00", Requester{0, 1, "apply"}, "ok");
  EXPECT_EQ(audit.last().who.user, "root");
}

TEST(Access, JsonStringEscapes) {
  EXPECT_EQ(json_string("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  EXPECT_EQ(json_error("x"), "{\"error\": \"x\"}");
}

}  // namespace
}  // namespace vnf

// ---- The socket itself, as this process connects to it (peer credentials end to end).
namespace vnf {
namespace {

std::string ask(const std::string& path, const std::string& request) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  (void)!::write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

TEST(ControlSocket, PeerCredentialsReachTheControlThread) {
  char dir[] = "/tmp/vnf-access-test.XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/s.sock";
  AccessGroups g;
  g.admin = 900;
  g.read = 901;
  {
    ControlSocket s(path, g, std::string(dir) + "/no-telemetry");
    s.set_running_source([] { return std::make_pair(std::string("a: 1\n"), std::string("v1")); });
    EXPECT_NE(ask(path, "frobnicate\n").find("unknown verb"), std::string::npos);
    EXPECT_NE(ask(path, "get /vnf/confirm\n").find("not available here"), std::string::npos);
    EXPECT_EQ(ask(path, "running\n"), "{\"path\": \"v1\", \"config\": \"a: 1\\n\"}");
    EXPECT_NE(ask(path, "apply 0 99999999999\n").find("larger than the 32 MiB"), std::string::npos);
    // A write request is executed by whoever calls run_pending (the control thread), with
    // the connecting process's uid and pid.
    std::thread client([&] {
      EXPECT_EQ(ask(path, "apply 5 3\nabc"),
                fmt::format("apply 5 abc uid={} pid={}", ::getuid(), ::getpid()));
    });
    pollfd pfd{s.event_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
    s.run_pending([](const ControlRequest& r) {
      return fmt::format("{} {} {} uid={} pid={}", r.verb, r.param, r.payload, r.who.uid,
                         r.who.pid);
    });
    client.join();
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the socket is removed when it closes";
  ::rmdir(dir);
}

}  // namespace
}  // namespace vnf
