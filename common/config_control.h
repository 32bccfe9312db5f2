// Config versions and the apply workflow of one appliance (vnfctl apply --confirm, confirm,
// rollback, history). Owns the state directory; driven by the run loop (common/app.h) on the
// control thread, and by telemetry commands (/vnf/history, /vnf/confirm_timer, /vnf/confirm,
// /vnf/rollback) on DPDK's telemetry thread; one mutex between the two.
//
// Applying goes through the control socket (common/control_socket.h: the peer's uid and pid
// become the Requester; the control thread writes the file, arms the timer or takes the
// rollback, and reloads in one step) or, for root without it, through SIGHUP (the signal's
// uid and pid): vnfctl first leaves an intent (arm a confirm timer, or roll back to version
// V) and then signals; the next reload takes the intent (an intent older than kIntentTtlMs
// is dropped). When the confirm timer runs out, the control thread itself writes the version
// that ran before back into the config file, byte for byte, and reloads it ("automatic
// rollback" in the log and the audit record).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/audit.h"
#include "common/state_dir.h"

namespace vnf {

class ConfigControl {
 public:
  static constexpr uint64_t kIntentTtlMs = 30000;

  ConfigControl(std::unique_ptr<StateDir> dir, std::string config_path);

  const std::string& config_path() const { return config_path_; }

  // After a successful load (start-up, or a reload whose generation advanced): keeps the
  // bytes of the config file if their hash is the one that was parsed. Never throws: a
  // failure is logged (the config is running; only its copy is missing).
  void record_applied(const ConfigAudit& audit, const Requester& who);

  // Control thread, on SIGHUP, before the reload. Applies a pending rollback intent (writes
  // the version's bytes into the config file; who.via becomes "rollback"). Returns false
  // when the reload must not happen (the version could not be restored; logged).
  bool before_reload(Requester& who, uint64_t now_ms);
  // After the reload: keeps the new version when it was applied and starts an armed confirm
  // timer; a rejected reload drops an armed intent.
  void after_reload(const ConfigAudit& audit, uint64_t generation_before, const Requester& who,
                    uint64_t now_ms);
  // Control thread, every loop: the version to restore when the confirm timer ran out (the
  // timer is then cleared), written back into the config file; nullopt otherwise.
  std::optional<uint64_t> take_expired(uint64_t now_ms);

  // Telemetry thread.
  std::string arm_confirm(unsigned seconds, uint64_t now_ms);  // "" or an error
  // "" or an error; a confirm is an audit line naming `who`.
  std::string confirm(uint64_t& version, const Requester& who);
  std::string request_rollback(uint64_t& version, uint64_t now_ms);  // 0: the previous one
  void register_telemetry();

  // The running version's bytes and the path of its copy; throws when it is not kept.
  std::pair<std::string, std::string> running_bytes() const;

  // For tests and telemetry.
  uint64_t current() const;
  uint64_t pending_rollback_to() const;  // 0: no confirm timer running
  const StateDir* state() const { return dir_.get(); }

 private:
  struct Intent {
    enum Kind { kNone, kArm, kRollback } kind = kNone;
    uint64_t value = 0;  // seconds, or the version
    uint64_t set_ms = 0;
  };
  bool restore_locked(uint64_t version);

  std::unique_ptr<StateDir> dir_;  // null: versions are not kept (a start-up failure logged)
  const std::string config_path_;
  mutable std::mutex mu_;
  uint64_t current_ = 0;  // version now running (0: not kept)
  Intent intent_;
  Intent taken_;  // the intent of the reload under way
  uint64_t confirm_deadline_ms_ = 0;
  uint64_t confirm_seconds_ = 0;
  uint64_t rollback_to_ = 0;  // while a confirm timer runs
  Requester trial_by_;        // who applied on trial (named by the automatic rollback)
};

}  // namespace vnf
