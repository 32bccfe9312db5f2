#include "common/shipper.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <rte_telemetry.h>
#include <spdlog/spdlog.h>

#include "common/state_dir.h"
#include "common/telemetry.h"

namespace vnf {

namespace {

constexpr unsigned kFacilityLocal0 = 16;
constexpr uint64_t kBackoffFirstMs = 250, kBackoffMaxMs = 5000;
constexpr int kConnectTimeoutMs = 2000;
constexpr size_t kKeptLossRanges = 4;  // per collector, in /vnf/shipper

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// RFC 5424 PRINTUSASCII without spaces, at most `max` octets; "-" when empty.
std::string header_field(const std::string& s, size_t max) {
  std::string out;
  for (unsigned char c : s)
    if (c > 32 && c < 127 && out.size() < max) out += static_cast<char>(c);
  return out.empty() ? "-" : out;
}

const char* transport_name(CollectorConfig::Transport t) {
  switch (t) {
    case CollectorConfig::Transport::kTls:
      return "tls";
    case CollectorConfig::Transport::kUdp:
      return "udp";
    default:
      return "tcp";
  }
}

bool write_all(int fd, const char* p, size_t n) {
  while (n) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

std::string syslog_message(const events::Record& r, const std::string& host, const std::string& app,
                           int procid) {
  const unsigned pri = kFacilityLocal0 * 8 + static_cast<unsigned>(r.severity);
  return fmt::format("<{}>1 {} {} {} {} {} - {}", pri, r.time, header_field(host, 255),
                     header_field(app, 48), procid, header_field(r.kind, 32), r.json);
}

std::string octet_frame(const std::string& msg) { return fmt::format("{} {}", msg.size(), msg); }

// ---- Spool ----

Spool::Spool(std::string path, uint64_t max_bytes) : path_(std::move(path)), max_bytes_(max_bytes) {
  for (const auto& l : read_all()) {
    bytes_ += l.size() + 1;
    ++records_;
  }
}

bool Spool::append(const std::string& line) {
  if (bytes_ + line.size() + 1 > max_bytes_) return false;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const std::string l = line + "\n";
  const bool ok = write_all(fd, l.data(), l.size());
  ::close(fd);
  if (!ok) return false;
  bytes_ += l.size();
  ++records_;
  return true;
}

std::vector<std::string> Spool::read_all() const {
  std::vector<std::string> out;
  std::ifstream in(path_);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) out.push_back(l);
  return out;
}

void Spool::replace(const std::vector<std::string>& lines) {
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& l : lines) out << l << '\n';
  }
  std::rename(tmp.c_str(), path_.c_str());
  bytes_ = records_ = 0;
  for (const auto& l : lines) {
    bytes_ += l.size() + 1;
    ++records_;
  }
}

void Spool::clear() {
  ::unlink(path_.c_str());
  bytes_ = records_ = 0;
}

namespace {
struct SeqFile {
  uint64_t shipped = 0, reserved = 0;
  bool unreadable = false;  // there, but no number in it (a crash mid-write, a bad restore)
};
// Where numbering goes on when events.seq is there but unreadable: above every number a
// previous run can have used (it would need a million records a second since 1970 to reach
// it), so that no number serves twice.
uint64_t seq_far_ahead() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count()) *
         1000000u;
}
// A state directory that has been used: a spool or a half-written sequence file in it.
bool used_before(const std::string& state_dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(state_dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("events-spool-", 0) == 0 || n.rfind("events.seq.tmp", 0) == 0) return true;
  }
  return false;
}
SeqFile read_seq_file(const std::string& state_dir) {
  const std::string path = state_dir + "/events.seq";
  SeqFile f;
  struct stat sb;
  // None yet, in a directory never used: the first run. Gone from a used directory (deleted
  // by hand), or there but unreadable (permissions, a bad restore): numbering goes far ahead.
  if (::stat(path.c_str(), &sb) != 0 && errno == ENOENT && !used_before(state_dir)) return f;
  std::ifstream in(path);
  if (!(in >> f.shipped)) {
    const uint64_t ahead = seq_far_ahead();
    spdlog::error(
        "event shipper: {} is missing from a used state directory or holds no sequence number; "
        "numbering goes on from {}",
        path, ahead + 1);
    return SeqFile{ahead, ahead, true};
  }
  if (!(in >> f.reserved) || f.reserved < f.shipped) f.reserved = f.shipped;  // one number: old
  return f;
}
}  // namespace

