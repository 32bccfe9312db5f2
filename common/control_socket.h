// The control socket of an appliance: a unix stream socket (never a network port), by
// default /run/vnf/<instance>.sock, that vnfctl uses. Authorization is done here, per
// connection, from the kernel's peer credentials (SO_PEERCRED for uid/pid, SO_PEERGROUPS for
// the peer process's own supplementary groups at connect time: no /proc lookup, no pid reuse
// race): reading is for root, the admin group and the read group; applying (apply, reload,
// rollback, confirm) for root and the admin group.
//
// Protocol: one request per connection. The client sends one line, "VERB [PARAM]\n", and for
// "apply SECONDS BYTES" the BYTES bytes of the new config after it; the appliance answers
// with one JSON document and closes. VERB "get" relays a read-only telemetry command
// ("get /vnf/ports") to the appliance's own DPDK telemetry socket and returns its answer as
// is; "running" answers the running config's bytes. A refusal is {"error": "..."}.
//
// Threads: connections are served one at a time on the socket's own thread; reads never
// touch the control thread. Writes are handed to the control thread (event_fd() becomes
// readable, run_pending() executes them) because reloads are not thread safe; the socket
// thread waits for the answer.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/audit.h"

namespace vnf {

// ---- Authorization (pure, unit tested)

enum class Access { kNone, kRead, kAdmin };
enum class CommandClass { kRead, kWrite };

struct Peer {
  uint32_t uid = 0;
  uint32_t gid = 0;  // primary group
  int32_t pid = 0;
  std::vector<uint32_t> groups;  // supplementary groups
};

struct AccessGroups {
  std::string admin_name = "vnf-admin";
  std::string read_name = "vnf-read";
  std::optional<uint32_t> admin;  // nullopt: no such group on this host (then only root)
  std::optional<uint32_t> read;
};

// Looks the group names up (getgrnam_r); a missing group is logged once, here.
AccessGroups resolve_access_groups(const std::string& admin_name, const std::string& read_name);

Access access_of(const Peer& p, const AccessGroups& g);
bool allowed(Access a, CommandClass c);
// "" when allowed; otherwise the refusal ("permission denied: user 'bob' (uid 1001) ...").
std::string check_access(const Peer& p, const AccessGroups& g, CommandClass c);

// A telemetry command relayed by "get": kRead, kWrite, or nullopt when it is never relayed
// (the apply workflow's own commands: the verbs apply, confirm, rollback do that, audited).
std::optional<CommandClass> relay_class(const std::string& cmd);

// ---- JSON answers of the write verbs

std::string json_string(const std::string& s);   // quoted and escaped
std::string json_error(const std::string& msg);  // {"error": msg}

// ---- The socket

struct ControlRequest {
  std::string verb;     // reload | apply | rollback | confirm | trace
  std::string param;    // apply: confirm seconds (0: none); rollback: version ("" previous)
  std::string payload;  // apply: the new config
  Requester who;
};

class ControlSocket {
 public:
  // The control thread's answer (a JSON document) to a write request.
  using Executor = std::function<std::string(const ControlRequest&)>;

  // Binds `path` (its directory is created 0755 if missing; a stale socket is replaced, a
  // live one is not: throws) and starts the socket thread. `telemetry_path`: the DPDK
  // telemetry socket that reads are relayed to.
  ControlSocket(std::string path, AccessGroups groups, std::string telemetry_path);
  ~ControlSocket();
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  const std::string& path() const { return path_; }
  const AccessGroups& groups() const { return groups_; }
  int event_fd() const { return event_fd_; }
  // Control thread: executes the write requests waiting (when event_fd() is readable).
  void run_pending(const Executor& exec);
  // The "running" read verb (vnfctl diff): the bytes of the running config and the path of
  // its kept copy (the state directory is root's).
  using RunningSource = std::function<std::pair<std::string, std::string>()>;
  void set_running_source(RunningSource f) {
    std::lock_guard lock(mu_);
    running_ = std::move(f);
  }
  // /vnf/access: the socket path and the groups.
  void register_telemetry();

 private:
  struct Pending {
    ControlRequest req;
    std::promise<std::string> answer;
  };
  void serve();
  void handle(int fd);
  std::string relay(const std::string& cmd);
  std::string hand_over(ControlRequest req);

  const std::string path_;
  const AccessGroups groups_;
  const std::string telemetry_path_;
  int listen_fd_ = -1;
  int event_fd_ = -1;  // written by the socket thread: write requests are waiting
  int stop_fd_ = -1;   // written by the destructor
  std::mutex mu_;
  std::deque<Pending> pending_;
  bool stopping_ = false;
  RunningSource running_;
  std::thread thread_;
};

}  // namespace vnf
