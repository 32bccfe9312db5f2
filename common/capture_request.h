// A trace request (vnfctl trace start) as the control socket carries it, and the naming and
// retention of trace files: pure logic, unit tested (tests/unit/capture_test.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/capture.h"

namespace vnf {

inline constexpr uint32_t kMaxTraceSnaplen = 9216;
// A trace's pool comes out of the appliance's own memory (engine.memory_mb): at most this.
inline constexpr uint64_t kMaxTracePoolBytes = 64ull << 20;
// The writer ends a trace when its directory's file system has less free than this (the
// state directory beside it keeps the config versions).
inline constexpr uint64_t kMinTraceFreeBytes = 256ull << 20;
inline constexpr std::string_view kCapturePointNames[kCapturePoints] = {"rx", "tx", "drop",
                                                                        "verdict"};
std::string capture_points_text(uint8_t points);          // "rx,drop"
bool parse_trace_u64(std::string_view v, uint64_t& out);  // decimal digits only

struct TraceRequest {
  uint8_t points = capture_bit(CapturePoint::kRx) | capture_bit(CapturePoint::kTx) |
                   capture_bit(CapturePoint::kDrop);
  std::vector<std::string> ports;  // empty: every port
  std::string filter;              // tcpdump expression; empty: every packet
  uint32_t snaplen = 9216;         // 64..9216
  uint64_t count = 0;              // packets written; 0: no limit
  uint64_t duration_s = 0;         // 0: no limit
  std::string name;                // output name; empty: trace-<time>
  bool pipe = false;
  uint64_t rotate_bytes = 0, rotate_s = 0;              // 0: no rotation by that
  uint64_t keep_files = 0, keep_s = 0, keep_bytes = 0;  // retention (rotating only); 0: no limit
  uint32_t ring = 1024;  // packets per worker ring (power of two, 64..65536)
};

// Parses "key=value key=value ... filter=EXPRESSION" (filter takes the rest of the line).
// Returns "" or what is wrong.
std::string parse_trace_request(std::string_view text, TraceRequest& out);

// The writer thread's output files: names for the Nth file, and which to remove for retention.
std::string trace_file_name(const std::string& name, bool rotating, uint64_t seq);
struct TraceFile {
  std::string path;
  uint64_t seq = 0;
  uint64_t bytes = 0;
  int64_t mtime_s = 0;
};
// Which of `files` (sorted by seq, the newest last and still being written) retention removes.
std::vector<std::string> trace_retention(const std::vector<TraceFile>& files, const TraceRequest& r,
                                         int64_t now_s);

}  // namespace vnf