uint64_t load_last_seq(const std::string& state_dir) { return read_seq_file(state_dir).reserved; }

// ---- Collectors ----

struct Shipper::Collector {
  CollectorConfig cfg;
  std::string label;  // "tcp 127.0.0.1:514"
  std::unique_ptr<Spool> spool;
  int fd = -1;
  gnutls_session_t tls = nullptr;
  gnutls_certificate_credentials_t cred = nullptr;
  std::atomic<bool> connected{false};
  uint64_t next_attempt_ms = 0, backoff_ms = kBackoffFirstMs;
  bool refusing = false;  // the spool refused a record: refuse until replayed
  ShipperLoss pending;    // what was refused since
  // Status (under Shipper::mu_ when written by the thread; read by telemetry).
  uint64_t sent = 0, lost = 0;
  std::atomic<uint64_t> connects{0};
  std::string last_error, last_error_time;
  uint64_t spooled_bytes = 0, spooled_records = 0;
  uint64_t spool_limit = 0;  // engine.events.spool_bytes; 0: no spool (UDP)
  // The newest ranges of sequence numbers lost for this collector (first, last); the last
  // one grows while records keep being lost. What an operator looks for in the collector.
  std::deque<std::pair<uint64_t, uint64_t>> lost_ranges;

  void set_error(const std::string& err) {  // under Shipper::mu_
    last_error = err;
    last_error_time = events::rfc3339_ms_now();
  }
  void note_lost(uint64_t seq) {  // under Shipper::mu_
    ++lost;
    if (!lost_ranges.empty() && lost_ranges.back().second + 1 == seq) {
      lost_ranges.back().second = seq;
      return;
    }
    lost_ranges.emplace_back(seq, seq);
    if (lost_ranges.size() > kKeptLossRanges) lost_ranges.pop_front();
  }
  std::string lost_ranges_text() const {  // "4-20 31-40", oldest first; "" when none
    std::string out;
    for (const auto& [first, last] : lost_ranges)
      out += fmt::format("{}{}-{}", out.empty() ? "" : " ", first, last);
    return out;
  }
  std::string target() const { return fmt::format("{}:{}", cfg.address, cfg.port); }

  bool stream() const { return cfg.transport != CollectorConfig::Transport::kUdp; }

  void close_conn() {
    if (tls) {
      gnutls_deinit(tls);
      tls = nullptr;
    }
    if (fd >= 0) ::close(fd);
    fd = -1;
    connected = false;
  }

