#include "common/control_socket.h"

#include <grp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/input_file.h"
#include "common/state_dir.h"
#include "common/telemetry.h"

namespace vnf {

// ---- Authorization

AccessGroups resolve_access_groups(const std::string& admin_name, const std::string& read_name) {
  AccessGroups g;
  g.admin_name = admin_name;
  g.read_name = read_name;
  auto lookup = [](const std::string& name) -> std::optional<uint32_t> {
    if (name.empty()) return std::nullopt;
    group gr{};
    group* found = nullptr;
    std::vector<char> buf(16384);
    if (getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || !found) {
      spdlog::warn("access: no group '{}' on this host: only root has its rights", name);
      return std::nullopt;
    }
    return static_cast<uint32_t>(found->gr_gid);
  };
  g.admin = lookup(admin_name);
  g.read = lookup(read_name);
  return g;
}

namespace {

bool member(const Peer& p, std::optional<uint32_t> gid) {
  if (!gid) return false;
  return p.gid == *gid || std::find(p.groups.begin(), p.groups.end(), *gid) != p.groups.end();
}

}  // namespace

Access access_of(const Peer& p, const AccessGroups& g) {
  if (p.uid == 0 || member(p, g.admin)) return Access::kAdmin;
  if (member(p, g.read)) return Access::kRead;
  return Access::kNone;
}

bool allowed(Access a, CommandClass c) {
  return a == Access::kAdmin || (a == Access::kRead && c == CommandClass::kRead);
}

std::string check_access(const Peer& p, const AccessGroups& g, CommandClass c) {
  const Access a = access_of(p, g);
  if (allowed(a, c)) return "";
  const std::string name = user_name(p.uid);
  const std::string who =
      name.empty() ? fmt::format("uid {}", p.uid) : fmt::format("user '{}' (uid {})", name, p.uid);
  if (a == Access::kRead)
    return fmt::format("permission denied: {} is in {} but not in {} (applying is for root and {})",
                       who, g.read_name, g.admin_name, g.admin_name);
  return fmt::format("permission denied: {} is in neither {} nor {}", who, g.admin_name,
                     g.read_name);
}

std::optional<CommandClass> relay_class(const std::string& cmd) {
  const std::string base = cmd.substr(0, cmd.find(','));
  if (base.empty() || base[0] != '/') return std::nullopt;
  if (base == "/vnf/confirm_timer" || base == "/vnf/confirm" || base == "/vnf/rollback")
    return std::nullopt;
  if (base == "/vnf/fw/flush") return CommandClass::kWrite;
  return CommandClass::kRead;
}

// ---- JSON

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20)
          out += fmt::format("\\u{:04x}", c);
        else
          out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_error(const std::string& msg) { return "{\"error\": " + json_string(msg) + "}"; }

// ---- The socket

namespace {

constexpr size_t kMaxLine = 4096;
constexpr int kIoTimeoutS = 10;

bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads up to '\n' (not included), byte by byte so that a payload after it stays unread.
bool read_line(int fd, std::string& line) {
  char c;
  while (line.size() < kMaxLine) {
    const ssize_t n = ::recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (c == '\n') return true;
    line += c;
  }
  return false;
}

bool read_exact(int fd, std::string& out, size_t bytes) {
  out.resize(bytes);
  size_t off = 0;
  while (off < bytes) {
    const ssize_t n = ::recv(fd, out.data() + off, bytes - off, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

Peer peer_of(int fd) {
  Peer p;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    throw std::runtime_error(fmt::format("SO_PEERCRED: {}", strerror(errno)));
  p.uid = cred.uid;
  p.gid = cred.gid;
  p.pid = cred.pid;
  std::vector<gid_t> groups(64);
  for (int tries = 0; tries < 4; ++tries) {
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      p.groups.assign(groups.begin(), groups.end());
      return p;
    }
    if (errno != ERANGE) break;
    groups.resize(glen / sizeof(gid_t) + 1);
  }
  // Without the peer's groups only its uid and primary group count (never more rights).
  spdlog::warn("control socket: SO_PEERGROUPS: {}; using the primary group only", strerror(errno));
  return p;
}

void set_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

ControlSocket::ControlSocket(std::string path, AccessGroups groups, std::string telemetry_path)
    : path_(std::move(path)),
      groups_(std::move(groups)),
      telemetry_path_(std::move(telemetry_path)) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.empty() || path_.size() >= sizeof addr.sun_path)
    throw std::runtime_error(fmt::format("control socket {}: path empty or too long", path_));
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  const auto slash = path_.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path_.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      throw std::runtime_error(fmt::format("control socket: mkdir {}: {}", dir, strerror(errno)));
    // Nobody else may be able to swap the socket for their own.
    check_private_dir(dir, "control socket directory");
  }
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      throw std::runtime_error(fmt::format("control socket {}: exists and is not a socket", path_));
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(probe);
    if (live)
      throw std::runtime_error(
          fmt::format("control socket {}: another appliance answers there", path_));
    ::unlink(path_.c_str());
  }
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (listen_fd_ < 0 || event_fd_ < 0 || stop_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(path_.c_str(), 0666) != 0 || ::listen(listen_fd_, 16) != 0) {
    const std::string err = strerror(errno);
    for (int fd : {listen_fd_, event_fd_, stop_fd_})
      if (fd >= 0) ::close(fd);
    throw std::runtime_error(fmt::format("control socket {}: {}", path_, err));
  }
  spdlog::info("control socket {}: reading for root, {}, {}; applying for root, {}", path_,
               groups_.admin_name, groups_.read_name, groups_.admin_name);
  thread_ = std::thread([this] { serve(); });
}

