#include "common/capture_manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <utility>

#include <rte_bpf.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/audit.h"
#include "common/control_socket.h"
#include "common/engine.h"
#include "common/events.h"
#include "common/pcapng.h"
#include "common/telemetry.h"

namespace vnf {

namespace {

uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

// ---- The writer thread

class CaptureWriter {
 public:
  CaptureWriter(CaptureSession& s, unsigned workers, const TraceRequest& r, std::string dir,
                std::string app, std::string appliance, const Engine& engine)
      : s_(s),
        workers_(workers),
        r_(r),
        dir_(std::move(dir)),
        app_(std::move(app)),
        appliance_(std::move(appliance)),
        engine_(engine),
        tsc0_(rte_rdtsc()),
        real0_(realtime_ns()),
        hz_(rte_get_tsc_hz()) {}

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  // After the workers let go of the session: write what the rings hold, then end.
  void finish() {
    stop_.store(true);
    if (r_.pipe) {
      // Blocked in open() waiting for a reader: be that reader for a moment.
      const int fd = ::open(pipe_path().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) {
        if (thread_.joinable()) thread_.join();
        ::close(fd);
      }
    }
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_.load(std::memory_order_acquire); }
  std::string end_reason() const {
    std::lock_guard lock(mu_);
    return end_reason_;
  }
  std::vector<std::string> files() const {
    std::lock_guard lock(mu_);
    return files_;
  }
  uint64_t packets() const { return packets_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  std::string pipe_path() const { return dir_ + "/" + r_.name + ".pipe"; }
  std::string first_path() const {
    return r_.pipe ? pipe_path()
                   : dir_ + "/" + trace_file_name(r_.name, r_.rotate_bytes || r_.rotate_s, 1);
  }

 private:
  void end(std::string why) {
    std::lock_guard lock(mu_);
    if (end_reason_.empty()) end_reason_ = std::move(why);
    done_.store(true, std::memory_order_release);
  }

  bool open_next() {
    const bool rotating = r_.rotate_bytes || r_.rotate_s;
    const std::string path =
        r_.pipe ? pipe_path() : dir_ + "/" + trace_file_name(r_.name, rotating, ++seq_);
    if (r_.pipe) {
      fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);  // waits for the reader
      if (fd_ >= 0) ::fcntl(fd_, F_SETFL, O_NONBLOCK);
    } else {
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    }
    if (fd_ < 0) {
      end(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
      return false;
    }
    {
      std::lock_guard lock(mu_);
      files_.push_back(path);
    }
    out_ = std::make_unique<PcapngWriter>(fd_);
    out_->set_abort(&stop_);
    ifaces_.clear();
    opened_ms_ = steady_ms();
    if (!out_->section(app_, fmt::format("{}: vnfctl trace {}", appliance_, r_.name))) {
      end(fmt::format("write to {} failed: {}", path, out_->error()));
      return false;
    }
    return true;
  }

  void close_current() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    out_.reset();
  }

  void retain() {
    if (!(r_.keep_files || r_.keep_s || r_.keep_bytes)) return;
    std::vector<TraceFile> files;
    DIR* d = ::opendir(dir_.c_str());
    if (!d) return;
    const std::string prefix = r_.name + "-";
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() != prefix.size() + 12 || n.compare(0, prefix.size(), prefix) != 0 ||
          n.compare(n.size() - 7, 7, ".pcapng") != 0)
        continue;
      uint64_t seq = 0;
      if (!parse_trace_u64(std::string_view(n).substr(prefix.size(), 5), seq)) continue;
      struct stat st {};
      const std::string path = dir_ + "/" + n;
      if (::stat(path.c_str(), &st) != 0) continue;
      files.push_back(TraceFile{path, seq, static_cast<uint64_t>(st.st_size), st.st_mtime});
    }
    ::closedir(d);
    std::sort(files.begin(), files.end(),
              [](const TraceFile& a, const TraceFile& b) { return a.seq < b.seq; });
    for (const auto& path : trace_retention(files, r_, static_cast<int64_t>(::time(nullptr)))) {
      if (::unlink(path.c_str()) == 0) {
        removed_.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("trace {}: removed {} (retention)", r_.name, path);
      }
    }
  }