  // The peer closed (a collector never sends to us): checked before every write, so that a
  // record is not handed to a connection that can no longer deliver it.
  bool peer_closed() {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
    if (tls) return false;  // TLS records (alerts, tickets) are consumed by gnutls
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

  bool send_bytes(const std::string& b, std::string& err) {
    if (tls) {
      size_t off = 0;
      while (off < b.size()) {
        const ssize_t w = gnutls_record_send(tls, b.data() + off, b.size() - off);
        if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) continue;
        if (w < 0) {
          err = fmt::format("tls send: {}", gnutls_strerror(static_cast<int>(w)));
          return false;
        }
        off += static_cast<size_t>(w);
      }
      return true;
    }
    size_t off = 0;
    while (off < b.size()) {
      const ssize_t w = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        err = fmt::format("send: {}", std::strerror(errno));
        return false;
      }
      off += static_cast<size_t>(w);
    }
    return true;
  }

  // A stream message: checked peer, framed, sent.
  bool send_msg(const std::string& msg, std::string& err) {
    if (peer_closed()) {
      err = "the collector closed the connection";
      return false;
    }
    return send_bytes(octet_frame(msg), err);
  }

  bool open(const std::string& source, std::string& err) {
    sockaddr_storage src{}, dst{};
    socklen_t len = 0;
    int family = AF_INET;
    if (inet_pton(AF_INET, cfg.address.c_str(), &reinterpret_cast<sockaddr_in&>(dst).sin_addr) ==
        1) {
      auto& d = reinterpret_cast<sockaddr_in&>(dst);
      d.sin_family = AF_INET;
      d.sin_port = htons(cfg.port);
      auto& s = reinterpret_cast<sockaddr_in&>(src);
      s.sin_family = AF_INET;
      inet_pton(AF_INET, source.c_str(), &s.sin_addr);
      len = sizeof(sockaddr_in);
    } else {
      family = AF_INET6;
      auto& d = reinterpret_cast<sockaddr_in6&>(dst);
      d.sin6_family = AF_INET6;
      d.sin6_port = htons(cfg.port);
      inet_pton(AF_INET6, cfg.address.c_str(), &d.sin6_addr);
      auto& s = reinterpret_cast<sockaddr_in6&>(src);
      s.sin6_family = AF_INET6;
      inet_pton(AF_INET6, source.c_str(), &s.sin6_addr);
      len = sizeof(sockaddr_in6);
    }
    fd = ::socket(family, (stream() ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      err = fmt::format("socket: {}", std::strerror(errno));
      return false;
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), len) != 0) {
      err = fmt::format("bind to the management address {}: {}", source, std::strerror(errno));
      close_conn();
      return false;
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), len) != 0) {
      if (errno != EINPROGRESS) {
        err = fmt::format("connect: {}", std::strerror(errno));
        close_conn();
        return false;
      }
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, kConnectTimeoutMs) <= 0) {
        err = "connect: timed out";
        close_conn();
        return false;
      }
      int so = 0;
      socklen_t sl = sizeof so;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
      if (so != 0) {
        err = fmt::format("connect: {}", std::strerror(so));
        close_conn();
        return false;
      }
    }
    // Writes from here on block, with a limit: a collector that stops reading is given up.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (cfg.transport == CollectorConfig::Transport::kTls && !tls_handshake(err)) {
      close_conn();
      return false;
    }
    connected = true;
    ++connects;
    return true;
  }

  bool tls_handshake(std::string& err) {
    int rc;
    if (!cred) {
      gnutls_certificate_allocate_credentials(&cred);
      if ((rc = gnutls_certificate_set_x509_trust_file(cred, cfg.ca.c_str(),
                                                       GNUTLS_X509_FMT_PEM)) <= 0) {
        err = fmt::format("tls: CA file {}: {}", cfg.ca,
                          rc == 0 ? "no certificate in it" : gnutls_strerror(rc));
        gnutls_certificate_free_credentials(cred);
        cred = nullptr;
        return false;
      }
      if (!cfg.cert.empty() &&
          (rc = gnutls_certificate_set_x509_key_file(cred, cfg.cert.c_str(), cfg.key.c_str(),
                                                     GNUTLS_X509_FMT_PEM)) < 0) {
        err = fmt::format("tls: cert/key {}: {}", cfg.cert, gnutls_strerror(rc));
        gnutls_certificate_free_credentials(cred);
        cred = nullptr;
        return false;
      }
    }
    gnutls_init(&tls, GNUTLS_CLIENT);
    gnutls_set_default_priority(tls);
    gnutls_credentials_set(tls, GNUTLS_CRD_CERTIFICATE, cred);
    const std::string& name = cfg.name.empty() ? cfg.address : cfg.name;
    if (!cfg.name.empty())
      gnutls_server_name_set(tls, GNUTLS_NAME_DNS, cfg.name.data(), cfg.name.size());
    gnutls_session_set_verify_cert(tls, name.c_str(), 0);
    gnutls_transport_set_int(tls, fd);
    gnutls_handshake_set_timeout(tls, kConnectTimeoutMs);
    do {
      rc = gnutls_handshake(tls);
    } while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
    if (rc < 0) {
      err = fmt::format("tls handshake: {}", gnutls_strerror(rc));
      if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        const unsigned status = gnutls_session_get_verify_cert_status(tls);
        gnutls_datum_t out{};
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) == 0) {
          err += fmt::format(" ({})", reinterpret_cast<const char*>(out.data));
          gnutls_free(out.data);
        }
      }
      return false;
    }
    return true;
  }

  ~Collector() {
    close_conn();
    if (cred) gnutls_certificate_free_credentials(cred);
  }
};

