// Frames and checks shared by the router's dataplane tests: the test topology, ARP and ND
// frames of the hosts, and an independent checksum to verify what the router sends.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tests/common/frames.h"
#include "vrouter/dp/packet_ops.h"

namespace rtest {

using namespace testing_frames;

// lan1 (p1), lan2 (p2, MTU 1400), up (p3), VLANs 100 and 200 on `trunk`.
inline const char* kRouter = R"(engine: {name: dprt}
ports:
  - {name: p1, type: ring}
  - {name: p2, type: ring}
  - {name: p3, type: ring}
  - {name: trunk, type: ring}
interfaces:
  - {name: lan1, port: p1, mac: "02:00:00:00:01:01", ipv4: [10.1.0.1/24], ipv6: ["2001:db8:1::1/64"]}
  - {name: lan2, port: p2, mac: "02:00:00:00:02:01", ipv4: [10.2.0.1/24], ipv6: ["2001:db8:2::1/64"], mtu: 1400}
  - {name: up, port: p3, mac: "02:00:00:00:03:01", ipv4: [10.3.0.1/24], ipv6: ["2001:db8:3::1/64"]}
  - {name: v100, port: trunk, vlan: 100, mac: "02:00:00:00:64:01", ipv4: [10.100.0.1/24]}
  - {name: v200, port: trunk, vlan: 200, mac: "02:00:00:00:c8:01", ipv4: [10.200.0.1/24]}
neighbors:
  probe_interval: 100ms
  probe_misses: 2
  hold_packets: 3
  static:
    - {interface: lan1, ip: 10.1.0.2, mac: "02:00:00:00:01:02"}
    - {interface: lan1, ip: "2001:db8:1::2", mac: "02:00:00:00:01:02"}
    - {interface: lan2, ip: 10.2.0.2, mac: "02:00:00:00:02:02"}
    - {interface: lan2, ip: "2001:db8:2::2", mac: "02:00:00:00:02:02"}
    - {interface: v100, ip: 10.100.0.2, mac: "02:00:00:00:64:02"}
    - {interface: v200, ip: 10.200.0.2, mac: "02:00:00:00:c8:02"}
icmp: {rate: 1000, burst: 100}
)";

inline const Mac kR1 = mac("02:00:00:00:01:01");  // router, lan1
inline const Mac kR2 = mac("02:00:00:00:02:01");  // router, lan2
inline const Mac kR3 = mac("02:00:00:00:03:01");  // router, up
inline const Mac kR100 = mac("02:00:00:00:64:01");
inline const Mac kR200 = mac("02:00:00:00:c8:01");
inline const Mac kH1 = mac("02:00:00:00:01:02");  // host on lan1 (10.1.0.2)
inline const Mac kH2 = mac("02:00:00:00:02:02");  // host on lan2 (10.2.0.2)
inline const Mac kH100 = mac("02:00:00:00:64:02");
inline const Mac kH200 = mac("02:00:00:00:c8:02");

using Out = std::map<std::string, std::vector<Bytes>>;

inline Bytes addr6(const std::string& text) {
  const auto a = ip6(text);
  return Bytes(a.begin(), a.end());
}

inline std::string dump(const Out& out) {
  std::string s;
  for (const auto& [port, frames] : out) s += port + ":" + std::to_string(frames.size()) + " ";
  return s.empty() ? "(nothing)" : s;
}

inline Bytes udp4(const Mac& dst, const Mac& src, const std::string& from, const std::string& to,
                  uint8_t ttl = 64, size_t payload = 18, uint16_t sport = 1000) {
  return cat({eth(dst, src, {}, 0x0800),
              ipv4(ip4(from), ip4(to), 17, udp(sport, 2000, Bytes(payload, 0xAB)), ttl)});
}