  uint32_t iface(uint16_t port, uint8_t point) {
    const auto key = std::make_pair(port, point);
    if (auto it = ifaces_.find(key); it != ifaces_.end()) return it->second;
    std::string name = fmt::format("port{}", port);
    {
      std::lock_guard lock(engine_.ports_mutex());
      if (const PortState* p = engine_.port_by_id(port)) name = p->device.name;
    }
    static constexpr std::string_view kWhat[kCapturePoints] = {
        "received", "sent", "dropped", "connections decided by firewall rules"};
    const uint32_t id =
        out_->interface(fmt::format("{}/{}", name, kCapturePointNames[point % kCapturePoints]),
                        fmt::format("{} port {} (DPDK port {}): {}", appliance_, name, port,
                                    kWhat[point % kCapturePoints]),
                        s_.snaplen);
    ifaces_.emplace(key, id);
    return id;
  }

  // Writes one capture mbuf; false when the trace must end.
  bool write(rte_mbuf* c) {
    const auto* rec = rte_pktmbuf_mtod(c, const CaptureRecord*);
    const uint32_t caplen = c->data_len - static_cast<uint32_t>(sizeof *rec);
    const int64_t dt = static_cast<int64_t>(rec->tsc - tsc0_);
    const uint64_t ts = real0_ + static_cast<uint64_t>(static_cast<long double>(dt) * 1e9L /
                                                       static_cast<long double>(hz_));
    const uint32_t id = iface(rec->port, rec->point);
    std::string comment;
    PcapngWriter::Direction dir = PcapngWriter::Direction::kIn;
    if (rec->point == static_cast<uint8_t>(CapturePoint::kTx)) {
      dir = PcapngWriter::Direction::kOut;
    } else if (rec->point == static_cast<uint8_t>(CapturePoint::kDrop)) {
      const auto reason = static_cast<DropReason>(rec->reason);
      comment = reason < DropReason::kCount ? fmt::format("drop: {}", drop_reason_name(reason))
                                            : fmt::format("drop: reason {}", rec->reason);
    } else if (rec->point == static_cast<uint8_t>(CapturePoint::kVerdict)) {
      comment = "verdict: " + engine_.describe_verdict(rec->verdict);
    }
    if (!out_->packet(id, ts, rec + 1, caplen, rec->orig_len, dir, comment)) {
      end(out_->error() == "EPIPE" || out_->error() == std::strerror(EPIPE)
              ? std::string("the pipe's reader went away")
              : fmt::format("write failed: {}", out_->error()));
      return false;
    }
    packets_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(caplen, std::memory_order_relaxed);
    if (r_.count && packets() >= r_.count) {
      end("packet count reached");
      return false;
    }
    // A file ends with the packet that takes it to the size limit.
    if (r_.rotate_bytes && out_->bytes() >= r_.rotate_bytes) return rotate();
    return true;
  }

  bool rotate() {
    close_current();
    retain();
    return open_next();
  }

  void run() {
    if (!open_next()) return;
    rte_mbuf* m[kBurstMax];
    bool writing = true;
    for (;;) {
      unsigned got = 0;
      for (unsigned w = 0; w < workers_; ++w) {
        const unsigned n =
            rte_ring_sc_dequeue_burst(s_.ring[w], reinterpret_cast<void**>(m), kBurstMax, nullptr);
        got += n;
        for (unsigned i = 0; i < n && writing; ++i) writing = write(m[i]);
        rte_pktmbuf_free_bulk(m, n);
      }
      if (!writing) break;
      if (!got) {
        if (stop_.load()) break;  // the workers let go before stop_ was set: rings are empty
        ::usleep(1000);
      }
      if (r_.rotate_s && steady_ms() - opened_ms_ >= r_.rotate_s * 1000 && !rotate()) break;
      if (!r_.pipe && steady_ms() >= next_space_check_ms_) {
        // A trace must not fill the file system the config versions are kept on.
        next_space_check_ms_ = steady_ms() + 1000;
        struct statvfs vfs {};
        if (::statvfs(dir_.c_str(), &vfs) == 0) {
          const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
          if (free_bytes < kMinTraceFreeBytes) {
            end(fmt::format("{} has only {} MiB free (a trace leaves {} MiB)", dir_,
                            free_bytes >> 20, kMinTraceFreeBytes >> 20));
            break;
          }
        }
      }
    }
    close_current();
    retain();
    end("stopped");
  }