ControlSocket::~ControlSocket() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& p : pending_) p.answer.set_value(json_error("the appliance is stopping"));
    pending_.clear();
  }
  const uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof one) < 0) spdlog::warn("control socket: cannot stop");
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::unlink(path_.c_str());
  ::close(event_fd_);
  ::close(stop_fd_);
}

void ControlSocket::serve() {
  for (;;) {
    pollfd pfd[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("control socket: poll: {}", strerror(errno));
      return;
    }
    if (pfd[1].revents) return;
    if (!(pfd[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    // One client at a time, each bounded by the I/O timeout: a stalled client delays the
    // next by 10 s at most, and holds nothing of the control thread.
    set_timeouts(fd, kIoTimeoutS);
    try {
      handle(fd);
    } catch (const std::exception& e) {
      spdlog::warn("control socket: {}", e.what());
      send_all(fd, json_error(e.what()));
    }
    // The answer is complete (EOF for the client). What the client still sends (a payload
    // refused unread) is read and dropped until it closes: closing with unread data would
    // reset the connection and lose the answer on its way.
    ::shutdown(fd, SHUT_WR);
    char sink[65536];
    size_t drained = 0;
    while (drained <= kMaxConfigFileBytes + kMaxLine) {
      const ssize_t n = ::recv(fd, sink, sizeof sink, 0);
      if (n <= 0) break;
      drained += static_cast<size_t>(n);
    }
    ::close(fd);
  }
}

void ControlSocket::handle(int fd) {
  const Peer peer = peer_of(fd);
  std::string line;
  if (!read_line(fd, line)) {
    send_all(fd, json_error("bad request: no request line"));
    return;
  }
  const auto sp = line.find(' ');
  const std::string verb = line.substr(0, sp);
  const std::string param = sp == std::string::npos ? "" : line.substr(sp + 1);

  std::optional<CommandClass> cls;
  if (verb == "get")
    cls = relay_class(param);
  else if (verb == "running")
    cls = CommandClass::kRead;
  else if (verb == "reload" || verb == "apply" || verb == "rollback" || verb == "confirm" ||
           verb == "trace")  // traces hold tenants' traffic: admin only
    cls = CommandClass::kWrite;
  if (!cls) {
    send_all(fd, json_error(verb == "get" ? fmt::format("{}: not available here", param)
                                          : fmt::format("bad request: unknown verb '{}'", verb)));
    return;
  }
  const std::string denied = check_access(peer, groups_, *cls);
  if (!denied.empty()) {
    spdlog::warn("control socket: refused '{}' from {} pid {}: {}", line.substr(0, 200),
                 user_label(peer.uid), peer.pid, denied);
    send_all(fd, json_error(denied));
    return;
  }
  if (verb == "get") {
    send_all(fd, relay(param));
    return;
  }
  if (verb == "running") {
    RunningSource source;
    {
      std::lock_guard lock(mu_);
      source = running_;
    }
    if (!source) {
      send_all(fd, json_error("the running config is not kept"));
      return;
    }
    const auto [bytes, where] = source();
    send_all(fd, "{\"path\": " + json_string(where) + ", \"config\": " + json_string(bytes) + "}");
    return;
  }

  ControlRequest req;
  req.verb = verb;
  req.param = param;
  req.who = Requester{peer.uid, peer.pid, "control socket"};
  if (verb == "apply") {
    // "apply SECONDS BYTES": the size is checked before anything is read.
    unsigned seconds = 0;
    unsigned long long bytes = 0;
    char extra = 0;
    if (std::sscanf(param.c_str(), "%u %llu%c", &seconds, &bytes, &extra) != 2) {
      send_all(fd, json_error("bad request: apply SECONDS BYTES"));
      return;
    }
    if (bytes > kMaxConfigFileBytes) {
      send_all(fd, json_error(fmt::format("apply: {} bytes: larger than the {} MiB a config may be",
                                          bytes, kMaxConfigFileBytes >> 20)));
      return;
    }
    set_timeouts(fd, kIoTimeoutS * 3);
    if (!read_exact(fd, req.payload, bytes)) {
      send_all(fd, json_error("apply: the config was not received whole"));
      return;
    }
    req.param = std::to_string(seconds);
    req.who.via = "apply";
  } else if (verb == "reload") {
    req.who.via = "reload";
  } else if (verb == "trace") {
    req.who.via = "trace";
  }
  // The answer comes when the control thread is done, however long the reload takes.
  send_all(fd, hand_over(std::move(req)));
}

std::string ControlSocket::hand_over(ControlRequest req) {
  std::future<std::string> answer;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return json_error("the appliance is stopping");
    pending_.push_back(Pending{std::move(req), {}});
    answer = pending_.back().answer.get_future();
  }
  const uint64_t one = 1;
  if (::write(event_fd_, &one, sizeof one) < 0) return json_error("cannot wake the control thread");
  return answer.get();
}

void ControlSocket::run_pending(const Executor& exec) {
  uint64_t n;
  while (::read(event_fd_, &n, sizeof n) > 0) {
  }
  for (;;) {
    Pending p;
    {
      std::lock_guard lock(mu_);
      if (pending_.empty()) return;
      p = std::move(pending_.front());
      pending_.pop_front();
    }
    std::string answer;
    try {
      answer = exec(p.req);
    } catch (const std::exception& e) {
      answer = json_error(e.what());
    }
    p.answer.set_value(std::move(answer));
  }
}

std::string ControlSocket::relay(const std::string& cmd) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (telemetry_path_.size() >= sizeof addr.sun_path)
    return json_error("telemetry socket path too long");
  std::memcpy(addr.sun_path, telemetry_path_.c_str(), telemetry_path_.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return json_error(fmt::format("telemetry: {}", strerror(errno)));
  set_timeouts(fd, kIoTimeoutS);
  std::string out;
  std::vector<char> buf(size_t{1} << 20);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::recv(fd, buf.data(), buf.size(), 0) <= 0 || !send_all(fd, cmd)) {
    out = json_error(fmt::format("telemetry socket {}: {}", telemetry_path_, strerror(errno)));
  } else {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    out = n > 0 ? std::string(buf.data(), static_cast<size_t>(n))
                : json_error(fmt::format("{}: no answer from the telemetry socket", cmd));
  }
  ::close(fd);
  return out;
}

void ControlSocket::register_telemetry() {
  telemetry::add("/vnf/access", "Control socket path, admin and read-only groups",
                 [this](const std::string&, rte_tel_data* d) {
                   rte_tel_data_start_dict(d);
                   rte_tel_data_add_dict_string(d, "control_socket", path_.c_str());
                   rte_tel_data_add_dict_string(d, "admin_group", groups_.admin_name.c_str());
                   rte_tel_data_add_dict_int(d, "admin_gid",
                                             groups_.admin ? static_cast<int>(*groups_.admin) : -1);
                   rte_tel_data_add_dict_string(d, "read_group", groups_.read_name.c_str());
                   rte_tel_data_add_dict_int(d, "read_gid",
                                             groups_.read ? static_cast<int>(*groups_.read) : -1);
                   return 0;
                 });
}

}  // namespace vnf
