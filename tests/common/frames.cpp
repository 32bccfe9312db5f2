#include "tests/common/frames.h"

#include <arpa/inet.h>

#include <cstdio>
#include <stdexcept>

namespace testing_frames {

namespace {
void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
uint16_t csum(const uint8_t* d, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(d[i] << 8 | d[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(d[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}
}  // namespace

Mac mac(const std::string& s) {
  Mac m{};
  unsigned v[6];
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
    throw std::invalid_argument(s);
  for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(v[i]);
  return m;
}

std::string mac_str(const uint8_t* m) {
  char b[18];
  std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return b;
}

Bytes eth(const Mac& dst, const Mac& src, std::initializer_list<Tag> tags, uint16_t type) {
  Bytes b(dst.begin(), dst.end());
  b.insert(b.end(), src.begin(), src.end());
  for (const Tag& t : tags) {
    put16(b, t.tpid);
    put16(b, t.tci);
  }
  put16(b, type);
  return b;
}

Bytes ipv4(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& l4, uint8_t ttl,
           const Bytes& options, uint16_t frag) {
  const size_t hl = 20 + options.size();
  Bytes b;
  b.push_back(static_cast<uint8_t>(0x40 | (hl / 4)));
  b.push_back(0);
  put16(b, static_cast<uint16_t>(hl + l4.size()));
  put16(b, 0x1234);
  put16(b, frag);
  b.push_back(ttl);
  b.push_back(proto);
  put16(b, 0);
  put32(b, src);
  put32(b, dst);
  b.insert(b.end(), options.begin(), options.end());
  const uint16_t c = csum(b.data(), hl);
  b[10] = static_cast<uint8_t>(c >> 8);
  b[11] = static_cast<uint8_t>(c);
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

Bytes ipv6(const std::array<uint8_t, 16>& src, const std::array<uint8_t, 16>& dst, uint8_t next,
           const Bytes& payload, uint8_t hop_limit) {
  Bytes b{0x60, 0, 0, 0};
  put16(b, static_cast<uint16_t>(payload.size()));
  b.push_back(next);
  b.push_back(hop_limit);
  b.insert(b.end(), src.begin(), src.end());
  b.insert(b.end(), dst.begin(), dst.end());
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes ipv6_ext(uint8_t next, uint8_t len_units, uint8_t fill) {
  Bytes b{next, len_units};
  b.resize(8u * (len_units + 1u), fill);
  return b;
}

Bytes ipv6_frag(uint8_t next, uint16_t offset_units, bool more, uint32_t id) {
  Bytes b{next, 0};
  put16(b, static_cast<uint16_t>(offset_units << 3 | (more ? 1 : 0)));
  put32(b, id);
  return b;
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(8 + payload.size()));
  put16(b, 0);  // checksum optional over IPv4
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
          uint8_t data_offset_words, const Bytes& payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, seq);
  put32(b, ack);
  b.push_back(static_cast<uint8_t>(data_offset_words << 4));
  b.push_back(flags);
  put16(b, 65535);
  put16(b, 0);
  put16(b, 0);
  if (data_offset_words > 5) b.resize(b.size() + (data_offset_words - 5u) * 4u, 1);  // NOP options
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes icmp_echo(uint16_t id, uint16_t seq, bool reply, const Bytes& data) {
  Bytes b{static_cast<uint8_t>(reply ? 0 : 8), 0, 0, 0};
  put16(b, id);
  put16(b, seq);
  b.insert(b.end(), data.begin(), data.end());
  const uint16_t c = csum(b.data(), b.size());
  b[2] = static_cast<uint8_t>(c >> 8);
  b[3] = static_cast<uint8_t>(c);
  return b;
}

Bytes icmp6_echo(uint16_t id, uint16_t seq) {
  Bytes b{128, 0, 0, 0};
  put16(b, id);
  put16(b, seq);
  return b;
}

Bytes arp_request(const Mac& sha, uint32_t spa, uint32_t tpa) {
  Bytes b;
  put16(b, 1);
  put16(b, 0x0800);
  b.push_back(6);
  b.push_back(4);
  put16(b, 1);
  b.insert(b.end(), sha.begin(), sha.end());
  put32(b, spa);
  b.insert(b.end(), 6, 0);
  put32(b, tpa);
  return b;
}

uint32_t ip4(const std::string& dotted) {
  in_addr a{};
  if (inet_pton(AF_INET, dotted.c_str(), &a) != 1) throw std::invalid_argument(dotted);
  return ntohl(a.s_addr);
}

std::array<uint8_t, 16> ip6(const std::string& text) {
  std::array<uint8_t, 16> a{};
  if (inet_pton(AF_INET6, text.c_str(), a.data()) != 1) throw std::invalid_argument(text);
  return a;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes b;
  for (const auto& p : parts) b.insert(b.end(), p.begin(), p.end());
  return b;
}

void fix_ipv4_checksum(Bytes& f, size_t off) {
  f[off + 10] = f[off + 11] = 0;
  const size_t hl = (f[off] & 0x0F) * 4u;
  const uint16_t c = csum(f.data() + off, hl);
  f[off + 10] = static_cast<uint8_t>(c >> 8);
  f[off + 11] = static_cast<uint8_t>(c);
}

Bytes udp4_frame(const Mac& dst, const Mac& src, std::initializer_list<Tag> tags,
                 uint16_t payload_len) {
  return cat({eth(dst, src, tags, 0x0800), ipv4(ip4("10.0.0.1"), ip4("10.0.0.2"), 17,
                                                udp(1000, 2000, Bytes(payload_len, 0xAB)))});
}

}  // namespace testing_frames
