// Event records (common/events.h), their syslog framing, the spool and the shipper thread
// (common/shipper.h) against a TCP listener of the test's own, and the engine.events keys.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/config_node.h"
#include "common/engine_config.h"
#include "common/events.h"
#include "common/shipper.h"
#include "tests/unit/config_expect.h"

namespace ev = vnf::events;
using vnf::config::ConfigNode;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/vnf-events-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  return d ? d : "";
}

vnf::EngineConfig engine(const std::string& yaml) {
  return vnf::parse_engine(ConfigNode::load_string(yaml, "a.yaml"));
}

}  // namespace

TEST(Events, RecordHasTheEnvelopeFirstAndEscapes) {
  ev::Event e("link", ev::Severity::kWarning);
  e.str("port", "up\"link\\1\n").num("speed_mbps", 1000).boolean("ok", true).str("seq", "x");
  const ev::Record r = ev::make_record(7, "2026-12-05T20:41:07.123+00:00", "fw1", "vfirewall", e);
  EXPECT_EQ(r.seq, 7u);
  EXPECT_EQ(r.kind, "link");
  EXPECT_EQ(r.json,
            "{\"seq\": 7, \"time\": \"2026-12-05T20:41:07.123+00:00\", \"appliance\": \"fw1\", "
            "\"program\": \"vfirewall\", \"kind\": \"link\", \"severity\": \"warning\", "
            "\"port\": \"up\\\"link\\\\1\\n\", \"speed_mbps\": 1000, \"ok\": true}");
  EXPECT_EQ(ev::json_quote(std::string("a\x01") + "b"), "\"a\\u0001b\"");
}

TEST(Events, TimeIsRfc3339WithMillisecondsAndZone) {
  const std::regex re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d)");
  EXPECT_TRUE(std::regex_match(ev::rfc3339_ms_now(), re)) << ev::rfc3339_ms_now();
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  EXPECT_EQ(ev::rfc3339_ms(1700000000123), "2023-11-14T22:13:20.123+00:00");
  ::setenv("TZ", "Europe/Helsinki", 1);
  ::tzset();
  EXPECT_EQ(ev::rfc3339_ms(1700000000005), "2023-11-15T00:13:20.005+02:00");
  ::unsetenv("TZ");
  ::tzset();
}

TEST(Events, LogNumbersRecordsInOrder) {
  std::vector<ev::Record> got;
  ev::Log log("sw1", "vswitch", 41, [&](ev::Record&& r) { got.push_back(std::move(r)); });
  EXPECT_FALSE(ev::enabled());
  ev::emit(ev::Event("link", ev::Severity::kInfo));  // no log installed: discarded
  ev::install(&log);
  ev::emit(ev::Event("link", ev::Severity::kInfo));
  ev::emit(ev::Event("bond_failover", ev::Severity::kWarning));
  ev::install(nullptr);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].seq, 41u);
  EXPECT_EQ(got[1].seq, 42u);
  EXPECT_EQ(log.next_seq(), 43u);
  EXPECT_NE(got[1].json.find("\"appliance\": \"sw1\""), std::string::npos);
}

TEST(Shipper, SyslogMessageAndOctetFraming) {
  ev::Record r;
  r.seq = 3;
  r.time = "2026-12-05T20:41:07.123+01:00";
  r.kind = "config_applied";
  r.severity = ev::Severity::kNotice;
  r.json = "{\"seq\": 3}";
  const std::string m = vnf::syslog_message(r, "host one", "vswitch", 1234);
  // local0 (16) * 8 + notice (5) = 133; spaces are not allowed in HOSTNAME
  EXPECT_EQ(m,
            "<133>1 2026-12-05T20:41:07.123+01:00 hostone vswitch 1234 config_applied - "
            "{\"seq\": 3}");
  EXPECT_EQ(vnf::octet_frame("abc"), "3 abc");
  EXPECT_EQ(vnf::octet_frame(m), std::to_string(m.size()) + " " + m);
  EXPECT_EQ(vnf::syslog_message(r, "", "", 1).find("<133>1 2026-12-05T20:41:07.123+01:00 - - 1"),
            0u);
}