// ---- Shipper ----

Shipper::Shipper(const EventsConfig& cfg, std::string source_address, std::string state_dir,
                 std::string app)
    : cfg_(cfg),
      source_(std::move(source_address)),
      state_dir_(std::move(state_dir)),
      app_(std::move(app)),
      procid_(static_cast<int>(::getpid())) {
  char h[256] = {};
  ::gethostname(h, sizeof h - 1);
  host_ = h;
  ::mkdir(state_dir_.c_str(), 0750);
  const SeqFile seq = read_seq_file(state_dir_);
  persisted_seq_ = seq.shipped;
  reserved_seq_ = seq.reserved;
  file_shipped_ = seq.shipped;
  file_reserved_ = seq.reserved;
  first_seq_ = seq.reserved + 1;
  if (seq.unreadable) {
    // Which numbers the previous run used is unknown: all below the new start may have been.
    losses_.push_back(ShipperLoss{
        "previous run (events.seq missing or unreadable; how many is unknown)", 0, 1, seq.shipped});
    has_losses_.store(true, std::memory_order_release);
  } else if (seq.reserved > seq.shipped) {
    // The previous run stopped without shipping all it had numbered (a crash, a kill -9): the
    // records above SHIPPED that no collector got are gone. Announced at the first tick().
    losses_.push_back(ShipperLoss{"previous run (not stopped cleanly)", seq.reserved - seq.shipped,
                                  seq.shipped + 1, seq.reserved});
    has_losses_.store(true, std::memory_order_release);
  }
  if (!cfg_.file.empty()) {
    file_fd_ = ::open(cfg_.file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (file_fd_ < 0)
      throw std::runtime_error(
          fmt::format("engine.events.file {}: {}", cfg_.file, std::strerror(errno)));
  }
  for (size_t i = 0; i < cfg_.collectors.size(); ++i) {
    auto c = std::make_unique<Collector>();
    c->cfg = cfg_.collectors[i];
    c->label =
        fmt::format("{} {}:{}", transport_name(c->cfg.transport), c->cfg.address, c->cfg.port);
    if (c->stream()) {
      c->spool = std::make_unique<Spool>(fmt::format("{}/events-spool-{}.log", state_dir_, i),
                                         cfg_.spool_bytes);
      c->spool_limit = cfg_.spool_bytes;
    }
    collectors_.push_back(std::move(c));
  }
  thread_ = std::thread([this] { run(); });
}

Shipper::~Shipper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (file_fd_ >= 0) ::close(file_fd_);
  // A clean stop: everything numbered was written, delivered, spooled or announced lost.
  std::lock_guard lock(mu_);
  const uint64_t last = std::max(persisted_seq_.load(), last_pushed_);
  std::string err;
  if (last || reserved_seq_) write_seq_file(last, last, SeqWrite::kExact, err);
}

void Shipper::push(events::Record&& r) {
  {
    std::lock_guard lock(mu_);
    last_pushed_ = std::max(last_pushed_, r.seq);
    // On disk (synced) before the record can reach anyone: after a crash or a power cut the
    // next run starts above it. The shipper thread renews the reservation when half of it is
    // used, so this thread (the control thread, often under its own locks) syncs only when the
    // reservation ran out: at the first record, or while the disk refuses (retried once a
    // second, not per record).
    if (r.seq > reserved_seq_) {
      const uint64_t now = now_ms();
      if (now >= seq_retry_ms_) {
        std::string err;
        const uint64_t to = r.seq + kSeqReserve - 1;
        seq_result_locked(write_seq_file(0, to, SeqWrite::kSync, err), to, err, now);
      }
    } else if (r.seq + kSeqReserve / 2 > reserved_seq_) {
      renew_ = true;
    }
    if (queue_.size() >= cfg_.queue) {
      ++queue_dropped_;
      if (queue_loss_.count++ == 0) queue_loss_.first_seq = r.seq;
      queue_loss_.last_seq = r.seq;
      return;
    }
    queue_.push_back(std::move(r));
    ++queued_;
  }
  cv_.notify_one();
}

