// FTP control channel parsing for the FTP helper: the client's PORT / EPRT commands
// (active mode) and the server's 227 / 229 replies to PASV / EPSV (passive mode). Pure,
// bounded, allocation-free functions on the bytes of one TCP segment; anything malformed
// yields nothing (kNone), never a partial result.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vfirewall {

enum class FtpKind : uint8_t { kNone, kPort, kEprt, kPasv227, kEpsv229 };

struct FtpEndpoint {
  FtpKind kind = FtpKind::kNone;
  uint8_t family = 0;     // 4 or 6; 0 for a 229 reply (no address: the server's own)
  uint8_t addr[16] = {};  // IPv4 in the first 4 bytes, network order
  uint16_t port = 0;
};

namespace ftp_detail {

inline bool is_digit(uint8_t c) noexcept { return c >= '0' && c <= '9'; }
inline uint8_t upper(uint8_t c) noexcept { return c >= 'a' && c <= 'z' ? c - 32 : c; }

inline bool starts_with_ci(const uint8_t* p, size_t n, const char* w) noexcept {
  size_t i = 0;
  for (; w[i]; ++i)
    if (i >= n || upper(p[i]) != static_cast<uint8_t>(w[i])) return false;
  return true;
}

// Decimal number <= max at p[i..], advancing i. At most 5 digits.
inline bool number(const uint8_t* p, size_t n, size_t& i, uint32_t max, uint32_t& out) noexcept {
  size_t digits = 0;
  uint32_t v = 0;
  while (i < n && is_digit(p[i])) {
    if (++digits > 5) return false;
    v = v * 10 + (p[i] - '0');
    ++i;
  }
  if (digits == 0 || v > max) return false;
  out = v;
  return true;
}

// "h1,h2,h3,h4,p1,p2" at p[i..].
inline bool six_numbers(const uint8_t* p, size_t n, size_t i, FtpEndpoint& e) noexcept {
  uint32_t v[6];
  for (int k = 0; k < 6; ++k) {
    if (k > 0) {
      if (i >= n || p[i] != ',') return false;
      ++i;
    }
    if (!number(p, n, i, 255, v[k])) return false;
  }
  e.family = 4;
  for (int k = 0; k < 4; ++k) e.addr[k] = static_cast<uint8_t>(v[k]);
  e.port = static_cast<uint16_t>(v[4] << 8 | v[5]);
  return true;
}

inline int hex(uint8_t c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Dotted IPv4 in p[b, e).
inline bool parse_ip4(const uint8_t* p, size_t b, size_t e, uint8_t out[4]) noexcept {
  size_t i = b;
  for (int k = 0; k < 4; ++k) {
    if (k > 0) {
      if (i >= e || p[i] != '.') return false;
      ++i;
    }
    uint32_t v;
    if (!number(p, e, i, 255, v)) return false;
    out[k] = static_cast<uint8_t>(v);
  }
  return i == e;
}

// Textual IPv6 (RFC 4291 hex groups with at most one "::"; no embedded IPv4) in p[b, e).
inline bool parse_ip6(const uint8_t* p, size_t b, size_t e, uint8_t out[16]) noexcept {
  uint16_t head[8], tail[8];
  int nh = 0, nt = 0;
  bool gap = false;
  size_t i = b;
  if (e - b < 2 || e - b > 39) return false;
  if (p[i] == ':') {
    if (p[i + 1] != ':') return false;
    gap = true;
    i += 2;
  }
  while (i < e) {
    int digits = 0;
    uint32_t v = 0;
    while (i < e && hex(p[i]) >= 0) {
      if (++digits > 4) return false;
      v = v << 4 | static_cast<uint32_t>(hex(p[i]));
      ++i;
    }
    if (digits == 0) return false;
    if (gap) {
      if (nt >= 8) return false;
      tail[nt++] = static_cast<uint16_t>(v);
    } else {
      if (nh >= 8) return false;
      head[nh++] = static_cast<uint16_t>(v);
    }
    if (i == e) break;
    if (p[i] != ':') return false;
    ++i;
    if (i < e && p[i] == ':') {
      if (gap) return false;  // a second "::"
      gap = true;
      ++i;
    } else if (i == e) {
      return false;  // trailing single ':'
    }
  }
  if (gap ? nh + nt > 7 : nh != 8) return false;
  uint16_t g[8] = {};
  for (int k = 0; k < nh; ++k) g[k] = head[k];
  for (int k = 0; k < nt; ++k) g[8 - nt + k] = tail[k];
  for (int k = 0; k < 8; ++k) {
    out[2 * k] = static_cast<uint8_t>(g[k] >> 8);
    out[2 * k + 1] = static_cast<uint8_t>(g[k]);
  }
  return true;
}

// RFC 2428 "<d>net-prt<d>net-addr<d>tcp-port<d>" at p[i..]; allow_empty: 229's "|||port|".
inline bool extended(const uint8_t* p, size_t n, size_t i, bool allow_empty,
                     FtpEndpoint& e) noexcept {
  if (i >= n) return false;
  const uint8_t d = p[i];
  if (d < 33 || d > 126 || is_digit(d)) return false;
  ++i;
  // net-prt
  size_t b = i;
  while (i < n && p[i] != d) ++i;
  if (i >= n) return false;
  uint8_t family = 0;
  if (i - b == 1 && p[b] == '1') {
    family = 4;
  } else if (i - b == 1 && p[b] == '2') {
    family = 6;
  } else if (!(allow_empty && i == b)) {
    return false;
  }
  ++i;
  b = i;  // net-addr
  while (i < n && p[i] != d) ++i;
  if (i >= n) return false;
  const size_t ae = i;
  if (ae == b) {
    if (!allow_empty || family != 0) return false;
  } else {
    if (allow_empty) return false;  // 229 carries no address
    if (family == 4 && !parse_ip4(p, b, ae, e.addr)) return false;
    if (family == 6 && !parse_ip6(p, b, ae, e.addr)) return false;
    if (family == 0) return false;
  }
  ++i;
  uint32_t port;
  if (!number(p, n, i, 65535, port) || port == 0) return false;
  if (i >= n || p[i] != d) return false;
  e.family = family;
  e.port = static_cast<uint16_t>(port);
  return true;
}

}  // namespace ftp_detail

// Client -> server: "PORT h1,h2,h3,h4,p1,p2" or "EPRT |1|addr|port|" / "EPRT |2|addr|port|".
inline FtpEndpoint ftp_parse_command(const uint8_t* p, size_t n) noexcept {
  using namespace ftp_detail;
  FtpEndpoint e;
  if (n > 512) n = 512;  // a command line is short; never scan a whole segment
  if (starts_with_ci(p, n, "PORT ")) {
    size_t i = 5;
    while (i < n && p[i] == ' ') ++i;
    FtpEndpoint t;
    if (six_numbers(p, n, i, t)) {
      t.kind = FtpKind::kPort;
      e = t;
    }
  } else if (starts_with_ci(p, n, "EPRT ")) {
    size_t i = 5;
    while (i < n && p[i] == ' ') ++i;
    FtpEndpoint t;
    if (extended(p, n, i, false, t)) {
      t.kind = FtpKind::kEprt;
      e = t;
    }
  }
  return e;
}

// Server -> client: "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)" and
// "229 Entering Extended Passive Mode (|||port|)".
inline FtpEndpoint ftp_parse_reply(const uint8_t* p, size_t n) noexcept {
  using namespace ftp_detail;
  FtpEndpoint e;
  if (n > 512) n = 512;
  if (n < 4 || p[3] != ' ') return e;
  if (p[0] == '2' && p[1] == '2' && p[2] == '7') {
    // The numbers follow the text; RFC 1123 says to scan for the first digit.
    for (size_t i = 4; i < n && p[i] != '\r' && p[i] != '\n'; ++i) {
      if (is_digit(p[i])) {
        FtpEndpoint t;
        if (six_numbers(p, n, i, t)) {
          t.kind = FtpKind::kPasv227;
          e = t;
        }
        break;
      }
    }
  } else if (p[0] == '2' && p[1] == '2' && p[2] == '9') {
    for (size_t i = 4; i < n && p[i] != '\r' && p[i] != '\n'; ++i) {
      if (p[i] == '(') {
        FtpEndpoint t;
        if (extended(p, n, i + 1, true, t)) {
          t.kind = FtpKind::kEpsv229;
          e = t;
        }
        break;
      }
    }
  }
  return e;
}

}  // namespace vfirewall