  CaptureSession& s_;
  const unsigned workers_;
  const TraceRequest r_;
  const std::string dir_, app_, appliance_;
  const Engine& engine_;
  const uint64_t tsc0_, real0_, hz_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> packets_{0}, bytes_{0}, removed_{0};
  mutable std::mutex mu_;
  std::string end_reason_;
  std::vector<std::string> files_;
  // Writer thread only.
  int fd_ = -1;
  uint64_t seq_ = 0;
  uint64_t opened_ms_ = 0;
  uint64_t next_space_check_ms_ = 0;
  std::unique_ptr<PcapngWriter> out_;
  std::map<std::pair<uint16_t, uint8_t>, uint32_t> ifaces_;
};

std::string compile_capture_filter(const std::string& expr, uint32_t snaplen, rte_bpf*& bpf,
                                   uint64_t (*&jit)(void*)) {
  bpf = nullptr;
  jit = nullptr;
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, static_cast<int>(snaplen));
  if (!dead) return "libpcap: cannot open a dead handle";
  bpf_program code{};
  if (pcap_compile(dead, &code, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    const std::string e = pcap_geterr(dead);
    pcap_close(dead);
    return e;
  }
  pcap_close(dead);
  rte_bpf_prm* prm = rte_bpf_convert(&code);  // a copy: the classic program can go
  pcap_freecode(&code);
  if (!prm) return fmt::format("rte_bpf_convert: {}", rte_strerror(rte_errno));
  bpf = rte_bpf_load(prm);
  rte_free(prm);
  if (!bpf) return fmt::format("rte_bpf_load: {}", rte_strerror(rte_errno));
  rte_bpf_jit jf{};
  if (rte_bpf_get_jit(bpf, &jf) == 0 && jf.func) jit = jf.func;
  return "";
}

// ---- The manager

CaptureManager::CaptureManager(Engine& engine, std::string dir, std::string appliance,
                               std::string program)
    : engine_(engine),
      dir_(std::move(dir)),
      appliance_(std::move(appliance)),
      program_(std::move(program)) {}

CaptureManager::~CaptureManager() {
  if (session_) stop("the appliance is stopping");
}

std::string CaptureManager::command(const std::string& param, const std::string& who) {
  const auto sp = param.find(' ');
  const std::string verb = param.substr(0, sp);
  if (verb == "status") return status();
  if (verb == "stop") {
    // "stop NAME" stops only that trace (vnfctl --live ending its own).
    const std::string name = sp == std::string::npos ? "" : param.substr(sp + 1);
    if (!session_ || (!name.empty() && name != req_.name))
      return json_error(name.empty() ? "no trace is running"
                                     : fmt::format("trace {} is not running", name));
    return stop(fmt::format("stopped by {}", who));
  }
  if (verb == "start") {
    TraceRequest r;
    const std::string err =
        parse_trace_request(sp == std::string::npos ? "" : param.substr(sp + 1), r);
    if (!err.empty()) return json_error("trace start: " + err);
    return start(r, who);
  }
  return json_error("trace: start PARAMS | stop | status");
}

namespace {

// Everything start() made, undone in reverse unless released.
struct Building {
  CaptureSession* s = nullptr;
  ~Building() {
    if (!s) return;
    for (rte_ring* r : s->ring) rte_ring_free(r);
    rte_mempool_free(s->pool);
    if (s->bpf) rte_bpf_destroy(s->bpf);
    rte_free(s);
  }
};

}  // namespace