void Shipper::tick() {
  if (!has_losses_.load(std::memory_order_acquire)) return;
  std::vector<ShipperLoss> losses;
  {
    std::lock_guard lock(mu_);
    losses.swap(losses_);
    has_losses_.store(false, std::memory_order_relaxed);
  }
  for (const auto& l : losses) {
    spdlog::warn("event shipper: {} record(s) lost for {} (seq {}..{})", l.count, l.collector,
                 l.first_seq, l.last_seq);
    events::emit(events::Event("shipper_loss", events::Severity::kWarning)
                     .str("collector", l.collector)
                     .num("lost", l.count)
                     .num("first_seq", l.first_seq)
                     .num("last_seq", l.last_seq));
  }
}

void Shipper::write_file(const std::vector<events::Record>& batch) {
  if (file_fd_ < 0 || batch.empty()) return;
  std::string out;
  for (const auto& r : batch) out += r.json + "\n";
  const bool ok = write_all(file_fd_, out.data(), out.size());
  std::lock_guard lock(mu_);
  if (ok)
    file_written_ += batch.size();
  else
    ++file_errors_;
}

void Shipper::seq_result_locked(bool ok, uint64_t reserved, const std::string& err, uint64_t now) {
  if (ok) {
    reserved_seq_ = std::max(reserved_seq_, reserved);
    if (seq_failing_) spdlog::info("event shipper: sequence numbers reserved on disk again");
    seq_failing_ = false;
    return;
  }
  ++seq_errors_;
  seq_retry_ms_ = now + 1000;
  if (!seq_failing_)
    spdlog::error(
        "event shipper: cannot reserve sequence numbers ({}): records go on, but a crash now "
        "could number records again; retrying every second",
        err);
  seq_failing_ = true;
}

void Shipper::persist_seq(uint64_t seq) {
  if (seq <= persisted_seq_.load()) return;
  // SHIPPED only narrows a loss report: not synced (the reservation is what prevents reuse).
  std::string err;
  if (write_seq_file(seq, 0, SeqWrite::kNoSync, err)) persisted_seq_ = seq;
}

bool Shipper::write_seq_file(uint64_t shipped, uint64_t reserved, SeqWrite how, std::string& err) {
  std::lock_guard lock(file_mu_);
  if (how != SeqWrite::kExact) {  // what is on disk never goes back
    shipped = std::max(shipped, file_shipped_);
    reserved = std::max({reserved, file_reserved_, shipped});
  }
  try {
    // The numbers on disk stay as they were unless the whole new file is there.
    write_file_atomic(state_dir_ + "/events.seq", fmt::format("{} {}\n", shipped, reserved), 0640,
                      false, how != SeqWrite::kNoSync);
  } catch (const std::exception& e) {
    err = e.what();
    return false;
  }
  file_shipped_ = shipped;
  file_reserved_ = reserved;
  return true;
}

