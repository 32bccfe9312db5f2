// Packet capture (vnfctl trace), the control side: one trace at a time per appliance.
//
//   vnfctl -i demo trace start --point rx,drop --port vm1 --count 100 icmp and host 10.0.0.2
//   vnfctl -i demo trace status
//   vnfctl -i demo trace stop
//
// start compiles the filter (libpcap -> classic BPF -> rte_bpf_convert -> eBPF, JIT when the
// CPU has one), makes the session's pool and one ring per worker, starts the writer thread and
// publishes the session to the workers (common/capture.h). The writer thread turns what the
// workers copied into pcapng (common/pcapng.h): one interface per port and capture point
// ("vm1/rx", "vm1/tx", "vm1/drop"), drop reasons as packet comments. Output goes to
// <trace dir>/NAME.pcapng, to NAME-00001.pcapng, NAME-00002.pcapng... when rotating by size
// or time (oldest removed by count, age and total size), or to the named pipe NAME.pipe that
// `vnfctl trace start --live` reads (for `| tshark -r -`).
//
// The trace ends on stop, on its packet count or duration, when the pipe's reader goes away
// or when a write fails; the control loop's tick() notices the last three.
//
// Threads: start, stop and tick run on the control thread (vnfctl's "trace" verb is handed
// to it); status() also runs on the telemetry thread, under mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/capture.h"
#include "common/capture_request.h"

namespace vnf {

class Engine;

class CaptureWriter;

// Compiles a tcpdump expression the way the workers run it: libpcap (link type Ethernet) ->
// classic BPF -> rte_bpf_convert -> eBPF, JIT-compiled where the CPU allows (jit null: run
// with rte_bpf_exec). Returns "" or libpcap's or DPDK's reason. Free bpf with
// rte_bpf_destroy.
std::string compile_capture_filter(const std::string& expr, uint32_t snaplen, rte_bpf*& bpf,
                                   uint64_t (*&jit)(void*));

class CaptureManager {
 public:
  // `dir`: where traces are written (created 0750 on the first start).
  CaptureManager(Engine& engine, std::string dir, std::string appliance, std::string program);
  ~CaptureManager();
  CaptureManager(const CaptureManager&) = delete;
  CaptureManager& operator=(const CaptureManager&) = delete;

  // Control thread. The vnfctl "trace" verb: "start PARAMS", "stop", "status". Answers JSON.
  std::string command(const std::string& param, const std::string& who);
  // Control thread: ends a trace whose count, duration, reader or file is done.
  void tick(uint64_t now_ms);
  // Any thread: the trace's state as JSON (also /vnf/trace).
  std::string status() const;
  void register_telemetry();
  bool running() const { return session_ != nullptr; }

 private:
  std::string start(const TraceRequest& r, const std::string& who);
  std::string stop(const std::string& why);
  std::string status_locked() const;
  struct Field {
    const char* key;
    std::string text;
    uint64_t number;
    bool is_text;
  };
  std::vector<Field> fields_locked() const;

  Engine& engine_;
  const std::string dir_;
  const std::string appliance_;
  const std::string program_;
  mutable std::mutex mu_;  // session_, writer_ and the last trace's summary, for status()
  CaptureSession* session_ = nullptr;
  std::unique_ptr<CaptureWriter> writer_;
  TraceRequest req_;
  uint64_t started_ms_ = 0;
  std::string started_, stopped_, end_reason_, output_;
  bool jit_ = false;
  uint64_t seq_ = 0;  // names of pools and rings
  // The last trace's totals, kept after stop for status().
  uint64_t last_seen_ = 0, last_matched_ = 0, last_ring_full_ = 0, last_no_mbuf_ = 0;
  uint64_t last_written_ = 0, last_bytes_ = 0;
  std::vector<std::string> last_files_;
};

}  // namespace vnf