std::string CaptureManager::start(const TraceRequest& req, const std::string& who) {
  if (session_)
    return json_error(
        fmt::format("trace {} is running (since {}): stop it first", req_.name, started_));
  TraceRequest r = req;
  if ((r.points & capture_bit(CapturePoint::kVerdict)) && !engine_.decides_verdicts())
    return json_error(
        "trace start: points: verdict: this appliance has no firewall (no verdicts to capture)");
  if (r.name.empty()) {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "trace-%Y%m%dT%H%M%S", &tm);
    r.name = buf;
  }
  uint32_t ports = 0;
  {
    std::lock_guard lock(engine_.ports_mutex());
    if (r.ports.empty()) ports = ~0u;
    for (const auto& name : r.ports) {
      const PortState* p = engine_.find_port(name);
      if (!p) return json_error(fmt::format("trace start: ports: no port '{}'", name));
      ports |= 1u << p->id;
    }
  }

  Building b;
  b.s = static_cast<CaptureSession*>(
      rte_zmalloc_socket("vnf_capture", sizeof(CaptureSession), 64, engine_.socket()));
  if (!b.s) return json_error("trace start: out of memory for the session");
  new (b.s) CaptureSession();
  CaptureSession& s = *b.s;
  s.points = r.points;
  s.ports = ports;
  s.snaplen = r.snaplen;
  if (!r.filter.empty()) {
    const std::string err = compile_capture_filter(r.filter, r.snaplen, s.bpf, s.jit);
    if (!err.empty()) return json_error(fmt::format("trace start: filter '{}': {}", r.filter, err));
  }
  const bool jit = s.jit != nullptr;
  const unsigned workers = engine_.worker_count();
  // No frame is longer than the longest a port carries now: the copies need no more room (a
  // port added later with a larger MTU has its frames cut there).
  uint32_t longest = 64;
  for (unsigned p = 0; p < kMaxPorts; ++p)
    longest = std::max(longest, engine_.worker(0).max_frame[p]);
  s.snaplen = std::min(r.snaplen, longest);
  r.snaplen = s.snaplen;  // what the files and the status say
  const unsigned n = workers * r.ring + workers * 64 + 256;
  const uint32_t elt =
      static_cast<uint32_t>(RTE_PKTMBUF_HEADROOM + sizeof(CaptureRecord) + s.snaplen);
  const uint64_t bytes = static_cast<uint64_t>(n) * (elt + sizeof(rte_mbuf) + 64);
  if (bytes > kMaxTracePoolBytes)
    return json_error(fmt::format(
        "trace start: {} workers x ring {} of {}-byte copies take {} MiB, more than the {} MiB a "
        "trace may take from the appliance's memory: lower --ring or --snaplen",
        workers, r.ring, s.snaplen, bytes >> 20, kMaxTracePoolBytes >> 20));
  ++seq_;
  s.pool = rte_pktmbuf_pool_create(fmt::format("vnfcap{}", seq_).c_str(), n, 32, 0,
                                   static_cast<uint16_t>(elt), engine_.socket());
  if (!s.pool)
    return json_error(fmt::format("trace start: capture pool of {} x {} bytes: {}", n, elt,
                                  rte_strerror(rte_errno)));
  for (unsigned w = 0; w < workers; ++w) {
    s.ring[w] = rte_ring_create(fmt::format("vnfcap{}_{}", seq_, w).c_str(), r.ring,
                                engine_.socket(), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!s.ring[w])
      return json_error(fmt::format("trace start: ring: {}", rte_strerror(rte_errno)));
  }

  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST)
    return json_error(fmt::format("trace start: {}: {}", dir_, std::strerror(errno)));
  if (struct statvfs vfs{}; !r.pipe && ::statvfs(dir_.c_str(), &vfs) == 0) {
    const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (free_bytes < kMinTraceFreeBytes)
      return json_error(fmt::format("trace start: {} has only {} MiB free (a trace leaves {} MiB)",
                                    dir_, free_bytes >> 20, kMinTraceFreeBytes >> 20));
  }
  auto writer = std::make_unique<CaptureWriter>(
      s, workers, r, dir_, fmt::format("{} {}", program_, VNF_VERSION), appliance_, engine_);
  const std::string first = writer->first_path();
  if (r.pipe) {
    ::unlink(first.c_str());  // a pipe left by a trace that did not end cleanly
    if (::mkfifo(first.c_str(), 0640) != 0)
      return json_error(fmt::format("trace start: mkfifo {}: {}", first, std::strerror(errno)));
  } else if (::access(first.c_str(), F_OK) == 0) {
    return json_error(fmt::format("trace start: {} exists: choose another name", first));
  }
  writer->start();

  std::lock_guard lock(mu_);
  session_ = b.s;
  b.s = nullptr;
  writer_ = std::move(writer);
  req_ = r;
  jit_ = jit;
  started_ = now_iso8601();
  started_ms_ = steady_ms();
  stopped_.clear();
  end_reason_.clear();
  output_ = first;
  for (unsigned w = 0; w < workers; ++w)
    engine_.worker(w).capture.store(session_, std::memory_order_release);
  spdlog::info("trace {} started by {}: points {}, ports {}, filter '{}'{}, snaplen {}, to {}",
               r.name, who, capture_points_text(r.points),
               r.ports.empty() ? std::string("all") : fmt::format("{}", fmt::join(r.ports, ",")),
               r.filter, r.filter.empty() ? "" : (jit ? " (JIT)" : " (interpreted)"), r.snaplen,
               first);
  events::emit(events::Event("trace_started", events::Severity::kNotice)
                   .str("name", r.name)
                   .str("by", who)
                   .str("points", capture_points_text(r.points))
                   .str("ports", r.ports.empty() ? std::string("all")
                                                 : fmt::format("{}", fmt::join(r.ports, ",")))
                   .str("filter", r.filter)
                   .num("snaplen", r.snaplen)
                   .str("output", first));
  return fmt::format("{{\"result\": \"started\", \"name\": {}, \"output\": {}, \"jit\": {}}}",
                     json_string(r.name), json_string(first), jit ? "true" : "false");
}

