// What every appliance program shares: command-line options, signal handling, and the run
// loop (workers on their lcores, the control thread on the main lcore).
//
// A Function plugged into run() provides
//   using Pipeline = ...;                   // see common/worker.h
//   Pipeline& pipeline(unsigned worker);
//   bool tick(uint64_t now_ms);             // control thread; true if it had work to do
//   void reload(const Requester& who);      // control thread, on SIGHUP
//   const ConfigAudit& audit() const;
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pdump.h>

#include <spdlog/spdlog.h>

#include "common/audit.h"
#include "common/capture_manager.h"
#include "common/config_control.h"
#include "common/control_socket.h"
#include "common/engine.h"
#include "common/events.h"
#include "common/input_file.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_server.h"
#include "common/shipper.h"
#include "common/state_dir.h"
#include "common/telemetry.h"
#include "common/worker.h"

namespace vnf {

struct ProgramOptions {
  std::string config;
  bool check = false;  // validate the config and exit
  EalOptions eal;
  std::string log_level;  // overrides engine.log_level
  std::string pid_file;
  std::string state_dir;  // default /var/lib/vnf/<engine.name>
  unsigned keep_versions = StateDir::kDefaultKeep;
  std::string control_socket;  // default /run/vnf/<engine.name>.sock; "none": no socket
  std::string admin_group = "vnf-admin";
  std::string read_group = "vnf-read";
};

// Parses argv. Returns nullopt when the program should exit at once with `exit_code`
// (--help, --version, or a usage error already printed).
std::optional<ProgramOptions> parse_options(int argc, char** argv, const std::string& program,
                                            const std::string& summary, int& exit_code);

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and in every thread created
// after it (call before rte_eal_init); the control loop reads them from a signalfd.
void block_signals();
int open_signalfd();
void write_pid_file(const std::string& path);

// The state directory and the config path of a starting appliance. Throws std::runtime_error
// when the directory cannot be used (not ours, writable by others).
std::unique_ptr<ConfigControl> open_config_control(const ProgramOptions& opts,
                                                   const std::string& instance);

// The control socket of a starting appliance (after rte_eal_init: reads are relayed to its
// telemetry socket); null with --control-socket none. Throws when it cannot be opened.
std::unique_ptr<ControlSocket> open_control_socket(const ProgramOptions& opts,
                                                   const std::string& instance);

// The JSON answer to a write request: the apply attempt it made (audit.last()), or an error
// when no attempt was recorded since `attempts_before`.
std::string control_answer(const ConfigAudit& audit, uint64_t attempts_before,
                           const std::string& config_path, uint64_t version);

inline uint64_t monotonic_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// A reload on SIGHUP (or the confirm timer's automatic rollback), with the config versions
// kept and the vnfctl intents applied when `ctl` is given.
template <class F>
void reload_versioned(F& fn, ConfigControl* ctl, Requester who) {
  const uint64_t before = fn.audit().generation();
  if (ctl && !ctl->before_reload(who, monotonic_ms())) return;
  fn.reload(who);
  if (ctl) ctl->after_reload(fn.audit(), before, who, monotonic_ms());
}

// A write request from the control socket, on the control thread. apply writes the bytes it
// received into the config file (the user may not be allowed to write it) and puts the
// previous bytes back when the reload rejects them, so that the file says what runs.
template <class F>
std::string execute_control(F& fn, ConfigControl* ctl, const ControlRequest& req) {
  if (!ctl) return json_error("no config control in this appliance");
  const uint64_t before = fn.audit().attempts();
  const std::string& path = ctl->config_path();
  if (req.verb == "reload") {
    reload_versioned(fn, ctl, req.who);
    return control_answer(fn.audit(), before, path, 0);
  }
  if (req.verb == "confirm") {
    uint64_t v = 0;
    const std::string err = ctl->confirm(v, req.who);
    if (!err.empty()) return "{\"result\": \"refused\", \"error\": " + json_string(err) + "}";
    return fmt::format("{{\"result\": \"confirmed\", \"version\": {}}}", v);
  }
  if (req.verb == "rollback") {
    uint64_t v = 0;
    if (!req.param.empty()) {
      if (req.param.size() > 9 || req.param.find_first_not_of("0123456789") != std::string::npos)
        return json_error("rollback: param: a version number");
      v = std::stoull(req.param);
    }
    const std::string err = ctl->request_rollback(v, monotonic_ms());
    if (!err.empty()) return "{\"result\": \"refused\", \"error\": " + json_string(err) + "}";
    reload_versioned(fn, ctl, req.who);
    return control_answer(fn.audit(), before, path, v);
  }
  if (req.verb == "apply") {
    std::string old;
    try {
      old = read_input_file(path, kMaxConfigFileBytes);
    } catch (const std::exception& e) {
      return json_error(fmt::format("apply: the config file: {}", e.what()));
    }
    struct stat st {};
    const mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0640;
    try {
      write_file_atomic(path, req.payload, mode);
    } catch (const std::exception& e) {
      return json_error(fmt::format("apply: cannot write {}: {}", path, e.what()));
    }
    // Armed after the write: a file that could not be written leaves no intent behind.
    const unsigned seconds = static_cast<unsigned>(std::stoul(req.param));
    if (seconds) {
      const std::string err = ctl->arm_confirm(seconds, monotonic_ms());
      if (!err.empty()) {
        write_file_atomic(path, old, mode);
        return "{\"result\": \"refused\", \"error\": " + json_string(err) + "}";
      }
    }
    const uint64_t generation = fn.audit().generation();
    reload_versioned(fn, ctl, req.who);
    if (fn.audit().generation() == generation) {
      try {
        write_file_atomic(path, old, mode);  // the file again says what runs
      } catch (const std::exception& e) {
        spdlog::error("apply rejected, and the previous {} could not be put back: {}", path,
                      e.what());
      }
    }
    return control_answer(fn.audit(), before, path, 0);
  }
  return json_error("bad request");
}

template <class F>
int run(Engine& engine, F& fn, ConfigControl* ctl = nullptr, ControlSocket* control = nullptr,
        CaptureManager* capture = nullptr, Shipper* shipper = nullptr) {
  std::atomic<bool> running{true};
  struct Launch {
    WorkerContext* w;
    typename F::Pipeline* p;
    std::atomic<bool>* running;
  };
  std::vector<Launch> launches(engine.worker_count());
  for (unsigned i = 0; i < engine.worker_count(); ++i) {
    launches[i] = Launch{&engine.worker(i), &fn.pipeline(i), &running};
    const int rc = rte_eal_remote_launch(
        [](void* arg) -> int {
          auto* l = static_cast<Launch*>(arg);
          return worker_main(*l->w, *l->p, *l->running);
        },
        &launches[i], engine.worker(i).lcore);
    if (rc != 0) {
      spdlog::critical("cannot launch worker {} on lcore {}", i, engine.worker(i).lcore);
      running = false;
      rte_eal_mp_wait_lcore();
      return 1;
    }
  }
  spdlog::info("running: {} worker(s); SIGHUP reloads the config, SIGINT/SIGTERM stop",
               engine.worker_count());

  const int sfd = open_signalfd();
  uint64_t next_link_poll = 0;
  // The control thread wakes every millisecond while there is work (learning requests,
  // punted packets, aging), and backs off to 20 ms when there is none: an idle appliance must
  // not spend a core on timer wake-ups (they are costly under some hypervisors), and a first
  // packet waiting for the control thread waits 20 ms at most. Signals wake it at once.
  int wait_ms = 1;
  for (;;) {
    pollfd pfd[3] = {{sfd, POLLIN, 0},
                     {control ? control->event_fd() : -1, POLLIN, 0},
                     {engine.link_fd(), POLLIN, 0}};
    const int ready = ::poll(pfd, 3, wait_ms);  // negative fds are skipped
    if (ready > 0 && (pfd[2].revents & POLLIN)) engine.handle_link_events();
    if (ready > 0 && (pfd[1].revents & POLLIN))
      control->run_pending([&](const ControlRequest& r) {
        if (r.verb == "trace") {
          if (!capture) return json_error("no packet capture in this appliance");
          return capture->command(r.param, user_label(r.who.uid));
        }
        return execute_control(fn, ctl, r);
      });
    if (ready > 0 && (pfd[0].revents & POLLIN)) {
      signalfd_siginfo si{};
      if (::read(pfd[0].fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (si.ssi_signo == SIGHUP) {
          reload_versioned(fn, ctl,
                           Requester{si.ssi_uid, static_cast<int32_t>(si.ssi_pid), "SIGHUP"});
        } else {
          spdlog::info("signal {} from pid {}: stopping", strsignal(static_cast<int>(si.ssi_signo)),
                       si.ssi_pid);
          break;
        }
      }
    }
    const uint64_t now = monotonic_ms();
    const bool busy = fn.tick(now);
    const bool bond_delays = engine.bond_tick(now);  // members waiting out up/down delays
    if (capture) capture->tick(now);
    if (shipper) shipper->tick();  // losses the shipper announced: shipper_loss events
    wait_ms = busy || bond_delays ? 1 : std::min(wait_ms * 2, 20);
    if (ctl && ctl->take_expired(now)) {
      // The confirm timer ran out: the previous version is back in the config file.
      reload_versioned(
          fn, ctl, Requester{static_cast<uint32_t>(::geteuid()), ::getpid(), "automatic rollback"});
    }
    if (now >= next_link_poll) {
      engine.poll_links();
      next_link_poll = now + 500;
    }
  }
  ::close(sfd);
  running = false;
  rte_eal_mp_wait_lcore();
  return 0;
}

// The rest of every program's main() once its config is loaded and checked: logging, the EAL,
// the engine, the function `make(engine)` builds (a std::unique_ptr of a type run() accepts,
// with register_telemetry()), the pid file, the run loop, and a clean exit (ports stopped,
// hugepage files released). Returns the process's exit code.
template <class Cfg, class Make>
int serve(const std::string& program, const ProgramOptions& opts, const Cfg& cfg, Make&& make) {
  init_logging(program, opts.log_level.empty() ? cfg.engine.log_level : opts.log_level,
               cfg.engine.log_file);
  block_signals();
  std::vector<PortDevice> devices = cfg.devices;
  std::unique_ptr<ConfigControl> ctl;
  try {
    ctl = open_config_control(opts, cfg.engine.name);
    resolve_port_mtus(devices);
    const auto args = eal_arguments(cfg.engine, devices, opts.eal, program);
    std::string line;
    for (const auto& a : args) line += " " + a;
    spdlog::info("starting: config {} (hash {}), EAL:{}", cfg.file, cfg.hash, line);
    remove_stale_sockets(devices);
    eal_init(args);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }

  int rc = 0;
  const std::string state =
      opts.state_dir.empty() ? "/var/lib/vnf/" + cfg.engine.name : opts.state_dir;
  // Event records (common/events.h) go to the shipper from here on, before the first config
  // apply is recorded; the log is uninstalled before the shipper goes (it ships what is
  // queued when destroyed).
  std::unique_ptr<Shipper> shipper;
  std::unique_ptr<events::Log> event_log;
  struct Uninstall {
    ~Uninstall() { events::install(nullptr); }
  };
  try {
    if (cfg.engine.events.enabled) {
      shipper = std::make_unique<Shipper>(cfg.engine.events, cfg.engine.management.address,
                                          state + "/events", program);
      event_log = std::make_unique<events::Log>(
          cfg.engine.name, program, shipper->first_seq(),
          [s = shipper.get()](events::Record&& r) { s->push(std::move(r)); });
      events::install(event_log.get());
    }
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    rte_eal_cleanup();
    return 1;
  }
  Uninstall uninstall;
  try {
    Engine engine(cfg.engine, devices);
    auto fn = make(engine);
    fn->register_telemetry();
    ctl->record_applied(fn->audit(),
                        Requester{static_cast<uint32_t>(::getuid()), ::getpid(), "start"});
    ctl->register_telemetry();
    auto control = open_control_socket(opts, cfg.engine.name);
    if (control) control->set_running_source([c = ctl.get()] { return c->running_bytes(); });
    if (shipper) shipper->register_telemetry();
    CaptureManager capture(engine, state + "/traces", cfg.engine.name, program);
    capture.register_telemetry();
    // dpdk-dumpcap and dpdk-pdump attach as secondary processes and capture through ethdev
    // callbacks: they need the primary's pdump server.
    if (rte_pdump_init() != 0)
      spdlog::warn("pdump: rte_pdump_init failed: dpdk-dumpcap will not attach");
    // After the producers are registered (register_telemetry); destroyed before fn and the
    // engine they read, also when something throws.
    auto metrics_server = open_metrics_server(engine.config());
    write_pid_file(opts.pid_file);
    rc = run(engine, *fn, ctl.get(), control.get(), &capture, shipper.get());
    metrics_server.reset();
    if (capture.running()) capture.command("stop", "the appliance's shutdown");
    rte_pdump_uninit();
    control.reset();
    metrics::clear();
    telemetry::clear();
    engine.stop_ports();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    metrics::clear();  // the server is gone; nothing may name the engine any more
    rc = 1;
  }
  if (!opts.pid_file.empty()) std::remove(opts.pid_file.c_str());
  rte_eal_cleanup();
  spdlog::info("stopped");
  return rc;
}

}  // namespace vnf