void Shipper::maintain(Collector& c, uint64_t now) {
  if (c.connected || now < c.next_attempt_ms) return;
  std::string err;
  if (!c.open(source_, err)) {
    c.next_attempt_ms = now + c.backoff_ms;
    c.backoff_ms = std::min(c.backoff_ms * 2, kBackoffMaxMs);
    std::lock_guard lock(mu_);
    c.set_error(err);
    return;
  }
  c.backoff_ms = kBackoffFirstMs;
  spdlog::info("event shipper: connected to {}", c.label);
  if (!c.spool) return;
  // Replay the spool, oldest first, before any newer record.
  const std::vector<std::string> lines = c.spool->read_all();
  size_t done = 0;
  for (; done < lines.size(); ++done)
    if (!c.send_msg(lines[done], err)) break;
  {
    std::lock_guard lock(mu_);
    c.sent += done;
  }
  if (done < lines.size()) {
    c.spool->replace(
        std::vector<std::string>(lines.begin() + static_cast<long>(done), lines.end()));
    c.close_conn();
    c.next_attempt_ms = now + c.backoff_ms;
    std::lock_guard lock(mu_);
    c.set_error(err);
    return;
  }
  if (!lines.empty()) {
    c.spool->clear();
    spdlog::info("event shipper: {} spooled record(s) replayed to {}", lines.size(), c.label);
  }
  if (c.refusing) {
    c.refusing = false;
    std::lock_guard lock(mu_);
    losses_.push_back(c.pending);
    c.pending = ShipperLoss{};
    has_losses_.store(true, std::memory_order_release);
  }
}

void Shipper::deliver(Collector& c, const events::Record& r, const std::string& msg) {
  std::string err;
  if (!c.stream()) {
    const bool ok = c.connected && ::send(c.fd, msg.data(), msg.size(), MSG_NOSIGNAL) >= 0;
    if (!ok) err = c.connected ? fmt::format("send: {}", std::strerror(errno)) : c.last_error;
    std::lock_guard lock(mu_);
    if (ok) {
      ++c.sent;
    } else {
      c.note_lost(r.seq);
      c.set_error(err);
    }
    return;
  }
  if (c.connected) {
    if (c.send_msg(msg, err)) {
      std::lock_guard lock(mu_);
      ++c.sent;
      return;
    }
    spdlog::warn("event shipper: {}: {}; spooling", c.label, err);
    c.close_conn();
    c.next_attempt_ms = now_ms() + c.backoff_ms;
    std::lock_guard lock(mu_);
    c.set_error(err);
  }
  if (!c.refusing && c.spool->append(msg)) return;
  if (!c.refusing) {
    c.refusing = true;
    c.pending = ShipperLoss{c.label, 0, r.seq, r.seq};
  }
  ++c.pending.count;
  c.pending.last_seq = r.seq;
  std::lock_guard lock(mu_);
  c.note_lost(r.seq);
}

void Shipper::run() {
  for (;;) {
    std::vector<events::Record> batch;
    bool stopping;
    uint64_t renew_to = 0;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stop_ || !queue_.empty(); });
      stopping = stop_;
      if (renew_ && now_ms() >= seq_retry_ms_) {
        renew_ = false;
        renew_to = last_pushed_ + kSeqReserve;
      }
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
      if (queue_loss_.count) {
        queue_loss_.collector = "queue";
        losses_.push_back(queue_loss_);
        queue_loss_ = ShipperLoss{};
        has_losses_.store(true, std::memory_order_release);
      }
    }
    const uint64_t now = now_ms();
    if (renew_to) {  // the next block of numbers, synced here rather than in push()
      std::string err;
      const bool ok = write_seq_file(0, renew_to, SeqWrite::kSync, err);
      std::lock_guard lock(mu_);
      seq_result_locked(ok, renew_to, err, now);
      if (!ok) renew_ = true;
    }
    for (auto& c : collectors_) maintain(*c, now);
    write_file(batch);
    for (const auto& r : batch) {
      const std::string msg = syslog_message(r, host_, app_, procid_);
      for (auto& c : collectors_) deliver(*c, r, msg);
    }
    if (!batch.empty()) persist_seq(batch.back().seq);
    {
      std::lock_guard lock(mu_);
      for (auto& c : collectors_) {
        c->spooled_bytes = c->spool ? c->spool->bytes() : 0;
        c->spooled_records = c->spool ? c->spool->records() : 0;
      }
    }
    if (stopping && batch.empty()) break;
  }
}