std::string CaptureManager::stop(const std::string& why) {
  CaptureSession* s = session_;
  const unsigned workers = engine_.worker_count();
  for (unsigned w = 0; w < workers; ++w)
    engine_.worker(w).capture.store(nullptr, std::memory_order_release);
  rte_rcu_qsbr_synchronize(engine_.qsbr(), RTE_QSBR_THRID_INVALID);
  writer_->finish();  // writes what the rings hold, closes the file
  std::lock_guard lock(mu_);
  last_seen_ = last_matched_ = last_ring_full_ = last_no_mbuf_ = 0;
  for (unsigned w = 0; w < workers; ++w) {
    last_seen_ += s->stats[w].seen.get();
    last_matched_ += s->stats[w].matched.get();
    last_ring_full_ += s->stats[w].ring_full.get();
    last_no_mbuf_ += s->stats[w].no_mbuf.get();
  }
  last_written_ = writer_->packets();
  last_bytes_ = writer_->bytes();
  last_files_ = writer_->files();
  const std::string writer_end = writer_->end_reason();
  end_reason_ = writer_end.empty() || writer_end == "stopped" ? why : writer_end;
  stopped_ = now_iso8601();
  writer_.reset();
  if (req_.pipe) ::unlink(output_.c_str());
  {
    Building b;  // frees the rings (and what is left in them), the pool and the filter
    for (unsigned w = 0; w < workers; ++w) {
      rte_mbuf* m[kBurstMax];
      unsigned n;
      while ((n = rte_ring_sc_dequeue_burst(s->ring[w], reinterpret_cast<void**>(m), kBurstMax,
                                            nullptr)) != 0)
        rte_pktmbuf_free_bulk(m, n);
    }
    b.s = s;
  }
  session_ = nullptr;
  spdlog::info(
      "trace {} ended ({}): {} packets written, {} matched, {} not captured "
      "(ring full {}, pool empty {})",
      req_.name, end_reason_, last_written_, last_matched_, last_ring_full_ + last_no_mbuf_,
      last_ring_full_, last_no_mbuf_);
  events::emit(events::Event("trace_ended", events::Severity::kNotice)
                   .str("name", req_.name)
                   .str("reason", end_reason_)
                   .num("written", last_written_)
                   .num("matched", last_matched_)
                   .num("ring_full", last_ring_full_)
                   .num("no_mbuf", last_no_mbuf_)
                   .num("files", last_files_.size())
                   .num("bytes", last_bytes_));
  return status_locked();
}