TEST(Shipper, SpoolIsBoundedOrderedAndSurvivesARestart) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/spool";
  {
    vnf::Spool s(path, 20);
    EXPECT_TRUE(s.append("aaaa"));       // 5 bytes
    EXPECT_TRUE(s.append("bbbbbbb"));    // 13
    EXPECT_FALSE(s.append("cccccccc"));  // 22 > 20
    EXPECT_TRUE(s.append("ddddd"));      // 19
    EXPECT_EQ(s.bytes(), 19u);
    EXPECT_EQ(s.records(), 3u);
  }
  vnf::Spool s(path, 20);  // what an earlier run left
  EXPECT_EQ(s.records(), 3u);
  EXPECT_EQ(s.read_all(), (std::vector<std::string>{"aaaa", "bbbbbbb", "ddddd"}));
  s.replace({"ddddd"});
  EXPECT_EQ(s.bytes(), 6u);
  EXPECT_EQ(s.read_all(), (std::vector<std::string>{"ddddd"}));
  s.clear();
  EXPECT_EQ(s.records(), 0u);
  EXPECT_TRUE(s.read_all().empty());
  std::filesystem::remove_all(dir);
}

namespace {

// A collector of the test's own: accepts one connection at a time, reads octet-counted frames.
class Listener {
 public:
  explicit Listener(uint16_t port = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t l = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &l);
    port_ = ntohs(a.sin_port);
  }
  ~Listener() {
    if (conn_ >= 0) ::close(conn_);
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  // Frames read within `ms`, until `want` of them arrived.
  std::vector<std::string> frames(size_t want, int ms = 5000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (out_.size() < want && std::chrono::steady_clock::now() < end) {
      if (conn_ < 0) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) conn_ = ::accept(fd_, nullptr, nullptr);
        continue;
      }
      pollfd p{conn_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char b[4096];
      const ssize_t n = ::recv(conn_, b, sizeof b, 0);
      if (n <= 0) break;
      buf_.append(b, static_cast<size_t>(n));
      for (;;) {
        const size_t sp = buf_.find(' ');
        if (sp == std::string::npos) break;
        const size_t len = std::stoul(buf_.substr(0, sp));
        if (buf_.size() < sp + 1 + len) break;
        out_.push_back(buf_.substr(sp + 1, len));
        buf_.erase(0, sp + 1 + len);
      }
    }
    return out_;
  }

 private:
  int fd_ = -1, conn_ = -1;
  uint16_t port_ = 0;
  std::string buf_;
  std::vector<std::string> out_;
};

// The number right after `pattern` in s (a JSON text), 0 when the pattern is absent.
uint64_t num_after(const std::string& s, const std::string& pattern) {
  const size_t at = s.find(pattern);
  return at == std::string::npos ? 0 : std::stoull(s.substr(at + pattern.size()));
}
uint64_t seq_of(const std::string& frame) { return num_after(frame, "{\"seq\": "); }

}  // namespace