inline Bytes udp6(const Mac& dst, const Mac& src, const std::string& from, const std::string& to,
                  uint8_t hlim = 64, size_t payload = 18) {
  return cat({eth(dst, src, {}, 0x86DD),
              ipv6(ip6(from), ip6(to), 17, udp(1000, 2000, Bytes(payload, 0xCD)), hlim)});
}

inline Bytes arp_reply(const Mac& sha, const std::string& spa, const Mac& tha,
                       const std::string& tpa) {
  Bytes b = eth(tha, sha, {}, 0x0806);
  const Bytes hdr{0, 1, 8, 0, 6, 4, 0, 2};
  b.insert(b.end(), hdr.begin(), hdr.end());
  b.insert(b.end(), sha.begin(), sha.end());
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(ip4(spa) >> s));
  b.insert(b.end(), tha.begin(), tha.end());
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(ip4(tpa) >> s));
  return b;
}

inline Bytes arp_request_frame(const Mac& sha, const std::string& spa, const std::string& tpa) {
  return cat({eth(kBroadcast, sha, {}, 0x0806), arp_request(sha, ip4(spa), ip4(tpa))});
}

// RFC 1071 over big-endian words: 0 when the data, checksum included, is right.
inline uint16_t verify_sum(const uint8_t* d, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(d[i] << 8 | d[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(d[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

inline uint16_t verify_icmp6(const uint8_t* ip6, uint32_t len) {
  Bytes pseudo(ip6 + 8, ip6 + 40);
  pseudo.insert(pseudo.end(),
                {static_cast<uint8_t>(len >> 24), static_cast<uint8_t>(len >> 16),
                 static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len), 0, 0, 0, 58});
  pseudo.insert(pseudo.end(), ip6 + 40, ip6 + 40 + len);
  return verify_sum(pseudo.data(), pseudo.size());
}

// A neighbour advertisement from a host (solicited, override), valid checksum.
inline Bytes na_frame(const Mac& host, const Mac& to_mac, const std::string& host_ip,
                      const std::string& to_ip) {
  uint8_t f[128];
  const auto t = ip6(host_ip), d = ip6(to_ip);
  const uint16_t len =
      vrouter::ops::build_na(f, host.data(), to_mac.data(), d.data(), t.data(),
                             vrouter::ops::kNaSolicited | vrouter::ops::kNaOverride);
  return Bytes(f, f + len);
}

// A neighbour solicitation from a host for `target` (to the solicited-node group).
inline Bytes ns_frame(const Mac& host, const std::string& host_ip, const std::string& target) {
  uint8_t f[128];
  const auto s = ip6(host_ip), t = ip6(target);
  const uint16_t len = vrouter::ops::build_ns(f, host.data(), s.data(), t.data(), nullptr);
  return Bytes(f, f + len);
}

// The checks of an ICMPv4 error the router sent: returns the quoted original.
inline Bytes check_icmp4_error(const Bytes& f, const Mac& to, const Mac& from,
                               const std::string& src, const std::string& dst, uint8_t type,
                               uint8_t code) {
  EXPECT_EQ(Bytes(f.begin(), f.begin() + 6), Bytes(to.begin(), to.end()));
  EXPECT_EQ(Bytes(f.begin() + 6, f.begin() + 12), Bytes(from.begin(), from.end()));
  const uint8_t* ip = f.data() + 14;
  EXPECT_EQ(verify_sum(ip, 20), 0) << "IPv4 header checksum";
  EXPECT_EQ(vrouter::ops::rd32(ip + 12), ip4(src));
  EXPECT_EQ(vrouter::ops::rd32(ip + 16), ip4(dst));
  EXPECT_EQ(ip[9], 1);
  const uint16_t total = vrouter::ops::rd16(ip + 2);
  EXPECT_EQ(total + 14u, f.size());
  EXPECT_EQ(ip[20], type);
  EXPECT_EQ(ip[21], code);
  EXPECT_EQ(verify_sum(ip + 20, total - 20u), 0) << "ICMP checksum";
  return Bytes(f.begin() + 14 + 28, f.end());
}

}  // namespace rtest