void CaptureManager::tick(uint64_t now_ms) {
  if (!session_) return;
  if (writer_->done()) {
    stop("");
  } else if (req_.duration_s && now_ms - started_ms_ >= req_.duration_s * 1000) {
    stop("duration reached");
  }
}

std::string CaptureManager::status() const {
  std::lock_guard lock(mu_);
  return status_locked();
}

std::vector<CaptureManager::Field> CaptureManager::fields_locked() const {
  uint64_t seen = last_seen_, matched = last_matched_, ring_full = last_ring_full_,
           no_mbuf = last_no_mbuf_, written = last_written_, bytes = last_bytes_;
  std::vector<std::string> files = last_files_;
  std::string state = started_.empty() ? "idle" : "stopped";
  if (session_) {
    state = "running";
    seen = matched = ring_full = no_mbuf = 0;
    for (unsigned w = 0; w < engine_.worker_count(); ++w) {
      seen += session_->stats[w].seen.get();
      matched += session_->stats[w].matched.get();
      ring_full += session_->stats[w].ring_full.get();
      no_mbuf += session_->stats[w].no_mbuf.get();
    }
    written = writer_->packets();
    bytes = writer_->bytes();
    files = writer_->files();
  }
  return {
      {"state", state, 0, true},
      {"name", req_.name, 0, true},
      {"points", capture_points_text(req_.points), 0, true},
      {"ports",
       req_.ports.empty() ? std::string("all") : fmt::format("{}", fmt::join(req_.ports, ",")), 0,
       true},
      {"filter", req_.filter, 0, true},
      {"jit", "", jit_ ? 1u : 0u, false},
      {"snaplen", "", req_.snaplen, false},
      {"count_limit", "", req_.count, false},
      {"duration_limit_s", "", req_.duration_s, false},
      {"output", output_, 0, true},
      {"files", fmt::format("{}", fmt::join(files, " ")), 0, true},
      {"started", started_, 0, true},
      {"stopped", stopped_, 0, true},
      {"end_reason", end_reason_, 0, true},
      {"seen", "", seen, false},
      {"matched", "", matched, false},
      {"written", "", written, false},
      {"written_bytes", "", bytes, false},
      {"not_captured", "", ring_full + no_mbuf, false},
      {"ring_full", "", ring_full, false},
      {"pool_empty", "", no_mbuf, false},
  };
}

std::string CaptureManager::status_locked() const {
  std::string out = "{";
  for (const Field& f : fields_locked()) {
    if (out.size() > 1) out += ", ";
    out += json_string(f.key) + ": ";
    out += f.is_text ? json_string(f.text) : std::to_string(f.number);
  }
  return out + "}";
}

void CaptureManager::register_telemetry() {
  telemetry::add("/vnf/trace", "The packet trace (vnfctl trace): state, output, counters",
                 [this](const std::string&, rte_tel_data* d) {
                   std::lock_guard lock(mu_);
                   rte_tel_data_start_dict(d);
                   for (const Field& f : fields_locked()) {
                     if (f.is_text)
                       rte_tel_data_add_dict_string(d, f.key, f.text.c_str());
                     else
                       rte_tel_data_add_dict_u64(d, f.key, f.number);
                   }
                   return 0;
                 });
}

}  // namespace vnf