TEST(Shipper, ShipsSpoolsReplaysInOrderAndAnnouncesTheLoss) {
  const std::string dir = temp_dir();
  uint16_t port;
  {
    Listener probe;
    port = probe.port();
  }
  vnf::EventsConfig cfg;
  cfg.enabled = true;
  cfg.file = dir + "/events.jsonl";
  cfg.spool_bytes = 1200;  // a few records
  vnf::CollectorConfig c;
  c.address = "127.0.0.1";
  c.port = port;
  cfg.collectors.push_back(c);

  auto shipper = std::make_unique<vnf::Shipper>(cfg, "127.0.0.1", dir + "/state", "vtest");
  ev::Log log("t1", "vtest", vnf::load_last_seq(dir + "/state") + 1,
              [&](ev::Record&& r) { shipper->push(std::move(r)); });
  ev::install(&log);
  auto emit = [](int i) { ev::emit(ev::Event("link", ev::Severity::kInfo).num("i", i)); };
  {
    auto l = std::make_unique<Listener>(port);
    for (int i = 0; i < 3; ++i) emit(i);
    const auto f = l->frames(3);
    ASSERT_EQ(f.size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(seq_of(f[i]), i + 1) << f[i];
    EXPECT_EQ(f[0].rfind("<134>1 ", 0), 0u) << f[0];
  }  // the collector goes away
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int i = 3; i < 20; ++i) emit(i);  // seq 4..20: a few spool, the rest are lost
  // The shipper thread notices the closed connection when it next sends: poll, do not guess.
  std::string st = shipper->status_json();
  for (int i = 0; i < 250 && st.find("\"connected\": false") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    st = shipper->status_json();
  }
  EXPECT_NE(st.find("\"connected\": false"), std::string::npos) << st;
  Listener back(port);
  auto f = back.frames(100, 3000);  // the spool, in order
  ASSERT_GE(f.size(), 2u);
  uint64_t spooled = f.size();
  for (size_t i = 0; i < f.size(); ++i) EXPECT_EQ(seq_of(f[i]), 4 + i) << f[i];
  // The control thread's tick turns the announced loss into a shipper_loss event (seq 21).
  for (int i = 0; i < 50 && f.size() == spooled; ++i) {
    shipper->tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    f = back.frames(spooled + 1, 100);
  }
  ASSERT_EQ(f.size(), spooled + 1);
  // /vnf/shipper's view of it: the range lost, the spool's limit, when the error happened.
  const std::string after = shipper->status_json();
  EXPECT_NE(after.find(
                fmt::format("\"lost\": {}, \"lost_ranges\": \"{}-20\"", 17 - spooled, 4 + spooled)),
            std::string::npos)
      << after;
  EXPECT_NE(after.find("\"transport\": \"tcp\", \"target\": \"127.0.0.1:"), std::string::npos)
      << after;
  EXPECT_NE(after.find("\"spool_limit\": 1200"), std::string::npos) << after;
  EXPECT_EQ(after.find("\"last_error_time\": \"\""), std::string::npos) << after;
  const std::string& loss = f.back();
  EXPECT_EQ(seq_of(loss), 21u) << loss;
  EXPECT_NE(loss.find(" shipper_loss - "), std::string::npos) << loss;
  EXPECT_NE(loss.find(fmt::format("\"lost\": {}, \"first_seq\": {}, \"last_seq\": 20",
                                  17 - (spooled), 4 + spooled)),
            std::string::npos)
      << loss;
  ev::install(nullptr);
  shipper.reset();
  // The file got every record, and the next start continues the numbering.
  std::ifstream in(cfg.file);
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) EXPECT_EQ(seq_of(line), ++n) << line;
  EXPECT_EQ(n, 21u);
  EXPECT_EQ(vnf::load_last_seq(dir + "/state"), 21u);
  std::filesystem::remove_all(dir);
}

// A crash (no destructor) leaves events.seq saying which numbers may have been used: the next
// run numbers above them, and announces the range whose records may be lost.
TEST(Shipper, NumbersAreNeverReusedAfterACrash) {
  const std::string dir = temp_dir();
  const std::string state = dir + "/state", seq_file = state + "/events.seq";
  vnf::EventsConfig cfg;
  cfg.enabled = true;
  cfg.file = dir + "/events.jsonl";
  const auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::string at_crash;
  {
    vnf::Shipper shipper(cfg, "127.0.0.1", state, "vtest");
    ev::Log log("t1", "vtest", vnf::load_last_seq(state) + 1,
                [&](ev::Record&& r) { shipper.push(std::move(r)); });
    ev::install(&log);
    for (int i = 0; i < 3; ++i) ev::emit(ev::Event("link", ev::Severity::kInfo).num("i", i));
    ev::install(nullptr);
    // Reserved before the first record was queued: what a kill -9 now would leave behind.
    at_crash = slurp(seq_file);
    EXPECT_EQ(at_crash.substr(at_crash.find(' ')), " 1024\n") << at_crash;
  }
  EXPECT_EQ(slurp(seq_file), "3 3\n");  // a clean stop
  EXPECT_EQ(vnf::load_last_seq(state), 3u);

  std::ofstream(seq_file, std::ios::trunc) << "1 1024\n";  // the crash: 1 shipped, 1024 reserved
  EXPECT_EQ(vnf::load_last_seq(state), 1024u);
  std::vector<ev::Record> got;
  {
    vnf::Shipper shipper(cfg, "127.0.0.1", state, "vtest");
    ev::Log log("t1", "vtest", vnf::load_last_seq(state) + 1, [&](ev::Record&& r) {
      got.push_back(r);
      shipper.push(std::move(r));
    });
    ev::install(&log);
    shipper.tick();
    ev::install(nullptr);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].seq, 1025u);
  EXPECT_EQ(got[0].kind, "shipper_loss");
  EXPECT_NE(got[0].json.find("\"collector\": \"previous run (not stopped cleanly)\", \"lost\": "
                             "1023, \"first_seq\": 2, \"last_seq\": 1024"),
            std::string::npos)
      << got[0].json;
  EXPECT_EQ(slurp(seq_file), "1025 1025\n");
  std::filesystem::remove_all(dir);
}

