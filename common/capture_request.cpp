#include "common/capture_request.h"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

namespace vnf {

namespace {

bool valid_trace_name(std::string_view n) {
  if (n.empty() || n.size() > 64 || n[0] == '.' || n[0] == '-') return false;
  return n.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
         std::string_view::npos;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t b = 0;
  for (;;) {
    const size_t e = s.find(sep, b);
    out.emplace_back(s.substr(b, e == std::string_view::npos ? s.npos : e - b));
    if (e == std::string_view::npos) return out;
    b = e + 1;
  }
}

}  // namespace

bool parse_trace_u64(std::string_view v, uint64_t& out) {
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  out = std::stoull(std::string(v));
  return true;
}

std::string capture_points_text(uint8_t points) {
  std::string s;
  for (unsigned p = 0; p < kCapturePoints; ++p)
    if (points & (1u << p)) s += (s.empty() ? "" : ",") + std::string(kCapturePointNames[p]);
  return s;
}

std::string parse_trace_request(std::string_view text, TraceRequest& r) {
  r = TraceRequest{};
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ') {
      ++pos;
      continue;
    }
    size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view tok = text.substr(pos, end - pos);
    const size_t eq = tok.find('=');
    if (eq == std::string_view::npos) return fmt::format("'{}': expected key=value", tok);
    const std::string_view key = tok.substr(0, eq);
    std::string_view val = tok.substr(eq + 1);
    pos = end;
    if (key == "filter") {
      r.filter = std::string(text.substr(pos - val.size()));
      while (!r.filter.empty() && r.filter.back() == ' ') r.filter.pop_back();
      break;
    }
    uint64_t n = 0;
    const bool num = parse_trace_u64(val, n);
    auto need = [&](uint64_t lo, uint64_t hi) -> std::string {
      if (!num || n < lo || n > hi)
        return fmt::format("{}: '{}' is not a number from {} to {}", key, val, lo, hi);
      return "";
    };
    std::string err;
    if (key == "points") {
      r.points = 0;
      for (const auto& p : split(val, ',')) {
        const auto it = std::find(std::begin(kCapturePointNames), std::end(kCapturePointNames), p);
        if (it == std::end(kCapturePointNames))
          return fmt::format("points: '{}' is none of rx, tx, drop, verdict", p);
        r.points |= static_cast<uint8_t>(1u << (it - std::begin(kCapturePointNames)));
      }
    } else if (key == "ports") {
      r.ports = split(val, ',');
      for (const auto& p : r.ports)
        if (p.empty()) return "ports: an empty port name";
    } else if (key == "snaplen") {
      err = need(64, kMaxTraceSnaplen);
      r.snaplen = static_cast<uint32_t>(n);
    } else if (key == "count") {
      err = need(1, 1ull << 40);
      r.count = n;
    } else if (key == "duration") {
      err = need(1, 7 * 86400);
      r.duration_s = n;
    } else if (key == "name") {
      if (!valid_trace_name(val))
        return fmt::format("name: '{}': 1-64 of A-Z a-z 0-9 . _ -, not starting with '.' or '-'",
                           val);
      r.name = std::string(val);
    } else if (key == "pipe") {
      if (val != "0" && val != "1") return "pipe: 0 or 1";
      r.pipe = val == "1";
    } else if (key == "rotate_bytes") {
      err = need(4096, 1ull << 40);
      r.rotate_bytes = n;
    } else if (key == "rotate_seconds") {
      err = need(1, 7 * 86400);
      r.rotate_s = n;
    } else if (key == "keep_files") {
      err = need(1, 100000);
      r.keep_files = n;
    } else if (key == "keep_seconds") {
      err = need(1, 366ull * 86400);
      r.keep_s = n;
    } else if (key == "keep_bytes") {
      err = need(4096, 1ull << 44);
      r.keep_bytes = n;
    } else if (key == "ring") {
      err = need(64, 65536);
      if (err.empty() && (n & (n - 1))) err = "ring: a power of two from 64 to 65536";
      r.ring = static_cast<uint32_t>(n);
    } else {
      return fmt::format("unknown key '{}'", key);
    }
    if (!err.empty()) return err;
  }
  if (!r.points) return "points: none selected";
  const bool rotating = r.rotate_bytes || r.rotate_s;
  if (r.pipe && rotating) return "a pipe does not rotate: rotate_bytes/rotate_seconds with pipe=1";
  if (!rotating && (r.keep_files || r.keep_s || r.keep_bytes))
    return "keep_files/keep_seconds/keep_bytes need rotation (rotate_bytes or rotate_seconds)";
  return "";
}

std::string trace_file_name(const std::string& name, bool rotating, uint64_t seq) {
  return rotating ? fmt::format("{}-{:05}.pcapng", name, seq) : name + ".pcapng";
}

std::vector<std::string> trace_retention(const std::vector<TraceFile>& files, const TraceRequest& r,
                                         int64_t now_s) {
  std::vector<std::string> gone;
  if (files.size() < 2) return gone;  // the file being written stays
  uint64_t total = 0;
  for (const auto& f : files) total += f.bytes;
  size_t left = files.size();
  for (size_t i = 0; i + 1 < files.size(); ++i) {
    const TraceFile& f = files[i];
    const bool too_many = r.keep_files && left > r.keep_files;
    const bool too_big = r.keep_bytes && total > r.keep_bytes;
    const bool too_old = r.keep_s && now_s - f.mtime_s > static_cast<int64_t>(r.keep_s);
    if (!too_many && !too_big && !too_old) break;  // the rest are newer
    gone.push_back(f.path);
    total -= f.bytes;
    --left;
  }
  return gone;
}

}  // namespace vnf
