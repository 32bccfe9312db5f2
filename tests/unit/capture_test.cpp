// vnfctl trace: the request the control socket carries, file naming and retention, and the
// pcapng writer read back by libpcap.
#include <fcntl.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/capture_request.h"
#include "common/pcapng.h"

namespace vnf {
namespace {

TEST(TraceRequest, Defaults) {
  TraceRequest r;
  ASSERT_EQ(parse_trace_request("", r), "");
  EXPECT_EQ(capture_points_text(r.points), "rx,tx,drop");
  EXPECT_TRUE(r.ports.empty());
  EXPECT_EQ(r.filter, "");
  EXPECT_EQ(r.snaplen, 9216u);
  EXPECT_EQ(r.ring, 1024u);
  EXPECT_FALSE(r.pipe);
}

TEST(TraceRequest, EveryKey) {
  TraceRequest r;
  ASSERT_EQ(parse_trace_request("points=drop,rx ports=vm1,up snaplen=128 count=10 duration=5 "
                                "name=t-1.x rotate_bytes=65536 rotate_seconds=60 keep_files=3 "
                                "keep_seconds=3600 keep_bytes=1048576 ring=256 "
                                "filter=icmp and host 10.0.0.1  ",
                                r),
            "");
  EXPECT_EQ(capture_points_text(r.points), "rx,drop");
  TraceRequest v;
  ASSERT_EQ(parse_trace_request("points=verdict,tx", v), "");
  EXPECT_EQ(capture_points_text(v.points), "tx,verdict");
  EXPECT_EQ(r.ports, (std::vector<std::string>{"vm1", "up"}));
  EXPECT_EQ(r.snaplen, 128u);
  EXPECT_EQ(r.count, 10u);
  EXPECT_EQ(r.duration_s, 5u);
  EXPECT_EQ(r.name, "t-1.x");
  EXPECT_EQ(r.rotate_bytes, 65536u);
  EXPECT_EQ(r.rotate_s, 60u);
  EXPECT_EQ(r.keep_files, 3u);
  EXPECT_EQ(r.keep_s, 3600u);
  EXPECT_EQ(r.keep_bytes, 1048576u);
  EXPECT_EQ(r.ring, 256u);
  EXPECT_EQ(r.filter, "icmp and host 10.0.0.1");  // the rest of the line, spaces kept inside
}

TEST(TraceRequest, Refusals) {
  const std::pair<const char*, const char*> bad[] = {
      {"points=rx,bogus", "points: 'bogus' is none of rx, tx, drop, verdict"},
      {"points=", "points: '' is none of rx, tx, drop, verdict"},
      {"ports=a,,b", "ports: an empty port name"},
      {"snaplen=63", "snaplen: '63' is not a number from 64 to 9216"},
      {"snaplen=9217", "snaplen: '9217' is not a number from 64 to 9216"},
      {"count=0", "count: '0' is not a number from 1 to"},
      {"count=-1", "count: '-1' is not a number"},
      {"count=1e3", "count: '1e3' is not a number"},
      {"name=../x", "name: '../x': 1-64 of A-Z a-z 0-9 . _ -"},
      {"name=.hidden", "name: '.hidden'"},
      {"name=a/b", "name: 'a/b'"},
      {"ring=100", "ring: a power of two from 64 to 65536"},
      {"ring=32", "ring: '32' is not a number from 64 to 65536"},
      {"pipe=yes", "pipe: 0 or 1"},
      {"pipe=1 rotate_bytes=65536", "a pipe does not rotate"},
      {"keep_files=3", "keep_files/keep_seconds/keep_bytes need rotation"},
      {"rotate_bytes=100", "rotate_bytes: '100' is not a number from 4096"},
      {"colour=red", "unknown key 'colour'"},
      {"icmp", "'icmp': expected key=value"},
  };
  for (const auto& [text, want] : bad) {
    TraceRequest r;
    const std::string err = parse_trace_request(text, r);
    EXPECT_EQ(err.rfind(want, 0), 0u) << text << " -> " << err;
  }
}

TEST(TraceFiles, NamesAndRetention) {
  EXPECT_EQ(trace_file_name("t", false, 1), "t.pcapng");
  EXPECT_EQ(trace_file_name("t", true, 7), "t-00007.pcapng");
  std::vector<TraceFile> f;
  for (uint64_t i = 1; i <= 5; ++i)
    f.push_back(TraceFile{"t-" + std::to_string(i), i, 1000, static_cast<int64_t>(i * 100)});
  TraceRequest r;
  r.keep_files = 3;
  EXPECT_EQ(trace_retention(f, r, 600), (std::vector<std::string>{"t-1", "t-2"}));
  r = TraceRequest{};
  r.keep_bytes = 2500;  // the newest two fit
  EXPECT_EQ(trace_retention(f, r, 600), (std::vector<std::string>{"t-1", "t-2", "t-3"}));
  r = TraceRequest{};
  r.keep_s = 250;  // mtimes 100..500 at 600: older than 250 s are 1, 2, 3
  EXPECT_EQ(trace_retention(f, r, 600), (std::vector<std::string>{"t-1", "t-2", "t-3"}));
  r.keep_s = 1;  // all old: the file being written stays anyway
  EXPECT_EQ(trace_retention(f, r, 600).size(), 4u);
  r = TraceRequest{};
  EXPECT_TRUE(trace_retention(f, r, 600).empty());  // no limit
}

TEST(Pcapng, LibpcapReadsWhatWeWrite) {
  char path[] = "/tmp/vnf-pcapng-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  PcapngWriter w(fd);
  ASSERT_TRUE(w.section("vnf test", "a comment"));
  EXPECT_EQ(w.interface("vm1/rx", "received", 9216), 0u);
  EXPECT_EQ(w.interface("vm1/drop", "dropped", 9216), 1u);  // libpcap wants one snaplen
  std::vector<uint8_t> frame(100);
  for (size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<uint8_t>(i);
  const uint64_t ts = 1700000000123456789ull;
  ASSERT_TRUE(w.packet(0, ts, frame.data(), 100, 100, PcapngWriter::Direction::kIn, ""));
  // A cut copy (63 bytes: padding), with a comment.
  ASSERT_TRUE(
      w.packet(1, ts + 1000, frame.data(), 63, 100, PcapngWriter::Direction::kIn, "drop: x"));
  ASSERT_TRUE(w.statistics(0, ts + 2000, 1, 0));
  ::close(fd);
  EXPECT_EQ(w.bytes() % 4, 0u);

  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
  ASSERT_NE(p, nullptr) << err;
  EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  ASSERT_EQ(pcap_next_ex(p, &h, &data), 1) << pcap_geterr(p);
  EXPECT_EQ(h->caplen, 100u);
  EXPECT_EQ(h->len, 100u);
  EXPECT_EQ(static_cast<uint64_t>(h->ts.tv_sec), ts / 1000000000);
  EXPECT_EQ(static_cast<uint64_t>(h->ts.tv_usec), ts % 1000000000);  // nanoseconds here
  EXPECT_EQ(std::vector<uint8_t>(data, data + 100), frame);
  ASSERT_EQ(pcap_next_ex(p, &h, &data), 1) << pcap_geterr(p);
  EXPECT_EQ(h->caplen, 63u);
  EXPECT_EQ(h->len, 100u);
  EXPECT_EQ(std::vector<uint8_t>(data, data + 63),
            std::vector<uint8_t>(frame.begin(), frame.begin() + 63));
  EXPECT_EQ(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK)  // the statistics block is no packet
      << pcap_geterr(p);
  pcap_close(p);
  std::remove(path);
}

TEST(Pcapng, AWriteFailureIsReported) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);  // nobody reads: EPIPE (SIGPIPE is ignored by the programs, and here)
  signal(SIGPIPE, SIG_IGN);
  PcapngWriter w(fds[1]);
  EXPECT_FALSE(w.section("vnf test", ""));
  EXPECT_NE(w.error(), "");
  ::close(fds[1]);
}

}  // namespace
}  // namespace vnf