// An events.seq that is there but holds no number (a crash mid-write on a disk that lost
// the data, a bad restore) must not restart numbering at 1: it goes on far above anything a
// previous run can have used, and the unknown loss is announced.
TEST(Shipper, AnUnreadableSequenceFileSkipsFarAhead) {
  const std::string dir = temp_dir();
  const std::string state = dir + "/state", seq_file = state + "/events.seq";
  std::filesystem::create_directories(state);
  std::ofstream(seq_file, std::ios::trunc) << "";
  const uint64_t before = static_cast<uint64_t>(::time(nullptr)) * 1000000u;
  const uint64_t start = vnf::load_last_seq(state);
  EXPECT_GE(start, before);
  vnf::EventsConfig cfg;
  cfg.enabled = true;
  std::vector<ev::Record> got;
  {
    vnf::Shipper shipper(cfg, "127.0.0.1", state, "vtest");
    ev::Log log("t1", "vtest", vnf::load_last_seq(state) + 1, [&](ev::Record&& r) {
      got.push_back(r);
      shipper.push(std::move(r));
    });
    ev::install(&log);
    shipper.tick();
    ev::install(nullptr);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_GT(got[0].seq, start);
  EXPECT_EQ(got[0].kind, "shipper_loss");
  EXPECT_NE(got[0].json.find("events.seq missing or unreadable"), std::string::npos) << got[0].json;
  EXPECT_GE(vnf::load_last_seq(state), got[0].seq);
  // Deleted by hand from a directory that has a spool: not a first run either.
  std::filesystem::remove(seq_file);
  std::ofstream(state + "/events-spool-0.log") << "";
  EXPECT_GE(vnf::load_last_seq(state), before);
  // A directory never used: the first run starts at 1.
  std::filesystem::remove_all(state);
  std::filesystem::create_directories(state);
  EXPECT_EQ(vnf::load_last_seq(state), 0u);
  std::filesystem::remove_all(dir);
}

// The control thread emits records under its own locks: the reservation's fsync must not
// happen there except when it runs out. The shipper thread renews it once half is used.
TEST(Shipper, TheShipperThreadRenewsTheReservationAhead) {
  const std::string dir = temp_dir();
  const std::string state = dir + "/state", seq_file = state + "/events.seq";
  vnf::EventsConfig cfg;
  cfg.enabled = true;
  cfg.file = dir + "/events.jsonl";
  const auto reserved = [&] {
    std::ifstream in(seq_file);
    uint64_t s = 0, r = 0;
    in >> s >> r;
    return r;
  };
  {  // the shipper's thread stopped before its directory goes (it may still be writing)
    vnf::Shipper shipper(cfg, "127.0.0.1", state, "vtest");
    EXPECT_EQ(shipper.first_seq(), 1u);
    ev::Log log("t1", "vtest", shipper.first_seq(),
                [&](ev::Record&& r) { shipper.push(std::move(r)); });
    ev::install(&log);
    for (int i = 0; i < 700; ++i) ev::emit(ev::Event("link", ev::Severity::kInfo).num("i", i));
    ev::install(nullptr);
    for (int i = 0; i < 200 && reserved() <= 1024; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_GE(reserved(), 700u + 1024u - 188u) << "renewed from the 513th record on";
    EXPECT_NE(shipper.status_json().find("\"seq_errors\": 0,"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

// A disk that refuses the reservation (here: a directory stands where events.seq goes, so
// the rename over it fails) is counted and retried once a second, not once per record;
// records still flow.
TEST(Shipper, AFailingReservationIsCountedAndThrottled) {
  const std::string dir = temp_dir();
  const std::string state = dir + "/state";
  std::filesystem::create_directories(state + "/events.seq/in-the-way");
  vnf::EventsConfig cfg;
  cfg.enabled = true;
  cfg.file = dir + "/events.jsonl";
  {
    vnf::Shipper shipper(cfg, "127.0.0.1", state, "vtest");
    ev::Log log("t1", "vtest", shipper.first_seq(),
                [&](ev::Record&& r) { shipper.push(std::move(r)); });
    ev::install(&log);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 2000; ++i) ev::emit(ev::Event("link", ev::Severity::kInfo).num("i", i));
    const auto secs =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0)
            .count();
    ev::install(nullptr);
    // One failure, retried at most once a second: 1 on any machine that emits the 2000 records
    // within a second, one more for each further second a slow machine takes.
    const std::string st = shipper.status_json();
    const uint64_t errors = num_after(st, "\"seq_errors\": ");
    EXPECT_GE(errors, 1u) << st;
    EXPECT_LE(errors, 1u + static_cast<uint64_t>(secs)) << st;
  }
  std::ifstream in(dir + "/events.jsonl");
  size_t lines = 0;
  for (std::string l; std::getline(in, l);) ++lines;
  EXPECT_EQ(lines, 2000u) << "records go on while the reservation fails";
  std::filesystem::remove_all(dir);
}

TEST(Shipper, EventsKeys) {
  auto c = engine(
      "engine:\n  management: {address: 127.0.0.1}\n  events:\n    spool_bytes: 4096\n"
      "    collectors:\n      - {address: 127.0.0.2}\n      - {transport: tls, address: "
      "127.0.0.3, ca: /etc/ca.pem, name: logs.example}\n      - {transport: udp, address: "
      "127.0.0.4, port: 5514}\n");
  ASSERT_TRUE(c.events.enabled);
  EXPECT_EQ(c.events.spool_bytes, 4096u);
  ASSERT_EQ(c.events.collectors.size(), 3u);
  EXPECT_EQ(c.events.collectors[0].port, 514);
  EXPECT_EQ(c.events.collectors[1].port, 6514);
  EXPECT_EQ(c.events.collectors[1].name, "logs.example");
  EXPECT_EQ(c.events.collectors[2].transport, vnf::CollectorConfig::Transport::kUdp);
  EXPECT_FALSE(engine("engine: {}\n").events.enabled);

  expect_config_error(
      [] { engine("engine:\n  events:\n    collectors:\n      - {address: 127.0.0.2}\n"); }, 4, 19,
      "management address", "a.yaml");
  expect_config_error(
      [] { engine("engine:\n  management: {address: 127.0.0.1}\n  events:\n    colectors: []\n"); },
      4, 5, "colectors");
  expect_config_error(
      [] {
        engine(
            "engine:\n  management: {address: 127.0.0.1}\n  events:\n    collectors:\n      - "
            "{transport: tcp, address: 127.0.0.2, ca: /x}\n");
      },
      5, 50, "for transport: tls");
  expect_config_error(
      [] {
        engine(
            "engine:\n  management: {address: 127.0.0.1}\n  events:\n    collectors:\n      - "
            "{transport: tls, address: 127.0.0.2}\n");
      },
      5, 9, "ca");
  expect_config_error(
      [] {
        engine(
            "engine:\n  management: {address: 127.0.0.1}\n  events:\n    collectors:\n      - "
            "{transport: sctp, address: 127.0.0.2}\n");
      },
      5, 21, "tcp, tls or udp");
  expect_config_error(
      [] {
        engine(
            "engine:\n  management: {address: 127.0.0.1}\n  events:\n    collectors:\n      - "
            "{address: 'fd00::1'}\n");
      },
      5, 19, "address family");
}