std::string Shipper::status_json() const {
  std::lock_guard lock(mu_);
  std::string out = fmt::format(
      "{{\"queued\": {}, \"queue_len\": {}, \"queue_dropped\": {}, \"file\": {}, "
      "\"file_written\": {}, \"file_errors\": {}, \"seq_errors\": {}, \"last_seq\": {}, "
      "\"collectors\": [",
      queued_, queue_.size(), queue_dropped_, events::json_quote(cfg_.file), file_written_,
      file_errors_, seq_errors_, persisted_seq_.load());
  for (size_t i = 0; i < collectors_.size(); ++i) {
    const Collector& c = *collectors_[i];
    out += fmt::format(
        "{}{{\"collector\": {}, \"transport\": \"{}\", \"target\": {}, \"connected\": {}, "
        "\"connects\": {}, \"sent\": {}, \"lost\": {}, \"lost_ranges\": \"{}\", "
        "\"spooled_bytes\": {}, \"spooled_records\": {}, \"spool_limit\": {}, "
        "\"last_error\": {}, \"last_error_time\": \"{}\"}}",
        i ? ", " : "", events::json_quote(c.label), transport_name(c.cfg.transport),
        events::json_quote(c.target()), c.connected ? "true" : "false", c.connects.load(), c.sent,
        c.lost, c.lost_ranges_text(), c.spooled_bytes, c.spooled_records, c.spool_limit,
        events::json_quote(c.last_error), c.last_error_time);
  }
  return out + "]}";
}

void Shipper::register_telemetry() {
  telemetry::add(
      "/vnf/shipper",
      "The event shipper: queue, file, and per collector state (connected, spooled, sent, lost)",
      [this](const std::string&, rte_tel_data* d) {
        std::lock_guard lock(mu_);
        rte_tel_data_start_dict(d);
        rte_tel_data_add_dict_u64(d, "queued", queued_);
        rte_tel_data_add_dict_u64(d, "queue_len", queue_.size());
        rte_tel_data_add_dict_u64(d, "queue_dropped", queue_dropped_);
        rte_tel_data_add_dict_string(d, "file", cfg_.file.c_str());
        rte_tel_data_add_dict_u64(d, "file_written", file_written_);
        rte_tel_data_add_dict_u64(d, "file_errors", file_errors_);
        rte_tel_data_add_dict_u64(d, "seq_errors", seq_errors_);
        rte_tel_data_add_dict_u64(d, "last_seq", persisted_seq_.load());
        rte_tel_data* list = telemetry::new_dict();
        for (const auto& cp : collectors_) {
          const Collector& c = *cp;
          rte_tel_data* one = telemetry::new_dict();
          rte_tel_data_add_dict_string(one, "collector", c.label.c_str());
          rte_tel_data_add_dict_string(one, "transport", transport_name(c.cfg.transport));
          rte_tel_data_add_dict_string(one, "target", telemetry::fit_help(c.target()).c_str());
          rte_tel_data_add_dict_string(one, "state", c.connected ? "connected" : "disconnected");
          rte_tel_data_add_dict_u64(one, "connects", c.connects.load());
          rte_tel_data_add_dict_u64(one, "sent", c.sent);
          rte_tel_data_add_dict_u64(one, "lost", c.lost);
          rte_tel_data_add_dict_string(one, "lost_ranges",
                                       telemetry::fit_help(c.lost_ranges_text()).c_str());
          rte_tel_data_add_dict_u64(one, "spooled_bytes", c.spooled_bytes);
          rte_tel_data_add_dict_u64(one, "spooled_records", c.spooled_records);
          rte_tel_data_add_dict_u64(one, "spool_limit", c.spool_limit);
          rte_tel_data_add_dict_string(one, "last_error",
                                       telemetry::fit_help(c.last_error).c_str());
          rte_tel_data_add_dict_string(one, "last_error_time", c.last_error_time.c_str());
          rte_tel_data_add_dict_container(list, telemetry::key(c.label).c_str(), one, 0);
        }
        rte_tel_data_add_dict_container(d, "collectors", list, 0);
        return 0;
      });
}

}  // namespace vnf
